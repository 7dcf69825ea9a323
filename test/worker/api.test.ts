// The worker inside workerd (@cloudflare/vitest-pool-workers): real onnxruntime-web, R2 simulated by miniflare.
import { createExecutionContext, env, waitOnExecutionContext } from 'cloudflare:test';
import { decode } from 'fast-png';
import { describe, expect, inject, it, vi } from 'vitest';
import fixtureCard from '../../models/fixture-tiny/model.json';
import fixtureInt8 from '../../models/fixture-tiny/unet.int8.onnx';
import fmnistCard from '../../models/fmnist-tiny/model.json';
import { DEFAULTS } from '../../src/render/limits.ts';
import { createApp } from '../../src/app.ts';
import { encodePng } from '../../src/image/index.ts';
import { sessionRuns } from '../../src/inference/runtime.ts';
import { bundledModels } from '../../src/models/bundled.ts';
import { createRegistry, parseModelCard, servingDefaults } from '../../src/models/registry.ts';
import { deletePng } from '../../src/storage/png-cache.ts';
import { REFERENCE_CASES } from './reference.ts';
import { fetchSettled } from './settled.ts';

const BASE = 'http://worker.test';
/** Cache-Control of every generated PNG (src/api/cache-control.ts). */
const PNG_CACHE = 'public, max-age=3600, stale-while-revalidate=86400';

/** fmnist-tiny's serving defaults as bundled (src/models/bundled.ts: their numbers change with evaluations). */
const fmnistDefaults = servingDefaults(bundledModels().get('fmnist-tiny')!);

/** Every request here waits for its background writes (settled.ts): the tests read what a response stored. */
function settled(path: string, init: RequestInit = {}): Promise<Response> {
  return fetchSettled(BASE + path, init);
}

function get(path: string, headers: Record<string, string> = {}): Promise<Response> {
  return settled(path, { headers });
}

async function png(res: Response): Promise<Uint8Array> {
  if (res.status !== 200) throw new Error(`expected a PNG, got ${res.status}: ${await res.text()}`);
  expect(res.headers.get('content-type')).toBe('image/png');
  return new Uint8Array(await res.arrayBuffer());
}

function toBase64(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

describe('GET /v1/models', () => {
  it('lists the model cards, verified', async () => {
    const res = await get('/v1/models');
    expect(res.status).toBe(200);
    const body = await res.json<{ default: string; models: { name: string; available: boolean; imageSize: number }[] }>();
    expect(body.default).toBe('fmnist-tiny');
    expect(body.models.map((m) => [m.name, m.available, m.imageSize])).toEqual([
      ['fmnist-tiny', true, 32],
      ['fmnist-small', true, 32],
      ['fixture-tiny', true, 16],
      ['fmnist-cold-blur', true, 32],
    ]);
  });

  it("lists each model's effective defaults: its own serving defaults over the global ones", async () => {
    const body = await (await get('/v1/models')).json<{ defaults: object; models: { name: string; defaults: Record<string, unknown> }[] }>();
    expect(body.defaults).toEqual(DEFAULTS);
    const [fmnist, other, fixture] = body.models;
    expect(fmnist.defaults).toEqual({ ...DEFAULTS, ...fmnistDefaults });
    expect(fmnist.defaults.guidance).not.toBe(1);
    expect(other.defaults).toEqual({ ...DEFAULTS, ...servingDefaults(bundledModels().get('fmnist-small')!) });
    expect(fixture.defaults).toEqual(DEFAULTS); // sets none of its own
  });
});

describe('the default model', () => {
  // fmnist-tiny's weights may be replaced by longer-trained exports: only its name, size and card are relied on here.
  it('serves a request without model= with fmnist-tiny (32x32, its sha256 in the content key)', async () => {
    const res = await get('/v1/samples/5.png?steps=2&class=Sneaker&guidance=1');
    const image = decode(await png(res));
    expect([image.width, image.height, image.channels]).toEqual([32, 32, 1]);
    const key = res.headers.get('x-content-key') ?? '';
    expect(key.startsWith(`v1/${fmnistCard.files.int8.sha256}/sample/`), key).toBe(true);
    expect(key).toContain('&class=7&');
    const named = await get('/v1/samples/5.png?steps=2&class=7&guidance=1&model=fmnist-tiny', { 'if-none-match': res.headers.get('etag') ?? '' });
    expect(named.status).toBe(304);
    const grid = decode(await png(await get('/v1/grids/5.png?n=2&steps=1')));
    expect([grid.width, grid.height]).toEqual([2 * 32 + 3 * 2, 32 + 2 * 2]);
  });

  it("samples a class request without guidance at the model's default guidance: the bytes and key of the explicit value", async () => {
    const guidance = fmnistDefaults.guidance;
    expect(guidance, 'fmnist-tiny should set a guided default').not.toBe(1);
    const implicit = await get('/v1/samples/11.png?steps=2&class=Sneaker');
    expect(implicit.headers.get('x-cache')).toBe('MISS');
    const key = implicit.headers.get('x-content-key') ?? '';
    expect(key).toContain(`&class=7&guidance=${guidance}&`);
    const bytes = await png(implicit);
    await deletePng(env.GRIDS, key);
    const explicit = await get(`/v1/samples/11.png?class=7&guidance=${guidance}&steps=2`);
    expect(explicit.headers.get('x-cache')).toBe('MISS'); // generated again, at the explicit guidance
    expect(explicit.headers.get('x-content-key')).toBe(key);
    expect(explicit.headers.get('etag')).toBe(implicit.headers.get('etag'));
    expect(await png(explicit)).toEqual(bytes);
    // the implicit spelling is now a hit of that entry
    expect((await get('/v1/samples/11.png?steps=2&class=Sneaker')).headers.get('x-cache')).toBe('HIT');
  });

  it('samples without a class unguided, and refuses explicit guidance without a class', async () => {
    const probe = await get('/v1/samples/11.png?steps=2', { 'if-none-match': '*' });
    expect(probe.headers.get('x-content-key')).toContain('&class=none&guidance=1&');
    const res = await get(`/v1/samples/11.png?steps=2&guidance=${fmnistDefaults.guidance}`);
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ param: 'guidance' });
  });
});

