import { describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { decode } from 'fast-png';
import { evaluateCheckpoints } from '../../scripts/eval/checkpoints.ts';
import type { DiffusionModelConfig } from '../../scripts/model/config.ts';
import { fakeRun } from '../export/helpers.ts';

const TINY: DiffusionModelConfig = {
  unet: { imageSize: 16, channels: 1, baseChannels: 4, channelMults: [1, 2], numResBlocks: 1, attentionResolutions: [8], dropout: 0, groups: 2, numClasses: 10 },
  schedule: { kind: 'linear', T: 1000 },
  prediction: 'epsilon',
};

describe('npm run eval -- --run: the distance at each checkpoint', () => {
  it('scores the EMA weights of every kept checkpoint and writes the table, JSON and plot', async () => {
    const runDir = await fakeRun(TINY);
    const out = mkdtempSync(path.join(tmpdir(), 'eval-ck-'));
    const base = {
      runDir,
      checkpoints: [] as number[],
      sampler: 'dpmpp2m',
      steps: 2,
      guidance: 1,
      samples: 4,
      batch: 4,
      seed: 0,
      clip: true,
      testImages: 100,
      cacheDir: null,
      backend: 'wasm',
      runtime: 'node',
      threads: 1,
      grids: true,
      progress: false,
      out,
      log: () => {},
    } as const;
    const r = await evaluateCheckpoints(base);
    expect(r.checkpoints.map((c) => c.step)).toEqual([10]);
    expect(Number.isFinite(r.checkpoints[0].distance)).toBe(true);
    expect(r.checkpoints[0].accuracy).not.toBeNull();
    expect(r.cell).toMatchObject({ weights: 'EMA fp32', runtime: 'node' });
    expect(readFileSync(path.join(out, 'checkpoints.md'), 'utf8')).toContain('| checkpoint step |');
    expect(decode(readFileSync(path.join(out, 'distance-vs-checkpoint.png'))).width).toBe(720);
    expect(existsSync(path.join(out, 'grids', 'checkpoint-10.png'))).toBe(true);
    await expect(evaluateCheckpoints({ ...base, checkpoints: [7] })).rejects.toThrow(/no checkpoint at step 7 \(kept: 10\)/);
  });
});
