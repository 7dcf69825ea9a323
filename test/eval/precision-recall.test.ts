// Improved precision/recall: identical sets score 1/1; a generator that covers one mode of two keeps precision
// and loses recall; one that drifts off the data loses precision.
import { describe, expect, it } from 'vitest';
import { gaussianNoise } from '../../src/diffusion/noise.ts';
import { precisionRecall } from '../../scripts/eval/precision-recall.ts';

const dim = 4;
const n = 400;
/** Two modes at -3 and +3 in the first coordinate; `modes` picks which are used; `shift` moves the second coordinate. */
function mixture(seed: number, modes: number[], shift = 0): Float32Array {
  const x = gaussianNoise(seed, 0, new Float32Array(n * dim));
  for (let i = 0; i < n; i++) {
    x[i * dim] += modes[i % modes.length] === 0 ? -3 : 3;
    x[i * dim + 1] += shift;
  }
  return x;
}

describe('precisionRecall', () => {
  it('scores a sample of the same distribution near 1 / 1', () => {
    const { precision, recall } = precisionRecall(mixture(1, [0, 1]), n, mixture(2, [0, 1]), n, dim);
    expect(precision).toBeGreaterThan(0.85);
    expect(recall).toBeGreaterThan(0.85);
  });

  it('reads mode dropping as low recall, not low precision', () => {
    const { precision, recall } = precisionRecall(mixture(1, [0, 1]), n, mixture(3, [1]), n, dim);
    expect(precision).toBeGreaterThan(0.85);
    expect(recall).toBeLessThan(0.6);
  });

  it('reads samples off the data as low precision', () => {
    const { precision } = precisionRecall(mixture(1, [0, 1]), n, mixture(4, [0, 1], 8), n, dim);
    expect(precision).toBeLessThan(0.2);
  });

  it('refuses sets of k points or fewer', () => {
    expect(() => precisionRecall(new Float32Array(3 * dim), 3, new Float32Array(10 * dim), 10, dim)).toThrow(/more than 3 points/);
  });
});
