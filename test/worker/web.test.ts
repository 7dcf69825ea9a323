// The site inside workerd: GET / (cache headers, ETag, the default image a cached URL), hashed assets, /docs,
// /openapi.json.
import { SELF } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { DEFAULTS } from '../../src/render/limits.ts';
import { sessionRuns } from '../../src/inference/runtime.ts';
import { bundledModels } from '../../src/models/bundled.ts';
import { servingDefaults } from '../../src/models/registry.ts';
import type { DemoConfig } from '../../src/web/page.ts';
import { fetchSettled } from './settled.ts';

const BASE = 'http://worker.test';
const get = (path: string, headers: Record<string, string> = {}) => SELF.fetch(BASE + path, { headers });

describe('GET /', () => {
  it('is a small HTML page, briefly cacheable, with ETag and 304', async () => {
    const res = await get('/');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(res.headers.get('cache-control')).toBe('public, max-age=60, stale-while-revalidate=86400');
    expect(res.headers.get('content-security-policy')).toContain("default-src 'self'");
    const html = await res.text();
    expect(html.length).toBeLessThan(16_000);
    // the first image asks for a class (seed 42 mod 10 classes), so fmnist-tiny's default guidance applies;
    // the form shows that class and the URL names nothing else (every other parameter is a default)
    expect(html).toContain('<img id="image" class="pixels" src="/v1/samples/42.png?class=2"');
    expect(html).toContain('<a id="permalink" href="/v1/samples/42.png?class=2">');
    expect(html).toContain('seed 42, class 2: Pullover, default parameters');
    // the default model (fmnist-tiny) is selected, with its class names
    expect(html).toContain('<option value="fmnist-tiny" selected>fmnist-tiny</option>');
    expect(html).toContain('<option value="">any (unconditional)</option>');
    expect(html).toContain('<option value="2" selected>2: Pullover</option>');
    expect(html).toContain('<option value="3">3: Dress</option>');
    // the form starts from the default model's serving defaults; the script knows every model's
    const defaults = servingDefaults(bundledModels().get('fmnist-tiny')!);
    const other = servingDefaults(bundledModels().get('fmnist-small')!);
    // the steps field's maximum is the model's work limit for one guided image (the form starts with a class)
    const limit = bundledModels().get('fmnist-tiny')!.limits.maxImageSteps;
    expect(defaults.guidance).not.toBe(1);
    expect(html).toContain(`<input id="steps" name="steps" type="number" inputmode="numeric" min="1" max="${Math.min(1000, Math.floor(limit / 2))}" value="${defaults.steps}" required>`);
    const config = JSON.parse(/<script id="config" type="application\/json">(.*?)<\/script>/s.exec(html)?.[1] ?? '{}') as DemoConfig;
    expect(config.models.map((m) => [m.name, m.defaults, m.initialClass])).toEqual([
      ['fmnist-tiny', { sampler: defaults.sampler, steps: defaults.steps, guidance: defaults.guidance }, 2],
      ['fmnist-small', { sampler: other.sampler, steps: other.steps, guidance: other.guidance }, 2],
      ['fixture-tiny', { sampler: DEFAULTS.sampler, steps: DEFAULTS.steps, guidance: DEFAULTS.guidance }, 2],
    ]);
    // the work limit the form keeps within is the one /v1/models reports
    expect(config.models.map((m) => m.maxImageSteps)).toEqual(['fmnist-tiny', 'fmnist-small', 'fixture-tiny'].map((n) => bundledModels().get(n)!.limits.maxImageSteps));
    expect(config.gridImages).toBe(DEFAULTS.gridImages);
    const etag = res.headers.get('etag') ?? '';
    const again = await get('/', { 'if-none-match': etag });
    expect(again.status).toBe(304);
  });

  it('serves its script and stylesheet under content hashes, immutable; other names are 404', async () => {
    const html = await (await get('/')).text();
    const names = [...html.matchAll(/\/assets\/((?:app|style)\.[0-9a-f]{12}\.(?:js|css))/g)].map((m) => m[1]);
    expect(names).toHaveLength(2);
    for (const name of names) {
      const res = await get(`/assets/${name}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
      expect((await res.text()).length).toBeGreaterThan(1000);
    }
    expect((await get('/assets/app.000000000000.js')).status).toBe(404);
  });

  it('needs no model run for its first view once the default image is stored', async () => {
    expect((await fetchSettled(BASE + '/v1/samples/42.png?class=2')).status).toBe(200); // generate (or find) and store the first image
    const runs = sessionRuns();
    const html = await (await get('/')).text();
    const src = /<img id="image" class="pixels" src="([^"]+)"/.exec(html)?.[1] ?? '';
    expect(src).toBe('/v1/samples/42.png?class=2');
    const names = [...html.matchAll(/(\/assets\/[^"]+)"/g)].map((m) => m[1]);
    for (const path of [src, ...names]) expect((await get(path)).status, path).toBe(200);
    const first = await get(src);
    expect(first.headers.get('x-cache')).toBe('HIT');
    // sampled at the model's default guidance (a class-conditional request without guidance=)
    const { guidance } = servingDefaults(bundledModels().get('fmnist-tiny')!);
    expect(first.headers.get('x-content-key')).toContain(`&class=2&guidance=${guidance}&`);
    expect(sessionRuns()).toBe(runs);
  });
});

describe('GET /openapi.json and /docs', () => {
  it('serves the OpenAPI 3.1 document with cache headers and CORS', async () => {
    const res = await get('/openapi.json');
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('public, max-age=300, stale-while-revalidate=86400');
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    const doc = await res.json<{ openapi: string; paths: Record<string, unknown> }>();
    expect(doc.openapi).toBe('3.1.1');
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(['/v1/models', '/v1/samples/{seed}.png', '/v1/grids/{seed}.png', '/v1/samples/{seed}/stream', '/openapi.json']),
    );
  });

  it('renders the reference page from the document', async () => {
    const res = await get('/docs');
    expect(res.status).toBe(200);
    const html = await res.text();
    for (const id of ['listModels', 'getSample', 'getGrid', 'streamSample']) expect(html).toContain(`id="${id}"`);
    expect(html).toContain('<code>steps</code>');
  });
});
