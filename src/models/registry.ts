import { DEFAULTS, LIMITS, type RequestDefaults } from '../render/limits.ts';
import { checkGuidanceInterval, DiffusionOptionError, SAMPLER_NAMES, type GuidanceInterval, type SamplerName } from '../diffusion/index.ts';
import { workOf } from '../render/params.ts';
import { isConditional, type ModelCard, type NetworkCard } from '../model-card.ts';
import { createColdRegistry, type ColdEntry, type ColdRegistry } from './cold.ts';

/** What the worker may do with one model per request (docs/api.md, limits). */
export interface ServingLimits {
  /** Images per onnxruntime run; a larger batch is split. Bounds the wasm heap. */
  maxBatch: number;
  /** Model evaluations per request: images x steps (x 2 at the guided steps). Bounds CPU time. */
  maxImageSteps: number;
}

/** A model's own values for omitted request parameters; the global DEFAULTS fill the rest. */
export interface ServingDefaults {
  sampler?: SamplerName;
  steps?: number;
  /** Classifier-free guidance of a request that names a class (without one, sampling stays unguided). */
  guidance?: number;
  /** Guidance only at the timesteps in [tLow, tHigh] of a guided request (Kynkaanniemi et al. 2024); absent: all. */
  guidanceInterval?: GuidanceInterval;
}

/** One served model: its card (model.json), the int8 ONNX bytes bundled with the worker, its limits and defaults. */
export interface ModelEntry {
  card: ModelCard;
  bytes: ArrayBuffer;
  limits: ServingLimits;
  defaults?: ServingDefaults;
}

/** What the U-Net runtime (src/inference/) needs of any served model, DDPM or Cold Diffusion. */
export interface NetworkEntry {
  card: NetworkCard;
  bytes: ArrayBuffer;
  limits: ServingLimits;
}

export interface ModelRegistry {
  readonly defaultName: string;
  list(): readonly ModelEntry[];
  get(name: string): ModelEntry | undefined;
  /** The Cold Diffusion models (src/models/cold.ts): names distinct from the DDPM models'. */
  readonly cold: ColdRegistry;
}

// The card's validator lives with the card (src/model-card.ts); the registry's users get it here too.
export { isConditional, parseModelCard } from '../model-card.ts';

/** The defaults a request for this model gets: the model's own (ServingDefaults) over the global DEFAULTS. */
export function servingDefaults(entry: ModelEntry): RequestDefaults {
  const own = entry.defaults;
  return {
    ...DEFAULTS,
    sampler: own?.sampler ?? DEFAULTS.sampler,
    steps: own?.steps ?? DEFAULTS.steps,
    guidance: own?.guidance ?? DEFAULTS.guidance,
    ...(own?.guidanceInterval ? { guidanceInterval: own.guidanceInterval } : {}),
  };
}

/** Checks a model's serving defaults against the request limits; throws naming the model and the field. */
function checkServingDefaults(entry: ModelEntry): void {
  const { card, limits } = entry;
  const fail = (field: string, rule: string, value: unknown): never => {
    throw new TypeError(`invalid serving defaults of model ${card.name}: defaults.${field} must be ${rule} (got ${JSON.stringify(value)})`);
  };
  const d = servingDefaults(entry);
  if (!SAMPLER_NAMES.includes(d.sampler)) fail('sampler', `one of ${SAMPLER_NAMES.join(', ')}`, d.sampler);
  const maxSteps = Math.min(LIMITS.maxSteps, card.schedule.T);
  if (!Number.isInteger(d.steps) || d.steps < 1 || d.steps > maxSteps) fail('steps', `an integer in [1, ${maxSteps}] (the request limit and the model's T)`, d.steps);
  if (!Number.isFinite(d.guidance) || d.guidance < 0 || d.guidance > LIMITS.maxGuidance) fail('guidance', `a number in [0, ${LIMITS.maxGuidance}]`, d.guidance);
  if (d.guidance !== 1 && !isConditional(card)) fail('guidance', '1: the model is unconditional', d.guidance);
  if (d.guidanceInterval !== undefined) {
    try {
      checkGuidanceInterval(d.guidanceInterval, card.schedule.T);
    } catch (error) {
      if (error instanceof DiffusionOptionError) fail('guidanceInterval', `two timesteps [tLow, tHigh] with 0 <= tLow <= tHigh <= ${card.schedule.T - 1}`, d.guidanceInterval);
      throw error;
    }
    if (!isConditional(card)) fail('guidanceInterval', 'absent: the model is unconditional', d.guidanceInterval);
  }
  const interval = d.guidanceInterval ? { guidanceInterval: { tLow: d.guidanceInterval[0], tHigh: d.guidanceInterval[1] } } : {};
  const work = workOf({ sampler: d.sampler, steps: d.steps, eta: 0, clip: d.clip, classId: 0, guidance: d.guidance, ...interval, scale: 1, n: 1 }, card.schedule.T);
  if (work > limits.maxImageSteps) fail('steps', `such that one image fits limits.maxImageSteps = ${limits.maxImageSteps} (steps x 2 at guided steps)`, d.steps);
}

/**
 * A registry over a list of DDPM models (the first is the default unless `defaultName` says otherwise) and
 * any Cold Diffusion models.
 */
export function createRegistry(entries: readonly ModelEntry[], defaultName?: string, coldEntries: readonly ColdEntry[] = []): ModelRegistry {
  if (entries.length === 0) throw new TypeError('the model registry needs at least one model');
  const byName = new Map<string, ModelEntry>();
  for (const entry of entries) {
    if (byName.has(entry.card.name)) throw new TypeError(`duplicate model name ${entry.card.name}`);
    checkServingDefaults(entry);
    byName.set(entry.card.name, entry);
  }
  const first = entries[0];
  const chosen = defaultName ?? first.card.name;
  if (!byName.has(chosen)) throw new TypeError(`default model ${chosen} is not in the registry`);
  const cold = createColdRegistry(coldEntries);
  for (const entry of coldEntries) if (byName.has(entry.card.name)) throw new TypeError(`duplicate model name ${entry.card.name}`);
  return {
    defaultName: chosen,
    list: () => entries,
    get: (name) => byName.get(name),
    cold,
  };
}
