// Run directly (`node --experimental-wasm-relaxed-simd --import tsx test/bench/isa-check.ts`, test/bench/isa.test.ts):
// checks the relaxed-SIMD kernels of bench isa against a plain-JS product and prints the results as JSON.
import { assembleKernels } from '../../scripts/bench/isa/cli.ts';
import { checkKernel, WASM_KERNELS } from '../../scripts/bench/isa/kernels.ts';

const mods = await assembleKernels();
const exports = (await WebAssembly.instantiate(mods.relaxed)).instance.exports;
const results = WASM_KERNELS.filter((k) => k.relaxed).map((k) => ({ name: k.name, ...checkKernel(exports, k) }));
process.stdout.write(JSON.stringify(results));
