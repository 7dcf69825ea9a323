/** Error figures of the export report: int8 vs fp32 predictions, sample PSNR, forward timings. */
import { makeSchedule, qSample, gaussianNoise, type ModelInputs } from '../../src/diffusion/index.ts';
import { createScheduler } from '../../src/diffusion/create.ts';
import { sample } from '../../src/diffusion/sample.ts';
import type { ColdModelCard } from '../../src/cold/card.ts';
import { createEpsModel } from '../../src/inference/eps-model.ts';
import type { ModelSession } from '../../src/inference/onnx.ts';
import type { ModelCard } from '../../src/model-card.ts';
import type { DiffusionModelConfig } from '../model/config.ts';

export interface ErrorStats {
  maxAbs: number;
  rms: number;
  /** rms(a - b) / rms(b) */
  relRms: number;
}

export function errorStats(a: Float32Array, ref: Float32Array): ErrorStats {
  if (a.length !== ref.length) throw new Error(`length ${a.length} vs ${ref.length}`);
  let maxAbs = 0;
  let se = 0;
  let sr = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i] - ref[i];
    maxAbs = Math.max(maxAbs, Math.abs(d));
    se += d * d;
    sr += ref[i] * ref[i];
  }
  return { maxAbs, rms: Math.sqrt(se / a.length), relRms: sr > 0 ? Math.sqrt(se / sr) : 0 };
}

/** PSNR in dB of images in [-1, 1] (both clipped), peak-to-peak 2. */
export function psnr(a: Float32Array, ref: Float32Array): number {
  let se = 0;
  const clip = (v: number): number => Math.max(-1, Math.min(1, v));
  for (let i = 0; i < a.length; i++) se += (clip(a[i]) - clip(ref[i])) ** 2;
  const mse = se / a.length;
  return mse === 0 ? Infinity : 10 * Math.log10(4 / mse);
}

/**
 * Images x0 [N, C, H, W] in [-1, 1] noised at the given timesteps (image i at t[i % t.length]). Class ids
 * of conditional models: `labels` when given (every 10th replaced by the null class, as guidance uses
 * it), else all ids in turn. Self-conditioned models: every other image gets its clean image as the x0
 * estimate (what a late sampling step feeds back), the others zeros (the first step).
 */
export function noisedBatches(
  config: DiffusionModelConfig,
  x0: Float32Array,
  count: number,
  batch: number,
  timesteps: readonly number[],
  seed: number,
  labels?: ArrayLike<number>,
): ModelInputs[] {
  const u = config.unet;
  const n = u.channels * u.imageSize * u.imageSize;
  const schedule = makeSchedule(config.schedule);
  const out: ModelInputs[] = [];
  for (let start = 0; start < count; start += batch) {
    const b = Math.min(batch, count - start);
    const x = x0.slice(start * n, (start + b) * n);
    const t = Int32Array.from({ length: b }, (_, i) => timesteps[(start + i) % timesteps.length]);
    const eps = gaussianNoise(seed, start, new Float32Array(b * n));
    const classOf = (k: number): number => (labels === undefined ? k % (u.numClasses + 1) : k % 10 === 9 ? u.numClasses : labels[k]);
    const input: ModelInputs = { x: qSample(schedule, x, t, eps), t };
    if (u.numClasses > 0) input.classes = Int32Array.from({ length: b }, (_, i) => classOf(start + i));
    if (u.selfCondition === true) {
      input.selfCond = new Float32Array(b * n);
      for (let i = 0; i < b; i += 2) input.selfCond.set(x.subarray(i * n, (i + 1) * n), i * n);
    }
    out.push(input);
  }
  return out;
}

/** A batch of b images (n values each) built by repeating the input's images, timesteps, classes and x0 estimates. */
export function batchOf(input: ModelInputs, b: number, n: number): ModelInputs {
  const k = input.t.length;
  const images = (a: Float32Array): Float32Array => {
    const out = new Float32Array(b * n);
    for (let i = 0; i < b; i++) out.set(a.subarray((i % k) * n, ((i % k) + 1) * n), i * n);
    return out;
  };
  const pick = (a: Int32Array): Int32Array => Int32Array.from({ length: b }, (_, i) => a[i % k]);
  return {
    x: images(input.x),
    t: pick(input.t),
    ...(input.classes === undefined ? {} : { classes: pick(input.classes) }),
    ...(input.selfCond === undefined ? {} : { selfCond: images(input.selfCond) }),
  };
}

/** The card fields every kind of model shares (the network, its files, its data and training). */
export type CommonCardFields = Omit<ModelCard, 'kind' | 'schedule' | 'prediction'>;

/**
 * How the exporter makes the network's inputs from clean images and checks int8 end to end, per kind of
 * model: DDPM noises images (ddpmInputs, below); Cold Diffusion degrades them (cold.ts).
 */
