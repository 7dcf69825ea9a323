/**
 * The TensorFlow.js emitter of the U-Net (ops.ts): NHWC tensors, parameters as tf.Variables named and
 * laid out canonically (conv kernels [kh, kw, cin, cout] are tfjs' own layout, so no transposes).
 *
 * Two gradient modes (`convGrad`):
 * - 'forward' (wasm, cpu): hand-written backward passes made of kernels that are fast on tfjs-wasm 4.22:
 *   convolutions with fused bias whose gradients are forward convolutions and batch-1 matMuls (conv-tfjs.ts),
 *   the upsampling convolution at the source resolution, GroupNorm with its small statistics in JS
 *   (groupnorm-tfjs.ts), attention whose per-image products are depthwise convolutions (attention-tfjs.ts),
 *   SiLU from a saved sigmoid, channel concat as pads (its gradient as 0/1 convolutions), per-image channel
 *   offsets and biases reduced by average pooling. wasm lacks Conv2DBackpropFilter and UnsortedSegmentSum,
 *   and its BatchMatMul, Concat, Slice and Identity are slow paths (scalar loops, per-row JS copies).
 * - 'autodiff' (native backends; the reference of the gradient tests): plain tfjs ops and tfjs' own gradients.
 * Both: the class embedding is a one-hot matMul (gather's gradient needs UnsortedSegmentSum) and nearest
 * upsampling is ResizeNearestNeighbor with 4 x avgPool(2x2) as its gradient (tfjs 4.22's
 * ResizeNearestNeighborGrad is wrong for some shapes, on wasm and on cpu).
 */
import * as tf from '@tensorflow/tfjs';
import '../lib/tfjs-quiet.ts';
import { timestepFrequencies, type Ops, type ParamInit } from './ops.ts';
import { Rng } from '../train/rng.ts';
import { attentionCore, attentionPlain } from './attention-tfjs.ts';
import { convBias, PAD1, upsampleConv } from './conv-tfjs.ts';
import { groupNormPlain, groupNormStats, spatialMeans } from './groupnorm-tfjs.ts';

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
  /** 'forward': hand-written backward passes (wasm, cpu); 'autodiff': plain ops and tfjs' own gradients. */
  convGrad?: 'forward' | 'autodiff';
  /** The network's inputs: no gradient flows into them, so a convolution reading one skips its dx ('forward'). */
  inputs?: tf.Tensor[];
}

/** SiLU x s with s = sigmoid(x), keeping s and the output y: d/dx = s (1 + x (1 - s)) = s + y (1 - s). */
const siluFast = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [x, save] = args as [tf.Tensor, tf.GradSaveFunc];
  const s = tf.sigmoid(x);
  const y = tf.mul(x, s);
  save([s, y]);
  return {
    value: y,
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.tidy(() => tf.mul(dy, tf.add(saved[0], tf.mul(saved[1], tf.sub(1, saved[0]))))),
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
 * Concat on the channel axis as two pads and an add (wasm's Concat copies pixel by pixel in JS, about 1.5x
 * slower). Gradient: each part's channels picked by a 1x1 convolution with a 0/1 kernel, about 2x cheaper on
 * wasm than a channel slice (also a per-pixel copy in JS).
 */
const concatChannelsFast = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [a, b] = args as [tf.Tensor4D, tf.Tensor4D];
  const ca = a.shape[3];
  const cb = b.shape[3];
  return {
    value: tf.add(
      tf.pad(a, [
        [0, 0],
        [0, 0],
        [0, 0],
        [0, cb],
      ]),
      tf.pad(b, [
        [0, 0],
        [0, 0],
        [0, 0],
        [ca, 0],
      ]),
    ),
    gradFunc: (dy: tf.Tensor) => [tf.conv2d(dy as tf.Tensor4D, selector(ca + cb, 0, ca), 1, 'valid'), tf.conv2d(dy as tf.Tensor4D, selector(ca + cb, ca, cb), 1, 'valid')],
  };
}) as (a: tf.Tensor, b: tf.Tensor) => tf.Tensor;

