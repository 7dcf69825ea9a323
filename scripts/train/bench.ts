/**
 * `npm run bench train -- [options]`: training speed per backend, model size and batch size.
 * Each cell times full optimisation steps (batch drawing, gradients on the engine, Adam + EMA) after a
 * warm-up, and prints ms/step, images/s, steps/hour and CPU seconds per step (all threads of the process;
 * on a shared machine wall time inflates, CPU time much less: with W workers and an idle machine,
 * ms/step ~ CPU s/step / W).
 * With a Python that imports torch (peer.ts), each model/batch cell is also timed in plain PyTorch on all cores
 * (peer/unet_torch.py, same config, batch and step) and a last table prints ours / PyTorch; --no-pytorch skips it.
 * --interleave <rounds>: instead of one run of each side per cell, ours and the peer (kept running, `--serve`) alternate
 * blocks of --steps steps for that many rounds, and a last table prints the median over rounds of ours / PyTorch
 * with its distribution-free 95% interval and whether the issue's 0.5 is met, not met or not resolved.
 * --variants plain,self-cond,p2,self-cond+p2: the training variants timed per cell (default plain): self-conditioning
 * (issue 16: half of the steps, by the run's per-step coin, add a forward pass without gradient; the row says
 * how many of its timed steps did) and p2 loss weighting; the PyTorch peer times the plain variant only.
 * --profile: after each cell's timed steps, as many profiled steps on the same engine (phase table: batch,
 * shard/post, workers' forward/backward, gradient exchange, clipping, Adam, EMA), then tf.profile() of one
 * in-process gradient computation of the same batch (kernel table by name, split into forward and backward).
 */
import * as tf from '@tensorflow/tfjs';
import cliProgress from 'cli-progress';
import { Command, Option } from 'commander';
import * as os from 'node:os';
import { makeSchedule } from '../../src/diffusion/index.ts';
import { readFlat } from '../model/ops-tfjs.ts';
import { selectBackend, type BackendRequest } from './backend.ts';
import { BatchMaker } from './batch.ts';
import { fashionMnistPaths, loadIdxDataset, type Dataset } from './data.ts';
import { InProcessEngine, WorkerPoolEngine, type GradEngine } from './engine.ts';
import { createUNet, setWeights } from './model.ts';
import { lossAndGrads } from './grad.ts';
import { formatKernelTable, formatPhaseTable, groupKernels, phaseRows, type KernelRecord, type OptimTiming, type StepProfile } from './profile.ts';
import { adamStep } from './optim.ts';
import { DEFAULT_TRAIN, DEFAULT_UNET, PRESETS } from './options.ts';
import type { UNetConfig } from '../model/config.ts';
import { findTorchPython, formatInterleaveTable, formatPeerSummary, formatPeerTable, oursFirstInRound, PEER_SKIPPED, PeerServer, runPeer, summarizeInterleave, type InterleaveRound, type InterleaveSummary, type PeerResult, type PeerRow } from './peer.ts';

/** Training variants bench:train times: self-conditioning and the p2 loss weight on or off. */
const VARIANTS = { plain: { selfCondition: false, p2: false }, 'self-cond': { selfCondition: true, p2: false }, p2: { selfCondition: false, p2: true }, 'self-cond+p2': { selfCondition: true, p2: true } } as const;
type Variant = keyof typeof VARIANTS;

interface Row {
  backend: string;
  model: string;
  variant: Variant;
  /**
   * Self-conditioned variants: timed steps that ran the first (no-gradient) pass, and the mean CPU seconds (all threads)
   * of those steps and of the others (CPU time, since wall time on a shared machine moves with the load).
   */
  firstPassSteps: number;
  cpuWithFirstPass: number | null;
  cpuWithoutFirstPass: number | null;
  params: number;
  size: number;
  batch: number;
  workers: number;
  msPerStep: number;
  imagesPerSec: number;
  stepsPerHour: number;
  cpuSecPerStep: number;
  load1: number;
  /** --profile: the cell's phase and kernel tables, printed after its row. */
  profileText?: string;
  /** PyTorch peer on the same cell (absent without torch or with --no-pytorch). */
  pytorch?: PeerResult;
  /** --interleave: every round's per-step milliseconds of both sides (in the --json output). */
  rounds?: InterleaveRound[];
}

