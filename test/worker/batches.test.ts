// Batches end to end inside workerd: the real routes, Durable Object, queues (miniflare) and consumer,
// real onnxruntime-web on the fixture model, R2 simulated. Test bindings: vitest.config.ts.
import { env, listDurableObjectIds, SELF } from 'cloudflare:test';
import { decode } from 'fast-png';
import { Webhook } from 'standardwebhooks';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { listImages } from '../../src/batches/store.ts';
import { deriveSeed } from '../../src/diffusion/index.ts';
import { bundledModels } from '../../src/models/bundled.ts';
import { servingDefaults } from '../../src/models/registry.ts';
import type { JobView } from '../../src/batches/view.ts';
import { parseSecrets } from '../../src/webhooks/index.ts';
import { finished, status, uniqueId, waitFor, warmSession } from './batch-helpers.ts';

// Helpers: signed triggers (the standardwebhooks library, as a sender would), polling.
const BASE = 'https://worker.test';

function webhookSecrets(): string[] {
  return parseSecrets(env.WEBHOOK_SECRETS);
}

function apiKeys(): string[] {
  return parseSecrets(env.BATCH_API_KEYS);
}


interface SignOptions {
  id?: string;
  secret?: string;
  /** Seconds since the epoch (default now). */
  timestamp?: number;
  /** Extra signatures to put in the header (rotation: several, space separated). */
  extraSignatures?: string[];
}

/** Standard Webhooks headers for `body`, made with the library. */
function signedHeaders(body: string, options: SignOptions = {}): Record<string, string> {
  const id = options.id ?? uniqueId('msg');
  const timestamp = options.timestamp ?? Math.floor(Date.now() / 1000);
  const secret = options.secret ?? webhookSecrets()[0];
  const signature = new Webhook(secret).sign(id, new Date(timestamp * 1000), body);
  return {
    'content-type': 'application/json',
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': [...(options.extraSignatures ?? []), signature].join(' '),
  };
}

function postBatch(body: string, headers: Record<string, string>): Promise<Response> {
  return SELF.fetch(`${BASE}/v1/batches`, { method: 'POST', body, headers });
}

function postWithKey(body: unknown, key = apiKeys()[0], extra: Record<string, string> = {}): Promise<Response> {
  return postBatch(JSON.stringify(body), { 'content-type': 'application/json', authorization: `Bearer ${key}`, ...extra });
}

async function accepted(res: Response): Promise<JobView> {
  const text = await res.text();
  expect(res.status, text).toBe(202);
  const view = JSON.parse(text) as JobView;
  expect(res.headers.get('location')).toBe(`${BASE}/v1/batches/${view.id}`);
  return view;
}




// The fixture model, named: its 16x16 images are cheap, and the default model (fmnist-tiny) is retrained.
const SMALL = { model: 'fixture-tiny', sampler: 'ddim', steps: 3 } as const;

async function jobCount(): Promise<number> {
  return (await listDurableObjectIds(env.BATCH_JOBS)).length;
}

async function bytesOf(path: string): Promise<Uint8Array> {
  const res = await SELF.fetch(BASE + path);
  expect(res.status, path).toBe(200);
  expect(res.headers.get('content-type')).toBe('image/png');
  return new Uint8Array(await res.arrayBuffer());
}

/**
 * Intercepts the worker's outgoing callbacks to https://hooks.example.test/<path> (the worker runs in this
 * isolate, so its global fetch is this one); `answer` gives the status of the n-th attempt. Other paths
 * (callbacks of other tests' jobs) get 204, any other host goes to the real fetch.
 */
function interceptCallbacks(path: string, answer: (n: number) => number): { body: string; headers: Record<string, string> }[] {
  const seen: { body: string; headers: Record<string, string> }[] = [];
  const realFetch = globalThis.fetch;
  vi.spyOn(globalThis, 'fetch').mockImplementation(async (input, init) => {
    const request = new Request(input, init);
    const url = new URL(request.url);
    if (url.host !== 'hooks.example.test') return realFetch(input, init);
    if (url.pathname !== path) return new Response(null, { status: 204 });
    seen.push({ body: await request.text(), headers: Object.fromEntries(request.headers) });
    return new Response(null, { status: answer(seen.length) });
  });
  return seen;
}

beforeAll(warmSession, 180_000);

afterEach(() => {
  vi.restoreAllMocks();
});

