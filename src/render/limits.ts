// The documented request limits and the global defaults (docs/api.md). A leaf module: the registry checks
// each model's serving defaults against these when it is created, and query parsing applies them.
import type { GuidanceInterval, SamplerName } from '../diffusion/index.ts';

/** Documented limits. Per-model work limits come from the registry (ServingLimits). */
export const LIMITS = {
  maxSteps: 1000,
  maxGridImages: 16,
  maxScale: 8,
  /** Longest side of a returned PNG, after upscaling. */
  maxOutputSide: 1024,
  maxGuidance: 20,
  /** Body of POST /v1/restore (a PNG of the model's size; 32x32 RGBA is under 5 KB). */
  maxRestoreBytes: 65_536,
} as const;

/** The value of every omitted parameter, unless the model sets its own (ServingDefaults: sampler, steps, guidance). */
export interface RequestDefaults {
  sampler: SamplerName;
  steps: number;
  eta: number;
  clip: boolean;
  /** Classifier-free guidance of a request with a class; a request without one is unguided (1). */
  guidance: number;
  /** Guidance only at timesteps in [tLow, tHigh] of a guided request (guidance_interval); absent: every step. */
  guidanceInterval?: GuidanceInterval;
  scale: number;
  gridImages: number;
}

export const DEFAULTS: Readonly<RequestDefaults> = { sampler: 'dpmpp2m', steps: 20, eta: 0, clip: true, guidance: 1, scale: 1, gridImages: 16 };
