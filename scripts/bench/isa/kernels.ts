/**
 * Multiply-add throughput of one core per instruction set, on in-cache data (`npm run bench isa`): the ceiling
 * under onnxruntime-web's kernels (wasm SIMD128 in V8) and under onnxruntime-node's (x86-64 AVX2, AVX-512, VNNI).
 *
 * The wasm kernels are GEMM micro-kernels C[rows x cols] += A[rows x K] B[K x cols] with K = 512, written as
 * WebAssembly text (assembled by wabt) and run on a memory of their own. Pure: runs in Node and in workerd.
 */

export const K = 512;
const A_AT = 0;
const B_AT = 65536;
const C_AT = 131072;

export interface WasmKernel {
  /** Export name. */
  name: string;
  label: string;
  /** Needs relaxed SIMD (a separate module: a runtime without it still runs the others). */
  relaxed: boolean;
  /** Multiply-adds per call with reps = 1. */
  macs: number;
  rows: number;
  /** Element type of A and B in memory. */
  kind: 'i16' | 'i8' | 'f32';
  wat: string;
}

interface Shape {
  rows: number;
  /** v128 accumulators per row. */
  vectors: number;
  /** k per inner step (2: i16 pairs; 4: i8 quads; 1: f32). */
  kstep: number;
  /** bytes per element of A. */
  aBytes: number;
  zero: string;
  splat: (addr: string) => string;
  step: (b: string, a: string, c: string) => string;
}

function kernelText(name: string, s: Shape): string {
  const acc: string[] = [];
  for (let i = 0; i < s.rows; i++) for (let j = 0; j < s.vectors; j++) acc.push(`$c${i}_${j}`);
  const locals = [...acc.map((a) => `(local ${a} v128)`), ...Array.from({ length: s.vectors }, (_, j) => `(local $b${j} v128)`), '(local $a v128)'].join(' ');
  const inner: string[] = [];
  const bStride = s.vectors * 16;
  for (let j = 0; j < s.vectors; j++) inner.push(`(local.set $b${j} (v128.load offset=${B_AT + j * 16} (i32.mul (local.get $k) (i32.const ${bStride}))))`);
  for (let i = 0; i < s.rows; i++) {
    inner.push(`(local.set $a ${s.splat(`(i32.add (i32.const ${A_AT + i * K * s.aBytes}) (i32.mul (local.get $k) (i32.const ${s.kstep * s.aBytes})))`)})`);
    for (let j = 0; j < s.vectors; j++) inner.push(`(local.set $c${i}_${j} ${s.step(`(local.get $b${j})`, '(local.get $a)', `(local.get $c${i}_${j})`)})`);
  }
  return `(func (export "${name}") (param $reps i32) (local $r i32) (local $k i32) ${locals}
  (local.set $r (i32.const 0))
  (loop $rep
    ${acc.map((a) => `(local.set ${a} ${s.zero})`).join(' ')}
    (local.set $k (i32.const 0))
    (loop $kl
      ${inner.join('\n      ')}
      (local.set $k (i32.add (local.get $k) (i32.const 1)))
      (br_if $kl (i32.lt_u (local.get $k) (i32.const ${K / s.kstep}))))
    ${acc.map((a, n) => `(v128.store offset=${C_AT + n * 16} (i32.const 0) (local.get ${a}))`).join(' ')}
    (local.set $r (i32.add (local.get $r) (i32.const 1)))
    (br_if $rep (i32.lt_u (local.get $r) (local.get $reps)))))`;
}

const i32Splat = (addr: string): string => `(i32x4.splat (i32.load ${addr}))`;
const f32Splat = (addr: string): string => `(f32x4.splat (f32.load ${addr}))`;
const ZERO = '(v128.const i32x4 0 0 0 0)';

function kernel(name: string, label: string, relaxed: boolean, s: Shape): WasmKernel {
  // an i32x4/f32x4 accumulator holds 4 columns; macs = rows x columns x K
  const kind = s.aBytes === 4 ? 'f32' : s.aBytes === 2 ? 'i16' : 'i8';
  return { name, label, relaxed, macs: s.rows * s.vectors * 4 * K, rows: s.rows, kind, wat: kernelText(name, s) };
}

export const WASM_KERNELS: readonly WasmKernel[] = [
  // the shape of onnxruntime's wasm QGEMM kernel (MLAS qgemm_kernel_wasmsimd.cpp): one row of A, 8 columns,
  // u8 widened to i16 pairs, i32x4.dot_i16x8_s
  kernel('int8_1x8', 'int8, i32x4.dot_i16x8_s, 1 row x 8 (onnxruntime-web QGEMM shape)', false, { rows: 1, vectors: 2, kstep: 2, aBytes: 2, zero: ZERO, splat: i32Splat, step: (b, a, c) => `(i32x4.add ${c} (i32x4.dot_i16x8_s ${b} ${a}))` }),
  kernel('int8_4x8', 'int8, i32x4.dot_i16x8_s, 4 rows x 8', false, { rows: 4, vectors: 2, kstep: 2, aBytes: 2, zero: ZERO, splat: i32Splat, step: (b, a, c) => `(i32x4.add ${c} (i32x4.dot_i16x8_s ${b} ${a}))` }),
  kernel('int8_relaxed_4x8', 'int8, relaxed i32x4.dot_i8x16_i7x16_add_s, 4 rows x 8', true, { rows: 4, vectors: 2, kstep: 4, aBytes: 1, zero: ZERO, splat: i32Splat, step: (b, a, c) => `(i32x4.relaxed_dot_i8x16_i7x16_add_s ${b} ${a} ${c})` }),
  kernel('fp32_4x8', 'fp32, f32x4.mul + f32x4.add, 4 rows x 8', false, { rows: 4, vectors: 2, kstep: 1, aBytes: 4, zero: ZERO, splat: f32Splat, step: (b, a, c) => `(f32x4.add ${c} (f32x4.mul ${a} ${b}))` }),
  kernel('fp32_relaxed_4x8', 'fp32, relaxed f32x4.relaxed_madd, 4 rows x 8', true, { rows: 4, vectors: 2, kstep: 1, aBytes: 4, zero: ZERO, splat: f32Splat, step: (b, a, c) => `(f32x4.relaxed_madd ${a} ${b} ${c})` }),
];

