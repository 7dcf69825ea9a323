/**
 * `npm run train -- [options]`: train a DDPM U-Net (see --help). Examples:
 *   npm run train -- --conditional --steps 5000 --run-dir runs/fmnist-a        (Fashion-MNIST, class-conditional)
 *   npm run train -- --resume --run-dir runs/fmnist-a                          (continue exactly)
 *   npm run train -- --data folder --images ./faces --channels 3 --hflip --image-size 32
 *   npm run train -- --preset tiny --conditional --self-condition --loss-weight p2 --run-dir runs/sc-p2
 *   npm run train -- --preset tiny --conditional --self-condition --init-from models/fmnist-tiny   (warm start)
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import * as path from 'node:path';
import { SCHEDULE_KINDS } from '../../src/diffusion/index.ts';
import { BLUR_PADDINGS, BLUR_ROUTINES, COLD_KINDS, DEFAULT_PROCESS, MASK_ROUTINES, validateProcess, type BlurPadding, type BlurRoutine, type ColdKind, type ColdProcess, type MaskRoutine } from '../../src/cold/process.ts';
import type { ScheduleKind } from '../../src/diffusion/types.ts';
import type { UNetConfig } from '../model/config.ts';
import { BACKEND_REQUESTS, selectBackend, type BackendRequest } from './backend.ts';
import { DatasetError, fashionMnistPaths } from './data.ts';
import { CheckpointError, readRunConfig } from './checkpoint.ts';
import { describeInit, InitFromError } from './init-from.ts';
import {
  DEFAULT_TRAIN,
  DEFAULT_UNET,
  PRESETS,
  LOSS_TYPES,
  LOSS_WEIGHT_KINDS,
  OBJECTIVES,
  PREDICTION_OF,
  lossWeighting,
  isColdRun,
  type AnyRunConfig,
  type DataSpec,
  type LossType,
  type LossWeightKind,
  type Objective,
  type TrainOptions,
} from './options.ts';
import { defaultWorkers, loadDataset, train } from './trainer.ts';

const int = (name: string) => (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`${name} must be a non-negative integer (got "${v}")`);
  return n;
};
const num = (name: string) => (v: string): number => {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError(`${name} must be a non-negative number (got "${v}")`);
  return n;
};
const intList = (name: string) => (v: string): number[] => {
  if (v.trim() === '' || v === 'none') return [];
  return v.split(',').map((s) => int(name)(s.trim()));
};
const oneOf = <T extends string>(name: string, allowed: readonly T[]) => (v: string): T => {
  if (!(allowed as readonly string[]).includes(v)) throw new InvalidArgumentError(`${name} must be one of ${allowed.join(', ')} (got "${v}")`);
  return v as T;
};

interface CliOptions {
  data: 'fashion-mnist' | 'idx' | 'folder';
  images?: string;
  labels?: string;
  fit: 'pad' | 'resize';
  hflip: boolean;
  limit: number;
  preset?: string;
  imageSize: number;
  channels?: number;
  baseChannels?: number;
  channelMults?: number[];
  resBlocks?: number;
  attention?: number[];
  dropout: number;
  groups?: number;
  conditional: boolean;
  process: 'ddpm' | ColdKind;
  schedule: ScheduleKind;
  timesteps?: number;
  blurSize?: number;
  blurStd?: number;
  blurRoutine?: BlurRoutine;
  blurPadding?: BlurPadding;
  maskStd?: number;
  maskInitial?: number;
  maskRoutine?: MaskRoutine;
  discrete: boolean;
  objective?: Objective;
  loss?: LossType;
  minSnr: number;
  lossWeight?: LossWeightKind;
  p2K: number;
  p2Gamma: number;
  selfCondition: boolean;
  selfConditionClip: boolean;
  steps?: number;
  batchSize: number;
  lr: number;
  warmup: number;
  cooldown?: number;
  gradClip: number;
  emaDecay: number;
  emaWarmup: boolean;
  labelDropout: number;
  seed: number;
  backend: BackendRequest;
  workers: string;
  runDir?: string;
  resume: boolean;
  checkpointEvery: number;
  keepCheckpoints: number;
  keepEvery?: number;
  sampleEvery: number;
  sampleSteps: number;
  sampleGuidance: number;
  logEvery: number;
  progress: boolean;
  stopAt?: number;
  initFrom?: string;
}

/** A cold process' paper defaults, typed by kind. */
const proc = <K extends ColdKind>(kind: K): Extract<ColdProcess, { kind: K }> => DEFAULT_PROCESS[kind] as Extract<ColdProcess, { kind: K }>;

