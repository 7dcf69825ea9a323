import { z } from 'zod';
import type { PredictionType, ScheduleConfig } from './diffusion/types.ts';

/**
 * The U-Net architecture as data: written with every checkpoint (scripts/model/config.ts calls it UNetConfig)
 * and into model.json; the ONNX graph and the tfjs model are both built from it.
 */
export interface ModelArchitecture {
  imageSize: number; // H = W
  channels: number; // 1 (grayscale) or 3 (RGB)
  baseChannels: number; // width of the first level
  channelMults: number[]; // one per resolution level, e.g. [1, 2, 2]
  numResBlocks: number; // ResNet blocks per level
  attentionResolutions: number[]; // resolutions (e.g. 8) that get self-attention
  dropout: number;
  groups: number; // GroupNorm groups (must divide every width)
  /** 0 for an unconditional model; else the number of classes (row numClasses of the table is the null class). */
  numClasses: number;
  /**
   * Self-conditioning (Chen et al. 2022, "Analog Bits"; lucidrains' `self_condition`): the network takes
   * `channels` more input channels, an estimate of x0, concatenated before x. Absent in older runs: false.
   */
  selfCondition?: boolean;
}

/**
 * The ONNX graph's inputs and output, by name: exactly the inputs the graph takes.
 * x [B, C, H, W] float32, t [B] int64 (0-based timesteps), class [B] int64 when conditional,
 * selfCond [B, C, H, W] float32 (the previous x0 estimate, zeros at first) when self-conditioned.
 */
export interface ModelIo {
  x: string;
  t: string;
  class?: string;
  selfCond?: string;
  output: string;
}

/** One link of a warm-start chain in a card's `training.initFrom`. */
export interface InitFromRecord {
  model: string;
  version: string;
  sha256: string;
  steps: number;
  seconds: number;
  batchSize?: number;
  initFrom?: InitFromRecord;
}

/** Steps, seconds and images (steps x batch size, where the batch size is recorded) of a training record and its warm-start chain. */
export function trainingTotals(t: { steps: number; seconds: number; batchSize?: number; initFrom?: InitFromRecord }): { steps: number; seconds: number; images?: number; runs: number } {
  const inner = t.initFrom ? trainingTotals(t.initFrom) : { steps: 0, seconds: 0, images: 0, runs: 0 };
  const own = t.batchSize !== undefined ? t.steps * t.batchSize : undefined;
  const images = own !== undefined && inner.images !== undefined ? own + inner.images : undefined;
  return { steps: t.steps + inner.steps, seconds: t.seconds + inner.seconds, ...(images !== undefined ? { images } : {}), runs: inner.runs + 1 };
}

/**
 * models/<name>/model.json: the model card, written by the exporter (scripts/export) and the single
 * source of truth for serving. Extend it (optional fields) rather than changing what is here; read it
 * only through parseModelCard (here) or readModelCard (scripts/lib/model-card.ts), which validate it.
 */
export interface ModelCard {
  /** A DDPM (noise) model; absent in cards written before Cold Diffusion models (src/cold/card.ts) existed. */
  kind?: 'ddpm';
  name: string;
  version: string;
  architecture: ModelArchitecture & { parameters?: number };
  imageSize: number;
  channels: number;
  /** Class names when conditional (length numClasses); null for unconditional models. */
  classNames: string[] | null;
  schedule: ScheduleConfig;
  prediction: PredictionType;
  dataset: string;
  training: {
    steps: number;
    seconds: number;
    batchSize?: number;
    backend?: string;
    /** The loss weighting of the run (absent in older cards: none, or min-SNR, unrecorded). */
    lossWeight?: { kind: 'none' } | { kind: 'min-snr'; gamma: number } | { kind: 'p2'; k: number; gamma: number };
    /** Self-conditioned runs: whether the training estimate of x0 was clipped to [-1, 1]. */
    selfConditionClip?: boolean;
    /**
     * A warm start (`--init-from`): the model whose weights the run started from, and that model's own training,
     * with its own `initFrom` when it was warm-started too: the chain adds up to every step the weights saw.
     */
    initFrom?: InitFromRecord;
  };
  io: ModelIo;
  files: Record<'fp32' | 'int8', ModelFile> & Partial<Record<'fp16', ModelFile>>;
  /** Measured at export: parity and int8 errors (see the export report). */
  exportErrors?: Record<string, number>;
  /** Measured quality (evaluation), when known. */
  quality?: Record<string, unknown>;
}

