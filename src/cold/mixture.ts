/**
 * The fully degraded start of generation (Cold Diffusion, section 5): for blur with `discrete`, D(x0, T) is a
 * flat image holding the per-channel means of x0. The paper fits a Gaussian mixture to those means over the
 * training set (deblurring_diffusion_pytorch.py `sample_as_a_mean_blur_torch_gmm`: pycave's GaussianMixture,
 * full covariances, convergence tolerance 0.001; `--gmm_cluster` 10 by default), samples the start from it and
 * adds a little Gaussian noise (`--noise`, e.g. 0.002) to break the symmetry, then runs Algorithm 2 from T.
 * The fit (EM here) runs at export; the mixture is stored in model.json; sampling runs in the worker, from the
 * seed alone (Philox, as the DDPM noise), so a seed names the same image in Node and in workerd.
 */
import { checkInt, checkRange, DiffusionOptionError } from '../diffusion/errors.ts';
import { checkSeed, gaussianNoise, philox4x32 } from '../diffusion/noise.ts';

/** A Gaussian mixture over R^dim, as JSON data (model.json). */
export interface GaussianMixture {
  dim: number;
  weights: number[];
  /** [K][dim] */
  means: number[][];
  /** [K][dim][dim], full covariances. */
  covariances: number[][][];
}

export interface MixtureFit {
  mixture: GaussianMixture;
  /** Mean log-likelihood per point at the end, and EM iterations run. */
  logLikelihood: number;
  iterations: number;
}

export interface FitOptions {
  components: number;
  /** Stop when the mean log-likelihood improves by less (pycave's convergence_tolerance: 0.001). */
  tolerance?: number;
  maxIterations?: number;
  /** Added to every covariance diagonal (pycave's covariance_regularization default 1e-6). */
  regularization?: number;
}

/** Cholesky factor L (lower, row-major) of a symmetric positive definite dim x dim matrix. */
function cholesky(a: ArrayLike<number>, n: number): Float64Array {
  const l = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = a[i * n + j];
      for (let k = 0; k < j; k++) s -= l[i * n + k] * l[j * n + k];
      if (i === j) {
        if (!(s > 0)) throw new DiffusionOptionError('covariance', 'must be positive definite');
        l[i * n + i] = Math.sqrt(s);
      } else l[i * n + j] = s / l[j * n + j];
    }
  }
  return l;
}

/** log N(x; mean, L L^T) with L the Cholesky factor. */
function logDensity(x: ArrayLike<number>, xOff: number, mean: ArrayLike<number>, l: Float64Array, n: number, z = new Float64Array(n)): number {
  let logDet = 0;
  let quad = 0;
  for (let i = 0; i < n; i++) {
    let s = x[xOff + i] - mean[i];
    for (let k = 0; k < i; k++) s -= l[i * n + k] * z[k];
    z[i] = s / l[i * n + i];
    quad += z[i] * z[i];
    logDet += Math.log(l[i * n + i]);
  }
  return -0.5 * quad - logDet - 0.5 * n * Math.log(2 * Math.PI);
}

/**
 * EM for a K-component full-covariance Gaussian mixture of `count` points [count, dim]. Deterministic: the
 * components start from K equal slices of the points sorted along the first coordinate.
 */
export function fitGaussianMixture(points: ArrayLike<number>, count: number, dim: number, o: FitOptions): MixtureFit {
  checkInt('dim', dim, 1, 16);
  const K = checkInt('components', o.components, 1, 64);
  if (count < K * 2) throw new DiffusionOptionError('points', `must number at least 2 per component (${2 * K}, got ${count})`);
  if (points.length !== count * dim) throw new DiffusionOptionError('points', `must hold ${count} x ${dim} values (got ${points.length})`);
  const tol = o.tolerance ?? 1e-3;
  const maxIter = o.maxIterations ?? 500;
  const reg = o.regularization ?? 1e-6;
  const order = Array.from({ length: count }, (_, i) => i).sort((a, b) => points[a * dim] - points[b * dim] || a - b);
  const resp = new Float64Array(count * K);
  for (let r = 0; r < count; r++) resp[order[r] * K + Math.min(K - 1, Math.floor((r * K) / count))] = 1;
  let weights = new Float64Array(K);
  let means: Float64Array[] = [];
  let covs: Float64Array[] = [];
  const mStep = (): void => {
    weights = new Float64Array(K);
    means = [];
    covs = [];
    for (let k = 0; k < K; k++) {
      let nk = 0;
      const mu = new Float64Array(dim);
      for (let i = 0; i < count; i++) {
        const r = resp[i * K + k];
        nk += r;
        for (let d = 0; d < dim; d++) mu[d] += r * points[i * dim + d];
      }
      const nSafe = Math.max(nk, 1e-300);
      for (let d = 0; d < dim; d++) mu[d] /= nSafe;
      const cov = new Float64Array(dim * dim);
      for (let i = 0; i < count; i++) {
        const r = resp[i * K + k];
        if (r === 0) continue;
        for (let a = 0; a < dim; a++) for (let b = 0; b < dim; b++) cov[a * dim + b] += r * (points[i * dim + a] - mu[a]) * (points[i * dim + b] - mu[b]);
      }
      for (let j = 0; j < dim * dim; j++) cov[j] /= nSafe;
      for (let d = 0; d < dim; d++) cov[d * dim + d] += reg;
      weights[k] = nk / count;
      means.push(mu);
      covs.push(cov);
    }
  };
  mStep();
  let previous = -Infinity;
  let ll = -Infinity;
  let iterations = 0;
  const logp = new Float64Array(K);
  const scratch = new Float64Array(dim);
  while (iterations < maxIter) {
    iterations++;
    // E step: responsibilities and the mean log-likelihood (log-sum-exp per point)
    const chol = covs.map((c) => cholesky(c, dim));
    let total = 0;
    for (let i = 0; i < count; i++) {
      let max = -Infinity;
      for (let k = 0; k < K; k++) {
        logp[k] = weights[k] > 0 ? Math.log(weights[k]) + logDensity(points, i * dim, means[k], chol[k], dim, scratch) : -Infinity;
        if (logp[k] > max) max = logp[k];
      }
      let sum = 0;
      for (let k = 0; k < K; k++) sum += Math.exp(logp[k] - max);
      const lse = max + Math.log(sum);
      total += lse;
      for (let k = 0; k < K; k++) resp[i * K + k] = Math.exp(logp[k] - lse);
    }
    ll = total / count;
    mStep();
    if (ll - previous < tol) break;
    previous = ll;
  }
  const mixture: GaussianMixture = {
    dim,
    weights: Array.from(weights),
    means: means.map((m) => Array.from(m)),
    covariances: covs.map((c) => Array.from({ length: dim }, (_, a) => Array.from(c.subarray(a * dim, (a + 1) * dim)))),
  };
  return { mixture, logLikelihood: ll, iterations };
}

