/**
 * D(x0, t) of Cold Diffusion processes (process.ts), as pure functions on NCHW Float32Arrays: the same code
 * degrades training batches (scripts/train), restoration inputs and the sampler's x0 estimates (Algorithm 2)
 * in the worker. `makeDegradation` precomputes the per-step kernels or masks once, like makeSchedule.
 *
 * Blur follows deblurring_diffusion_pytorch.py: step i convolves every channel with a normalized
 * kernelSize x kernelSize Gaussian of std blurStd(i) (torchgeometry's get_gaussian_kernel2d: the outer
 * product of two normalized 1-D Gaussians centred at tap kernelSize // 2), padded circularly or by
 * reflection; D(x0, t) applies steps 0 .. t - 1 in turn (q_sample), and with `discrete` step T - 1 is
 * followed by the per-channel mean. The kernel is separable, so each step is a row pass and a column pass
 * (the same sums as the paper's 2-D convolution, in another order). Sums are taken in float64 and stored as
 * float32 after every pass, so Node and workerd give the same bits.
 *
 * Masking follows defading_diffusion_gaussian.py: step i multiplies by m_i = 1 - exp(-d^2 / (2 std_i^2)),
 * d the distance to the mask centre (get_fade_kernel's 1 - g / max g, cropped [1:, 1:]); D(x0, t) is
 * m_{t-1} ... m_0 x0.
 */
import { checkInt, DiffusionOptionError } from '../diffusion/errors.ts';
import { blurStd, maskStd, type BlurPadding, type BlurProcess, type ColdProcess, type MaskProcess } from './process.ts';

/** Mask centres of a batch of images: [B, 2] (row, column) per image, each in [-1, S - 1]. */
export type MaskCentres = Int32Array;

export interface Degradation {
  readonly process: ColdProcess;
  /** Steps: levels run from 0 (clean) to T (fully degraded). */
  readonly T: number;
  /** Image side S (H = W). */
  readonly size: number;
  /**
   * D(x0, t) of a batch x0 [B, C, S, S]: one level for all images, or one per image. Random masks need
   * the centre of each image (`centres`); the other processes take none. Returns a new array.
   */
  apply(x0: Float32Array, channels: number, t: number | ArrayLike<number>, centres?: MaskCentres): Float32Array;
}

/** The centre of the centred masks: pixel floor((S + 1) / 2) - 1 in both axes (S/2 - 1 for even S). */
export function centredMask(size: number): number {
  return Math.floor((size + 1) / 2) - 1;
}

/** torchgeometry's gaussian(window_size, sigma): exp(-(k - n // 2)^2 / (2 sigma^2)), normalized to sum 1. */
export function gaussianKernel1d(taps: number, std: number): Float64Array {
  const g = new Float64Array(taps);
  const mid = Math.floor(taps / 2);
  let sum = 0;
  for (let k = 0; k < taps; k++) {
    g[k] = Math.exp(-((k - mid) ** 2) / (2 * std * std));
    sum += g[k];
  }
  for (let k = 0; k < taps; k++) g[k] /= sum;
  return g;
}

/** Source index of padded position i (-pad .. S - 1 + pad) for torch's circular or reflect padding. */
function padIndex(i: number, S: number, padding: BlurPadding): number {
  if (i >= 0 && i < S) return i;
  if (padding === 'circular') return ((i % S) + S) % S;
  return i < 0 ? -i : 2 * (S - 1) - i; // reflect: the edge pixel is not repeated
}

function levelsOf(t: number | ArrayLike<number>, B: number, T: number): Int32Array {
  const levels = typeof t === 'number' ? new Int32Array(B).fill(t) : Int32Array.from(t);
  if (levels.length !== B) throw new DiffusionOptionError('t', `must hold one level per image (${B}, got ${levels.length})`);
  levels.forEach((v, b) => checkInt(`t[${b}]`, v, 0, T));
  return levels;
}

function checkShape(x: Float32Array, channels: number, S: number): number {
  checkInt('channels', channels, 1, 4);
  const per = channels * S * S;
  if (x.length === 0 || x.length % per !== 0) throw new DiffusionOptionError('x', `must hold [B, ${channels}, ${S}, ${S}] values (got ${x.length})`);
  return x.length / per;
}

