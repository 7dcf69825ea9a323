/**
 * `npm run bench`: latency, throughput and memory of edge sampling, side by side with native onnxruntime,
 * measured in one run and written as Markdown (bench-results/bench-<time>.md, and --report <file>).
 *
 *   npm run bench                         # registry default model + a random-weight probe (preset small)
 *   npm run bench -- --quick              # fewer requests and shorter timings (about 3 minutes)
 *   npm run bench -- --model fixture-tiny --probe none --report docs/bench.md
 *   npm run bench -- --help
 *
 * Everything runs on loopback: the bench worker (scripts/bench/workerd/bench-worker.ts) under
 * `wrangler dev --local`, stopped at the end (also on errors).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { deriveSeed, SAMPLER_NAMES, type SamplerName } from '../../src/diffusion/index.ts';
import { LIMITS } from '../../src/render/limits.ts';
import { heldRequestRetries, load, request, sequential, stats, summarize, type LatencyRow, type LoadRow, type Sample, type Stats } from './e2e.ts';
import { profileGraph, type KernelProfile } from './profile.ts';
import { fileSessionOptions } from '../../src/inference/onnx.ts';
import { ORT_START_VALUES, type OrtStart, type runtimeStartBreakdown } from '../../src/inference/runtime.ts';
import { timeNative, timeWebNode, type ForwardRow, type Precision } from './forward-node.ts';
import { avx2PeerUnavailable, timeNativeAvx2, type CpuidMaskReport } from './native-isa.ts';
import { loadModel, probeModel, registryDefaultModel, ROOT, servedSettings, type BenchModel } from './models.ts';
import { DEFAULT_PARAMS, measureOverhead, type OverheadRow } from './overhead.ts';
import type { ServingDefaults } from '../../src/models/registry.ts';
import type { RenderParams } from '../../src/render/params.ts';
import { mib, ms, pct, ratio, Report } from './report.ts';
import { DEFAULT_TIMING, median, type TimingOptions } from './timing.ts';
import { generateBenchWorker, startBenchServer, type BenchServer } from './workerd.ts';
import { nonNegativeInt, positiveInt } from '../lib/cli-options.ts';

const ISOLATE_LIMIT = 128 * 2 ** 20;


interface Options {
  model?: string;
  probe: string;
  quick: boolean;
  batches: string;
  measureMs?: number;
  requests?: number;
  gridRequests?: number;
  loadRequests?: number;
  loadSeconds?: number;
  connections: number;
  out: string;
  report?: string;
  e2e: boolean;
  profile: boolean;
  profileAgainst?: string;
  defaults?: ServingDefaults;
  ortStart: OrtStart;
  coldPairs: number;
  nativeAvx2: boolean;
}

/** --defaults sampler,steps,guidance[,tLow-tHigh]: serving defaults to bench instead of served.json's. */
function parseDefaults(v: string): ServingDefaults {
  const [sampler, steps, guidance, interval] = v.split(',').map((s) => s.trim());
  if (!SAMPLER_NAMES.includes(sampler as SamplerName)) throw new InvalidArgumentError(`sampler must be one of ${SAMPLER_NAMES.join(', ')} (got ${sampler})`);
  const n = Number(steps);
  const w = Number(guidance ?? '1');
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`steps must be a positive integer (got ${steps})`);
  if (!Number.isFinite(w) || w < 0) throw new InvalidArgumentError(`guidance must be a number >= 0 (got ${guidance})`);
  const d: ServingDefaults = { sampler: sampler as SamplerName, steps: n, guidance: w };
  if (interval !== undefined) {
    const m = /^(\d+)-(\d+)$/.exec(interval);
    if (!m) throw new InvalidArgumentError(`the guidance interval must read tLow-tHigh, e.g. 0-600 (got ${interval})`);
    d.guidanceInterval = [Number(m[1]), Number(m[2])];
  }
  return d;
}

