// The served models as data (served.json): name, serving limits and defaults, in order; the first is the default.
// The worker (bundled.ts), the benchmark and the evaluation read this one list. Why each default was chosen,
// with the measurements: docs/evaluation.md.
import served from './served.json';
import type { ServingDefaults, ServingLimits } from './registry.ts';

export interface ServedModel {
  name: string;
  limits: ServingLimits;
  defaults?: ServingDefaults;
}

export const SERVED_MODELS = served as readonly ServedModel[];

/** The served entry of a model name (undefined when the worker does not serve it). */
export function servedModel(name: string): ServedModel | undefined {
  return SERVED_MODELS.find((m) => m.name === name);
}
