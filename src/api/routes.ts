import { Hono, type Context } from 'hono';
import type { Env } from '../env.ts';
import { verifyModel } from '../inference/integrity.ts';
import { loadEpsModel, wasmHeapBytes } from '../inference/runtime.ts';
import { servingDefaults, type ModelEntry, type ModelRegistry } from '../models/registry.ts';
import type { RenderKind } from '../render/params.ts';
import { renderPng } from '../render/render.ts';
import { contentKey, matchesEtag } from '../storage/keys.ts';
import { readPng, storePng, type CacheLayer } from '../storage/png-cache.ts';
import { GENERATED_PNG_CACHE } from './cache-control.ts';
import { DEFAULTS, LIMITS } from './limits.ts';
import { modelParam, parseRenderQuery, parseSeed, resolveModel } from './query.ts';
import { createSingleFlight } from './single-flight.ts';
import { waitUntilOf } from './wait-until.ts';
import { yieldToEventLoop } from './yield.ts';

interface Rendered {
  bytes: Uint8Array<ArrayBuffer>;
  layer: CacheLayer | 'generated';
}

type AppContext = Context<{ Bindings: Env }>;

/** GET /v1/models, /v1/samples/{seed}.png, /v1/grids/{seed}.png. Validation and orchestration only. */
export function createRoutes(registry: ModelRegistry) {
  const routes = new Hono<{ Bindings: Env }>();
  const singleFlight = createSingleFlight<Rendered>();

  function modelFor(c: AppContext): ModelEntry {
    return resolveModel(registry, modelParam(new URL(c.req.url).searchParams));
  }

  routes.get('/models', async (c) => {
    const models = await Promise.all(
      registry.list().map(async (entry) => {
        const available = await verifyModel(entry).then(
          () => true,
          () => false,
        );
        return { ...entry.card, available, limits: { ...entry.limits, ...LIMITS }, defaults: servingDefaults(entry) };
      }),
    );
    // `defaults`: those of a model that sets none of its own; each model lists its effective defaults
    return c.json({ default: registry.defaultName, defaults: DEFAULTS, models }, 200, { 'cache-control': 'no-cache' });
  });

  function servePng(kind: RenderKind) {
    return async function servePngRoute(c: AppContext): Promise<Response> {
      const entry = modelFor(c);
      await verifyModel(entry); // a tampered model serves nothing, not even cache hits or 304s
      const seed = parseSeed(c.req.param('file') ?? '');
      const query = new URL(c.req.url).searchParams;
      query.delete('model');
      const params = parseRenderQuery(query, kind, entry);
      const key = await contentKey(entry.card, kind, seed, params);
      const headers: Record<string, string> = { etag: key.etag, 'cache-control': GENERATED_PNG_CACHE, 'x-content-key': key.r2Key };
      if (matchesEtag(c.req.header('if-none-match'), key.etag)) return c.body(null, 304, headers);

      const waitUntil = waitUntilOf(c);
      if (c.req.method === 'HEAD') {
        // HEAD never generates: the headers of a hit, or those a GET would get, without running the model
        const cached = await readPng(c.env.GRIDS, key.r2Key, waitUntil);
        headers['content-type'] = 'image/png';
        headers['x-cache'] = cached ? 'HIT' : 'MISS';
        if (cached) headers['content-length'] = String(cached.bytes.byteLength);
        return c.body(null, 200, headers);
      }
      const { result, shared } = singleFlight(key.r2Key, async function renderOrFetch(): Promise<Rendered> {
        const cached = await readPng(c.env.GRIDS, key.r2Key, waitUntil);
        if (cached) return cached;
        const model = await loadEpsModel(entry, { wasmEntry: c.env.ORT_WASM_ENTRY });
        const bytes = await renderPng(model, entry.card, kind, seed, params, { onStep: yieldToEventLoop });
        // stored after the response (waitUntil): the R2 put is not on the request path (issue 9)
        waitUntil(storePng(c.env.GRIDS, key.r2Key, bytes, { model: entry.card.name, seed: String(seed) }, waitUntil));
        return { bytes, layer: 'generated' };
      });
      const rendered = await result;
      headers['content-type'] = 'image/png';
      headers['x-cache'] = rendered.layer === 'generated' ? 'MISS' : 'HIT';
      headers['x-cache-layer'] = rendered.layer;
      if (shared) headers['x-shared-generation'] = '1';
      if (rendered.layer === 'generated') headers['x-wasm-heap-bytes'] = String(await wasmHeapBytes());
      return c.body(rendered.bytes, 200, headers);
    };
  }

  routes.get('/samples/:file', servePng('sample'));
  routes.get('/grids/:file', servePng('grid'));
  return routes;
}