const program = new Command()
  .name('bench')
  .description('U-Net forward latency (onnxruntime-web in Node and in workerd vs onnxruntime-node), end-to-end latency, throughput, memory and request-path overhead')
  .option('--model <name|dir>', 'model under models/ or a folder with model.json, or several, comma-separated, benched one after the other (default: the first model of src/models/served.json)')
  .option('--probe <preset>', 'also bench random-weight probes exported at 28x28x1 with these training presets (comma-separated: tiny, small, base), or none', 'small')
  .option('--quick', 'fewer requests and shorter timings', false)
  .option('--batches <list>', 'forward batch sizes', '1,4,16')
  .option('--measure-ms <n>', 'measured time per forward cell (default 1500, quick 600)', positiveInt)
  .option('--requests <n>', 'sequential single-image cache misses (default 15, quick 6); hits twice as many', positiveInt)
  .option('--grid-requests <n>', 'sequential 16-image grid misses (default 4, quick 2); hits 3x as many', positiveInt)
  .option('--load-requests <n>', 'requests of the cache-miss load test (default 24, quick 8); hit load: 10x', positiveInt)
  .option('--load-seconds <n>', 'time cap of each load test in seconds (default 30, quick 10)', positiveInt)
  .option('--connections <n>', 'concurrent connections of the load tests', positiveInt, 4)
  .option('--no-e2e', 'forward latency and overhead only (no wrangler dev)')
  .option('--defaults <sampler,steps,guidance[,tLow-tHigh]>', "serving defaults to bench instead of the model's in src/models/served.json, e.g. dpmpp2m,20,1.75 (a before/after in one run)", parseDefaults)
  .addOption(
    new Option('--ort-start <when>', 'when the bench worker starts onnxruntime (wrangler.toml ORT_START): with the isolate, as the app, or on first use (a before/after)')
      .choices(ORT_START_VALUES)
      .default('isolate'),
  )
  .option('--cold-pairs <n>', "also time the first image after start in n fresh wrangler devs per ORT_START setting (isolate, first-use), alternating: the runtime's start with the isolate against on first use, in one run", nonNegativeInt, 0)
  .option('--native-avx2', 'also time onnxruntime-node with AVX-512 and VNNI hidden from its CPU checks (under gdb): the native peer of an AVX2-only machine, on this CPU (scripts/bench/native-isa.ts)', false)
  .option('--profile', "where a forward's time goes: onnxruntime-web's profiler, kernels by op (int8, batch 1)", false)
  .option('--profile-against <onnx>', 'with --profile: also profile this graph of the same model (e.g. an older export) side by side, loaded with all of onnxruntime-web\'s optimizations')
  .option('--out <dir>', 'output folder', join(ROOT, 'bench-results'))
  .option('--report <file>', 'also write the report here (e.g. docs/bench.md)')
  .parse();
const o = program.opts<Options>();
const log = (line: string): void => console.error(`[bench] ${line}`);
const batches = (() => {
  try {
    return o.batches.split(',').map((s) => positiveInt(s.trim()));
  } catch (e) {
    return program.error(`error: option '--batches <list>': ${(e as Error).message}`);
  }
})();
const timing: TimingOptions = { ...DEFAULT_TIMING, ...(o.quick ? { warmupMs: 200, measureMs: 600, minBlocks: 5 } : {}), ...(o.measureMs ? { measureMs: o.measureMs } : {}) };
const singles = o.requests ?? (o.quick ? 6 : 15);
const grids = o.gridRequests ?? (o.quick ? 2 : 4);
const loadMisses = o.loadRequests ?? (o.quick ? 8 : 24);
const loadSeconds = o.loadSeconds ?? (o.quick ? 10 : 30);
// autocannon gives every connection at least one request, and throws from inside the run otherwise
if (loadMisses < o.connections) program.error(`error: --load-requests (${loadMisses}) must be at least --connections (${o.connections})`);
// the served limits and defaults of the benched model (src/models/served.json), set in main()
let limits = servedSettings(registryDefaultModel()).limits;
let defaults: ServingDefaults | undefined;
let params: RenderParams = DEFAULT_PARAMS;
const started = Date.now();

function resolveModels(): BenchModel[] {
  return (o.model ?? registryDefaultModel()).split(',').map((name) => {
    const dir = existsSync(join(name, 'model.json')) ? resolve(name) : join(ROOT, 'models', name);
    if (!existsSync(join(dir, 'model.json'))) throw new InvalidArgumentError(`no model.json under ${dir}`);
    return loadModel(dir, o.model ? `${name}` : `${name} (registry default)`);
  });
}

interface ModelResult {
  model: BenchModel;
  forward: ForwardRow[];
  createMs: Partial<Record<Precision, number>>;
  /** The same graph's session created again in that isolate (the second forward pass). */
  createAgainMs: Partial<Record<Precision, number>>;
  /** onnxruntime's start in that isolate, before the model's session (src/inference/runtime.ts). */
  runtimeStart: Partial<Record<Precision, ForwardResponse['runtimeStart']>>;
  heapAfterCreate: Partial<Record<Precision, number>>;
  latency: LatencyRow[];
  cold?: Sample;
  loadRows: LoadRow[];
  overhead: Record<'single' | 'grid', OverheadRow[]>;
  r2: { putMs: number; getMs: number; lookupMs: number; bytes: number } | undefined;
  appHeap?: number;
  coldStart?: Stats['coldStart'];
  /** Uncounted requests between the cold one and the warm rows. */
  warmups?: number;
  profile?: { label: string; profile: KernelProfile }[];
  profileError?: string;
  /** --cold-pairs: the first image after start per ORT_START setting, in alternating fresh wrangler devs. */
  coldPairs?: ColdPair[];
  /** --native-avx2: what the cpuid mask changed, or why the AVX2 peer did not run. */
  avx2?: { mask: CpuidMaskReport } | { missing: string };
}

interface ColdPair {
  ortStart: OrtStart;
  sample: Sample;
  coldStart: Stats['coldStart'];
}

interface ForwardResponse {
  createMs: number;
  runtimeStart: ReturnType<typeof runtimeStartBreakdown> | null;
  heapAfterCreate: number;
  rows: { batch: number; timing: ForwardRow['timing']; heapBytes: number }[];
}