export function buildProgram(): Command {
  const d = DEFAULT_TRAIN;
  return new Command('train')
    .description('Train a DDPM U-Net (TensorFlow.js) on Fashion-MNIST, MNIST-format IDX files or a folder of PNG/JPEG images.')
    .addOption(new Option('--data <kind>', 'dataset kind').choices(['fashion-mnist', 'idx', 'folder']).default('fashion-mnist'))
    .option('--images <path>', 'idx: images file (.gz or raw); folder: the image folder (class sub-folders give labels)')
    .option('--labels <path>', 'idx: labels file')
    .addOption(new Option('--fit <mode>', 'fit images to the model size: pad (centre, no scaling when smaller) or resize (+ centre crop)').choices(['pad', 'resize']).default('pad'))
    .option('--hflip', 'random horizontal flips', false)
    .option('--limit <n>', 'use at most n images (0 = all)', int('--limit'), 0)
    .addOption(new Option('--preset <name>', 'architecture preset: tiny (0.28M), small (0.69M), base (3.9M)').choices(Object.keys(PRESETS)))
    .option('--image-size <n>', 'model resolution (H = W)', int('--image-size'), DEFAULT_UNET.imageSize)
    .option('--channels <n>', '1 (grayscale) or 3 (RGB); default 1 for IDX, 3 for folders', int('--channels'))
    .option('--base-channels <n>', `width of the first level (default ${DEFAULT_UNET.baseChannels})`, int('--base-channels'))
    .option('--channel-mults <list>', `width multipliers per level (default ${DEFAULT_UNET.channelMults.join(',')})`, intList('--channel-mults'))
    .option('--res-blocks <n>', `ResNet blocks per level (default ${DEFAULT_UNET.numResBlocks})`, int('--res-blocks'))
    .option('--attention <list>', `resolutions with self-attention, e.g. 16,8 or none (default ${DEFAULT_UNET.attentionResolutions.join(',')})`, intList('--attention'))
    .option('--dropout <p>', 'dropout in ResNet blocks', num('--dropout'), DEFAULT_UNET.dropout)
    .option('--groups <n>', `GroupNorm groups (default ${DEFAULT_UNET.groups})`, int('--groups'))
    .option('--conditional', 'class-conditional (learned class embedding + null class, label dropout) for classifier-free guidance', false)
    .addOption(
      new Option('--process <kind>', 'ddpm (Gaussian noise) or Cold Diffusion (Bansal et al. 2022): cold-blur (Gaussian blur) or cold-mask (Gaussian masks); docs/cold-diffusion.md')
        .choices(['ddpm', ...COLD_KINDS])
        .default('ddpm'),
    )
    .addOption(new Option('--schedule <kind>', 'noise schedule (ddpm)').choices([...SCHEDULE_KINDS]).default('linear'))
    .option('--timesteps <T>', `diffusion steps T (default 1000; cold-blur ${DEFAULT_PROCESS['cold-blur'].T}, cold-mask ${DEFAULT_PROCESS['cold-mask'].T}, the paper's)`, int('--timesteps'))
    .option('--blur-size <n>', `cold-blur: kernel taps, odd (default ${proc('cold-blur').kernelSize})`, int('--blur-size'))
    .option('--blur-std <x>', `cold-blur: kernel std, read by the routine (default ${proc('cold-blur').std})`, num('--blur-std'))
    .addOption(new Option('--blur-routine <r>', `cold-blur: per-step std (default ${proc('cold-blur').routine})`).choices([...BLUR_ROUTINES]))
    .addOption(new Option('--blur-padding <p>', `cold-blur: border handling (default ${proc('cold-blur').padding})`).choices([...BLUR_PADDINGS]))
    .option('--mask-std <x>', `cold-mask: mask std factor (default ${proc('cold-mask').std})`, num('--mask-std'))
    .option('--mask-initial <x>', `cold-mask: initial_mask (default ${proc('cold-mask').initialMask})`, num('--mask-initial'))
    .addOption(new Option('--mask-routine <r>', `cold-mask: centred or random masks (default ${proc('cold-mask').routine})`).choices([...MASK_ROUTINES]))
    .option('--no-discrete', 'cold processes: no 8-bit rounding of degraded inputs (and for blur no per-channel mean at T)')
    .addOption(new Option('--objective <o>', `what the network predicts: eps (the paper), v or x0 (default ${d.objective}; cold processes: x0)`).choices([...OBJECTIVES]))
    .addOption(new Option('--loss <l>', `l2 (the paper) or l1 (default ${d.loss}; cold processes: l1, as their paper)`).choices([...LOSS_TYPES]))
    .option('--min-snr <gamma>', 'min-SNR-gamma loss weighting (0 = off; 5 is typical); the same as --loss-weight min-snr with this gamma', num('--min-snr'), d.minSnrGamma)
    .addOption(new Option('--loss-weight <w>', 'per-timestep loss weight: none, min-snr (gamma from --min-snr, default 5) or p2 (k + snr)^-gamma (Choi et al. 2022); default none, or min-snr with --min-snr').choices([...LOSS_WEIGHT_KINDS]))
    .option('--p2-k <k>', 'p2: k (lucidrains: 1)', num('--p2-k'), 1)
    .option('--p2-gamma <gamma>', 'p2: gamma (lucidrains recommends 1; 0 = weight 1)', num('--p2-gamma'), 1)
    .option('--self-condition', 'self-conditioning (Chen et al. 2022): half of the steps first predict x0 without gradient and feed it back as extra input channels', false)
    .option('--no-self-condition-clip', 'self-conditioning: do not clip that x0 estimate to [-1, 1] (the sampler feeds back a clipped one)')
    .option('--steps <n>', `total optimisation steps (default ${d.steps}; with --resume: extend/shorten the run)`, int('--steps'))
    .option('--batch-size <n>', 'images per step (divisible by the worker count)', int('--batch-size'), d.batchSize)
    .option('--lr <x>', 'Adam learning rate', num('--lr'), d.lr)
    .option('--warmup <n>', 'linear learning-rate warm-up steps', int('--warmup'), d.warmupSteps)
    .option('--cooldown <n>', 'linear learning-rate decay to 0 over the last n steps (default 0 = none; with --resume: set it for the rest of the run)', int('--cooldown'))
    .option('--grad-clip <x>', 'clip the global gradient norm (0 = off)', num('--grad-clip'), d.gradClip)
    .option('--ema-decay <x>', 'EMA decay of the exported weights', num('--ema-decay'), d.emaDecay)
    .option('--no-ema-warmup', 'use the full EMA decay from step 0 (default ramps (1+s)/(10+s))')
    .option('--label-dropout <p>', 'conditional: probability of the null class', num('--label-dropout'), d.labelDropout)
    .option('--seed <n>', 'seed of initialisation, data order, noise, dropout', int('--seed'), d.seed)
    .addOption(new Option('--backend <name>', 'tfjs backend; auto = tfjs-node-gpu, tfjs-node, wasm, cpu (first that loads)').choices([...BACKEND_REQUESTS]).default('auto'))
    .option('--workers <n>', 'gradient worker threads (auto: one per core for wasm/cpu, 0 for native)', 'auto')
    .option('--run-dir <dir>', 'run directory (default runs/<data>-<date>)')
    .option('--init-from <dir>', "a new run starts from an exported model's weights (models/<name>: same architecture; a --self-condition run may start from a model without it, its extra input channels at zero)")
    .option('--resume', 'continue the run in --run-dir from its latest checkpoint (exactly as if never stopped)', false)
    .option('--checkpoint-every <n>', 'steps between checkpoints', int('--checkpoint-every'), d.checkpointEvery)
    .option('--keep-checkpoints <n>', 'checkpoints kept', int('--keep-checkpoints'), d.keepCheckpoints)
    .option('--keep-every <n>', 'also keep every checkpoint at a multiple of n steps, for `npm run eval -- --run` (default 0 = none; settable with --resume)', int('--keep-every'))
    .option('--sample-every <n>', 'steps between sample grids and loss plots (0 = none)', int('--sample-every'), d.sampleEvery)
    .option('--sample-steps <n>', 'DDIM steps of the sample grids', int('--sample-steps'), d.sampleSteps)
    .option('--sample-guidance <w>', 'classifier-free guidance of the sample grids (conditional)', num('--sample-guidance'), 2)
    .option('--log-every <n>', 'steps between loss.csv flushes', int('--log-every'), d.logEvery)
    .option('--no-progress', 'no progress bar')
    .addOption(new Option('--stop-at <step>', 'stop with a checkpoint at this step (testing)').argParser(int('--stop-at')).hideHelp());
}

