/**
 * The TensorFlow.js emitter of the U-Net (ops.ts): NHWC tensors, parameters as tf.Variables named and
 * laid out canonically (conv kernels [kh, kw, cin, cout] are tfjs' own layout, so no transposes).
 *
 * Speed on backends without every gradient kernel (wasm lacks Conv2DBackpropFilter; its
 * Conv2DBackpropInput is ~10x slower than a forward conv): 3x3 convolutions carry a tf.customGrad whose
 * backward pass is made of forward conv2d calls only, 1x1 convolutions are matMuls, the class embedding is
 * a one-hot matMul (gather's gradient needs UnsortedSegmentSum), and nearest upsampling is
 * ResizeNearestNeighbor with 4 x avgPool(2x2) as its gradient (tfjs 4.22's ResizeNearestNeighborGrad is wrong
 * for some shapes, on wasm and on cpu). GroupNorm, SiLU and channel concat carry hand-written backward passes (fewer,
 * larger kernels than autodiff's; concat's own gradient, SplitV, is slow on wasm).
 * With a native backend (`convGrad: 'autodiff'`) 3x3 convs use tfjs' own gradient.
 */
import * as tf from '@tensorflow/tfjs';
import '../lib/tfjs-quiet.ts';
import { GROUPNORM_EPS, timestepFrequencies, type Ops, type ParamInit } from './ops.ts';
import { Rng } from '../train/rng.ts';

/** Ordered parameter store: insertion order (the order unet() declares them) is the canonical order. */
export type ParamStore = Map<string, tf.Variable>;

/** A parameter as plain data (canonical name and layout); what checkpoints hold. */
export interface ParamData {
  shape: number[];
  data: Float32Array;
}

export interface TfjsOpsOptions {
  params: ParamStore;
  /** Create missing parameters (initialised from this seed); without it a missing parameter throws. */
  initSeed?: number;
  /** Dropout active (training) or identity. */
  training: boolean;
  /** Base seed of this forward pass' dropout masks (each dropout call adds a counter). */
  dropoutSeed?: number;
  /** 'forward': 3x3 conv gradients built from forward convs (wasm, cpu); 'autodiff': tfjs' own. */
  convGrad?: 'forward' | 'autodiff';
}

/** Explicit padding 1 on H and W (PyTorch/ONNX semantics for both strides). */
const PAD1: [[number, number], [number, number], [number, number], [number, number]] = [
  [0, 0],
  [1, 1],
  [1, 1],
  [0, 0],
];

/** [B, h, w, C] -> [B, 2h, 2w, C] with the input at even positions and zeros elsewhere. */
function dilate2(dy: tf.Tensor4D): tf.Tensor4D {
  const [b, h, w, c] = dy.shape;
  const r = tf.reshape(dy, [b, h, 1, w, 1, c]);
  const p = tf.pad(r, [
    [0, 0],
    [0, 0],
    [0, 1],
    [0, 0],
    [0, 1],
    [0, 0],
  ]);
  return tf.reshape(p, [b, 2 * h, 2 * w, c]);
}

/**
 * Gradients of y = conv2d(x, w, stride, pad 1) for a 3x3 kernel, from forward convolutions only.
 * x [B, H, W, Cin], w [3, 3, Cin, Cout], dy [B, H/s, W/s, Cout].
 *   dx = conv(dilate_s(dy), flip_hw(w) with cin/cout swapped, pad 1)
 *   dw[kh, kw, ci, co] = sum_{b,i,j} xpad[b, s*i + kh, s*j + kw, ci] dy[b, i, j, co]
 *      = conv(xpad^T [Cin, Hp, Wp, B], dy^T [Ho, Wo, B, Cout], dilation s, valid) -> [Cin, 3, 3, Cout]
 */
