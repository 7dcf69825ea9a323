/**
 * A SIMD WebAssembly kernel for the weight gradients of convolutions on tfjs-wasm (issue #21):
 *   out[tap][ci][co] += sum over rows r in [0, R - offs[tap]) of x[r + offs[tap]][ci] * dy[r][co]
 * with x [R', Cin] and dy [R, Cout] row-major on tfjs-wasm's own memory (the padded row grid of
 * wasm-kernel-grad.ts: tap (a, s) of a stride-1 kernel pairs dy's row r with x's row r + off), every tap from one
 * pass over the rows. XNNPACK's GEMM (the path before) runs one tap at a time and, with K = B x H x W rows of
 * about 37,000 and outputs of only Cin x Cout, streams the whole packed dy once per 4-row tile of x^T and per tap
 * from memory. Here the rows go in blocks of 64 for all taps, so a block of x and dy is read from memory once and
 * from cache for every tap and tile; the tile is 4 input x 8 output channels (8 f32x4 accumulators, one
 * broadcast of x and two loads of dy per row). Needs Cin % 4 == 0 and Cout % 8 == 0 (the callers fall back to
 * XNNPACK otherwise). Measured against the XNNPACK per-tap path on the presets' layer shapes, batch 32, one
 * thread: 1.4-1.9x faster (docs/training.md).
 *
 * The text is assembled by wabt (a devDependency, like all of training) when the wasm backend starts, and
 * instantiated on tfjs-backend-wasm's WebAssembly.Memory (its `asm.memory`), so it reads and writes tfjs' tensors
 * in place.
 */
import type wabtInit from 'wabt';

