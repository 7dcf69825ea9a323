import { describe, expect, it, beforeAll, vi } from 'vitest';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import { selectBackend } from '../../scripts/train/backend.ts';
import { loadCheckpoint, readRunConfig } from '../../scripts/train/checkpoint.ts';
import { main } from '../../scripts/train/cli.ts';
import { describeInit, initialWeights, INPUT_CONV } from '../../scripts/train/init-from.ts';
import { trainingTotals } from '../../src/model-card.ts';
import { createUNet, setWeights, toEpsModel } from '../../scripts/train/model.ts';
import { DEFAULT_TRAIN, type RunConfig } from '../../scripts/train/options.ts';
import { train } from '../../scripts/train/trainer.ts';
import { weightsFromOnnx } from '../../scripts/export/onnx-weights.ts';
import type { UNetConfig } from '../../scripts/model/config.ts';
import { barImages, idxBytes } from './fixtures.ts';

// models/fixture-tiny: 16x16x1, 10 classes, random weights (npm run export:fixture)
const MODEL = path.resolve('models/fixture-tiny');
const UNET: UNetConfig = { imageSize: 16, channels: 1, baseChannels: 4, channelMults: [1, 2], numResBlocks: 1, attentionResolutions: [8], dropout: 0.1, groups: 2, numClasses: 10 };
const NET = { unet: UNET, schedule: { kind: 'linear', T: 1000 }, prediction: 'epsilon' } as const;

let dir = '';
let images = '';
let labels = '';
let weights: Map<string, { shape: number[]; data: Float32Array }>;

beforeAll(async () => {
  await selectBackend('wasm');
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'ddpm-init-'));
  const { pixels, labels: lab } = barImages(32);
  images = path.join(dir, 'bars-images-idx3-ubyte.gz');
  labels = path.join(dir, 'bars-labels-idx1-ubyte.gz');
  await fsp.writeFile(images, gzipSync(idxBytes([32, 8, 8], pixels)));
  await fsp.writeFile(labels, gzipSync(idxBytes([32], lab)));
  weights = weightsFromOnnx(await fsp.readFile(path.join(MODEL, 'unet.onnx')));
});

