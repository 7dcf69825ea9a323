import { createScheduler, makeSchedule, modelEvaluations, type SamplerName } from '../diffusion/index.ts';

/** Everything that determines the pixels of a response, defaults applied: the cache key is made from it. */
export interface RenderParams {
  sampler: SamplerName;
  /** Inference steps. */
  steps: number;
  /** DDIM eta (0 for the other samplers). */
  eta: number;
  /** Clip the predicted x0 to [-1, 1] at every step (diffusers clip_sample). */
  clip: boolean;
  /** Class id for conditional models, null for unconditional sampling (the null class). */
  classId: number | null;
  /** Classifier-free guidance scale (1 = none). */
  guidance: number;
  /**
   * Guidance only at the timesteps in [tLow, tHigh] (guidance_interval); absent: at every step. Only set when
   * guided and when it leaves out some timestep of [0, T - 1], so that equal pixels share one cache key.
   * An object, not a tuple, so that it keeps its type through Durable Object RPC (batches).
   */
  guidanceInterval?: { tLow: number; tHigh: number };
  /** Integer upscaling of the final PNG. */
  scale: number;
  /** Images: 1 for a sample, up to MAX_GRID_IMAGES for a grid. */
  n: number;
}

export type RenderKind = 'sample' | 'grid';

/**
 * The canonical text of the parameters: fixed order, defaults written out, numbers in JS's shortest
 * round-trip form, so equivalent requests (`steps=020`, reordered or omitted defaults) share one key.
 */
export function canonicalParams(kind: RenderKind, p: RenderParams): string {
  const parts = [
    `sampler=${p.sampler}`,
    `steps=${p.steps}`,
    `eta=${p.eta}`,
    `clip=${p.clip ? 1 : 0}`,
    `class=${p.classId ?? 'none'}`,
    `guidance=${p.guidance}`,
    // only in the keys of requests that use it: the keys of all others stay as they were
    ...(p.guidanceInterval ? [`guidance_interval=${p.guidanceInterval.tLow},${p.guidanceInterval.tHigh}`] : []),
    `scale=${p.scale}`,
  ];
  if (kind === 'grid') parts.push(`n=${p.n}`);
  return parts.join('&');
}

/**
 * Model evaluations (image-steps) of a request for a model of T training timesteps: n x steps, doubled by
 * classifier-free guidance at the steps it applies to (all, or those whose timestep is in guidanceInterval).
 */
export function workOf(p: RenderParams, T: number): number {
  const guided = p.guidance !== 1;
  if (!guided || !p.guidanceInterval) return p.n * p.steps * (guided ? 2 : 1);
  // the timesteps depend on the sampler and T only, not on the betas
  const scheduler = createScheduler(p.sampler, makeSchedule({ kind: 'linear', T }));
  scheduler.setTimesteps(p.steps);
  return p.n * modelEvaluations(scheduler.timesteps, guided, [p.guidanceInterval.tLow, p.guidanceInterval.tHigh]);
}
