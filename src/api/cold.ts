// Cold Diffusion serving (src/cold/): GET /v1/samples/{seed}.png for a cold model (generation from the card's
// mixture start, content-addressed and cached like every sample), POST /v1/restore (a degraded PNG in, the
// restored PNG out) and POST /v1/restore/stream (the same restoration as server-sent events, one preview per
// step, for the demo page). Validation and orchestration only: the math is src/cold, the pixels src/render/cold.ts.
import { Hono, type Context } from 'hono';
import { streamSSE } from 'hono/streaming';
import type { EpsModel } from '../diffusion/index.ts';
import type { Env } from '../env.ts';
import { verifyModel } from '../inference/integrity.ts';
import { loadEpsModel } from '../inference/runtime.ts';
import type { ColdEntry } from '../models/cold.ts';
import type { ModelRegistry } from '../models/registry.ts';
import { canonicalColdParams, previewOf, renderColdSample, restoreInput, restorePng, type RestoreParams } from '../render/cold.ts';
import { keyOf, type ContentKey } from '../storage/keys.ts';
import { parseColdSampleQuery, parseRestoreQuery, resolveColdModel } from './cold-query.ts';
import { problemResponse } from './problem.ts';
import { modelParam, parseSeed } from './query.ts';
import { decodeRestoreImage, readPngBody } from './restore-body.ts';
import { pngDataUrl } from './stream.ts';
import { yieldToEventLoop } from './yield.ts';

type AppContext = Context<{ Bindings: Env }>;

/** Sends a content-addressed PNG (routes.ts sendPng: 304, HEAD, caches, single flight). */
export type SendPng = (key: ContentKey, seed: number, render: (model: EpsModel) => Promise<Uint8Array<ArrayBuffer>>) => Promise<Response>;

/** GET /v1/samples/{seed}.png?model=<cold model>: one generated image (400 for a model that restores only). */
export async function serveColdSample(c: AppContext, entry: ColdEntry, send: SendPng): Promise<Response> {
  await verifyModel(entry);
  const seed = parseSeed(c.req.param('file') ?? '');
  const query = new URL(c.req.url).searchParams;
  query.delete('model');
  const params = parseColdSampleQuery(query, entry);
  const key = await keyOf(entry.card, 'cold-sample', canonicalColdParams(params), seed);
  return send(key, seed, (model) => renderColdSample(model, entry.card, seed, params, { onStep: yieldToEventLoop }));
}

/** Stream events of POST /v1/restore/stream, in order: `start`, one `step` per level, then `done` or `error`. */
export interface RestoreStartEvent {
  model: string;
  /** Levels to walk back: `step` events carry index 0 .. total - 1. */
  total: number;
  t: number;
  algorithm: number;
  /** The restoration's input x_t (for input=clean, the degraded image the worker made), a PNG data URL. */
  degraded: string;
}

export interface RestoreStepEvent {
  index: number;
  total: number;
  /** The level this step started from (t .. 1). */
  t: number;
  /** The network's estimate of x0 at this step, a PNG data URL at the model's size. */
  image: string;
  /** x_{t-1} after the step. */
  xt: string;
}

export interface RestoreDoneEvent {
  total: number;
  /** The restored PNG (with the request's scale), the bytes POST /v1/restore returns. */
  image: string;
}

/** Everything a restoration needs, validated in this order: model, query, body (so a bad query never reads the body). */
async function prepareRestore(c: AppContext, registry: ModelRegistry): Promise<{ entry: ColdEntry; params: RestoreParams; xt: Float32Array }> {
  const query = new URL(c.req.url).searchParams;
  const entry = resolveColdModel(registry, modelParam(query));
  await verifyModel(entry);
  query.delete('model');
  const params = parseRestoreQuery(query, entry);
  const image = await decodeRestoreImage(await readPngBody(c.req.raw), entry.card);
  return { entry, params, xt: restoreInput(entry.card, image, params) };
}

/** POST /v1/restore and /v1/restore/stream. */
export function createRestoreRoutes(registry: ModelRegistry) {
  const routes = new Hono<{ Bindings: Env }>();

  routes.post('/restore', async function restore(c: AppContext): Promise<Response> {
    const { entry, params, xt } = await prepareRestore(c, registry);
    const model = await loadEpsModel(entry, { wasmEntry: c.env.ORT_WASM_ENTRY });
    const { png } = await restorePng(model, entry.card, xt, params, { onStep: yieldToEventLoop });
    return c.body(png, 200, {
      'content-type': 'image/png',
      'cache-control': 'no-store',
      'x-model': entry.card.name,
      'x-restore-t': String(params.t),
      'x-restore-algorithm': String(params.algorithm),
    });
  });

  routes.post('/restore/stream', async function restoreStream(c: AppContext): Promise<Response> {
    const { entry, params, xt } = await prepareRestore(c, registry);
    const { card } = entry;
    const model = await loadEpsModel(entry, { wasmEntry: c.env.ORT_WASM_ENTRY });
    const send = (stream: { writeSSE: (m: { event: string; data: string; id?: string }) => Promise<void> }, event: string, data: unknown, id?: string) =>
      stream.writeSSE({ event, data: JSON.stringify(data), ...(id === undefined ? {} : { id }) });
    const response = streamSSE(c, async function runRestoreStream(stream) {
      const abort = new AbortController();
      stream.onAbort(() => abort.abort());
      try {
        const start: RestoreStartEvent = { model: card.name, total: params.t, t: params.t, algorithm: params.algorithm, degraded: pngDataUrl(previewOf(xt, card)) };
        await send(stream, 'start', start);
        const { png } = await restorePng(model, card, xt, params, {
          signal: abort.signal,
          onStep: async function sendPreview(step) {
            const event: RestoreStepEvent = { index: step.index, total: step.total, t: step.t, image: pngDataUrl(previewOf(step.predX0, card)), xt: pngDataUrl(previewOf(step.x, card)) };
            await send(stream, 'step', event, String(step.index));
            await yieldToEventLoop();
          },
        });
        await send(stream, 'done', { total: params.t, image: pngDataUrl(png) } satisfies RestoreDoneEvent);
      } catch (error) {
        if (abort.signal.aborted) return; // the client went away
        await send(stream, 'error', await problemResponse(error, c).json());
      }
    });
    response.headers.set('cache-control', 'no-store');
    return response;
  });

  return routes;
}