describe('GET /v1/samples/{seed}.png', () => {
  it('decodes to the model size times scale', async () => {
    const image = decode(await png(await get('/v1/samples/1.png?model=fixture-tiny&steps=4&scale=3')));
    expect([image.width, image.height, image.channels, image.depth]).toEqual([48, 48, 1, 8]);
  });

  it('gives identical bytes for the same request, generated twice', async () => {
    const path = '/v1/samples/123.png?model=fixture-tiny&sampler=ddpm&steps=8&class=4';
    const first = await get(path);
    expect(first.headers.get('x-cache')).toBe('MISS');
    const key = first.headers.get('x-content-key');
    const a = await png(first);
    await deletePng(env.GRIDS, key ?? '');
    const second = await get(path);
    expect(second.headers.get('x-cache')).toBe('MISS');
    expect(await png(second)).toEqual(a);
    const third = await get(path);
    expect(third.headers.get('x-cache')).toBe('HIT');
    expect(await png(third)).toEqual(a);
  });

  it('equals the PNG the same sampler and model produce in Node', async () => {
    const reference = inject('nodeReference');
    expect(reference.pngs).toHaveLength(REFERENCE_CASES.length);
    for (const [i, c] of REFERENCE_CASES.entries()) {
      const res = await get(`/v1/${c.kind}s/${c.seed}.png?model=${reference.model}&${c.query}`);
      expect(toBase64(await png(res)), `${c.kind} ${c.seed}?${c.query}`).toBe(reference.pngs[i]);
    }
  });

  it('answers If-None-Match with 304 without running the model', async () => {
    const path = '/v1/samples/77.png?model=fixture-tiny&steps=3';
    const first = await get(path);
    await png(first);
    const etag = first.headers.get('etag') ?? '';
    expect(etag).toMatch(/^"[0-9a-f]{40}"$/);
    // not immutable: a deploy can change what the URL means (default model, weights, defaults); the ETag follows
    expect(first.headers.get('cache-control')).toBe(PNG_CACHE);
    const runs = sessionRuns();
    const again = await get(path, { 'if-none-match': `"other", ${etag}` });
    expect(again.status).toBe(304);
    expect(again.headers.get('etag')).toBe(etag);
    expect(again.headers.get('cache-control')).toBe(PNG_CACHE);
    expect(await again.text()).toBe('');
    // an equivalent spelling of the same parameters has the same key
    const equivalent = await get('/v1/samples/77.png?steps=003&sampler=dpmpp2m&model=fixture-tiny&clip=1&scale=1', { 'if-none-match': etag });
    expect(equivalent.status).toBe(304);
    expect(sessionRuns()).toBe(runs);
  });
});

