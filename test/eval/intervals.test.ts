// Intervals of the evaluation: Wilson against known values; the distance's jackknife interval brackets the
// estimate, narrows as the sample grows, and its standard error matches the spread over independent draws.
import { describe, expect, it } from 'vitest';
import { gaussianNoise } from '../../src/diffusion/noise.ts';
import { frechetDistance, gaussianStats } from '../../scripts/eval/frechet.ts';
import { jackknifeDistance, meanInterval, medianInterval, resolved, wilsonInterval } from '../../scripts/eval/intervals.ts';

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

describe('jackknifeDistance', () => {
  const dim = 4;
  const ref = gaussianStats(gaussianNoise(1, 0, new Float32Array(4000 * dim)), 4000, dim);
  // N(0, I) shifted by 0.5 in the first coordinate: true distance 0.25
  const shifted = (count: number, seed: number): Float32Array => gaussianNoise(seed, 0, new Float32Array(count * dim)).map((v, i) => v + (i % dim === 0 ? 0.5 : 0));

  it('brackets the estimate and narrows with more samples', () => {
    const small = jackknifeDistance(shifted(200, 2), 200, dim, ref);
    const large = jackknifeDistance(shifted(3200, 3), 3200, dim, ref);
    expect(small.distance).toBeCloseTo(frechetDistance(gaussianStats(shifted(200, 2), 200, dim), ref).distance, 12);
    expect(small.interval[0]).toBeLessThan(small.distance);
    expect(small.interval[1]).toBeGreaterThan(small.distance);
    expect(large.se).toBeLessThan(small.se / 2.5); // 16x the samples: about 4x smaller
    expect(large.interval[0]).toBeLessThan(0.25);
    expect(large.interval[1]).toBeGreaterThan(0.25);
  });

  it('has a standard error close to the spread of the distance over independent draws', () => {
    const n = 400;
    const draws = Array.from({ length: 40 }, (_, k) => frechetDistance(gaussianStats(shifted(n, 100 + k), n, dim), ref).distance);
    const mean = draws.reduce((a, b) => a + b, 0) / draws.length;
    const sd = Math.sqrt(draws.reduce((a, v) => a + (v - mean) ** 2, 0) / (draws.length - 1));
    const ses = [5, 6, 7].map((seed) => jackknifeDistance(shifted(n, seed), n, dim, ref).se);
    const se = ses.reduce((a, b) => a + b, 0) / ses.length;
    expect(se / sd).toBeGreaterThan(0.6);
    expect(se / sd).toBeLessThan(1.6);
  });
});

describe('meanInterval', () => {
  it('is the mean +- 1.96 standard errors, and covers the true mean about 95% of the time', () => {
    const { mean, interval } = meanInterval([1, 2, 3, 4]);
    expect(mean).toBe(2.5);
    const se = Math.sqrt(((1.5 ** 2 + 0.5 ** 2) * 2) / 3 / 4);
    expect(interval[0]).toBeCloseTo(2.5 - 1.96 * se, 12);
    expect(interval[1]).toBeCloseTo(2.5 + 1.96 * se, 12);
    let covered = 0;
    for (let k = 0; k < 400; k++) {
      const draws = gaussianNoise(100 + k, 0, new Float32Array(50)).map((v) => 3 + 2 * v);
      const ci = meanInterval(draws).interval;
      if (ci[0] <= 3 && 3 <= ci[1]) covered++;
    }
    expect(covered / 400).toBeGreaterThan(0.9);
    expect(covered / 400).toBeLessThan(0.99);
    expect(() => meanInterval([1])).toThrow(/at least 2 values/);
  });
});

describe('medianInterval', () => {
  it('takes the binomial order statistics, in any input order, and refuses fewer than 6 values at 95%', () => {
    const ranks = (n: number) => Array.from({ length: n }, (_, i) => n - i); // n, n-1, ..., 1
    // n = 12: P(Bin(12, 1/2) <= 2) = 79/4096 <= 0.025 < P(<= 3): ranks 3 and 10
    expect(medianInterval(ranks(12))).toEqual({ median: 6.5, interval: [3, 10], coverage: 1 - (2 * 79) / 4096 });
    expect(medianInterval(ranks(6)).interval).toEqual([1, 6]);
    expect(medianInterval(ranks(20)).interval).toEqual([6, 15]);
    expect(medianInterval(ranks(7)).median).toBe(4);
    expect(medianInterval(ranks(10), 0.8).interval).toEqual([3, 8]); // P(<= 2) = 56/1024 <= 0.1 < P(<= 3)
    expect(() => medianInterval([1, 2, 3, 4, 5])).toThrow(/at least 6 values \(got 5\)/);
  });

  it('covers the median of a skewed distribution at least 95% of the time', () => {
    let covered = 0;
    const trials = 1000;
    for (let k = 0; k < trials; k++) {
      // (g1^2 + g2^2) / 2 of two standard Gaussians is exponential with mean 1: median ln 2, skewed
      const g = gaussianNoise(500 + k, 0, new Float32Array(24));
      const draws = Array.from({ length: 12 }, (_, i) => (g[2 * i] ** 2 + g[2 * i + 1] ** 2) / 2);
      const { interval } = medianInterval(draws);
      if (interval[0] <= Math.LN2 && Math.LN2 <= interval[1]) covered++;
    }
    expect(covered / trials).toBeGreaterThan(0.94);
    expect(covered / trials).toBeLessThan(0.985);
  });
});

describe('resolved', () => {
  it('calls a difference only when the intervals do not overlap', () => {
    expect(resolved([1, 2], [2.5, 3])).toBe(true);
    expect(resolved([1, 2], [1.9, 3])).toBe(false);
    expect(resolved([2.5, 3], [1, 2])).toBe(true);
  });
});