export function conv3x3Grads(x: tf.Tensor4D, w: tf.Tensor4D, dy: tf.Tensor4D, stride: 1 | 2): [tf.Tensor4D, tf.Tensor4D] {
  return tf.tidy(() => {
    const wFlip = tf.transpose(tf.reverse(w, [0, 1]), [0, 1, 3, 2]) as tf.Tensor4D;
    const d = stride === 2 ? dilate2(dy) : dy;
    const dx = tf.conv2d(d, wFlip, 1, PAD1);
    // stride 2 reads xpad rows 0..H (pad 1 before, 0 after); stride 1 rows 0..H+1.
    const after = stride === 2 ? 0 : 1;
    const xp = tf.pad(x, [
      [0, 0],
      [1, after],
      [1, after],
      [0, 0],
    ]);
    const xT = tf.transpose(xp, [3, 1, 2, 0]) as tf.Tensor4D;
    const dyT = tf.transpose(dy, [1, 2, 0, 3]) as tf.Tensor4D;
    const dwT = tf.conv2d(xT, dyT, 1, 'valid', 'NHWC', stride);
    const dw = tf.transpose(dwT, [1, 2, 0, 3]) as tf.Tensor4D;
    return [dx, dw];
  });
}

function makeConv3x3(stride: 1 | 2): (x: tf.Tensor4D, w: tf.Tensor4D) => tf.Tensor4D {
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [x, w, save] = args as [tf.Tensor4D, tf.Tensor4D, tf.GradSaveFunc];
    save([x, w]);
    return {
      value: tf.conv2d(x, w, stride, PAD1),
      gradFunc: (dy: tf.Tensor4D, saved: tf.Tensor[]) => conv3x3Grads(saved[0] as tf.Tensor4D, saved[1] as tf.Tensor4D, dy, stride),
    };
  });
  return (x, w) => f(x, w) as tf.Tensor4D;
}

/** 1x1 convolution as conv2d; gradients: dx = conv(dy, w^T), dw = conv(x^T [Cin, H, W, B], dy^T [H, W, B, Cout]). */
const conv1x1Forward = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [x, w, save] = args as [tf.Tensor4D, tf.Tensor4D, tf.GradSaveFunc];
  save([x, w]);
  return {
    value: tf.conv2d(x, w, 1, 'valid'),
    gradFunc: (dy: tf.Tensor4D, saved: tf.Tensor[]) =>
      tf.tidy(() => {
        const [xx, ww] = saved as [tf.Tensor4D, tf.Tensor4D];
        const dx = tf.conv2d(dy, tf.transpose(ww, [0, 1, 3, 2]) as tf.Tensor4D, 1, 'valid');
        const dwT = tf.conv2d(tf.transpose(xx, [3, 1, 2, 0]) as tf.Tensor4D, tf.transpose(dy, [1, 2, 0, 3]) as tf.Tensor4D, 1, 'valid');
        return [dx, tf.transpose(dwT, [1, 2, 0, 3])];
      }),
  };
}) as (x: tf.Tensor4D, w: tf.Tensor4D) => tf.Tensor;


/** 3x3 convolutions with hand-built gradients (exported for the gradient tests). */
export const conv3x3Forward = { 1: makeConv3x3(1), 2: makeConv3x3(2) } as const;

/** SiLU x * sigmoid(x) with d/dx = s (1 + x (1 - s)), s = sigmoid(x). */
const siluFast = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [x, save] = args as [tf.Tensor, tf.GradSaveFunc];
  save([x]);
  return {
    value: tf.mul(x, tf.sigmoid(x)),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
      tf.tidy(() => {
        const xx = saved[0];
        const sg = tf.sigmoid(xx);
        return tf.mul(dy, tf.mul(sg, tf.add(1, tf.mul(xx, tf.sub(1, sg)))));
      }),
  };
}) as (x: tf.Tensor) => tf.Tensor;

/** Nearest 2x upsampling (source index floor(i / 2)); gradient: the sum over each 2x2 block. */
const upsample2xFast = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const x = args[0] as tf.Tensor4D;
  const [, h, w] = x.shape;
  return {
    value: tf.image.resizeNearestNeighbor(x, [2 * h, 2 * w], false, false),
    gradFunc: (dy: tf.Tensor) => tf.mul(tf.avgPool(dy as tf.Tensor4D, 2, 2, 'valid'), 4),
  };
}) as (x: tf.Tensor) => tf.Tensor;

