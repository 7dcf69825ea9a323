// The OpenAPI 3.1 document of the worker (GET /openapi.json). Query parameters come from the zod schema that
// validates requests (querySchema in query.ts) through zod's own JSON Schema generator (z.toJSONSchema, input
// side: what a client sends), so the document cannot drift from validation. Responses are described here.
import { z } from 'zod';
import { batchBodySchema } from './batches/spec.ts';
import { MAX_SEED, SAMPLER_NAMES } from './diffusion/index.ts';
import { servingDefaults, type ModelRegistry } from './models/registry.ts';
import { GENERATED_PNG_CACHE } from './api/cache-control.ts';
import { DEFAULTS, LIMITS } from './render/limits.ts';
import { querySchema } from './api/query.ts';
import { coldSampleQuerySchema, restoreQuerySchema } from './api/cold-query.ts';

/** A JSON Schema (draft 2020-12, the dialect of OpenAPI 3.1). */
export type JsonSchema = Record<string, unknown>;

export interface OpenApiParameter {
  name: string;
  in: 'query' | 'path';
  required: boolean;
  description: string;
  schema: JsonSchema;
  example?: string;
}

export interface OpenApiMediaType {
  schema: JsonSchema;
  example?: unknown;
}

export interface OpenApiResponse {
  description: string;
  headers?: Record<string, { description: string; schema: JsonSchema }>;
  content?: Record<string, OpenApiMediaType>;
}

export interface OpenApiOperation {
  operationId: string;
  summary: string;
  description: string;
  tags: string[];
  parameters: OpenApiParameter[];
  requestBody?: { required: boolean; description: string; content: Record<string, OpenApiMediaType> };
  security?: Record<string, string[]>[];
  responses: Record<string, OpenApiResponse>;
}

export interface OpenApiDocument {
  openapi: '3.1.1';
  info: { title: string; version: string; description: string; license: { name: string; identifier: string } };
  servers: { url: string }[];
  tags: { name: string; description: string }[];
  paths: Record<string, Partial<Record<'get' | 'post', OpenApiOperation>>>;
  components: { schemas: Record<string, JsonSchema>; securitySchemes: Record<string, Record<string, string>> };
}

type QueryKey = keyof typeof querySchema.shape;

/** ` (fmnist-tiny: 3)`: the models whose own default for `key` differs from the global one (ServingDefaults). */
function ownDefaults(registry: ModelRegistry, key: 'sampler' | 'steps' | 'guidance'): string {
  const own = registry
    .list()
    .map((entry) => ({ name: entry.card.name, value: servingDefaults(entry)[key] }))
    .filter(({ value }) => value !== DEFAULTS[key])
    .map(({ name, value }) => `${name}: ${value}`);
  return own.length > 0 ? ` (${own.join(', ')})` : '';
}

/** ` (fmnist-x: 200,800)`: the models with a default guidance interval (ServingDefaults.guidanceInterval). */
function intervalDefaults(registry: ModelRegistry): string {
  const own = registry
    .list()
    .flatMap((entry) => {
      const interval = servingDefaults(entry).guidanceInterval;
      return interval ? [`${entry.card.name}: ${interval.join(',')}`] : [];
    });
  return own.length > 0 ? ` (${own.join(', ')})` : '';
}