export const GEMM_TAPS_WAT = `(module
  (import "env" "memory" (memory 1))
  ;; out[tap][ci][co] += sum_r x[(r + offs[tap]) * cin + ci] * dy[r * cout + co], r in [0, R - offs[tap])
  ;; cin % 4 == 0, cout % 8 == 0; out accumulated (zero it first). Rows are taken in blocks of $rbs for all taps.
  (func (export "gemm_taps")
    (param $x i32) (param $dy i32) (param $out i32) (param $R i32) (param $cin i32) (param $cout i32)
    (param $ntaps i32) (param $offs i32) (param $rbs i32)
    (local $rb i32) (local $rend i32) (local $tap i32) (local $off i32) (local $ci i32) (local $co i32)
    (local $pd i32) (local $px i32) (local $po i32) (local $pend i32) (local $xs i32) (local $ds i32)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local $a4 v128) (local $a5 v128) (local $a6 v128) (local $a7 v128)
    (local $d0 v128) (local $d1 v128) (local $s v128)
    (local.set $xs (i32.shl (local.get $cin) (i32.const 2)))
    (local.set $ds (i32.shl (local.get $cout) (i32.const 2)))
    (local.set $rb (i32.const 0))
    (block $rb_done
      (loop $rb_loop
        (br_if $rb_done (i32.ge_s (local.get $rb) (local.get $R)))
        (local.set $tap (i32.const 0))
        (block $tap_done
          (loop $tap_loop
            (br_if $tap_done (i32.ge_s (local.get $tap) (local.get $ntaps)))
            (local.set $off (i32.load (i32.add (local.get $offs) (i32.shl (local.get $tap) (i32.const 2)))))
            (local.set $rend (i32.add (local.get $rb) (local.get $rbs)))
            (if (i32.gt_s (local.get $rend) (i32.sub (local.get $R) (local.get $off)))
              (then (local.set $rend (i32.sub (local.get $R) (local.get $off)))))
            (if (i32.gt_s (local.get $rend) (local.get $rb))
              (then
                (local.set $ci (i32.const 0))
                (loop $ci_loop
                  (local.set $co (i32.const 0))
                  (loop $co_loop
                    (local.set $a0 (v128.const i32x4 0 0 0 0))
                    (local.set $a1 (v128.const i32x4 0 0 0 0))
                    (local.set $a2 (v128.const i32x4 0 0 0 0))
                    (local.set $a3 (v128.const i32x4 0 0 0 0))
                    (local.set $a4 (v128.const i32x4 0 0 0 0))
                    (local.set $a5 (v128.const i32x4 0 0 0 0))
                    (local.set $a6 (v128.const i32x4 0 0 0 0))
                    (local.set $a7 (v128.const i32x4 0 0 0 0))
                    (local.set $pd (i32.add (i32.add (local.get $dy) (i32.mul (local.get $rb) (local.get $ds))) (i32.shl (local.get $co) (i32.const 2))))
                    (local.set $pend (i32.add (i32.add (local.get $dy) (i32.mul (local.get $rend) (local.get $ds))) (i32.shl (local.get $co) (i32.const 2))))
                    (local.set $px (i32.add (i32.add (local.get $x) (i32.mul (i32.add (local.get $rb) (local.get $off)) (local.get $xs))) (i32.shl (local.get $ci) (i32.const 2))))
                    (loop $r_loop
                      (local.set $d0 (v128.load (local.get $pd)))
                      (local.set $d1 (v128.load offset=16 (local.get $pd)))
                      (local.set $s (v128.load32_splat (local.get $px)))
                      (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $s) (local.get $d0))))
                      (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (local.get $s) (local.get $d1))))
                      (local.set $s (v128.load32_splat offset=4 (local.get $px)))
                      (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (local.get $s) (local.get $d0))))
                      (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (local.get $s) (local.get $d1))))
                      (local.set $s (v128.load32_splat offset=8 (local.get $px)))
                      (local.set $a4 (f32x4.add (local.get $a4) (f32x4.mul (local.get $s) (local.get $d0))))
                      (local.set $a5 (f32x4.add (local.get $a5) (f32x4.mul (local.get $s) (local.get $d1))))
                      (local.set $s (v128.load32_splat offset=12 (local.get $px)))
                      (local.set $a6 (f32x4.add (local.get $a6) (f32x4.mul (local.get $s) (local.get $d0))))
                      (local.set $a7 (f32x4.add (local.get $a7) (f32x4.mul (local.get $s) (local.get $d1))))
                      (local.set $pd (i32.add (local.get $pd) (local.get $ds)))
                      (local.set $px (i32.add (local.get $px) (local.get $xs)))
                      (br_if $r_loop (i32.lt_u (local.get $pd) (local.get $pend))))
                    ;; out row ci + k, columns co .. co + 8
                    (local.set $po (i32.add (local.get $out) (i32.shl
                      (i32.add (i32.mul (i32.add (i32.mul (local.get $tap) (local.get $cin)) (local.get $ci)) (local.get $cout)) (local.get $co))
                      (i32.const 2))))
                    (v128.store (local.get $po) (f32x4.add (v128.load (local.get $po)) (local.get $a0)))
                    (v128.store offset=16 (local.get $po) (f32x4.add (v128.load offset=16 (local.get $po)) (local.get $a1)))
                    (local.set $po (i32.add (local.get $po) (local.get $ds)))
                    (v128.store (local.get $po) (f32x4.add (v128.load (local.get $po)) (local.get $a2)))
                    (v128.store offset=16 (local.get $po) (f32x4.add (v128.load offset=16 (local.get $po)) (local.get $a3)))
                    (local.set $po (i32.add (local.get $po) (local.get $ds)))
                    (v128.store (local.get $po) (f32x4.add (v128.load (local.get $po)) (local.get $a4)))
                    (v128.store offset=16 (local.get $po) (f32x4.add (v128.load offset=16 (local.get $po)) (local.get $a5)))
                    (local.set $po (i32.add (local.get $po) (local.get $ds)))
                    (v128.store (local.get $po) (f32x4.add (v128.load (local.get $po)) (local.get $a6)))
                    (v128.store offset=16 (local.get $po) (f32x4.add (v128.load offset=16 (local.get $po)) (local.get $a7)))
                    (local.set $co (i32.add (local.get $co) (i32.const 8)))
                    (br_if $co_loop (i32.lt_s (local.get $co) (local.get $cout))))
                  (local.set $ci (i32.add (local.get $ci) (i32.const 4)))
                  (br_if $ci_loop (i32.lt_s (local.get $ci) (local.get $cin))))))
            (local.set $tap (i32.add (local.get $tap) (i32.const 1)))
            (br $tap_loop)))
        (local.set $rb (i32.add (local.get $rb) (local.get $rbs)))
        (br $rb_loop)))))
`;

/** Rows per block: a block of x and dy (64 rows x up to 96 channels x 4 bytes, x2) stays in L1/L2 for all taps. */
export const GEMM_ROW_BLOCK = 64;

export type GemmTaps = (x: number, dy: number, out: number, rows: number, cin: number, cout: number, taps: number, offs: number, rowBlock: number) => void;

/** Assembles GEMM_TAPS_WAT and instantiates it on `memory` (tfjs-backend-wasm's): the kernel's function. */
export async function instantiateGemmTaps(memory: WebAssembly.Memory): Promise<GemmTaps> {
  const init: typeof wabtInit = (await import('wabt')).default;
  const wabt = await init();
  const parsed = wabt.parseWat('gemm-taps.wat', GEMM_TAPS_WAT, { simd: true });
  try {
    parsed.validate();
    const { buffer } = parsed.toBinary({});
    const instance = await WebAssembly.instantiate(new WebAssembly.Module(new Uint8Array(buffer)), { env: { memory } });
    return instance.exports.gemm_taps as GemmTaps;
  } finally {
    parsed.destroy();
  }
}
