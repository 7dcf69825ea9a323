/**
 * Adam (Kingma & Ba 2015) with linear warm-up, global-norm gradient clipping and an EMA of the weights,
 * on flat Float32Arrays in the main thread: backend-independent and exactly reproducible on resume
 * (the state is weights, m, v, ema and the step).
 */
import type { TrainOptions } from './options.ts';
import type { OptimTiming } from './profile.ts';

export interface OptimState {
  weights: Float32Array;
  ema: Float32Array;
  adamM: Float32Array;
  adamV: Float32Array;
}

/**
 * Learning rate of (0-based) step s: linear warm-up over warmupSteps, then constant, then (cooldownSteps > 0)
 * a linear decay towards 0 over the run's last cooldownSteps steps (warmup-stable-decay: the decay can be
 * added on --resume, when the run's length is known).
 */
export function learningRate(o: Pick<TrainOptions, 'lr' | 'warmupSteps' | 'steps' | 'cooldownSteps'>, step: number): number {
  const warm = o.warmupSteps <= 0 ? 1 : Math.min(1, (step + 1) / o.warmupSteps);
  const cd = o.cooldownSteps ?? 0;
  const cool = cd <= 0 ? 1 : Math.min(1, Math.max(0, o.steps - step) / cd);
  return o.lr * warm * cool;
}

/** EMA decay at step s (after the update of step s). */
export function emaDecayAt(o: Pick<TrainOptions, 'emaDecay' | 'emaWarmup'>, step: number): number {
  return o.emaWarmup ? Math.min(o.emaDecay, (1 + step) / (10 + step)) : o.emaDecay;
}

export interface UpdateInfo {
  lr: number;
  gradNorm: number;
  clipped: boolean;
}

/** Global-norm clipping of `g` in place; returns the norm before clipping and whether it clipped. */
function clipGradient(g: Float32Array, maxNorm: number): { gradNorm: number; clipped: boolean } {
  let sq = 0;
  for (let i = 0; i < g.length; i++) sq += g[i] * g[i];
  const gradNorm = Math.sqrt(sq);
  if (maxNorm > 0 && gradNorm > maxNorm) {
    const s = maxNorm / gradNorm;
    for (let i = 0; i < g.length; i++) g[i] *= s;
    return { gradNorm, clipped: true };
  }
  return { gradNorm, clipped: false };
}

/** Adam with bias correction (t = step + 1): m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2; w -= lr mhat / (sqrt(vhat) + eps). */
function adamUpdate(state: OptimState, g: Float32Array, o: TrainOptions, step: number, lr: number): void {
  const b1 = o.adamBeta1;
  const b2 = o.adamBeta2;
  const t = step + 1;
  const c1 = 1 - b1 ** t;
  const c2 = 1 - b2 ** t;
  const { weights: w, adamM: m, adamV: v } = state;
  for (let i = 0; i < g.length; i++) {
    const gi = g[i];
    const mi = b1 * m[i] + (1 - b1) * gi;
    const vi = b2 * v[i] + (1 - b2) * gi * gi;
    m[i] = mi;
    v[i] = vi;
    w[i] -= (lr * (mi / c1)) / (Math.sqrt(vi / c2) + o.adamEps);
  }
}

/**
 * One optimisation step (0-based `step`) with the averaged gradient `g` (modified in place by clipping):
 * clipping, Adam, then the EMA of the updated weights. With `timing` (bench --profile) each part is timed.
 */
export function adamStep(state: OptimState, g: Float32Array, o: TrainOptions, step: number, timing?: OptimTiming): UpdateInfo {
  const t0 = timing ? performance.now() : 0;
  const { gradNorm, clipped } = clipGradient(g, o.gradClip);
  const t1 = timing ? performance.now() : 0;
  const lr = learningRate(o, step);
  adamUpdate(state, g, o, step, lr);
  const t2 = timing ? performance.now() : 0;
  const d = emaDecayAt(o, step);
  const { weights: w, ema } = state;
  for (let i = 0; i < w.length; i++) ema[i] = d * ema[i] + (1 - d) * w[i];
  if (timing) {
    const t3 = performance.now();
    timing.clipMs = t1 - t0;
    timing.adamMs = t2 - t1;
    timing.emaMs = t3 - t2;
  }
  return { lr, gradNorm, clipped };
}
