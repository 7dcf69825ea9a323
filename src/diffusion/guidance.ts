import { checkInt, DiffusionOptionError } from './errors.ts';

/**
 * Classifier-free guidance in a limited interval (Kynkaanniemi et al. 2024, "Applying guidance in a limited
 * interval improves sample and distribution quality in diffusion models", eq. 6): guidance applies at the
 * steps whose timestep t lies in [tLow, tHigh] (inclusive, 0-based training timesteps); elsewhere the
 * model is called once, conditionally, so those steps cost half.
 */
export type GuidanceInterval = readonly [tLow: number, tHigh: number];

/** Checks an interval against T training timesteps: two integers with 0 <= tLow <= tHigh <= T - 1. */
export function checkGuidanceInterval(interval: readonly number[], T: number, option = 'guidanceInterval'): GuidanceInterval {
  if (!Array.isArray(interval) || interval.length !== 2) {
    throw new DiffusionOptionError(option, `must be two timesteps [tLow, tHigh] with 0 <= tLow <= tHigh <= ${T - 1} (got ${JSON.stringify(interval)})`);
  }
  const lo = checkInt(`${option}[0]`, interval[0], 0, T - 1);
  const hi = checkInt(`${option}[1]`, interval[1], lo, T - 1);
  return [lo, hi];
}

/** Whether guidance applies at timestep t: always without an interval. */
export function guidedAt(t: number, interval: GuidanceInterval | undefined): boolean {
  return interval === undefined || (t >= interval[0] && t <= interval[1]);
}

/** Model evaluations per image over `timesteps`: 1 per step, 2 where guided (guidanceScale != 1, t in the interval). */
export function modelEvaluations(timesteps: ArrayLike<number>, guided: boolean, interval?: GuidanceInterval): number {
  let n = 0;
  for (let i = 0; i < timesteps.length; i++) n += guided && guidedAt(timesteps[i], interval) ? 2 : 1;
  return n;
}