function syntheticDataset(size: number, n = 1024): Dataset {
  const pixels = new Uint8Array(n * size * size).map((_, i) => (i * 2654435761) >>> 24);
  return { pixels, count: n, size, channels: 1, labels: new Int32Array(n).map((_, i) => i % 10), classNames: null, source: 'synthetic' };
}

/** Kernels of one in-process gradient computation (tf.profile), tagged forward / backward. */
async function kernelProfile(cfg: UNetConfig, convGrad: 'forward' | 'autodiff', weights: Float32Array, batch: ReturnType<BatchMaker['make']>): Promise<{ records: KernelRecord[]; wallMs: number; scopes: number }> {
  const model = createUNet(cfg, 0, convGrad);
  setWeights(model, weights);
  lossAndGrads(model, batch, 'l2'); // warm-up (allocations), not profiled
  const active = (): number => (tf.engine().state as unknown as { activeProfile: { kernels: unknown[] } }).activeProfile.kernels.length;
  let fwdKernels = -1;
  let wallMs = 0;
  const info = await tf.profile(() => {
    const t0 = performance.now();
    lossAndGrads(model, batch, 'l2', { onForwardEnd: () => (fwdKernels = active()) });
    wallMs = performance.now() - t0;
  });
  for (const v of model.params.values()) v.dispose();
  // tf.customGrad's forward function shows up as a record named after the active scope ("forward"), whose time
  // includes the real kernels it ran (recorded on their own): keep registered kernels only, so nothing counts twice
  const backend = tf.getBackend();
  const records: KernelRecord[] = [];
  let scopes = 0;
  info.kernels.forEach((k, i) => {
    if (tf.getKernel(k.name, backend) === undefined) scopes++;
    else records.push({ name: k.name, ms: Number(k.kernelTimeMs), phase: i < fwdKernels ? 'forward' : 'backward' });
  });
  return { records, wallMs, scopes };
}

/** A cell's training loop, ready to step: the engine (workers started), optimizer state and batch maker. */
interface OpenCell {
  cfg: UNetConfig;
  /** Whether the backend is a native tfjs (autodiff convolution gradients) rather than wasm/cpu. */
  native: boolean;
  engine: GradEngine;
  total: number;
  /** Batch s of the cell's batch maker (what step s trains on). */
  batchAt(s: number): ReturnType<BatchMaker['make']>;
  /** Step s: batch s, gradients on the engine, Adam + EMA. */
  step(s: number, optim?: OptimTiming): Promise<{ selfCond: boolean; batchMs: number; timing: StepProfile['engine'] | undefined }>;
}

async function openCell(ds: Dataset, base: UNetConfig, variant: Variant, backend: BackendRequest, batch: number, workers: number): Promise<OpenCell> {
  const cfg: UNetConfig = { ...base, selfCondition: VARIANTS[variant].selfCondition };
  const choice = await selectBackend(backend);
  const model = createUNet(cfg, 1, choice.native ? 'autodiff' : 'forward');
  const total = model.layout.total;
  const engine: GradEngine =
    workers > 0 ? await WorkerPoolEngine.start(workers, cfg, total, choice.name === 'cpu' ? 'cpu' : 'wasm', choice.native ? 'autodiff' : 'forward', 'l2') : new InProcessEngine(cfg, choice.native ? 'autodiff' : 'forward', 'l2', choice.name);
  const state = { weights: engine.weights, ema: new Float32Array(total), adamM: new Float32Array(total), adamV: new Float32Array(total) };
  engine.weights.set(readFlat(model.params, model.layout));
  for (const v of model.params.values()) v.dispose();
  const bm = new BatchMaker(ds, makeSchedule({ kind: 'linear', T: 1000 }), {
    seed: 0,
    batchSize: batch,
    objective: 'eps',
    weighting: VARIANTS[variant].p2 ? { kind: 'p2', k: 1, gamma: 1 } : { kind: 'none' },
    hflip: false,
    numClasses: cfg.numClasses,
    labelDropout: 0.1,
    selfCondition: cfg.selfCondition,
  });
  const opts = { ...DEFAULT_TRAIN, batchSize: batch };
  return {
    cfg,
    native: choice.native,
    engine,
    total,
    batchAt: (s) => bm.make(s),
    async step(s, optim) {
      const a = performance.now();
      const b = bm.make(s);
      const batchMs = performance.now() - a;
      const r = await engine.compute(b);
      adamStep(state, r.grads, opts, s, optim);
      return { selfCond: !!b.selfCond, batchMs, timing: r.timing };
    },
  };
}