/** Descriptions of the query parameters, attached to the validating schema objects (a registry: no copies). */
function parameterDocs(registry: ModelRegistry): z.core.$ZodRegistry<{ description: string }> {
  const docs = z.registry<{ description: string }>();
  const classes = registry
    .list()
    .filter((e) => e.card.architecture.numClasses > 0)
    .map((e) => `${e.card.name}: 0..${e.card.architecture.numClasses - 1}${e.card.classNames ? ` or ${e.card.classNames.join(', ')}` : ''}`);
  const text: Record<QueryKey, string> = {
    model: `Model name (GET /v1/models); default ${registry.defaultName}.`,
    sampler: `Sampler: ${SAMPLER_NAMES.join(', ')}; default ${DEFAULTS.sampler}${ownDefaults(registry, 'sampler')}; each model's defaults: GET /v1/models.`,
    steps: `Sampler steps, an integer in [1, ${LIMITS.maxSteps}] and at most the model's training timesteps T; default ${DEFAULTS.steps}${ownDefaults(registry, 'steps')}. Images x steps (x 2 with guidance) is bounded per model (limits.maxImageSteps).`,
    eta: `DDIM eta in [0, 1] (sampler=ddim only); default ${DEFAULTS.eta}.`,
    class: `Class of a conditional model, by id or name (${classes.join('; ') || 'no conditional model is served'}); omitted: unconditional (null class).`,
    guidance: `Classifier-free guidance scale in [0, ${LIMITS.maxGuidance}] (needs class; 1 = none). Default with a class: ${DEFAULTS.guidance}${ownDefaults(registry, 'guidance')}; without a class: 1.`,
    guidance_interval: `Guidance in a limited interval (Kynkaanniemi et al. 2024): \`tLow,tHigh\`, two integer timesteps with 0 <= tLow <= tHigh <= T - 1; guidance applies only at the steps whose timestep lies in it, the others run the model once (conditional only), so they cost half. Needs guidance != 1. Default: every step${intervalDefaults(registry)}.`,
    scale: `Integer upscaling of the PNG in [1, ${LIMITS.maxScale}] (nearest neighbour); the longest side may be at most ${LIMITS.maxOutputSide} pixels; default ${DEFAULTS.scale}.`,
    clip: `Clip the predicted x0 to [-1, 1] at every step: true, false, 1 or 0; default ${DEFAULTS.clip}.`,
    n: `Images in the grid, an integer in [1, ${LIMITS.maxGridImages}]; default ${DEFAULTS.gridImages}.`,
  };
  for (const key of Object.keys(text) as QueryKey[]) docs.add(querySchema.shape[key], { description: text[key] });
  return docs;
}

const EXAMPLES: Record<string, string> = { sampler: 'ddim', steps: '20', class: '3', guidance: '2', guidance_interval: '200,800', scale: '4', clip: 'true', eta: '0', n: '9' };

/** One query parameter per property of querySchema, as z.toJSONSchema describes what it accepts. */
function queryParameters(registry: ModelRegistry, exclude: readonly QueryKey[]): OpenApiParameter[] {
  return schemaParameters(querySchema, parameterDocs(registry), EXAMPLES, exclude);
}

/** Descriptions of the Cold Diffusion query parameters (cold-query.ts), attached to their validating schemas. */
function coldDocs(registry: ModelRegistry): z.core.$ZodRegistry<{ description: string }> {
  const docs = z.registry<{ description: string }>();
  const cold = registry.cold.list().map((e) => `${e.card.name} (${e.card.kind}, T = ${e.card.process.T}, ${e.card.imageSize}x${e.card.imageSize}x${e.card.channels})`);
  const served = cold.length > 0 ? cold.join('; ') : 'none is served now';
  const algorithm = "2 (default): the paper's Algorithm 2, x_{s-1} = x_s - D(x0^, s) + D(x0^, s - 1); 1: its naive Algorithm 1, x_{s-1} = D(x0^, s - 1), for comparison.";
  const c = coldSampleQuerySchema.shape;
  docs.add(c.algorithm, { description: `Cold Diffusion models only: ${algorithm}` });
  docs.add(c.noise, { description: "Cold Diffusion models only: std of the Gaussian noise added to the generation start (a draw of the model's mixture of fully degraded images), in [0, 1]; default the model's generation.noise (GET /v1/models)." });
  const r = restoreQuerySchema.shape;
  docs.add(r.model, { description: `A Cold Diffusion model (${served}); default the first.` });
  docs.add(r.t, { description: "Required. The degradation level of the image (input=degraded), or the level the worker degrades it to first (input=clean): an integer in [1, T], T the model's process.T. The restoration takes t network calls." });
  docs.add(r.algorithm, { description: algorithm });
  docs.add(r.input, { description: 'degraded (default): the body is x_t, already degraded to level t; clean: the worker applies D(image, t) first (rounded to 8 bits, as a PNG would hold it).' });
  docs.add(r.centre, { description: 'Random-mask models only (process.routine random-incremental): the mask centre `row,column`, each in [-1, S - 1]; default the centre of the image.' });
  docs.add(r.scale, { description: `Integer upscaling of the returned PNG in [1, ${LIMITS.maxScale}]; default 1.` });
  return docs;
}

