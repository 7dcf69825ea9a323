/**
 * `npm run bench isa`: multiply-adds per second of one core, per instruction set, on in-cache data: the wasm SIMD
 * kernels V8 runs (in Node and in workerd, the product's runtime) next to the native x86-64 ones onnxruntime-node's
 * MLAS picks on this CPU (AVX2, AVX-512, AVX-512 VNNI). It bounds what any kernel of onnxruntime-web can reach
 * against the native peer of the edge bench's per-forward ratio (docs/edge-latency.md, "The instruction set").
 *
 *   npm run bench isa                      # 5 rounds of 200 ms per kernel and runtime
 *   npm run bench isa -- --rounds 9 --json
 *
 * The native kernels are C (native.c), compiled with cc -O3 into a temporary folder; without a C compiler (or on
 * another architecture) they are left out with a line saying so. Relaxed-SIMD kernels run where the runtime has
 * relaxed SIMD: workerd; Node 20 behind --experimental-wasm-relaxed-simd, which the Node part is started with.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command, Option } from 'commander';
import { positiveInt } from '../../lib/cli-options.ts';
import wabtInit from 'wabt';
import { build } from 'esbuild';
import { Miniflare } from 'miniflare';
import { runKernels, WASM_KERNELS, wasmModuleText, type KernelRun } from './kernels.ts';
import { Report } from '../report.ts';
import { median } from '../timing.ts';

const HERE = import.meta.dirname;

export interface IsaRow {
  runtime: 'Node (V8)' | 'workerd (V8)' | 'native (cc -O3)';
  name: string;
  label: string;
  gmacs: number[];
  /** The wasm kernel's C equalled the plain-JS product after its timed rounds (native kernels: not checked). */
  exact?: boolean;
}

type Modules = { simd: Uint8Array<ArrayBuffer>; relaxed: Uint8Array<ArrayBuffer> };

/** Assembles the plain and the relaxed kernel modules. */
export async function assembleKernels(): Promise<Modules> {
  const wabt = await wabtInit();
  const bin = (relaxed: boolean): Uint8Array<ArrayBuffer> => {
    const m = wabt.parseWat(relaxed ? 'relaxed.wat' : 'simd.wat', wasmModuleText(relaxed), { simd: true, relaxed_simd: true });
    try {
      m.validate();
      return new Uint8Array(m.toBinary({}).buffer);
    } finally {
      m.destroy();
    }
  };
  return { simd: bin(false), relaxed: bin(true) };
}

const labelOf = (name: string): string => WASM_KERNELS.find((k) => k.name === name)?.label ?? name;

/** The wasm kernels in this process (the relaxed ones only where this V8 validates them). */
async function runHere(mods: Modules, rounds: number, roundMs: number): Promise<{ runs: KernelRun[]; relaxed: boolean }> {
  const runs: KernelRun[] = [];
  const plain = await WebAssembly.instantiate(mods.simd);
  runs.push(...runKernels(plain.instance.exports, WASM_KERNELS.filter((k) => !k.relaxed), rounds, roundMs, () => performance.now()));
  const relaxed = WebAssembly.validate(mods.relaxed);
  if (relaxed) {
    const r = await WebAssembly.instantiate(mods.relaxed);
    runs.push(...runKernels(r.instance.exports, WASM_KERNELS.filter((k) => k.relaxed), rounds, roundMs, () => performance.now()));
  }
  return { runs, relaxed };
}

/** The wasm kernels in workerd (Miniflare, the workerd of wrangler dev), handed over as compiled modules. */
async function runWorkerd(mods: Modules, rounds: number, roundMs: number): Promise<{ runs: KernelRun[]; relaxed: boolean | string }> {
  const bundle = await build({ entryPoints: [join(HERE, 'isa-worker.ts')], bundle: true, write: false, format: 'esm', platform: 'browser', target: 'es2022', external: ['*.wasm'], logLevel: 'warning' });
  const mf = new Miniflare({
    modules: [
      { type: 'ESModule', path: 'worker.mjs', contents: bundle.outputFiles[0].text },
      { type: 'CompiledWasm', path: 'simd.wasm', contents: mods.simd },
      { type: 'CompiledWasm', path: 'relaxed.wasm', contents: mods.relaxed },
    ],
    compatibilityDate: '2026-04-20',
  });
  try {
    const res = await mf.dispatchFetch(`http://isa/?rounds=${rounds}&roundMs=${roundMs}`);
    if (!res.ok) throw new Error(`workerd: ${res.status} ${await res.text()}`);
    return (await res.json()) as { runs: KernelRun[]; relaxed: boolean | string };
  } finally {
    await mf.dispose();
  }
}