/** A row's size and speed fields from the mean ms per step and CPU seconds (all threads) per step. */
function speedFields(params: number, cfg: UNetConfig, batch: number, workers: number, ms: number, cpuSecPerStep: number): Pick<Row, 'params' | 'size' | 'batch' | 'workers' | 'msPerStep' | 'imagesPerSec' | 'stepsPerHour' | 'cpuSecPerStep' | 'load1'> {
  return { params, size: cfg.imageSize, batch, workers, msPerStep: ms, imagesPerSec: (batch * 1000) / ms, stepsPerHour: 3_600_000 / ms, cpuSecPerStep, load1: os.loadavg()[0] };
}

async function benchCell(
  ds: Dataset,
  base: UNetConfig,
  variant: Variant,
  backend: BackendRequest,
  batch: number,
  workers: number,
  steps: number,
  warmup: number,
  profile = false,
): Promise<Omit<Row, 'backend' | 'model' | 'variant'>> {
  const { cfg, native, engine, total, step, batchAt } = await openCell(ds, base, variant, backend, batch, workers);
  let t0 = 0;
  let c0 = process.cpuUsage();
  const stepCpu = { with: [] as number[], without: [] as number[] };
  try {
    for (let s = 0; s < warmup + steps; s++) {
      if (s === warmup) {
        t0 = performance.now();
        c0 = process.cpuUsage();
      }
      const a = process.cpuUsage();
      const { selfCond } = await step(s);
      const used = process.cpuUsage(a);
      if (s >= warmup) (selfCond ? stepCpu.with : stepCpu.without).push((used.user + used.system) / 1e6);
    }
  } finally {
    if (!profile) await engine.close();
  }
  const ms = (performance.now() - t0) / steps;
  const cpu = process.cpuUsage(c0);
  const out: string[] = [];
  if (profile) {
    // the same loop again, timed by phase (after the timed steps, so ms/step above is unaffected)
    const prof: StepProfile[] = [];
    engine.profile = true;
    try {
      for (let s = warmup + steps; s < warmup + 2 * steps; s++) {
        const a = performance.now();
        const optim: OptimTiming = { clipMs: 0, adamMs: 0, emaMs: 0 };
        const r = await step(s, optim);
        const end = performance.now();
        if (!r.timing) throw new Error('engine returned no timing with profile on');
        prof.push({ batchMs: r.batchMs, engine: r.timing, optim, totalMs: end - a });
      }
    } finally {
      await engine.close();
    }
    out.push(`\nprofile: ${engine.description.split(';')[0]}, batch ${batch}, mean of ${steps} steps (performance.now() around each phase; Adam and EMA in separate loops here, fused in normal steps)`);
    out.push(formatPhaseTable(phaseRows(prof)));
    const kp = await kernelProfile(cfg, native ? 'autodiff' : 'forward', engine.weights, batchAt(warmup + 2 * steps));
    const rows = groupKernels(kp.records);
    const kernelSum = kp.records.reduce((sum, r) => sum + r.ms, 0);
    const timer = tf.backend().timerAvailable() ? 'the backend timer' : 'wall clock + dataSync per kernel';
    out.push(
      `\nkernels: tf.profile() of one in-process gradient computation, batch ${batch}, 1 thread (${tf.getBackend()}; kernelTimeMs from ${timer}, ` +
        `i.e. wall time around each synchronous kernel); forward = kernels up to the loss, backward = the rest; ` +
        `kernels ${kernelSum.toFixed(0)} ms of ${kp.wallMs.toFixed(0)} ms wall (the rest: tape, tidy, JS between kernels, profiler); ` +
        `${kp.scopes} custom-gradient wrapper records (not kernels, their kernels are counted) left out`,
    );
    out.push(formatKernelTable(rows, 15));
  }
  const mean = (a: number[]): number | null => (a.length > 0 ? a.reduce((x, y) => x + y, 0) / a.length : null);
  return {
    firstPassSteps: stepCpu.with.length,
    cpuWithFirstPass: mean(stepCpu.with),
    cpuWithoutFirstPass: mean(stepCpu.without),
    ...speedFields(total, cfg, batch, workers, ms, (cpu.user + cpu.system) / 1e6 / steps),
    ...(profile ? { profileText: out.join('\n') } : {}),
  };
}