async function workerdForwardOnce(server: BenchServer, model: BenchModel, precision: Precision, t: TimingOptions): Promise<ForwardResponse> {
  const q = new URLSearchParams({ precision, batches: batches.join(','), warmupMs: String(t.warmupMs), measureMs: String(t.measureMs), minBlockMs: String(t.minBlockMs), minBlocks: String(t.minBlocks) });
  const res = await fetch(`${server.base}/__bench/forward?${q}`, { method: 'POST', body: new Uint8Array(precision === 'int8' ? model.int8 : model.fp32), signal: AbortSignal.timeout(600_000) });
  if (!res.ok) throw new Error(`workerd forward ${precision}: ${res.status} ${await res.text()}`);
  return (await res.json()) as ForwardResponse;
}

/**
 * Two passes in one fresh isolate: the first (short) gives session creation time and the heap after each batch
 * size; the second the timings. On a busy machine V8 needs many seconds to tier the 14 MB runtime wasm up,
 * and a single pass timed its first batch sizes at 3 to 5x the tiered-up speed.
 */
async function workerdForward(server: BenchServer, model: BenchModel, precision: Precision): Promise<ForwardResponse & { createAgainMs: number }> {
  const first = await workerdForwardOnce(server, model, precision, { ...timing, measureMs: Math.min(500, timing.measureMs), minBlocks: 3 });
  const second = await workerdForwardOnce(server, model, precision, timing);
  return {
    createMs: first.createMs,
    createAgainMs: second.createMs,
    runtimeStart: first.runtimeStart,
    heapAfterCreate: first.heapAfterCreate,
    rows: second.rows.map((row) => ({ ...row, heapBytes: first.rows.find((r) => r.batch === row.batch)?.heapBytes ?? row.heapBytes })),
  };
}

async function withServer<T>(model: BenchModel, tag: string, fn: (server: BenchServer) => Promise<T>, ortStart = o.ortStart): Promise<T> {
  const config = await generateBenchWorker(model, o.out, limits, defaults, ortStart);
  const t0 = Date.now();
  const server = await startBenchServer(config, join(o.out, 'state', `${model.card.name}-${tag}`), 180_000);
  log(`wrangler dev (${model.card.name}, ${tag}) ready in ${((Date.now() - t0) / 1000).toFixed(1)} s at ${server.base}`);
  try {
    return await fn(server);
  } catch (e) {
    console.error(server.log());
    throw e;
  } finally {
    await server.stop();
  }
}

/**
 * --cold-pairs n: the first image after start (a cache miss at the defaults) in 2n fresh wrangler devs, n with the
 * runtime starting with the isolate and n on first use, in ABBA order so that a drift of the machine falls on both.
 */
async function coldPairs(model: BenchModel, n: number): Promise<ColdPair[]> {
  const out: ColdPair[] = [];
  for (let i = 0; i < n; i++) {
    const order: OrtStart[] = i % 2 === 0 ? ['isolate', 'first-use'] : ['first-use', 'isolate'];
    for (const ortStart of order) {
      await withServer(
        model,
        `cold-${ortStart}-${i}`,
        async (server) => {
          log(`${model.card.name}: first image after start, ORT_START = ${ortStart} (${i + 1}/${n})`);
          const sample = await request(server.base, `/v1/samples/${9000 + i}.png`);
          out.push({ ortStart, sample, coldStart: (await stats(server.base)).coldStart });
        },
        ortStart,
      );
    }
  }
  return out;
}

