// Cold Diffusion training (--process cold-blur / cold-mask): the batch, the CLI's config, a short run whose
// restoration loss falls, and resume bit for bit.
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_BLUR, DEFAULT_MASK, makeDegradation, type ColdProcess } from '../../src/cold/index.ts';
import { quantize8 } from '../../src/image/pixels.ts';
import { loadCheckpoint } from '../../scripts/train/checkpoint.ts';
import { buildProgram, configFromOptions } from '../../scripts/train/cli.ts';
import { ColdBatchMaker } from '../../scripts/train/cold-batch.ts';
import { loadIdxDataset, type Dataset } from '../../scripts/train/data.ts';
import { DEFAULT_TRAIN, isColdRun, type ColdRunConfig, type TrainOptions } from '../../scripts/train/options.ts';
import { train } from '../../scripts/train/trainer.ts';
import { barImages, idxBytes } from './fixtures.ts';

let dir = '';
let images = '';
let ds: Dataset;

const BLUR: ColdProcess = { kind: 'cold-blur', T: 4, kernelSize: 3, std: 1, routine: 'constant', padding: 'circular', discrete: true };

function config(process: ColdProcess, training: Partial<TrainOptions>): ColdRunConfig {
  return {
    format: 'ddpm-edge-run',
    version: 1,
    unet: { imageSize: 8, channels: 1, baseChannels: 8, channelMults: [1, 2], numResBlocks: 1, attentionResolutions: [4], dropout: 0.1, groups: 4, numClasses: 0 },
    process,
    prediction: 'sample',
    training: { ...DEFAULT_TRAIN, seed: 5, batchSize: 16, lr: 3e-3, warmupSteps: 5, checkpointEvery: 1000, sampleEvery: 0, workers: 0, labelDropout: 0, objective: 'x0', loss: 'l1', ...training },
    data: { kind: 'idx', images, fit: 'pad', hflip: true, limit: 0 },
  };
}

const quiet = (): void => {};

beforeAll(async () => {
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'ddpm-cold-train-'));
  images = path.join(dir, 'bars-images-idx3-ubyte.gz');
  await fsp.writeFile(images, gzipSync(idxBytes([64, 8, 8], barImages(64).pixels)));
  ds = await loadIdxDataset(images, undefined, { size: 8, channels: 1, fit: 'pad', limit: 0 });
});

describe('a Cold Diffusion batch', () => {
  it('is x_t = 8-bit D(x0, t + 1) with target x0, the same for the same (seed, step)', () => {
    const maker = new ColdBatchMaker(ds, BLUR, { seed: 1, batchSize: 16, hflip: false });
    const a = maker.make(3);
    const b = new ColdBatchMaker(ds, BLUR, { seed: 1, batchSize: 16, hflip: false }).make(3);
    expect(Buffer.from(a.xt.buffer).equals(Buffer.from(b.xt.buffer))).toBe(true);
    expect(Array.from(a.t)).toEqual(Array.from(b.t));
    expect(a.y).toBeNull();
    expect(Array.from(new Set(a.t)).every((t) => t >= 0 && t < BLUR.T)).toBe(true);
    const D = makeDegradation(BLUR, 8);
    const expected = quantize8(D.apply(a.target, 1, Int32Array.from(a.t, (t) => t + 1)));
    expect(Array.from(a.xt)).toEqual(Array.from(expected));
    // another step draws other images and levels
    expect(Array.from(maker.make(4).t)).not.toEqual(Array.from(a.t));
  });

  it('draws a mask centre per image for random masks (the degraded input shows it)', () => {
    const mask: ColdProcess = { ...DEFAULT_MASK, T: 6 };
    const batch = new ColdBatchMaker(ds, mask, { seed: 2, batchSize: 16, hflip: false }).make(0);
    // the mask is 0 at its centre: the pixel nearest to 0 (mid-grey) of each image marks it, and it moves
    const nearest = Array.from({ length: 16 }, (_, b) => {
      const img = Array.from(batch.xt.subarray(b * 64, (b + 1) * 64), Math.abs);
      return img.indexOf(Math.min(...img));
    });
    expect(new Set(nearest).size).toBeGreaterThan(4);
  });
});

