/**
 * Convolutions for backends without every gradient kernel (wasm lacks Conv2DBackpropFilter, and its
 * Conv2DBackpropInput is ~10x slower than a forward convolution): the backward passes are made of forward
 * convolutions and untransposed batch-1 matMuls, the only products that reach XNNPACK in tfjs-wasm 4.22.
 *
 * For y = conv(x, w) with explicit padding (stride 1):
 *   dx = conv(dy, flip_hw(w) with cin/cout swapped, the padding mirrored: (k - 1 - before, k - 1 - after))
 *   dw[kh, kw, ci, co] = sum_{b,i,j} xpad[b, i + kh, j + kw, ci] dy[b, i, j, co]
 *      = conv(x^T [Cin, H, W, B] padded as x, dy^T [Ho, Wo, B, Cout], valid) -> [Cin, kh, kw, Cout]
 * (the images become the channels the product sums over). Stride 2: dx by output phases at dy's resolution
 * (stride2InputGrad), dw with dilation 2.
 */
import * as tf from '@tensorflow/tfjs';
import { channelSums } from './groupnorm-tfjs.ts';
import { gemmKernelGradAvailable, kernelGradGemm, matMulTN, sliceOnHeap } from './wasm-kernel-grad.ts';

/** Explicit [before, after] padding of the four NHWC axes. */
export type Pad4 = [[number, number], [number, number], [number, number], [number, number]];

/** Padding 1 on H and W (PyTorch/ONNX semantics for both strides). */
export const PAD1: Pad4 = [
  [0, 0],
  [1, 1],
  [1, 1],
  [0, 0],
];

/**
 * dx of a stride-2 3x3 convolution (pad 1) at the resolution of dy. Output row 2a reads dy row a through
 * kernel row 1; row 2a + 1 reads dy row a through kernel row 2 and row a + 1 through kernel row 0 (columns
 * alike). So each output-row phase p is a convolution of dy with [1 + p, 2] taps whose 2 Cin output channels
 * are the two column phases, and the phases interleave row by row: 12 multiply-adds per dy pixel and
 * channel pair instead of 36 for the convolution of a zero-dilated dy (the same sums up to rounding).
 * dy [B, h, w, Cout], w [3, 3, Cin, Cout] as a flat array -> dx [B, 2h, 2w, Cin].
 */
function stride2InputGrad(dy: tf.Tensor4D, w: Float32Array, cin: number): tf.Tensor4D {
  const [n, h, wd, cout] = dy.shape;
  // taps of phase p: kernel row for each tap row offset (0, +1); kernel column for column phase q and offset
  const rowOf = [[1], [2, 0]];
  const colOf = [
    [1, -1],
    [2, 0],
  ];
  const phases = [0, 1].map((p) => {
    const rows = rowOf[p].length;
    const k = new Float32Array(rows * 2 * cout * 2 * cin); // [rows, 2, Cout, (q, Cin)]
    for (let a = 0; a < rows; a++) {
      for (let s = 0; s < 2; s++) {
        for (let q = 0; q < 2; q++) {
          const kc = colOf[q][s];
          if (kc < 0) continue;
          const kr = rowOf[p][a];
          for (let co = 0; co < cout; co++) {
            for (let ci = 0; ci < cin; ci++) k[(((a * 2 + s) * cout + co) * 2 + q) * cin + ci] = w[((kr * 3 + kc) * cin + ci) * cout + co];
          }
        }
      }
    }
    const pads: Pad4 = [[0, 0], [0, rows - 1], [0, 1], [0, 0]];
    const z = tf.conv2d(dy, tf.tensor4d(k, [rows, 2, cout, 2 * cin]), 1, pads); // [B, h, w, 2 Cin]
    return tf.reshape(z, [n, h, 1, wd * 2 * cin]);
  });
  return tf.reshape(tf.concat(phases, 2), [n, 2 * h, 2 * wd, cin]) as tf.Tensor4D;
}

/** dw of conv(x, w, stride, pads) from a forward convolution of the transposed tensors: [kh, kw, Cin, Cout]. */
function kernelGrad(xT: tf.Tensor4D, dy: tf.Tensor4D, pads: Pad4, stride: 1 | 2): tf.Tensor4D {
  const dyT = tf.transpose(dy, [1, 2, 0, 3]) as tf.Tensor4D; // [Ho, Wo, B, Cout]
  const dwT = tf.conv2d(xT, dyT, 1, pads, 'NHWC', stride); // [Cin, kh, kw, Cout]
  return tf.transpose(dwT, [1, 2, 0, 3]) as tf.Tensor4D;
}

