/**
 * Loss and gradients of one (shard of a) batch on the active tfjs backend. Used in the main thread
 * (workers = 0) and in each gradient worker; the result is a flat gradient vector in the canonical
 * parameter order, so shards are averaged with plain arithmetic.
 */
import * as tf from '@tensorflow/tfjs';
import type { Batch } from './batch.ts';
import type { LossType } from './options.ts';
import { forward, type TfjsUNet } from './model.ts';

export interface GradResult {
  /** Mean weighted loss over the shard. */
  loss: number;
  /** d loss / d params, flat, canonical order. */
  grads: Float32Array;
}

/** loss = mean_b w_b * mean_pixels |f(x_t, t, y) - target|^p, p = 2 (l2) or 1 (l1). */
export function lossAndGrads(model: TfjsUNet, shard: Batch, loss: LossType): GradResult {
  const { imageSize: S, channels: C } = model.cfg;
  const B = shard.t.length;
  const vars = model.layout.entries.map((e) => {
    const v = model.params.get(e.name);
    if (v === undefined) throw new Error(`parameter ${e.name} missing`);
    return v;
  });
  const out = new Float32Array(model.layout.total);
  let lossValue = 0;
  tf.tidy(() => {
    const xt = tf.tensor4d(shard.xt, [B, S, S, C]);
    const t = tf.tensor1d(shard.t, 'int32');
    const y = shard.y ? tf.tensor1d(shard.y, 'int32') : undefined;
    const target = tf.tensor4d(shard.target, [B, S, S, C]);
    const w = tf.tensor4d(shard.weight, [B, 1, 1, 1]);
    const { value, grads } = tf.variableGrads(() => {
      const pred = forward(model, xt, t, y, { training: true, dropoutSeed: shard.dropoutSeed });
      const diff = tf.sub(pred, target);
      const per = loss === 'l1' ? tf.abs(diff) : tf.square(diff);
      return tf.mean(tf.mul(per, w)) as tf.Scalar;
    }, vars);
    lossValue = value.dataSync()[0];
    for (let i = 0; i < vars.length; i++) {
      const g = grads[vars[i].name];
      const e = model.layout.entries[i];
      if (g === undefined) continue; // parameter unused by this batch (stays zero)
      out.set(g.dataSync() as Float32Array, e.offset);
    }
  });
  return { loss: lossValue, grads: out };
}