export interface NetworkInputs {
  /** The network's timesteps are [0, T). */
  T: number;
  /** Images x0 [count, C, H, W] as inputs at the given timesteps (image i at timesteps[i % length]), in batches. */
  inputs(x0: Float32Array, count: number, batch: number, timesteps: readonly number[], seed: number, labels?: ArrayLike<number>): ModelInputs[];
  /** PSNR of what int8 produces against what fp32 produces from the same starts; `label` says what was produced. */
  samplePsnr(fp32: ModelSession, int8: ModelSession, opts: { steps: number; images: number; seed: number }): Promise<{ psnr: number; label: string }>;
  /** ONNX graph metadata (besides the architecture). */
  metadata: Record<string, string>;
  /** The model card of this kind from the shared fields. */
  card(common: CommonCardFields): ModelCard | ColdModelCard;
}

/** A DDPM model's inputs: images noised by q_sample; int8 checked on DDIM samples. */
export function ddpmInputs(config: DiffusionModelConfig): NetworkInputs {
  return {
    T: config.schedule.T,
    inputs: (x0, count, batch, timesteps, seed, labels) => noisedBatches(config, x0, count, batch, timesteps, seed, labels),
    samplePsnr: async (fp32, int8, opts) => ({ psnr: (await samplePsnr(config, fp32, int8, opts)).psnr, label: `${opts.steps}-step DDIM sample` }),
    metadata: { prediction: config.prediction, schedule: JSON.stringify(config.schedule) },
    card: (common) => cardOf(common, { schedule: config.schedule, prediction: config.prediction }),
  };
}

/**
 * A card from the shared fields and a kind's own, in the order model.json has always had: identity,
 * architecture and classes, then the kind's fields (schedule and prediction, or the process), then data,
 * training, I/O, files and errors.
 */
export function cardOf<K extends object>(common: CommonCardFields, own: K): CommonCardFields & K {
  const { dataset, training, io, files, exportErrors, ...head } = common;
  return { ...head, ...own, dataset, training, io, files, exportErrors } as CommonCardFields & K;
}

/** int8 vs fp32 prediction error per timestep and overall. */
export async function predictionErrors(
  fp32: ModelSession,
  int8: ModelSession,
  inputsByT: ReadonlyMap<number, ModelInputs[]>,
): Promise<{ byT: Record<string, ErrorStats>; overall: ErrorStats }> {
  const byT: Record<string, ErrorStats> = {};
  const all: { a: number[]; b: number[] } = { a: [], b: [] };
  for (const [t, batches] of inputsByT) {
    const a: number[] = [];
    const b: number[] = [];
    for (const input of batches) {
      a.push(...(await int8.run(input)));
      b.push(...(await fp32.run(input)));
    }
    byT[String(t)] = errorStats(Float32Array.from(a), Float32Array.from(b));
    all.a.push(...a);
    all.b.push(...b);
  }
  return { byT, overall: errorStats(Float32Array.from(all.a), Float32Array.from(all.b)) };
}

/** PSNR of int8 samples against fp32 samples from the same seeds (DDIM, eta 0). */
export async function samplePsnr(
  config: DiffusionModelConfig,
  fp32: ModelSession,
  int8: ModelSession,
  opts: { steps: number; images: number; seed: number },
): Promise<{ psnr: number; fp32: Float32Array; int8: Float32Array }> {
  const u = config.unet;
  const dims = [u.channels, u.imageSize, u.imageSize] as const;
  const seeds = Array.from({ length: opts.images }, (_, k) => opts.seed + k);
  const classes = u.numClasses > 0 ? Int32Array.from(seeds, (_, k) => k % u.numClasses) : undefined;
  const schedule = makeSchedule(config.schedule);
  const draw = (session: ModelSession): Promise<Float32Array> =>
    sample({
      model: createEpsModel(session, u.numClasses),
      scheduler: createScheduler('ddim', schedule, { predictionType: config.prediction }),
      steps: opts.steps,
      shape: [opts.images, ...dims],
      seeds,
      classes,
    });
  const a = await draw(fp32);
  const b = await draw(int8);
  return { psnr: psnr(b, a), fp32: a, int8: b };
}

/**
 * ms per forward at a batch size after warm-up: the fastest of `reps` (robust to other processes on a
 * shared machine; the median is returned too).
 */
export async function timeForward(session: ModelSession, input: ModelInputs, warmup = 5, reps = 20): Promise<{ min: number; median: number }> {
  for (let i = 0; i < warmup; i++) await session.run(input);
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await session.run(input);
    times.push(performance.now() - t0);
  }
  times.sort((x, y) => x - y);
  return { min: times[0], median: times[Math.floor(times.length / 2)] };
}
