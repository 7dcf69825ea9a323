/**
 * Export a training run: its latest (or chosen) checkpoint's EMA weights, calibrated and measured on
 * the run's own training images.
 */
import * as path from 'node:path';
import { loadCheckpoint, CheckpointError } from '../train/checkpoint.ts';
import { isColdRun, lossWeighting } from '../train/options.ts';
import { describeProcess } from '../../src/cold/process.ts';
import { DEFAULT_MIXTURE_COMPONENTS, DEFAULT_START_NOISE, fitGeneration } from './cold.ts';
import { FASHION_MNIST_CLASSES, loadIdxDataset, loadImageFolder, type Dataset } from '../train/data.ts';
import { ExportError } from '../model/ops-onnx.ts';
import { exportModel, type ExportInput } from './export.ts';
import { weightsSource } from './graph.ts';
import { tfjsOrtParity } from './parity.ts';

export interface RunExportOptions {
  runDir: string;
  /** Cold Diffusion runs: components of the generation start's Gaussian mixture, and the start noise (cold.ts). */
  mixtureComponents?: number;
  startNoise?: number;
  step?: number;
  name?: string;
  version: string;
  modelsDir: string;
  calibrationImages: number;
  evaluationImages: number;
  keepFloat?: string[];
  parity: boolean;
  benchmarkBatches: number[];
  /** Ship the int8 graph optimized by onnxruntime-node (default true). */
  optimize?: boolean;
  log: (line: string) => void;
}

/** Timesteps of the tfjs-vs-onnxruntime parity check: 1%, 50% and 99% of T (10, 500, 990 for T = 1000). */
export function parityTimesteps(T: number): number[] {
  return [0.01, 0.5, 0.99].map((f) => Math.floor(f * T));
}

/** Pixels [N, S, S, C] uint8 of images `indices` -> [n, C, S, S] float32 in [-1, 1]. */
function toNchw(ds: Dataset, indices: readonly number[]): Float32Array {
  const { size: S, channels: C } = ds;
  const out = new Float32Array(indices.length * C * S * S);
  indices.forEach((k, i) => {
    for (let y = 0; y < S; y++)
      for (let x = 0; x < S; x++)
        for (let c = 0; c < C; c++) out[((i * C + c) * S + y) * S + x] = ds.pixels[((k * S + y) * S + x) * C + c] / 127.5 - 1;
  });
  return out;
}

/** The calibration and evaluation images (and labels) an export measures with: disjoint, spread over the dataset. */
export function exportImageSets(ds: Dataset, calibration: number, evaluation: number): Pick<ExportInput, 'calibrationImages' | 'evaluationImages' | 'calibrationLabels' | 'evaluationLabels'> {
  const calibIdx = spread(ds.count, calibration, 0.25);
  const evalIdx = spread(ds.count, evaluation, 0.75);
  return {
    calibrationImages: toNchw(ds, calibIdx),
    evaluationImages: toNchw(ds, evalIdx),
    calibrationLabels: ds.labels === null ? undefined : Int32Array.from(calibIdx, (k) => ds.labels?.[k] ?? 0),
    evaluationLabels: ds.labels === null ? undefined : Int32Array.from(evalIdx, (k) => ds.labels?.[k] ?? 0),
  };
}

/** `count` indices spread evenly over [0, n), starting at `phase` (0..1). */
function spread(n: number, count: number, phase: number): number[] {
  return Array.from({ length: Math.min(count, n) }, (_, i) => Math.floor(((i + phase) * n) / Math.min(count, n)) % n);
}

export async function exportRun(o: RunExportOptions) {
  let ck;
  try {
    ck = await loadCheckpoint(o.runDir, { step: o.step });
  } catch (e) {
    if (e instanceof CheckpointError) throw new ExportError(`cannot export ${o.runDir}: ${e.message}`, { cause: e });
    throw e;
  }
  const cfg = ck.config;
  const u = cfg.unet;
  o.log(`checkpoint ${ck.dir}: step ${ck.step}, ${ck.manifest.totalParams} parameters (EMA)`);

  const loadOpts = { size: u.imageSize, channels: u.channels, fit: cfg.data.fit, limit: 0 };
  let ds: Dataset;
  try {
    ds = cfg.data.kind === 'idx' ? await loadIdxDataset(cfg.data.images, cfg.data.labels, loadOpts) : await loadImageFolder(cfg.data.images, loadOpts);
  } catch (e) {
    throw new ExportError(`cannot read the run's training images (${cfg.data.images}) for calibration: ${(e as Error).message}`, { cause: e });
  }
  const classNames = u.numClasses > 0 ? (cfg.classNames ?? ds.classNames ?? Array.from({ length: u.numClasses }, (_, i) => String(i))) : null;
  const isFashion = (classNames ?? ds.classNames)?.join() === FASHION_MNIST_CLASSES.join();
  const source = weightsSource(ck.ema);
  let config: ExportInput['config'];
  if (isColdRun(cfg)) {
    o.log(`process: ${describeProcess(cfg.process)}`);
    const { generation, note } = fitGeneration(ds, cfg.process, o.mixtureComponents ?? DEFAULT_MIXTURE_COMPONENTS, o.startNoise ?? DEFAULT_START_NOISE);
    o.log(note);
    config = { unet: u, process: cfg.process, generation };
  } else {
    if (o.mixtureComponents !== undefined || o.startNoise !== undefined) throw new ExportError('--mixture-components and --start-noise apply to Cold Diffusion runs (cold-blur)');
    config = { unet: u, schedule: cfg.schedule, prediction: cfg.prediction };
  }
  const input: ExportInput = {
    name: o.name ?? path.basename(path.resolve(o.runDir)).toLowerCase().replace(/[^a-z0-9._-]/g, '-'),
    version: o.version,
    config,
    params: source,
    classNames,
    dataset: `${isFashion ? 'Fashion-MNIST' : cfg.data.kind === 'idx' ? 'IDX' : 'image folder'}: ${cfg.data.images}`,
    training: {
      steps: ck.step,
      seconds: Math.round(ck.manifest.trainSeconds),
      batchSize: cfg.training.batchSize,
      ...(isColdRun(cfg) ? {} : { lossWeight: lossWeighting(cfg.training) }),
      ...(u.selfCondition === true ? { selfConditionClip: cfg.training.selfConditionClip ?? true } : {}),
      ...(cfg.initFrom ? { initFrom: { model: cfg.initFrom.model, version: cfg.initFrom.version, sha256: cfg.initFrom.sha256, ...cfg.initFrom.training } } : {}),
    },
    ...exportImageSets(ds, o.calibrationImages, o.evaluationImages),
    keepFloat: o.keepFloat === undefined ? undefined : () => new Set(o.keepFloat),
    modelsDir: o.modelsDir,
    benchmarkBatches: o.benchmarkBatches,
    optimize: o.optimize,
    log: o.log,
    extraChecks: o.parity
      ? async (fp32, net) => {
          const inputs = net.inputs(input.evaluationImages.subarray(0, 8 * u.channels * u.imageSize * u.imageSize), 8, 4, parityTimesteps(net.T), 4, input.evaluationLabels);
          const p = await tfjsOrtParity(u, source, fp32, inputs);
          return { 'parity.tfjsVsOrtMaxAbs': p.maxAbs };
        }
      : undefined,
  };
  return exportModel(input);
}