/** Between blocks: PyTorch's OpenMP threads spin a little after their work, V8 finishes its GC after ours. */
const PAUSE_MS = 250;

/**
 * --interleave: our cell and the peer (PeerServer, kept warm) alternate blocks of `steps` steps for `rounds`
 * rounds (ours, peer, peer, ours, ...), after `warmup` steps each, with a pause between blocks. Both sides of a round see the same seconds of the machine,
 * so its ratio carries little of the drift that moves separate runs by 10-50%.
 */
async function interleaveCell(
  ds: Dataset,
  cfg: UNetConfig,
  backend: BackendRequest,
  batch: number,
  workers: number,
  steps: number,
  warmup: number,
  rounds: number,
  peer: { python: string; threads: number; timeoutMs: number },
): Promise<{ row: Omit<Row, 'backend' | 'model' | 'variant'>; rounds: InterleaveRound[]; peerParams: number; torch: string }> {
  const cell = await openCell(ds, cfg, 'plain', backend, batch, workers);
  let server: PeerServer | null = null;
  const pause = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, PAUSE_MS));
  const bar = new cliProgress.SingleBar({ format: `interleave {bar} {value}/{total} rounds | ours/torch last {last}`, stream: process.stderr, clearOnComplete: true }, cliProgress.Presets.shades_classic);
  try {
    let s = 0;
    for (; s < warmup; s++) await cell.step(s);
    const started = await PeerServer.start(peer.python, cfg, { batch, warmup, threads: peer.threads, timeoutMs: peer.timeoutMs });
    server = started.server;
    const out: InterleaveRound[] = [];
    let cpu = 0;
    bar.start(rounds, 0, { last: '-' });
    for (let r = 0; r < rounds; r++) {
      const oursMs: number[] = [];
      let peerMs: number[] = [];
      const ours = async (): Promise<void> => {
        const c = process.cpuUsage();
        for (let i = 0; i < steps; i++) {
          const a = performance.now();
          await cell.step(s++);
          oursMs.push(performance.now() - a);
        }
        const used = process.cpuUsage(c);
        cpu += (used.user + used.system) / 1e6;
      };
      let idleCpuMs = 0;
      const theirs = async (): Promise<void> => {
        const c = process.cpuUsage();
        peerMs = await server!.run(steps);
        const used = process.cpuUsage(c);
        idleCpuMs = (used.user + used.system) / 1000;
      };
      const oursFirst = oursFirstInRound(r);
      await (oursFirst ? ours() : theirs());
      await pause();
      await (oursFirst ? theirs() : ours());
      await pause();
      out.push({ oursFirst, oursMs, peerMs, oursCpuDuringPeerMs: idleCpuMs });
      const mean = (a: number[]): number => a.reduce((x, y) => x + y, 0) / a.length;
      bar.update(r + 1, { last: (mean(peerMs) / mean(oursMs)).toFixed(2) });
    }
    const all = out.flatMap((r) => r.oursMs);
    const ms = all.reduce((x, y) => x + y, 0) / all.length;
    return {
      row: {
        firstPassSteps: 0,
        cpuWithFirstPass: null,
        cpuWithoutFirstPass: null,
        ...speedFields(cell.total, cfg, batch, workers, ms, cpu / all.length),
      },
      rounds: out,
      peerParams: started.params,
      torch: started.torch,
    };
  } finally {
    bar.stop();
    server?.close();
    await cell.engine.close();
  }
}

/** "k/n, CPU s/step with A, without B, at 1/2: C" (C: the expected step of a run, where half of the steps have the pass). */
function firstPassText(r: Row, steps: number): string {
  const f = (v: number | null): string => (v === null ? '-' : v.toFixed(2));
  const half = r.cpuWithFirstPass !== null && r.cpuWithoutFirstPass !== null ? (r.cpuWithFirstPass + r.cpuWithoutFirstPass) / 2 : null;
  return `${r.firstPassSteps}/${steps}, CPU s/step with ${f(r.cpuWithFirstPass)}, without ${f(r.cpuWithoutFirstPass)}, at 1/2: ${f(half)}`;
}