/** x [B, H, W, C] + v [B, C] broadcast over H and W; dv = per-image spatial sums of dy (pooling). */
const addPerChannelFast = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [x, v] = args as [tf.Tensor4D, tf.Tensor2D];
  const [n, h, w, c] = x.shape;
  return {
    value: tf.add(x, tf.reshape(v, [n, 1, 1, c])),
    gradFunc: (dy: tf.Tensor) => [dy, tf.tensor2d(spatialMeans(dy as tf.Tensor4D).map((m) => m * h * w), [n, c])],
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
  private readonly fast: boolean;
  private readonly inputs: Set<tf.Tensor>;

  constructor(private readonly opts: TfjsOpsOptions) {
    this.fast = (opts.convGrad ?? 'forward') === 'forward';
    this.inputs = new Set(opts.inputs ?? []);
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
    const cin = x.shape[3] as number;
    if (kernel === 1 && stride !== 1) throw new Error(`conv ${name}: 1x1 convolutions have stride 1`);
    const k = this.param(`${name}/kernel`, [kernel, kernel, cin, outChannels], 'kernel', init) as tf.Tensor4D;
    const bias = this.param(`${name}/bias`, [outChannels], 'bias') as tf.Tensor1D;
    if (this.fast) return convBias(x as tf.Tensor4D, k, bias, stride, !this.inputs.has(x));
    return tf.add(tf.conv2d(x as tf.Tensor4D, k, stride, kernel === 3 ? PAD1 : 'valid'), bias);
  }

  upsampleConv(x: tf.Tensor, name: string, outChannels: number): tf.Tensor {
    const cin = x.shape[3] as number;
    const k = this.param(`${name}/kernel`, [3, 3, cin, outChannels], 'kernel') as tf.Tensor4D;
    const bias = this.param(`${name}/bias`, [outChannels], 'bias') as tf.Tensor1D;
    if (this.fast) return upsampleConv(x as tf.Tensor4D, k, bias);
    return tf.add(tf.conv2d(upsample2xFast(x) as tf.Tensor4D, k, 1, PAD1), bias);
  }

  groupNorm(x: tf.Tensor, name: string, groups: number): tf.Tensor {
    const c = x.shape[3] as number;
    if (c % groups !== 0) throw new Error(`groupNorm ${name}: ${groups} groups do not divide ${c} channels`);
    const gamma = this.param(`${name}/gamma`, [c], 'gamma') as tf.Tensor1D;
    const beta = this.param(`${name}/beta`, [c], 'beta') as tf.Tensor1D;
    return (this.fast ? groupNormStats : groupNormPlain)(x as tf.Tensor4D, gamma, beta, groups);
  }

  silu(x: tf.Tensor): tf.Tensor {
    return this.fast ? siluFast(x) : tf.mul(x, tf.sigmoid(x));
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
    if (this.fast) return addPerChannelFast(x, v);
    return tf.add(x, tf.reshape(v, [v.shape[0], 1, 1, v.shape[1] as number]));
  }

  concatChannels(a: tf.Tensor, b: tf.Tensor): tf.Tensor {
    return this.fast ? concatChannelsFast(a, b) : tf.concat([a, b], 3);
  }

  /** Nearest 2x upsampling on its own (the network upsamples inside upsampleConv). */
  upsampleNearest2x(x: tf.Tensor): tf.Tensor {
    return upsample2xFast(x);
  }

  dropout(x: tf.Tensor, rate: number): tf.Tensor {
    if (!this.opts.training || rate <= 0) return x;
    // mask from the seeded sfc32 generator (several times cheaper than tf.randomUniform's alea in JS)
    const rng = new Rng(((this.opts.dropoutSeed ?? 0) + 7919 * ++this.dropoutCounter) >>> 0);
    const threshold = Math.floor(rate * 4294967296);
    const mask = rng.fillMask(new Float32Array(x.size), threshold, 1 / (1 - rate));
    return tf.mul(x, tf.tensor(mask, x.shape));
  }

  spatialAttention(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor): tf.Tensor {
    const [b, h, w, c] = q.shape as [number, number, number, number];
    const [q3, k3, v3] = [q, k, v].map((t) => tf.reshape(t, [b, h * w, c]) as tf.Tensor3D);
    return tf.reshape((this.fast ? attentionCore : attentionPlain)(q3, k3, v3), [b, h, w, c]);
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