/** x [B, H, W, Cin] -> [Cin, H, W, B], the input of kernelGrad. */
const imagesLast = (x: tf.Tensor4D): tf.Tensor4D => tf.transpose(x, [3, 1, 2, 0]) as tf.Tensor4D;

/** flip_hw(k) with cin/cout swapped, for a [kh, kw, cin, cout] kernel held as a flat array. */
function flipKernel(k: Float32Array, kh: number, kw: number, cin: number, cout: number): tf.Tensor4D {
  const out = new Float32Array(k.length);
  for (let a = 0; a < kh; a++) {
    for (let s = 0; s < kw; s++) {
      for (let ci = 0; ci < cin; ci++) {
        for (let co = 0; co < cout; co++) out[(((kh - 1 - a) * kw + (kw - 1 - s)) * cout + co) * cin + ci] = k[((a * kw + s) * cin + ci) * cout + co];
      }
    }
  }
  return tf.tensor4d(out, [kh, kw, cout, cin]);
}

/**
 * Gradients of y = conv2d(x, w, stride, pad 1) for a 3x3 kernel, from forward convolutions only.
 * x [B, H, W, Cin], w [3, 3, Cin, Cout], dy [B, H/s, W/s, Cout]. The padding of x is the convolution's own
 * (no pad kernel); stride 2 reads xpad rows 0..H (pad 1 before, 0 after).
 */