describe('GET /v1/grids/{seed}.png', () => {
  it('lays n images out on a grid, image k from deriveSeed(seed, k)', async () => {
    const image = decode(await png(await get('/v1/grids/5.png?model=fixture-tiny&n=5&steps=3&scale=2')));
    // 3 columns x 2 rows of 16 px with 2 px padding, times 2
    expect([image.width, image.height]).toEqual([(3 * 16 + 4 * 2) * 2, (2 * 16 + 3 * 2) * 2]);
  });

  it('serves a hit from R2 without calling the model', async () => {
    const path = '/v1/grids/31337.png?model=fixture-tiny&n=4&steps=5&class=2&guidance=3';
    // a 304 names the content key without generating anything
    const probe = await get(path, { 'if-none-match': '*' });
    expect(probe.status).toBe(304);
    const key = probe.headers.get('x-content-key') ?? '';
    expect(key).toMatch(/^v1\/[0-9a-f]{64}\/grid\/r1\/sampler=dpmpp2m&steps=5&eta=0&clip=1&class=2&guidance=3&scale=1&n=4\/31337\.png$/);
    // a PNG the model could never have produced, stored under that key
    const sentinel = encodePng({ width: 3, height: 2, channels: 1, data: new Uint8Array([0, 255, 0, 255, 0, 255]) });
    await env.GRIDS.put(key, sentinel);
    const runs = sessionRuns();
    const hit = await get(path);
    expect(hit.headers.get('x-cache')).toBe('HIT');
    expect(hit.headers.get('x-cache-layer')).toBe('r2');
    expect(hit.headers.get('cache-control')).toBe(PNG_CACHE);
    expect(await png(hit)).toEqual(sentinel);
    expect(sessionRuns()).toBe(runs);
  });

  it('answers HEAD without running the model', async () => {
    const path = '/v1/grids/4242.png?model=fixture-tiny&n=4&steps=3';
    const runs = sessionRuns();
    const head = await settled(path, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('x-cache')).toBe('MISS');
    expect(head.headers.get('etag')).toMatch(/^"[0-9a-f]{40}"$/);
    expect(sessionRuns()).toBe(runs);
    const generated = await get(path);
    expect(generated.headers.get('etag')).toBe(head.headers.get('etag'));
    const bytes = await png(generated);
    const again = await settled(path, { method: 'HEAD' });
    expect(again.headers.get('x-cache')).toBe('HIT');
    expect(again.headers.get('content-length')).toBe(String(bytes.byteLength));
  });

  it('writes a miss to R2 and answers the next request from the cache', async () => {
    const path = '/v1/grids/8.png?model=fixture-tiny&n=3&steps=4';
    const miss = await get(path);
    expect(miss.headers.get('x-cache')).toBe('MISS');
    const bytes = await png(miss);
    const stored = await env.GRIDS.get(miss.headers.get('x-content-key') ?? '');
    expect(new Uint8Array(await stored!.arrayBuffer())).toEqual(bytes);
    const runs = sessionRuns();
    const hit = await get(path);
    expect(hit.headers.get('x-cache')).toBe('HIT');
    expect(await png(hit)).toEqual(bytes);
    expect(sessionRuns()).toBe(runs);
  });

  it('shares one generation between concurrent requests for the same key', async () => {
    // app.request enters the handler synchronously, so the three requests overlap for certain
    const app = createApp({ registry: bundledModels() });
    const path = '/v1/grids/99.png?model=fixture-tiny&n=8&steps=6';
    const runs = sessionRuns();
    const responses = await Promise.all([1, 2, 3].map(() => app.request(path, {}, env)));
    const bodies = await Promise.all(responses.map(png));
    expect(bodies[1]).toEqual(bodies[0]);
    expect(bodies[2]).toEqual(bodies[0]);
    expect(responses.map((r) => r.headers.get('x-cache'))).toEqual(['MISS', 'MISS', 'MISS']);
    expect(responses.map((r) => r.headers.get('x-shared-generation'))).toEqual([null, '1', '1']);
    expect(sessionRuns() - runs).toBe(6); // one generation: 6 steps of one batch of 8 (maxBatch 8)
  });

  it('keeps the wasm heap small at the largest allowed batch', async () => {
    const res = await get('/v1/grids/2024.png?model=fixture-tiny&n=16&steps=32&class=1&guidance=4');
    await png(res);
    const heap = Number(res.headers.get('x-wasm-heap-bytes'));
    console.log(`wasm heap after n=16, guidance (batch 32 in runs of 8): ${(heap / 2 ** 20).toFixed(1)} MiB`);
    expect(heap).toBeGreaterThan(0);
    expect(heap).toBeLessThan(64 * 2 ** 20);
  });
});