/** Precomputed blur: tap weights (and source indices) of every step. */
function blurDegradation(p: BlurProcess, S: number): Degradation {
  const pad = (p.kernelSize - 1) / 2;
  if (pad >= S) throw new DiffusionOptionError('process.kernelSize', `must be below 2 x ${S} - 1 for ${S}x${S} images (got ${p.kernelSize})`);
  const kernels = Array.from({ length: p.T }, (_, i) => gaussianKernel1d(p.kernelSize, blurStd(p, i)));
  // src[i * taps + k]: the pixel tap k of output pixel i reads, padding resolved once
  const src = new Int32Array(S * p.kernelSize);
  for (let i = 0; i < S; i++) for (let k = 0; k < p.kernelSize; k++) src[i * p.kernelSize + k] = padIndex(i + k - pad, S, p.padding);
  const taps = p.kernelSize;
  const tmp = new Float32Array(S * S);

  /** One blur step of one plane (S x S) in place: rows, then columns. */
  function blurPlane(plane: Float32Array, g: Float64Array): void {
    for (let r = 0; r < S; r++) {
      const row = r * S;
      for (let c = 0; c < S; c++) {
        let acc = 0;
        for (let k = 0; k < taps; k++) acc += g[k] * plane[row + src[c * taps + k]];
        tmp[row + c] = acc;
      }
    }
    for (let r = 0; r < S; r++) {
      for (let c = 0; c < S; c++) {
        let acc = 0;
        for (let k = 0; k < taps; k++) acc += g[k] * tmp[src[r * taps + k] * S + c];
        plane[r * S + c] = acc;
      }
    }
  }

  function flatten(plane: Float32Array): void {
    let sum = 0;
    for (let i = 0; i < plane.length; i++) sum += plane[i];
    plane.fill(sum / plane.length);
  }

  return {
    process: p,
    T: p.T,
    size: S,
    apply(x0, channels, t, centres) {
      if (centres !== undefined) throw new DiffusionOptionError('centres', 'apply to cold-mask processes only');
      const B = checkShape(x0, channels, S);
      const levels = levelsOf(t, B, p.T);
      const out = x0.slice();
      for (let b = 0; b < B; b++) {
        for (let c = 0; c < channels; c++) {
          const plane = out.subarray((b * channels + c) * S * S, (b * channels + c + 1) * S * S);
          for (let i = 0; i < levels[b]; i++) blurPlane(plane, kernels[i]);
          if (p.discrete && levels[b] === p.T) flatten(plane);
        }
      }
      return out;
    },
  };
}

/** Precomputed masking: the mask of every step for centred masks; the per-step stds for random ones. */
function maskDegradation(p: MaskProcess, S: number): Degradation {
  const random = p.routine === 'random-incremental';
  const stds = Array.from({ length: p.T }, (_, i) => maskStd(p, i));
  const centre = centredMask(S);
  /** 1 - exp(-d^2 / (2 std^2)) around (cr, cc); rounded to float32 as the paper's kernels are. */
  const maskOf = (std: number, cr: number, cc: number): Float32Array => {
    const m = new Float32Array(S * S);
    for (let r = 0; r < S; r++) for (let c = 0; c < S; c++) m[r * S + c] = 1 - Math.exp(-((r - cr) ** 2 + (c - cc) ** 2) / (2 * std * std));
    return m;
  };
  const centred = random ? [] : stds.map((s) => maskOf(s, centre, centre));
  return {
    process: p,
    T: p.T,
    size: S,
    apply(x0, channels, t, centres) {
      const B = checkShape(x0, channels, S);
      const levels = levelsOf(t, B, p.T);
      if (random) {
        if (centres === undefined || centres.length !== 2 * B) throw new DiffusionOptionError('centres', `must hold (row, column) for each of the ${B} images of a random-incremental mask`);
        centres.forEach((v, i) => checkInt(`centres[${i}]`, v, -1, S - 1));
      } else if (centres !== undefined) {
        for (let i = 0; i < centres.length; i++) {
          if (centres[i] !== centre) throw new DiffusionOptionError('centres', `must be ${centre},${centre} (the ${p.routine} mask is centred; got ${centres[i]})`);
        }
      }
      const out = x0.slice();
      for (let b = 0; b < B; b++) {
        const masks = random ? stds.slice(0, levels[b]).map((s) => maskOf(s, centres?.[2 * b] ?? centre, centres?.[2 * b + 1] ?? centre)) : centred;
        for (let c = 0; c < channels; c++) {
          const plane = out.subarray((b * channels + c) * S * S, (b * channels + c + 1) * S * S);
          for (let i = 0; i < levels[b]; i++) {
            const m = masks[i];
            for (let k = 0; k < plane.length; k++) plane[k] *= m[k];
          }
        }
      }
      return out;
    },
  };
}

/** The degradation of a process for S x S images (kernels or masks computed once). */
export function makeDegradation(p: ColdProcess, size: number): Degradation {
  checkInt('size', size, 2, 512);
  return p.kind === 'cold-blur' ? blurDegradation(p, size) : maskDegradation(p, size);
}

/** Whether the process draws a mask centre per image (training draws it; restoration is told it). */
export function needsCentres(p: ColdProcess): boolean {
  return p.kind === 'cold-mask' && p.routine === 'random-incremental';
}