describe('POST /v1/batches: authentication', () => {
  it('accepts a Standard Webhooks signed trigger and runs it to completion', async () => {
    const body = JSON.stringify({ count: 3, ...SMALL, seed: 11 });
    const view = await accepted(await postBatch(body, signedHeaders(body)));
    expect(view.auth).toBe('webhook');
    expect(['queued', 'running', 'succeeded']).toContain(view.status);
    const done = await finished(view.id);
    expect(done.status).toBe('succeeded');
    expect(done.progress).toMatchObject({ images: 3, count: 3, chunks: 2, chunkCount: 2, fraction: 1 });
    expect(done.links.images).toEqual([0, 1, 2].map((k) => `${BASE}/v1/batches/${view.id}/images/${k}.png`));
    expect(done.links.grid).toBe(`${BASE}/v1/batches/${view.id}/grid.png`);
    expect((await SELF.fetch(`${BASE}/v1/batches/${view.id}/images/3.png`)).status).toBe(404);
    // cached like /v1/samples (src/api/cache-control.ts), revalidated by ETag
    for (const path of [`/v1/batches/${view.id}/images/0.png`, `/v1/batches/${view.id}/grid.png`]) {
      const image = await SELF.fetch(BASE + path);
      await image.arrayBuffer();
      expect(image.headers.get('cache-control'), path).toBe('public, max-age=3600, stale-while-revalidate=86400');
      const etag = image.headers.get('etag') ?? '';
      expect(etag, path).toMatch(/^"[^"]+"$/);
      const again = await SELF.fetch(BASE + path, { headers: { 'if-none-match': `"other", ${etag}` } });
      expect(again.status, path).toBe(304);
      expect(again.headers.get('cache-control'), path).toBe('public, max-age=3600, stale-while-revalidate=86400');
    }
    expect((await SELF.fetch(`${BASE}/v1/batches/${'0'.repeat(32)}`)).status).toBe(404);
    expect((await SELF.fetch(`${BASE}/v1/batches/not-an-id`)).status).toBe(404);
  });

  it('accepts the Standard Webhooks envelope, a rotated secret, and several signatures in one header', async () => {
    const [, second] = webhookSecrets();
    const body = JSON.stringify({ type: 'generate.batch', timestamp: new Date().toISOString(), data: { count: 1, ...SMALL } });
    const bogus = 'v1,' + btoa('not the signature, not at all 32b');
    const view = await accepted(await postBatch(body, signedHeaders(body, { secret: second, extraSignatures: [bogus] })));
    expect(view.request.count).toBe(1);
  });

  it('accepts every configured API key (rotation)', async () => {
    for (const key of apiKeys()) {
      const view = await accepted(await postWithKey({ count: 1, ...SMALL }, key));
      expect(view.auth).toBe('api-key');
    }
  });

  it('refuses a bad signature, a stale timestamp, missing headers and a wrong key with 401, creating no job', async () => {
    const body = JSON.stringify({ count: 1, ...SMALL });
    const good = signedHeaders(body);
    const cases: [string, Record<string, string>, string][] = [
      ['bad signature', { ...good, 'webhook-signature': 'v1,' + btoa('x'.repeat(32)) }, 'bad-signature'],
      ['signature of another body', signedHeaders(JSON.stringify({ count: 2, ...SMALL }), { id: good['webhook-id'] }), 'bad-signature'],
      ['unknown secret', signedHeaders(body, { secret: 'whsec_' + btoa('an-attacker-secret-of-32-bytes!!') }), 'bad-signature'],
      ['stale timestamp', signedHeaders(body, { timestamp: Math.floor(Date.now() / 1000) - 6 * 60 }), 'stale-timestamp'],
      ['future timestamp', signedHeaders(body, { timestamp: Math.floor(Date.now() / 1000) + 6 * 60 }), 'stale-timestamp'],
      ['no headers', { 'content-type': 'application/json' }, 'missing-headers'],
      ['no webhook-id', { ...good, 'webhook-id': '' }, 'missing-headers'],
      ['no webhook-timestamp', { ...good, 'webhook-timestamp': '' }, 'missing-headers'],
      ['no webhook-signature', { ...good, 'webhook-signature': '' }, 'missing-headers'],
      ['wrong key', { 'content-type': 'application/json', authorization: 'Bearer not-a-key' }, 'wrong-key'],
      ['not a bearer', { 'content-type': 'application/json', authorization: `Basic ${apiKeys()[0]}` }, 'bad-authorization'],
    ];
    const before = await jobCount();
    for (const [name, headers, reason] of cases) {
      const res = await postBatch(body, headers);
      const problem = await res.json<{ status: number; reason: string }>();
      expect([name, res.status, problem.reason]).toEqual([name, 401, reason]);
      expect(res.headers.get('content-type')).toBe('application/problem+json');
      expect(res.headers.get('www-authenticate')).toContain('Bearer');
    }
    expect(await jobCount()).toBe(before);
  });
});