export function conv3x3Grads(x: tf.Tensor4D, w: tf.Tensor4D, dy: tf.Tensor4D, stride: 1 | 2, inputGrad = true): [tf.Tensor4D, tf.Tensor4D] {
  if (stride === 2 && (x.shape[1] % 2 !== 0 || x.shape[2] % 2 !== 0)) throw new Error(`stride-2 convolution gradients need an even input size (got ${x.shape[1]}x${x.shape[2]})`);
  return tf.tidy(() => {
    const dx = !inputGrad
      ? tf.zerosLike(x)
      : stride === 2
        ? stride2InputGrad(dy, w.dataSync() as Float32Array, w.shape[2])
        : tf.conv2d(dy, flipKernel(w.dataSync() as Float32Array, 3, 3, w.shape[2], w.shape[3]), 1, PAD1);
    const after = stride === 2 ? 0 : 1;
    const dw =
      stride === 1 && gemmKernelGradAvailable()
        ? kernelGradGemm(x, dy, 3, 3, [[1, 1], [1, 1]])
        : kernelGrad(imagesLast(x), dy, [[0, 0], [1, after], [1, after], [0, 0]], stride);
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

/** 3x3 convolutions (no bias) with hand-built gradients, stride 1 and 2. */
export const conv3x3Forward = { 1: makeConv3x3(1), 2: makeConv3x3(2) } as const;

/**
 * dw of a 1x1 convolution, x [B, H, W, Cin], dy [B, H, W, Cout] -> [1, 1, Cin, Cout]: one matMul over the
 * B*H*W pixels, the narrower operand transposed explicitly (a 2-D transpose): dw = x^T dy, or (dy^T x)^T
 * when Cout < Cin. About 2x faster than the convolution form above (whose kernel has H x W taps).
 */
export function conv1x1KernelGrad(x: tf.Tensor4D, dy: tf.Tensor4D): tf.Tensor4D {
  const [b, h, w, cin] = x.shape;
  const cout = dy.shape[3];
  const x2 = tf.reshape(x, [b * h * w, cin]) as tf.Tensor2D;
  const dy2 = tf.reshape(dy, [b * h * w, cout]) as tf.Tensor2D;
  const dw = matMulTN(x2, dy2) ?? (cin <= cout ? tf.matMul(tf.transpose(x2), dy2) : tf.transpose(tf.matMul(tf.transpose(dy2), x2)));
  return tf.reshape(dw, [1, 1, cin, cout]);
}

function makeConvBias(kernel: 1 | 3, stride: 1 | 2, inputGrad: boolean): (x: tf.Tensor4D, w: tf.Tensor4D, b: tf.Tensor1D) => tf.Tensor4D {
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [x, w, b, save] = args as [tf.Tensor4D, tf.Tensor4D, tf.Tensor1D, tf.GradSaveFunc];
    save([x, w]);
    return {
      value: tf.fused.conv2d({ x, filter: w, strides: stride, pad: kernel === 3 ? PAD1 : 'valid', bias: b }),
      gradFunc: (dy: tf.Tensor4D, saved: tf.Tensor[]) =>
        tf.tidy(() => {
          const [xx, ww] = saved as [tf.Tensor4D, tf.Tensor4D];
          if (kernel === 3) return [...conv3x3Grads(xx, ww, dy, stride, inputGrad), channelSums(dy)];
          const dx = inputGrad ? tf.conv2d(dy, tf.transpose(ww, [0, 1, 3, 2]) as tf.Tensor4D, 1, 'valid') : tf.zerosLike(xx);
          return [dx, conv1x1KernelGrad(xx, dy), channelSums(dy)];
        }),
    };
  });
  return (x, w, b) => f(x, w, b) as tf.Tensor4D;
}

const convBiasFns = new Map<string, (x: tf.Tensor4D, w: tf.Tensor4D, b: tf.Tensor1D) => tf.Tensor4D>();

/**
 * conv2d(x, w) + b in one kernel (FusedConv2D: XNNPACK adds the bias in the convolution's output loop) with
 * hand-built gradients: 3x3 with stride 1 or 2 (pad 1), and 1x1. `inputGrad` false: x is a network input
 * nothing upstream learns from, and dx is zeros instead of a convolution.
 */
export function convBias(x: tf.Tensor4D, w: tf.Tensor4D, b: tf.Tensor1D, stride: 1 | 2 = 1, inputGrad = true): tf.Tensor4D {
  const kernel = w.shape[0];
  if ((kernel !== 1 && kernel !== 3) || w.shape[1] !== kernel) throw new Error(`convBias: ${w.shape[0]}x${w.shape[1]} kernels are not supported (1x1 and 3x3 are)`);
  if (kernel === 1 && stride !== 1) throw new Error('convBias: 1x1 convolutions have stride 1');
  const key = `${kernel}:${stride}:${inputGrad}`;
  let f = convBiasFns.get(key);
  if (f === undefined) {
    f = makeConvBias(kernel, stride, inputGrad);
    convBiasFns.set(key, f);
  }
  return f(x, w, b);
}

/**
 * Output row 2i + p of conv3x3(upsample2x(x), w) reads upsampled rows 2i + p - 1 .. 2i + p + 1, i.e. source
 * rows i - 1 + p + a (a = 0, 1) through the kernel rows ROW_TAPS[p][a] (p = 0: {w0}, {w1 + w2}; p = 1:
 * {w0 + w1}, {w2}). Columns alike, with the two source taps of column phase q embedded in 3 (s = 0, 1, 2 over
 * source columns j - 1 + s): COL_TAPS[q][s].
 */
const ROW_TAPS = [
  [[0], [1, 2]],
  [[0, 1], [2]],
];
const COL_TAPS = [
  [[0], [1, 2], []],
  [[], [0, 1], [2]],
];

/**
 * Visit every (phase p, K_p offset, w offset) pair of the map from w [3, 3, Cin, Cout] to the two row-phase
 * kernels K_p [2, 3, Cin, (q, Cout)]: K_p[a, s, ci, q, :] sums w[r, c, ci, :] over r in ROW_TAPS[p][a] and c
 * in COL_TAPS[q][s]. Each visit covers Cout contiguous values on both sides.
 */
function forEachPhaseTap(cin: number, cout: number, visit: (p: number, k: number, w: number) => void): void {
  for (let p = 0; p < 2; p++) {
    for (let a = 0; a < 2; a++) {
      for (let s = 0; s < 3; s++) {
        for (let q = 0; q < 2; q++) {
          for (const r of ROW_TAPS[p][a]) {
            for (const c of COL_TAPS[q][s]) {
              for (let ci = 0; ci < cin; ci++) visit(p, (((a * 3 + s) * cin + ci) * 2 + q) * cout, ((r * 3 + c) * cin + ci) * cout);
            }
          }
        }
      }
    }
  }
}

/** The two row-phase kernels K_p [2, 3, Cin, 2 Cout] of conv3x3(upsample2x(x), w), as flat arrays (sums in float64). */
export function upsampleConvKernels(w: Float32Array, cin: number, cout: number): [Float32Array, Float32Array] {
  const k = [new Float64Array(6 * cin * 2 * cout), new Float64Array(6 * cin * 2 * cout)];
  forEachPhaseTap(cin, cout, (p, ko, wo) => {
    const kp = k[p];
    for (let co = 0; co < cout; co++) kp[ko + co] += w[wo + co];
  });
  return [Float32Array.from(k[0]), Float32Array.from(k[1])];
}

/** The adjoint of upsampleConvKernels: d loss / d w [3, 3, Cin, Cout] from d loss / d K_p. */
export function upsampleConvKernelGrad(dk: [Float32Array, Float32Array], cin: number, cout: number): Float32Array {
  const dw = new Float64Array(9 * cin * cout);
  forEachPhaseTap(cin, cout, (p, ko, wo) => {
    const g = dk[p];
    for (let co = 0; co < cout; co++) dw[wo + co] += g[ko + co];
  });
  return Float32Array.from(dw);
}

/** Rows of K_p's padding: phase p reads source rows i - 1 + p .. i + p. */
const phasePads = (p: number): Pad4 => [
  [0, 0],
  [1 - p, p],
  [1, 1],
  [0, 0],
];


/**
 * y = conv3x3(upsample_nearest_2x(x), w) + b, computed at the source resolution: each output-row phase p
 * is a [2, 3] convolution of x whose 2 Cout output channels are the two column phases (kernels summed
 * from w, upsampleConvKernels), and the two phase images interleave row by row. 24 multiply-adds per
 * source pixel and channel pair instead of the 36 of the upsampled 3x3 convolution, the same sums up to
 * float rounding. Gradients: dx and dK_p as for any convolution (phase pads mirrored), dw the adjoint sum.
 */
export const upsampleConv = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [x, w, b, save] = args as [tf.Tensor4D, tf.Tensor4D, tf.Tensor1D, tf.GradSaveFunc];
  const [n, h, wd, cin] = x.shape;
  const cout = w.shape[3];
  const k = upsampleConvKernels(w.dataSync() as Float32Array, cin, cout);
  const bv = b.dataSync() as Float32Array;
  const b2 = tf.tensor1d([...bv, ...bv]); // bias of the channels (q, co)
  const phases = [0, 1].map((p) => {
    const z = tf.fused.conv2d({ x, filter: tf.tensor4d(k[p], [2, 3, cin, 2 * cout]), strides: 1, pad: phasePads(p), bias: b2 }); // [B, H, W, 2 Cout]
    return tf.reshape(z, [n, h, 1, wd * 2 * cout]);
  });
  save([x]);
  return {
    // rows 2i + p of the output are phase p's row i; within a row, (j, q, co) is output column 2j + q
    value: tf.reshape(tf.concat(phases, 2), [n, 2 * h, 2 * wd, cout]),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
      tf.tidy(() => {
        const x0 = saved[0] as tf.Tensor4D;
        const dyr = tf.reshape(dy, [n, h, 2, wd * 2 * cout]);
        const gemm = gemmKernelGradAvailable();
        const xT = gemm ? undefined : (tf.transpose(x0, [3, 1, 2, 0]) as tf.Tensor4D);
        const dxs: tf.Tensor4D[] = [];
        const dks: Float32Array[] = [];
        for (let p = 0; p < 2; p++) {
          const dz = tf.reshape(sliceOnHeap(dyr, [0, 0, p, 0], [n, h, 1, wd * 2 * cout]), [n, h, wd, 2 * cout]) as tf.Tensor4D;
          dxs.push(tf.conv2d(dz, flipKernel(k[p], 2, 3, cin, 2 * cout), 1, phasePads(1 - p)));
          const pads = phasePads(p);
          const dk = xT === undefined ? kernelGradGemm(x0, dz, 2, 3, [pads[1], pads[2]]) : kernelGrad(xT, dz, pads, 1);
          dks.push(dk.dataSync() as Float32Array);
        }
        return [tf.add(dxs[0], dxs[1]), tf.tensor4d(upsampleConvKernelGrad(dks as [Float32Array, Float32Array], cin, cout), [3, 3, cin, cout]), channelSums(dy as tf.Tensor4D)];
      }),
  };
}) as (x: tf.Tensor4D, w: tf.Tensor4D, b: tf.Tensor1D) => tf.Tensor4D;
