// The query parameters of Cold Diffusion requests: GET /v1/samples/{seed}.png with a cold model (generation)
// and POST /v1/restore(/stream) (restoration). Validated like the DDPM query (query.ts), 400 naming the parameter.
import { z } from 'zod';
import type { ColdModelCard } from '../cold/card.ts';
import { needsCentres } from '../cold/degrade.ts';
import type { ColdAlgorithm } from '../cold/sample.ts';
import type { ColdEntry } from '../models/cold.ts';
import type { ModelRegistry } from '../models/registry.ts';
import type { ColdSampleParams, RestoreParams } from '../render/cold.ts';
import { LIMITS } from '../render/limits.ts';
import { invalidParam } from './problem.ts';
import { decimal, int, parseStrictQuery } from './query.ts';

const algorithm = z
  .enum(['1', '2'], { error: 'algorithm must be 2 (the paper\'s Algorithm 2, x_{t-1} = x_t - D(x0, t) + D(x0, t - 1)) or 1 (its naive Algorithm 1)' })
  .transform((v) => Number(v) as ColdAlgorithm);

/** `row,column`: a mask centre, each in [-1, S - 1] (checked against the model in parseRestoreQuery). */
const centre = z
  .string()
  .regex(/^-?[0-9]{1,3},-?[0-9]{1,3}$/, { error: 'centre must be two integers row,column (e.g. 15,15)' })
  .transform((v): [number, number] => {
    const [row, column] = v.split(',').map(Number);
    return [row, column];
  });

/** Query of GET /v1/samples/{seed}.png for a cold model (also in /openapi.json). */
export const coldSampleQuerySchema = z.strictObject({
  model: z.string().optional(),
  algorithm: algorithm.optional(),
  noise: decimal('noise', 0, 1).optional(),
  scale: int('scale', 1, LIMITS.maxScale).optional(),
});

/** Query of POST /v1/restore and /v1/restore/stream (also in /openapi.json). */
export const restoreQuerySchema = z.strictObject({
  model: z.string().optional(),
  t: int('t', 1, 1000),
  algorithm: algorithm.optional(),
  input: z.enum(['degraded', 'clean'], { error: 'input must be degraded (the body is x_t) or clean (the worker degrades it to t first)' }).optional(),
  centre: centre.optional(),
  scale: int('scale', 1, LIMITS.maxScale).optional(),
});

/** The cold model named by `model` (default: the first cold model); 400 for an unknown or a DDPM model. */
export function resolveColdModel(registry: ModelRegistry, name: string | null): ColdEntry {
  const cold = registry.cold.list();
  const chosen = name ?? cold[0]?.card.name;
  if (chosen === undefined) throw invalidParam('model', 'names no model: this worker serves no Cold Diffusion model (kind cold-blur or cold-mask)');
  const entry = registry.cold.get(chosen);
  if (entry) return entry;
  const names = cold.map((e) => e.card.name);
  const choices = names.length > 0 ? `one of ${names.join(', ')}` : 'a Cold Diffusion model, and none is served';
  if (registry.get(chosen)) throw invalidParam('model', `must be a Cold Diffusion model (kind cold-blur or cold-mask): ${chosen} is a DDPM model; ${choices}`);
  throw invalidParam('model', `must be ${choices} (got ${JSON.stringify(chosen)})`);
}

function checkScale(scale: number, card: ColdModelCard): number {
  const side = card.imageSize * scale;
  if (side > LIMITS.maxOutputSide) throw invalidParam('scale', `makes a ${side}-pixel image; the longest side may be at most ${LIMITS.maxOutputSide}`);
  return scale;
}

/** A cold sample's parameters, defaults applied; a model without a generation start is a 400. */
export function parseColdSampleQuery(query: URLSearchParams, entry: ColdEntry): ColdSampleParams {
  const q = parseStrictQuery(query, coldSampleQuerySchema);
  const { card } = entry;
  if (card.generation === null) {
    throw invalidParam('model', `${card.name} (${card.kind}) restores only: its fully degraded state is not modelled, so it does not generate; use POST /v1/restore`);
  }
  return { algorithm: q.algorithm ?? 2, noise: q.noise ?? card.generation.noise, scale: checkScale(q.scale ?? 1, card) };
}

/** A restoration's parameters, defaults applied (`t` is required). */
export function parseRestoreQuery(query: URLSearchParams, entry: ColdEntry): RestoreParams {
  if (!query.has('t')) throw invalidParam('t', 'is required: the degradation level of the image (input=degraded) or to degrade it to (input=clean)');
  const q = parseStrictQuery(query, restoreQuerySchema);
  const { card, limits } = entry;
  const T = card.process.T;
  if (q.t > T) throw invalidParam('t', `must be an integer in [1, ${T}] (model ${card.name} has T = ${T}; got ${q.t})`);
  if (q.t > limits.maxImageSteps) throw invalidParam('t', `must be at most ${limits.maxImageSteps} for model ${card.name} (one network call per level)`);
  let centreOf: [number, number] | null = null;
  if (q.centre !== undefined) {
    if (!needsCentres(card.process)) throw invalidParam('centre', `applies to random masks only; model ${card.name} (${card.process.kind}, ${card.process.routine}) has none`);
    const S = card.imageSize;
    if (q.centre.some((v) => v < -1 || v > S - 1)) throw invalidParam('centre', `must be two integers in [-1, ${S - 1}] (got ${q.centre.join(',')})`);
    centreOf = q.centre;
  }
  return { t: q.t, algorithm: q.algorithm ?? 2, input: q.input ?? 'degraded', centre: centreOf, scale: checkScale(q.scale ?? 1, card) };
}
