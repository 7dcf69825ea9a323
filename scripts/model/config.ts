import type { PredictionType, ScheduleConfig } from '../../src/diffusion/types.ts';

/** Architecture of the DDPM U-Net: data, saved with every checkpoint and in model.json. */
export interface UNetConfig {
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

/** Everything serving needs besides weights. */
export interface DiffusionModelConfig {
  unet: UNetConfig;
  schedule: ScheduleConfig;
  prediction: PredictionType;
}
