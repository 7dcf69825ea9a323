import { describe, expect, it } from 'vitest';
import { frechetDistance, gaussianStats, sqrtmPsd, symmetricEigen, type GaussianStats } from '../../scripts/eval/frechet.ts';

function stats(mean: number[], cov: number[]): GaussianStats {
  return { dim: mean.length, count: 100, mean: Float64Array.from(mean), cov: Float64Array.from(cov) };
}

function diag(v: number[]): number[] {
  const n = v.length;
  const m = new Array<number>(n * n).fill(0);
  v.forEach((x, i) => (m[i * n + i] = x));
  return m;
}

/** R diag(v) R^T for a rotation R built from Givens rotations (a non-axis-aligned covariance). */
function rotated(v: number[]): number[] {
  const n = v.length;
  const r = new Float64Array(n * n);
  for (let i = 0; i < n; i++) r[i * n + i] = 1;
  for (let p = 0; p < n - 1; p++) {
    const th = 0.3 + 0.2 * p;
    const c = Math.cos(th);
    const s = Math.sin(th);
    for (let k = 0; k < n; k++) {
      const a = r[k * n + p];
      const b = r[k * n + p + 1];
      r[k * n + p] = c * a - s * b;
      r[k * n + p + 1] = s * a + c * b;
    }
  }
  const out = new Array<number>(n * n).fill(0);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) for (let k = 0; k < n; k++) out[i * n + j] += r[i * n + k] * v[k] * r[j * n + k];
  return out;
}

describe('Fréchet distance', () => {
  it('is 0 between identical Gaussians (full covariance)', () => {
    const cov = rotated([4, 1, 0.25, 2, 0.5]);
    const a = stats([1, 2, 3, 4, 5], cov);
    const d = frechetDistance(a, a);
    expect(d.distance).toBeLessThan(1e-9);
  });

  it('matches sum (sqrt(a) - sqrt(b))^2 + ||mu1 - mu2||^2 for diagonal covariances', () => {
    const va = [4, 1, 0.25, 9, 0];
    const vb = [1, 1, 1, 16, 2];
    const ma = [0, 1, 2, 3, 4];
    const mb = [1, 1, 0, 3, 5];
    const expected = va.reduce((s, x, i) => s + (Math.sqrt(x) - Math.sqrt(vb[i])) ** 2, 0) + ma.reduce((s, x, i) => s + (x - mb[i]) ** 2, 0);
    const d = frechetDistance(stats(ma, diag(va)), stats(mb, diag(vb)));
    expect(d.distance).toBeCloseTo(expected, 9);
    expect(d.meanTerm).toBeCloseTo(6, 12);
  });

  it('is invariant to a shared rotation of both covariances', () => {
    const va = [4, 1, 0.25, 9];
    const vb = [1, 2, 1, 16];
    const expected = va.reduce((s, x, i) => s + (Math.sqrt(x) - Math.sqrt(vb[i])) ** 2, 0);
    const d = frechetDistance(stats([0, 0, 0, 0], rotated(va)), stats([0, 0, 0, 0], rotated(vb)));
    expect(d.distance).toBeCloseTo(expected, 8);
  });

  it('matches the 2x2 closed form for non-commuting covariances', () => {
    // Tr sqrtm(M) = sqrt(tr M + 2 sqrt(det M)) for a 2x2 PSD M; tr(S1 S2) and det(S1 S2) are invariants of M
    const s1 = [2, 0.5, 0.5, 1];
    const s2 = [1, -0.3, -0.3, 3];
    const trProd = s1[0] * s2[0] + s1[1] * s2[2] + s1[2] * s2[1] + s1[3] * s2[3];
    const det = (s1[0] * s1[3] - s1[1] * s1[2]) * (s2[0] * s2[3] - s2[1] * s2[2]);
    const expected = 2 + 1 + 1 + 3 - 2 * Math.sqrt(trProd + 2 * Math.sqrt(det));
    const d = frechetDistance(stats([0, 0], s1), stats([0, 0], s2));
    expect(d.distance).toBeCloseTo(expected, 10);
  });

  it('handles singular covariances (rank-deficient features)', () => {
    const a = stats([0, 0, 0], diag([1, 0, 0]));
    const b = stats([0, 0, 0], diag([0, 4, 0]));
    expect(frechetDistance(a, b).distance).toBeCloseTo(1 + 4, 10);
  });

  it('fits mean and unbiased covariance', () => {
    const f = [1, 2, 3, 6, 5, 10]; // 3 vectors of dim 2: x = 1,3,5; y = 2,6,10
    const s = gaussianStats(f, 3, 2);
    expect(Array.from(s.mean)).toEqual([3, 6]);
    expect(Array.from(s.cov)).toEqual([4, 8, 8, 16]);
  });

  it('takes square roots and eigendecompositions that reconstruct the matrix', () => {
    const n = 6;
    const m = rotated([5, 3, 2, 1, 0.5, 0.1]);
    const r = sqrtmPsd(m, n);
    for (let i = 0; i < n; i++)
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let k = 0; k < n; k++) s += r[i * n + k] * r[k * n + j];
        expect(s).toBeCloseTo(m[i * n + j], 10);
      }
    const vals = Array.from(symmetricEigen(m, n).values).sort((x, y) => y - x);
    expect(vals.map((v) => Number(v.toFixed(10)))).toEqual([5, 3, 2, 1, 0.5, 0.1]);
  });

  it('is fast enough for 128-dimensional features', () => {
    const n = 128;
    const count = 400;
    const f = new Float64Array(count * n);
    let s = 1;
    for (let i = 0; i < f.length; i++) {
      s = (s * 16807) % 2147483647;
      f[i] = s / 2147483647 + (i % n) * 0.01;
    }
    const a = gaussianStats(f, count, n);
    const t0 = performance.now();
    const d = frechetDistance(a, a);
    expect(d.distance).toBeLessThan(1e-6);
    expect(performance.now() - t0).toBeLessThan(5000);
  });
});