describe('storage off the response path', () => {
  /** GRIDS over the test bucket, each put first waiting for (or failing with) `put`. */
  function bucketWith(put: (key: string) => Promise<void>): { bucket: R2Bucket; puts: string[] } {
    const puts: string[] = [];
    const bucket = {
      get: (key: string) => env.GRIDS.get(key),
      async put(key: string, value: Uint8Array, options?: R2PutOptions) {
        puts.push(key);
        await put(key);
        return env.GRIDS.put(key, value, options);
      },
    };
    return { bucket: bucket as unknown as R2Bucket, puts };
  }

  it('answers a miss before its R2 write, which finishes in waitUntil', async () => {
    let opened = false;
    let open = (): void => undefined;
    const gate = new Promise<void>((resolve) => {
      open = () => {
        opened = true;
        resolve();
      };
    });
    let failsafe: ReturnType<typeof setTimeout> | undefined;
    const { bucket, puts } = bucketWith(() => {
      failsafe = setTimeout(open, 10_000); // a response that waits for the put gets it 10 s later
      return gate;
    });
    const app = createApp({ registry: bundledModels() });
    const ctx = createExecutionContext();
    const res = await app.request('/v1/samples/6060.png?model=fixture-tiny&steps=2', {}, { ...env, GRIDS: bucket }, ctx);
    const key = res.headers.get('x-content-key') ?? '';
    expect(res.headers.get('x-cache')).toBe('MISS');
    const bytes = await png(res); // the whole response, while its R2 put still waits
    expect(opened, 'the response waited for the R2 put').toBe(false);
    expect(puts).toEqual([key]);
    expect(await env.GRIDS.get(key)).toBeNull();
    if (failsafe !== undefined) clearTimeout(failsafe);
    open();
    await waitOnExecutionContext(ctx);
    const stored = await env.GRIDS.get(key);
    expect(new Uint8Array(await stored!.arrayBuffer())).toEqual(bytes);
  });

  it('serves a miss whose R2 write fails, and logs the failure with the key', async () => {
    const errors = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      const { bucket } = bucketWith(async () => {
        throw new Error('R2 is unavailable');
      });
      const app = createApp({ registry: bundledModels() });
      const ctx = createExecutionContext();
      const res = await app.request('/v1/grids/6061.png?model=fixture-tiny&n=2&steps=2', {}, { ...env, GRIDS: bucket }, ctx);
      expect(res.status).toBe(200);
      const key = res.headers.get('x-content-key') ?? '';
      expect(decode(await png(res)).width).toBe(2 * 16 + 3 * 2);
      await waitOnExecutionContext(ctx);
      expect(errors).toHaveBeenCalledWith(`R2 put of ${key} failed (served, not stored):`, expect.objectContaining({ message: 'R2 is unavailable' }));
      expect(await env.GRIDS.get(key)).toBeNull();
    } finally {
      errors.mockRestore();
    }
  });
});

