import { z } from 'zod';
import { MAX_SEED, SAMPLER_NAMES, type GuidanceInterval, type SamplerName } from '../diffusion/index.ts';
import { gridLayout } from '../image/index.ts';
import type { ModelCard } from '../model-card.ts';
import { isConditional, servingDefaults, type ModelEntry, type ModelRegistry } from '../models/registry.ts';
import type { RenderKind, RenderParams } from '../render/params.ts';
import { workOf } from '../render/params.ts';
import { GRID_PAD } from '../render/render.ts';
import { LIMITS } from '../render/limits.ts';
import { invalidParam } from './problem.ts';

/** Query integers: decimal digits (leading zeros allowed; the canonical key uses the value). */
const INT = /^[0-9]{1,16}$/;
const DECIMAL = /^-?(0|[1-9][0-9]{0,5})(\.[0-9]{1,6})?$/;

export function int(name: string, min: number, max: number) {
  return z
    .string()
    .regex(INT, { error: `${name} must be an integer in [${min}, ${max}]` })
    .transform(Number)
    .refine((v) => v >= min && v <= max, { error: `${name} must be an integer in [${min}, ${max}]` });
}

export function decimal(name: string, min: number, max: number) {
  return z
    .string()
    .regex(DECIMAL, { error: `${name} must be a decimal number in [${min}, ${max}] (at most 6 decimals)` })
    .transform(Number)
    .refine((v) => v >= min && v <= max, { error: `${name} must be a number in [${min}, ${max}]` });
}

/** `lo,hi`: two integer timesteps (their range depends on the model's T and is checked in parseRenderQuery). */
const interval = z
  .string()
  .regex(/^[0-9]{1,16},[0-9]{1,16}$/, { error: 'guidance_interval must be two integer timesteps tLow,tHigh (e.g. 200,800)' })
  .transform((v): GuidanceInterval => {
    const [lo, hi] = v.split(',').map(Number);
    return [lo, hi];
  });

const bool = z.enum(['true', 'false', '1', '0'], { error: 'clip must be true, false, 1 or 0' }).transform((v) => v === 'true' || v === '1');

/** The query of /v1/samples and /v1/grids; also the source of their parameters in /openapi.json (src/openapi.ts). */
export const querySchema = z.strictObject(
  {
    model: z.string().optional(),
    sampler: z.enum(SAMPLER_NAMES as [SamplerName, ...SamplerName[]], { error: `sampler must be one of ${SAMPLER_NAMES.join(', ')}` }).optional(),
    steps: int('steps', 1, LIMITS.maxSteps).optional(),
    eta: decimal('eta', 0, 1).optional(),
    class: z.string().optional(),
    guidance: decimal('guidance', 0, LIMITS.maxGuidance).optional(),
    guidance_interval: interval.optional(),
    scale: int('scale', 1, LIMITS.maxScale).optional(),
    clip: bool.optional(),
    n: int('n', 1, LIMITS.maxGridImages).optional(),
  },
  { error: (issue) => (issue.code === 'unrecognized_keys' ? `is not a query parameter of this endpoint` : undefined) },
);

/** The seed of `/v1/samples/{seed}.png`: an integer in [0, 2^53 - 1]. */
export function parseSeed(file: string): number {
  const match = /^(0|[1-9][0-9]{0,15})\.png$/.exec(file);
  const seed = match ? Number(match[1]) : NaN;
  if (!Number.isSafeInteger(seed) || seed > MAX_SEED) {
    throw invalidParam('seed', `must be an integer in [0, ${MAX_SEED}] followed by .png (got ${JSON.stringify(file)})`);
  }
  return seed;
}

/** The model named by `?model=` (or a request body), else the registry default; a 400 naming the choices otherwise. */
export function resolveModel(registry: ModelRegistry, name: string | null | undefined): ModelEntry {
  const chosen = name ?? registry.defaultName;
  const entry = registry.get(chosen);
  if (!entry) {
    const cold = registry.cold.get(chosen);
    if (cold) throw invalidParam('model', `${chosen} is a Cold Diffusion model (${cold.card.kind}): it is served by GET /v1/samples/{seed}.png and POST /v1/restore only`);
    const names = registry.list().map((e) => e.card.name);
    throw invalidParam('model', `must be one of ${names.join(', ')} (got ${JSON.stringify(chosen)})`);
  }
  return entry;
}

/**
 * Parses a query against a strict zod object schema: a repeated or unknown parameter, or the first invalid
 * one, is a 400 ProblemError naming it. (The check by hand catches what the schema lets through: an own
 * `__proto__` member, and keys of Object.prototype, which `key in {}` would find.)
 */
export function parseStrictQuery<S extends z.ZodObject>(query: URLSearchParams, schema: S, precheck?: (raw: Record<string, string>) => void): z.output<S> {
  const seen = new Map<string, string>();
  for (const [key, value] of query) {
    if (seen.has(key)) throw invalidParam(key, 'is given more than once');
    if (!Object.hasOwn(schema.shape, key)) throw invalidParam(key, 'is not a query parameter of this endpoint');
    seen.set(key, value);
  }
  const raw: Record<string, string> = Object.fromEntries(seen);
  precheck?.(raw);
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const param = String(issue?.code === 'unrecognized_keys' ? issue.keys[0] : (issue?.path[0] ?? 'query'));
    throw invalidParam(param, (issue?.message ?? 'is invalid').replace(new RegExp(`^${param} `), ''));
  }
  return parsed.data;
}