/** One query parameter per property of a validating zod object schema, as z.toJSONSchema describes what it accepts. */
function schemaParameters(zodSchema: z.ZodObject, docs: z.core.$ZodRegistry<{ description: string }>, examples: Record<string, string>, exclude: readonly string[]): OpenApiParameter[] {
  const schema = z.toJSONSchema(zodSchema, { io: 'input', target: 'draft-2020-12', metadata: docs, unrepresentable: 'any' });
  const properties = (schema.properties ?? {}) as Record<string, JsonSchema>;
  const required = new Set(schema.required ?? []);
  return Object.entries(properties)
    .filter(([name]) => !exclude.includes(name))
    .map(([name, property]) => {
      const { description, ...rest } = property;
      const example = examples[name];
      return {
        name,
        in: 'query' as const,
        required: required.has(name),
        description: typeof description === 'string' ? description : '',
        schema: rest,
        ...(example === undefined ? {} : { example }),
      };
    });
}

const seedParameter: OpenApiParameter = {
  name: 'seed',
  in: 'path',
  required: true,
  description: `The seed: an integer in [0, ${MAX_SEED}] without leading zeros. The same model, parameters and seed always give the same PNG bytes.`,
  schema: { type: 'string', pattern: '^(0|[1-9][0-9]{0,15})$' },
  example: '42',
};

// Response shapes (documentation only: the worker builds these objects itself).
const problem = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string().optional(),
    param: z.string().optional().meta({ description: 'The invalid parameter (400).' }),
  })
  .meta({ description: 'RFC 9457 problem details (application/problem+json).' });

const startEvent = z.object({
  seed: z.number().int(),
  model: z.string(),
  total: z.number().int().meta({ description: 'Sampler steps; step events carry index 0 .. total - 1.' }),
  url: z.string().meta({ description: 'The URL of the final PNG (GET /v1/samples/{seed}.png, same query; same ETag and caching).' }),
  etag: z.string(),
});
const stepEvent = z.object({
  index: z.number().int(),
  total: z.number().int(),
  t: z.number().int().meta({ description: 'Model timestep of the step.' }),
  image: z.string().meta({ description: 'Predicted x0 after this step: data:image/png;base64,..., at the model resolution.' }),
});
const doneEvent = z.object({
  total: z.number().int(),
  url: z.string(),
  etag: z.string(),
  cache: z.enum(['HIT', 'MISS']),
  image: z.string().meta({ description: 'The final PNG (same bytes as url) as a data URL.' }),
});
const defaultValues = z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.array(z.number())]));
const modelsResponse = z.object({
  default: z.string(),
  defaults: defaultValues.meta({ description: 'The defaults of a model that sets none of its own (each model lists its effective defaults).' }),
  models: z.array(
    z.looseObject({
      name: z.string(),
      imageSize: z.number().int(),
      channels: z.number().int(),
      classNames: z.array(z.string()).nullable(),
      available: z.boolean().meta({ description: 'false when the bundled bytes fail their sha256 check.' }),
      limits: z.record(z.string(), z.number()),
      defaults: defaultValues.meta({ description: "This model's values for omitted parameters; guidance (and guidanceInterval, [tLow, tHigh], when the model sets one) applies to requests with a class (without one: 1)." }),
    }),
  ),
});

function jsonSchema(schema: z.ZodType, io: 'input' | 'output' = 'output'): JsonSchema {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { target: 'draft-2020-12', unrepresentable: 'any', io });
  return rest;
}

const ref = (name: string): JsonSchema => ({ $ref: `#/components/schemas/${name}` });

const problemResponses: Record<string, OpenApiResponse> = {
  '400': { description: 'An invalid parameter; `param` names it.', content: { 'application/problem+json': { schema: ref('Problem') } } },
  '503': { description: 'The model failed its integrity check and is not served.', content: { 'application/problem+json': { schema: ref('Problem') } } },
};

const pngCacheControl = {
  description: `${GENERATED_PNG_CACHE}. Not immutable: a deploy that changes the default model, a model's weights or its defaults changes the image behind a URL, and its ETag with it.`,
  schema: { type: 'string' },
};

const pngHeaders: OpenApiResponse['headers'] = {
  ETag: { description: 'Strong ETag of the content key; If-None-Match answers 304 without running the model.', schema: { type: 'string' } },
  'Cache-Control': pngCacheControl,
  'X-Cache': { description: 'HIT (stored) or MISS (generated now).', schema: { type: 'string', enum: ['HIT', 'MISS'] } },
  'X-Content-Key': { description: 'R2 key: model sha256, canonical parameters, seed.', schema: { type: 'string' } },
};

const notModified: OpenApiResponse = { description: 'Not modified (If-None-Match).' };

