import { checkInt, checkOneOf, DiffusionOptionError } from './errors.ts';
import type { CommonSchedulerOptions, StepExtras } from './scheduler.ts';
import { TIMESTEP_SPACINGS, type TimestepSpacing } from './timesteps.ts';
import { x0Processing, type X0Processing } from './threshold.ts';
import type { PredictionType } from './types.ts';

export const PREDICTION_TYPES: readonly PredictionType[] = ['epsilon', 'sample', 'v_prediction'];

export interface ResolvedCommon {
  predictionType: PredictionType;
  x0: X0Processing;
  timestepSpacing: TimestepSpacing;
  stepsOffset: number;
}

export function resolveCommon(
  o: CommonSchedulerOptions,
  T: number,
  defaults: { clipSample: boolean; timestepSpacing: TimestepSpacing },
): ResolvedCommon {
  return {
    predictionType: checkOneOf('predictionType', o.predictionType ?? 'epsilon', PREDICTION_TYPES),
    x0: x0Processing(o, defaults),
    timestepSpacing: checkOneOf('timestepSpacing', o.timestepSpacing ?? defaults.timestepSpacing, TIMESTEP_SPACINGS),
    stepsOffset: checkInt('stepsOffset', o.stepsOffset ?? 0, 0, T - 1),
  };
}

/** Checks the shapes handed to `step` and returns the batch size. */
export function checkStepInputs(modelOutput: Float32Array, x: Float32Array, extras: StepExtras | undefined, needsNoise: boolean): number {
  if (modelOutput.length !== x.length) {
    throw new DiffusionOptionError('modelOutput', `must have the shape of x (${x.length} values, got ${modelOutput.length})`);
  }
  const batch = extras?.batch ?? 1;
  if (!Number.isInteger(batch) || batch < 1 || x.length % batch !== 0) {
    throw new DiffusionOptionError('batch', `must be a positive integer dividing ${x.length} (got ${batch})`);
  }
  if (needsNoise) {
    const noise = extras?.noise;
    if (!noise) throw new DiffusionOptionError('noise', 'is required by this sampler (stochastic step)');
    if (noise.length !== x.length) {
      throw new DiffusionOptionError('noise', `must have the shape of x (${x.length} values, got ${noise.length})`);
    }
  }
  return batch;
}

/** Finds t in the timesteps set by setTimesteps. */
export function stepIndexOf(timesteps: Int32Array, t: number): number {
  if (timesteps.length === 0) throw new DiffusionOptionError('steps', 'are not set: call setTimesteps(n) first');
  const i = timesteps.indexOf(t);
  if (i < 0) throw new DiffusionOptionError('t', `must be one of the scheduled timesteps [${timesteps.join(', ')}] (got ${t})`);
  return i;
}
