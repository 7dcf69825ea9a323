// The generation start (src/cold/mixture.ts): EM recovers a known mixture; draws follow it and depend on the seed alone.
import { describe, expect, it } from 'vitest';
import { fitGaussianMixture, mixtureStart, sampleMixture, validateMixture, type GaussianMixture } from '../../src/cold/index.ts';
import { gaussianNoise } from '../../src/diffusion/index.ts';

/** n points of a known 1-D mixture: 30% at -0.7 (sd 0.05), 70% at 0.2 (sd 0.1). */
function twoModes(n: number): Float64Array {
  const z = gaussianNoise(11, 0, new Float32Array(n));
  return Float64Array.from(z, (v, i) => (i % 10 < 3 ? -0.7 + 0.05 * v : 0.2 + 0.1 * v));
}

const KNOWN: GaussianMixture = { dim: 2, weights: [0.25, 0.75], means: [[-0.5, 0.1], [0.7, -0.2]], covariances: [[[0.01, 0.004], [0.004, 0.02]], [[0.03, 0], [0, 0.005]]] };

describe('Gaussian mixture of the fully degraded start', () => {
  it('EM recovers the weights, means and spreads of a known 1-D mixture', () => {
    const n = 4000;
    const { mixture, iterations } = fitGaussianMixture(twoModes(n), n, 1, { components: 2 });
    expect(iterations).toBeGreaterThan(0);
    const order = mixture.means[0][0] < mixture.means[1][0] ? [0, 1] : [1, 0];
    const [a, b] = order;
    expect(mixture.weights[a]).toBeCloseTo(0.3, 2);
    expect(mixture.means[a][0]).toBeCloseTo(-0.7, 2);
    expect(mixture.means[b][0]).toBeCloseTo(0.2, 2);
    expect(Math.sqrt(mixture.covariances[a][0][0])).toBeCloseTo(0.05, 2);
    expect(Math.sqrt(mixture.covariances[b][0][0])).toBeCloseTo(0.1, 2);
    expect(validateMixture(mixture)).toBe(mixture);
  });

  it('draws follow the mixture (weights, means, full covariance) and are a function of the seed', () => {
    const n = 6000;
    const draws = Array.from({ length: n }, (_, s) => sampleMixture(KNOWN, s));
    expect(Array.from(sampleMixture(KNOWN, 123))).toEqual(Array.from(sampleMixture(KNOWN, 123)));
    expect(Array.from(sampleMixture(KNOWN, 123))).not.toEqual(Array.from(sampleMixture(KNOWN, 124)));
    const first = draws.filter((d) => d[0] < 0); // the components barely overlap along the first axis
    expect(first.length / n).toBeCloseTo(0.25, 1);
    const mean = (xs: Float64Array[], d: number): number => xs.reduce((s, x) => s + x[d], 0) / xs.length;
    expect(mean(first, 1)).toBeCloseTo(0.1, 1);
    const cov = first.reduce((s, x) => s + (x[0] - mean(first, 0)) * (x[1] - mean(first, 1)), 0) / first.length;
    expect(cov).toBeCloseTo(0.004, 3);
  });

  it('the start is a flat image at the drawn means plus the requested noise', () => {
    const one: GaussianMixture = { dim: 1, weights: [1], means: [[-0.4]], covariances: [[[1e-6]]] };
    const flat = mixtureStart(one, 1, 8, 0, 5);
    expect(new Set(flat).size).toBe(1);
    expect(flat[0]).toBeCloseTo(-0.4, 2);
    const noisy = mixtureStart(one, 1, 8, 0.002, 5);
    const sd = Math.sqrt(noisy.reduce((s, v) => s + (v - flat[0]) ** 2, 0) / 64);
    expect(sd).toBeGreaterThan(0.001);
    expect(sd).toBeLessThan(0.004);
    expect(Array.from(mixtureStart(one, 1, 8, 0.002, 5))).toEqual(Array.from(noisy));
  });

  it('refuses a malformed mixture or start, naming the field', () => {
    expect(() => validateMixture({ ...KNOWN, weights: [0.5, 0.6] })).toThrow(/mixture.weights\[1\] must be a number in \[0, 1\]|mixture.weights must sum to 1/);
    expect(() => validateMixture({ ...KNOWN, weights: [0.5, 0.4] })).toThrow(/mixture.weights must sum to 1/);
    expect(() => validateMixture({ ...KNOWN, covariances: [[[1, 2], [2, 1]], KNOWN.covariances[1]] })).toThrow(/mixture.covariances\[0\] must be positive definite/);
    expect(() => validateMixture({ ...KNOWN, means: [[0], [0, 0]] })).toThrow(/mixture.means\[0\] must hold 2 values/);
    expect(() => mixtureStart(KNOWN, 1, 8, 0, 1)).toThrow(/mixture.dim must equal the model's 1 channels/);
    expect(() => fitGaussianMixture(new Float64Array(3), 3, 1, { components: 2 })).toThrow(/at least 2 per component/);
  });
});
