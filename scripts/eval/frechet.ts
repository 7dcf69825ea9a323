/**
 * Fréchet distance between Gaussians fitted to feature sets (FID's formula, Heusel et al. 2017):
 *   d^2 = ||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^{1/2})
 * The trace of (S1 S2)^{1/2} is computed in its symmetric form, Tr sqrtm(S1^{1/2} S2 S1^{1/2}) (same
 * eigenvalues as S1 S2), with symmetric eigendecompositions (cyclic Jacobi) in float64, so no complex
 * square roots and no iteration that can diverge on near-singular covariances.
 */

/** Mean and covariance of a feature set; matrices are row-major float64 [d * d]. */
export interface GaussianStats {
  dim: number;
  count: number;
  mean: Float64Array;
  /** Unbiased sample covariance (divides by count - 1), [dim, dim]. */
  cov: Float64Array;
}

/** Fit a Gaussian to `count` feature vectors of `dim` values each, stored row after row. */
export function gaussianStats(features: ArrayLike<number>, count: number, dim: number): GaussianStats {
  if (!Number.isInteger(count) || count < 2) throw new RangeError(`need at least 2 feature vectors (got ${count})`);
  if (features.length !== count * dim) throw new RangeError(`features hold ${features.length} values, not ${count} x ${dim}`);
  const mean = new Float64Array(dim);
  for (let i = 0; i < count; i++) for (let j = 0; j < dim; j++) mean[j] += features[i * dim + j];
  for (let j = 0; j < dim; j++) mean[j] /= count;
  const cov = new Float64Array(dim * dim);
  const row = new Float64Array(dim);
  for (let i = 0; i < count; i++) {
    for (let j = 0; j < dim; j++) row[j] = features[i * dim + j] - mean[j];
    for (let a = 0; a < dim; a++) {
      const ra = row[a];
      if (ra === 0) continue;
      const base = a * dim;
      for (let b = a; b < dim; b++) cov[base + b] += ra * row[b];
    }
  }
  for (let a = 0; a < dim; a++) {
    for (let b = a; b < dim; b++) {
      const v = cov[a * dim + b] / (count - 1);
      cov[a * dim + b] = v;
      cov[b * dim + a] = v;
    }
  }
  return { dim, count, mean, cov };
}

export interface SymmetricEigen {
  /** Eigenvalues, in the order of the columns of `vectors`. */
  values: Float64Array;
  /** Eigenvectors as columns, row-major [n, n]. */
  vectors: Float64Array;
}

/** Eigendecomposition of a symmetric matrix A = V diag(values) V^T by cyclic Jacobi rotations. */
export function symmetricEigen(matrix: ArrayLike<number>, n: number, maxSweeps = 100): SymmetricEigen {
  if (matrix.length !== n * n) throw new RangeError(`matrix holds ${matrix.length} values, not ${n} x ${n}`);
  const a = Float64Array.from(matrix);
  // symmetrize (guards against round-off asymmetry in the input)
  for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) a[p * n + q] = a[q * n + p] = 0.5 * (a[p * n + q] + a[q * n + p]);
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  let scale = 0;
  for (let i = 0; i < n * n; i++) scale += a[i] * a[i];
  const tol = 1e-30 * Math.max(scale, 1e-300);
  for (let sweep = 0; sweep < maxSweeps; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += a[p * n + q] * a[p * n + q];
    if (off <= tol) break;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = a[p * n + q];
        if (apq === 0) continue;
        const app = a[p * n + p];
        const aqq = a[q * n + q];
        // rotation angle that zeroes a[p][q] (Golub & Van Loan, Algorithm 8.4.1)
        const theta = (aqq - app) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = a[k * n + p];
          const akq = a[k * n + q];
          a[k * n + p] = c * akp - s * akq;
          a[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p * n + k];
          const aqk = a[q * n + k];
          a[p * n + k] = c * apk - s * aqk;
          a[q * n + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k * n + p];
          const vkq = v[k * n + q];
          v[k * n + p] = c * vkp - s * vkq;
          v[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const values = new Float64Array(n);
  for (let i = 0; i < n; i++) values[i] = a[i * n + i];
  return { values, vectors: v };
}

/** Square root of a symmetric positive semi-definite matrix (negative round-off eigenvalues count as 0). */
export function sqrtmPsd(matrix: ArrayLike<number>, n: number): Float64Array {
  const { values, vectors } = symmetricEigen(matrix, n);
  const out = new Float64Array(n * n);
  for (let k = 0; k < n; k++) {
    const r = Math.sqrt(Math.max(0, values[k]));
    if (r === 0) continue;
    for (let i = 0; i < n; i++) {
      const vik = vectors[i * n + k] * r;
      if (vik === 0) continue;
      for (let j = 0; j < n; j++) out[i * n + j] += vik * vectors[j * n + k];
    }
  }
  return out;
}

function matmul(a: Float64Array, b: Float64Array, n: number): Float64Array {
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < n; k++) {
      const aik = a[i * n + k];
      if (aik === 0) continue;
      for (let j = 0; j < n; j++) out[i * n + j] += aik * b[k * n + j];
    }
  }
  return out;
}

export interface FrechetParts {
  /** The squared Fréchet distance (what FID reports). */
  distance: number;
  /** ||mu1 - mu2||^2 */
  meanTerm: number;
  /** Tr(S1 + S2 - 2 (S1 S2)^{1/2}) */
  covTerm: number;
}

/** The squared Fréchet distance between N(mu1, S1) and N(mu2, S2), with its two terms. */
export function frechetDistance(a: GaussianStats, b: GaussianStats): FrechetParts {
  const n = a.dim;
  if (b.dim !== n) throw new RangeError(`feature dimensions differ (${a.dim} vs ${b.dim})`);
  let meanTerm = 0;
  for (let i = 0; i < n; i++) meanTerm += (a.mean[i] - b.mean[i]) ** 2;
  let trA = 0;
  let trB = 0;
  for (let i = 0; i < n; i++) {
    trA += a.cov[i * n + i];
    trB += b.cov[i * n + i];
  }
  const rootA = sqrtmPsd(a.cov, n);
  const m = matmul(matmul(rootA, b.cov, n), rootA, n); // S1^{1/2} S2 S1^{1/2}, symmetric PSD
  const { values } = symmetricEigen(m, n);
  let trSqrt = 0;
  for (let i = 0; i < n; i++) trSqrt += Math.sqrt(Math.max(0, values[i]));
  // the trace term is >= 0 in exact arithmetic; clamp tiny negative round-off
  const covTerm = Math.max(0, trA + trB - 2 * trSqrt);
  return { distance: meanTerm + covTerm, meanTerm, covTerm };
}
