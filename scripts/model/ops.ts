/**
 * The U-Net is defined once (unet.ts) as a function over this interface; each emitter implements it:
 * ops-tfjs.ts builds tensors for training, ops-onnx.ts builds ONNX graph nodes for export.
 *
 * Tensor layout is the emitter's business (tfjs works in NHWC, ONNX in NCHW); the definition only speaks
 * of "channels". Parameters are declared by name; the emitter creates them (tfjs: variables,
 * initialised) or looks them up (ONNX: initializers from a checkpoint). Canonical parameter layouts,
 * the ones stored in checkpoints:
 *   conv  `${name}/kernel` [kh, kw, cin, cout], `${name}/bias` [cout]
 *   dense `${name}/kernel` [in, out],           `${name}/bias` [out]
 *   norm  `${name}/gamma` [C],                  `${name}/beta` [C]
 *   embedding `${name}/table` [rows, dim]
 */
export interface Ops<T> {
  /** 2-D convolution, 'same' padding for stride 1; stride 2 halves H and W (pad 1, kernel 3). */
  conv2d(x: T, name: string, outChannels: number, kernel: 1 | 3, stride?: 1 | 2): T;
  /** GroupNorm over channels with epsilon GROUPNORM_EPS, affine. */
  groupNorm(x: T, name: string, groups: number): T;
  silu(x: T): T;
  /** Fully connected on [B, F] vectors. */
  dense(x: T, name: string, outFeatures: number): T;
  add(a: T, b: T): T;
  /** x [B, C, H, W] + v [B, C] broadcast over H and W. */
  addPerChannel(x: T, v: T): T;
  concatChannels(a: T, b: T): T;
  upsampleNearest2x(x: T): T;
  /** Dropout (identity at inference and export). */
  dropout(x: T, rate: number): T;
  /**
   * Single-head spatial self-attention core: q, k, v [B, C, H, W] ->
   * softmax(q^T k / sqrt(C)) applied to v, [B, C, H, W] (the projections are convs in the definition).
   */
  spatialAttention(q: T, k: T, v: T): T;
  /** Sinusoidal timestep embedding of the integer timesteps t [B] -> [B, dim] (DDPM / diffusers layout: [sin | cos]). */
  timestepEmbedding(t: T, dim: number): T;
  /** Lookup of class ids y [B] in a learned table of `rows` x `dim` -> [B, dim]. */
  embedding(y: T, name: string, rows: number, dim: number): T;
}

export const GROUPNORM_EPS = 1e-5;
