// POST /v1/batches, GET /v1/batches/{id}, /v1/batches/{id}/grid.png, /v1/batches/{id}/images/{k}.png.
// Validation and orchestration only: state in the job's Durable Object, work in the queue consumer.
import { Hono, type Context } from 'hono';
import { ProblemError, problemResponse } from '../api/problem.ts';
import type { Env } from '../env.ts';
import { verifyModel } from '../inference/integrity.ts';
import { sha256Hex } from '../shared/sha256.ts';
import type { ModelRegistry } from '../models/registry.ts';
import { GENERATED_PNG_CACHE } from '../api/cache-control.ts';
import { matchesEtag } from '../storage/keys.ts';
import { deriveSeed } from '../diffusion/index.ts';
import { authenticate, jobIdFor, type Caller } from './auth.ts';
import { readBodyText } from './body.ts';
import { contactSheet } from './contact-sheet.ts';
import { chunkCount } from './generate.ts';
import { BATCH_LIMITS } from './limits.ts';
import { parseBatchBody } from './spec.ts';
import { getPng, gridKey, imageKey, putPng } from './store.ts';
import type { BatchJob } from './types.ts';
import { jobView } from './view.ts';

type BatchContext = Context<{ Bindings: Env }>;

const JOB_ID = /^[0-9a-f]{32}$/;

function stubOf(env: Env, id: string) {
  return env.BATCH_JOBS.get(env.BATCH_JOBS.idFromName(id));
}

async function jobOr404(c: BatchContext): Promise<BatchJob> {
  const id = c.req.param('id') ?? '';
  if (!JOB_ID.test(id)) throw new ProblemError(404, 'Not found', `no batch ${JSON.stringify(id)}`);
  const job = await stubOf(c.env, id).get();
  if (!job) throw new ProblemError(404, 'Not found', `no batch ${id}`);
  return job;
}

function pngResponse(c: BatchContext, png: { bytes: Uint8Array<ArrayBuffer>; etag: string }): Response {
  const headers = { 'content-type': 'image/png', 'cache-control': GENERATED_PNG_CACHE, etag: png.etag };
  if (matchesEtag(c.req.header('if-none-match'), png.etag)) return c.body(null, 304, headers);
  return c.body(png.bytes, 200, headers);
}

/** A job's seed when the caller gives none: derived from its id, so a replay agrees. */
function seedFromId(id: string): number {
  return deriveSeed(parseInt(id.slice(0, 12), 16), 0);
}