describe('invalid requests', () => {
  const cases: [string, string][] = [
    ['/v1/samples/abc.png', 'seed'],
    ['/v1/samples/-1.png', 'seed'],
    ['/v1/samples/9007199254740992.png', 'seed'],
    ['/v1/samples/1.jpg', 'seed'],
    ['/v1/samples/1.png?steps=0', 'steps'],
    ['/v1/samples/1.png?steps=1001', 'steps'],
    ['/v1/samples/1.png?steps=2.5', 'steps'],
    ['/v1/samples/1.png?sampler=euler', 'sampler'],
    ['/v1/samples/1.png?eta=0.5', 'eta'],
    ['/v1/samples/1.png?sampler=ddim&eta=1.5', 'eta'],
    ['/v1/samples/1.png?class=10', 'class'],
    ['/v1/samples/1.png?class=shoe', 'class'],
    ['/v1/samples/1.png?guidance=3', 'guidance'],
    ['/v1/samples/1.png?class=1&guidance=21', 'guidance'],
    ['/v1/samples/1.png?class=1&guidance=NaN', 'guidance'],
    ['/v1/samples/1.png?scale=0', 'scale'],
    ['/v1/samples/1.png?scale=9', 'scale'],
    ['/v1/samples/1.png?clip=maybe', 'clip'],
    ['/v1/samples/1.png?n=4', 'n'],
    ['/v1/samples/1.png?steps=2&steps=3', 'steps'],
    ['/v1/samples/1.png?model=nope', 'model'],
    ['/v1/samples/1.png?colour=red', 'colour'],
    ['/v1/grids/1.png?n=0', 'n'],
    ['/v1/grids/1.png?n=17', 'n'],
    ['/v1/grids/1.png?n=16&steps=65', 'steps'], // 1040 image-steps > 1024
    ['/v1/grids/1.png?n=16&steps=40&class=1&guidance=2&guidance_interval=0,999', 'steps'], // x 2 with guidance at every step
    ['/v1/grids/1.png?n=16&sampler=dpmpp2m&steps=40&class=1&guidance=2&guidance_interval=0,999', 'steps'], // 1280 image-steps
    ['/v1/samples/1.png?class=1&guidance=2&guidance_interval=5', 'guidance_interval'],
    ['/v1/samples/1.png?class=1&guidance=2&guidance_interval=9,1000', 'guidance_interval'],
    ['/v1/samples/1.png?class=1&guidance=2&guidance_interval=800,200', 'guidance_interval'],
    ['/v1/samples/1.png?guidance_interval=200,800', 'guidance_interval'], // unguided without a class
    ['/v1/samples/1.png?sampler=unipc&steps=2&steps=3', 'steps'],
  ];
  it.each(cases)('%s is a 400 naming %s', async (path, param) => {
    const res = await get(path);
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    const problem = await res.json<{ status: number; title: string; detail: string; param: string }>();
    expect(problem).toMatchObject({ status: 400, title: 'Invalid parameter', param });
    expect(problem.detail).toMatch(new RegExp(`^${param} `));
  });

  it('an unknown route is a 404 problem', async () => {
    const res = await get('/v1/nothing');
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
  });
});

describe('model integrity', () => {
  it('refuses a model whose bytes do not match the sha256 of its card', async () => {
    const tampered = fixtureInt8.slice(0);
    const view = new Uint8Array(tampered);
    view[view.length - 10] ^= 0xff;
    const app = createApp({
      registry: createRegistry([{ card: parseModelCard(fixtureCard), bytes: tampered, limits: { maxBatch: 8, maxImageSteps: 1024 } }]),
    });
    const runs = sessionRuns();
    for (const path of ['/v1/samples/1.png?steps=2', '/v1/grids/1.png?n=2&steps=2']) {
      const res = await app.request(path, {}, env);
      expect(res.status).toBe(503);
      expect(res.headers.get('content-type')).toBe('application/problem+json');
      expect(await res.json()).toMatchObject({ title: 'Model integrity check failed', model: 'fixture-tiny' });
    }
    const models = await app.request('/v1/models', {}, env);
    expect((await models.json<{ models: { available: boolean }[] }>()).models[0]?.available).toBe(false);
    expect(sessionRuns()).toBe(runs);
  });

  it('refuses a model whose card lists inputs its graph does not take, naming both, before any run', async () => {
    // the card says self-conditioned (input self_cond); the fixture's graph takes x, t and class only
    const card = parseModelCard({ ...fixtureCard, architecture: { ...fixtureCard.architecture, selfCondition: true }, io: { ...fixtureCard.io, selfCond: 'self_cond' } });
    const app = createApp({ registry: createRegistry([{ card, bytes: fixtureInt8, limits: { maxBatch: 8, maxImageSteps: 1024 } }]) });
    const runs = sessionRuns();
    const res = await app.request('/v1/samples/987654.png?steps=3', {}, env);
    expect(res.status).toBe(500);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    expect(await res.json()).toMatchObject({
      title: 'Model failure',
      detail: 'model fixture-tiny: the graph lacks self_cond (the card lists inputs [x, t, class, self_cond] and output out; the ONNX graph takes [x, t, class] and gives [out])',
    });
    expect(sessionRuns()).toBe(runs);
  });
});