/** Checks a mixture read from a model card (weights sum to 1, covariances positive definite); throws naming the field. */
export function validateMixture(m: GaussianMixture): GaussianMixture {
  const dim = checkInt('mixture.dim', m.dim, 1, 16);
  const K = m.weights.length;
  checkInt('mixture.components', K, 1, 64);
  if (m.means.length !== K || m.covariances.length !== K) throw new DiffusionOptionError('mixture', `must hold ${K} means and covariances`);
  let sum = 0;
  m.weights.forEach((w, k) => {
    sum += checkRange(`mixture.weights[${k}]`, w, 0, 1);
    if (m.means[k].length !== dim) throw new DiffusionOptionError(`mixture.means[${k}]`, `must hold ${dim} values`);
    m.means[k].forEach((v, d) => checkRange(`mixture.means[${k}][${d}]`, v, -10, 10));
    const c = m.covariances[k];
    if (c.length !== dim || c.some((row) => row.length !== dim)) throw new DiffusionOptionError(`mixture.covariances[${k}]`, `must be ${dim} x ${dim}`);
    try {
      cholesky(c.flat(), dim);
    } catch {
      throw new DiffusionOptionError(`mixture.covariances[${k}]`, 'must be positive definite');
    }
  });
  if (Math.abs(sum - 1) > 1e-6) throw new DiffusionOptionError('mixture.weights', `must sum to 1 (got ${sum})`);
  return m;
}

/** One draw of the mixture from a seed: the component from a Philox uniform (counter c3 = 2), then mean + L z. */
export function sampleMixture(m: GaussianMixture, seed: number): Float64Array {
  checkSeed(seed);
  const words = new Uint32Array(4);
  // a counter neither the noise streams (c3 = 0) nor deriveSeed (c3 = 1) use
  philox4x32(0, 0, 0, 2, seed % 2 ** 32 >>> 0, Math.floor(seed / 2 ** 32) >>> 0, words);
  const u = (words[0] + 0.5) / 2 ** 32;
  let k = 0;
  let acc = m.weights[0];
  while (u > acc && k < m.weights.length - 1) acc += m.weights[++k];
  const z = gaussianNoise(seed, 0, new Float32Array(m.dim));
  const l = cholesky(m.covariances[k].flat(), m.dim);
  const out = new Float64Array(m.dim);
  for (let i = 0; i < m.dim; i++) {
    let s = m.means[k][i];
    for (let j = 0; j <= i; j++) s += l[i * m.dim + j] * z[j];
    out[i] = s;
  }
  return out;
}

/**
 * The generation start of an image from its seed: a flat S x S image per channel at a mixture draw of the
 * channel means, plus `noise` x N(0, 1) per pixel (noise stream 1 of the seed). [C, S, S] into `out`.
 */
export function mixtureStart(m: GaussianMixture, channels: number, size: number, noise: number, seed: number, out = new Float32Array(channels * size * size)): Float32Array {
  if (m.dim !== channels) throw new DiffusionOptionError('mixture.dim', `must equal the model's ${channels} channels (got ${m.dim})`);
  checkRange('noise', noise, 0, 1);
  const v = sampleMixture(m, seed);
  const z = gaussianNoise(seed, 1, new Float32Array(channels * size * size));
  const plane = size * size;
  for (let c = 0; c < channels; c++) for (let i = 0; i < plane; i++) out[c * plane + i] = v[c] + noise * z[c * plane + i];
  return out;
}
