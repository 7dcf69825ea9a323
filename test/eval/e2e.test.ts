import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { decode } from 'fast-png';
import { buildProgram } from '../../scripts/eval/cli.ts';
import { evaluate } from '../../scripts/eval/evaluate.ts';
import { DEFAULT_EVAL, cellsOf, type EvalReport } from '../../scripts/eval/spec.ts';

describe('npm run eval, end to end on models/fixture-tiny', () => {
  it('lists the cells: DDPM gets the reference row', () => {
    const cells = cellsOf({ samplers: ['ddpm', 'ddim'], steps: [5, 10], ddpmReference: 1000, guidance: [1], precisions: ['int8'] });
    expect(cells.map((c) => `${c.sampler}-${c.steps}`)).toEqual(['ddpm-5', 'ddpm-10', 'ddpm-1000', 'ddim-5', 'ddim-10']);
  });

  it('writes the table, the JSON report, a plot PNG that decodes and sample grids', async () => {
    const out = mkdtempSync(path.join(tmpdir(), 'eval-e2e-'));
    const lines: string[] = [];
    const report = await evaluate({
      ...DEFAULT_EVAL,
      modelDir: 'models/fixture-tiny',
      samples: 6,
      batch: 6,
      samplers: ['ddpm', 'dpmpp2m'],
      steps: [1, 20],
      ddpmReference: 4,
      guidance: [1, 2],
      precisions: ['fp32', 'int8'],
      testImages: 300,
      cacheDir: null,
      backend: 'wasm',
      progress: false,
      out,
      log: (l) => lines.push(l),
    });
    // 2 precisions x (ddpm 1, 20, 4 + dpmpp2m 1, 20) x 2 guidance scales
    expect(report.cells).toHaveLength(20);
    for (const c of report.cells) {
      expect(Number.isFinite(c.distance)).toBe(true);
      expect(c.distance).toBeGreaterThanOrEqual(0);
      expect(c.accuracy).not.toBeNull();
      expect(c.samples).toBe(6);
    }
    expect(report.reference.floor.samples).toBe(6);
    expect(report.reference.floor.distance).toBeGreaterThan(0);
    expect(report.targets.defaultCell).toEqual({ sampler: 'dpmpp2m', steps: 20, precision: 'int8', guidance: 1 });
    expect(report.targets.distanceTarget.ddpmReferenceDistance).not.toBeNull();
    expect(lines.some((l) => l.includes('estimated sampling time'))).toBe(true);

    const table = readFileSync(path.join(out, 'table.md'), 'utf8');
    expect(table).toContain('| sampler | steps | precision | guidance | samples | distance [95% interval] |');
    expect(table).toContain('Reference floor');
    expect(table.split('\n').filter((l) => l.startsWith('| DDPM') || l.startsWith('| DPM'))).toHaveLength(20);
    const json = JSON.parse(readFileSync(path.join(out, 'results.json'), 'utf8')) as EvalReport;
    expect(json.cells).toHaveLength(20);
    const png = decode(readFileSync(path.join(out, 'distance-vs-steps.png')));
    expect([png.width, png.height, png.channels]).toEqual([720, 480, 3]);
    // two guidance scales: distance against guidance too, one line per sampler x steps x precision
    expect(decode(readFileSync(path.join(out, 'distance-vs-guidance.png'))).width).toBe(720);
    const grid = report.cells[0].grid;
    expect(grid).toBeDefined();
    expect(existsSync(path.join(out, grid ?? ''))).toBe(true);
  });

  it('is reproducible: the same seed gives the same distances (also through the reference cache)', async () => {
    const cacheDir = mkdtempSync(path.join(tmpdir(), 'eval-cache-'));
    const run = async (): Promise<number[]> => {
      const r = await evaluate({
        ...DEFAULT_EVAL,
        modelDir: 'models/fixture-tiny',
        samples: 6,
        batch: 3,
        samplers: ['ddim'],
        steps: [3],
        ddpmReference: 0,
        precisions: ['int8'],
        testImages: 200,
        cacheDir,
        backend: 'wasm',
        progress: false,
        grids: false,
        out: mkdtempSync(path.join(tmpdir(), 'eval-rep-')),
        log: () => {},
      });
      return [r.reference.floor.distance, ...r.cells.map((c) => c.distance)];
    };
    expect(await run()).toEqual(await run());
  });

  const small = (out: string) =>
    ({
      ...DEFAULT_EVAL,
      modelDir: 'models/fixture-tiny',
      samples: 6,
      batch: 6,
      samplers: ['ddim'],
      steps: [3],
      ddpmReference: 0,
      precisions: ['fp32'],
      testImages: 200,
      cacheDir: null,
      backend: 'wasm',
      progress: false,
      grids: false,
      out,
      log: () => {},
    }) as const;

  it('samples the same images with onnxruntime-web (as served) and onnxruntime-node (native)', async () => {
    const web = await evaluate({ ...small(mkdtempSync(path.join(tmpdir(), 'eval-web-'))), runtime: 'web' });
    const node = await evaluate({ ...small(mkdtempSync(path.join(tmpdir(), 'eval-node-'))), runtime: 'node' });
    expect(web.settings.runtime).toBe('web');
    expect(node.settings.runtime).toBe('node');
    const [a, b] = [web.cells[0], node.cells[0]];
    // the runtimes differ only in float rounding (max |eps| difference ~1e-4), so the scores agree closely
    expect(Math.abs(a.distance - b.distance)).toBeLessThan(1e-3 * a.distance);
    expect(a.accuracy).toBe(b.accuracy);
  });

  it('--include reuses the cells of an earlier run, checks it is comparable, and checks the targets at --default-cell', async () => {
    const first = mkdtempSync(path.join(tmpdir(), 'eval-inc1-'));
    const r1 = await evaluate({ ...small(first), samplers: ['ddpm'], steps: [4], guidance: [2] });
    const lines: string[] = [];
    const out = mkdtempSync(path.join(tmpdir(), 'eval-inc2-'));
    expect(existsSync(path.join(first, 'distance-vs-guidance.png'))).toBe(false); // one guidance scale: no such plot
    const r2 = await evaluate({
      ...small(out),
      samplers: ['dpmpp2m'],
      steps: [3],
      guidance: [2],
      defaultCell: { sampler: 'dpmpp2m', steps: 3, guidance: 2 },
      ddpmReference: 4,
      include: [path.join(first, 'results.json')],
      log: (l) => lines.push(l),
    });
    expect(lines.some((l) => l.startsWith('reusing 1 cells'))).toBe(true);
    // dpmpp2m-3 sampled here; ddpm-4 (the reference row) taken from the first run, not resampled
    expect(r2.cells.map((c) => `${c.sampler}-${c.steps}-w${c.guidance}`)).toEqual(['ddpm-4-w2', 'dpmpp2m-3-w2']);
    expect(r2.cells[0]).toEqual(r1.cells[0]);
    expect(r2.targets.defaultCell).toEqual({ sampler: 'dpmpp2m', steps: 3, precision: 'fp32', guidance: 2 });
    expect(r2.targets.distanceTarget.ddpmReferenceDistance).toBe(r1.cells[0].distance);
    expect(r2.settings.included).toEqual([path.join(first, 'results.json')]);
    expect(r2.settings.sampledCells).toBe(1);
    const table = readFileSync(path.join(out, 'table.md'), 'utf8');
    expect(table).toContain('cells merged from 2 runs');
    // the time line counts the merged cells' sampling, not just this run's
    expect(table).toMatch(/Sampling and scoring the cells took \d+ s in 2 runs; this merge \d+ s\./);
    // --merge-only samples nothing: the cells of both runs, even those the options do not name
    const mergedOut = mkdtempSync(path.join(tmpdir(), 'eval-merge-'));
    const merged = await evaluate({ ...small(mergedOut), samplers: ['ddim'], steps: [7], mergeOnly: true, defaultCell: { sampler: 'dpmpp2m', steps: 3, guidance: 2 }, ddpmReference: 4, include: [path.join(first, 'results.json'), path.join(out, 'results.json')] });
    expect(merged.cells.map((c) => `${c.sampler}-${c.steps}-w${c.guidance}`)).toEqual(['ddpm-4-w2', 'dpmpp2m-3-w2']);
    expect(merged.targets.distanceTarget.met).toBe(r2.targets.distanceTarget.met);
    // a merge that sampled nothing counts only the runs it merged
    expect(merged.settings.sampledCells).toBe(0);
    expect(readFileSync(path.join(mergedOut, 'table.md'), 'utf8')).toContain('cells merged from 2 runs');
    await expect(evaluate({ ...small(mkdtempSync(path.join(tmpdir(), 'eval-merge2-'))), mergeOnly: true })).rejects.toThrow(/--include/);
    // a run with other settings is not comparable
    await expect(evaluate({ ...small(mkdtempSync(path.join(tmpdir(), 'eval-inc3-'))), samples: 4, include: [path.join(first, 'results.json')] })).rejects.toThrow(
      /samples differs \(6 there, 4 here\)/,
    );
  });

  it('evaluates unipc with --guidance-interval, records the interval and merges only runs with the same one', async () => {
    const opts = buildProgram().parse(['node', 'eval', '--model', 'm', '--samplers', 'unipc,dpmpp2m', '--guidance-interval', '300,800']).opts();
    expect(opts).toMatchObject({ samplers: ['unipc', 'dpmpp2m'], guidanceInterval: [300, 800] });
    expect(() => parseQuietly(['--guidance-interval', '800,300'])).toThrow(/expected two integer timesteps lo,hi/);
    const out = mkdtempSync(path.join(tmpdir(), 'eval-interval-'));
    const r = await evaluate({ ...small(out), samplers: ['unipc'], guidance: [2], guidanceInterval: [300, 800] });
    expect(r.settings.guidanceInterval).toEqual([300, 800]);
    expect(r.cells.map((c) => [c.sampler, c.guidance])).toEqual([['unipc', 2]]);
    expect(readFileSync(path.join(out, 'table.md'), 'utf8')).toContain('applied at timesteps 300..800 only');
    await expect(evaluate({ ...small(mkdtempSync(path.join(tmpdir(), 'eval-interval2-'))), include: [path.join(out, 'results.json')] })).rejects.toThrow(
      /guidanceInterval differs \(\[300,800\] there, null here\)/,
    );
  });
});

function parseQuietly(args: string[]): unknown {
  const program = buildProgram().exitOverride().configureOutput({ writeErr: () => {}, writeOut: () => {} });
  return program.parse(['node', 'eval', '--model', 'm', ...args]).opts();
}
