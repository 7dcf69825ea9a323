/** Shared types of the diffusion core. Tensors are flat Float32Arrays in NCHW order: [B, C, H, W]. */

export type ScheduleKind = 'linear' | 'scaled_linear' | 'cosine' | 'sigmoid';

/** The noise schedule as data: written next to the model (model.json) and read back at inference. */
export interface ScheduleConfig {
  kind: ScheduleKind;
  /** Number of training timesteps T (default 1000). */
  T: number;
  /** linear / scaled_linear / sigmoid: beta at t = 1 and t = T, given for T = 1000 (scaled for other T). */
  betaStart?: number;
  betaEnd?: number;
  /** cosine: the offset s (default 0.008). */
  cosineS?: number;
}

/** What the network predicts. */
export type PredictionType = 'epsilon' | 'sample' | 'v_prediction';

/** Shape of a batch of images. */
export type Shape4 = readonly [batch: number, channels: number, height: number, width: number];

/** The named inputs of one model call. Tensors are flat, NCHW. */
export interface ModelInputs {
  /** Noisy images x_t, [B, C, H, W]. */
  x: Float32Array;
  /** One training timestep per image (0-based, as in diffusers), [B]. */
  t: Int32Array;
  /** One class index per image (numClasses = the null class, for classifier-free guidance), [B]. */
  classes?: Int32Array;
  /** Self-conditioned models: the previous step's estimate of x0 (zeros at the first step), [B, C, H, W]. */
  selfCond?: Float32Array;
}

/**
 * A denoiser: returns the model output (eps, x0 or v, per PredictionType), [B, C, H, W].
 * `selfCondition` says that it takes `selfCond`, so the sampling loop feeds back its x0 predictions.
 */
export interface EpsModel {
  (inputs: ModelInputs): Promise<Float32Array>;
  readonly selfCondition?: boolean;
}

export interface StepResult {
  /** x_{t-1} (or the next sample on a reduced grid), [B, C, H, W]. */
  prev: Float32Array;
  /** The model's current estimate of x0, [B, C, H, W]. */
  predX0: Float32Array;
}