/** The `model` query parameter (null when absent); a repeated one is a 400 like any repeated parameter. */
export function modelParam(query: URLSearchParams): string | null {
  const values = query.getAll('model');
  if (values.length > 1) throw invalidParam('model', 'is given more than once');
  return values[0] ?? null;
}

function parseClass(value: string | undefined, card: ModelCard): number | null {
  if (value === undefined) return null;
  const k = card.architecture.numClasses;
  if (k === 0) throw invalidParam('class', `is not accepted: model ${card.name} is unconditional`);
  if (INT.test(value) && Number(value) < k) return Number(value);
  const byName = card.classNames?.indexOf(value) ?? -1;
  if (byName >= 0) return byName;
  const names = card.classNames ? ` or one of ${card.classNames.join(', ')}` : '';
  throw invalidParam('class', `must be an integer in [0, ${k - 1}]${names} (got ${JSON.stringify(value)})`);
}

/**
 * Validates and bounds every query parameter of a sample or grid request for one model; throws a 400
 * ProblemError naming the parameter. Returns the parameters with the model's defaults applied (servingDefaults).
 */
export function parseRenderQuery(query: URLSearchParams, kind: RenderKind, entry: ModelEntry): RenderParams {
  const q = parseStrictQuery(query, querySchema, (raw) => {
    if (kind === 'sample' && 'n' in raw) throw invalidParam('n', 'is only accepted by /v1/grids');
  });
  const { card, limits } = entry;
  const defaults = servingDefaults(entry);
  const sampler = q.sampler ?? defaults.sampler;
  if (q.eta !== undefined && sampler !== 'ddim') throw invalidParam('eta', `applies to sampler=ddim only (sampler is ${sampler})`);
  const steps = q.steps ?? defaults.steps;
  if (steps > card.schedule.T) throw invalidParam('steps', `must be at most the model's ${card.schedule.T} training timesteps`);
  const classId = parseClass(q.class, card);
  // the model's default guidance steers towards a requested class; without a class sampling is unguided
  const guidance = q.guidance ?? (classId === null ? 1 : defaults.guidance);
  if (guidance !== 1) {
    if (!isConditional(card)) throw invalidParam('guidance', `is not accepted: model ${card.name} is unconditional`);
    if (classId === null) throw invalidParam('guidance', 'needs a class (classifier-free guidance steers towards one class)');
  }
  const T = card.schedule.T;
  let guidanceInterval: RenderParams['guidanceInterval'];
  if (q.guidance_interval !== undefined) {
    if (guidance === 1) throw invalidParam('guidance_interval', 'needs guidance != 1 and a class (it limits classifier-free guidance to some steps)');
    const [lo, hi] = q.guidance_interval;
    if (lo > hi || hi > T - 1) throw invalidParam('guidance_interval', `must be two timesteps tLow,tHigh with 0 <= tLow <= tHigh <= ${T - 1} (got ${lo},${hi})`);
    guidanceInterval = { tLow: lo, tHigh: hi };
  } else if (guidance !== 1 && defaults.guidanceInterval) {
    guidanceInterval = { tLow: defaults.guidanceInterval[0], tHigh: defaults.guidanceInterval[1] };
  }
  // an interval over every timestep is plain guidance: the same pixels, so the same cache key
  if (guidanceInterval && guidanceInterval.tLow === 0 && guidanceInterval.tHigh === T - 1) guidanceInterval = undefined;
  const params: RenderParams = {
    sampler,
    steps,
    eta: sampler === 'ddim' ? (q.eta ?? defaults.eta) : 0,
    clip: q.clip ?? defaults.clip,
    classId,
    guidance,
    ...(guidanceInterval ? { guidanceInterval } : {}),
    scale: q.scale ?? defaults.scale,
    n: kind === 'grid' ? (q.n ?? defaults.gridImages) : 1,
  };
  const work = workOf(params, T);
  if (work > limits.maxImageSteps) {
    throw invalidParam(
      'steps',
      `x images${guidance !== 1 ? (guidanceInterval ? ' x 2 at the guided steps' : ' x 2 (guidance)') : ''} must be at most ${limits.maxImageSteps} for model ${card.name} (got ${work}); lower steps or n`,
    );
  }
  const side = outputSide(kind, params, card);
  if (side > LIMITS.maxOutputSide) {
    throw invalidParam('scale', `makes a ${side}-pixel image; the longest side may be at most ${LIMITS.maxOutputSide}`);
  }
  return params;
}

/** Longest side of the PNG in pixels. */
export function outputSide(kind: RenderKind, p: RenderParams, card: ModelCard): number {
  if (kind === 'sample') return card.imageSize * p.scale;
  const layout = gridLayout(p.n, card.imageSize, card.imageSize, GRID_PAD);
  return Math.max(layout.width, layout.height) * p.scale;
}