export interface ModelFile {
  path: string; // relative to the model folder
  bytes: number;
  sha256: string; // hex
  /**
   * 'extended': onnxruntime's graph optimizations (fusions, constant folding, up to level "extended") are
   * already applied, saved by the exporter through onnxruntime-node. onnxruntime-web then loads the graph
   * without running them again (graphOptimizationLevel "disabled"): the same outputs, a faster session creation.
   */
  optimized?: 'extended';
}

/** What the U-Net runtime (src/inference/) needs of a card, whatever the model's kind (DDPM or Cold Diffusion). */
export type NetworkCard = Pick<ModelCard, 'name' | 'imageSize' | 'channels' | 'architecture' | 'io' | 'files'>;

/** A card's file entry (DDPM and Cold Diffusion cards alike). */
export const modelFile = z.object({ path: z.string().min(1), bytes: z.number().int().positive(), sha256: z.string().regex(/^[0-9a-f]{64}$/), optimized: z.enum(['extended']).optional() });
const count = (min: number, max: number) => z.number().int().min(min).max(max);

/** What every reader relies on; other fields pass through unchecked. */
const cardSchema = z.looseObject({
  kind: z.literal('ddpm').optional(),
  name: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/),
  version: z.string(),
  imageSize: count(1, 512),
  channels: z.union([z.literal(1), z.literal(3)]),
  classNames: z.array(z.string()).nullable(),
  architecture: z.looseObject({
    imageSize: count(1, 512),
    channels: count(1, 4),
    baseChannels: count(1, 4096),
    channelMults: z.array(count(1, 64)).min(1),
    numResBlocks: count(1, 64),
    attentionResolutions: z.array(count(1, 512)),
    dropout: z.number().min(0).max(1),
    groups: count(1, 4096),
    numClasses: count(0, 100_000),
    selfCondition: z.boolean().optional(),
  }),
  schedule: z.looseObject({ kind: z.enum(['linear', 'scaled_linear', 'cosine', 'sigmoid']), T: count(1, 100_000) }),
  prediction: z.enum(['epsilon', 'sample', 'v_prediction']),
  training: z.looseObject({ steps: z.number().int().min(0), seconds: z.number().min(0) }),
  // strict: an input this code does not know how to feed is refused, not ignored
  io: z.strictObject({ x: z.string().min(1), t: z.string().min(1), class: z.string().min(1).optional(), selfCond: z.string().min(1).optional(), output: z.string().min(1) }),
  files: z.looseObject({ fp32: modelFile, int8: modelFile }),
});

/** The one validator of model cards (worker, exporter, bench, eval); throws a TypeError naming the field. */
export function parseModelCard(json: unknown): ModelCard {
  const result = cardSchema.safeParse(json);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new TypeError(`invalid model card: ${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'unknown'}`);
  }
  const card = result.data as unknown as ModelCard;
  const fail = (rule: string): never => {
    throw new TypeError(`invalid model card ${card.name}: ${rule}`);
  };
  const a = card.architecture;
  if (a.imageSize !== card.imageSize || a.channels !== card.channels) fail('imageSize and channels must equal architecture.imageSize and architecture.channels');
  const conditional = a.numClasses > 0;
  if (conditional !== (card.io.class !== undefined)) fail('io.class must be given exactly when architecture.numClasses > 0');
  if (conditional && card.classNames !== null && card.classNames.length !== a.numClasses) fail('classNames must hold numClasses names');
  if ((a.selfCondition === true) !== (card.io.selfCond !== undefined)) fail('io.selfCond must be given exactly when architecture.selfCondition is true');
  const names = graphInputs(card.io);
  if (new Set([...names, card.io.output]).size !== names.length + 1) fail(`io names must be distinct (got ${JSON.stringify(card.io)})`);
  return card;
}

/** The graph's input names in feed order: x, t, then class and selfCond when the model takes them. */
export function graphInputs(io: ModelIo): string[] {
  return [io.x, io.t, ...(io.class === undefined ? [] : [io.class]), ...(io.selfCond === undefined ? [] : [io.selfCond])];
}

export function isConditional(card: ModelCard): boolean {
  return card.architecture.numClasses > 0;
}
