import { describe, expect, it, beforeAll, vi } from 'vitest';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../scripts/train/backend.ts';
import { train } from '../../scripts/train/trainer.ts';
import { listCheckpoints, loadCheckpoint, readRunConfig, CheckpointError } from '../../scripts/train/checkpoint.ts';
import { main } from '../../scripts/train/cli.ts';
import { DEFAULT_TRAIN, type RunConfig, type TrainOptions } from '../../scripts/train/options.ts';
import { learningRate } from '../../scripts/train/optim.ts';
import { barImages, idxBytes } from './fixtures.ts';

let dir = '';
let images = '';
let labels = '';

/** 64 8x8 images of two classes: a vertical or a horizontal bar at a random position. */
async function writeFixture(): Promise<void> {
  const n = 64;
  const { pixels, labels: lab } = barImages(n);
  images = path.join(dir, 'bars-images-idx3-ubyte.gz');
  labels = path.join(dir, 'bars-labels-idx1-ubyte.gz');
  await fsp.writeFile(images, gzipSync(idxBytes([n, 8, 8], pixels)));
  await fsp.writeFile(labels, gzipSync(idxBytes([n], lab)));
}

function config(training: Partial<TrainOptions>, unet: Partial<RunConfig['unet']> = {}): RunConfig {
  return {
    format: 'ddpm-edge-run',
    version: 1,
    unet: { imageSize: 8, channels: 1, baseChannels: 8, channelMults: [1, 2], numResBlocks: 1, attentionResolutions: [4], dropout: 0.1, groups: 4, numClasses: 2, ...unet },
    schedule: { kind: 'linear', T: 1000 },
    prediction: 'epsilon',
    training: { ...DEFAULT_TRAIN, seed: 3, batchSize: 16, lr: 3e-3, warmupSteps: 5, checkpointEvery: 1000, sampleEvery: 0, workers: 0, labelDropout: 0.2, ...training },
    data: { kind: 'idx', images, labels, fit: 'pad', hflip: true, limit: 0 },
    classNames: ['vertical', 'horizontal'],
  };
}

const quiet = (): void => {};

beforeAll(async () => {
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'ddpm-train-'));
  await writeFixture();
});

describe('backend fallback', () => {
  it('picks wasm on this machine (no tfjs-node), saying why', async () => {
    const b = await selectBackend('auto');
    expect(b.name).toBe('wasm');
    expect(b.simd).toBe(true);
    expect(b.log[0]).toMatch(/^tfjs-node-gpu: does not load/);
    expect(b.log[1]).toMatch(/^tfjs-node: does not load/);
    expect(b.log[2]).toMatch(/^wasm: started/);
    await expect(selectBackend('tfjs-node')).rejects.toThrow(/backend tfjs-node is not available/);
  });

  it('wasm clones share the data (the Identity kernel is zero-copy) and outlive the original', async () => {
    await selectBackend('wasm');
    const before = tf.memory().numBytes;
    const a = tf.tensor1d([1, 2, 3]);
    const b = tf.clone(a);
    const backend = tf.backend() as unknown as { getMemoryOffset(d: tf.DataId): number };
    expect(backend.getMemoryOffset(b.dataId)).toBe(backend.getMemoryOffset(a.dataId));
    a.dispose();
    expect(Array.from(b.dataSync())).toEqual([1, 2, 3]);
    b.dispose();
    expect(tf.memory().numBytes).toBe(before);
  });
});

