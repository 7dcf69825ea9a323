/**
 * The training loop: a run directory (checkpoint.ts), a dataset (data.ts), seeded batches (batch.ts), a
 * gradient engine (engine.ts: main thread or worker threads), Adam + clipping + EMA (optim.ts), and the
 * run's outputs: loss.csv, loss.png, samples/step-*.png drawn with the core's samplers from the EMA
 * weights, checkpoints. Ctrl-C (SIGINT) finishes the current step, writes a checkpoint and returns.
 */
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import cliProgress from 'cli-progress';
import { createScheduler, makeSchedule, sample } from '../../src/diffusion/index.ts';
import { readFlat } from '../model/ops-tfjs.ts';
import { selectBackend, describeBackend, type BackendRequest } from './backend.ts';
import { BatchMaker } from './batch.ts';
import { describeProcess } from '../../src/cold/process.ts';
import { ColdBatchMaker } from './cold-batch.ts';
import { writeColdGrid } from './cold-grid.ts';
import { loadCheckpoint, readRunConfig, saveCheckpoint, writeFileAtomic, writeRunConfig, checkpointDirName, type TrainState } from './checkpoint.ts';
import { loadIdxDataset, loadImageFolder, type Dataset } from './data.ts';
import { InProcessEngine, WorkerPoolEngine, type GradEngine } from './engine.ts';
import { createUNet, setWeights, toEpsModel, type TfjsUNet } from './model.ts';
import { loadInitWeights } from './init-from.ts';
import { trainingTotals } from '../../src/model-card.ts';
import { adamStep } from './optim.ts';
import { isColdRun, lossWeighting, validateTrainOptions, type AnyRunConfig, type RunConfig } from './options.ts';
import { gridPng, lossCurvePng } from './plot.ts';
import { validateUNetConfig } from '../model/unet.ts';

export interface TrainRequest {
  runDir: string;
  /** A new run's config (DDPM or Cold Diffusion); omit with `resume`. */
  config?: AnyRunConfig;
  resume: boolean;
  backend: BackendRequest;
  /** Change the total step count of a resumed run (training is exact-resumable past the old end). */
  steps?: number;
  /** Set the learning-rate cooldown of a resumed run (linear decay to 0 over its last n steps). */
  cooldownSteps?: number;
  /** Set keepEvery of a resumed run (checkpoints at multiples of n are never pruned). */
  keepEvery?: number;
  /** Stop (with a checkpoint) once this step is reached, without changing the run's total (tests, benches). */
  stopAt?: number;
  progress: boolean;
  /** Classifier-free guidance scale of the sample grids of conditional models. */
  sampleGuidance?: number;
  log?: (line: string) => void;
}

export interface TrainResult {
  step: number;
  lastLoss: number;
  /** Mean loss of the first and last 10% of the steps run in this call. */
  firstLosses: number;
  lastLosses: number;
  /**
   * Throughput of the optimisation steps alone (batch, gradients, Adam), as the progress bar and loss.csv show it:
   * checkpoints, loss plots and sample grids are not in it; they are in wallSeconds.
   */
  imagesPerSecond: number;
  msPerStep: number;
  /** Wall time of this call: the steps, checkpoints, loss plots and sample grids. */
  wallSeconds: number;
  interrupted: boolean;
  engine: string;
}

export async function loadDataset(cfg: AnyRunConfig): Promise<Dataset> {
  const opts = { size: cfg.unet.imageSize, channels: cfg.unet.channels, fit: cfg.data.fit, limit: cfg.data.limit };
  return cfg.data.kind === 'idx' ? loadIdxDataset(cfg.data.images, cfg.data.labels, opts) : loadImageFolder(cfg.data.images, opts);
}

const CSV_HEADER = 'step,loss,lr,grad_norm,images_per_sec,elapsed_sec\n';

/** Keep only the header and rows with step <= `step` (a resumed run rewrites what came after). */
async function truncateCsv(file: string, step: number): Promise<void> {
  let text = '';
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch {
    await writeFileAtomic(file, CSV_HEADER);
    return;
  }
  const lines = text.split('\n').filter((l) => l.length > 0);
  const keep = lines.filter((l, i) => i === 0 || Number(l.split(',')[0]) <= step);
  await writeFileAtomic(file, `${keep.join('\n')}\n`);
}

