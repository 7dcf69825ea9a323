/**
 * The weight gradient of a stride-1 convolution as GEMMs over a padded row grid: no im2col (tfjs-wasm has no
 * Conv2DBackpropFilter; the fallback in conv-tfjs.ts is a convolution whose kernel is the whole image, about
 * 1.4x a forward convolution plus two large transposes). Two kernels compute the same products:
 *   - the SIMD wasm kernel of wasm-gemm.ts, all taps in one pass over the rows, reading x and dy in place (no
 *     transpose) when Cin % 4 == 0 and Cout % 8 == 0 (every layer of the presets but the 1-channel input and
 *     output convolutions); 1.5-2x faster per layer than the XNNPACK path below (docs/training.md);
 *   - XNNPACK's GEMM, one tap at a time, for the other channel counts (and with DDPM_GEMM_KERNEL=xnnpack).
 * matMulTN gives the 1x1 convolutions' weight gradients (a^T b over the pixels) to the same wasm kernel.
 *
 * Layout. x gets max(top, bottom) zero rows before each image and max(left, right) zero columns before each
 * row, plus one zero image at the end: [B + 1, Hq, Wq, Cin]. One image's bottom padding is the next one's top
 * padding and one row's right padding the next one's left, so the waste is Hq Wq / (H W) (1.07x at 32x32,
 * 1.27x at 8x8). dy is padded after to the same [B + 1, Hq, Wq, Cout] with zeros. Flattened to rows
 * r = (b Hq + i) Wq + j (R rows), the kernel tap (a, s) pairs row r of dy with row r + off of x,
 * off = (a + Pt - top) Wq + s + Pl - left, so
 *   dw[a, s] = X_off^T dY,   X_off = rows off .. off + R of x,
 * a [Cin, R] x [R, Cout] product per tap. The wasm kernel reads x's row r + off directly and leaves out dy's rows
 * past R - off (all in the zero image).
 *
 * XNNPACK path: tfjs-wasm sends a batch-1 untransposed matMul to XNNPACK's fully connected operator, which
 * takes the right operand as weights, packs it and caches the packing on its tensor id: dY is that operand, packed once for
 * all taps. The left operand is x^T [Cin, R], transposed once into a buffer followed by off_max zero floats;
 * tap (a, s) reads it from float `off` with row stride R, so row ci runs `off` floats into row ci + 1 (or the
 * zero tail), and those meet dY's last rows, the zero image. Each tap is a view, not a copy.
 *
 * The views are tensor ids registered on the module's memory for the duration of the call (tfjs' own
 * `register_tensor` / `dispose_data`, as its makeOutput does for memory allocated elsewhere) and the products
 * are the module's own BatchMatMul: this relies on tfjs-backend-wasm 4.22's internals (pinned in
 * package.json). test/train/gradients.test.ts checks it against a direct sum and the U-Net's gradients
 * against autodiff. DDPM_GEMM_KERNEL_GRAD=0 switches it off (the benchmark's comparison).
 */
import * as tf from '@tensorflow/tfjs';
import { GEMM_ROW_BLOCK, instantiateGemmTaps, type GemmTaps } from './wasm-gemm.ts';

const KERNEL = 'DdpmConvKernelGradGemm';

/** What this uses of tfjs-backend-wasm 4.22's backend object. */
interface WasmInternals {
  wasm: {
    asm: { memory: WebAssembly.Memory };
    _malloc(bytes: number): number;
    _free(ptr: number): void;
    HEAPF32: Float32Array;
    tfjs: { registerTensor(id: number, size: number, offset: number): void; disposeData(id: number): void };
    cwrap(name: string, ret: null, args: string[]): (...a: unknown[]) => void;
  };
  dataIdMap: { get(dataId: tf.DataId): { id: number; memoryOffset: number } };
  dataIdNextNumber: number;
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
}

interface Attrs {
  kh: number;
  kw: number;
  /** tap (a, s) reads x's row r + (a + rowShift) Wq + s + colShift */
  rowShift: number;
  colShift: number;
}