/** Implementation switches (1x1 convs as matMul or conv2d; concat gradient as slices or 0/1 convs), chosen by measurement. */
export const CONV1X1: { impl: 'matmul' | 'conv'; concatGrad: 'slice' | 'select' } = { impl: 'conv', concatGrad: 'select' };

/** [1, 1, ca + cb, n] kernels that pick channels off..off+n (cached; kept out of tidy scopes). */
const selectors = new Map<string, tf.Tensor4D>();
function selector(total: number, off: number, n: number): tf.Tensor4D {
  const key = `${total}:${off}:${n}:${tf.getBackend()}`;
  let k = selectors.get(key);
  if (k === undefined) {
    const a = new Float32Array(total * n);
    for (let i = 0; i < n; i++) a[(off + i) * n + i] = 1;
    k = tf.keep(tf.tensor4d(a, [1, 1, total, n]));
    selectors.set(key, k);
  }
  return k;
}

/**
 * Concat on the channel axis. Gradient: each part's channels picked by a 1x1 convolution with a 0/1
 * kernel, about 4x cheaper on wasm than a channel slice (a strided copy in JS).
 */
const concatChannelsFast = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [a, b] = args as [tf.Tensor, tf.Tensor];
  const ca = a.shape[3] as number;
  const cb = b.shape[3] as number;
  return {
    value: tf.concat([a, b], 3),
    gradFunc: (dy: tf.Tensor) => {
      if (CONV1X1.concatGrad === 'slice') {
        const [n, h, w] = dy.shape as [number, number, number, number];
        return [tf.slice(dy, [0, 0, 0, 0], [n, h, w, ca]), tf.slice(dy, [0, 0, 0, ca], [n, h, w, cb])];
      }
      return [tf.conv2d(dy as tf.Tensor4D, selector(ca + cb, 0, ca), 1, 'valid'), tf.conv2d(dy as tf.Tensor4D, selector(ca + cb, ca, cb), 1, 'valid')];
    },
  };
}) as (a: tf.Tensor, b: tf.Tensor) => tf.Tensor;

/** Per-(image, channel) mean over H and W: [B, H, W, C] -> [B, 1, 1, C] (XNNPACK average pooling, no transpose). */
function spatialMean(x: tf.Tensor4D): tf.Tensor4D {
  const [, h, w] = x.shape;
  return tf.avgPool(x, [h, w], [h, w], 'valid');
}

/** Average [B, 1, 1, C] over each group of C/G channels and broadcast back: [B, 1, 1, C]. */
function groupAverage(v: tf.Tensor4D, groups: number): tf.Tensor4D {
  const [b, , , c] = v.shape;
  const m = tf.mean(tf.reshape(v, [b, groups, c / groups]), 2, true); // [B, G, 1]
  return tf.reshape(tf.broadcastTo(m, [b, groups, c / groups]), [b, 1, 1, c]);
}

/**
 * GroupNorm on NHWC with a hand-written backward pass, built from per-channel spatial means (average
 * pooling) so that no reduction needs a transpose:
 *   mu, rstd per (image, group) from E[x] and E[x^2];  y = x * (rstd gamma) + (beta - mu rstd gamma).
 * Backward, with xhat = (x - mu) rstd and g = dy gamma (means over a group's channels and pixels):
 *   dgamma = sum dy xhat, dbeta = sum dy, dx = rstd (g - mean(g) - xhat mean(g xhat)),
 * where mean(g xhat) and sum dy xhat come from the pooled dy x and dy, so dx = A dy + D x + E per channel.
 */