function pngOperation(kind: 'sample' | 'grid', registry: ModelRegistry): OpenApiOperation {
  const grid = kind === 'grid';
  return {
    operationId: grid ? 'getGrid' : 'getSample',
    summary: grid ? 'A grid of n samples as one PNG' : 'One sample as a PNG',
    description: grid
      ? 'Image k of the grid uses a seed derived from (seed, k). Deterministic and cached like single samples.'
      : 'Runs the sampler (or answers from R2 / the edge cache). Deterministic: stored once generated; the ETag is known without a model run.',
    tags: ['images'],
    parameters: [
      seedParameter,
      ...queryParameters(registry, grid ? [] : ['n']),
      // a cold model's sample takes model and scale as above, and these (src/api/cold-query.ts)
      ...(grid ? [] : schemaParameters(coldSampleQuerySchema, coldDocs(registry), { algorithm: '2', noise: '0.002' }, ['model', 'scale'])),
    ],
    responses: {
      '200': { description: 'The PNG.', headers: pngHeaders, content: { 'image/png': { schema: { type: 'string', contentMediaType: 'image/png' } } } },
      '304': notModified,
      ...problemResponses,
    },
  };
}

const jobParameter: OpenApiParameter = {
  name: 'id',
  in: 'path',
  required: true,
  description: 'The job id (128 bits, hex): a capability URL, no key needed.',
  schema: { type: 'string', pattern: '^[0-9a-f]{32}$' },
};

const jobResponse = (description: string): OpenApiResponse => ({ description, content: { 'application/json': { schema: ref('BatchJob') } } });
const problemOnly = (description: string): OpenApiResponse => ({ description, content: { 'application/problem+json': { schema: ref('Problem') } } });
const batchPng = (description: string): OpenApiResponse => ({
  description,
  headers: { ETag: { description: 'ETag of the stored image; If-None-Match answers 304.', schema: { type: 'string' } }, 'Cache-Control': pngCacheControl },
  content: { 'image/png': { schema: { type: 'string', contentMediaType: 'image/png' } } },
});

/** Batches (src/batches/, docs/batches-and-webhooks.md); the body schema is the one that validates requests. */
function batchPaths(): OpenApiDocument['paths'] {
  return {
    '/v1/batches': {
      post: {
        operationId: 'startBatch',
        summary: 'Start a batch job (queued, rendered in chunks, signed callback when done)',
        description:
          'Answers 202 with the job and `Location` at once. Authenticated with a bearer API key or as a Standard Webhooks sender (webhook-id, webhook-timestamp, webhook-signature; the body may be wrapped in the envelope `{type, timestamp, data}`). ' +
          'The same `Idempotency-Key` (API clients) or `webhook-id` returns the same job (`Idempotent-Replayed: true`); the same key with another body is 409.',
        tags: ['batches'],
        parameters: [],
        security: [{ bearer: [] }, { standardWebhooks: [] }],
        requestBody: { required: true, description: 'Sampler options as for /v1/samples, as JSON values.', content: { 'application/json': { schema: ref('BatchRequest') } } },
        responses: {
          '202': jobResponse('The job (new or replayed).'),
          '400': problemOnly('An invalid field; `param` names it.'),
          '401': problemOnly('Missing or wrong credentials (`reason`); WWW-Authenticate.'),
          '409': problemOnly('The idempotency key was used with another request.'),
          '413': problemOnly('The body is larger than 16 KiB (counted in bytes).'),
          '503': problemOnly('The authentication mode or callbacks are not configured, or the model fails its integrity check.'),
        },
      },
    },
    '/v1/batches/{id}': {
      get: {
        operationId: 'getBatch',
        summary: 'Status of a batch job',
        description: 'Status (queued, running, succeeded, failed), progress, errors, callback state and links. Cache-Control: no-store.',
        tags: ['batches'],
        parameters: [jobParameter],
        responses: { '200': jobResponse('The job.'), '404': problemOnly('No such job.') },
      },
    },
    '/v1/batches/{id}/images/{k}.png': {
      get: {
        operationId: 'getBatchImage',
        summary: 'Image k of a batch',
        description: 'Byte-identical to /v1/samples/{deriveSeed(seed, k)}.png with the same options and class, at the time of the job.',
        tags: ['batches'],
        parameters: [jobParameter, { name: 'k', in: 'path', required: true, description: '0-based image index.', schema: { type: 'string', pattern: '^(0|[1-9][0-9]{0,3})$' } }],
        responses: { '200': batchPng('The PNG.'), '304': notModified, '404': problemOnly('No such job or image, or its chunk is not done yet (`batchStatus`: the job\'s status).') },
      },
    },
    '/v1/batches/{id}/grid.png': {
      get: {
        operationId: 'getBatchGrid',
        summary: 'Contact sheet of a finished batch',
        description: 'All images, row-major.',
        tags: ['batches'],
        parameters: [jobParameter],
        responses: { '200': batchPng('The PNG.'), '304': notModified, '404': problemOnly('No such job.'), '409': problemOnly('The job has not succeeded (yet); `batchStatus` says its status.') },
      },
    },
  };
}