async function benchModel(model: BenchModel): Promise<ModelResult> {
  const r: ModelResult = { model, forward: [], createMs: {}, createAgainMs: {}, runtimeStart: {}, heapAfterCreate: {}, latency: [], loadRows: [], overhead: { single: [], grid: [] }, r2: undefined };
  const q = (extra: Record<string, string> = {}): string => {
    const p = new URLSearchParams(extra);
    return p.size > 0 ? `?${p}` : '';
  };
  let seed = 1000;
  const nextSeed = (): number => seed++;

  if (o.e2e) {
    await withServer(model, 'app', async (server) => {
      log(`${model.card.name}: cold request`);
      r.cold = await request(server.base, `/v1/samples/${nextSeed()}.png`);
      r.coldStart = (await stats(server.base)).coldStart;
      // V8 compiles the runtime wasm lazily and tiers it up over the first seconds of use: "warm" rows start after
      // warm-up requests (not counted) have run for a while
      const warmUntil = Date.now() + (o.quick ? 4000 : 8000);
      let warmups = 0;
      while (Date.now() < warmUntil) {
        await request(server.base, `/v1/samples/${nextSeed()}.png`);
        warmups++;
      }
      r.warmups = warmups;
      log(`${model.card.name}: sequential requests`);
      const singleSeeds = Array.from({ length: singles }, nextSeed);
      r.latency.push(summarize('single image, warm, miss', await sequential(server.base, singleSeeds.map((s) => `/v1/samples/${s}.png`))));
      const oneStep = Array.from({ length: singles }, nextSeed);
      r.latency.push(summarize('single image, 1 step, miss (fixed cost)', await sequential(server.base, oneStep.map((s) => `/v1/samples/${s}.png?steps=1`))));
      r.latency.push(summarize('single image, hit', await sequential(server.base, [...singleSeeds, ...singleSeeds].map((s) => `/v1/samples/${s}.png`))));
      const gridSeeds = Array.from({ length: grids }, nextSeed);
      const n = Math.min(16, Math.floor(limits.maxImageSteps / params.steps));
      const gq = q(n === 16 ? {} : { n: String(n) });
      r.latency.push(summarize(`grid of ${n}, warm, miss`, await sequential(server.base, gridSeeds.map((s) => `/v1/grids/${s}.png${gq}`))));
      r.latency.push(summarize(`grid of ${n}, hit`, await sequential(server.base, [...gridSeeds, ...gridSeeds, ...gridSeeds].map((s) => `/v1/grids/${s}.png${gq}`))));
      if (model.card.architecture.numClasses > 0) {
        // a class at the model's defaults: its default guidance (and guidance interval) apply
        const gs = Array.from({ length: singles }, nextSeed);
        r.latency.push(summarize('single image, class 1 (guided at the defaults), warm, miss', await sequential(server.base, gs.map((s) => `/v1/samples/${s}.png?class=1`))));
      }
      log(`${model.card.name}: load tests`);
      const loadBase = nextSeed() * 1000;
      r.loadRows.push(await load(server.base, 'single image, misses (unique seeds)', (i) => `/v1/samples/${loadBase + i}.png`, { connections: o.connections, amount: loadMisses, maxSeconds: loadSeconds }));
      r.loadRows.push(await load(server.base, `single image, hits (${singles} seeds)`, (i) => `/v1/samples/${singleSeeds[i % singleSeeds.length]}.png`, { connections: o.connections, amount: loadMisses * 10, maxSeconds: loadSeconds }));
      const r2 = (await (await fetch(`${server.base}/__bench/r2?bytes=${Math.round(model.card.imageSize ** 2 * 1.2 + 100)}&reps=10`, { method: 'POST' })).json()) as { bytes: number; put: number[]; get: number[]; lookup: number[] };
      r.r2 = { bytes: r2.bytes, putMs: median(r2.put), getMs: median(r2.get), lookupMs: median(r2.lookup) };
      r.appHeap = (await stats(server.base)).heapBytes;
    });
    // forwards in fresh isolates, one per precision: the heap figures are theirs alone (and a second session in the
    // app's isolate is avoided: the app's next run hung after one was released there)
    for (const precision of ['int8', 'fp32'] as const) {
      await withServer(model, `forward-${precision}`, async (server) => {
        log(`${model.card.name}: workerd forward ${precision}`);
        const fwd = await workerdForward(server, model, precision);
        r.createMs[precision] = fwd.createMs;
        r.createAgainMs[precision] = fwd.createAgainMs;
        r.runtimeStart[precision] = fwd.runtimeStart;
        r.heapAfterCreate[precision] = fwd.heapAfterCreate;
        for (const row of fwd.rows) r.forward.push({ runtime: 'web-workerd', precision, batch: row.batch, timing: row.timing, heapBytes: row.heapBytes });
      });
    }
    if (o.coldPairs > 0) r.coldPairs = await coldPairs(model, o.coldPairs);
  }
  const avx2Missing = o.nativeAvx2 ? avx2PeerUnavailable() : undefined;
  if (avx2Missing) {
    r.avx2 = { missing: avx2Missing };
    log(`native peer with AVX-512 hidden: skipped, ${avx2Missing}`);
  }
  for (const precision of ['int8', 'fp32'] as const) {
    const bytes = precision === 'int8' ? model.int8 : model.fp32;
    log(`${model.card.name}: Node forward ${precision} (onnxruntime-web, onnxruntime-node)`);
    r.forward.push(...(await timeWebNode(model.card, bytes, precision, batches, timing)));
    r.forward.push(...(await timeNative(model.card, bytes, precision, batches, timing)));
    if (o.nativeAvx2 && !avx2Missing) {
      log(`${model.card.name}: onnxruntime-node ${precision} with AVX-512 and VNNI hidden (gdb)`);
      try {
        const { rows, mask } = timeNativeAvx2(model.dir, precision, batches, timing);
        r.forward.push(...rows);
        r.avx2 = { mask };
      } catch (e) {
        // the other measurements stand: report without this peer rather than lose the run
        if (!r.avx2) r.avx2 = { missing: (e as Error).message.split('\n')[0] };
        log(`native peer with AVX-512 hidden failed: ${(e as Error).message}`);
      }
    }
  }
  if (o.profile) {
    log(`${model.card.name}: kernel profile (onnxruntime-web, Node)`);
    try {
      r.profile = [{ label: `${model.card.name} int8 (this export)`, profile: await profileGraph(model.dir, model.int8, 1, { log, ...fileSessionOptions(model.card.files.int8) }) }];
      if (o.profileAgainst) r.profile.push({ label: basename(o.profileAgainst), profile: await profileGraph(model.dir, readFileSync(o.profileAgainst), 1, { log }) });
    } catch (e) {
      // the other measurements stand: report without the profile rather than lose the run
      r.profile = undefined;
      r.profileError = (e as Error).message.split('\n')[0];
      log(`kernel profile failed: ${r.profileError}`);
    }
  }
  log(`${model.card.name}: request-path overhead`);
  r.overhead.single = await measureOverhead(model.card, 1, params, limits.maxBatch, timing);
  r.overhead.grid = await measureOverhead(model.card, 16, params, limits.maxBatch, timing);
  return r;
}