let matMul: ((...a: unknown[]) => void) | undefined;
let transpose: ((...a: unknown[]) => void) | undefined;
/** The SIMD kernel of wasm-gemm.ts on tfjs' memory, once prepareWasmGemm has run (null: XNNPACK only). */
let gemmTaps: GemmTaps | null = null;
let gemmMemory: WebAssembly.Memory | null = null;
/** Which path each weight gradient took (the tests check that both run). */
export const gemmPathCalls = { wasm: 0, xnnpack: 0 };

/**
 * Instantiates the SIMD weight-gradient kernel (wasm-gemm.ts) on the active tfjs-wasm backend's memory; called
 * when the wasm backend starts. DDPM_GEMM_KERNEL=xnnpack keeps XNNPACK's per-tap GEMMs (for comparisons).
 * Returns a line for the backend log.
 */
export async function prepareWasmGemm(): Promise<string> {
  if (process.env.DDPM_GEMM_KERNEL === 'xnnpack') {
    gemmTaps = null;
    return 'weight gradients: XNNPACK per-tap GEMMs (DDPM_GEMM_KERNEL=xnnpack)';
  }
  const memory = (tf.backend() as unknown as WasmInternals).wasm.asm.memory;
  if (gemmTaps === null || gemmMemory !== memory) {
    gemmTaps = await instantiateGemmTaps(memory);
    gemmMemory = memory;
  }
  return 'weight gradients: SIMD wasm kernel, all taps per pass (XNNPACK for channel counts it does not take)';
}

/** Runs the wasm kernel: out [taps, cin, cout] (zeroed here) from x rows at offsets `offs` and dy rows. */
function runGemmTaps(be: WasmInternals, x: number, dy: number, out: number, rows: number, cin: number, cout: number, offs: readonly number[]): void {
  const wasm = be.wasm;
  wasm.HEAPF32.fill(0, out / 4, out / 4 + offs.length * cin * cout);
  const offsPtr = wasm._malloc(offs.length * 4) >>> 0;
  try {
    new Int32Array(wasm.HEAPF32.buffer, offsPtr, offs.length).set(offs);
    gemmTaps!(x, dy, out, rows, cin, cout, offs.length, offsPtr, GEMM_ROW_BLOCK);
  } finally {
    wasm._free(offsPtr);
  }
  gemmPathCalls.wasm++;
}

let gemmEnabled = true;

/** Turns the wasm kernel off (XNNPACK only) or back on, once prepared: paired comparisons in one process. */
export function useWasmGemm(on: boolean): void {
  gemmEnabled = on;
}

/** Whether the wasm kernel takes these channel counts (4 input x 8 output channels per tile). */
const wasmKernelFits = (cin: number, cout: number): boolean => gemmEnabled && gemmTaps !== null && cin % 4 === 0 && cout % 8 === 0;

const shapeBytes = (s: number[]): Uint8Array => new Uint8Array(new Int32Array(s).buffer);

