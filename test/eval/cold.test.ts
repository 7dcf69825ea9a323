// The Cold Diffusion evaluation (scripts/eval/cold.ts) end to end on the cold test fixture, and its CLI routing.
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { defaultLevels, evaluateCold, type ColdEvalReport } from '../../scripts/eval/cold.ts';
import { main } from '../../scripts/eval/cli.ts';

const FIXTURE = 'test/fixtures/cold-blur-tiny';

describe('npm run eval -- --model <cold model>', () => {
  it('levels default to T/4, T/2, 3T/4, T', () => {
    expect(defaultLevels(20)).toEqual([5, 10, 15, 20]);
    expect(defaultLevels(2)).toEqual([1, 2]);
  });

  it('restoration by t next to the degraded floor, generation on the meter; table, JSON and grids', async () => {
    const out = mkdtempSync(path.join(tmpdir(), 'eval-cold-'));
    const lines: string[] = [];
    const report = await evaluateCold({
      modelDir: FIXTURE,
      restoreImages: 6,
      levels: [3, 20],
      samples: 6,
      algorithms: [2, 1],
      precision: 'int8',
      batch: 4,
      seed: 0,
      testImages: 300,
      cacheDir: null,
      backend: 'wasm',
      runtime: 'node',
      threads: 1,
      grids: true,
      out,
      log: (l) => lines.push(l),
    });
    expect(report.restoration.map((r) => [r.t, r.images])).toEqual([
      [3, 6],
      [20, 6],
    ]);
    for (const row of report.restoration) {
      for (const f of [row.degraded.psnr, row.direct.psnr, row.restored['2'].psnr, row.restored['1'].psnr]) {
        expect(f.interval[0]).toBeLessThanOrEqual(f.mean);
        expect(f.mean).toBeLessThanOrEqual(f.interval[1]);
        expect(f.mean).toBeGreaterThan(0);
      }
      expect(row.degraded.ssim.mean).toBeLessThanOrEqual(1);
    }
    // the input loses more at T than at 3: the floor falls with t
    expect(report.restoration[1].degraded.psnr.mean).toBeLessThan(report.restoration[0].degraded.psnr.mean);
    expect(report.generation.rows.map((g) => g.algorithm)).toEqual([2, 1]);
    for (const g of report.generation.rows) {
      expect(g.distanceCi[0]).toBeLessThanOrEqual(g.distance);
      expect(g.second?.distance).toBeGreaterThan(0); // the second meter reads every row too
    }
    expect(report.generation.secondFloor?.distance).toBeGreaterThan(0);
    expect(report.generation.floor?.distance).toBeGreaterThan(0);
    const table = readFileSync(path.join(out, 'table.md'), 'utf8');
    expect(table).toContain('| t | degraded PSNR | degraded SSIM | one step PSNR | one step SSIM | Algorithm 2 PSNR | Algorithm 2 SSIM | Algorithm 1 PSNR | Algorithm 1 SSIM |');
    expect(table).toContain('**Generation** from the mixture start');
    const json = JSON.parse(readFileSync(path.join(out, 'results.json'), 'utf8')) as ColdEvalReport;
    expect(json.model.kind).toBe('cold-blur');
    for (const f of ['grids/restore-t3.png', 'grids/restore-t20.png', 'grids/generate-alg2.png']) expect(existsSync(path.join(out, f)), f).toBe(true);
    expect(lines.some((l) => l.startsWith('t = 20: degraded'))).toBe(true);
  });

  it('the CLI routes a cold card to this evaluation and refuses the DDPM cells\' options', async () => {
    const out = mkdtempSync(path.join(tmpdir(), 'eval-cold-cli-'));
    const written: string[] = [];
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
      written.push(String(chunk));
      return true;
    });
    try {
      await expect(main(['node', 'eval', '--model', FIXTURE, '--samplers', 'ddim', '--out', out])).rejects.toThrow(/process.exit/);
    } finally {
      spy.mockRestore();
    }
    expect(written.join('')).toContain('samplers apply to DDPM models; test/fixtures/cold-blur-tiny is a Cold Diffusion model');
  });
});
