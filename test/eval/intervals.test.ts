// Intervals of the evaluation: Wilson against known values; the distance bootstrap brackets the estimate and
// narrows as the sample grows; the decision rule.
import { describe, expect, it } from 'vitest';
import { gaussianNoise } from '../../src/diffusion/noise.ts';
import { frechetDistance, gaussianStats } from '../../scripts/eval/frechet.ts';
import { bootstrapDistance, resolved, wilsonInterval } from '../../scripts/eval/intervals.ts';

describe('wilsonInterval', () => {
  it('matches the textbook values', () => {
    const [lo, hi] = wilsonInterval(50, 100);
    expect(lo).toBeCloseTo(0.4038, 3);
    expect(hi).toBeCloseTo(0.5962, 3);
    const [lo2, hi2] = wilsonInterval(0, 20);
    expect(lo2).toBe(0);
    expect(hi2).toBeCloseTo(0.1611, 3);
  });
});

describe('bootstrapDistance', () => {
  const dim = 4;
  const ref = gaussianStats(gaussianNoise(1, 0, new Float32Array(4000 * dim)), 4000, dim);
  const shifted = (count: number, seed: number): Float32Array => gaussianNoise(seed, 0, new Float32Array(count * dim)).map((v, i) => v + (i % dim === 0 ? 0.5 : 0));

  it('brackets the point estimate and narrows with more samples', () => {
    const small = shifted(200, 2);
    const large = shifted(3200, 3);
    const d = frechetDistance(gaussianStats(small, 200, dim), ref).distance;
    const ciSmall = bootstrapDistance(small, 200, dim, ref, { resamples: 100 });
    const ciLarge = bootstrapDistance(large, 3200, dim, ref, { resamples: 100 });
    expect(ciSmall[0]).toBeLessThan(d);
    expect(ciSmall[1]).toBeGreaterThan(d);
    expect(ciLarge[1] - ciLarge[0]).toBeLessThan((ciSmall[1] - ciSmall[0]) / 2);
    // the true distance is 0.25 (mean shift 0.5 in one coordinate)
    expect(ciLarge[0]).toBeLessThan(0.3);
    expect(ciLarge[1]).toBeGreaterThan(0.2);
  });

  it('is deterministic for a seed', () => {
    const f = shifted(100, 4);
    expect(bootstrapDistance(f, 100, dim, ref, { resamples: 20, seed: 9 })).toEqual(bootstrapDistance(f, 100, dim, ref, { resamples: 20, seed: 9 }));
  });
});

describe('resolved', () => {
  it('calls a difference only when the intervals do not overlap', () => {
    expect(resolved([1, 2], [2.5, 3])).toBe(true);
    expect(resolved([1, 2], [1.9, 3])).toBe(false);
    expect(resolved([2.5, 3], [1, 2])).toBe(true);
  });
});