/** inputs: xp [B + 1, Hq, Wq, Cin] (x laid out as kernelGradGemm says), dyp [B + 1, Hq, Wq, Cout]; output [kh, kw, Cin, Cout]. */
function kernelFunc({ inputs, backend, attrs }: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: unknown }): tf.TensorInfo {
  const be = backend as WasmInternals;
  const { kh, kw, rowShift, colShift } = attrs as unknown as Attrs;
  const xp = inputs.xp as tf.TensorInfo;
  const dyp = inputs.dyp as tf.TensorInfo;
  const [b1, hq, wq, cin] = xp.shape;
  const cout = dyp.shape[3];
  const r = b1 * hq * wq;
  const tail = (kh - 1 + rowShift) * wq + kw - 1 + colShift; // the largest tap offset
  const wasm = be.wasm;
  matMul ??= wasm.cwrap('BatchMatMul', null, ['number', 'array', 'number', 'number', 'array', 'number', 'number', 'number', 'number']);
  transpose ??= wasm.cwrap('Transpose', null, ['number', 'array', 'number', 'number', 'number', 'array', 'number']);
  const out = be.makeOutput([kh, kw, cin, cout], 'float32');
  const outOffset = be.dataIdMap.get(out.dataId).memoryOffset;
  // tap (a, s) = offs[a kw + s] pairs dy's row r with x's row r + offs[a kw + s]
  const offs: number[] = [];
  for (let a = 0; a < kh; a++) for (let s = 0; s < kw; s++) offs.push((a + rowShift) * wq + s + colShift);
  // the wasm kernel skips dy's rows whose x row would lie past the end: all in the zero image when tail <= Hq Wq
  if (wasmKernelFits(cin, cout) && tail <= hq * wq) {
    runGemmTaps(be, be.dataIdMap.get(xp.dataId).memoryOffset, be.dataIdMap.get(dyp.dataId).memoryOffset, outOffset, r, cin, cout, offs);
    return out;
  }
  gemmPathCalls.xnnpack++;
  const buf = wasm._malloc((cin * r + tail) * 4) >>> 0;
  const ids: number[] = [];
  const view = (offset: number, size: number): number => {
    const id = be.dataIdNextNumber++;
    wasm.tfjs.registerTensor(id, size, offset);
    ids.push(id);
    return id;
  };
  try {
    wasm.HEAPF32.fill(0, buf / 4 + cin * r, buf / 4 + cin * r + tail);
    transpose(be.dataIdMap.get(xp.dataId).id, shapeBytes([r, cin]), 2, 0, view(buf, cin * r), shapeBytes([1, 0]), 2);
    const rhs = be.dataIdMap.get(dyp.dataId).id; // packed by the first tap, the packing cached on this id
    for (let a = 0; a < kh; a++) {
      for (let s = 0; s < kw; s++) {
        const off = offs[a * kw + s];
        const dst = view(outOffset + (a * kw + s) * cin * cout * 4, cin * cout);
        matMul(view(buf + off * 4, cin * r), shapeBytes([1, cin, r]), 3, rhs, shapeBytes([1, r, cout]), 3, 0, 0, dst);
      }
    }
  } finally {
    for (const id of ids) wasm.tfjs.disposeData(id);
    wasm._free(buf);
  }
  return out;
}

const MATMUL_TN = 'DdpmMatMulTN';

/** inputs: a [R, M], b [R, N]; output a^T b [M, N] by the wasm kernel (one tap at offset 0). */
function matMulTNKernel({ inputs, backend }: { inputs: tf.NamedTensorInfoMap; backend: unknown }): tf.TensorInfo {
  const be = backend as WasmInternals;
  const a = inputs.a as tf.TensorInfo;
  const b = inputs.b as tf.TensorInfo;
  const [rows, m] = a.shape;
  const n = b.shape[1];
  const out = be.makeOutput([m, n], 'float32');
  runGemmTaps(be, be.dataIdMap.get(a.dataId).memoryOffset, be.dataIdMap.get(b.dataId).memoryOffset, be.dataIdMap.get(out.dataId).memoryOffset, rows, m, n, [0]);
  return out;
}

let tnRegistered = false;

/**
 * a^T b for a [R, M], b [R, N] (the weight gradient of a 1x1 convolution over R = B H W pixels) by the wasm
 * kernel, without transposing either operand; null when the kernel is not there or M % 4 or N % 8 is not 0.
 */
