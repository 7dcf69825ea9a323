import { checkInt, checkRange, DiffusionOptionError } from './errors.ts';
import { checkGuidanceInterval, guidedAt, type GuidanceInterval } from './guidance.ts';
import { checkSeed, gaussianNoise } from './noise.ts';
import type { Scheduler } from './scheduler.ts';
import type { EpsModel, Shape4 } from './types.ts';

/** Thrown when the model returns NaN or infinite values: never turned into an image. */
export class NonFiniteOutputError extends Error {
  override readonly name = 'NonFiniteOutputError';
}

export interface StepInfo {
  /** 0-based index of the step just taken, of `total`. */
  index: number;
  total: number;
  t: number;
  /** The current sample after the step, [B, C, H, W]. */
  x: Float32Array;
  /** The model's estimate of x0 at this step, [B, C, H, W] (for live previews). */
  predX0: Float32Array;
}

export interface SampleOptions {
  model: EpsModel;
  scheduler: Scheduler;
  /** Number of inference steps (1..T). */
  steps: number;
  /** [B, C, H, W]. */
  shape: Shape4;
  /** One seed per image: image k's noise depends on seeds[k] alone, never on the batch. */
  seeds: readonly number[];
  /** One class per image, for conditional models. */
  classes?: Int32Array;
  /**
   * Classifier-free guidance scale w (Ho & Salimans 2022): out = uncond + w (cond - uncond), both halves
   * in one model call of batch 2B. 1 (default) is plain conditional sampling; requires `classes` and `nullClass`.
   */
  guidanceScale?: number;
  /** The class id of the unconditional (null) class, numClasses for this project's models. */
  nullClass?: number;
  /**
   * Guidance only at the steps whose timestep t is in [tLow, tHigh] (Kynkaanniemi et al. 2024); the other
   * steps call the model once with batch B and the requested classes. Default: every step. Needs guidanceScale != 1.
   */
  guidanceInterval?: GuidanceInterval;
  onStep?: (info: StepInfo) => void | Promise<void>;
  signal?: AbortSignal;
}

export const MAX_GUIDANCE = 50;

/**
 * The sampling loop: x_T ~ N(0, I) from the seeds, then one model call and one scheduler step per timestep.
 * A self-conditioned model (`model.selfCondition`) also gets the previous step's x0 prediction, clipped to
 * [-1, 1] as lucidrains' samplers feed it (zeros at the first step); with guidance both halves of the batch
 * get the same one, the estimate of the guided prediction.
 */
export async function sample(opts: SampleOptions): Promise<Float32Array> {
  const [B, C, H, W] = opts.shape;
  for (const [name, v] of [['batch', B], ['channels', C], ['height', H], ['width', W]] as const) checkInt(`shape.${name}`, v, 1, 1 << 16);
  if (opts.seeds.length !== B) throw new DiffusionOptionError('seeds', `must hold one seed per image (${B}, got ${opts.seeds.length})`);
  opts.seeds.forEach((s, k) => checkSeed(s, `seeds[${k}]`));
  const n = C * H * W;
  const size = B * n;
  const w = checkRange('guidanceScale', opts.guidanceScale ?? 1, 0, MAX_GUIDANCE);
  const classes = opts.classes;
  if (classes && classes.length !== B) throw new DiffusionOptionError('classes', `must hold one class per image (${B}, got ${classes.length})`);
  const guided = w !== 1;
  let nullClass = 0;
  if (guided) {
    if (!classes) throw new DiffusionOptionError('guidanceScale', 'needs classes (classifier-free guidance is for conditional models)');
    if (opts.nullClass === undefined) throw new DiffusionOptionError('nullClass', 'is required with guidanceScale != 1');
    nullClass = checkInt('nullClass', opts.nullClass, 0, 2 ** 31 - 1);
  }
  let interval: GuidanceInterval | undefined;
  if (opts.guidanceInterval !== undefined) {
    if (!guided) throw new DiffusionOptionError('guidanceInterval', 'needs guidanceScale != 1 (it limits classifier-free guidance to some steps)');
    interval = checkGuidanceInterval(opts.guidanceInterval, opts.scheduler.numTrainTimesteps);
  }

  const { scheduler } = opts;
  scheduler.setTimesteps(opts.steps);
  const timesteps = scheduler.timesteps;

  // x_T: stream 0 of each image's seed
  let x: Float32Array = new Float32Array(size);
  for (let b = 0; b < B; b++) gaussianNoise(opts.seeds[b], 0, x.subarray(b * n, (b + 1) * n));

  // model inputs, allocated once: [x; x] and [classes; null] when guided
  const mb = guided ? 2 * B : B;
  const tIn = new Int32Array(mb);
  const xIn = guided ? new Float32Array(2 * size) : undefined;
  let cIn: Int32Array | undefined;
  if (classes) {
    cIn = new Int32Array(mb);
    cIn.set(classes);
    if (guided) cIn.fill(nullClass, B);
  }
  const noise = scheduler.needsNoise ? new Float32Array(size) : undefined;
  // self-conditioning: the previous x0 prediction, [x0; x0] when guided (zeros before the first step)
  const scIn = opts.model.selfCondition === true ? new Float32Array(mb * n) : undefined;

  for (let i = 0; i < timesteps.length; i++) {
    opts.signal?.throwIfAborted();
    const t = timesteps[i];
    // outside the guidance interval: one conditional call of batch B (the first halves of tIn and cIn)
    const guidedNow = guided && guidedAt(t, interval);
    const rows = guidedNow ? mb : B;
    tIn.fill(t);
    let input = x;
    if (xIn && guidedNow) {
      xIn.set(x, 0);
      xIn.set(x, size);
      input = xIn;
    }
    const raw = await opts.model({
      x: input,
      t: rows === mb ? tIn : tIn.subarray(0, B),
      ...(cIn ? { classes: rows === mb ? cIn : cIn.subarray(0, B) } : {}),
      ...(scIn ? { selfCond: rows === mb ? scIn : scIn.subarray(0, size) } : {}),
    });
    if (raw.length !== rows * n) {
      throw new DiffusionOptionError('model output', `must hold ${rows * n} values ([${rows}, ${C}, ${H}, ${W}]), got ${raw.length}`);
    }
    let out = raw;
    if (guidedNow) {
      out = new Float32Array(size);
      for (let j = 0; j < size; j++) {
        const u = raw[size + j];
        out[j] = u + w * (raw[j] - u);
      }
    }
    for (let j = 0; j < size; j++) {
      if (!Number.isFinite(out[j])) throw new NonFiniteOutputError(`model output is not finite at step ${i} (t = ${t}), element ${j}`);
    }
    if (noise) for (let b = 0; b < B; b++) gaussianNoise(opts.seeds[b], i + 1, noise.subarray(b * n, (b + 1) * n));
    const { prev, predX0 } = scheduler.step(out, t, x, { noise, batch: B });
    x = prev;
    if (scIn) {
      for (let j = 0; j < size; j++) scIn[j] = Math.min(1, Math.max(-1, predX0[j]));
      if (guided) scIn.copyWithin(size, 0, size);
    }
    if (opts.onStep) await opts.onStep({ index: i, total: timesteps.length, t, x, predX0 });
  }
  return x;
}