const RUNTIME_LABEL: Record<ForwardRow['runtime'], string> = {
  'web-node': 'onnxruntime-web, Node',
  'web-workerd': 'onnxruntime-web, workerd',
  native: 'onnxruntime-node (native, 1 thread)',
  'native-avx2': 'onnxruntime-node, AVX-512 and VNNI hidden (AVX2 kernels)',
};

function forwardOf(r: ModelResult, runtime: ForwardRow['runtime'], precision: Precision, batch: number): ForwardRow | undefined {
  return r.forward.find((f) => f.runtime === runtime && f.precision === precision && f.batch === batch);
}

/** min / the peer's min at the same precision and batch, as printed. */
function ratioTo(r: ModelResult, runtime: ForwardRow['runtime'], peer: ForwardRow['runtime'], precision: Precision, batch: number): string {
  const f = forwardOf(r, runtime, precision, batch);
  const p = forwardOf(r, peer, precision, batch);
  return f && p ? ratio(f.timing.minMs / p.timing.minMs) : 'n/a';
}

/** --native-avx2: onnxruntime-web against the native peer with the kernels of an AVX2-only machine. */
function writeAvx2Peer(report: Report, r: ModelResult, avx2: NonNullable<ModelResult['avx2']>): void {
  if ('missing' in avx2) {
    report.text(`Native peer with AVX-512 hidden (--native-avx2): not measured, ${avx2.missing}.`);
    return;
  }
  report.text(
    `The same against onnxruntime-node with AVX-512 and VNNI hidden from its CPU checks (gdb; ${avx2.mask.leaf7_0 + avx2.mask.leaf7_1} of its cpuid answers masked, ` +
      "scripts/bench/native-isa.ts): the kernels of an AVX2-only x86-64 machine, on this CPU. Ratio = min / that peer's min.",
  );
  const rows: (string | number)[][] = [];
  for (const precision of ['int8', 'fp32'] as const) {
    for (const runtime of ['web-node', 'web-workerd', 'native'] as const) {
      rows.push([precision, RUNTIME_LABEL[runtime], ...batches.map((b) => ratioTo(r, runtime, 'native-avx2', precision, b))]);
    }
  }
  report.table(['precision', 'runtime', ...batches.map((b) => `batch ${b} vs native AVX2`)], rows);
}

function describe(model: BenchModel): string {
  const a = model.card.architecture;
  return `${model.card.imageSize}x${model.card.imageSize}x${model.card.channels}, ${a.parameters ?? '?'} parameters, base ${a.baseChannels}, mults [${a.channelMults.join(', ')}], ${a.numResBlocks} res block(s), attention at [${a.attentionResolutions.join(', ')}], ${a.numClasses} classes; int8 ${model.card.files.int8.bytes} bytes, fp32 ${model.card.files.fp32.bytes} bytes`;
}

