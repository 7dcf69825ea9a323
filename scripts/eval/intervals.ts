/**
 * Intervals for the evaluation's figures, so that a table says which differences it resolves.
 *   - distance: d +- z * SE, with SE the delete-a-group jackknife standard error over the generated samples
 *     (g groups of equal size, each left out once; the reference side, 10,000 test images, is held fixed).
 *     The Fréchet distance of n samples is biased upwards by an amount that depends on n (the floor row shows
 *     its size), so an interval compares cells at the same n only. A bootstrap was tried first and discarded:
 *     resamples with repeated rows shrink the covariance and moved the distance up by about its own size
 *     (4.1 -> 4.0-7.3 at n = 1,000), which no interval built on it survives;
 *   - accuracy: the Wilson score interval of a binomial proportion.
 * The decision rule docs/evaluation.md states: two cells differ when their intervals do not overlap.
 */
import { frechetDistance, gaussianStats, type GaussianStats } from './frechet.ts';

export type Interval = [number, number];

export interface JackknifeOptions {
  /** Groups left out one at a time (default 20). */
  groups?: number;
  /** Normal quantile of the two-sided level (default 1.96: 95%). */
  z?: number;
}

/** Jackknife standard error and interval of the Fréchet distance between `count` feature rows and the fixed `ref`. */
export function jackknifeDistance(features: Float32Array, count: number, dim: number, ref: GaussianStats, o: JackknifeOptions = {}): { distance: number; se: number; interval: Interval } {
  const g = Math.min(o.groups ?? 20, count);
  if (g < 2) throw new RangeError(`the jackknife needs at least 2 groups (got ${g})`);
  const z = o.z ?? 1.96;
  const distance = frechetDistance(gaussianStats(features.subarray(0, count * dim), count, dim), ref).distance;
  const leaveOut: number[] = [];
  for (let k = 0; k < g; k++) {
    // group k: rows with index i where floor(i * g / count) = k (contiguous, sizes differ by at most 1)
    const lo = Math.ceil((k * count) / g);
    const hi = Math.ceil(((k + 1) * count) / g);
    const kept = new Float32Array((count - (hi - lo)) * dim);
    kept.set(features.subarray(0, lo * dim), 0);
    kept.set(features.subarray(hi * dim, count * dim), lo * dim);
    leaveOut.push(frechetDistance(gaussianStats(kept, count - (hi - lo), dim), ref).distance);
  }
  const mean = leaveOut.reduce((a, b) => a + b, 0) / g;
  const se = Math.sqrt(((g - 1) / g) * leaveOut.reduce((a, v) => a + (v - mean) ** 2, 0));
  return { distance, se, interval: [Math.max(0, distance - z * se), distance + z * se] };
}

/** Wilson score interval of `successes` out of `n` (95%: z = 1.96). */
export function wilsonInterval(successes: number, n: number, z = 1.96): Interval {
  if (n <= 0) return [0, 1];
  const p = successes / n;
  const z2 = z * z;
  const centre = (p + z2 / (2 * n)) / (1 + z2 / n);
  const half = (z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / (1 + z2 / n);
  return [Math.max(0, centre - half), Math.min(1, centre + half)];
}

/** The decision rule: two figures differ when their intervals do not overlap. */
export function resolved(a: Interval, b: Interval): boolean {
  return a[1] < b[0] || b[1] < a[0];
}

/** The mean of per-image figures and its normal interval: mean +- z standard errors (95%: z = 1.96). */
export function meanInterval(values: ArrayLike<number>, z = 1.96): { mean: number; interval: Interval } {
  const n = values.length;
  if (n < 2) throw new RangeError(`a mean's interval needs at least 2 values (got ${n})`);
  let sum = 0;
  for (let i = 0; i < n; i++) sum += values[i];
  const mean = sum / n;
  let ss = 0;
  for (let i = 0; i < n; i++) ss += (values[i] - mean) ** 2;
  const se = Math.sqrt(ss / (n - 1) / n);
  return { mean, interval: [mean - z * se, mean + z * se] };
}

/**
 * Distribution-free interval of a median: the order statistics [x_(k), x_(n+1-k)] with the largest k such that
 * P(Binomial(n, 1/2) < k) <= (1 - level) / 2, so that the interval holds the population median with probability
 * at least `level` for any continuous distribution of independent values. Needs n >= 6 at 95% (below that even
 * [min, max] covers less than 95%): throws a RangeError naming the least n.
 */
export function medianInterval(values: readonly number[], level = 0.95): { median: number; interval: Interval; coverage: number } {
  const n = values.length;
  const s = [...values].sort((a, b) => a - b);
  const tail = (1 - level) / 2;
  // cdf[j] = P(X <= j), X ~ Binomial(n, 1/2)
  // the largest k with P(X <= k - 1) <= tail, X ~ Binomial(n, 1/2): below = P(X <= k - 1), pk = P(X = k)
  let k = 0;
  let below = 0;
  let pk = 0.5 ** n;
  while (k < n && below + pk <= tail) {
    below += pk;
    pk = (pk * (n - k)) / (k + 1);
    k++;
  }
  if (k === 0) {
    let least = n + 1;
    while (0.5 ** least > tail) least++;
    throw new RangeError(`a ${Math.round(level * 100)}% interval of a median needs at least ${least} values (got ${n})`);
  }
  const m = n >> 1;
  return { median: n % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2, interval: [s[k - 1], s[n - k]], coverage: 1 - 2 * below };
}