async function readCsvLosses(file: string): Promise<{ steps: number[]; losses: number[] }> {
  const steps: number[] = [];
  const losses: number[] = [];
  const text = await fsp.readFile(file, 'utf8').catch(() => '');
  for (const l of text.split('\n').slice(1)) {
    const [s, loss] = l.split(',');
    if (s && loss) {
      steps.push(Number(s));
      losses.push(Number(loss));
    }
  }
  return { steps, losses };
}

/** Draw a sample grid with the EMA weights: one row per class (conditional) or 8x8 (unconditional). */
export async function writeSampleGrid(model: TfjsUNet, cfg: RunConfig, ema: Float32Array, file: string, guidance: number): Promise<void> {
  setWeights(model, ema);
  const { imageSize: S, channels: C, numClasses } = cfg.unet;
  const cols = 8;
  const rows = numClasses > 0 ? Math.min(numClasses, 10) : 8;
  const n = rows * cols;
  const classes = numClasses > 0 ? Int32Array.from({ length: n }, (_, k) => Math.floor(k / cols)) : undefined;
  const schedule = makeSchedule(cfg.schedule);
  const scheduler = createScheduler('ddim', schedule, { predictionType: cfg.prediction, clipSample: true });
  const images = await sample({
    model: toEpsModel(model, 40),
    scheduler,
    steps: Math.min(cfg.training.sampleSteps, schedule.T),
    shape: [n, C, S, S],
    seeds: Array.from({ length: n }, (_, k) => 1000 + k),
    classes,
    guidanceScale: classes ? guidance : 1,
    nullClass: numClasses,
  });
  await fsp.mkdir(path.dirname(file), { recursive: true });
  await writeFileAtomic(file, gridPng(images, n, C, S, cols));
}

