import type { SamplerName } from '../diffusion/index.ts';

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
    `scale=${p.scale}`,
  ];
  if (kind === 'grid') parts.push(`n=${p.n}`);
  return parts.join('&');
}

/** Model evaluations (image-steps) of a request: n x steps, doubled by classifier-free guidance. */
export function workOf(p: RenderParams): number {
  return p.n * p.steps * (p.guidance !== 1 ? 2 : 1);
}
