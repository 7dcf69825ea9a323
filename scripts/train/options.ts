/** Training options: data, saved in the run's config.json, validated at the boundary. */
import type { InitFrom } from './init-from.ts';
import type { DiffusionModelConfig, UNetConfig } from '../model/config.ts';
import type { PredictionType } from '../../src/diffusion/types.ts';
import type { ColdProcess } from '../../src/cold/process.ts';

/** What the loss compares: eps (the paper's simplified loss), v, or x0. */
export type Objective = 'eps' | 'v' | 'x0';
export const OBJECTIVES: readonly Objective[] = ['eps', 'v', 'x0'];
export const PREDICTION_OF: Record<Objective, PredictionType> = { eps: 'epsilon', v: 'v_prediction', x0: 'sample' };

export type LossType = 'l2' | 'l1';
export const LOSS_TYPES: readonly LossType[] = ['l2', 'l1'];

/** Per-timestep loss weighting: none, min-SNR-gamma (Hang et al. 2023) or P2 (Choi et al. 2022). */
export type LossWeightKind = 'none' | 'min-snr' | 'p2';
export const LOSS_WEIGHT_KINDS: readonly LossWeightKind[] = ['none', 'min-snr', 'p2'];
export type LossWeighting = { kind: 'none' } | { kind: 'min-snr'; gamma: number } | { kind: 'p2'; k: number; gamma: number };

/** How source images become imageSize x imageSize: pad (centered, background -1) or resize + center-crop. */
export type FitMode = 'pad' | 'resize';

export interface DataSpec {
  kind: 'idx' | 'folder';
  /** idx: the images file; folder: the root folder. */
  images: string;
  /** idx: the labels file (optional). */
  labels?: string;
  fit: FitMode;
  hflip: boolean;
  /** Use at most this many images (0 = all). */
  limit: number;
}

export interface TrainOptions {
  seed: number;
  /** Total optimisation steps of the run. */
  steps: number;
  batchSize: number;
  lr: number;
  warmupSteps: number;
  /** Linear learning-rate decay to 0 over the last cooldownSteps steps (0 = none; absent in older runs). */
  cooldownSteps?: number;
  adamBeta1: number;
  adamBeta2: number;
  adamEps: number;
  /** Clip the global gradient norm to this value (0 = off). */
  gradClip: number;
  emaDecay: number;
  /** EMA decay ramps up as min(decay, (1 + step) / (10 + step)), so early EMA weights are usable. */
  emaWarmup: boolean;
  objective: Objective;
  loss: LossType;
  /** Min-SNR-gamma loss weighting (Hang et al. 2023); 0 = off. The gamma of lossWeight 'min-snr'. */
  minSnrGamma: number;
  /** The loss weighting (absent in older runs: 'min-snr' when minSnrGamma > 0, else 'none'). */
  lossWeight?: LossWeightKind;
  /** P2 weighting (Choi et al. 2022) (k + snr)^-gamma; lossWeight 'p2' only (lucidrains' defaults k = 1, gamma = 1). */
  p2K?: number;
  p2Gamma?: number;
  /** Self-conditioned models (unet.selfCondition): clip the first pass' x0 estimate to [-1, 1] (absent: true). */
  selfConditionClip?: boolean;
  /** Probability that a label is replaced by the null class (classifier-free guidance training). */
  labelDropout: number;
  /** Gradient workers (worker_threads, one wasm instance each); 0 = in the main thread. */
  workers: number;
  checkpointEvery: number;
  keepCheckpoints: number;
  /** Checkpoints at multiples of this step count are never pruned (0 = none; absent in older runs): the distance during training. */
  keepEvery?: number;
  sampleEvery: number;
  sampleSteps: number;
  logEvery: number;
}

/** config.json of a run directory. */
export interface RunConfig extends DiffusionModelConfig {
  format: 'ddpm-edge-run';
  version: 1;
  training: TrainOptions;
  data: DataSpec;
  /** Class names (index = class id) when the data has labels. */
  classNames?: string[];
  /** A warm start: the exported model whose weights the run started from (`--init-from`). */
  initFrom?: InitFrom;
}

/**
 * config.json of a Cold Diffusion run (src/cold/, scripts/train/cold-batch.ts): the degradation instead of a
 * noise schedule; the network restores, predicting x0 (`training.objective` x0, `training.loss` l1 as the paper).
 */
export interface ColdRunConfig extends Omit<RunConfig, 'schedule' | 'prediction'> {
  process: ColdProcess;
  prediction: 'sample';
}

/** Any run's config.json: DDPM (a noise schedule) or Cold Diffusion (a degradation). */
export type AnyRunConfig = RunConfig | ColdRunConfig;

export function isColdRun(c: AnyRunConfig): c is ColdRunConfig {
  return 'process' in c && c.process !== undefined;
}

/** The config of a DDPM run, or an error naming the tool that does not take Cold Diffusion runs. */
export function ddpmRun(c: AnyRunConfig, tool: string): RunConfig {
  if (isColdRun(c)) throw new RangeError(`${tool} takes DDPM runs; this is a ${c.process.kind} run (Cold Diffusion: docs/cold-diffusion.md)`);
  return c;
}