const restoreEvents = {
  RestoreStartEvent: z.object({
    model: z.string(),
    total: z.number().int().meta({ description: 'Levels walked back (t); step events carry index 0 .. total - 1.' }),
    t: z.number().int(),
    algorithm: z.number().int(),
    degraded: z.string().meta({ description: 'The restoration input x_t (for input=clean, the image the worker degraded) as a PNG data URL.' }),
  }),
  RestoreStepEvent: z.object({
    index: z.number().int(),
    total: z.number().int(),
    t: z.number().int().meta({ description: 'The level the step started from (t .. 1).' }),
    image: z.string().meta({ description: "The network's estimate of the clean image at this step, a PNG data URL." }),
    xt: z.string().meta({ description: 'x_{t-1} after the step, a PNG data URL.' }),
  }),
  RestoreDoneEvent: z.object({ total: z.number().int(), image: z.string().meta({ description: 'The restored PNG (with scale), the bytes POST /v1/restore returns.' }) }),
};

/** POST /v1/restore and /v1/restore/stream (Cold Diffusion, src/api/cold.ts). */
function restorePaths(registry: ModelRegistry): OpenApiDocument['paths'] {
  const parameters = schemaParameters(restoreQuerySchema, coldDocs(registry), { t: '10', input: 'clean', algorithm: '2', centre: '15,15', scale: '4' }, []);
  const requestBody = {
    required: true,
    description: `The image: a PNG (Content-Type: image/png) of exactly the model's size, 8-bit, gray or RGB as the model (a 1-channel model also takes RGB whose channels are equal), opaque; indexed colours are accepted. At most ${LIMITS.maxRestoreBytes} bytes.`,
    content: { 'image/png': { schema: { type: 'string', contentMediaType: 'image/png' } } },
  };
  const refusals: Record<string, OpenApiResponse> = {
    '400': problemOnly('An invalid parameter (`param` names it: an unknown or DDPM model, t out of range, ...), or a body that is not a PNG (`reason`: not-png).'),
    '413': problemOnly(`The body is larger than ${LIMITS.maxRestoreBytes} bytes.`),
    '415': problemOnly('The body is not declared as image/png.'),
    '422': problemOnly("A PNG the model cannot take; `reason`: size (not the model's size), channels, depth (not 8-bit) or transparency."),
    '503': problemOnly('The model failed its integrity check and is not served.'),
  };
  const description = 'Cold Diffusion (Bansal et al. 2022): walks the image back from level t to 0 with the restoration network, one network call per level. Not cached (the input is the body).';
  return {
    '/v1/restore': {
      post: {
        operationId: 'restore',
        summary: 'Restore a degraded image (Cold Diffusion models)',
        description,
        tags: ['images'],
        parameters,
        requestBody,
        responses: { '200': { description: 'The restored PNG; Cache-Control: no-store.', content: { 'image/png': { schema: { type: 'string', contentMediaType: 'image/png' } } } }, ...refusals },
      },
    },
    '/v1/restore/stream': {
      post: {
        operationId: 'streamRestore',
        summary: 'Restore a degraded image with a preview per step (server-sent events)',
        description: `${description} Same parameters, body and refusals as POST /v1/restore (before the stream). Events: \`start\` (RestoreStartEvent), one \`step\` per level (RestoreStepEvent), then \`done\` (RestoreDoneEvent) or \`error\` (Problem).`,
        tags: ['images'],
        parameters,
        requestBody,
        responses: {
          '200': { description: 'text/event-stream; Cache-Control: no-store.', content: { 'text/event-stream': { schema: { type: 'string', description: 'event: start|step|done|error, data: one JSON object' } } } },
          ...refusals,
        },
      },
    },
  };
}

const HTML_OK: OpenApiResponse = { description: 'HTML.', content: { 'text/html': { schema: { type: 'string' } } } };