function groupNormFast(x: tf.Tensor4D, gamma: tf.Tensor, beta: tf.Tensor, groups: number): tf.Tensor {
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [xx, gm, bt, save] = args as [tf.Tensor4D, tf.Tensor1D, tf.Tensor1D, tf.GradSaveFunc];
    const [b, h, w, c] = xx.shape;
    const mu = groupAverage(spatialMean(xx), groups); // [B, 1, 1, C]
    const ex2 = groupAverage(spatialMean(tf.square(xx)), groups);
    const rstd = tf.rsqrt(tf.add(tf.relu(tf.sub(ex2, tf.square(mu))), GROUPNORM_EPS)) as tf.Tensor4D;
    const scale = tf.mul(rstd, gm);
    const shift = tf.sub(bt, tf.mul(mu, scale));
    save([xx, mu, rstd, gm]);
    return {
      value: tf.add(tf.mul(xx, scale), shift),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        tf.tidy(() => {
          const [x0, m, r, gmm] = saved as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D, tf.Tensor1D];
          const pdy = spatialMean(dy as tf.Tensor4D); // E_hw[dy]           [B, 1, 1, C]
          const pdyx = spatialMean(tf.mul(dy, x0) as tf.Tensor4D); // E_hw[dy x]
          const pdyxhat = tf.mul(tf.sub(pdyx, tf.mul(pdy, m)), r); // E_hw[dy xhat]
          const dbeta = tf.mul(tf.sum(tf.reshape(pdy, [b, c]), 0), h * w);
          const dgamma = tf.mul(tf.sum(tf.reshape(pdyxhat, [b, c]), 0), h * w);
          const mg = groupAverage(tf.mul(pdy, gmm) as tf.Tensor4D, groups); // mean_group(g)
          const mgx = groupAverage(tf.mul(pdyxhat, gmm) as tf.Tensor4D, groups); // mean_group(g xhat)
          // dx = r (gamma dy - mg - (x - m) r mgx) = A dy + D x + E
          const A = tf.mul(r, gmm);
          const D = tf.neg(tf.mul(tf.square(r), mgx));
          const E = tf.sub(tf.mul(tf.mul(tf.square(r), mgx), m), tf.mul(r, mg));
          const dx = tf.add(tf.add(tf.mul(dy, A), tf.mul(x0, D)), E);
          return [dx, dgamma, dbeta];
        }),
    };
  });
  return f(x, gamma, beta);
}

/** y [B, H, W, C] + b [C]; db = sum over B, H, W of dy via average pooling (wasm's Sum over leading axes transposes first). */
const biasAdd = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [y, b] = args as [tf.Tensor4D, tf.Tensor1D];
  const [n, h, w, c] = y.shape;
  return {
    value: tf.add(y, b),
    gradFunc: (dy: tf.Tensor) => [dy, tf.mul(tf.sum(tf.reshape(spatialMean(dy as tf.Tensor4D), [n, c]), 0), h * w)],
  };
}) as (y: tf.Tensor, b: tf.Tensor) => tf.Tensor;

/** x [B, H, W, C] + v [B, C] broadcast over H and W; dv = per-image spatial sums of dy (pooling). */
const addPerChannelFast = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [x, v] = args as [tf.Tensor4D, tf.Tensor2D];
  const [n, h, w, c] = x.shape;
  return {
    value: tf.add(x, tf.reshape(v, [n, 1, 1, c])),
    gradFunc: (dy: tf.Tensor) => [dy, tf.mul(tf.reshape(spatialMean(dy as tf.Tensor4D), [n, c]), h * w)],
  };
}) as (x: tf.Tensor, v: tf.Tensor) => tf.Tensor;

/** Deterministic initial value of a parameter: a pure function of (seed, name). */
export function initialValue(seed: number, name: string, shape: number[], kind: 'kernel' | 'bias' | 'gamma' | 'beta' | 'table', init: ParamInit): Float32Array {
  const size = shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(size);
  if (kind === 'gamma') return out.fill(1);
  if (kind === 'bias' || kind === 'beta' || init === 'zero') return out;
  const rng = Rng.of('init', seed, name);
  if (kind === 'table') return rng.fillNormal(out, 1 / Math.sqrt(shape[1]));
  // DDPM's default_init: variance_scaling(1.0, 'fan_avg', 'uniform') for conv and dense kernels.
  const receptive = shape.length === 4 ? shape[0] * shape[1] : 1;
  const fanIn = receptive * shape[shape.length - 2];
  const fanOut = receptive * shape[shape.length - 1];
  const limit = Math.sqrt(3 / ((fanIn + fanOut) / 2));
  for (let i = 0; i < size; i++) out[i] = (rng.uniform() * 2 - 1) * limit;
  return out;
}

