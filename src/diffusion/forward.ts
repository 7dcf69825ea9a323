import { DiffusionOptionError } from './errors.ts';
import type { NoiseSchedule } from './schedule.ts';
import type { PredictionType } from './types.ts';

/** Checks a timestep index against the schedule. */
export function checkTimestep(schedule: NoiseSchedule, t: number, option = 't'): number {
  if (!Number.isInteger(t) || t < 0 || t >= schedule.T) {
    throw new DiffusionOptionError(option, `must be an integer timestep in [0, ${schedule.T - 1}] (got ${t})`);
  }
  return t;
}

/** Number of elements per image when `x` holds `t.length` images. */
function perImage(x: Float32Array, batch: number, what: string): number {
  if (batch < 1 || x.length % batch !== 0) {
    throw new DiffusionOptionError(what, `length ${x.length} is not a multiple of the batch size ${batch}`);
  }
  return x.length / batch;
}

function sameLength(a: Float32Array, b: Float32Array, what: string): void {
  if (a.length !== b.length) throw new DiffusionOptionError(what, `must have the shape of x (${b.length} values, got ${a.length})`);
}

/** q(x_t | x0) sample (eq. 4): sqrt(abar_t) x0 + sqrt(1 - abar_t) eps, one t per image. x0, eps: [B, C, H, W]. */
export function qSample(schedule: NoiseSchedule, x0: Float32Array, t: ArrayLike<number>, eps: Float32Array): Float32Array {
  sameLength(eps, x0, 'eps');
  const n = perImage(x0, t.length, 'x0');
  const out = new Float32Array(x0.length);
  for (let b = 0; b < t.length; b++) {
    const tb = checkTimestep(schedule, t[b]);
    const a = schedule.sqrtAlphasCumprod[tb];
    const s = schedule.sqrtOneMinusAlphasCumprod[tb];
    for (let i = b * n; i < (b + 1) * n; i++) out[i] = a * x0[i] + s * eps[i];
  }
  return out;
}

/** Per-image coefficients (sqrt(abar_t), sqrt(1 - abar_t)) for a single t shared by the batch. */
function coefs(schedule: NoiseSchedule, t: number): [number, number] {
  checkTimestep(schedule, t);
  return [schedule.sqrtAlphasCumprod[t], schedule.sqrtOneMinusAlphasCumprod[t]];
}

/** x0 = (x_t - sqrt(1 - abar_t) eps) / sqrt(abar_t) (eq. 4 solved for x0). */
export function predictX0FromEps(schedule: NoiseSchedule, xt: Float32Array, t: number, eps: Float32Array): Float32Array {
  sameLength(eps, xt, 'eps');
  const [a, s] = coefs(schedule, t);
  return xt.map((x, i) => (x - s * eps[i]) / a);
}

/** eps = (x_t - sqrt(abar_t) x0) / sqrt(1 - abar_t). */
export function predictEpsFromX0(schedule: NoiseSchedule, xt: Float32Array, t: number, x0: Float32Array): Float32Array {
  sameLength(x0, xt, 'x0');
  const [a, s] = coefs(schedule, t);
  return xt.map((x, i) => (x - a * x0[i]) / s);
}

/** v = sqrt(abar_t) eps - sqrt(1 - abar_t) x0 (Salimans & Ho 2022). */
export function velocity(schedule: NoiseSchedule, x0: Float32Array, t: number, eps: Float32Array): Float32Array {
  sameLength(eps, x0, 'eps');
  const [a, s] = coefs(schedule, t);
  return x0.map((x, i) => a * eps[i] - s * x);
}

/** x0 = sqrt(abar_t) x_t - sqrt(1 - abar_t) v. */
export function predictX0FromV(schedule: NoiseSchedule, xt: Float32Array, t: number, v: Float32Array): Float32Array {
  sameLength(v, xt, 'v');
  const [a, s] = coefs(schedule, t);
  return xt.map((x, i) => a * x - s * v[i]);
}

/** eps = sqrt(abar_t) v + sqrt(1 - abar_t) x_t. */
export function predictEpsFromV(schedule: NoiseSchedule, xt: Float32Array, t: number, v: Float32Array): Float32Array {
  sameLength(v, xt, 'v');
  const [a, s] = coefs(schedule, t);
  return xt.map((x, i) => a * v[i] + s * x);
}

/** Turns any model output into (x0, eps) at timestep t; x0 is always a fresh array. */
export function toX0AndEps(
  schedule: NoiseSchedule,
  predictionType: PredictionType,
  modelOutput: Float32Array,
  t: number,
  xt: Float32Array,
): { x0: Float32Array; eps: Float32Array } {
  switch (predictionType) {
    case 'epsilon':
      return { x0: predictX0FromEps(schedule, xt, t, modelOutput), eps: modelOutput };
    case 'sample':
      return { x0: modelOutput.slice(), eps: predictEpsFromX0(schedule, xt, t, modelOutput) };
    case 'v_prediction':
      return { x0: predictX0FromV(schedule, xt, t, modelOutput), eps: predictEpsFromV(schedule, xt, t, modelOutput) };
  }
}

/** q(x_{t-1} | x_t, x0) = N(mean, variance) (eq. 6-7). */
export function qPosterior(
  schedule: NoiseSchedule,
  x0: Float32Array,
  xt: Float32Array,
  t: number,
): { mean: Float32Array; variance: number; logVarianceClipped: number } {
  sameLength(x0, xt, 'x0');
  checkTimestep(schedule, t);
  const c1 = schedule.posteriorMeanCoef1[t];
  const c2 = schedule.posteriorMeanCoef2[t];
  return {
    mean: x0.map((x, i) => c1 * x + c2 * xt[i]),
    variance: schedule.posteriorVariance[t],
    logVarianceClipped: schedule.posteriorLogVarianceClipped[t],
  };
}