/** --loss-weight / --min-snr / --p2-* as training options; --min-snr alone keeps meaning min-SNR. */
function lossWeightOptions(opts: CliOptions): Pick<TrainOptions, 'minSnrGamma' | 'lossWeight' | 'p2K' | 'p2Gamma'> {
  const kind = opts.lossWeight ?? (opts.minSnr > 0 ? 'min-snr' : 'none');
  if (kind === 'min-snr') return { lossWeight: kind, minSnrGamma: opts.minSnr > 0 ? opts.minSnr : 5 };
  if (opts.minSnr > 0) throw new InvalidArgumentError(`--min-snr ${opts.minSnr} conflicts with --loss-weight ${kind} (min-SNR is --loss-weight min-snr)`);
  if (kind === 'p2') {
    if (opts.p2K === 0 && opts.p2Gamma > 0) throw new InvalidArgumentError('--p2-k must be > 0 when --p2-gamma > 0');
    return { lossWeight: kind, minSnrGamma: 0, p2K: opts.p2K, p2Gamma: opts.p2Gamma };
  }
  return { lossWeight: kind, minSnrGamma: 0 };
}

/**
 * With --resume the run's own config decides; options that would change what the network is or how the loss
 * is weighted must agree with it (a clear error instead of silently training something else).
 */
