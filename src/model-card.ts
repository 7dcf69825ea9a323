import type { PredictionType, ScheduleConfig } from './diffusion/types.ts';

/**
 * models/<name>/model.json: the model card, written by the exporter (scripts/export) and the single
 * source of truth for serving. Extend it (optional fields) rather than changing what is here.
 */
export interface ModelCard {
  /** A DDPM (noise) model; absent in cards written before Cold Diffusion models (src/cold/card.ts) existed. */
  kind?: 'ddpm';
  name: string;
  version: string;
  /** The U-Net architecture (scripts/model/config.ts UNetConfig), as data. */
  architecture: {
    imageSize: number;
    channels: number;
    baseChannels: number;
    channelMults: number[];
    numResBlocks: number;
    attentionResolutions: number[];
    dropout: number;
    groups: number;
    numClasses: number;
    parameters?: number;
  };
  imageSize: number;
  channels: number;
  /** Class names when conditional (length numClasses); null for unconditional models. */
  classNames: string[] | null;
  schedule: ScheduleConfig;
  prediction: PredictionType;
  dataset: string;
  training: { steps: number; seconds: number; batchSize?: number; backend?: string };
  /** ONNX graph I/O names. x [B,C,H,W] float32, t [B] int64 (0-based timesteps), class [B] int64 when conditional. */
  io: { x: string; t: string; class?: string; output: string };
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
}

/** What the U-Net runtime (src/inference/) needs of a card, whatever the model's kind (DDPM or Cold Diffusion). */
export type NetworkCard = Pick<ModelCard, 'name' | 'imageSize' | 'channels' | 'architecture' | 'io' | 'files'>;