export class TfjsOps implements Ops<tf.Tensor> {
  private dropoutCounter = 0;
  private readonly convGrad: 'forward' | 'autodiff';

  constructor(private readonly opts: TfjsOpsOptions) {
    this.convGrad = opts.convGrad ?? 'forward';
  }

  private param(name: string, shape: number[], kind: 'kernel' | 'bias' | 'gamma' | 'beta' | 'table', init: ParamInit = 'default'): tf.Variable {
    const existing = this.opts.params.get(name);
    if (existing !== undefined) {
      if (existing.shape.length !== shape.length || existing.shape.some((d, i) => d !== shape[i])) {
        throw new Error(`parameter ${name}: expected shape [${shape.join(', ')}], found [${existing.shape.join(', ')}]`);
      }
      return existing;
    }
    if (this.opts.initSeed === undefined) throw new Error(`parameter ${name} [${shape.join(', ')}] is missing`);
    const v = tf.variable(tf.tensor(initialValue(this.opts.initSeed, name, shape, kind, init), shape), true);
    this.opts.params.set(name, v);
    return v;
  }

  conv2d(x: tf.Tensor, name: string, outChannels: number, kernel: 1 | 3, stride: 1 | 2 = 1, init: ParamInit = 'default'): tf.Tensor {
    const [b, h, w, cin] = x.shape as [number, number, number, number];
    const k = this.param(`${name}/kernel`, [kernel, kernel, cin, outChannels], 'kernel', init);
    const bias = this.param(`${name}/bias`, [outChannels], 'bias');
    if (kernel === 1 && CONV1X1.impl === 'conv') {
      if (stride !== 1) throw new Error(`conv ${name}: 1x1 convolutions have stride 1`);
      return biasAdd(conv1x1Forward(x as tf.Tensor4D, k as tf.Tensor4D), bias);
    }
    if (kernel === 1) {
      if (stride !== 1) throw new Error(`conv ${name}: 1x1 convolutions have stride 1`);
      const y = tf.matMul(tf.reshape(x, [b * h * w, cin]), tf.reshape(k, [cin, outChannels]));
      return tf.reshape(tf.add(y, bias), [b, h, w, outChannels]);
    }
    const y =
      this.convGrad === 'forward'
        ? conv3x3Forward[stride](x as tf.Tensor4D, k as tf.Tensor4D)
        : tf.conv2d(x as tf.Tensor4D, k as tf.Tensor4D, stride, PAD1);
    return biasAdd(y, bias);
  }

  groupNorm(x: tf.Tensor, name: string, groups: number): tf.Tensor {
    const c = x.shape[3] as number;
    if (c % groups !== 0) throw new Error(`groupNorm ${name}: ${groups} groups do not divide ${c} channels`);
    const gamma = this.param(`${name}/gamma`, [c], 'gamma');
    const beta = this.param(`${name}/beta`, [c], 'beta');
    return groupNormFast(x as tf.Tensor4D, gamma, beta, groups);
  }

  silu(x: tf.Tensor): tf.Tensor {
    return siluFast(x);
  }

  dense(x: tf.Tensor, name: string, outFeatures: number): tf.Tensor {
    const inF = x.shape[1] as number;
    const k = this.param(`${name}/kernel`, [inF, outFeatures], 'kernel');
    const bias = this.param(`${name}/bias`, [outFeatures], 'bias');
    return tf.add(tf.matMul(x as tf.Tensor2D, k as tf.Tensor2D), bias);
  }

  add(a: tf.Tensor, b: tf.Tensor): tf.Tensor {
    return tf.add(a, b);
  }

  addPerChannel(x: tf.Tensor, v: tf.Tensor): tf.Tensor {
    return addPerChannelFast(x, v);
  }

  concatChannels(a: tf.Tensor, b: tf.Tensor): tf.Tensor {
    return concatChannelsFast(a, b);
  }

  upsampleNearest2x(x: tf.Tensor): tf.Tensor {
    return upsample2xFast(x);
  }

