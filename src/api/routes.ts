import { Hono, type Context } from 'hono';
import type { Env } from '../env.ts';
import { verifyModel } from '../inference/integrity.ts';
import { loadEpsModel, wasmHeapBytes } from '../inference/runtime.ts';
import type { EpsModel } from '../diffusion/index.ts';
import { servingDefaults, type ModelRegistry, type NetworkEntry } from '../models/registry.ts';
import type { RenderKind } from '../render/params.ts';
import { renderPng } from '../render/render.ts';
import { contentKey, matchesEtag, type ContentKey } from '../storage/keys.ts';
import { serveColdSample } from './cold.ts';
import { readPng, storePng, type CacheLayer } from '../storage/png-cache.ts';
import { GENERATED_PNG_CACHE } from './cache-control.ts';
import { DEFAULTS, LIMITS } from '../render/limits.ts';
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

  routes.get('/models', async (c) => {
    const available = (entry: NetworkEntry): Promise<boolean> =>
      verifyModel(entry).then(
        () => true,
        () => false,
      );
    const ddpm = await Promise.all(
      registry.list().map(async (entry) => ({
        ...entry.card,
        kind: entry.card.kind ?? 'ddpm',
        available: await available(entry),
        limits: { ...entry.limits, ...LIMITS },
        defaults: servingDefaults(entry),
      })),
    );
    // Cold Diffusion models after the DDPM models: their cards (kind, process, generation start)
    const cold = await Promise.all(registry.cold.list().map(async (entry) => ({ ...entry.card, available: await available(entry), limits: { ...entry.limits, ...LIMITS } })));
    // `defaults`: those of a model that sets none of its own; each model lists its effective defaults
    return c.json({ default: registry.defaultName, defaults: DEFAULTS, models: [...ddpm, ...cold] }, 200, { 'cache-control': 'no-cache' });
  });

  /**
   * A content-addressed PNG: 304 from the key alone, HEAD without a model run, else the Cache API or R2, else
   * `render` (once per key and isolate), stored after the response. The model is verified first by the caller.
   */
  async function sendPng(c: AppContext, key: ContentKey, entry: NetworkEntry, seed: number, render: (model: EpsModel) => Promise<Uint8Array<ArrayBuffer>>): Promise<Response> {
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
      const bytes = await render(await loadEpsModel(entry, { wasmEntry: c.env.ORT_WASM_ENTRY }));
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
  }

  function servePng(kind: RenderKind) {
    return async function servePngRoute(c: AppContext): Promise<Response> {
      const query = new URL(c.req.url).searchParams;
      const name = modelParam(query);
      const cold = name === null ? undefined : registry.cold.get(name);
      // a Cold Diffusion model generates samples (src/api/cold.ts); grids and the rest are DDPM's
      if (cold && kind === 'sample') return serveColdSample(c, cold, (key, seed, render) => sendPng(c, key, cold, seed, render));
      const entry = resolveModel(registry, name);
      await verifyModel(entry); // a tampered model serves nothing, not even cache hits or 304s
      const seed = parseSeed(c.req.param('file') ?? '');
      query.delete('model');
      const params = parseRenderQuery(query, kind, entry);
      const key = await contentKey(entry.card, kind, seed, params);
      return sendPng(c, key, entry, seed, (model) => renderPng(model, entry.card, kind, seed, params, { onStep: yieldToEventLoop }));
    };
  }

  routes.get('/samples/:file', servePng('sample'));
  routes.get('/grids/:file', servePng('grid'));
  return routes;
}