function checkResumeOptions(program: Command, opts: CliOptions, cfg: AnyRunConfig): void {
  const given = (name: string): boolean => program.getOptionValueSource(name) === 'cli';
  if (opts.initFrom !== undefined) throw new InvalidArgumentError('--init-from starts a new run; a resumed run continues from its own checkpoint');
  if (given('selfCondition') && cfg.unet.selfCondition !== true) {
    throw new InvalidArgumentError('--self-condition: the run was trained without self-conditioning (its U-Net has no self-condition input); start a new run with --self-condition instead of resuming this one');
  }
  if (given('lossWeight') || given('minSnr') || given('p2K') || given('p2Gamma')) {
    const run = lossWeighting(cfg.training);
    const asked = lossWeighting({ ...cfg.training, ...lossWeightOptions(opts) });
    if (JSON.stringify(run) !== JSON.stringify(asked)) {
      throw new InvalidArgumentError(`the run was trained with loss weight ${JSON.stringify(run)}, not ${JSON.stringify(asked)}; a resumed run keeps its loss weight`);
    }
  }
}

/** The degradation of a cold run from the options over the paper's defaults (process.ts). */
function processFromOptions(opts: CliOptions, kind: ColdKind): ColdProcess {
  const T = opts.timesteps ?? DEFAULT_PROCESS[kind].T;
  if (kind === 'cold-blur') {
    const b = proc('cold-blur');
    return validateProcess({ ...b, T, kernelSize: opts.blurSize ?? b.kernelSize, std: opts.blurStd ?? b.std, routine: opts.blurRoutine ?? b.routine, padding: opts.blurPadding ?? b.padding, discrete: opts.discrete });
  }
  const m = proc('cold-mask');
  return validateProcess({ ...m, T, std: opts.maskStd ?? m.std, initialMask: opts.maskInitial ?? m.initialMask, routine: opts.maskRoutine ?? m.routine, discrete: opts.discrete });
}

