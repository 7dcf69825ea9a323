// The quality/latency table and the rule that picks the default model (scripts/eval/tradeoff.ts).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { EvalReport } from '../../scripts/eval/spec.ts';
import { beats, pickDefault, runTradeoff, TradeoffError, tradeoffRows, tradeoffTable, type BenchModelEntry } from '../../scripts/eval/tradeoff.ts';

const CELL = { sampler: 'dpmpp2m', steps: 20, precision: 'int8', guidance: 1.5 } as const;

function report(name: string, d: [number, number, number], s: [number, number, number], numClasses = 10): EvalReport {
  const cell = { ...CELL, samples: 1000, distance: d[0], distanceCi: [d[1], d[2]], accuracy: 0.8, accuracyCi: [0.77, 0.83], relativeAccuracy: 0.9, second: { distance: s[0], distanceCi: [s[1], s[2]] } };
  return {
    model: { name, version: '1.0.0', numClasses },
    reference: { floor: { distance: 1.25 } },
    targets: { defaultCell: CELL },
    settings: { samples: 1000 },
    cells: [{ ...cell, guidance: 1, distance: 99 }, cell],
  } as unknown as EvalReport;
}

function bench(name: string, guided: number, unguided = guided / 2, parameters = 280_000): BenchModelEntry {
  return {
    model: { card: { name, version: '1.0.0', architecture: { parameters } } },
    latency: [
      { label: 'single image, warm, miss', wallP50: unguided, wallP95: unguided * 1.2, handlerP50: unguided - 5 },
      { label: 'single image, class 1 (guided at the defaults), warm, miss', wallP50: guided, wallP95: guided * 1.2, handlerP50: guided - 5 },
    ],
  };
}

const tiny = report('tiny', [5, 4, 6], [1, 0.8, 1.2]);
const small = report('small', [3, 2.5, 3.5], [0.5, 0.4, 0.6]);
const mid = report('mid', [3.3, 2.7, 3.9], [0.55, 0.45, 0.65]);
const BENCH = [bench('tiny', 100), bench('small', 150, 75, 690_000), bench('mid', 120)];

describe('quality/latency trade-off', () => {
  it('reads each model at its default cell, with the guided latency for a conditional model and the unguided one otherwise', () => {
    const rows = tradeoffRows([tiny, report('plain', [4, 3, 5], [1, 0.9, 1.1], 0)], [...BENCH, bench('plain', 300, 60)]);
    expect(rows[0]).toMatchObject({ name: 'tiny', p50: 100, p95: 120, parameters: 280_000, floorRatio: 4 });
    expect(rows[0].cell.guidance).toBe(1.5);
    expect(rows[1]).toMatchObject({ name: 'plain', p50: 60, latencyLabel: 'single image, warm, miss' });
  });

  it('a model beats another only when both meters resolve in its favour', () => {
    const [t, s, m] = tradeoffRows([tiny, small, mid], BENCH);
    expect(beats(s.cell, t.cell)).toBe(true);
    expect(beats(t.cell, s.cell)).toBe(false);
    expect(beats(s.cell, m.cell)).toBe(false); // overlapping intervals
    const oneMeter = tradeoffRows([report('x', [3, 2.5, 3.5], [1, 0.8, 1.2])], [bench('x', 1)])[0];
    expect(beats(oneMeter.cell, t.cell)).toBe(false); // primary resolved, second not
  });

  it('picks the fastest model that no other within the budget beats', () => {
    const rows = tradeoffRows([tiny, small, mid], BENCH);
    const all = pickDefault(rows);
    expect(all.pick?.name).toBe('mid'); // small beats tiny; mid is not beaten and faster than small
    expect(all.beaten.get('tiny')).toBe('small');
    expect(pickDefault(tradeoffRows([tiny, small], BENCH)).pick?.name).toBe('small');
    expect(pickDefault(rows, 110).pick?.name).toBe('tiny'); // the only one within 110 ms
    expect(pickDefault(rows, 50).pick).toBeNull();
    const table = tradeoffTable(rows, 130);
    expect(table).toMatch(/\| mid 1\.0\.0 \| 0\.28M \| dpmpp2m 20 steps, guidance 1\.5 \| 3\.30 \[2\.70, 3\.90\] \| 2\.64x \| 0\.550 \[0\.450, 0\.650\] \| 80\.0% \[77\.0%, 83\.0%\] \| 90\.0% \| 120 \(144\) \| \*\*default\*\* \|/);
    expect(table).toMatch(/\| small 1\.0\.0 .*\| over the 130 ms budget \|/);
    expect(table).toMatch(/\| tiny 1\.0\.0 .*\| beaten by mid \|/); // small, over the budget, does not count
    expect(table).toMatch(/the fastest left is the default: mid 1\.0\.0\.$/);
  });

  it('says what is missing instead of guessing', async () => {
    expect(() => tradeoffRows([tiny], [bench('other', 1)])).toThrow(/tiny 1\.0\.0: not in the bench report \(bench models: other 1\.0\.0\)/);
    const noDefault = { ...tiny, targets: { defaultCell: { ...CELL, steps: 50 } } } as unknown as EvalReport;
    expect(() => tradeoffRows([noDefault], BENCH)).toThrow(/no measured default cell/);
    const noE2e = { ...bench('tiny', 1), latency: [] };
    expect(() => tradeoffRows([tiny], [noE2e])).toThrow(/has no "single image, class 1 \(guided at the defaults\), warm, miss" row/);
    const dir = await mkdtemp(path.join(tmpdir(), 'tradeoff-'));
    await writeFile(path.join(dir, 'a.json'), JSON.stringify(tiny));
    await writeFile(path.join(dir, 'bench.json'), JSON.stringify({ not: 'an array' }));
    await expect(runTradeoff([path.join(dir, 'a.json')], path.join(dir, 'bench.json'))).rejects.toThrow(TradeoffError);
    await writeFile(path.join(dir, 'bench.json'), JSON.stringify(BENCH));
    expect(await runTradeoff([path.join(dir, 'a.json')], path.join(dir, 'bench.json'))).toMatch(/default: tiny 1\.0\.0/);
    await expect(runTradeoff([path.join(dir, 'missing.json')], path.join(dir, 'bench.json'))).rejects.toThrow(/missing\.json: ENOENT/);
    await rm(dir, { recursive: true });
  });
});
