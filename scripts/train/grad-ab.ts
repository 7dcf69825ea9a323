/**
 * `npm run bench grad-ab`: the two weight-gradient paths of the wasm backend compared in a way this noisy
 * 2-core machine can resolve. Each process alternates the two paths on the same gradient computation
 * (lossAndGrads of one shard, as a training worker runs it), ABBA-ordered, and reports the median ratio of
 * the pairs; `--processes 2` (the default) runs two such processes at once, as the two training workers
 * share the cores and the memory bandwidth. Separate runs of `npm run bench train` drift by 10-15% between
 * runs here, more than the difference measured.
 *
 *   A = `--against xnnpack` (default): the per-tap GEMMs on XNNPACK alone (useWasmGemm(false));
 *       `--against conv`: the convolution form (conv-tfjs.ts kernelGrad; DDPM_GEMM_KERNEL_GRAD=0)
 *   B = the GEMM path as training runs it: the SIMD wasm kernel (wasm-gemm.ts) where the channels fit, XNNPACK's
 *       per-tap GEMMs elsewhere (wasm-kernel-grad.ts)
 */
import { Command, Option } from 'commander';
import { spawn } from 'node:child_process';
import { makeSchedule } from '../../src/diffusion/index.ts';
import { selectBackend } from './backend.ts';
import { BatchMaker } from './batch.ts';
import type { Dataset } from './data.ts';
import { createUNet } from './model.ts';
import { lossAndGrads } from './grad.ts';
import { DEFAULT_UNET, PRESETS } from './options.ts';
import type { UNetConfig } from '../model/config.ts';
import { useWasmGemm } from '../model/wasm-kernel-grad.ts';

type Against = 'xnnpack' | 'conv';
const AGAINST: readonly Against[] = ['xnnpack', 'conv'];

interface Result {
  size: string;
  pid: number;
  /** The baseline path A (--against). */
  convMs: number;
  gemmMs: number;
  ratio: number;
  min: number;
  max: number;
}

const median = (a: number[]): number => {
  const s = [...a].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** One process: `pairs` ABBA-ordered pairs of gradient computations of one shard. */
async function measure(size: string, shard: number, pairs: number, against: Against): Promise<Result> {
  await selectBackend('wasm');
  const preset = PRESETS[size];
  if (!preset) throw new Error(`unknown size ${size}; presets: ${Object.keys(PRESETS).join(', ')}`);
  const cfg: UNetConfig = { ...DEFAULT_UNET, ...preset, imageSize: 32, numClasses: 10 };
  const n = 256;
  const ds: Dataset = { pixels: new Uint8Array(n * 32 * 32).map((_, i) => (i * 2654435761) >>> 24), count: n, size: 32, channels: 1, labels: new Int32Array(n).map((_, i) => i % 10), classNames: null, source: 'synthetic' };
  const bm = new BatchMaker(ds, makeSchedule({ kind: 'linear', T: 1000 }), { seed: 0, batchSize: shard, objective: 'eps', weighting: { kind: 'none' }, hflip: false, numClasses: 10, labelDropout: 0.1, selfCondition: false });
  const model = createUNet(cfg, 1, 'forward');
  const batch = bm.make(0);
  const ms = { conv: [] as number[], gemm: [] as number[] };
  for (let i = 0; i < pairs + 2; i++) {
    for (const path of i % 2 ? (['gemm', 'conv'] as const) : (['conv', 'gemm'] as const)) {
      if (against === 'conv') process.env.DDPM_GEMM_KERNEL_GRAD = path === 'gemm' ? '1' : '0';
      else useWasmGemm(path === 'gemm');
      const t0 = performance.now();
      lossAndGrads(model, batch, 'l2');
      if (i >= 2) ms[path].push(performance.now() - t0); // two pairs of warm-up
    }
  }
  const ratios = ms.conv.map((c, i) => c / ms.gemm[i]);
  return { size, pid: process.pid, convMs: median(ms.conv), gemmMs: median(ms.gemm), ratio: median(ratios), min: Math.min(...ratios), max: Math.max(...ratios) };
}

function runChild(size: string, shard: number, pairs: number, against: Against): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...process.execArgv, import.meta.filename, '--child', '--sizes', size, '--shard', String(shard), '--pairs', String(pairs), '--against', against], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const line = out.trim().split('\n').pop() ?? '';
      if (code !== 0 || !line.startsWith('{')) reject(new Error(`grad-ab child for ${size} exited ${code}: ${out.slice(-500)}`));
      else resolve(JSON.parse(line) as Result);
    });
  });
}

const program = new Command('bench:grad-ab')
  .description('weight gradients on wasm: the GEMM path (SIMD wasm kernel + XNNPACK) against XNNPACK alone or the convolution form, paired within each process')
  .addOption(new Option('--against <path>', 'the baseline: XNNPACK per-tap GEMMs alone, or the convolution form').choices([...AGAINST]).default('xnnpack'))
  .option('--sizes <list>', `presets: ${Object.keys(PRESETS).join(', ')}`, 'tiny,small')
  .option('--shard <n>', 'images per gradient computation (a worker shard of batch 64 on 2 cores: 32)', '32')
  .option('--pairs <n>', 'timed pairs per process', '16')
  .option('--processes <n>', 'processes at once (2 = as the two training workers)', '2')
  .option('--child', 'internal: one measuring process, JSON on stdout', false);
program.parse();
const o = program.opts<{ sizes: string; shard: string; pairs: string; processes: string; child: boolean; against: Against }>();
const shard = Number(o.shard);
const pairs = Number(o.pairs);
const procs = Number(o.processes);
for (const [name, v] of [['--shard', shard], ['--pairs', pairs], ['--processes', procs]] as const) {
  if (!Number.isInteger(v) || v < 1) {
    console.error(`bench:grad-ab: ${name} must be a positive integer (got ${v})`);
    process.exit(2);
  }
}
if (o.child) {
  console.log(JSON.stringify(await measure(o.sizes, shard, pairs, o.against)));
} else {
  const base = o.against === 'conv' ? 'convolution form' : 'XNNPACK per-tap GEMMs alone';
  console.log(`weight gradients on wasm, shard ${shard}, ${pairs} ABBA pairs per process, ${procs} process(es) at once; ratio = ${base} / the GEMM path (SIMD wasm kernel where it fits; > 1: the GEMM path faster)`);
  console.log(`size    process  ${o.against.padStart(4)} ms (median)  gemm ms (median)  ratio, median of pairs [min, max]`);
  for (const size of o.sizes.split(',')) {
    const results = await Promise.all(Array.from({ length: procs }, () => runChild(size, shard, pairs, o.against)));
    for (const [i, r] of results.entries()) console.log(`${size.padEnd(7)} ${String(i + 1).padStart(7)}  ${r.convMs.toFixed(0).padStart(16)}  ${r.gemmMs.toFixed(0).padStart(16)}  ${r.ratio.toFixed(3)} [${r.min.toFixed(3)}, ${r.max.toFixed(3)}]`);
  }
}