async function main(): Promise<void> {
  const program = new Command('bench:train')
    .description('Training speed per backend, model size and batch size (ms/step, images/s).')
    .option('--sizes <list>', `presets: ${Object.keys(PRESETS).join(', ')}`, 'tiny,small')
    .option('--batches <list>', 'batch sizes', '16,32,64')
    .option('--backends <list>', 'backends to try (auto, tfjs-node-gpu, tfjs-node, wasm, cpu)', 'wasm,cpu')
    .option('--workers <n>', 'worker threads for wasm/cpu (auto = one per core)', 'auto')
    .option('--steps <n>', 'timed steps per cell', '6')
    .option('--warmup <n>', 'untimed steps per cell', '3')
    .option('--image-size <n>', 'resolution', '32')
    .option('--conditional', 'with a 10-class embedding', false)
    .option('--variants <list>', `training variants per cell: ${Object.keys(VARIANTS).join(', ')}`, 'plain')
    .option('--cpu-max-batch <n>', 'largest batch tried on the slow pure-JS cpu backend', '16')
    .addOption(new Option('--data <kind>', 'synthetic or fashion-mnist images').choices(['synthetic', 'fashion-mnist']).default('synthetic'))
    .option('--no-pytorch', 'skip the PyTorch CPU peer (on by default when a python with torch is found)')
    .option('--repeats <n>', 'with the PyTorch peer: time ours and the peer alternately n times per plain cell and print the median ratio with its range', '1')
    .option('--interleave <rounds>', 'with the PyTorch peer: ours and the peer (kept running) alternate blocks of --steps steps for this many rounds per plain cell (at least 6), and a last table gives the median ratio with its 95% interval', '0')
    .option('--pytorch-timeout <s>', 'kill a PyTorch peer run after this many seconds', '300')
    .option('--profile', 'after each cell, a per-phase table of a step and a per-kernel table of one gradient computation', false)
    .option('--json', 'print the rows as JSON too', false);
  program.parse(process.argv);
  const o = program.opts<{ sizes: string; batches: string; backends: string; workers: string; steps: string; warmup: string; imageSize: string; conditional: boolean; variants: string; cpuMaxBatch: string; data: string; json: boolean; profile: boolean; pytorch: boolean; pytorchTimeout: string; repeats: string; interleave: string }>();
  const repeats = Number(o.repeats);
  if (!Number.isInteger(repeats) || repeats < 1) program.error(`error: --repeats must be a positive integer, got ${o.repeats}`);
  const interleave = Number(o.interleave);
  if (!Number.isInteger(interleave) || (interleave !== 0 && interleave < 6)) program.error(`error: --interleave must be 0 (off) or at least 6 rounds (the least for a 95% interval of a median), got ${o.interleave}`);
  if (interleave > 0 && repeats > 1) program.error('error: --interleave and --repeats are two ways to pair ours with the peer: give one');
  if (interleave > 0 && o.profile) program.error('error: --interleave times steps against the peer; --profile needs a cell of its own: give one');
  if (interleave > 0 && !o.pytorch) program.error('error: --interleave needs the PyTorch peer (drop --no-pytorch)');
  const variants = o.variants.split(',') as Variant[];
  for (const v of variants) if (!(v in VARIANTS)) program.error(`error: unknown variant ${v}; variants: ${Object.keys(VARIANTS).join(', ')}`);
  const S = Number(o.imageSize);
  const ds = o.data === 'fashion-mnist' ? await loadIdxDataset(fashionMnistPaths().images, fashionMnistPaths().labels, { size: S, channels: 1, fit: 'pad', limit: 4096 }) : syntheticDataset(S);
  const rows: Row[] = [];
  console.log(`machine: ${os.cpus().length} cores (${os.cpus()[0]?.model ?? '?'}), Node ${process.version}; load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  const threads = os.cpus().length;
  const peer = o.pytorch ? findTorchPython() : null;
  if (!o.pytorch) console.log('PyTorch peer: off (--no-pytorch)');
  else if (!peer) console.log(PEER_SKIPPED);
  else console.log(`PyTorch peer: ${peer.python} (torch ${peer.torch}), ${threads} threads`);
  const peerCache = new Map<string, PeerResult | null>();
  const peerRows: PeerRow[] = [];
  const interleaved: { backend: string; model: string; batch: number; summary: InterleaveSummary }[] = [];
  console.log('backend        model  variant       params    batch workers  ms/step  images/s  steps/h  CPU s/step  load  first passes');
  for (const backend of o.backends.split(',') as BackendRequest[]) {
    let choice;
    try {
      choice = await selectBackend(backend);
    } catch (e) {
      console.log(`${backend.padEnd(14)} unavailable: ${(e as Error).message.slice(0, 120)}`);
      continue;
    }
    const workers = o.workers === 'auto' ? (choice.native ? 0 : os.availableParallelism()) : Number(o.workers);
    for (const size of o.sizes.split(',')) {
      const preset = PRESETS[size];
      if (!preset) throw new Error(`unknown size ${size}; presets: ${Object.keys(PRESETS).join(', ')}`);
      const attn = (preset.attentionResolutions ?? [8]).map((r) => (r * S) / 32).filter((r) => Number.isInteger(r));
      const cfg: UNetConfig = { ...DEFAULT_UNET, ...preset, imageSize: S, attentionResolutions: attn, numClasses: o.conditional ? 10 : 0 };
      for (const batch of o.batches.split(',').map(Number)) {
        if (choice.name === 'cpu' && batch > Number(o.cpuMaxBatch)) continue;
        if (workers > 1 && batch % workers !== 0) continue;
        const steps = choice.name === 'cpu' ? Math.min(2, Number(o.steps)) : Number(o.steps);
        const warm = choice.name === 'cpu' ? 1 : Number(o.warmup);
        for (const variant of variants)
          for (let rep = 0; rep < (peer && variant === 'plain' ? repeats : 1); rep++) {
            const paired = peer !== null && variant === 'plain' && interleave > 0;
            let r: Omit<Row, 'backend' | 'model' | 'variant'>;
            let rounds: InterleaveRound[] | undefined;
            if (paired) {
              const timeoutMs = Number(o.pytorchTimeout) * 1000;
              const it = await interleaveCell(ds, cfg, backend, batch, workers, steps, warm, interleave, { python: peer.python, threads, timeoutMs });
              r = it.row;
              rounds = it.rounds;
              const summary = summarizeInterleave(it.rounds, batch);
              interleaved.push({ backend: choice.name, model: size, batch, summary });
              peerRows.push({ backend: choice.name, model: size, batch, params: r.params, peerParams: it.peerParams, imagesPerSec: summary.oursImagesPerSec, peerImagesPerSec: summary.peerImagesPerSec });
            } else r = await benchCell(ds, cfg, variant, backend, batch, workers, steps, warm, o.profile);
            const row: Row = { backend: choice.name, model: size, variant, ...r, ...(rounds ? { rounds } : {}) };
            rows.push(row);
            if (peer && variant === 'plain' && !paired) {
              const key = `${size}/${batch}/${rep}`;
              if (!peerCache.has(key)) {
                try {
                  peerCache.set(key, await runPeer(peer.python, cfg, { batch, steps, warmup: warm, threads, timeoutMs: Number(o.pytorchTimeout) * 1000 }));
                } catch (e) {
                  console.log(`  ${(e as Error).message}`);
                  peerCache.set(key, null);
                }
              }
              const p = peerCache.get(key);
              if (p) {
                row.pytorch = p;
                peerRows.push({ backend: row.backend, model: size, batch, params: row.params, peerParams: p.params, imagesPerSec: row.imagesPerSec, peerImagesPerSec: p.imagesPerSec });
              }
            }
            console.log(
              `${row.backend.padEnd(14)} ${row.model.padEnd(6)} ${variant.padEnd(13)} ${(row.params / 1e6).toFixed(2).padStart(5)}M ${String(batch).padStart(8)} ${String(workers).padStart(7)} ${row.msPerStep.toFixed(0).padStart(8)} ${row.imagesPerSec.toFixed(1).padStart(9)} ${row.stepsPerHour.toFixed(0).padStart(8)} ${row.cpuSecPerStep.toFixed(2).padStart(11)} ${row.load1.toFixed(1).padStart(5)}  ${VARIANTS[variant].selfCondition ? firstPassText(row, steps) : '-'}`,
            );
            if (row.profileText) console.log(`${row.profileText}\n`);
          }
      }
    }
  }
  if (peer && peerRows.length > 0) console.log(`\n${formatPeerTable(peerRows, threads, peer.torch)}`);
  if (peer && repeats > 1 && peerRows.length > 0) console.log(`\n${formatPeerSummary(peerRows)}`);
  if (peer && interleaved.length > 0) console.log(`\n${formatInterleaveTable(interleaved, threads, peer.torch)}`);
  if (o.json) console.log(JSON.stringify(rows.map(({ profileText: _, ...r }) => r)));
  process.exit(0);
}

await main();
