// Served Cold Diffusion models (src/cold/): their cards checked at startup like the DDPM cards (registry.ts),
// kept in the same registry under `cold`, and served by GET /v1/samples/{seed}.png (generation, when the card
// has a generation start) and POST /v1/restore (restoration) only.
import { z } from 'zod';
import { modelFile } from '../model-card.ts';
import type { ColdModelCard } from '../cold/card.ts';
import { validateMixture, type GaussianMixture } from '../cold/mixture.ts';
import { COLD_KINDS, validateProcess } from '../cold/process.ts';
import type { ServingLimits } from './registry.ts';

/** One served cold model: its card, its int8 ONNX bytes and its limits (maxImageSteps bounds t of a restoration). */
export interface ColdEntry {
  card: ColdModelCard;
  bytes: ArrayBuffer;
  limits: ServingLimits;
}

export interface ColdRegistry {
  list(): readonly ColdEntry[];
  get(name: string): ColdEntry | undefined;
}

/** The parts of a cold card the worker relies on; process and mixture are checked by src/cold's validators. */
const coldCard = z.looseObject({
  kind: z.enum(COLD_KINDS as [string, ...string[]]),
  name: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/),
  version: z.string(),
  imageSize: z.number().int().min(2).max(512),
  channels: z.union([z.literal(1), z.literal(3)]),
  classNames: z.null(),
  architecture: z.looseObject({ numClasses: z.literal(0) }),
  process: z.looseObject({ kind: z.string(), T: z.number() }),
  prediction: z.literal('sample'),
  generation: z.looseObject({ mixture: z.looseObject({ dim: z.number() }), noise: z.number().min(0).max(1), fittedOn: z.string() }).nullable(),
  io: z.object({ x: z.string(), t: z.string(), output: z.string() }),
  files: z.looseObject({ fp32: modelFile, int8: modelFile }),
});

/** Whether a model.json (any JSON) is a Cold Diffusion card: its `kind` names a cold process. */
export function isColdCard(json: unknown): boolean {
  return typeof json === 'object' && json !== null && COLD_KINDS.includes((json as { kind?: unknown }).kind as never);
}

/** Checks a cold model.json read from the bundle; throws (at startup) with the offending field. */
export function parseColdCard(json: unknown): ColdModelCard {
  const result = coldCard.safeParse(json);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new TypeError(`invalid cold model card: ${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'unknown'}`);
  }
  const card = result.data as unknown as ColdModelCard;
  try {
    const process = validateProcess(card.process);
    if (process.kind !== card.kind) throw new RangeError(`process.kind ${process.kind} must equal the card's kind ${card.kind}`);
    if (card.generation !== null) {
      validateMixture(card.generation.mixture as GaussianMixture);
      if (card.generation.mixture.dim !== card.channels) throw new RangeError(`generation.mixture.dim must equal channels (${card.channels})`);
    }
  } catch (error) {
    throw new TypeError(`invalid cold model card ${card.name}: ${(error as Error).message}`);
  }
  return card;
}

/** The cold entries of a registry; the work of a full restoration (T network calls) must fit maxImageSteps. */
export function createColdRegistry(entries: readonly ColdEntry[]): ColdRegistry {
  const byName = new Map<string, ColdEntry>();
  for (const entry of entries) {
    if (byName.has(entry.card.name)) throw new TypeError(`duplicate model name ${entry.card.name}`);
    if (entry.card.process.T > entry.limits.maxImageSteps) {
      throw new TypeError(`invalid limits of model ${entry.card.name}: maxImageSteps ${entry.limits.maxImageSteps} is below its T = ${entry.card.process.T} (one full restoration)`);
    }
    byName.set(entry.card.name, entry);
  }
  return { list: () => entries, get: (name) => byName.get(name) };
}