export function matMulTN(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D | null {
  if (tf.getBackend() !== 'wasm' || !wasmKernelFits(a.shape[1], b.shape[1])) return null;
  if (a.shape[0] !== b.shape[0]) throw new Error(`matMulTN: a has ${a.shape[0]} rows, b ${b.shape[0]}`);
  if (!tnRegistered) {
    tf.registerKernel({ kernelName: MATMUL_TN, backendName: 'wasm', kernelFunc: matMulTNKernel as unknown as tf.KernelFunc });
    tnRegistered = true;
  }
  return tf.engine().runKernel(MATMUL_TN, { a, b }, {}) as tf.Tensor2D;
}

let registered = false;

/** Whether the GEMM weight gradient can run on the current backend (tfjs-wasm). */
export function gemmKernelGradAvailable(): boolean {
  if (tf.getBackend() !== 'wasm' || process.env.DDPM_GEMM_KERNEL_GRAD === '0') return false;
  if (!registered) {
    tf.registerKernel({ kernelName: KERNEL, backendName: 'wasm', kernelFunc: kernelFunc as unknown as tf.KernelFunc });
    registered = true;
  }
  return true;
}

const SLICE = 'DdpmSliceOnHeap';
let sliceRegistered = false;

/**
 * tfjs-wasm 4.22's Slice reads its input through `readSync`, a copy of the whole tensor into a new
 * ArrayBuffer, before it copies the slice out: on the upsampling convolution's output gradient (one row phase of
 * [B, H, 2, W 2 Cout]) that allocation cost more than the copy. This one copies rows heap to heap.
 */
function sliceKernel({ inputs, backend, attrs }: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: unknown }): tf.TensorInfo {
  const be = backend as WasmInternals;
  const x = inputs.x as tf.TensorInfo;
  const { begin, size } = attrs as unknown as { begin: number[]; size: number[] };
  const out = be.makeOutput(size, 'float32'); // may grow the memory: read HEAPF32 after it
  const heap = be.wasm.HEAPF32;
  const src = be.dataIdMap.get(x.dataId).memoryOffset / 4;
  let dst = be.dataIdMap.get(out.dataId).memoryOffset / 4;
  const rank = x.shape.length;
  const strides = new Array<number>(rank).fill(1);
  for (let d = rank - 2; d >= 0; d--) strides[d] = strides[d + 1] * x.shape[d + 1];
  const row = size[rank - 1];
  const rows = size.slice(0, rank - 1).reduce((a, b) => a * b, 1);
  const idx = new Array<number>(rank - 1).fill(0);
  for (let r = 0; r < rows; r++) {
    let off = src + begin[rank - 1];
    for (let d = 0; d < rank - 1; d++) off += (begin[d] + idx[d]) * strides[d];
    heap.copyWithin(dst, off, off + row);
    dst += row;
    for (let d = rank - 2; d >= 0 && ++idx[d] === size[d]; d--) idx[d] = 0;
  }
  return out;
}

/** tf.slice of a float32 tensor (explicit begin and size, no -1); on tfjs-wasm without the whole-input copy of its own Slice kernel. */
export function sliceOnHeap<T extends tf.Tensor>(x: T, begin: number[], size: number[]): T {
  if (tf.getBackend() !== 'wasm' || x.dtype !== 'float32' || x.rank < 1) return tf.slice(x, begin, size);
  if (!sliceRegistered) {
    tf.registerKernel({ kernelName: SLICE, backendName: 'wasm', kernelFunc: sliceKernel as unknown as tf.KernelFunc });
    sliceRegistered = true;
  }
  return tf.engine().runKernel(SLICE, { x }, { begin, size } as unknown as tf.NamedAttrMap) as T;
}

/**
 * dw [kh, kw, Cin, Cout] of y = conv(x, w) with stride 1 and padding `pads` ([top, bottom], [left, right]):
 * x [B, H, W, Cin], dy [B, Ho, Wo, Cout], Ho = H + top + bottom - kh + 1 (likewise Wo).
 */
export function kernelGradGemm(x: tf.Tensor4D, dy: tf.Tensor4D, kh: number, kw: number, pads: [[number, number], [number, number]]): tf.Tensor4D {
  return tf.tidy(() => {
    const [, h, w] = x.shape;
    const [, ho, wo] = dy.shape;
    const [[top, bottom], [left, right]] = pads;
    if (ho !== h + top + bottom - kh + 1 || wo !== w + left + right - kw + 1) throw new Error(`kernelGradGemm: dy ${ho}x${wo} does not match x ${h}x${w} with a ${kh}x${kw} kernel and pads ${JSON.stringify(pads)}`);
    // x with max(top, bottom) zero rows before each image and max(left, right) zero columns before each row:
    // one image's bottom padding is the next one's top padding, one row's right padding the next one's left
    const pt = Math.max(top, bottom);
    const pl = Math.max(left, right);
    const hq = h + pt;
    const wq = w + pl;
    // one more (zero) image on both: dy's last Hq Wq rows are zeros, which the taps' overhang meets
    const xp = tf.pad(x, [[0, 1], [pt, 0], [pl, 0], [0, 0]]);
    const dyp = tf.pad(dy, [[0, 1], [0, hq - ho], [0, wq - wo], [0, 0]]);
    return tf.engine().runKernel(KERNEL, { xp, dyp }, { kh, kw, rowShift: pt - top, colShift: pl - left } as unknown as tf.NamedAttrMap) as tf.Tensor4D;
  });
}