describe('npm run train -- --process cold-*', () => {
  const parse = (args: string[]) => buildProgram().exitOverride().parse(['node', 'train', ...args]).opts<Parameters<typeof configFromOptions>[0]>();

  it("records the paper's schedule, the x0 objective and the L1 loss", () => {
    const blur = configFromOptions(parse(['--process', 'cold-blur']), 2);
    expect(isColdRun(blur) && blur.process).toEqual(DEFAULT_BLUR);
    expect([blur.prediction, blur.training.objective, blur.training.loss]).toEqual(['sample', 'x0', 'l1']);
    expect('schedule' in blur).toBe(false);
    const mask = configFromOptions(parse(['--process', 'cold-mask', '--timesteps', '30', '--mask-routine', 'incremental', '--no-discrete']), 2);
    expect(isColdRun(mask) && mask.process).toEqual({ ...DEFAULT_MASK, T: 30, routine: 'incremental', discrete: false });
    const ddpm = configFromOptions(parse([]), 2);
    expect(!isColdRun(ddpm) && [ddpm.schedule, ddpm.training.objective, ddpm.training.loss]).toEqual([{ kind: 'linear', T: 1000 }, 'eps', 'l2']);
  });

  it('refuses options that do not fit the process, naming them', () => {
    expect(() => configFromOptions(parse(['--process', 'cold-blur', '--conditional']), 2)).toThrow(/--conditional: Cold Diffusion models are unconditional/);
    expect(() => configFromOptions(parse(['--process', 'cold-blur', '--objective', 'eps']), 2)).toThrow(/--objective eps: a Cold Diffusion network restores x0/);
    expect(() => configFromOptions(parse(['--process', 'cold-mask', '--blur-size', '5']), 2)).toThrow(/--blur-size applies to --process cold-blur \(got --process cold-mask\)/);
    expect(() => configFromOptions(parse(['--blur-std', '2']), 2)).toThrow(/--blur-std applies to --process cold-blur \(got --process ddpm\)/);
    expect(() => configFromOptions(parse(['--process', 'cold-blur', '--blur-size', '4']), 2)).toThrow(/process.kernelSize must be odd/);
  });
});

describe('Cold Diffusion training', () => {
  it('the restoration loss falls; the run has the process in config.json and a restoration grid', async () => {
    const runDir = path.join(dir, 'run-loss');
    const r = await train({ runDir, config: config(BLUR, { steps: 30, sampleEvery: 30 }), resume: false, backend: 'wasm', progress: false, log: quiet });
    expect(r.step).toBe(30);
    expect(r.lastLosses).toBeLessThan(0.75 * r.firstLosses);
    const ck = await loadCheckpoint(runDir);
    expect(isColdRun(ck.config) && ck.config.process).toEqual(BLUR);
    expect((await fsp.stat(path.join(runDir, 'samples', 'step-00000030.png'))).size).toBeGreaterThan(100);
  });

  for (const [workers, process] of [
    [0, BLUR],
    [2, { ...DEFAULT_MASK, T: 5 }],
  ] as const) {
    it(`resume equals an uninterrupted run (${process.kind}, ${workers === 0 ? 'main thread' : '2 worker threads'})`, async () => {
      const steps = 6;
      const a = path.join(dir, `run-a-${workers}`);
      const b = path.join(dir, `run-b-${workers}`);
      await train({ runDir: a, config: config(process, { steps, workers }), resume: false, backend: 'wasm', progress: false, log: quiet });
      await train({ runDir: b, config: config(process, { steps, workers }), resume: false, backend: 'wasm', progress: false, stopAt: steps / 2, log: quiet });
      await train({ runDir: b, resume: true, backend: 'wasm', progress: false, log: quiet });
      const [ca, cb] = [await loadCheckpoint(a), await loadCheckpoint(b)];
      expect(cb.step).toBe(steps);
      for (const k of ['weights', 'ema', 'adamM', 'adamV'] as const) {
        expect(Buffer.from(cb.state[k].buffer).equals(Buffer.from(ca.state[k].buffer)), k).toBe(true);
      }
    });
  }
});
