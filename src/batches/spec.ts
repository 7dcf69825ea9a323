import { z } from 'zod';
import { MAX_SEED } from '../diffusion/index.ts';
import { invalidParam, ProblemError } from '../api/problem.ts';
import { parseRenderQuery, resolveModel } from '../api/query.ts';
import type { ModelRegistry } from '../models/registry.ts';
import { workOf } from '../render/params.ts';
import { CallbackUrlError, validateCallbackUrl, type CallbackUrlPolicy } from '../webhooks/index.ts';
import { BATCH_LIMITS } from './limits.ts';
import type { BatchFaults, BatchSpec } from './types.ts';

const chunkList = z.array(z.number().int().min(0).max(BATCH_LIMITS.maxImages)).max(BATCH_LIMITS.maxImages);

/** The JSON body of POST /v1/batches. Sampler options are those of /v1/samples, as JSON values. */
const bodySchema = z.strictObject(
  {
    count: z.number({ error: 'count must be an integer' }).int({ error: 'count must be an integer' }).min(1).max(BATCH_LIMITS.maxImages),
    model: z.string().max(64).optional(),
    sampler: z.string().max(32).optional(),
    steps: z.number().optional(),
    eta: z.number().optional(),
    clip: z.boolean().optional(),
    guidance: z.number().optional(),
    scale: z.number().optional(),
    classes: z
      .array(z.union([z.number().int().min(0), z.string().max(64)]))
      .min(1)
      .max(BATCH_LIMITS.maxClasses)
      .optional(),
    seed: z.number().int().min(0).max(MAX_SEED).optional(),
    callbackUrl: z.string().optional(),
    testFaults: z
      .strictObject({ failOnce: chunkList.optional(), failAlways: chunkList.optional(), dropOnce: chunkList.optional(), dropAlways: chunkList.optional() })
      .optional(),
  },
  { error: (issue) => (issue.code === 'unrecognized_keys' ? `unknown field ${issue.keys.join(', ')}` : undefined) },
);

export type BatchBody = z.infer<typeof bodySchema>;

/** The body schema (OpenAPI generation reads it). */
export const batchBodySchema = bodySchema;

export interface SpecOptions {
  callbackPolicy: CallbackUrlPolicy;
  /** BATCH_CHUNK_IMAGES: a smaller chunk size (tests); the model's work limit always applies. */
  chunkImagesOverride?: number;
  /** BATCH_TEST_FAULTS=enabled: accept `testFaults`. */
  faultsEnabled: boolean;
}

export interface ParsedBatch {
  spec: Omit<BatchSpec, 'seed'> & { seed: number | null };
  faults: BatchFaults | null;
  /** The validated request, canonical (sorted keys): its hash guards idempotency keys. */
  canonical: string;
}

/** A Standard Webhooks envelope `{ type, timestamp, data }` carries the request in `data`. */
function unwrap(json: unknown): unknown {
  if (json !== null && typeof json === 'object' && !Array.isArray(json)) {
    const record = json as Record<string, unknown>;
    if (typeof record.type === 'string' && record.data !== null && typeof record.data === 'object') return record.data;
  }
  return json;
}

/**
 * JSON.parse keeps a `__proto__` member as an own property, which a schema of known fields lets through (it is
 * no field of the schema's shape, yet not reported as unknown). Any such member, at any depth, is refused.
 */
function findProtoKey(value: unknown, path: string): string | null {
  if (value === null || typeof value !== 'object') return null;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = findProtoKey(value[i], `${path}${path ? '.' : ''}${i}`);
      if (found !== null) return found;
    }
    return null;
  }
  for (const key of Object.keys(value)) {
    const here = `${path}${path ? '.' : ''}${key}`;
    if (key === '__proto__') return here;
    const found = findProtoKey((value as Record<string, unknown>)[key], here);
    if (found !== null) return found;
  }
  return null;
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * Validates the body of POST /v1/batches (raw text) against a model, reusing the sample route's parameter
 * validation, and sizes the chunks. Throws a 400 ProblemError naming the field.
 */
export function parseBatchBody(text: string, registry: ModelRegistry, options: SpecOptions): ParsedBatch {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new ProblemError(400, 'Invalid body', 'the body must be a JSON object');
  }
  const protoKey = findProtoKey(json, '');
  if (protoKey !== null) throw invalidParam(protoKey.replace(/^data\./, ''), 'is an unknown field');
  const parsed = bodySchema.safeParse(unwrap(json));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue?.path.length ? issue.path.join('.') : issue?.code === 'unrecognized_keys' ? (issue.keys[0] ?? 'body') : 'body';
    throw invalidParam(field, (issue?.message ?? 'is invalid').replace(new RegExp(`^${field} `), ''));
  }
  const body = parsed.data;
  if (body.testFaults !== undefined && !options.faultsEnabled) throw invalidParam('testFaults', 'is not accepted here');
  const entry = resolveModel(registry, body.model);

  // The sampler options go through the same validation as /v1/samples query parameters.
  const query = new URLSearchParams();
  const put = (key: string, value: string | number | boolean | undefined): void => {
    if (value !== undefined) query.set(key, String(value));
  };
  put('sampler', body.sampler);
  put('steps', body.steps);
  put('eta', body.eta);
  put('clip', body.clip);
  put('guidance', body.guidance);
  put('scale', body.scale);
  // A class list is checked entry by entry (class names or ids, as `class=`); the first also stands for
  // the guidance check (guidance needs a class).
  const withClass = (value: string | number, i: number) => {
    query.set('class', String(value));
    try {
      return parseRenderQuery(query, 'sample', entry);
    } catch (error) {
      if (error instanceof ProblemError && error.extensions.param === 'class') throw invalidParam(`classes.${i}`, error.detail.replace(/^class /, ''));
      throw error;
    }
  };
  const classes =
    body.classes?.map((value, i) => {
      const id = withClass(value, i).classId;
      if (id === null) throw invalidParam(`classes.${i}`, 'is not a class');
      return id;
    }) ?? null;
  const first = body.classes?.[0];
  if (first === undefined) query.delete('class');
  const params = { ...(first === undefined ? parseRenderQuery(query, 'sample', entry) : withClass(first, 0)), classId: null };

  let callbackUrl: string | null = null;
  if (body.callbackUrl !== undefined) {
    try {
      callbackUrl = validateCallbackUrl(body.callbackUrl, options.callbackPolicy);
    } catch (error) {
      if (error instanceof CallbackUrlError) throw invalidParam('callbackUrl', error.message);
      throw error;
    }
  }

  // A chunk is as many images as one request may render (the model's work limit), at most maxChunkImages.
  const perImage = workOf({ ...params, n: 1 }, entry.card.schedule.T);
  let chunkSize = Math.max(1, Math.min(BATCH_LIMITS.maxChunkImages, Math.floor(entry.limits.maxImageSteps / perImage)));
  if (options.chunkImagesOverride !== undefined) chunkSize = Math.max(1, Math.min(chunkSize, options.chunkImagesOverride));

  const t = body.testFaults;
  const faults = t ? { failOnce: t.failOnce ?? [], failAlways: t.failAlways ?? [], dropOnce: t.dropOnce ?? [], dropAlways: t.dropAlways ?? [] } : null;
  const spec = {
    model: entry.card.name,
    modelSha256: entry.card.files.int8.sha256,
    count: body.count,
    params,
    classes,
    seed: body.seed ?? null,
    chunkSize,
    callbackUrl,
  };
  return { spec, faults, canonical: canonicalJson({ ...body, model: entry.card.name }) };
}
