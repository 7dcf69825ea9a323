/**
 * Single-head spatial self-attention core for backends without fast batched matMuls (wasm), with a
 * hand-written backward pass.
 *
 * tfjs-wasm 4.22 sends a BatchMatMul with batch > 1 (or a transposed operand) to a scalar triple loop
 * (batch_mat_mul_impl.cc, `slow_batch_matmul`); only batch-1, untransposed products reach XNNPACK. A
 * per-image product C[b] = A[b] B[b] is instead one depthwise convolution with the image index on the
 * channel axis: input [1, M, K, B] (A as [M, K, B]), filter [1, K, B, N] (B as [K, B, N]), 'valid', gives
 * [1, M, 1, B*N], i.e. C as [M, B, N] (XNNPACK's grouped convolution: one group per image). About 3x
 * faster than the slow loop at 8x8 tokens and 32-64 channels, transposes included.
 *
 * Layouts below: q, k, v [B, N, C] (N = H*W tokens); scores and probabilities as [N_query, B, N_key], so
 * the softmax runs on the last axis without a transpose.
 *   forward:  S = q k^T / sqrt(C);  P = softmax(S);  O = P v
 *   backward: dP = dO v^T;  dv = P^T dO;  dS = P (dP - sum_key(dP P)) / sqrt(C);  dq = dS k;  dk = dS^T q
 */
import * as tf from '@tensorflow/tfjs';

/** Per-image product: a as [M, K, B], b as [K, B, N] -> [M, B, N]. */
export function bmmDepthwise(a: tf.Tensor3D, b: tf.Tensor3D): tf.Tensor3D {
  const [m, k, n0] = a.shape;
  const [k2, n1, n] = b.shape;
  if (k !== k2 || n0 !== n1) throw new Error(`bmmDepthwise: [${a.shape}] x [${b.shape}] do not match ([M, K, B] x [K, B, N])`);
  const out = tf.depthwiseConv2d(tf.reshape(a, [1, m, k, n0]) as tf.Tensor4D, tf.reshape(b, [1, k, n0, n]) as tf.Tensor4D, 1, 'valid'); // [1, M, 1, B*N]
  return tf.reshape(out, [m, n0, n]);
}

/** q, k, v [B, N, C] -> softmax(q k^T / sqrt(C)) v, [B, N, C]; gradients for q, k and v. */
export const attentionCore = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [q, k, v, save] = args as [tf.Tensor3D, tf.Tensor3D, tf.Tensor3D, tf.GradSaveFunc];
  const scale = 1 / Math.sqrt(q.shape[2]);
  const s = tf.mul(bmmDepthwise(tf.transpose(q, [1, 2, 0]), tf.transpose(k, [2, 0, 1])), scale); // [Nq, B, Nk]
  const p = tf.softmax(s) as tf.Tensor3D;
  const o = bmmDepthwise(tf.transpose(p, [0, 2, 1]), tf.transpose(v, [1, 0, 2])); // [Nq, B, C]
  save([q, k, v, p]);
  return {
    value: tf.transpose(o, [1, 0, 2]),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
      tf.tidy(() => {
        const [qq, kk, vv, pp] = saved as [tf.Tensor3D, tf.Tensor3D, tf.Tensor3D, tf.Tensor3D];
        const dO = dy as tf.Tensor3D; // [B, Nq, C]
        const dP = bmmDepthwise(tf.transpose(dO, [1, 2, 0]), tf.transpose(vv, [2, 0, 1])); // [Nq, B, Nk]
        const dv = bmmDepthwise(tf.transpose(pp, [2, 0, 1]), tf.transpose(dO, [1, 0, 2])); // [Nk, B, C]
        const dS = tf.mul(tf.mul(pp, tf.sub(dP, tf.sum(tf.mul(dP, pp), -1, true))), scale) as tf.Tensor3D; // [Nq, B, Nk]
        const dq = bmmDepthwise(tf.transpose(dS, [0, 2, 1]), tf.transpose(kk, [1, 0, 2])); // [Nq, B, C]
        const dk = bmmDepthwise(tf.transpose(dS, [2, 0, 1]), tf.transpose(qq, [1, 0, 2])); // [Nk, B, C]
        return [tf.transpose(dq, [1, 0, 2]), tf.transpose(dk, [1, 0, 2]), tf.transpose(dv, [1, 0, 2])];
      }),
  };
}) as (q: tf.Tensor3D, k: tf.Tensor3D, v: tf.Tensor3D) => tf.Tensor3D;

/** The same attention from plain ops (batched matMuls, tfjs' own gradients): native backends and the tests' reference. */
export function attentionPlain(q: tf.Tensor3D, k: tf.Tensor3D, v: tf.Tensor3D): tf.Tensor3D {
  const scores = tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(q.shape[2])); // [B, N(query), N(key)]
  return tf.matMul(tf.softmax(scores, -1) as tf.Tensor3D, v);
}
