// npm run bench isa (scripts/bench/isa/): the wasm kernels compute the products they are credited with (so a GMAC/s
// figure counts real multiply-adds), the timing loop's arithmetic, and the report's ratios.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { assembleKernels, isaReport, spread, type IsaRow } from '../../scripts/bench/isa/cli.ts';
import { checkKernel, runKernels, WASM_KERNELS } from '../../scripts/bench/isa/kernels.ts';

describe('bench isa: the wasm kernels', () => {
  it('compute C += A B over all of K for every multiply-add they are credited with', async () => {
    const mods = await assembleKernels();
    const plain = (await WebAssembly.instantiate(mods.simd)).instance.exports;
    const relaxed = WebAssembly.validate(mods.relaxed) ? (await WebAssembly.instantiate(mods.relaxed)).instance.exports : undefined;
    let checked = 0;
    for (const k of WASM_KERNELS) {
      const exports = k.relaxed ? relaxed : plain;
      if (!exports) continue; // Node 20 without --experimental-wasm-relaxed-simd
      const { got, want, macs } = checkKernel(exports, k);
      expect(got, k.name).toEqual(want);
      expect(k.macs, k.name).toBe(macs);
      checked++;
    }
    expect(checked).toBeGreaterThanOrEqual(3);
  });

  it('the relaxed-SIMD kernels too (in a Node started with --experimental-wasm-relaxed-simd, optimized code)', () => {
    // --no-liftoff: Node 20's baseline compiler (V8 11.3, relaxed SIMD still experimental there) gets the relaxed int8
    // dot product wrong for two of the four rows; the optimized code, which the bench times after tier-up, is exact
    const child = spawnSync(process.execPath, ['--experimental-wasm-relaxed-simd', '--no-liftoff', '--import', 'tsx', join(import.meta.dirname, 'isa-check.ts')], { encoding: 'utf8' });
    expect(child.status, child.stderr).toBe(0);
    const results = JSON.parse(child.stdout) as { name: string; got: number[]; want: number[]; macs: number }[];
    expect(results.map((r) => r.name)).toEqual(WASM_KERNELS.filter((k) => k.relaxed).map((k) => k.name));
    for (const r of results) {
      expect(r.got, r.name).toEqual(r.want);
      expect(WASM_KERNELS.find((k) => k.name === r.name)!.macs).toBe(r.macs);
    }
  });

  it('times rounds with the clock it is given and turns them into 1e9 multiply-adds per second', () => {
    let clock = 0;
    const calls: number[] = [];
    // a kernel that takes 0.01 ms per rep on the fake clock
    const exports = { memory: new WebAssembly.Memory({ initial: 3 }), int8_4x8: (reps: number) => { calls.push(reps); clock += reps * 0.01; } };
    const runs = runKernels(exports as unknown as WebAssembly.Exports, WASM_KERNELS, 3, 50, () => clock);
    expect(runs.map((r) => r.name)).toEqual(['int8_4x8']); // kernels the module lacks are skipped
    expect(runs[0].exact).toBe(false); // this one computes nothing: its C is not the product
    expect(runs[0].gmacs).toHaveLength(3);
    const macs = WASM_KERNELS.find((k) => k.name === 'int8_4x8')!.macs;
    for (const g of runs[0].gmacs) expect(g).toBeCloseTo(macs / (0.01 * 1e6), 6);
    // calibration grows reps until a call lasts 20 ms, then a round is sized to about 50 ms
    expect(calls.at(-1)).toBe(1); // the product check's one call comes after the timed rounds
    expect(calls.slice(-4, -1)).toEqual([5000, 5000, 5000]);
  });
});

describe('bench isa: the report', () => {
  const row = (runtime: IsaRow['runtime'], name: string, gmacs: number[], exact?: boolean): IsaRow => ({ runtime, name, label: name, gmacs, exact });

  it("divides every median by onnxruntime-web's kernel shape in workerd, and says so", () => {
    const text = isaReport([row('Node (V8)', 'int8_1x8', [10, 12, 11], false), row('workerd (V8)', 'int8_1x8', [20, 21, 22], true), row('native (cc -O3)', 'int8_vnni', [300, 330, 315])], ['a note'], 'meta');
    expect(text).toContain('| workerd (V8) | int8_1x8 | 21.0 [20.0, 22.0] | 1.00x | exact |');
    expect(text).toContain('| Node (V8) | int8_1x8 | 11.0 [10.0, 12.0] | 0.52x | WRONG |');
    expect(text).toContain('| native (cc -O3) | int8_vnni | 315.0 [300.0, 330.0] | 15.00x | not checked |');
    expect(text).toContain('in workerd (V8)');
    expect(text).toContain('a note');
  });

  it('falls back to the Node figure without workerd, and to n/a without either', () => {
    expect(isaReport([row('Node (V8)', 'int8_1x8', [10]), row('Node (V8)', 'fp32_4x8', [20])], [], 'm')).toContain('| Node (V8) | fp32_4x8 | 20.0 [20.0, 20.0] | 2.00x |');
    expect(isaReport([row('native (cc -O3)', 'fp32_avx2', [70])], [], 'm')).toContain('| n/a | not checked |');
    expect(spread([3, 1, 2])).toBe('2.0 [1.0, 3.0]');
  });
});