/** The native kernels: compiled here, run in a process of their own; `missing` says why when they cannot run. */
function runNative(rounds: number, roundMs: number): { rows: { name: string; label: string; gmacs: number[] }[] } | { missing: string } {
  if (process.arch !== 'x64') return { missing: `x86-64 kernels, this is ${process.arch}` };
  const dir = mkdtempSync(join(tmpdir(), 'ddpm-isa-'));
  try {
    const exe = join(dir, 'native');
    const cc = spawnSync('cc', ['-O3', '-o', exe, join(HERE, 'native.c')], { encoding: 'utf8' });
    if (cc.error || cc.status !== 0) return { missing: `no C compiler (cc: ${cc.error?.message ?? cc.stderr.trim().split('\n')[0]})` };
    const out = execFileSync(exe, [String(rounds), String(roundMs)], { encoding: 'utf8' });
    return { rows: out.trim().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { name: string; label: string; gmacs: number[] }) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Median and range of a row, as printed. */
export function spread(gmacs: readonly number[]): string {
  return `${median(gmacs).toFixed(1)} [${Math.min(...gmacs).toFixed(1)}, ${Math.max(...gmacs).toFixed(1)}]`;
}

/** The report: GMAC/s per kernel and runtime, and each one's median against onnxruntime-web's kernel shape in workerd. */
export function isaReport(rows: readonly IsaRow[], notes: readonly string[], meta: string): string {
  const report = new Report().heading(2, 'Multiply-adds per second of one core, by instruction set (`npm run bench isa`)').text(meta);
  const base = rows.find((r) => r.runtime === 'workerd (V8)' && r.name === 'int8_1x8') ?? rows.find((r) => r.name === 'int8_1x8');
  report.text(
    'GEMM micro-kernels C += A B on in-cache data (K = 512), one thread; GMAC/s (1e9 multiply-adds per second) as median [min, max] over rounds. ' +
      `The last column divides each median by that of onnxruntime-web's int8 kernel shape${base ? ` in ${base.runtime}` : ''} ` +
      "(MLAS's wasm QGEMM kernel: one row of A, 8 columns, i16 pairs), measured in the same run. " +
      "Product: each wasm kernel's C compared with a plain-JS product after its timed rounds (the code V8 had tiered up to).",
  );
  const checked = (r: IsaRow): string => (r.exact === undefined ? 'not checked' : r.exact ? 'exact' : 'WRONG');
  report.table(
    ['runtime', 'kernel', 'GMAC/s median [min, max]', "vs onnxruntime-web's int8 kernel", 'product'],
    rows.map((r) => [r.runtime, r.label, spread(r.gmacs), base ? `${(median(r.gmacs) / median(base.gmacs)).toFixed(2)}x` : 'n/a', checked(r)]),
  );
  for (const n of notes) report.text(n);
  return report.toString();
}

async function main(): Promise<void> {
  const program = new Command()
    .name('bench isa')
    .description("multiply-adds per second of one core: wasm SIMD (Node, workerd) next to native AVX2 / AVX-512 / VNNI, the ceiling under onnxruntime-web's kernels")
    .option('--rounds <n>', 'timed rounds per kernel and runtime', positiveInt, 5)
    .option('--round-ms <n>', 'length of a round in ms', positiveInt, 200)
    .option('--no-workerd', 'leave workerd out')
    .option('--no-native', 'leave the native kernels out')
    .option('--json', 'print the rows as JSON instead of the table', false)
    .addOption(new Option('--node-child', 'run the Node part and print it as JSON (the bench starts itself so)').default(false).hideHelp())
    .parse();
  const o = program.opts<{ rounds: number; roundMs: number; workerd: boolean; native: boolean; json: boolean; nodeChild: boolean }>();
  const mods = await assembleKernels();
  if (o.nodeChild) {
    process.stdout.write(JSON.stringify(await runHere(mods, o.rounds, o.roundMs)));
    return;
  }
  const log = (s: string): void => console.error(`[bench isa] ${s}`);
  const rows: IsaRow[] = [];
  const notes: string[] = [];
  log('wasm kernels in Node');
  // relaxed SIMD is behind a V8 flag in Node 20: the Node part runs in a child started with it
  const child = spawnSync(process.execPath, ['--experimental-wasm-relaxed-simd', '--import', 'tsx', join(HERE, 'cli.ts'), '--node-child', '--rounds', String(o.rounds), '--round-ms', String(o.roundMs)], { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (child.status !== 0) throw new Error(`the Node part failed: ${child.stderr.trim().split('\n').slice(-3).join(' | ')}`);
  const node = JSON.parse(child.stdout) as { runs: KernelRun[]; relaxed: boolean };
  rows.push(...node.runs.map((r) => ({ runtime: 'Node (V8)' as const, name: r.name, label: labelOf(r.name), gmacs: r.gmacs, exact: r.exact })));
  if (!node.relaxed) notes.push(`Node ${process.version}: no relaxed SIMD, even with --experimental-wasm-relaxed-simd.`);
  if (o.workerd) {
    log('wasm kernels in workerd');
    const w = await runWorkerd(mods, o.rounds, o.roundMs);
    rows.push(...w.runs.map((r) => ({ runtime: 'workerd (V8)' as const, name: r.name, label: labelOf(r.name), gmacs: r.gmacs, exact: r.exact })));
    if (w.relaxed !== true) notes.push(`workerd: relaxed SIMD unavailable (${w.relaxed}).`);
  }
  if (o.native) {
    log('native kernels');
    const n = runNative(o.rounds, o.roundMs);
    if ('missing' in n) notes.push(`Native kernels not measured: ${n.missing}.`);
    else rows.push(...n.rows.map((r) => ({ runtime: 'native (cc -O3)' as const, ...r })));
  }
  if (o.json) {
    console.log(JSON.stringify({ rows, notes }, null, 2));
    return;
  }
  const cpu = (() => {
    try {
      return /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown CPU';
    } catch {
      return 'unknown CPU';
    }
  })();
  console.log(isaReport(rows, notes, `${cpu}, Node ${process.version}, ${new Date().toISOString().slice(0, 16)}Z; ${o.rounds} rounds of ${o.roundMs} ms per kernel and runtime.`));
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