export const DEFAULT_TRAIN: TrainOptions = {
  seed: 0,
  steps: 10_000,
  batchSize: 64,
  lr: 1e-3,
  warmupSteps: 200,
  cooldownSteps: 0,
  adamBeta1: 0.9,
  adamBeta2: 0.999,
  adamEps: 1e-8,
  gradClip: 1,
  emaDecay: 0.999,
  emaWarmup: true,
  objective: 'eps',
  loss: 'l2',
  minSnrGamma: 0,
  labelDropout: 0.1,
  workers: 0,
  checkpointEvery: 250,
  keepCheckpoints: 3,
  keepEvery: 0,
  sampleEvery: 1000,
  sampleSteps: 50,
  logEvery: 10,
};

export const DEFAULT_UNET: UNetConfig = {
  imageSize: 32,
  channels: 1,
  baseChannels: 16,
  channelMults: [1, 2, 2],
  numResBlocks: 1,
  attentionResolutions: [8],
  dropout: 0.1,
  groups: 8,
  numClasses: 0,
};

export function validateTrainOptions(o: TrainOptions): TrainOptions {
  const int = (name: keyof TrainOptions, min: number, max: number): void => {
    const v = o[name];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      throw new RangeError(`training.${name} must be an integer in [${min}, ${max}] (got ${String(v)})`);
    }
  };
  const num = (name: keyof TrainOptions, min: number, max: number): void => {
    const v = o[name];
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) {
      throw new RangeError(`training.${name} must be a number in [${min}, ${max}] (got ${String(v)})`);
    }
  };
  int('seed', 0, 2 ** 32 - 1);
  int('steps', 1, 1e9);
  int('batchSize', 1, 4096);
  num('lr', 0, 1);
  int('warmupSteps', 0, 1e9);
  if (o.cooldownSteps !== undefined) int('cooldownSteps', 0, o.steps);
  num('adamBeta1', 0, 0.999999);
  num('adamBeta2', 0, 0.999999);
  num('adamEps', 0, 1);
  num('gradClip', 0, 1e6);
  num('emaDecay', 0, 1);
  num('minSnrGamma', 0, 1e6);
  num('labelDropout', 0, 1);
  int('workers', 0, 64);
  int('checkpointEvery', 1, 1e9);
  int('keepCheckpoints', 1, 1000);
  if (o.keepEvery !== undefined) int('keepEvery', 0, 1e9);
  int('sampleEvery', 0, 1e9);
  int('sampleSteps', 1, 1000);
  int('logEvery', 1, 1e9);
  if (!OBJECTIVES.includes(o.objective)) throw new RangeError(`training.objective must be one of ${OBJECTIVES.join(', ')} (got ${o.objective})`);
  if (!LOSS_TYPES.includes(o.loss)) throw new RangeError(`training.loss must be one of ${LOSS_TYPES.join(', ')} (got ${o.loss})`);
  if (o.lossWeight !== undefined && !LOSS_WEIGHT_KINDS.includes(o.lossWeight)) {
    throw new RangeError(`training.lossWeight must be one of ${LOSS_WEIGHT_KINDS.join(', ')} (got ${String(o.lossWeight)})`);
  }
  if (o.lossWeight === 'min-snr' && !(o.minSnrGamma > 0)) throw new RangeError('training.lossWeight min-snr needs minSnrGamma > 0');
  if ((o.lossWeight === 'none' || o.lossWeight === 'p2') && o.minSnrGamma !== 0) {
    throw new RangeError(`training.lossWeight ${o.lossWeight} excludes min-SNR (minSnrGamma must be 0, got ${o.minSnrGamma})`);
  }
  if (o.lossWeight === 'p2') {
    num('p2K', 0, 1e6);
    num('p2Gamma', 0, 1e6);
    if (o.p2K === 0 && o.p2Gamma !== 0) throw new RangeError('training.p2K must be > 0 when p2Gamma > 0 (the weight (k + snr)^-gamma diverges as snr -> 0)');
  }
  if (o.selfConditionClip !== undefined && typeof o.selfConditionClip !== 'boolean') throw new RangeError(`training.selfConditionClip must be true or false (got ${String(o.selfConditionClip)})`);
  if (o.workers > 1 && o.batchSize % o.workers !== 0) {
    throw new RangeError(`training.batchSize ${o.batchSize} must be divisible by workers ${o.workers}`);
  }
  return o;
}

/** The loss weighting of validated options (older runs: from minSnrGamma alone). */
export function lossWeighting(o: TrainOptions): LossWeighting {
  const kind = o.lossWeight ?? (o.minSnrGamma > 0 ? 'min-snr' : 'none');
  if (kind === 'min-snr') return { kind, gamma: o.minSnrGamma };
  if (kind === 'p2') return { kind, k: o.p2K ?? 1, gamma: o.p2Gamma ?? 1 };
  return { kind };
}

/** Architecture presets (parameter counts for 32x32x1, unconditional). */
export const PRESETS: Record<string, Partial<UNetConfig>> = {
  tiny: { baseChannels: 16, channelMults: [1, 2, 2], numResBlocks: 1, attentionResolutions: [8], groups: 8 }, // 0.28M
  small: { baseChannels: 16, channelMults: [1, 2, 4], numResBlocks: 1, attentionResolutions: [8], groups: 8 }, // 0.69M
  base: { baseChannels: 32, channelMults: [1, 2, 4], numResBlocks: 2, attentionResolutions: [8], groups: 8 }, // 3.9M
};
