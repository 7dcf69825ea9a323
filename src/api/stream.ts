// GET /v1/samples/{seed}/stream: the sampling of /v1/samples/{seed}.png as server-sent events, one preview
// of the predicted x0 per step (the paper's progressive generation, Ho et al. 2020 fig. 6), then the PNG.
import { Hono, type Context } from 'hono';
import { streamSSE, type SSEStreamingApi } from 'hono/streaming';
import { MAX_SEED, type StepInfo } from '../diffusion/index.ts';
import type { Env } from '../env.ts';
import { encodePng, toImages } from '../image/index.ts';
import { verifyModel } from '../inference/integrity.ts';
import { loadEpsModel } from '../inference/runtime.ts';
import type { ModelRegistry } from '../models/registry.ts';
import { renderPng } from '../render/render.ts';
import { contentKey } from '../storage/keys.ts';
import { readPng, storePng } from '../storage/png-cache.ts';
import { invalidParam, problemResponse } from './problem.ts';
import { modelParam, parseRenderQuery, resolveModel } from './query.ts';
import { waitUntilOf } from './wait-until.ts';
import { yieldToEventLoop } from './yield.ts';

type AppContext = Context<{ Bindings: Env }>;

/** Event names of the stream, in order: one `start`, `step` per sampler step, then `done` or `error`. */
export type StreamEvent = 'start' | 'step' | 'done' | 'error';

export interface StartEvent {
  seed: number;
  model: string;
  /** Sampler steps: `step` events carry index 0 .. total - 1. */
  total: number;
  /** The URL of the final PNG: GET /v1/samples/{seed}.png with the same query, ETag and Cache-Control. */
  url: string;
  etag: string;
}

export interface StepEvent {
  index: number;
  total: number;
  /** The model timestep of this step (T - 1 .. 0). */
  t: number;
  /** The predicted x0 after this step: a data:image/png;base64 URL at the model's size (no upscaling). */
  image: string;
}

export interface DoneEvent {
  total: number;
  url: string;
  etag: string;
  /** HIT: the PNG was already stored; MISS: it was stored now. Either way `image` has the same bytes as `url`. */
  cache: 'HIT' | 'MISS';
  /** The final PNG (with the request's scale) as a data URL. */
  image: string;
}

function base64(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

export function pngDataUrl(bytes: Uint8Array): string {
  return `data:image/png;base64,${base64(bytes)}`;
}

/** The seed path segment: an integer in [0, 2^53 - 1], no leading zeros (as in /v1/samples/{seed}.png). */
export function parseStreamSeed(segment: string): number {
  const seed = /^(0|[1-9][0-9]{0,15})$/.test(segment) ? Number(segment) : NaN;
  if (!Number.isSafeInteger(seed) || seed > MAX_SEED) {
    throw invalidParam('seed', `must be an integer in [0, ${MAX_SEED}] (got ${JSON.stringify(segment)})`);
  }
  return seed;
}

/** The preview of one step: predicted x0 of the (single) image, 8-bit, PNG. */
export function previewPng(step: Pick<StepInfo, 'predX0'>, channels: number, size: number): Uint8Array<ArrayBuffer> {
  const [image] = toImages(step.predX0.subarray(0, channels * size * size), [1, channels, size, size]);
  if (!image) throw new RangeError('no preview image');
  return encodePng(image);
}

function send(stream: SSEStreamingApi, event: StreamEvent, data: StartEvent | StepEvent | DoneEvent | unknown, id?: string): Promise<void> {
  return stream.writeSSE({ event, data: JSON.stringify(data), ...(id === undefined ? {} : { id }) });
}

/** Like /v1/samples, the stream validates everything (400 problem+json) before the first event is sent. */
export function createStreamRoutes(registry: ModelRegistry) {
  const routes = new Hono<{ Bindings: Env }>();

  routes.get('/samples/:seed/stream', async function streamSample(c: AppContext): Promise<Response> {
    const url = new URL(c.req.url);
    const entry = resolveModel(registry, modelParam(url.searchParams));
    await verifyModel(entry);
    const seed = parseStreamSeed(c.req.param('seed') ?? '');
    const query = new URLSearchParams(url.searchParams);
    query.delete('model');
    const params = parseRenderQuery(query, 'sample', entry);
    const { card } = entry;
    const key = await contentKey(card, 'sample', seed, params);
    if (c.req.method === 'HEAD') {
      return c.body(null, 200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', 'x-content-key': key.r2Key }); // no model run
    }
    const model = await loadEpsModel(entry, { wasmEntry: c.env.ORT_WASM_ENTRY });
    const waitUntil = waitUntilOf(c);
    const start: StartEvent = { seed, model: card.name, total: params.steps, url: `/v1/samples/${seed}.png${url.search}`, etag: key.etag };

    c.header('x-content-key', key.r2Key);
    const response = streamSSE(c, async function runStream(stream) {
      const abort = new AbortController();
      stream.onAbort(() => abort.abort());
      try {
        await send(stream, 'start', start);
        const bytes = await renderPng(model, card, 'sample', seed, params, {
          signal: abort.signal,
          onStep: async function sendPreview(step) {
            const image = pngDataUrl(previewPng(step, card.channels, card.imageSize));
            await send(stream, 'step', { index: step.index, total: step.total, t: step.t, image } satisfies StepEvent, String(step.index));
            await yieldToEventLoop();
          },
        });
        const cached = await readPng(c.env.GRIDS, key.r2Key, waitUntil);
        // awaited, unlike /v1/samples: `done` tells the client its url is stored, and the demo loads that url at once
        if (!cached) await storePng(c.env.GRIDS, key.r2Key, bytes, { model: card.name, seed: String(seed) }, waitUntil);
        const done: DoneEvent = { total: params.steps, url: start.url, etag: key.etag, cache: cached ? 'HIT' : 'MISS', image: pngDataUrl(bytes) };
        await send(stream, 'done', done);
      } catch (error) {
        if (abort.signal.aborted) return; // the client went away: nothing to tell
        // the same problem details as a failed /v1/samples request (status 500 for a model failure)
        const problem: unknown = await problemResponse(error, c).json();
        await send(stream, 'error', problem);
      }
    });
    response.headers.set('cache-control', 'no-store'); // streamSSE says no-cache; nothing of a stream is reusable
    return response;
  });

  return routes;
}