  dropout(x: tf.Tensor, rate: number): tf.Tensor {
    if (!this.opts.training || rate <= 0) return x;
    // mask from the seeded sfc32 generator (several times cheaper than tf.randomUniform's alea in JS)
    const rng = new Rng(((this.opts.dropoutSeed ?? 0) + 7919 * ++this.dropoutCounter) >>> 0);
    const keep = 1 - rate;
    const threshold = Math.floor(rate * 4294967296);
    const mask = new Float32Array(x.size);
    const scale = 1 / keep;
    for (let i = 0; i < mask.length; i++) mask[i] = rng.nextU32() >= threshold ? scale : 0;
    return tf.mul(x, tf.tensor(mask, x.shape));
  }

  spatialAttention(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor): tf.Tensor {
    const [b, h, w, c] = q.shape as [number, number, number, number];
    const n = h * w;
    const q3 = tf.reshape(q, [b, n, c]) as tf.Tensor3D;
    const k3 = tf.reshape(k, [b, n, c]) as tf.Tensor3D;
    const v3 = tf.reshape(v, [b, n, c]) as tf.Tensor3D;
    const scores = tf.mul(tf.matMul(q3, k3, false, true), 1 / Math.sqrt(c)); // [B, N(query), N(key)]
    const weights = tf.softmax(scores, -1);
    return tf.reshape(tf.matMul(weights, v3), [b, h, w, c]);
  }

  timestepEmbedding(t: tf.Tensor, dim: number): tf.Tensor {
    const freqs = tf.tensor2d(timestepFrequencies(dim), [1, dim / 2]);
    const args = tf.mul(tf.reshape(tf.cast(t, 'float32'), [-1, 1]), freqs); // [B, dim/2]
    return tf.concat([tf.sin(args), tf.cos(args)], 1);
  }

  embedding(y: tf.Tensor, name: string, rows: number, dim: number): tf.Tensor {
    const table = this.param(`${name}/table`, [rows, dim], 'table');
    const oneHot = tf.oneHot(tf.cast(y, 'int32') as tf.Tensor1D, rows);
    return tf.matMul(tf.cast(oneHot, 'float32') as tf.Tensor2D, table as tf.Tensor2D);
  }
}

/** Canonical names, shapes and offsets of a store's parameters in one flat Float32Array. */
export interface ParamLayout {
  entries: { name: string; shape: number[]; offset: number; size: number }[];
  total: number;
}

export function paramLayout(params: ParamStore): ParamLayout {
  let offset = 0;
  const entries: ParamLayout['entries'] = [];
  for (const [name, v] of params) {
    entries.push({ name, shape: [...v.shape], offset, size: v.size });
    offset += v.size;
  }
  return { entries, total: offset };
}

/** Read every parameter into one flat vector (canonical order). */
export function readFlat(params: ParamStore, layout: ParamLayout): Float32Array {
  const out = new Float32Array(layout.total);
  for (const e of layout.entries) {
    const v = params.get(e.name);
    if (v === undefined) throw new Error(`parameter ${e.name} missing from the store`);
    out.set(v.dataSync() as Float32Array, e.offset);
  }
  return out;
}

/** Assign a flat vector (canonical order) to the store's variables. */
export function writeFlat(params: ParamStore, layout: ParamLayout, flat: Float32Array): void {
  if (flat.length !== layout.total) throw new Error(`flat parameter vector has ${flat.length} values, layout needs ${layout.total}`);
  for (const e of layout.entries) {
    const v = params.get(e.name);
    if (v === undefined) throw new Error(`parameter ${e.name} missing from the store`);
    tf.tidy(() => v.assign(tf.tensor(flat.subarray(e.offset, e.offset + e.size), e.shape)));
  }
}

/** Split a flat vector into named parameters (views, no copy). */
export function unflatten(layout: ParamLayout, flat: Float32Array): Map<string, ParamData> {
  const m = new Map<string, ParamData>();
  for (const e of layout.entries) m.set(e.name, { shape: e.shape, data: flat.subarray(e.offset, e.offset + e.size) });
  return m;
}
