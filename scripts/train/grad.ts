/**
 * Loss and gradients of one (shard of a) batch on the active tfjs backend. Used in the main thread
 * (workers = 0) and in each gradient worker; the result is a flat gradient vector in the canonical
 * parameter order, so shards are averaged with plain arithmetic.
 */
import * as tf from '@tensorflow/tfjs';
import type { Batch } from './batch.ts';
import type { LossType } from './options.ts';
import { forward, type TfjsUNet } from './model.ts';
import type { GradTiming } from './profile.ts';

/** Optional profiling hooks (bench --profile); without them nothing extra runs. */
export interface GradHooks {
  /** Filled with forward / backward / read-back times (wasm and cpu run kernels synchronously). */
  timing?: GradTiming;
  /** Called when the forward pass (through the loss) has run, before the backward pass. */
  onForwardEnd?: () => void;
}

export interface GradResult {
  /** Mean weighted loss over the shard. */
  loss: number;
  /** d loss / d params, flat, canonical order. */
  grads: Float32Array;
}

/**
 * The self-condition of a shard [B, S, S, C], or undefined for a model without self-conditioning.
 * With the step's first pass (lucidrains' p_losses): x0_hat = a x_t + b f(x_t, t, y, 0) from a forward
 * pass in training mode (its own dropout masks) that is not taped, so no gradient flows into it; then
 * clipped to [-1, 1] if asked. Without it: zeros.
 */
export function selfCondition(model: TfjsUNet, shard: Batch, xt: tf.Tensor4D, t: tf.Tensor, y: tf.Tensor | undefined): tf.Tensor | undefined {
  if (model.cfg.selfCondition !== true) return undefined;
  const pass = shard.selfCond;
  if (pass === undefined) return tf.zerosLike(xt);
  const B = shard.t.length;
  const out = forward(model, xt, t, y, { training: true, dropoutSeed: pass.dropoutSeed }, tf.zerosLike(xt));
  const x0 = tf.add(tf.mul(xt, tf.tensor4d(pass.a, [B, 1, 1, 1])), tf.mul(out, tf.tensor4d(pass.b, [B, 1, 1, 1])));
  return pass.clip ? tf.clipByValue(x0, -1, 1) : x0;
}

/** loss = mean_b w_b * mean_pixels |f(x_t, t, y, selfCond) - target|^p, p = 2 (l2) or 1 (l1). */
export function lossAndGrads(model: TfjsUNet, shard: Batch, loss: LossType, hooks?: GradHooks): GradResult {
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
    const tm = hooks?.timing;
    const t0 = tm ? performance.now() : 0;
    let t1 = 0;
    const sc = selfCondition(model, shard, xt, t, y);
    const { value, grads } = tf.variableGrads(() => {
      const pred = forward(model, xt, t, y, { training: true, dropoutSeed: shard.dropoutSeed, constantInputs: true }, sc);
      const diff = tf.sub(pred, target);
      const per = loss === 'l1' ? tf.abs(diff) : tf.square(diff);
      const l = tf.mean(tf.mul(per, w)) as tf.Scalar;
      if (hooks) {
        if (tm) t1 = performance.now();
        hooks.onForwardEnd?.();
      }
      return l;
    }, vars);
    const t2 = tm ? performance.now() : 0;
    lossValue = value.dataSync()[0];
    for (let i = 0; i < vars.length; i++) {
      const g = grads[vars[i].name];
      const e = model.layout.entries[i];
      if (g === undefined) continue; // parameter unused by this batch (stays zero)
      out.set(g.dataSync() as Float32Array, e.offset);
    }
    if (tm) {
      tm.forwardMs = t1 - t0;
      tm.backwardMs = t2 - t1;
      tm.readMs = performance.now() - t2;
    }
  });
  return { loss: lossValue, grads: out };
}