describe('POST /v1/batches: idempotency and validation', () => {
  it('gives one job for a duplicate webhook delivery and starts no new work', async () => {
    const body = JSON.stringify({ count: 2, ...SMALL });
    const id = uniqueId('msg');
    const before = await jobCount();
    const first = await accepted(await postBatch(body, signedHeaders(body, { id })));
    // The sender retries: same webhook-id and body, a new timestamp and signature.
    const replay = await postBatch(body, signedHeaders(body, { id, timestamp: Math.floor(Date.now() / 1000) - 30 }));
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    const second = await accepted(replay);
    expect(second.id).toBe(first.id);
    expect(await jobCount()).toBe(before + 1);
    const done = await finished(first.id);
    expect(done.deliveries).toBe(2);
    expect(done.progress.images).toBe(2);
    expect(await listImages(env.GRIDS, first.id)).toEqual([0, 1]);
  });

  it('gives one job for a repeated Idempotency-Key, and 409 for the same key with another request', async () => {
    const key = uniqueId('idem');
    const first = await accepted(await postWithKey({ count: 1, ...SMALL }, apiKeys()[0], { 'idempotency-key': key }));
    const again = await accepted(await postWithKey({ ...SMALL, count: 1 }, apiKeys()[0], { 'idempotency-key': key }));
    expect(again.id).toBe(first.id);
    const other = await postWithKey({ count: 2, ...SMALL }, apiKeys()[0], { 'idempotency-key': key });
    expect(other.status).toBe(409);
  });

  it('renders with the default model (fmnist-tiny) and its serving defaults when the body names none', async () => {
    const view = await accepted(await postWithKey({ count: 1, steps: 1, classes: ['Sneaker'] }));
    const defaults = servingDefaults(bundledModels().get('fmnist-tiny')!);
    expect(view.request).toMatchObject({ model: 'fmnist-tiny', sampler: defaults.sampler, guidance: defaults.guidance, classes: [7] });
    const done = await finished(view.id);
    expect(done.status).toBe('succeeded');
    const bytes = await bytesOf(`/v1/batches/${view.id}/images/0.png`);
    const image = decode(bytes);
    expect([image.width, image.height]).toEqual([32, 32]);
    // the sample route resolves the same defaults: the same bytes
    expect(bytes).toEqual(await bytesOf(`/v1/samples/${deriveSeed(view.request.seed, 0)}.png?steps=1&class=Sneaker`));
  });

  it('validates the body and the callback URL (https only here)', async () => {
    const cases: [unknown, string][] = [
      [{ count: 0 }, 'count'],
      [{ count: 257 }, 'count'],
      [{ count: 1.5 }, 'count'],
      [{ count: 1, steps: 0 }, 'steps'],
      [{ count: 1, sampler: 'euler' }, 'sampler'],
      [{ count: 1, classes: [10] }, 'classes.0'],
      [{ count: 1, colour: 'red' }, 'colour'],
      [{ count: 1, callbackUrl: 'http://hooks.example.test/cb' }, 'callbackUrl'],
      [{ count: 1, callbackUrl: 'https://localhost/cb' }, 'callbackUrl'],
      [{ count: 1, callbackUrl: 'https://user:pw@hooks.example.test/cb' }, 'callbackUrl'],
      [{ count: 1, callbackUrl: 'https://10.0.0.1/cb' }, 'callbackUrl'],
    ];
    for (const [body, param] of cases) {
      const res = await postWithKey(body);
      const problem = await res.json<{ param?: string; detail?: string }>();
      expect([JSON.stringify(body), res.status, problem.param]).toEqual([JSON.stringify(body), 400, param]);
    }
  });
});

