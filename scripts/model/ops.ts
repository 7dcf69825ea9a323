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
  /**
   * 2-D convolution, 'same' padding for stride 1; stride 2 halves H and W (pad 1 on every side, kernel 3:
   * PyTorch/ONNX padding, not TF 'same'). `init` is a hint for emitters that create parameters
   * ('zero': start at zero, used for the last conv of each residual branch); emitters that load weights
   * ignore it.
   */
  conv2d(x: T, name: string, outChannels: number, kernel: 1 | 3, stride?: 1 | 2, init?: ParamInit): T;
  /** GroupNorm over channels with epsilon GROUPNORM_EPS, affine. */
  groupNorm(x: T, name: string, groups: number): T;
  silu(x: T): T;
  /** Fully connected on [B, F] vectors. */
  dense(x: T, name: string, outFeatures: number): T;
  add(a: T, b: T): T;
  /** x [B, C, H, W] + v [B, C] broadcast over H and W. */
  addPerChannel(x: T, v: T): T;
  concatChannels(a: T, b: T): T;
  /**
   * Nearest 2x upsampling followed by a 3x3 convolution (stride 1, pad 1) with the parameters of
   * conv2d(..., name, outChannels, 3): one operation, so that an emitter may compute it at the source
   * resolution.
   */
  upsampleConv(x: T, name: string, outChannels: number): T;
  /** Dropout (identity at inference and export). */
  dropout(x: T, rate: number): T;
  /**
   * Single-head spatial self-attention core: q, k, v [B, C, H, W] ->
   * softmax(q^T k / sqrt(C)) applied to v, [B, C, H, W] (the projections are convs in the definition).
   */
  spatialAttention(q: T, k: T, v: T): T;
  /**
   * Sinusoidal timestep embedding of the integer timesteps t [B] -> [B, dim] (DDPM / diffusers layout:
   * [sin(t * f_i) | cos(t * f_i)] with f_i = timestepFrequencies(dim)[i]; dim is even).
   */
  timestepEmbedding(t: T, dim: number): T;
  /** Lookup of class ids y [B] in a learned table of `rows` x `dim` -> [B, dim]. */
  embedding(y: T, name: string, rows: number, dim: number): T;
}

export const GROUPNORM_EPS = 1e-5;

/** Initialisation hint for emitters that create parameters (see conv2d). */
export type ParamInit = 'default' | 'zero';

/**
 * The dim/2 frequencies of the sinusoidal timestep embedding, as in the original DDPM code and diffusers'
 * `get_timestep_embedding(..., flip_sin_to_cos=False, downscale_freq_shift=1)`:
 * f_i = exp(-ln(10000) * i / (dim/2 - 1)), i = 0 .. dim/2 - 1. Both emitters use this one table.
 */
export function timestepFrequencies(dim: number): Float32Array {
  if (!Number.isInteger(dim) || dim < 4 || dim % 2 !== 0) {
    throw new RangeError(`timestep embedding dim must be an even integer >= 4 (got ${dim})`);
  }
  const half = dim / 2;
  const f = new Float32Array(half);
  for (let i = 0; i < half; i++) f[i] = Math.exp((-Math.log(10000) * i) / (half - 1));
  return f;
}
