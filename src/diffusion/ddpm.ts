import { checkOneOf } from './errors.ts';
import { toX0AndEps } from './forward.ts';
import { checkStepInputs, resolveCommon, stepIndexOf, type ResolvedCommon } from './options.ts';
import type { NoiseSchedule } from './schedule.ts';
import type { CommonSchedulerOptions, Scheduler, StepExtras } from './scheduler.ts';
import { processX0 } from './threshold.ts';
import { inferenceTimesteps } from './timesteps.ts';
import type { StepResult } from './types.ts';

export type DdpmVarianceType = 'fixed_small' | 'fixed_large';

export interface DdpmOptions extends CommonSchedulerOptions {
  /**
   * sigma_t^2 of the reverse step (Ho et al. 2020, section 3.2): 'fixed_small' = beta~_t, the posterior
   * variance (optimal for deterministic x0); 'fixed_large' = beta_t (optimal for x0 ~ N(0, I)). Default fixed_small.
   */
  varianceType?: DdpmVarianceType;
}

/**
 * DDPM ancestral sampling (Ho et al. 2020, Algorithm 2), as diffusers' DDPMScheduler: with N < T steps the
 * same update is applied between consecutive timesteps of the reduced grid (abar ratios). Defaults as
 * diffusers: clipSample true, leading spacing.
 */
export class DdpmScheduler implements Scheduler {
  readonly name = 'ddpm';
  readonly needsNoise = true;
  timesteps: Int32Array = new Int32Array(0);
  private readonly o: ResolvedCommon;
  private readonly varianceType: DdpmVarianceType;

  constructor(
    private readonly schedule: NoiseSchedule,
    options: DdpmOptions = {},
  ) {
    this.o = resolveCommon(options, schedule.T, { clipSample: true, timestepSpacing: 'leading' });
    this.varianceType = checkOneOf('varianceType', options.varianceType ?? 'fixed_small', ['fixed_small', 'fixed_large']);
  }

  get numTrainTimesteps(): number {
    return this.schedule.T;
  }

  setTimesteps(n: number): void {
    this.timesteps = inferenceTimesteps(this.schedule.T, n, this.o.timestepSpacing, this.o.stepsOffset);
  }

  step(modelOutput: Float32Array, t: number, x: Float32Array, extras?: StepExtras): StepResult {
    const batch = checkStepInputs(modelOutput, x, extras, t > 0);
    const i = stepIndexOf(this.timesteps, t);
    const prevT = i + 1 < this.timesteps.length ? this.timesteps[i + 1] : -1; // diffusers' previous_timestep
    const acp = this.schedule.alphasCumprod;
    const aT = acp[t];
    const aPrev = prevT >= 0 ? acp[prevT] : 1;
    const alphaT = aT / aPrev; // alpha_t of the (possibly strided) step
    const betaT = 1 - alphaT;

    // 1. predicted x0 (eq. 15), clipped or thresholded
    const { x0 } = toX0AndEps(this.schedule, this.o.predictionType, modelOutput, t, x);
    processX0(x0, batch, this.o.x0);

    // 2. posterior mean mu~_t(x_t, x0) (eq. 7)
    const c0 = (Math.sqrt(aPrev) * betaT) / (1 - aT);
    const cx = (Math.sqrt(alphaT) * (1 - aPrev)) / (1 - aT);
    const prev = new Float32Array(x.length);
    for (let j = 0; j < x.length; j++) prev[j] = c0 * x0[j] + cx * x[j];

    // 3. + sigma_t z (Algorithm 2, line 4); no noise at the last step
    if (t > 0) {
      const variance = this.varianceType === 'fixed_small' ? Math.max(((1 - aPrev) / (1 - aT)) * betaT, 1e-20) : betaT;
      const sigma = Math.sqrt(variance);
      const z = extras!.noise!;
      for (let j = 0; j < x.length; j++) prev[j] += sigma * z[j];
    }
    return { prev, predX0: x0 };
  }
}
