// The exporter: graph shape and ops, tfjs/onnxruntime-web parity, int8 fusion and errors, the fixture,
// the --run path and its errors (nothing half-written in models/).
import { readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import * as ortNode from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import type { ModelCard } from '../../src/model-card.ts';
import { gaussianNoise } from '../../src/diffusion/noise.ts';
import type { DiffusionModelConfig } from '../../scripts/model/config.ts';
import { decodeModel, encodeModel, OPSET } from '../../scripts/model/onnx-graph.ts';
import { ExportError } from '../../scripts/model/ops-onnx.ts';
import { exportFixture, FIXTURE_CONFIG, FIXTURE_NAME, syntheticImages } from '../../scripts/export/fixture.ts';
import { exportRun, type RunExportOptions } from '../../scripts/export/from-run.ts';
import { buildUNetGraph, weightsSource } from '../../scripts/export/graph.ts';
import { weightsFromOnnx } from '../../scripts/export/onnx-weights.ts';
import { noisedBatches } from '../../scripts/export/measure.ts';
import { tfjsOrtParity } from '../../scripts/export/parity.ts';
import { randomParams } from '../../scripts/export/random-weights.ts';
import { createModelSession, graphSpec } from '../../src/inference/onnx.ts';
import { parseModelCard } from '../../src/model-card.ts';
import { readModelCard } from '../../scripts/lib/model-card.ts';
import { fakeRun, tempDir } from './helpers.ts';

const ROOT = path.join(import.meta.dirname, '..', '..');
const FIXTURE_DIR = path.join(ROOT, 'models', FIXTURE_NAME);

/** Unconditional, RGB, three levels, two res blocks, attention at two resolutions. */
const WIDE: DiffusionModelConfig = {
  unet: { imageSize: 16, channels: 3, baseChannels: 8, channelMults: [1, 2, 2], numResBlocks: 2, attentionResolutions: [8, 4], dropout: 0, groups: 4, numClasses: 0 },
  schedule: { kind: 'cosine', T: 1000 },
  prediction: 'v_prediction',
};

// GroupNormalization is not allowed: onnxruntime-web 1.30 has no kernel for it and expands it into about 25-30
// small kernels per node (docs/export.md: the lowered form runs 461 instead of 1,129 kernels per forward).
const ALLOWED_OPS = new Set([
  'Conv', 'InstanceNormalization', 'Sigmoid', 'Mul', 'Gemm', 'Add', 'Unsqueeze', 'Concat', 'Resize', 'Reshape',
  'Transpose', 'MatMul', 'Softmax', 'Cast', 'Sin', 'Cos', 'Gather',
]);

describe('ONNX graph', () => {
  it('has opset 21, a symbolic batch dimension, the model card I/O and only the expected ops', async () => {
    const m = decodeModel(await readFile(path.join(FIXTURE_DIR, 'unet.onnx')));
    expect(Number(m.opsetImport[0].version)).toBe(OPSET);
    const g = m.graph!;
    const dims = (i: number) => g.input![i].type!.tensorType!.shape!.dim!.map((d) => d.dimParam || Number(d.dimValue));
    expect(g.input!.map((i) => i.name)).toEqual(['x', 't', 'class']);
    expect(dims(0)).toEqual(['batch', 1, 16, 16]);
    expect(dims(1)).toEqual(['batch']);
    expect(g.output!.map((o) => o.name)).toEqual(['out']);
    for (const n of g.node!) expect(ALLOWED_OPS.has(n.opType!), n.opType!).toBe(true);
  });

  it('every shipped graph writes GroupNorm as InstanceNormalization, never GroupNormalization', async () => {
    for (const name of await readdir(path.join(ROOT, 'models'))) {
      const card = JSON.parse(await readFile(path.join(ROOT, 'models', name, 'model.json'), 'utf8')) as ModelCard;
      for (const file of [card.files.fp32.path, card.files.int8.path]) {
        const ops = decodeModel(await readFile(path.join(ROOT, 'models', name, file))).graph!.node!.map((n) => n.opType);
        expect(ops, `${name}/${file}`).not.toContain('GroupNormalization');
        expect(ops.filter((o) => o === 'InstanceNormalization').length, `${name}/${file}`).toBeGreaterThan(0);
      }
    }
  });

  it("the lowered GroupNorm computes what opset 21's GroupNormalization computes", async () => {
    const params = randomParams(3);
    const lowered = buildUNetGraph(WIDE, params);
    const opset = buildUNetGraph(WIDE, params, 'ddpm_unet', { groupNorm: 'opset' });
    expect(opset.graph.nodes.some((n) => n.op === 'GroupNormalization')).toBe(true);
    expect(lowered.graph.nodes.some((n) => n.op === 'GroupNormalization')).toBe(false);
    expect(lowered.parameterCount).toBe(opset.parameterCount);
    const x0 = gaussianNoise(5, 0, new Float32Array(4 * 3 * 16 * 16)).map((v) => Math.tanh(v)); // RGB images in (-1, 1)
    const inputs = noisedBatches(WIDE, x0, 4, 4, [10, 700], 6);
    const a = await createModelSession(encodeModel(lowered.graph), lowered.spec);
    const b = await createModelSession(encodeModel(opset.graph), opset.spec);
    for (const input of inputs) {
      const ya = await a.run(input);
      const yb = await b.run(input);
      let max = 0;
      for (let i = 0; i < ya.length; i++) max = Math.max(max, Math.abs(ya[i] - yb[i]));
      expect(max).toBeLessThan(1e-4);
    }
  });

  it('weights read back from an exported fp32 graph rebuild the same graph, byte for byte (--from-model)', () => {
    for (const groupNorm of ['instance-norm', 'opset'] as const) {
      const built = buildUNetGraph(FIXTURE_CONFIG, randomParams(7), 'ddpm_unet', { groupNorm });
      const bytes = encodeModel(built.graph);
      const again = buildUNetGraph(FIXTURE_CONFIG, weightsSource(weightsFromOnnx(bytes)), 'ddpm_unet', { groupNorm });
      expect(Buffer.from(encodeModel(again.graph)).equals(Buffer.from(bytes)), groupNorm).toBe(true);
    }
  });

  it('--from-model refuses a quantized graph with a clear error', async () => {
    const int8 = await readFile(path.join(FIXTURE_DIR, 'unet.int8.onnx'));
    expect(() => weightsFromOnnx(int8)).toThrow(/quantized: re-export reads the fp32 unet.onnx/);
  });

  it('names the first missing parameter and rejects architectures it cannot express', () => {
    const missing = (name: string, shape: readonly number[]) => {
      if (name === 'mid.attn/q/kernel') throw new ExportError(`the checkpoint has no parameter ${name}`);
      return randomParams(1)(name, shape);
    };
    expect(() => buildUNetGraph(FIXTURE_CONFIG, missing)).toThrow(/no parameter mid\.attn\/q\/kernel/);
    const bad = { ...FIXTURE_CONFIG, unet: { ...FIXTURE_CONFIG.unet, groups: 3 } };
    expect(() => buildUNetGraph(bad, randomParams(1))).toThrow(/cannot be exported: unet.groups 3/);
  });
});

describe('parity: tfjs forward vs onnxruntime-web forward, same weights (fp32)', () => {
  for (const [label, config] of [['fixture (conditional, 1 channel)', FIXTURE_CONFIG], ['wide (unconditional, RGB, 3 levels)', WIDE]] as const) {
    it(`${label}: max abs <= 1e-4 at batch 1 and 3, t from 0 to T-1`, async () => {
      const u = config.unet;
      const params = randomParams(11);
      const built = buildUNetGraph(config, params);
      const session = await createModelSession(encodeModel(built.graph), built.spec);
      const images = syntheticImages(4 * u.channels, u.imageSize, 9); // 4 images of C channels
      const inputs = [...noisedBatches(config, images, 1, 1, [0], 1), ...noisedBatches(config, images.subarray(u.channels * u.imageSize ** 2), 3, 3, [999, 10, 500], 2)];
      const p = await tfjsOrtParity(u, params, session, inputs);
      expect(p.maxAbs).toBeLessThanOrEqual(1e-4);
      await session.release();
    });
  }
});

describe('fixture model (models/fixture-tiny)', () => {
  it('is what `npm run export:fixture` writes, byte for byte, and its card matches its files', async () => {
    const dir = await tempDir('fixture');
    const { card } = await exportFixture(dir);
    for (const f of ['unet.onnx', 'unet.int8.onnx', 'model.json']) {
      expect(Buffer.compare(await readFile(path.join(dir, FIXTURE_NAME, f)), await readFile(path.join(FIXTURE_DIR, f))), f).toBe(0);
    }
    const committed = JSON.parse(await readFile(path.join(FIXTURE_DIR, 'model.json'), 'utf8')) as ModelCard;
    expect(committed).toEqual(card);
    let total = 0;
    for (const file of Object.values(card.files)) {
      const bytes = await readFile(path.join(FIXTURE_DIR, file.path));
      expect(bytes.length).toBe(file.bytes);
      expect((await import('node:crypto')).createHash('sha256').update(bytes).digest('hex')).toBe(file.sha256);
      total += bytes.length;
    }
    expect(total).toBeLessThan(200_000);
    expect(card.classNames).toHaveLength(10);
    expect(card.io).toEqual({ x: 'x', t: 't', class: 'class', output: 'out' });
    expect(await readdir(dir)).toEqual([FIXTURE_NAME]); // no temp folders left
    await rm(dir, { recursive: true });
  });

  it('int8: every quantized conv becomes a QLinearConv in onnxruntime (native peer, optimized graph)', async () => {
    const dir = await tempDir('opt');
    const optimized = path.join(dir, 'opt.onnx');
    const s = await ortNode.InferenceSession.create(path.join(FIXTURE_DIR, 'unet.int8.onnx'), {
      graphOptimizationLevel: 'all',
      optimizedModelFilePath: optimized,
      intraOpNumThreads: 1,
      logSeverityLevel: 3,
    });
    await s.release();
    const ops = decodeModel(await readFile(optimized)).graph!.node!.map((n) => n.opType);
    const source = decodeModel(await readFile(path.join(FIXTURE_DIR, 'unet.int8.onnx'))).graph!.node!;
    const quantizedConvs = source.filter((n) => n.opType === 'Conv' && n.input![1].endsWith('/kernel_dq')).length;
    expect(quantizedConvs).toBeGreaterThan(0);
    expect(ops.filter((o) => o === 'QLinearConv')).toHaveLength(quantizedConvs);
    await rm(dir, { recursive: true });
  });

  it('int8 runs in onnxruntime-web with a dynamic batch and stays close to fp32', async () => {
    const card = JSON.parse(await readFile(path.join(FIXTURE_DIR, 'model.json'), 'utf8')) as ModelCard;
    expect(card.exportErrors?.['int8.relRms']).toBeLessThan(0.15);
    const fp32 = await createModelSession(await readFile(path.join(FIXTURE_DIR, 'unet.onnx')), graphSpec(card));
    const int8 = await createModelSession(await readFile(path.join(FIXTURE_DIR, 'unet.int8.onnx')), graphSpec(card));
    const [input] = noisedBatches(FIXTURE_CONFIG, syntheticImages(5, 16, 4), 5, 5, [300], 1);
    const a = await fp32.run(input);
    const b = await int8.run(input);
    expect(a).toHaveLength(5 * 256);
    let se = 0;
    let sr = 0;
    for (let i = 0; i < a.length; i++) {
      se += (a[i] - b[i]) ** 2;
      sr += a[i] ** 2;
    }
    expect(Math.sqrt(se / sr)).toBeLessThan(0.15);
    await fp32.release();
    await int8.release();
  });
});

describe('npm run export -- --run <dir>', () => {
  const options = (runDir: string, modelsDir: string): RunExportOptions => ({
    runDir,
    modelsDir,
    version: '1.0.0',
    calibrationImages: 32,
    evaluationImages: 16,
    parity: true,
    benchmarkBatches: [],
    log: () => {},
  });

  it('writes models/<name>/ from the EMA weights, with training facts and the parity figure in model.json', async () => {
    const runDir = await fakeRun(FIXTURE_CONFIG);
    const models = await tempDir('models');
    const { dir, card } = await exportRun(options(runDir, models));
    expect(dir).toBe(path.join(models, 'tiny-run'));
    expect((await readdir(dir)).sort()).toEqual(['model.json', 'unet.int8.onnx', 'unet.onnx']);
    expect(card.training).toEqual({ steps: 10, seconds: 2, batchSize: 8, lossWeight: { kind: 'none' } });
    expect(card.classNames?.[9]).toBe('Ankle boot');
    expect(card.dataset).toMatch(/^Fashion-MNIST/);
    expect(card.exportErrors?.['parity.tfjsVsOrtMaxAbs']).toBeLessThanOrEqual(1e-4);
    // the int8 graph ships optimized by onnxruntime-node, its figures measured on that graph
    expect(card.files.int8.optimized).toBe('extended');
    expect(card.exportErrors?.['int8.optimizedMaxAbs']).toBeLessThanOrEqual(1e-3);
    expect(card.exportErrors?.['int8.relRms']).toBeLessThan(0.2);
    expect(await readdir(models)).toEqual(['tiny-run']);
    await rm(path.dirname(runDir), { recursive: true });
    await rm(models, { recursive: true });
  });

  it('a self-conditioned p2 run: the graph takes self_cond, the card lists it, parity and int8 hold with it, a card that does not match the graph is refused', async () => {
    const config: DiffusionModelConfig = { ...FIXTURE_CONFIG, unet: { ...FIXTURE_CONFIG.unet, selfCondition: true } };
    const runDir = await fakeRun(config, { training: { lossWeight: 'p2', p2K: 1, p2Gamma: 1, selfConditionClip: true } });
    const models = await tempDir('models-sc');
    const { dir, card } = await exportRun(options(runDir, models));
    expect(card.io).toEqual({ x: 'x', t: 't', class: 'class', selfCond: 'self_cond', output: 'out' });
    expect(card.architecture.selfCondition).toBe(true);
    expect(card.training).toEqual({ steps: 10, seconds: 2, batchSize: 8, lossWeight: { kind: 'p2', k: 1, gamma: 1 }, selfConditionClip: true });
    expect(card.exportErrors?.['parity.tfjsVsOrtMaxAbs']).toBeLessThanOrEqual(1e-4);
    expect(card.exportErrors?.['int8.relRms']).toBeLessThan(0.15);
    expect(readModelCard(dir)).toEqual(card);
    for (const file of [card.files.fp32.path, card.files.int8.path]) {
      const graph = decodeModel(await readFile(path.join(dir, file))).graph!;
      const sc = graph.input!.find((i) => i.name === 'self_cond');
      expect(sc?.type?.tensorType?.shape?.dim?.map((d) => d.dimParam || Number(d.dimValue)), file).toEqual(['batch', 1, 16, 16]);
    }
    // the estimate reaches the network: another x0 estimate, another output
    const int8 = await createModelSession(await readFile(path.join(dir, card.files.int8.path)), graphSpec(card));
    const [input] = noisedBatches(config, syntheticImages(4, 16, 4), 4, 4, [300], 1);
    const a = await int8.run(input);
    const b = await int8.run({ ...input, selfCond: input.selfCond!.map((v) => -v) });
    expect(a).not.toEqual(b);
    await expect(int8.run({ x: input.x, t: input.t, classes: input.classes })).rejects.toThrow(/self-conditioned: selfCond .* is required/);
    await int8.release();
    // cards that do not match the graph: refused when the session is created, naming both sides
    const bytes = await readFile(path.join(dir, card.files.int8.path));
    const { selfCond: _drop, ...plainIo } = card.io;
    await expect(createModelSession(bytes, { ...graphSpec(card), io: plainIo })).rejects.toThrow(
      /model tiny-run: the card does not list self_cond \(the card lists inputs \[x, t, class\] and output out; the ONNX graph takes \[x, t, class, self_cond\] and gives \[out\]\)/,
    );
    const fixture = await readFile(path.join(FIXTURE_DIR, 'unet.int8.onnx'));
    const fixtureCard = readModelCard(FIXTURE_DIR);
    await expect(createModelSession(fixture, { ...graphSpec(fixtureCard), io: { ...fixtureCard.io, selfCond: 'self_cond' } })).rejects.toThrow(
      /the graph lacks self_cond \(the card lists inputs \[x, t, class, self_cond\] and output out; the ONNX graph takes \[x, t, class\]/,
    );
    await expect(createModelSession(fixture, { ...graphSpec(fixtureCard), dims: [1, 32, 32] })).rejects.toThrow(/input x: the card says float32 \[batch, 1, 32, 32\], the ONNX graph has float32 \[batch, 1, 16, 16\]/);
    // and the card itself must say the same in architecture and io
    expect(() => parseModelCard({ ...card, io: plainIo })).toThrow(/io\.selfCond must be given exactly when architecture\.selfCondition is true/);
    expect(() => parseModelCard({ ...card, io: { ...card.io, mask: 'mask' } })).toThrow(/invalid model card: io: Unrecognized key/);
    await rm(path.dirname(runDir), { recursive: true });
    await rm(models, { recursive: true });
  });

  it('fails clearly, leaving models/ untouched, on a run without checkpoint, a corrupt checkpoint, or an inexpressible architecture', async () => {
    const models = await tempDir('models-bad');
    const runDir = await fakeRun(FIXTURE_CONFIG);
    const ck = path.join(runDir, 'checkpoints', 'step-00000010');

    await truncate(path.join(ck, 'ema.f32'), 100);
    await expect(exportRun(options(runDir, models))).rejects.toThrow(/cannot export .*ema\.f32.*(truncated or corrupt)/);

    await rm(path.join(runDir, 'checkpoints'), { recursive: true });
    await rm(path.join(runDir, 'latest.json'));
    await expect(exportRun(options(runDir, models))).rejects.toThrow(/cannot export .*no checkpoint found/);

    const odd = await fakeRun(FIXTURE_CONFIG, { unet: { ...FIXTURE_CONFIG.unet, attentionResolutions: [5] } });
    await expect(exportRun(options(odd, models))).rejects.toThrow(/cannot be exported: unet\.attentionResolutions: 5/);

    // weights of another architecture than config.json says
    const other = await fakeRun(FIXTURE_CONFIG, { unet: { ...FIXTURE_CONFIG.unet, baseChannels: 8 } });
    await expect(exportRun(options(other, models))).rejects.toThrow(ExportError);

    const good = await fakeRun(FIXTURE_CONFIG);
    await expect(exportRun({ ...options(good, models), keepFloat: ['in/conv', 'nope'] })).rejects.toThrow(/no conv layer named nope/);
    await writeFile(path.join(models, 'keep.txt'), 'untouched');
    expect(await readdir(models)).toEqual(['keep.txt']);
    for (const d of [runDir, odd, other, good]) await rm(path.dirname(d), { recursive: true });
    await rm(models, { recursive: true });
  });
});