describe('--init-from: a new run from an exported model', () => {
  it("reads the card and refuses a network, schedule or objective that is not the model's", async () => {
    const init = await describeInit(MODEL, NET);
    expect([init.model, init.version, init.dir, init.sha256.length, init.training.steps]).toEqual(['fixture-tiny', '1.0.0', MODEL, 64, 0]);
    await expect(describeInit(MODEL, { ...NET, unet: { ...UNET, selfCondition: true } })).resolves.toMatchObject({ model: 'fixture-tiny' });
    await expect(describeInit(MODEL, { ...NET, unet: { ...UNET, baseChannels: 8 } })).rejects.toThrow(/the model has baseChannels 4, the run 8/);
    await expect(describeInit(MODEL, { ...NET, unet: { ...UNET, channelMults: [1, 2, 2] } })).rejects.toThrow(/channelMults \[1,2\], the run \[1,2,2\]/);
    await expect(describeInit(MODEL, { ...NET, schedule: { kind: 'cosine', T: 1000 } })).rejects.toThrow(/schedule is \{"kind":"linear","T":1000\}/);
    await expect(describeInit(MODEL, { ...NET, prediction: 'v_prediction' })).rejects.toThrow(/the model predicts epsilon, the run v_prediction/);
    await expect(describeInit(path.join(dir, 'nowhere'), NET)).rejects.toThrow(/cannot read the model card/);
    // dropout decides no weight: another dropout is allowed
    await expect(describeInit(MODEL, { ...NET, unet: { ...UNET, dropout: 0 } })).resolves.toBeDefined();
  });

  it('a model that was warm-started itself passes its chain on: the totals add up every run', async () => {
    const copy = path.join(dir, 'model-chain');
    await fsp.cp(MODEL, copy, { recursive: true });
    const card = JSON.parse(await fsp.readFile(path.join(copy, 'model.json'), 'utf8'));
    const first = { model: 'fixture-tiny', version: '0.9.0', sha256: 'a'.repeat(64), steps: 7, seconds: 3, batchSize: 4 };
    card.training = { ...card.training, steps: 5, seconds: 2, batchSize: 8, initFrom: first };
    await fsp.writeFile(path.join(copy, 'model.json'), JSON.stringify(card));
    const init = await describeInit(copy, NET);
    expect(init.training).toEqual({ steps: 5, seconds: 2, batchSize: 8, initFrom: first });
    // the next model's card records { model, version, sha256, ...init.training } (scripts/export/from-run.ts)
    const next = { steps: 10, seconds: 4, batchSize: 2, initFrom: { model: init.model, version: init.version, sha256: init.sha256, ...init.training } };
    expect(trainingTotals(next)).toEqual({ steps: 22, seconds: 9, images: 20 + 40 + 28, runs: 3 });
    // a link without its batch size: images unknown, steps and seconds still add up
    expect(trainingTotals({ steps: 1, seconds: 1, batchSize: 2, initFrom: { ...first, batchSize: undefined } })).toEqual({ steps: 8, seconds: 4, runs: 2 });
  });

  it('same architecture: every parameter is the model\'s, and the U-Net computes what it computed', async () => {
    const m = createUNet(UNET, 9);
    const { flat, notes } = initialWeights(m.layout, UNET, weights);
    expect(notes).toEqual([]);
    for (const e of m.layout.entries) expect(Array.from(flat.subarray(e.offset, e.offset + e.size)), e.name).toEqual(Array.from(weights.get(e.name)!.data));
    // a differently seeded model loaded with them gives the same output
    const m2 = createUNet(UNET, 1);
    setWeights(m, flat);
    setWeights(m2, initialWeights(m2.layout, UNET, weights).flat);
    const x = new Float32Array(2 * 256).map((_, i) => Math.sin(i));
    const inputs = { x, t: new Int32Array([10, 900]), classes: new Int32Array([3, 10]) };
    expect(Array.from(await toEpsModel(m)(inputs))).toEqual(Array.from(await toEpsModel(m2)(inputs)));
  });

  it('a self-conditioned run from a model without it: x keeps its kernel, the estimate starts ignored', async () => {
    const sc: UNetConfig = { ...UNET, selfCondition: true };
    const m = createUNet(sc, 2);
    const { flat, notes } = initialWeights(m.layout, sc, weights);
    expect(notes).toEqual([`${INPUT_CONV}: the model's kernel reads x; the 1 self-condition input channel starts at zero`]);
    const e = m.layout.entries.find((p) => p.name === INPUT_CONV)!;
    const [kh, kw, cin, cout] = e.shape;
    expect(cin).toBe(2);
    const src = weights.get(INPUT_CONV)!.data;
    for (let i = 0; i < kh * kw; i++) {
      for (let o = 0; o < cout; o++) {
        expect(flat[e.offset + (i * cin + 0) * cout + o]).toBe(0); // selfCond channel
        expect(flat[e.offset + (i * cin + 1) * cout + o]).toBe(src[i * cout + o]); // x channel
      }
    }
    setWeights(m, flat);
    const plain = createUNet(UNET, 2);
    setWeights(plain, initialWeights(plain.layout, UNET, weights).flat);
    const x = new Float32Array(2 * 256).map((_, i) => Math.cos(i * 0.3));
    const estimate = new Float32Array(2 * 256).map((_, i) => Math.sin(i * 0.7));
    const inputs = { x, t: new Int32Array([50, 700]), classes: new Int32Array([1, 10]) };
    const withEstimate = await toEpsModel(m)({ ...inputs, selfCond: estimate });
    expect(Array.from(withEstimate)).toEqual(Array.from(await toEpsModel(plain)(inputs)));
  });

  it('a missing, extra or misshapen weight is an error naming it', () => {
    const m = createUNet(UNET, 1);
    const missing = new Map(weights);
    missing.delete('out/conv/kernel');
    expect(() => initialWeights(m.layout, UNET, missing)).toThrow(/the model has no parameter out\/conv\/kernel \[3, 3, 4, 1\]/);
    const extra = new Map(weights).set('stray/bias', { shape: [4], data: new Float32Array(4) });
    expect(() => initialWeights(m.layout, UNET, extra)).toThrow(/parameters the run does not: stray\/bias/);
    const bad = new Map(weights).set(INPUT_CONV, { shape: [3, 3, 2, 4], data: new Float32Array(72) });
    expect(() => initialWeights(m.layout, UNET, bad)).toThrow(/parameter in\/conv\/kernel: the model has \[3, 3, 2, 4\], the run needs \[3, 3, 1, 4\]/);
  });

  it('train() starts from the weights and EMA of the model, and refuses a graph that changed since', async () => {
    const copy = path.join(dir, 'model-copy');
    await fsp.cp(MODEL, copy, { recursive: true });
    const cfg: RunConfig = {
      format: 'ddpm-edge-run',
      version: 1,
      ...NET,
      unet: { ...UNET, selfCondition: true },
      training: { ...DEFAULT_TRAIN, seed: 3, steps: 2, batchSize: 8, lr: 1e-6, warmupSteps: 0, checkpointEvery: 1000, sampleEvery: 0, workers: 0, labelDropout: 0.2 },
      data: { kind: 'idx', images, labels, fit: 'pad', hflip: false, limit: 0 },
      classNames: ['vertical', 'horizontal'],
    };
    cfg.initFrom = await describeInit(copy, cfg);
    const lines: string[] = [];
    const runDir = path.join(dir, 'run-init');
    await train({ runDir, config: cfg, resume: false, backend: 'wasm', progress: false, log: (l) => lines.push(l) });
    expect(lines).toContain(`init: weights from fixture-tiny 1.0.0 (${copy}; 0 steps)`);
    expect((await readRunConfig(runDir) as RunConfig).initFrom).toEqual(cfg.initFrom);
    const ck = await loadCheckpoint(runDir);
    const m = createUNet(cfg.unet, 1);
    const start = initialWeights(m.layout, cfg.unet, weights).flat;
    const fresh = createUNet(cfg.unet, 3);
    let fromModel = 0;
    let fromFresh = 0;
    const ema = ck.state.ema;
    const freshFlat = new Float32Array(start.length);
    for (const e of fresh.layout.entries) freshFlat.set((fresh.params.get(e.name)!.dataSync() as Float32Array), e.offset);
    for (let i = 0; i < start.length; i++) {
      fromModel = Math.max(fromModel, Math.abs(ema[i] - start[i]));
      fromFresh = Math.max(fromFresh, Math.abs(ema[i] - freshFlat[i]));
    }
    // two Adam steps of 1e-6 move no weight more than 2e-6 from the model's; a seeded initialisation is far away
    expect(fromModel).toBeLessThan(3e-6);
    expect(fromFresh).toBeGreaterThan(0.05);

    const onnx = path.join(copy, 'unet.onnx');
    const bytes = await fsp.readFile(onnx);
    bytes[bytes.length - 1] ^= 1;
    await fsp.writeFile(onnx, bytes);
    await expect(train({ runDir: path.join(dir, 'run-init-2'), config: cfg, resume: false, backend: 'wasm', progress: false, log: () => {} })).rejects.toThrow(
      /unet\.onnx changed since the run was configured/,
    );
  });

  it('the CLI: --init-from with --resume, or onto another network, is an error (exit 2)', async () => {
    const errors: string[] = [];
    const spy = vi.spyOn(console, 'error').mockImplementation((m: string) => void errors.push(m));
    const spyLog = vi.spyOn(console, 'log').mockImplementation(() => {});
    try {
      const common = ['--data', 'idx', '--images', images, '--labels', labels, '--no-progress', '--workers', '0', '--steps', '1'];
      const runDir = path.join(dir, 'run-cli');
      // bars have 2 classes, the model 10
      expect(await main(['node', 'cli.ts', ...common, '--conditional', '--image-size', '16', '--base-channels', '4', '--channel-mults', '1,2', '--groups', '2', '--init-from', MODEL, '--run-dir', runDir])).toBe(2);
      expect(errors.pop()).toMatch(/^error: --init-from .*fixture-tiny: the model has numClasses 10, the run 2/);
      await expect(fsp.stat(path.join(runDir, 'config.json'))).rejects.toThrow();
      expect(await main(['node', 'cli.ts', '--resume', '--init-from', MODEL, '--run-dir', path.join(dir, 'run-init'), '--no-progress'])).toBe(2);
      expect(errors.pop()).toMatch(/^error: --init-from starts a new run; a resumed run continues from its own checkpoint/);
    } finally {
      spy.mockRestore();
      spyLog.mockRestore();
    }
  });
});
