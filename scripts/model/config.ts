import type { PredictionType, ScheduleConfig } from '../../src/diffusion/types.ts';
import type { ModelArchitecture } from '../../src/model-card.ts';

/**
 * Architecture of the DDPM U-Net: data, saved with every checkpoint and in model.json (defined once, with the
 * card: src/model-card.ts ModelArchitecture).
 */
export type UNetConfig = ModelArchitecture;

/** Everything serving needs besides weights. */
export interface DiffusionModelConfig {
  unet: UNetConfig;
  schedule: ScheduleConfig;
  prediction: PredictionType;
}