/** Turn parsed options into a run config for a new run (DDPM, or Cold Diffusion with --process cold-*). */
export function configFromOptions(opts: CliOptions, workers: number): AnyRunConfig {
  const cold = opts.process !== 'ddpm';
  // each process' own options: given with another process, they are an error naming the process they apply to
  const own: [string, unknown, string][] = [
    ['--blur-size', opts.blurSize, 'cold-blur'],
    ['--blur-std', opts.blurStd, 'cold-blur'],
    ['--blur-routine', opts.blurRoutine, 'cold-blur'],
    ['--blur-padding', opts.blurPadding, 'cold-blur'],
    ['--mask-std', opts.maskStd, 'cold-mask'],
    ['--mask-initial', opts.maskInitial, 'cold-mask'],
    ['--mask-routine', opts.maskRoutine, 'cold-mask'],
    ['--no-discrete', opts.discrete ? undefined : true, 'cold-blur or cold-mask'],
    ['--self-condition', opts.selfCondition ? true : undefined, 'ddpm'],
    ['--loss-weight', opts.lossWeight === undefined || opts.lossWeight === 'none' ? undefined : opts.lossWeight, 'ddpm'],
  ];
  for (const [name, v, appliesTo] of own) {
    if (v !== undefined && !appliesTo.includes(opts.process)) throw new InvalidArgumentError(`${name} applies to --process ${appliesTo} (got --process ${opts.process})`);
  }
  if (cold) {
    if (opts.conditional) throw new InvalidArgumentError(`--conditional: Cold Diffusion models are unconditional here (got --process ${opts.process})`);
    if (opts.objective !== undefined && opts.objective !== 'x0') throw new InvalidArgumentError(`--objective ${opts.objective}: a Cold Diffusion network restores x0 (--objective x0)`);
  }
  const objective: Objective = opts.objective ?? (cold ? 'x0' : DEFAULT_TRAIN.objective);
  let data: DataSpec;
  if (opts.data === 'fashion-mnist') {
    const p = fashionMnistPaths('train');
    data = { kind: 'idx', images: opts.images ?? p.images, labels: opts.labels ?? p.labels, fit: opts.fit, hflip: opts.hflip, limit: opts.limit };
  } else {
    if (!opts.images) throw new InvalidArgumentError(`--data ${opts.data} needs --images <path>`);
    data = { kind: opts.data, images: path.resolve(opts.images), labels: opts.labels ? path.resolve(opts.labels) : undefined, fit: opts.fit, hflip: opts.hflip, limit: opts.limit };
  }
  const preset = opts.preset ? PRESETS[opts.preset] : {};
  const unet: UNetConfig = {
    ...DEFAULT_UNET,
    ...preset,
    imageSize: opts.imageSize,
    channels: opts.channels ?? (opts.data === 'folder' ? 3 : 1),
    dropout: opts.dropout,
    numClasses: 0,
    selfCondition: opts.selfCondition,
  };
  if (opts.baseChannels !== undefined) unet.baseChannels = opts.baseChannels;
  if (opts.channelMults !== undefined) unet.channelMults = opts.channelMults;
  if (opts.resBlocks !== undefined) unet.numResBlocks = opts.resBlocks;
  if (opts.attention !== undefined) unet.attentionResolutions = opts.attention;
  if (opts.groups !== undefined) unet.groups = opts.groups;
  const training: TrainOptions = {
    ...DEFAULT_TRAIN,
    seed: opts.seed,
    steps: opts.steps ?? DEFAULT_TRAIN.steps,
    batchSize: opts.batchSize,
    lr: opts.lr,
    warmupSteps: opts.warmup,
    cooldownSteps: opts.cooldown ?? 0,
    gradClip: opts.gradClip,
    emaDecay: opts.emaDecay,
    emaWarmup: opts.emaWarmup,
    objective,
    loss: opts.loss ?? (cold ? 'l1' : DEFAULT_TRAIN.loss),
    ...lossWeightOptions(opts),
    ...(opts.selfCondition ? { selfConditionClip: opts.selfConditionClip } : {}),
    labelDropout: opts.conditional ? opts.labelDropout : 0,
    workers,
    checkpointEvery: opts.checkpointEvery,
    keepCheckpoints: opts.keepCheckpoints,
    keepEvery: opts.keepEvery ?? 0,
    sampleEvery: opts.sampleEvery,
    sampleSteps: opts.sampleSteps,
    logEvery: opts.logEvery,
  };
  const common = { format: 'ddpm-edge-run', version: 1, unet, training, data } as const;
  if (cold) return { ...common, process: processFromOptions(opts, opts.process as ColdKind), prediction: 'sample' };
  return { ...common, schedule: { kind: opts.schedule, T: opts.timesteps ?? 1000 }, prediction: PREDICTION_OF[objective] };
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  program.parse(argv);
  const opts = program.opts<CliOptions>();
  const stamp = new Date().toISOString().replace(/[-:]/g, '').slice(0, 13);
  const runDir = path.resolve(opts.runDir ?? path.join('runs', `${opts.data}-${stamp}`));
  try {
    let config: AnyRunConfig | undefined;
    if (opts.resume) checkResumeOptions(program, opts, await readRunConfig(runDir));
    if (!opts.resume) {
      let workers: number;
      if (opts.workers === 'auto') workers = defaultWorkers((await selectBackend(opts.backend)).native);
      else workers = int('--workers')(opts.workers);
      if (workers > 1 && opts.batchSize % workers !== 0) throw new InvalidArgumentError(`--batch-size ${opts.batchSize} must be divisible by the ${workers} workers`);
      config = configFromOptions(opts, workers);
      // labels decide the class count of a conditional model
      if (opts.conditional) {
        const ds = await loadDataset(config);
        if (!ds.labels || !ds.classNames) throw new DatasetError(`--conditional needs labels, and ${ds.source} has none (IDX: pass --labels; folder: use class sub-folders)`);
        config.unet.numClasses = ds.classNames.length;
        config.classNames = ds.classNames;
      }
      if (opts.initFrom !== undefined) {
        if (isColdRun(config)) throw new InvalidArgumentError(`--init-from starts DDPM runs (got --process ${opts.process})`);
        config.initFrom = await describeInit(opts.initFrom, config);
      }
    }
    console.log(`run directory: ${runDir}`);
    const r = await train({
      runDir,
      config,
      resume: opts.resume,
      backend: opts.backend,
      steps: opts.resume ? opts.steps : undefined,
      cooldownSteps: opts.resume ? opts.cooldown : undefined,
      keepEvery: opts.resume ? opts.keepEvery : undefined,
      stopAt: opts.stopAt,
      progress: opts.progress,
      sampleGuidance: opts.sampleGuidance,
    });
    console.log(
      `step ${r.step}: loss ${r.lastLoss.toFixed(4)} (first 10% ${r.firstLosses.toFixed(4)}, last 10% ${r.lastLosses.toFixed(4)}); ${r.msPerStep.toFixed(0)} ms/step, ${r.imagesPerSecond.toFixed(1)} images/s (the steps alone); ${r.wallSeconds.toFixed(0)} s of wall time with checkpoints and sample grids`,
    );
    // relative inside the working folder, absolute outside it (a run kept elsewhere is found from anywhere)
    const rel = path.relative(process.cwd(), runDir);
    console.log(`resume with: npm run train -- --resume --run-dir ${rel === '' || rel.startsWith('..') || path.isAbsolute(rel) ? path.resolve(runDir) : rel}`);
    return r.interrupted ? 130 : 0;
  } catch (e) {
    if (e instanceof DatasetError || e instanceof CheckpointError || e instanceof InitFromError || e instanceof InvalidArgumentError || e instanceof RangeError) {
      console.error(`error: ${e.message}`);
      return 2;
    }
    throw e;
  }
}

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('cli.ts')) {
  main(process.argv).then(
    (code) => process.exit(code),
    (e: unknown) => {
      console.error(e);
      process.exit(1);
    },
  );
}