/** The OpenAPI 3.1 document of the served models and routes. Pure: the same registry gives the same document. */
export function buildOpenApi(registry: ModelRegistry): OpenApiDocument {
  return {
    openapi: '3.1.1',
    info: {
      title: 'ddpm-edge',
      version: '1',
      description:
        'DDPM image generation at the edge: deterministic PNGs (same model, parameters and seed give the same bytes), cached in R2 and the edge cache, and a live denoising stream.',
      license: { name: 'MIT', identifier: 'MIT' },
    },
    servers: [{ url: '/' }],
    tags: [
      { name: 'images', description: 'Generated PNGs and the live denoising stream.' },
      { name: 'models', description: 'The served models.' },
      { name: 'batches', description: 'Batch jobs through a queue, with signed callbacks.' },
      { name: 'site', description: 'The demo page, this document and its reference page.' },
    ],
    paths: {
      '/v1/models': {
        get: {
          operationId: 'listModels',
          summary: 'The served models, their cards and limits',
          description: 'Model cards (model.json) with `available` (integrity check) and the request limits.',
          tags: ['models'],
          parameters: [],
          responses: { '200': { description: 'The models.', content: { 'application/json': { schema: ref('Models') } } } },
        },
      },
      '/v1/samples/{seed}.png': { get: pngOperation('sample', registry) },
      '/v1/grids/{seed}.png': { get: pngOperation('grid', registry) },
      '/v1/samples/{seed}/stream': {
        get: {
          operationId: 'streamSample',
          summary: 'Live denoising: the predicted x0 after every step, then the PNG (server-sent events)',
          description:
            'Same parameters, validation and limits as GET /v1/samples/{seed}.png (errors before the stream are 400/503 problem responses). ' +
            'Events: `start` (StartEvent), one `step` per sampler step (StepEvent, `id` = step index), then `done` (DoneEvent; the PNG is stored, so its `url` is a cache hit from then on) ' +
            'or `error` (Problem). Every event carries one JSON object in `data`. The model runs for every stream.',
          tags: ['images'],
          parameters: [seedParameter, ...queryParameters(registry, ['n'])],
          responses: {
            '200': {
              description: 'text/event-stream; Cache-Control: no-store.',
              content: { 'text/event-stream': { schema: { type: 'string', description: 'event: start|step|done|error, data: one JSON object (StartEvent, StepEvent, DoneEvent or Problem)' } } },
            },
            ...problemResponses,
          },
        },
      },
      ...restorePaths(registry),
      ...batchPaths(),
      '/': { get: { operationId: 'demoPage', summary: 'The demo page', description: 'Cache-Control: public, max-age=60, stale-while-revalidate; ETag.', tags: ['site'], parameters: [], responses: { '200': HTML_OK } } },
      '/docs': { get: { operationId: 'apiReference', summary: 'This API reference as HTML', description: 'Rendered from this document.', tags: ['site'], parameters: [], responses: { '200': HTML_OK } } },
      '/openapi.json': {
        get: {
          operationId: 'openApi',
          summary: 'This document',
          description: 'OpenAPI 3.1; query parameters generated from the zod schemas that validate requests.',
          tags: ['site'],
          parameters: [],
          responses: { '200': { description: 'OpenAPI 3.1 document.', content: { 'application/json': { schema: { type: 'object' } } } } },
        },
      },
    },
    components: {
      schemas: {
        Problem: jsonSchema(problem),
        Models: jsonSchema(modelsResponse),
        StartEvent: jsonSchema(startEvent),
        StepEvent: jsonSchema(stepEvent),
        DoneEvent: jsonSchema(doneEvent),
        ...Object.fromEntries(Object.entries(restoreEvents).map(([name, schema]) => [name, jsonSchema(schema)])),
        // testFaults is a test-only field (BATCH_TEST_FAULTS=enabled), not part of the public API
        BatchRequest: jsonSchema(batchBodySchema.omit({ testFaults: true }), 'input'),
        BatchJob: { type: 'object', description: 'The job: id, status, progress, errors, callback state, links (docs/batches-and-webhooks.md).' },
      },
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'One of BATCH_API_KEYS.' },
        standardWebhooks: { type: 'apiKey', in: 'header', name: 'webhook-signature', description: 'Standard Webhooks signature (with webhook-id and webhook-timestamp) by one of WEBHOOK_SECRETS.' },
      },
    },
  };
}
