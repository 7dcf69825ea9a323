/**
 * The one benchmark entry: `npm run bench <what> [-- options]`. Each benchmark keeps its own command line
 * (`npm run bench <what> -- --help`); this only picks it and hands it the rest of the arguments.
 *
 *   npm run bench edge -- --probe none      # edge sampling: U-Net forward in workerd / Node, end to end, memory
 *   npm run bench core                      # the diffusion core's per-step cost next to one U-Net call
 *   npm run bench export -- models/<name>   # fp32 vs int8 forward in onnxruntime-web under Node
 *   npm run bench train -- --sizes tiny     # training speed per backend, model size and batch size
 *   npm run bench grad-ab                   # the two weight-gradient paths of the wasm backend, paired
 *   npm run bench batches -- soak           # the batch path under wrangler dev: faults, soak, latency
 *   npm run bench isa                       # multiply-adds per second: wasm SIMD in V8 next to native AVX2 / AVX-512
 *
 * Arguments that start with an option (`npm run bench -- --probe none`) run `edge`, as `npm run bench` did.
 */
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '../..');

export const BENCHMARKS: Record<string, { file: string; what: string }> = {
  edge: { file: 'scripts/bench/cli.ts', what: 'edge sampling: U-Net forward in workerd and Node, end-to-end latency, throughput, memory' },
  core: { file: 'scripts/bench-core.ts', what: "the diffusion core's per-step cost next to one U-Net call" },
  export: { file: 'scripts/export/bench.ts', what: 'fp32 vs int8 forward time in onnxruntime-web under Node' },
  train: { file: 'scripts/train/bench.ts', what: 'training speed per backend, model size and batch size' },
  'grad-ab': { file: 'scripts/train/grad-ab.ts', what: 'weight gradients on wasm: per-tap GEMMs against the convolution form, paired' },
  batches: { file: 'scripts/bench/batches/cli.ts', what: 'the batch path under wrangler dev: faults, soak, latency' },
  isa: { file: 'scripts/bench/isa/cli.ts', what: "multiply-adds per second per instruction set: wasm SIMD (Node, workerd) next to native AVX2 / AVX-512 VNNI" },
};

function usage(): string {
  const names = Object.entries(BENCHMARKS).map(([name, b]) => `  ${name.padEnd(8)} ${b.what}`);
  return ['usage: npm run bench <what> [-- options]   (options of one: npm run bench <what> -- --help)', ...names].join('\n');
}

const [first, ...rest] = process.argv.slice(2);
const name = first === undefined || first.startsWith('-') ? 'edge' : first;
const args = first === undefined || first.startsWith('-') ? process.argv.slice(2) : rest;
if (name === 'help' || name === '--help') {
  console.log(usage());
} else {
  const bench = BENCHMARKS[name];
  if (bench === undefined) {
    console.error(`bench: unknown benchmark "${name}"\n${usage()}`);
    process.exit(2);
  }
  const file = join(ROOT, bench.file);
  // the benchmark reads its own arguments from process.argv, as when it was run directly
  process.argv = [process.argv[0], file, ...args];
  await import(pathToFileURL(file).href);
}
