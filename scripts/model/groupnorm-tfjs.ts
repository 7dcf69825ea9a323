/**
 * GroupNorm on NHWC for the wasm and cpu backends, with a hand-written backward pass, and the per-(image,
 * channel) statistics done in plain JS.
 *
 * Everything full-size is a tfjs kernel (average pooling over H x W, elementwise products); everything of
 * size [B, C] (group means, rstd, scale and shift, the backward's coefficients) is a few hundred numbers,
 * where each tfjs kernel would cost more in dispatch than in arithmetic: about 20 small kernels per
 * GroupNorm forward and 30 backward became 2 reads and 2 small uploads each.
 *
 *   mu, rstd per (image, group) from E[x] and E[x^2] (float64 here);  y = x * (rstd gamma) + (beta - mu rstd gamma)
 * Backward, with xhat = (x - mu) rstd and g = dy gamma (means over a group's channels and pixels):
 *   dgamma = sum dy xhat, dbeta = sum dy, dx = rstd (g - mean(g) - xhat mean(g xhat)) = A dy + D x + E per (image, channel),
 * where mean(g xhat) and sum dy xhat come from the pooled dy x and dy.
 */
import * as tf from '@tensorflow/tfjs';
import { GROUPNORM_EPS } from './ops.ts';

/** Per-(image, channel) mean over H and W, [B, H, W, C] -> [B, C] values (average pooling; no cast kernel after it). */
export function spatialMeans(x: tf.Tensor4D): Float32Array {
  const [, h, w] = x.shape;
  const pooled = tf.engine().runKernel('AvgPool', { x }, { filterSize: [h, w], strides: [h, w], pad: 'valid' }) as tf.Tensor;
  const v = pooled.dataSync() as Float32Array;
  pooled.dispose();
  return v;
}

/** sum over B, H, W of dy [B, H, W, C] -> [C]: the gradient of a per-channel bias. */
export function channelSums(dy: tf.Tensor4D): tf.Tensor1D {
  const [b, h, w, c] = dy.shape;
  const m = spatialMeans(dy);
  const out = new Float32Array(c);
  for (let i = 0; i < b; i++) for (let k = 0; k < c; k++) out[k] += m[i * c + k] * h * w;
  return tf.tensor1d(out);
}

/** GroupNorm(x) gamma + beta with statistics per (image, group); x [B, H, W, C], gamma and beta [C]. */
export function groupNormStats(x: tf.Tensor4D, gamma: tf.Tensor1D, beta: tf.Tensor1D, groups: number): tf.Tensor4D {
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [xx, gm, bt, save] = args as [tf.Tensor4D, tf.Tensor1D, tf.Tensor1D, tf.GradSaveFunc];
    const [b, h, w, c] = xx.shape;
    const cg = c / groups;
    const m1 = spatialMeans(xx);
    const m2 = spatialMeans(tf.square(xx) as tf.Tensor4D);
    const g = gm.dataSync() as Float32Array;
    const be = bt.dataSync() as Float32Array;
    const mu = new Float64Array(b * groups);
    const rstd = new Float64Array(b * groups);
    const scale = new Float32Array(b * c);
    const shift = new Float32Array(b * c);
    for (let i = 0; i < b; i++) {
      for (let k = 0; k < groups; k++) {
        let s1 = 0;
        let s2 = 0;
        for (let j = k * cg; j < (k + 1) * cg; j++) {
          s1 += m1[i * c + j];
          s2 += m2[i * c + j];
        }
        const m = s1 / cg;
        const r = 1 / Math.sqrt(Math.max(s2 / cg - m * m, 0) + GROUPNORM_EPS);
        mu[i * groups + k] = m;
        rstd[i * groups + k] = r;
        for (let j = k * cg; j < (k + 1) * cg; j++) {
          scale[i * c + j] = r * g[j];
          shift[i * c + j] = be[j] - m * r * g[j];
        }
      }
    }
    save([xx]);
    return {
      value: tf.add(tf.mul(xx, tf.tensor4d(scale, [b, 1, 1, c])), tf.tensor4d(shift, [b, 1, 1, c])),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        tf.tidy(() => {
          const x0 = saved[0] as tf.Tensor4D;
          const pdy = spatialMeans(dy as tf.Tensor4D); // E_hw[dy]    [B, C]
          const pdyx = spatialMeans(tf.mul(dy, x0) as tf.Tensor4D); // E_hw[dy x]
          const dgamma = new Float32Array(c);
          const dbeta = new Float32Array(c);
          const A = new Float32Array(b * c);
          const D = new Float32Array(b * c);
          const E = new Float32Array(b * c);
          for (let i = 0; i < b; i++) {
            for (let k = 0; k < groups; k++) {
              const m = mu[i * groups + k];
              const r = rstd[i * groups + k];
              let mg = 0; // mean over the group's channels of E_hw[dy] gamma
              let mgx = 0; // ... of E_hw[dy xhat] gamma
              for (let j = k * cg; j < (k + 1) * cg; j++) {
                const pxh = (pdyx[i * c + j] - pdy[i * c + j] * m) * r; // E_hw[dy xhat]
                dbeta[j] += pdy[i * c + j] * h * w;
                dgamma[j] += pxh * h * w;
                mg += pdy[i * c + j] * g[j];
                mgx += pxh * g[j];
              }
              mg /= cg;
              mgx /= cg;
              // dx = r (gamma dy - mg - (x - m) r mgx) = A dy + D x + E
              for (let j = k * cg; j < (k + 1) * cg; j++) {
                A[i * c + j] = r * g[j];
                D[i * c + j] = -r * r * mgx;
                E[i * c + j] = r * r * mgx * m - r * mg;
              }
            }
          }
          const shape: [number, number, number, number] = [b, 1, 1, c];
          const dx = tf.add(tf.add(tf.mul(dy, tf.tensor4d(A, shape)), tf.mul(x0, tf.tensor4d(D, shape))), tf.tensor4d(E, shape));
          return [dx, tf.tensor1d(dgamma), tf.tensor1d(dbeta)];
        }),
    };
  });
  return f(x, gamma, beta) as tf.Tensor4D;
}

/**
 * GroupNorm from plain tfjs ops (tf.moments over each group), differentiated by tfjs' autodiff: the
 * implementation for native backends, and the reference the hand-written one is tested against.
 */
export function groupNormPlain(x: tf.Tensor4D, gamma: tf.Tensor1D, beta: tf.Tensor1D, groups: number): tf.Tensor4D {
  const [n, h, w, c] = x.shape;
  const xg = tf.reshape(x, [n, h * w, groups, c / groups]);
  const { mean, variance } = tf.moments(xg, [1, 3], true);
  const xhat = tf.reshape(tf.div(tf.sub(xg, mean), tf.sqrt(tf.add(variance, GROUPNORM_EPS))), [n, h, w, c]);
  return tf.add(tf.mul(xhat, gamma), beta) as tf.Tensor4D;
}