/** The module text of the plain-SIMD kernels, or of the relaxed ones. */
export function wasmModuleText(relaxed: boolean): string {
  return `(module (memory (export "memory") 3)\n${WASM_KERNELS.filter((k) => k.relaxed === relaxed).map((k) => k.wat).join('\n')})`;
}

/**
 * Fills A and B with small integers, runs one call of `k`, and returns its C next to a plain-JS product (exact: the
 * products and sums are integers well inside f32 and i16 range), and the multiply-adds that product took.
 */
export function checkKernel(exports: WebAssembly.Exports, k: WasmKernel): { got: number[]; want: number[]; macs: number } {
  const mem = exports.memory as WebAssembly.Memory;
  const { rows, kind } = k;
  const cols = k.macs / (rows * K);
  const a = Array.from({ length: rows }, (_, i) => Array.from({ length: K }, (_, kk) => ((i * 31 + kk * 7) % 120) + 1));
  const b = Array.from({ length: K }, (_, kk) => Array.from({ length: cols }, (_, c) => ((kk * 13 + c * 5) % 61) - 30));
  const view = new DataView(mem.buffer);
  const kstep = kind === 'i16' ? 2 : kind === 'i8' ? 4 : 1;
  for (let i = 0; i < rows; i++)
    for (let kk = 0; kk < K; kk++) {
      if (kind === 'i16') view.setInt16(A_AT + (i * K + kk) * 2, a[i][kk], true);
      else if (kind === 'i8') view.setUint8(A_AT + i * K + kk, a[i][kk]);
      else view.setFloat32(A_AT + (i * K + kk) * 4, a[i][kk], true);
    }
  // B packed per k-step: column c in lane c % 4 of vector c / 4; within a lane the step's k values side by side
  for (let s = 0; s < K / kstep; s++)
    for (let c = 0; c < cols; c++)
      for (let m = 0; m < kstep; m++) {
        const v = b[s * kstep + m][c];
        const at = B_AT + s * cols * 4 + (c >> 2) * 16 + (c & 3) * 4 + m * (4 / kstep);
        if (kind === 'i16') view.setInt16(at, v, true);
        else if (kind === 'i8') view.setInt8(at, v);
        else view.setFloat32(at, v, true);
      }
  (exports[k.name] as (reps: number) => void)(1);
  const got: number[] = [];
  const want: number[] = [];
  for (let i = 0; i < rows; i++)
    for (let c = 0; c < cols; c++) {
      const at = C_AT + (i * (cols / 4) + (c >> 2)) * 16 + (c & 3) * 4;
      got.push(kind === 'f32' ? view.getFloat32(at, true) : view.getInt32(at, true));
      let sum = 0;
      for (let kk = 0; kk < K; kk++) sum += a[i][kk] * b[kk][c];
      want.push(sum);
    }
  return { got, want, macs: rows * cols * K };
}

export interface KernelRun {
  name: string;
  /** The kernel's C equalled the plain-JS product (checkKernel, after the timed rounds). */
  exact: boolean;
  /** Multiply-adds per second, in units of 1e9, one figure per round. */
  gmacs: number[];
}

/**
 * Times each exported kernel: a calibration call sizes a round to about `roundMs`, then `rounds` rounds.
 * `now` is the runtime's clock (workerd's moves in whole milliseconds: keep rounds at tens of ms or more).
 */
export function runKernels(exports: WebAssembly.Exports, kernels: readonly WasmKernel[], rounds: number, roundMs: number, now: () => number): KernelRun[] {
  const out: KernelRun[] = [];
  for (const k of kernels) {
    const fn = exports[k.name] as ((reps: number) => void) | undefined;
    if (typeof fn !== 'function') continue;
    // tier up (V8 compiles hot wasm functions again with TurboFan), then size the rounds
    let reps = 64;
    let t = 0;
    for (;;) {
      const t0 = now();
      fn(reps);
      t = now() - t0;
      if (t >= 20 || reps > 1 << 28) break;
      reps *= 4;
    }
    const perRound = Math.max(1, Math.round((reps * roundMs) / Math.max(t, 1)));
    const gmacs: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const t0 = now();
      fn(perRound);
      const dt = Math.max(now() - t0, 1e-3);
      gmacs.push((perRound * k.macs) / (dt * 1e6));
    }
    // checked after the timed rounds: V8 has tiered the function up by then, so this is the code that was timed
    const { got, want } = checkKernel(exports, k);
    out.push({ name: k.name, exact: got.every((g, i) => g === want[i]), gmacs });
  }
  return out;
}