describe('training', () => {
  it('a tiny U-Net trains 40 steps on a fixture and its loss falls; outputs are written', async () => {
    const runDir = path.join(dir, 'run-loss');
    const r = await train({ runDir, config: config({ steps: 40, sampleEvery: 40, sampleSteps: 4 }), resume: false, backend: 'wasm', progress: false, log: quiet });
    expect(r.step).toBe(40);
    expect(r.firstLosses).toBeGreaterThan(0.8);
    expect(r.lastLosses).toBeLessThan(0.75 * r.firstLosses);
    const csv = (await fsp.readFile(path.join(runDir, 'loss.csv'), 'utf8')).trim().split('\n');
    expect(csv[0]).toBe('step,loss,lr,grad_norm,images_per_sec,elapsed_sec');
    expect(csv).toHaveLength(41);
    for (const f of ['loss.png', 'samples/step-00000040.png', 'config.json', 'latest.json']) {
      const b = await fsp.readFile(path.join(runDir, f));
      expect(b.length, f).toBeGreaterThan(10);
    }
    const ck = await loadCheckpoint(runDir);
    expect(ck.step).toBe(40);
    expect(ck.config.unet.numClasses).toBe(2);
    expect(ck.ema.get('class/embed/table')?.shape).toEqual([3, 32]);
    expect(ck.ema.get('out/conv/kernel')?.shape).toEqual([3, 3, 8, 1]);
  });

  for (const [workers, selfCondition] of [[0, false], [2, false], [2, true]] as const) {
    it(`resume equals an uninterrupted run (${workers === 0 ? 'main thread' : '2 worker threads'}${selfCondition ? ', self-conditioned, p2' : ''})`, async () => {
      const steps = workers === 0 ? 8 : selfCondition ? 6 : 4;
      const a = path.join(dir, `run-a-${workers}${selfCondition ? '-sc' : ''}`);
      const b = path.join(dir, `run-b-${workers}${selfCondition ? '-sc' : ''}`);
      const cfg = selfCondition ? config({ steps, workers, lossWeight: 'p2', p2K: 1, p2Gamma: 1 }, { selfCondition }) : config({ steps, workers });
      await train({ runDir: a, config: cfg, resume: false, backend: 'wasm', progress: false, log: quiet });
      const half = await train({ runDir: b, config: cfg, resume: false, backend: 'wasm', progress: false, stopAt: steps / 2, log: quiet });
      expect(half.step).toBe(steps / 2);
      await train({ runDir: b, resume: true, backend: 'wasm', progress: false, log: quiet });
      const ca = await loadCheckpoint(a);
      const cb = await loadCheckpoint(b);
      expect(cb.step).toBe(steps);
      for (const k of ['weights', 'ema', 'adamM', 'adamV'] as const) {
        expect(Buffer.from(cb.state[k].buffer).equals(Buffer.from(ca.state[k].buffer)), k).toBe(true);
      }
      const la = await fsp.readFile(path.join(a, 'loss.csv'), 'utf8');
      const lb = await fsp.readFile(path.join(b, 'loss.csv'), 'utf8');
      const cols = (t: string): string[] => t.trim().split('\n').map((l) => l.split(',').slice(0, 4).join(','));
      expect(cols(lb)).toEqual(cols(la));
    });
  }

  it('--self-condition on a resumed run trained without it, or another loss weight, is a CLI error (exit 2)', async () => {
    const errors: string[] = [];
    const spy = vi.spyOn(console, 'error').mockImplementation((m: string) => void errors.push(m));
    const spyLog = vi.spyOn(console, 'log').mockImplementation(() => {});
    try {
      const plain = path.join(dir, 'run-a-2');
      expect(await main(['node', 'cli.ts', '--resume', '--self-condition', '--run-dir', plain, '--no-progress'])).toBe(2);
      expect(errors.pop()).toMatch(/^error: --self-condition: the run was trained without self-conditioning/);
      expect(await main(['node', 'cli.ts', '--resume', '--loss-weight', 'p2', '--run-dir', plain, '--no-progress'])).toBe(2);
      expect(errors.pop()).toMatch(/^error: the run was trained with loss weight \{"kind":"none"\}, not \{"kind":"p2","k":1,"gamma":1\}/);
      const sc = await readRunConfig(path.join(dir, 'run-a-2-sc'));
      expect([sc.unet.selfCondition, sc.training.lossWeight, sc.training.p2K, sc.training.p2Gamma]).toEqual([true, 'p2', 1, 1]);
    } finally {
      spy.mockRestore();
      spyLog.mockRestore();
    }
  });

  it('refuses to overwrite a run and rejects corrupt or missing checkpoints clearly', async () => {
    const runDir = path.join(dir, 'run-a-0');
    await expect(train({ runDir, config: config({ steps: 2 }), resume: false, backend: 'wasm', progress: false, log: quiet })).rejects.toThrow(/already holds a run/);
    const ck = await loadCheckpoint(runDir);
    await fsp.truncate(path.join(ck.dir, 'ema.f32'), 100);
    await expect(loadCheckpoint(runDir)).rejects.toThrow(/ema\.f32: expected \d+ bytes .* found 100: truncated or corrupt/);
    const w = await fsp.readFile(path.join(ck.dir, 'weights.f32'));
    w[10] ^= 0xff;
    await fsp.writeFile(path.join(ck.dir, 'weights.f32'), w);
    await expect(loadCheckpoint(runDir)).rejects.toThrow(/weights\.f32: sha256 mismatch/);
    await expect(loadCheckpoint(path.join(dir, 'no-such-run'))).rejects.toThrow(CheckpointError);
    await fsp.mkdir(path.join(dir, 'empty-run'));
    await expect(loadCheckpoint(path.join(dir, 'empty-run'))).rejects.toThrow(/empty-run: no checkpoint found \(expected latest\.json or checkpoints\/step-NNNNNNNN\/\)/);
  });
});

