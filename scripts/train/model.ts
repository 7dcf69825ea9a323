/** The U-Net as a tfjs model: parameter creation, forward pass, and an EpsModel view for the core's samplers. */
import * as tf from '@tensorflow/tfjs';
import type { UNetConfig } from '../model/config.ts';
import { unet, validateUNetConfig } from '../model/unet.ts';
import { TfjsOps, paramLayout, writeFlat, type ParamLayout, type ParamStore } from '../model/ops-tfjs.ts';
import type { EpsModel, ModelInputs } from '../../src/diffusion/types.ts';

export interface TfjsUNet {
  cfg: UNetConfig;
  params: ParamStore;
  layout: ParamLayout;
  convGrad: 'forward' | 'autodiff';
}

export interface ForwardOptions {
  training: boolean;
  dropoutSeed?: number;
  /**
   * No gradient is taken with respect to x (or selfCond): a convolution reading one of them skips its dx
   * (training). A self-conditioned model's first convolution reads their concatenation and still computes it.
   */
  constantInputs?: boolean;
}

/** Create the parameters (deterministic from `seed`) by tracing the network once on a 1-image batch. */
export function createUNet(cfg: UNetConfig, seed: number, convGrad: 'forward' | 'autodiff' = 'forward'): TfjsUNet {
  validateUNetConfig(cfg);
  const params: ParamStore = new Map();
  tf.tidy(() => {
    const ops = new TfjsOps({ params, initSeed: seed, training: false, convGrad });
    const x = tf.zeros([1, cfg.imageSize, cfg.imageSize, cfg.channels]);
    const t = tf.tensor1d([0], 'int32');
    const y = cfg.numClasses > 0 ? tf.tensor1d([cfg.numClasses], 'int32') : undefined;
    unet(ops, cfg, { x, t, y, selfCond: cfg.selfCondition === true ? x : undefined });
  });
  return { cfg, params, layout: paramLayout(params), convGrad };
}

/**
 * x [B, H, W, C] (NHWC), t [B] int32, y [B] int32, selfCond [B, H, W, C] -> output [B, H, W, C].
 * A self-conditioned model without `selfCond` gets zeros (no estimate yet).
 */
export function forward(model: TfjsUNet, x: tf.Tensor, t: tf.Tensor, y: tf.Tensor | undefined, opts: ForwardOptions, selfCond?: tf.Tensor): tf.Tensor {
  const sc = model.cfg.selfCondition === true ? (selfCond ?? tf.zerosLike(x)) : undefined;
  const ops = new TfjsOps({ params: model.params, training: opts.training, dropoutSeed: opts.dropoutSeed, convGrad: model.convGrad, inputs: opts.constantInputs ? [x, ...(sc ? [sc] : [])] : [] });
  return unet(ops, model.cfg, { x, t, y, selfCond: sc });
}

export function parameterCount(model: TfjsUNet): number {
  return model.layout.total;
}

/** Load a flat parameter vector (e.g. EMA weights) into the model. */
export function setWeights(model: TfjsUNet, flat: Float32Array): void {
  writeFlat(model.params, model.layout, flat);
}

/**
 * The model as the core's EpsModel: NCHW Float32Arrays in and out, evaluated in chunks of `maxBatch`. A
 * conditional model without classes gets the null class; a self-conditioned one says so (`selfCondition`)
 * and gets zeros when no estimate is given.
 */
export function toEpsModel(model: TfjsUNet, maxBatch = 64): EpsModel {
  const { imageSize: S, channels: C, numClasses } = model.cfg;
  const per = C * S * S;
  const nchw = (a: Float32Array, s: number, n: number): tf.Tensor => tf.transpose(tf.tensor4d(a.subarray(s * per, (s + n) * per), [n, C, S, S]), [0, 2, 3, 1]);
  const eps = async ({ x, t, classes, selfCond }: ModelInputs): Promise<Float32Array> => {
    const B = t.length;
    if (x.length !== B * per) throw new Error(`EpsModel: x has ${x.length} values, expected ${B}x${C}x${S}x${S}`);
    if (selfCond && selfCond.length !== B * per) throw new Error(`EpsModel: selfCond has ${selfCond.length} values, expected ${B}x${C}x${S}x${S}`);
    const out = new Float32Array(x.length);
    for (let s = 0; s < B; s += maxBatch) {
      const n = Math.min(maxBatch, B - s);
      const res = tf.tidy(() => {
        const ts = tf.tensor1d(t.subarray(s, s + n), 'int32');
        const ys = numClasses > 0 ? tf.tensor1d(classes ? classes.subarray(s, s + n) : new Int32Array(n).fill(numClasses), 'int32') : undefined;
        const sc = selfCond && model.cfg.selfCondition === true ? nchw(selfCond, s, n) : undefined;
        return tf.transpose(forward(model, nchw(x, s, n), ts, ys, { training: false }, sc), [0, 3, 1, 2]);
      });
      out.set((await res.data()) as Float32Array, s * per);
      res.dispose();
    }
    return out;
  };
  return Object.assign(eps, { selfCondition: model.cfg.selfCondition === true });
}
