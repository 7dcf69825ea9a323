// GET / (demo page), /docs (API reference), /openapi.json, /assets/<name>.<hash>.(js|css).
import { Hono, type Context } from 'hono';
import { buildOpenApi } from '../openapi.ts';
import { ProblemError } from '../api/problem.ts';
import type { Env } from '../env.ts';
import { sha256Hex } from '../shared/sha256.ts';
import type { ModelRegistry } from '../models/registry.ts';
import { matchesEtag } from '../storage/keys.ts';
import { IMMUTABLE } from '../storage/png-cache.ts';
import { assets } from './assets.ts';
import { renderDemoPage } from './page.ts';
import { renderReference } from './reference.ts';

/** Pages change with a deploy: a minute fresh, then served stale while the edge revalidates (ETag: 304). */
export const PAGE_CACHE = 'public, max-age=60, stale-while-revalidate=86400';
export const DOCUMENT_CACHE = 'public, max-age=300, stale-while-revalidate=86400';

/** Everything the pages load comes from this origin; the preview frames are data: URLs. */
const CSP = "default-src 'self'; img-src 'self' data:; script-src 'self'; style-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

interface Built {
  body: string;
  etag: string;
}

async function built(body: string): Promise<Built> {
  return { body, etag: `"${(await sha256Hex(body)).slice(0, 32)}"` };
}

function once<T>(make: () => Promise<T>): () => Promise<T> {
  let value: Promise<T> | undefined;
  return () => {
    value ??= make();
    value.catch(() => (value = undefined));
    return value;
  };
}

function serve(c: Context, doc: Built, contentType: string, cacheControl: string, extra: Record<string, string> = {}): Response {
  const headers: Record<string, string> = { 'content-type': contentType, 'cache-control': cacheControl, etag: doc.etag, 'x-content-type-options': 'nosniff', ...extra };
  if (matchesEtag(c.req.header('if-none-match'), doc.etag)) return c.body(null, 304, headers);
  return c.body(doc.body, 200, headers);
}

/** The site around the API. Everything is built once per isolate from the registry: pure, so cacheable. */
export function createWebRoutes(registry: ModelRegistry) {
  const routes = new Hono<{ Bindings: Env }>();
  const page = once(async () => built(renderDemoPage(registry, await assets())));
  const openApi = once(async () => built(JSON.stringify(buildOpenApi(registry))));
  const reference = once(async () => built(renderReference(buildOpenApi(registry), await assets())));
  const html = 'text/html; charset=utf-8';

  routes.get('/', async (c) => serve(c, await page(), html, PAGE_CACHE, { 'content-security-policy': CSP }));
  routes.get('/docs', async (c) => serve(c, await reference(), html, PAGE_CACHE, { 'content-security-policy': CSP }));
  routes.get('/openapi.json', async (c) => serve(c, await openApi(), 'application/json; charset=utf-8', DOCUMENT_CACHE, { 'access-control-allow-origin': '*' }));
  routes.get('/assets/:file', async (c) => {
    const file = c.req.param('file');
    const asset = (await assets()).byName.get(file);
    if (!asset) throw new ProblemError(404, 'Not found', `no asset ${JSON.stringify(file)} (asset names carry a content hash; reload the page)`);
    return serve(c, { body: asset.body, etag: asset.etag }, asset.contentType, IMMUTABLE);
  });
  return routes;
}
