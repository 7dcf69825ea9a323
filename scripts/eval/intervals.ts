/**
 * Intervals for the evaluation's figures, so that a table says which differences it resolves.
 *   - distance: a basic (reverse-percentile) bootstrap interval over the generated samples, resampled with
 *     replacement; the reference side, 10,000 test images, is held fixed. The Fréchet distance of a resample is
 *     biased upwards (repeated rows shrink the covariance), and the basic interval [2d - q_hi, 2d - q_lo] turns
 *     that bias back instead of carrying it, as a percentile interval would; 95% by default, clamped at 0;
 *   - accuracy: the Wilson score interval of a binomial proportion.
 * The decision rule the README states: two cells differ when their intervals do not overlap.
 */
import { Rng } from '../train/rng.ts';
import { frechetDistance, gaussianStats, type GaussianStats } from './frechet.ts';

export type Interval = [number, number];

export interface BootstrapOptions {
  resamples?: number;
  /** Two-sided level, e.g. 0.95. */
  level?: number;
  seed?: number;
}

/** Basic bootstrap interval of the Fréchet distance between `count` feature rows and the fixed `ref` Gaussian. */
export function bootstrapDistance(features: Float32Array, count: number, dim: number, ref: GaussianStats, o: BootstrapOptions = {}): Interval {
  const resamples = o.resamples ?? 200;
  const level = o.level ?? 0.95;
  const rng = Rng.of('eval-bootstrap', o.seed ?? 0);
  const draw = new Float32Array(count * dim);
  const values: number[] = [];
  for (let r = 0; r < resamples; r++) {
    for (let i = 0; i < count; i++) {
      const k = rng.int(count);
      draw.set(features.subarray(k * dim, (k + 1) * dim), i * dim);
    }
    values.push(frechetDistance(gaussianStats(draw, count, dim), ref).distance);
  }
  const d = frechetDistance(gaussianStats(features.subarray(0, count * dim), count, dim), ref).distance;
  const [lo, hi] = percentileInterval(values, level);
  return [Math.max(0, 2 * d - hi), Math.max(0, 2 * d - lo)];
}

function percentileInterval(values: number[], level: number): Interval {
  const s = [...values].sort((a, b) => a - b);
  const at = (q: number): number => s[Math.min(s.length - 1, Math.max(0, Math.round(q * (s.length - 1))))];
  return [at((1 - level) / 2), at(1 - (1 - level) / 2)];
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