function writeModelSections(report: Report, r: ModelResult): void {
  const name = r.model.label;
  report.heading(2, `Model: ${name}`).text(describe(r.model));

  report.heading(3, `U-Net forward latency (${name})`);
  report.text(
    'ms per forward, min (median) over blocks of runs after warm-up (a block lasts at least ' +
      `${timing.minBlockMs} ms; workerd's clock has 1 ms resolution, so runs are timed in blocks with Date.now inside the isolate). ` +
      'Ratio = min / native min at the same precision and batch: on a shared machine the fastest block is the least disturbed one. ' +
      'Both onnxruntime-web rows first run batch 1 for 2 s (V8 tiers the runtime wasm up in the background); workerd is timed in a second pass ' +
      'over all batch sizes in the same isolate, after a first one.',
  );
  const rows: (string | number)[][] = [];
  for (const precision of ['int8', 'fp32'] as const) {
    for (const runtime of ['web-node', 'web-workerd', 'native', 'native-avx2'] as const) {
      if (runtime === 'native-avx2' && !r.forward.some((f) => f.runtime === runtime)) continue;
      const row: (string | number)[] = [precision, RUNTIME_LABEL[runtime]];
      for (const b of batches) {
        const f = forwardOf(r, runtime, precision, b);
        row.push(f ? `${ms(f.timing.minMs)} (${ms(f.timing.medianMs)})` : 'n/a', ratioTo(r, runtime, 'native', precision, b));
      }
      rows.push(row);
    }
  }
  report.table(['precision', 'runtime', ...batches.flatMap((b) => [`batch ${b} ms`, `batch ${b} vs native`])], rows);
  if (r.avx2) writeAvx2Peer(report, r, r.avx2);
  const speed = batches.map((b) => {
    const i = forwardOf(r, 'web-workerd', 'int8', b) ?? forwardOf(r, 'web-node', 'int8', b);
    const f = forwardOf(r, 'web-workerd', 'fp32', b) ?? forwardOf(r, 'web-node', 'fp32', b);
    return i && f ? `batch ${b}: ${ratio(f.timing.minMs / i.timing.minMs)}` : '';
  });
  report.text(`int8 speed-up over fp32 in onnxruntime-web: ${speed.filter((s) => s).join(', ')}. Per image: ${batches.map((b) => {
    const f = forwardOf(r, 'web-workerd', 'int8', b) ?? forwardOf(r, 'web-node', 'int8', b);
    return f ? `${ms(f.timing.minMs / b)} ms at batch ${b}` : '';
  }).filter((s) => s).join(', ')} (int8).`);

  if (r.latency.length > 0 && r.cold) {
    report.heading(3, `End-to-end latency against wrangler dev (${name})`);
    // each model is requested at its own serving defaults (its guidance), unless --defaults overrides them
    const own = o.defaults ?? servedSettings(r.model.card.name).defaults;
    report.text(
      `Sequential GET requests from Node over loopback; the model's serving defaults (${params.sampler}, ${params.steps} steps; with a class, guidance ${own?.guidance ?? 1}${own?.guidanceInterval ? ` at timesteps ${own.guidanceInterval.join('..')}` : ''}). Client wall clock p50/p95; ` +
        'handler and U-Net ms measured inside the isolate (x-bench-handler-ms, x-bench-unet-ms: time inside session.run); ' +
        "overhead = (handler - U-Net) / handler, median over requests; the handler time ends with the response body, so a miss's R2 put (waitUntil) is not in it. The cold request is the first image after wrangler dev started " +
        (o.ortStart === 'isolate'
          ? "(the model's session and sampling; onnxruntime started with the isolate, before it: ORT_START = isolate)"
          : '(onnxruntime\'s start, the model\'s session and sampling: ORT_START = first-use)') +
        '; the warm rows follow ' + `${r.warmups ?? 0} uncounted warm-up requests (${o.quick ? 4 : 8} s).`,
    );
    const lat = r.latency.map((l) => [l.label, l.requests, l.layer, ms(l.wallP50), ms(l.wallP95), ms(l.handlerP50), ms(l.unetP50), pct(l.overheadShare)]);
    lat.unshift(['single image, cold (first request)', 1, r.cold.layer, ms(r.cold.wallMs), ms(r.cold.wallMs), ms(r.cold.handlerMs), ms(r.cold.unetMs), pct((r.cold.handlerMs - r.cold.unetMs) / r.cold.handlerMs)]);
    report.table(['request', 'n', 'served from', 'wall p50 ms', 'wall p95 ms', 'handler p50 ms', 'U-Net p50 ms', 'overhead'], lat);
    if (r.coldStart) {
      const c = r.coldStart;
      const inRequest = c.runtimeStartedAt === 'first-use' ? (c.runtimeStartMs ?? 0) : 0;
      const rest = r.cold.handlerMs - inRequest - c.verifyMs - c.sessionMs - r.cold.unetMs;
      const runtimeStart =
        c.runtimeStartMs === undefined
          ? 'onnxruntime\'s start n/a'
          : `onnxruntime's start ${ms(c.runtimeStartMs)} ms (${c.runtimeStartedAt === 'isolate' ? 'with the isolate, before this request: not in its time' : 'in this request'}; ` +
            `of which wasm instantiation ${c.instantiateMs === undefined ? 'n/a' : ms(c.instantiateMs)} ms)`;
      report.text(
        `Cold request in parts (inside the isolate): ${runtimeStart}; model sha256 check ${ms(c.verifyMs)} ms; the model's session ${ms(c.sessionMs)} ms; ` +
          `U-Net runs ${ms(r.cold.unetMs)} ms (the first forwards run before V8 has tiered the runtime up); the rest (routing, sampler, PNG) ${ms(rest)} ms. ` +
          "Compiling the runtime wasm happens before: at upload in production, at wrangler dev's start locally.",
      );
    }
  }

  if (r.coldPairs && r.coldPairs.length > 0) {
    report.heading(3, `First image after start: onnxruntime started with the isolate or on first use (${name})`);
    const n = r.coldPairs.length / 2;
    report.text(
      `${n} fresh wrangler dev per setting, alternating (ABBA), each asked for one image at the defaults (a cache miss) once ready; ` +
        "ORT_START = isolate starts onnxruntime at the isolate's module scope (src/index.ts), before the request; first-use in the request. " +
        'Median (min-max) over the runs; onnxruntime\'s start reads 0 when it ran with the isolate (the clock stands still outside requests).',
    );
    const spread = (v: number[]): string => `${ms(median(v))} (${ms(Math.min(...v))}-${ms(Math.max(...v))})`;
    const rows: (string | number)[][] = [];
    const walls: Partial<Record<OrtStart, number[]>> = {};
    for (const setting of ORT_START_VALUES) {
      const runs = r.coldPairs.filter((p) => p.ortStart === setting);
      walls[setting] = runs.map((p) => p.sample.wallMs);
      const inRequest = runs.map((p) => (p.coldStart?.runtimeStartedAt === 'first-use' ? (p.coldStart.runtimeStartMs ?? 0) : 0));
      rows.push([
        setting,
        runs.length,
        spread(runs.map((p) => p.sample.wallMs)),
        spread(inRequest),
        spread(runs.map((p) => p.coldStart?.sessionMs ?? Number.NaN)),
        spread(runs.map((p) => p.sample.unetMs)),
      ]);
    }
    report.table(['ORT_START', 'runs', 'first image, wall ms', "onnxruntime's start in the request, ms", "the model's session, ms", 'U-Net runs, ms'], rows);
    const a = walls.isolate ?? [];
    const b = walls['first-use'] ?? [];
    if (a.length > 0 && b.length > 0) {
      const pairs = a.map((w, i) => (b[i] === undefined ? undefined : w / b[i])).filter((x): x is number => x !== undefined);
      report.text(`First image after start, isolate / first-use: ${ratio(median(a) / median(b))} (medians); per pair ${pairs.map(ratio).join(', ')}.`);
    }
  }

  if (r.loadRows.length > 0) {
    report.heading(3, `Throughput under concurrent load (${name})`);
    report.text(
      `autocannon, ${o.connections} connections over loopback, bounded by a request count and ${loadSeconds} s. One isolate runs the model, one run at a time, so misses queue; ` +
        'U-Net / wall = time inside session.run during the load / its wall time (the isolate runs one forward at a time, so this is how busy the model kept it); ' +
        'U-Net / handler = the same over the summed handler time (handlers overlap while they queue for the model).',
    );
    report.table(
      ['load', 'requests', 'seconds', 'req/s', 'errors', 'non-2xx', 'timeouts', 'p50 ms', 'p97.5 ms', 'U-Net / wall', 'U-Net / handler'],
      r.loadRows.map((l) => [l.label, l.requests, l.seconds.toFixed(1), l.rps.toFixed(2), l.errors, l.non2xx, l.timeouts, l.p50, l.p97_5, pct(l.unetShare), pct(l.unetHandlerShare)]),
    );
  }

  if (r.forward.some((f) => f.heapBytes !== undefined)) {
    report.heading(3, `Memory: wasm heap in workerd (${name})`);
    report.text(
      'The onnxruntime-web linear memory (it never shrinks) after session creation and after the forwards at each batch size (the first pass, in order), measured in a fresh ' +
        'wrangler dev per precision (nothing else ran in it). Limit: 128 MiB per isolate, which local workerd does not enforce.',
    );
    const rowsH: (string | number)[][] = [];
    for (const precision of ['int8', 'fp32'] as const) {
      const create = r.heapAfterCreate[precision];
      const row: (string | number)[] = [precision, mib(create)];
      for (const b of batches) {
        const f = forwardOf(r, 'web-workerd', precision, b);
        row.push(f?.heapBytes === undefined ? 'n/a' : `${mib(f.heapBytes)} (${pct(f.heapBytes / ISOLATE_LIMIT)})`);
      }
      rowsH.push(row);
    }
    report.table(['precision', 'after session creation', ...batches.map((b) => `after batch ${b} (of 128 MiB)`)], rowsH);
    report.text(
      `Session creation in workerd, in each fresh isolate: ${(['int8', 'fp32'] as const)
        .map((p) => {
          const rs = r.runtimeStart[p];
          const start = rs ? `onnxruntime's start ${ms(rs.ms)} ms (${rs.at === 'isolate' ? 'with the isolate' : 'on first use'}), then ` : '';
          return `${p}: ${start}the model's session ${ms(r.createMs[p])} ms (again in the same isolate: ${ms(r.createAgainMs[p])} ms)`;
        })
        .join('; ')}. The app serves with maxBatch ${limits.maxBatch} (src/models/served.json); heap of the app's isolate after all its requests: ${mib(r.appHeap)}.`,
    );
  }

  if (r.profile) {
    report.heading(3, `Where a forward's time goes (${name})`);
    report.text(
      "onnxruntime-web's own profiler, Node, one thread, int8, batch 1, after onnxruntime's graph optimizations; kernels per forward and profiled ms per forward " +
        'by op (profiling inflates absolute times: read the counts and shares).',
    );
    const ops = [...new Set(r.profile.flatMap((p) => p.profile.ops.map((x) => x.op)))];
    const first = r.profile[0].profile;
    ops.sort((a, b) => (first.ops.find((x) => x.op === b)?.ms ?? 0) - (first.ops.find((x) => x.op === a)?.ms ?? 0));
    const rowsP: (string | number)[][] = [['all kernels', ...r.profile.flatMap((p) => [p.profile.kernels.toFixed(0), `${ms(p.profile.kernelMs)} (run ${ms(p.profile.runMs)})`])]];
    for (const op of ops) {
      rowsP.push([op, ...r.profile.flatMap((p) => {
        const x = p.profile.ops.find((y) => y.op === op);
        return x ? [x.kernels.toFixed(0), `${ms(x.ms)} (${pct(x.ms / p.profile.kernelMs)})`] : ['0', '-'];
      })]);
    }
    report.table(['op', ...r.profile.flatMap((p) => [`${p.label}: kernels`, `${p.label}: ms (share)`])], rowsP);
  }

  if (r.profileError) report.heading(3, `Where a forward's time goes (${name})`).text(`Not measured: ${r.profileError}.`);

  report.heading(3, `Request-path overhead beyond the U-Net (${name})`);
  const unet1 = forwardOf(r, 'web-node', 'int8', 1);
  report.text(
    `Node, the worker's own modules, ms per request at the defaults (${params.sampler}, ${params.steps} steps), ` +
      'against the U-Net calls of the same request (steps x one int8 forward in onnxruntime-web, Node, this run, min; the grid at the batch sizes the app uses). Storage: the Cache API and R2 through the binding inside workerd (local simulation under .wrangler-like state; production latencies differ). ' +
        "A miss's lookup is on the response path; its R2 put runs after the response (waitUntil), so it adds CPU time to the invocation but no latency.",
  );
  const unetFor = (images: number): number | undefined => {
    let total = 0;
    for (let left = images; left > 0; left -= limits.maxBatch) {
      const b = Math.min(limits.maxBatch, left);
      const f = forwardOf(r, 'web-node', 'int8', b) ?? (b === 1 ? unet1 : undefined);
      if (!f) {
        // nearest measured batch, scaled per image
        const near = batches.map((x) => forwardOf(r, 'web-node', 'int8', x)).filter((x): x is ForwardRow => x !== undefined).sort((p, q) => Math.abs(p.batch - b) - Math.abs(q.batch - b))[0];
        if (!near) return undefined;
        total += (near.timing.minMs / near.batch) * b;
      } else total += f.timing.minMs;
    }
    return total * params.steps;
  };
  const ov: (string | number)[][] = [];
  for (const [kind, images] of [['single', 1], ['grid', 16]] as const) {
    const unet = unetFor(images);
    for (const part of r.overhead[kind]) ov.push([images === 1 ? 'single image' : 'grid of 16', part.part, ms(part.msPerRequest), unet ? pct(part.msPerRequest / unet) : 'n/a']);
    if (r.r2) {
      const label = images === 1 ? 'single image' : 'grid of 16';
      ov.push([label, 'miss lookup: Cache API match + R2 get, both missing (workerd)', ms(r.r2.lookupMs), unet ? pct(r.r2.lookupMs / unet) : 'n/a']);
      ov.push([label, `R2 put of the PNG (${r.r2.bytes} bytes, workerd), in waitUntil: after the response, off its path`, ms(r.r2.putMs), unet ? pct(r.r2.putMs / unet) : 'n/a']);
      ov.push([label, '(a hit instead: R2 get, workerd)', ms(r.r2.getMs), unet ? pct(r.r2.getMs / unet) : 'n/a']);
    }
    ov.push([images === 1 ? 'single image' : 'grid of 16', `U-Net calls (${params.steps} x int8 forward, onnxruntime-web, Node)`, ms(unet), '100%']);
  }
  report.table(['request', 'part', 'ms per request', 'share of the U-Net time'], ov);
}