describe('chunks: retries, dead letters and determinism', () => {
  it('retries a chunk that fails once mid-chunk; the final set of images is complete and has no duplicates', async () => {
    const seed = 42;
    const request = { count: 5, ...SMALL, seed, classes: [3, 'class-5'], testFaults: { failOnce: [1] } };
    const view = await accepted(await postWithKey(request));
    expect(view.progress.chunkCount).toBe(3);
    const done = await finished(view.id);
    expect(done.status).toBe('succeeded');
    expect(done.progress.images).toBe(5);
    expect(done.errors).toHaveLength(1);
    expect(done.errors[0]).toMatchObject({ chunk: 1, attempt: 1, final: false });
    expect(done.errors[0].message).toContain('injected failure of chunk 1');
    expect(await listImages(env.GRIDS, view.id)).toEqual([0, 1, 2, 3, 4]);
    expect(done.links.images).toHaveLength(5);

    // Image k is the sample route's image for seed deriveSeed(seed, k) with its class (cycled):
    // the retried chunk wrote exactly those bytes.
    const classOf = [3, 5, 3, 5, 3];
    for (let k = 0; k < 5; k++) {
      const image = await bytesOf(`/v1/batches/${view.id}/images/${k}.png`);
      const reference = await bytesOf(`/v1/samples/${deriveSeed(seed, k)}.png?model=fixture-tiny&sampler=ddim&steps=3&class=${classOf[k]}`);
      expect(image, `image ${k}`).toEqual(reference);
    }
    const sheet = decode(await bytesOf(`/v1/batches/${view.id}/grid.png`));
    expect([sheet.width, sheet.height]).toEqual([3 * 16 + 4 * 2, 2 * 16 + 3 * 2]);
  });

  it('fails the job when a chunk exhausts its retries (dead-letter queue) and says so in the callback', async () => {
    const deliveries = interceptCallbacks('/dlq', () => 204);
    const view = await accepted(await postWithKey({ count: 3, ...SMALL, testFaults: { failAlways: [0] }, callbackUrl: 'https://hooks.example.test/dlq' }));
    const done = await finished(view.id);
    expect(done.status).toBe('failed');
    const final = done.errors.filter((e) => e.final);
    expect(final).toHaveLength(1);
    expect(final[0]).toMatchObject({ chunk: 0 });
    expect(done.errors.filter((e) => !e.final).map((e) => e.attempt)).toEqual([1, 2, 3, 4, 5, 6]);
    await waitFor('the failure callback', async () => (deliveries.length > 0 ? true : undefined));
    const payload = JSON.parse(deliveries[0].body) as { type: string; data: { id: string; status: string } };
    expect(payload).toMatchObject({ type: 'batch.failed', data: { id: view.id, status: 'failed' } });
  });
});

describe('callbacks', () => {
  it('POSTs a signed callback on completion, retried after a non-2xx, that verifies with standardwebhooks', async () => {
    const attempts = interceptCallbacks('/done', (n) => (n === 1 ? 503 : 200));
    const view = await accepted(await postWithKey({ count: 2, ...SMALL, callbackUrl: 'https://hooks.example.test/done' }));
    await finished(view.id);
    const delivered = await waitFor('the callback to be delivered', async () => {
      const s = await status(view.id);
      return s.callback?.status === 'delivered' ? s : undefined;
    });
    expect(delivered.callback).toMatchObject({ status: 'delivered', event: 'batch.succeeded', attempts: 2, lastStatus: 200 });
    expect(attempts).toHaveLength(2);
    const secret = env.CALLBACK_SIGNING_SECRET ?? '';
    for (const attempt of attempts) {
      const payload = new Webhook(secret).verify(attempt.body, attempt.headers) as { type: string; data: { id: string; status: string; links: { images: string[] } } };
      expect(payload.type).toBe('batch.succeeded');
      expect(payload.data).toMatchObject({ id: view.id, status: 'succeeded' });
      expect(payload.data.links.images).toHaveLength(2);
      expect(attempt.headers['content-type']).toBe('application/json');
    }
    // One message id across retries (receivers deduplicate on it); another secret does not verify.
    expect(attempts[1].headers['webhook-id']).toBe(attempts[0].headers['webhook-id']);
    expect(() => new Webhook(webhookSecrets()[0]).verify(attempts[0].body, attempts[0].headers)).toThrow();
  });

  it('gives up after the last attempt of the schedule (3 in the tests: CALLBACK_RETRY_SCHEDULE=0,1,1)', async () => {
    const attempts = interceptCallbacks('/down', () => 500);
    const view = await accepted(await postWithKey({ count: 1, ...SMALL, callbackUrl: 'https://hooks.example.test/down' }));
    const gaveUp = await waitFor('the callback to be given up', async () => {
      const s = await status(view.id);
      return s.callback?.status === 'failed' ? s : undefined;
    });
    expect(gaveUp.status).toBe('succeeded');
    expect(gaveUp.callback).toMatchObject({ status: 'failed', attempts: 3, lastStatus: 500, lastError: 'HTTP 500' });
    expect(attempts).toHaveLength(3);
    expect(new Set(attempts.map((a) => a.headers['webhook-id'])).size).toBe(1);
  });
});
