// Issue 15: every batch route answers problem+json with its documented status in every job state, and the
// smaller request checks (repeated and prototype-named parameters, byte-counted body limit, keyed job ids).
import { env, runInDurableObject, SELF } from 'cloudflare:test';
import { beforeAll, describe, expect, it } from 'vitest';
import { imageKey, putPng } from '../../src/batches/store.ts';
import type { BatchJob, BatchStatus } from '../../src/batches/types.ts';
import { sha256Hex } from '../../src/shared/sha256.ts';
import { accepted, BASE, plannedJob, postRaw, postWithKey, signedHeaders, SMALL, status } from './batch-helpers.ts';

let png: Uint8Array<ArrayBuffer>;

beforeAll(async () => {
  const res = await SELF.fetch(`${BASE}/v1/samples/1.png?model=fixture-tiny&steps=1`);
  expect(res.status).toBe(200);
  png = new Uint8Array(await res.arrayBuffer());
}, 180_000);

/** Stores a job record in its Durable Object as it is in `state`, with the images of its finished chunks in R2. */
async function plant(state: BatchStatus, chunksDone: number[]): Promise<BatchJob> {
  const job = plannedJob({ status: state, chunksDone, count: 5 });
  const stub = env.BATCH_JOBS.get(env.BATCH_JOBS.idFromName(job.id));
  await runInDurableObject(stub, async (_instance, ctx) => {
    await ctx.storage.put('job', job);
  });
  for (const chunk of chunksDone) for (let k = 2 * chunk; k < Math.min(5, 2 * chunk + 2); k++) await putPng(env.GRIDS, imageKey(job.id, k), png, { job: job.id });
  return job;
}

async function expectProblem(path: string, want: number, state: BatchStatus): Promise<void> {
  const res = await SELF.fetch(BASE + path);
  const text = await res.text();
  expect([path, res.status, res.headers.get('content-type')], text).toEqual([path, want, 'application/problem+json']);
  const problem = JSON.parse(text) as { status: number; batchStatus?: string };
  expect(problem.status).toBe(want);
  expect(problem.batchStatus).toBe(state);
}

async function expectPng(path: string): Promise<void> {
  const res = await SELF.fetch(BASE + path);
  await res.arrayBuffer();
  expect([path, res.status, res.headers.get('content-type')]).toEqual([path, 200, 'image/png']);
}

describe('batch routes in every job state', () => {
  const cases: [string, BatchStatus, number[]][] = [
    ['queued', 'queued', []],
    ['running', 'running', []],
    ['partly done', 'running', [0, 2]],
    ['failed', 'failed', [0]],
    ['succeeded', 'succeeded', [0, 1, 2]],
  ];
  for (const [name, state, done] of cases) {
    it(`${name}: status 200, images 200 once their chunk is done and 404 before, grid 409 until succeeded`, async () => {
      const job = await plant(state, done);
      const view = await status(job.id);
      expect(view.status).toBe(state);
      expect(view.progress.chunks).toBe(done.length);
      for (let k = 0; k < 5; k++) {
        const path = `/v1/batches/${job.id}/images/${k}.png`;
        if (done.includes(Math.floor(k / 2))) await expectPng(path);
        else await expectProblem(path, 404, state);
      }
      if (state === 'succeeded') await expectPng(`/v1/batches/${job.id}/grid.png`);
      else await expectProblem(`/v1/batches/${job.id}/grid.png`, 409, state);
      // out of range and unknown jobs: 404 problem+json too
      const outside = await SELF.fetch(`${BASE}/v1/batches/${job.id}/images/5.png`);
      expect([outside.status, outside.headers.get('content-type')]).toEqual([404, 'application/problem+json']);
    });
  }

  it('an image written by a chunk that did not finish is not served (404 until the chunk is done)', async () => {
    const job = await plant('running', [0]);
    await putPng(env.GRIDS, imageKey(job.id, 2), png, { job: job.id }); // chunk 1 cut short after its first image
    await expectProblem(`/v1/batches/${job.id}/images/2.png`, 404, 'running');
  });
});

describe('request checks (issue 15, item 5)', () => {
  it('refuses a repeated model parameter on every GET route with 400', async () => {
    for (const path of ['/v1/samples/1.png', '/v1/grids/1.png', '/v1/samples/1/stream']) {
      const res = await SELF.fetch(`${BASE}${path}?model=fixture-tiny&model=fmnist-small&steps=1`);
      const problem = await res.json<{ param: string; detail: string }>();
      expect([path, res.status, problem.param]).toEqual([path, 400, 'model']);
      expect(problem.detail).toContain('more than once');
    }
  });

  it('answers names of Object.prototype as unknown parameters, not as repeats', async () => {
    for (const name of ['__proto__', 'toString', 'constructor', 'hasOwnProperty', 'valueOf']) {
      const res = await SELF.fetch(`${BASE}/v1/samples/1.png?model=fixture-tiny&${name}=1`);
      const problem = await res.json<{ param: string; detail: string }>();
      expect([name, res.status, problem.param, problem.detail]).toEqual([name, 400, name, `${name} is not a query parameter of this endpoint`]);
    }
  });

  it('counts the body limit in bytes: 9,000 two-byte characters (18,000 bytes) are 413', async () => {
    const body = JSON.stringify({ count: 1, ...SMALL, seed: 1, pad: 'é'.repeat(9000) });
    expect(body.length).toBeLessThan(16 * 1024);
    const res = await postWithKey(JSON.parse(body));
    expect(res.status).toBe(413);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    // also without a content-length (a streamed body)
    const stream = new Blob([body]).stream();
    const chunked = await SELF.fetch(`${BASE}/v1/batches`, { method: 'POST', body: stream, headers: { authorization: 'Bearer test-api-key-old', 'content-type': 'application/json' }, duplex: 'half' } as RequestInit);
    expect(chunked.status).toBe(413);
  });

  it('refuses a __proto__ field like any unknown field (also inside the webhook envelope)', async () => {
    for (const text of [`{"count": 1, "model": "fixture-tiny", "__proto__": {"count": 2}}`, `{"type": "t", "timestamp": "x", "data": {"count": 1, "__proto__": {}}}`]) {
      const res = await postRaw(text, signedHeaders(text));
      const problem = await res.json<{ param: string }>();
      expect([res.status, problem.param]).toEqual([400, '__proto__']);
    }
    const constructor = await postWithKey({ count: 1, ...SMALL, constructor: 1 });
    expect(constructor.status).toBe(400);
  });

  it('keys the job id of a webhook trigger with the server secret: the webhook-id alone does not give it', async () => {
    const body = JSON.stringify({ count: 1, ...SMALL });
    const headers = signedHeaders(body);
    const view = await accepted(await postRaw(body, headers));
    const unkeyed = (await sha256Hex(`ddpm-edge/batch/v1\nwebhook\n${headers['webhook-id']}`)).slice(0, 32);
    expect(view.id).not.toBe(unkeyed);
    const key = await crypto.subtle.importKey('raw', new TextEncoder().encode(env.BATCH_ID_SECRET ?? ''), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
    const mac = new Uint8Array(await crypto.subtle.sign('HMAC', key, new TextEncoder().encode(`ddpm-edge/batch/v2\nwebhook\n${headers['webhook-id']}`)));
    expect(view.id).toBe(Array.from(mac, (b) => b.toString(16).padStart(2, '0')).join('').slice(0, 32));
  });
});