describe('learning-rate schedule', () => {
  it('warms up, holds, then cools down linearly to 0 over the last cooldownSteps', () => {
    const o = { lr: 1e-3, warmupSteps: 10, steps: 100, cooldownSteps: 20 };
    expect(learningRate(o, 0)).toBeCloseTo(1e-4, 12);
    expect(learningRate(o, 9)).toBeCloseTo(1e-3, 12);
    expect(learningRate(o, 79)).toBeCloseTo(1e-3, 12);
    expect(learningRate(o, 80)).toBeCloseTo(1e-3, 12);
    expect(learningRate(o, 90)).toBeCloseTo(5e-4, 12);
    expect(learningRate(o, 99)).toBeCloseTo(5e-5, 12);
    // runs written before the option existed have no cooldown
    expect(learningRate({ lr: 1e-3, warmupSteps: 0, steps: 100 }, 99)).toBe(1e-3);
  });

  it('a resumed run can add a cooldown: the config keeps it and loss.csv shows the decay', async () => {
    const runDir = path.join(dir, 'run-cooldown');
    await train({ runDir, config: config({ steps: 6, warmupSteps: 0 }), resume: false, backend: 'wasm', progress: false, log: quiet });
    await train({ runDir, resume: true, steps: 10, cooldownSteps: 4, backend: 'wasm', progress: false, log: quiet });
    const cfg = JSON.parse(await fsp.readFile(path.join(runDir, 'config.json'), 'utf8')) as RunConfig;
    expect([cfg.training.steps, cfg.training.cooldownSteps]).toEqual([10, 4]);
    const lrs = (await fsp.readFile(path.join(runDir, 'loss.csv'), 'utf8')).trim().split('\n').slice(1).map((l) => Number(l.split(',')[2]));
    expect(lrs).toEqual([3e-3, 3e-3, 3e-3, 3e-3, 3e-3, 3e-3, 3e-3, 2.25e-3, 1.5e-3, 7.5e-4]);
    await expect(train({ runDir, resume: true, cooldownSteps: 11, backend: 'wasm', progress: false, log: quiet })).rejects.toThrow(/cooldownSteps must be/);
  });

  it('keeps the newest --keep-checkpoints plus every checkpoint at a multiple of --keep-every (settable on resume)', async () => {
    const runDir = path.join(dir, 'run-keep-every');
    await train({ runDir, config: config({ steps: 6, checkpointEvery: 1, keepCheckpoints: 2, keepEvery: 4 }), resume: false, backend: 'wasm', progress: false, log: quiet });
    expect(await listCheckpoints(runDir)).toEqual([4, 5, 6]);
    await train({ runDir, resume: true, steps: 9, keepEvery: 3, backend: 'wasm', progress: false, log: quiet });
    // the rule applies to the whole folder: 4 is no multiple of 3 and goes; 6 and 9 are; 8 and 9 are the newest two
    expect(await listCheckpoints(runDir)).toEqual([6, 8, 9]);
    const cfg = JSON.parse(await fsp.readFile(path.join(runDir, 'config.json'), 'utf8')) as RunConfig;
    expect(cfg.training.keepEvery).toBe(3);
  });
});