async function main(): Promise<void> {
  mkdirSync(o.out, { recursive: true });
  const models = resolveModels();
  const served = servedSettings(models[0].card.name);
  limits = served.limits;
  defaults = o.defaults ?? served.defaults;
  params = { ...DEFAULT_PARAMS, sampler: defaults?.sampler ?? DEFAULT_PARAMS.sampler, steps: defaults?.steps ?? DEFAULT_PARAMS.steps };
  if (o.probe !== 'none') for (const preset of o.probe.split(',')) models.push(await probeModel(preset.trim(), join(o.out, 'models'), log));
  const results: ModelResult[] = [];
  for (const model of models) results.push(await benchModel(model));

  const report = new Report();
  const when = new Date(started).toISOString().replace(/\.\d+Z$/, 'Z');
  report.heading(2, 'Edge sampling benchmark').text(
    `Measured by \`npm run bench edge${process.argv.slice(2).length > 0 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}\` on ${when} in ${((Date.now() - started) / 60000).toFixed(1)} min: ` +
      `Node ${process.version}, ${cpus().length} CPU cores (${cpus()[0]?.model ?? 'unknown'}), load average ${loadavg().map((l) => l.toFixed(1)).join(' ')} at the end. ` +
      'The machine is shared with other work: absolute figures are noisy, ratios measured in the same run less so. ' +
      `Models: ${models.map((m) => m.label).join('; ')}. Grid: ${LIMITS.maxGridImages} images. ` +
      `Requests sent again because wrangler dev's local proxy held them past 30 s (not counted in the latencies): ${heldRequestRetries()}.`,
  );
  for (const r of results) writeModelSections(report, r);
  const text = report.toString();
  const stamp = when.replace(/[:]/g, '-');
  const file = join(o.out, `bench-${stamp}.md`);
  writeFileSync(file, text);
  writeFileSync(join(o.out, 'latest.md'), text);
  if (o.report) {
    mkdirSync(dirname(resolve(o.report)), { recursive: true });
    writeFileSync(o.report, text);
  }
  writeFileSync(join(o.out, `bench-${stamp}.json`), JSON.stringify(results.map((r) => ({ ...r, model: { label: r.model.label, card: r.model.card } })), null, 1));
  console.log(text);
  log(`written ${file}${o.report ? ` and ${o.report}` : ''}`);
}

await main();
