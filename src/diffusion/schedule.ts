import { checkInt, checkOneOf, checkRange, DiffusionOptionError } from './errors.ts';
import type { ScheduleConfig, ScheduleKind } from './types.ts';

export const SCHEDULE_KINDS: readonly ScheduleKind[] = ['linear', 'scaled_linear', 'cosine', 'sigmoid'];
export const MAX_T = 100_000;

/**
 * A noise schedule and every coefficient derived from it, computed once, in float64, under the
 * paper's names (Ho et al. 2020, eq. 4 and 7; names as in lucidrains / diffusers). Index t is 0-based:
 * t = 0 is the paper's t = 1.
 */
export interface NoiseSchedule {
  readonly config: Readonly<Required<Pick<ScheduleConfig, 'kind' | 'T'>>> & ScheduleConfig;
  readonly T: number;
  readonly betas: Float64Array;
  readonly alphas: Float64Array; // 1 - beta_t
  readonly alphasCumprod: Float64Array; // abar_t
  readonly alphasCumprodPrev: Float64Array; // abar_{t-1}, 1 at t = 0
  readonly sqrtAlphasCumprod: Float64Array;
  readonly sqrtOneMinusAlphasCumprod: Float64Array;
  readonly logOneMinusAlphasCumprod: Float64Array;
  readonly sqrtRecipAlphasCumprod: Float64Array; // 1 / sqrt(abar_t)
  readonly sqrtRecipm1AlphasCumprod: Float64Array; // sqrt(1 / abar_t - 1)
  /** Variance of q(x_{t-1} | x_t, x0): beta~_t = beta_t (1 - abar_{t-1}) / (1 - abar_t) (eq. 7). */
  readonly posteriorVariance: Float64Array;
  /** log beta~_t with t = 0 replaced by t = 1 (beta~_0 = 0), as in improved-diffusion. */
  readonly posteriorLogVarianceClipped: Float64Array;
  /** mu~_t = coef1 x0 + coef2 x_t (eq. 7). */
  readonly posteriorMeanCoef1: Float64Array;
  readonly posteriorMeanCoef2: Float64Array;
}

/** linspace(a, b, n) as numpy computes it. */
function linspace(a: number, b: number, n: number): Float64Array {
  const out = new Float64Array(n);
  if (n === 1) {
    out[0] = a;
    return out;
  }
  const step = (b - a) / (n - 1);
  for (let i = 0; i < n; i++) out[i] = a + i * step;
  out[n - 1] = b;
  return out;
}

/**
 * betas for each kind:
 * - linear: beta_start..beta_end (1e-4..0.02 at T = 1000), scaled by 1000 / T for other T (improved-diffusion).
 * - scaled_linear: linspace(sqrt(beta_start), sqrt(beta_end), T)^2 (diffusers; defaults 0.00085, 0.012), not rescaled.
 * - cosine: Nichol & Dhariwal 2021, abar(t) = cos^2(((t/T) + s) / (1 + s) * pi / 2), betas clipped at 0.999.
 * - sigmoid: sigmoid(linspace(-6, 6, T)) * (beta_end - beta_start) + beta_start (diffusers), scaled like linear.
 */
export function betaSchedule(config: ScheduleConfig): Float64Array {
  const kind = checkOneOf('schedule.kind', config.kind, SCHEDULE_KINDS);
  const T = checkInt('schedule.T', config.T, 2, MAX_T);
  switch (kind) {
    case 'linear':
    case 'sigmoid': {
      const scale = 1000 / T;
      const start = scale * checkRange('schedule.betaStart', config.betaStart ?? 1e-4, 0, 1);
      const end = scale * checkRange('schedule.betaEnd', config.betaEnd ?? 0.02, 0, 1);
      if (!(start < end) || end >= 1) {
        throw new DiffusionOptionError('schedule.betaEnd', `must exceed betaStart and stay below 1 after scaling by 1000/T (got ${start}..${end})`);
      }
      if (kind === 'linear') return linspace(start, end, T);
      const x = linspace(-6, 6, T);
      return x.map((v) => (1 / (1 + Math.exp(-v))) * (end - start) + start);
    }
    case 'scaled_linear': {
      const start = checkRange('schedule.betaStart', config.betaStart ?? 0.00085, 0, 1);
      const end = checkRange('schedule.betaEnd', config.betaEnd ?? 0.012, 0, 1);
      return linspace(Math.sqrt(start), Math.sqrt(end), T).map((v) => v * v);
    }
    case 'cosine': {
      const s = checkRange('schedule.cosineS', config.cosineS ?? 0.008, 0, 1);
      const f = (t: number) => Math.cos(((t + s) / (1 + s)) * (Math.PI / 2)) ** 2;
      const betas = new Float64Array(T);
      for (let i = 0; i < T; i++) betas[i] = Math.min(1 - f((i + 1) / T) / f(i / T), 0.999);
      return betas;
    }
  }
}

export function makeSchedule(config: ScheduleConfig = { kind: 'linear', T: 1000 }): NoiseSchedule {
  const betas = betaSchedule(config);
  const T = betas.length;
  const alphas = betas.map((b) => 1 - b);
  const alphasCumprod = new Float64Array(T);
  let acc = 1;
  for (let t = 0; t < T; t++) alphasCumprod[t] = acc *= alphas[t];
  const alphasCumprodPrev = new Float64Array(T);
  alphasCumprodPrev[0] = 1;
  alphasCumprodPrev.set(alphasCumprod.subarray(0, T - 1), 1);
  const posteriorVariance = betas.map((b, t) => (b * (1 - alphasCumprodPrev[t])) / (1 - alphasCumprod[t]));
  return {
    config: { ...config, kind: config.kind, T },
    T,
    betas,
    alphas,
    alphasCumprod,
    alphasCumprodPrev,
    sqrtAlphasCumprod: alphasCumprod.map(Math.sqrt),
    sqrtOneMinusAlphasCumprod: alphasCumprod.map((a) => Math.sqrt(1 - a)),
    logOneMinusAlphasCumprod: alphasCumprod.map((a) => Math.log(1 - a)),
    sqrtRecipAlphasCumprod: alphasCumprod.map((a) => Math.sqrt(1 / a)),
    sqrtRecipm1AlphasCumprod: alphasCumprod.map((a) => Math.sqrt(1 / a - 1)),
    posteriorVariance,
    posteriorLogVarianceClipped: posteriorVariance.map((v, t) => Math.log(t === 0 ? posteriorVariance[1] ?? v : v)),
    posteriorMeanCoef1: betas.map((b, t) => (b * Math.sqrt(alphasCumprodPrev[t])) / (1 - alphasCumprod[t])),
    posteriorMeanCoef2: alphas.map((a, t) => ((1 - alphasCumprodPrev[t]) * Math.sqrt(a)) / (1 - alphasCumprod[t])),
  };
}