export async function train(req: TrainRequest): Promise<TrainResult> {
  const log = req.log ?? ((l: string) => console.log(l));
  const runDir = req.runDir;
  let cfg: AnyRunConfig;
  let resumeFrom: Awaited<ReturnType<typeof loadCheckpoint>> | null = null;
  if (req.resume) {
    cfg = await readRunConfig(runDir);
    const latest = await fsp.stat(path.join(runDir, 'checkpoints')).then(() => true, () => false);
    if (latest) resumeFrom = await loadCheckpoint(runDir);
    const changed = {
      ...(req.steps !== undefined ? { steps: req.steps } : {}),
      ...(req.cooldownSteps !== undefined ? { cooldownSteps: req.cooldownSteps } : {}),
      ...(req.keepEvery !== undefined ? { keepEvery: req.keepEvery } : {}),
    };
    if (Object.entries(changed).some(([k, v]) => cfg.training[k as keyof typeof changed] !== v)) {
      cfg = { ...cfg, training: validateTrainOptions({ ...cfg.training, ...changed }) };
      await writeRunConfig(runDir, cfg);
    }
  } else {
    if (!req.config) throw new Error('train: a new run needs a config');
    cfg = req.config;
    const exists = await fsp.stat(path.join(runDir, 'config.json')).then(() => true, () => false);
    if (exists) throw new Error(`${runDir} already holds a run (config.json); pass --resume to continue it or choose another --run-dir`);
    await writeRunConfig(runDir, cfg);
  }
  validateUNetConfig(cfg.unet);
  const o = validateTrainOptions(cfg.training);
  if (isColdRun(cfg) && (cfg.unet.numClasses > 0 || o.objective !== 'x0')) {
    throw new Error(`a Cold Diffusion run restores x0 unconditionally (numClasses 0, objective x0; got ${cfg.unet.numClasses}, ${o.objective})`);
  }

  const backend = await selectBackend(req.backend);
  log(describeBackend(backend));
  const convGrad = backend.native ? 'autodiff' : 'forward';
  const ds = await loadDataset(cfg);
  log(`data: ${ds.count} images ${ds.size}x${ds.size}x${ds.channels} from ${ds.source}${ds.labels ? `, ${ds.classNames?.length ?? '?'} classes` : ', unlabeled'}`);
  if (cfg.unet.numClasses > 0 && (ds.classNames?.length ?? 0) > cfg.unet.numClasses) {
    throw new Error(`the data has ${ds.classNames?.length} classes but the model was configured for ${cfg.unet.numClasses}`);
  }
  const model = createUNet(cfg.unet, o.seed, convGrad);
  log(`model: ${model.layout.total.toLocaleString('en-US')} parameters, ${JSON.stringify(cfg.unet)}`);
  if (isColdRun(cfg)) log(`process: ${describeProcess(cfg.process)}; loss ${o.loss} on x0`);

  const engine: GradEngine =
    o.workers > 0
      ? await WorkerPoolEngine.start(o.workers, cfg.unet, model.layout.total, backend.name === 'cpu' ? 'cpu' : 'wasm', convGrad, o.loss)
      : new InProcessEngine(cfg.unet, convGrad, o.loss, backend.name);
  log(`gradients: ${engine.description.split(';')[0]}`);
  const total = model.layout.total;
  const state: TrainState = resumeFrom
    ? resumeFrom.state
    : { step: 0, imagesSeen: 0, trainSeconds: 0, weights: readFlat(model.params, model.layout), ema: new Float32Array(total), adamM: new Float32Array(total), adamV: new Float32Array(total) };
  if (!resumeFrom && !isColdRun(cfg) && cfg.initFrom) {
    const init = await loadInitWeights(cfg.initFrom, model.layout, cfg.unet);
    state.weights = init.flat;
    const t = cfg.initFrom.training;
    const all = trainingTotals(t);
    const chain = all.runs > 1 ? `; ${all.steps.toLocaleString('en-US')} steps${all.images !== undefined ? `, ${all.images.toLocaleString('en-US')} images` : ''} over its ${all.runs} runs` : '';
    log(`init: weights from ${cfg.initFrom.model} ${cfg.initFrom.version} (${cfg.initFrom.dir}; ${t.steps.toLocaleString('en-US')} steps${t.batchSize ? ` of batch ${t.batchSize}` : ''}${chain})`);
    for (const n of init.notes) log(`init: ${n}`);
  }
  if (!resumeFrom) state.ema.set(state.weights);
  if (resumeFrom) {
    if (resumeFrom.manifest.totalParams !== total) throw new Error(`checkpoint has ${resumeFrom.manifest.totalParams} parameters, the configured model ${total}`);
    log(`resuming from ${resumeFrom.dir} (step ${state.step})`);
  }
  // the engine's shared buffer becomes the optimiser's weight vector
  engine.weights.set(state.weights);
  state.weights = engine.weights;
  const params = model.layout.entries.map((e) => ({ name: e.name, shape: e.shape, offset: e.offset, size: e.size }));

  const csv = path.join(runDir, 'loss.csv');
  await truncateCsv(csv, state.step);
  // Cold Diffusion runs degrade instead of noising (cold-batch.ts); the batch has the same shape
  const bm = isColdRun(cfg)
    ? new ColdBatchMaker(ds, cfg.process, { seed: o.seed, batchSize: o.batchSize, hflip: cfg.data.hflip })
    : new BatchMaker(ds, makeSchedule(cfg.schedule), {
        seed: o.seed,
        batchSize: o.batchSize,
        objective: o.objective,
        weighting: lossWeighting(o),
        hflip: cfg.data.hflip,
        numClasses: cfg.unet.numClasses,
        labelDropout: o.labelDropout,
        selfCondition: cfg.unet.selfCondition === true,
        selfConditionClip: o.selfConditionClip,
      });

  let stop = false;
  let firstInterrupt = 0;
  const onSigint = (): void => {
    // A terminal's Ctrl-C reaches the whole process group, and wrappers (npm, tsx) relay it once more:
    // a second SIGINT within a second is that same keypress, not "Ctrl-C again".
    const now = Date.now();
    if (firstInterrupt > 0) {
      if (now - firstInterrupt < 1000) return;
      log('second Ctrl-C: exiting without a checkpoint');
      process.exit(130);
    }
    firstInterrupt = now;
    stop = true;
    log('\nCtrl-C: finishing the current step and writing a checkpoint (Ctrl-C again to quit now)');
  };
  process.on('SIGINT', onSigint);

  const end = Math.min(o.steps, req.stopAt ?? o.steps);
  const bar = req.progress
    ? new cliProgress.SingleBar(
        {
          format: 'step {value}/{total} {bar} {percentage}% | loss {loss} | {ips} img/s | ETA {eta_formatted}',
          noTTYOutput: true,
          notTTYSchedule: 30_000,
          etaBuffer: 50,
          hideCursor: false,
        },
        cliProgress.Presets.shades_classic,
      )
    : null;
  bar?.start(o.steps, state.step, { loss: '-', ips: '-' });
  const losses: number[] = [];
  const t0 = performance.now();
  const startStep = state.step;
  const startTrainSeconds = state.trainSeconds;
  let csvRows = '';
  // the progress bar's images/s: steps over their own time in a window of about 5 s of wall time (a checkpoint or
  // a sample grid in the window does not lower it), as the summary's
  let windowStart = performance.now();
  let windowSteps = 0;
  let windowStepSeconds = 0;
  let ips = 0;
  const guidance = req.sampleGuidance ?? 2;
  const flushCsv = async (): Promise<void> => {
    if (csvRows) await fsp.appendFile(csv, csvRows);
    csvRows = '';
  };
  const checkpoint = async (): Promise<void> => {
    await flushCsv();
    await saveCheckpoint(runDir, params, state, o.seed, o.keepCheckpoints, o.keepEvery ?? 0);
  };
  const outputs = async (): Promise<void> => {
    await flushCsv();
    const { steps, losses: ls } = await readCsvLosses(csv);
    await writeFileAtomic(path.join(runDir, 'loss.png'), lossCurvePng(steps, ls));
    const grid = path.join(runDir, 'samples', `${checkpointDirName(state.step)}.png`);
    if (isColdRun(cfg)) await writeColdGrid(model, cfg, ds, state.ema, grid);
    else await writeSampleGrid(model, cfg, state.ema, grid, guidance);
  };
  try {
    let batch = state.step < end ? bm.make(state.step) : null;
    while (batch !== null && state.step < end && !stop) {
      const stepStart = performance.now();
      // the workers start on this batch; the next one is drawn while they compute (a pure function of the step)
      const pending = engine.compute(batch);
      const next = state.step + 1 < end ? bm.make(state.step + 1) : null;
      const r = await pending;
      batch = next;
      if (!Number.isFinite(r.loss)) throw new Error(`loss is ${r.loss} at step ${state.step}; stopping without a checkpoint (lower --lr or check the data)`);
      const info = adamStep(state, r.grads, o, state.step);
      state.step++;
      state.imagesSeen += o.batchSize;
      const stepSeconds = (performance.now() - stepStart) / 1000;
      state.trainSeconds += stepSeconds;
      losses.push(r.loss);
      windowSteps++;
      windowStepSeconds += stepSeconds;
      const now = performance.now();
      if (now - windowStart > 5000 || state.step === end) {
        ips = (windowSteps * o.batchSize) / windowStepSeconds;
        windowStart = now;
        windowSteps = 0;
        windowStepSeconds = 0;
      }
      csvRows += `${state.step},${r.loss.toPrecision(6)},${info.lr.toPrecision(4)},${info.gradNorm.toPrecision(4)},${ips.toFixed(1)},${state.trainSeconds.toFixed(1)}\n`;
      if (state.step % o.logEvery === 0) await flushCsv();
      bar?.update(state.step, { loss: r.loss.toFixed(4), ips: ips.toFixed(1) });
      if (state.step % o.checkpointEvery === 0 && state.step < end) await checkpoint();
      if (o.sampleEvery > 0 && state.step % o.sampleEvery === 0 && state.step < end) await outputs();
    }
    await checkpoint();
    if (o.sampleEvery > 0) await outputs();
  } finally {
    bar?.stop();
    process.off('SIGINT', onSigint);
    await engine.close();
  }
  const ran = losses.length;
  const tenth = Math.max(1, Math.floor(ran / 10));
  const mean = (a: number[]): number => (a.length ? a.reduce((s, v) => s + v, 0) / a.length : NaN);
  const elapsed = (performance.now() - t0) / 1000;
  const stepSeconds = state.trainSeconds - startTrainSeconds;
  const result: TrainResult = {
    step: state.step,
    lastLoss: losses[ran - 1] ?? NaN,
    firstLosses: mean(losses.slice(0, tenth)),
    lastLosses: mean(losses.slice(ran - tenth)),
    imagesPerSecond: ran > 0 && stepSeconds > 0 ? ((state.step - startStep) * o.batchSize) / stepSeconds : 0,
    msPerStep: ran > 0 ? (stepSeconds * 1000) / ran : 0,
    wallSeconds: elapsed,
    interrupted: stop,
    engine: engine.description,
  };
  log(`${stop ? 'interrupted' : 'done'} at step ${state.step}: checkpoint in ${path.join(runDir, 'checkpoints', checkpointDirName(state.step))}`);
  return result;
}

/** Default worker count for a backend: one per core for wasm/cpu (capped at 8), none for native TF. */
export function defaultWorkers(native: boolean): number {
  return native ? 0 : Math.max(1, Math.min(8, os.availableParallelism()));
}
