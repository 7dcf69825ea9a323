import type { PredictionType, StepResult } from './types.ts';

/** Sampler names as used in the API (`?sampler=`) and model cards. */
export type SamplerName = 'ddpm' | 'ddim' | 'dpmpp2m' | 'dpmpp3m' | 'unipc';

/** Options every scheduler shares; names follow diffusers (camelCased). */
export interface CommonSchedulerOptions {
  /** What the model predicts (diffusers `prediction_type`). Default 'epsilon'. */
  predictionType?: PredictionType;
  /** Clip the predicted x0 to [-clipSampleRange, clipSampleRange] (diffusers `clip_sample`). */
  clipSample?: boolean;
  clipSampleRange?: number;
  /** Dynamic thresholding (Imagen; diffusers `thresholding`, `dynamic_thresholding_ratio`, `sample_max_value`). */
  thresholding?: boolean;
  dynamicThresholdingRatio?: number;
  sampleMaxValue?: number;
  /** How N inference timesteps are laid over [0, T) (diffusers `timestep_spacing`). */
  timestepSpacing?: 'leading' | 'linspace' | 'trailing';
  /** Added to every timestep with leading spacing (diffusers `steps_offset`). */
  stepsOffset?: number;
}

/**
 * One sampler. The caller owns the loop: `setTimesteps(n)`, then for each `t` of `timesteps`,
 * `step(model(x, t), t, x, noise)`. Mirrors diffusers' `set_timesteps` / `step`.
 */
export interface Scheduler {
  readonly name: SamplerName;
  /** Descending timesteps (0-based) after `setTimesteps`. */
  readonly timesteps: Int32Array;
  /** True when `step` consumes fresh Gaussian noise (DDPM, DDIM with eta > 0). */
  readonly needsNoise: boolean;
  /** T, the number of training timesteps of the schedule (diffusers `num_train_timesteps`). */
  readonly numTrainTimesteps: number;
  setTimesteps(numInferenceSteps: number): void;
  /** modelOutput, x: [B, C, H, W]; t: the current timestep (the next one of `timesteps`). */
  step(modelOutput: Float32Array, t: number, x: Float32Array, extras?: StepExtras): StepResult;
}

export interface StepExtras {
  /** Standard normal [B, C, H, W]; required when `needsNoise`. */
  noise?: Float32Array;
  /** Number of images in x (default 1); dynamic thresholding works per image. */
  batch?: number;
}