export function createBatchRoutes(registry: ModelRegistry) {
  const routes = new Hono<{ Bindings: Env }>();

  routes.post('/', async function startBatch(c) {
    const text = await readBodyText(c.req.raw, BATCH_LIMITS.maxBodyBytes);
    let caller: Caller;
    try {
      caller = await authenticate(c.req.raw.headers, text, c.env);
    } catch (error) {
      const response = problemResponse(error, c);
      if (response.status === 401) response.headers.set('www-authenticate', 'Bearer realm="ddpm-edge", Standard-Webhooks');
      return response;
    }
    const chunkOverride = c.env.BATCH_CHUNK_IMAGES !== undefined && /^[1-9][0-9]{0,3}$/.test(c.env.BATCH_CHUNK_IMAGES) ? Number(c.env.BATCH_CHUNK_IMAGES) : undefined;
    const parsed = parseBatchBody(text, registry, {
      callbackPolicy: { allowHttp: c.env.CALLBACK_ALLOW_HTTP === 'true' },
      faultsEnabled: c.env.BATCH_TEST_FAULTS === 'enabled',
      ...(chunkOverride === undefined ? {} : { chunkImagesOverride: chunkOverride }),
    });
    if (parsed.spec.callbackUrl !== null && !c.env.CALLBACK_SIGNING_SECRET) {
      throw new ProblemError(503, 'Not configured', 'callbacks need CALLBACK_SIGNING_SECRET, which is not configured');
    }
    // A model that fails its integrity check is refused here (503, as every GET route for it), not after retries.
    const entry = registry.get(parsed.spec.model);
    if (!entry) throw new ProblemError(503, 'Model unavailable', `model ${parsed.spec.model} is not served`);
    await verifyModel(entry);
    const id = await jobIdFor(caller, c.env);
    const now = new Date().toISOString();
    const spec = { ...parsed.spec, seed: parsed.spec.seed ?? seedFromId(id) };
    const job: BatchJob = {
      id,
      status: 'queued',
      auth: caller.auth,
      requestHash: await sha256Hex(parsed.canonical),
      origin: new URL(c.req.url).origin,
      spec,
      faults: parsed.faults,
      chunks: chunkCount(spec),
      chunksDone: [],
      imagesDone: 0,
      messagesSent: false,
      deliveries: 1,
      errors: [],
      callback: { status: 'none', event: null, attempts: 0, lastStatus: null, lastError: null, enqueued: false, deliveredAt: null },
      createdAt: now,
      updatedAt: now,
      finishedAt: null,
    };
    const result = await stubOf(c.env, id).create(job);
    if (!result.created && result.job.requestHash !== job.requestHash) {
      throw new ProblemError(409, 'Idempotency key reused', `${caller.auth === 'webhook' ? 'webhook-id' : 'Idempotency-Key'} ${caller.idempotencyKey ?? ''} already started batch ${id} with a different request`, { batch: id });
    }
    const view = jobView(result.job);
    const headers: Record<string, string> = { location: view.links.self, 'cache-control': 'no-store' };
    if (!result.created) headers['idempotent-replayed'] = 'true';
    return c.json(view, 202, headers);
  });

  routes.get('/:id', async function batchStatus(c) {
    const job = await jobOr404(c);
    return c.json(jobView(job), 200, { 'cache-control': 'no-store' });
  });

  routes.get('/:id/grid.png', async function batchGrid(c) {
    const job = await jobOr404(c);
    if (job.status !== 'succeeded') {
      throw new ProblemError(409, 'Batch not complete', `batch ${job.id} is ${job.status}; the contact sheet exists once it succeeded`, { batchStatus: job.status });
    }
    const key = gridKey(job.id);
    let png = await getPng(c.env.GRIDS, key);
    if (!png) {
      const images: Uint8Array[] = [];
      for (let k = 0; k < job.spec.count; k++) {
        const image = await getPng(c.env.GRIDS, imageKey(job.id, k));
        if (!image) throw new ProblemError(500, 'Batch image missing', `image ${k} of batch ${job.id} is not in storage`);
        images.push(image.bytes);
      }
      await putPng(c.env.GRIDS, key, contactSheet(images), { job: job.id });
      png = await getPng(c.env.GRIDS, key);
      if (!png) throw new ProblemError(500, 'Storage failure', `the contact sheet of batch ${job.id} was not stored`);
    }
    return pngResponse(c, png);
  });

  routes.get('/:id/images/:file', async function batchImage(c) {
    const job = await jobOr404(c);
    const file = c.req.param('file');
    const m = /^(0|[1-9][0-9]{0,3})\.png$/.exec(file);
    const k = m ? Number(m[1]) : NaN;
    if (!(k >= 0 && k < job.spec.count)) throw new ProblemError(404, 'Not found', `batch ${job.id} has images 0 to ${job.spec.count - 1}.png (got ${JSON.stringify(file)})`);
    // served once its chunk is done (as listed in links.images): a chunk cut short may have written some of its images
    const png = job.chunksDone.includes(Math.floor(k / job.spec.chunkSize)) ? await getPng(c.env.GRIDS, imageKey(job.id, k)) : null;
    if (!png) throw new ProblemError(404, 'Not found', `image ${k} of batch ${job.id} is not generated yet (status ${job.status})`, { batchStatus: job.status });
    return pngResponse(c, png);
  });

  return routes;
}
