// Issue 15: a job always ends. Chunk leases in the job's Durable Object, re-sent by its alarm when they expire
// (a lost message, a server killed mid-chunk), bounded sends, permanent errors without retries, and model
// integrity checked at POST. The alarm is driven here with runDurableObjectAlarm after expiring a lease.
import { env, runDurableObjectAlarm, runInDurableObject, SELF } from 'cloudflare:test';
import { beforeAll, describe, expect, it, vi, afterEach } from 'vitest';
import fixtureCard from '../../models/fixture-tiny/model.json';
import fixtureInt8 from '../../models/fixture-tiny/unet.int8.onnx';
import { createApp } from '../../src/app.ts';
import { listImages } from '../../src/batches/store.ts';
import type { BatchJob } from '../../src/batches/types.ts';
import { createRegistry, parseModelCard } from '../../src/models/registry.ts';
import { accepted, BASE, finished, jobStub, plannedJob, postWithKey, SMALL, status, waitFor, warmSession } from './batch-helpers.ts';

beforeAll(warmSession, 180_000);

afterEach(() => {
  vi.restoreAllMocks();
});

async function record(id: string): Promise<BatchJob> {
  return runInDurableObject(jobStub(id), async (_instance, ctx) => {
    const job = await ctx.storage.get<BatchJob>('job');
    if (!job) throw new Error(`no job ${id}`);
    return job;
  });
}

/** Lets the lease of `chunk` run out, then fires the job's alarm as workerd would (after a restart, too). */
async function expireAndAlarm(id: string, chunk: number): Promise<boolean> {
  await runInDurableObject(jobStub(id), async (_instance, ctx) => {
    const job = await ctx.storage.get<BatchJob>('job');
    const lease = job?.leases?.[chunk];
    if (!job || !lease) throw new Error(`chunk ${chunk} of ${id} holds no lease`);
    lease.expiresAt = Date.now() - 1;
    await ctx.storage.put('job', job);
  });
  return runDurableObjectAlarm(jobStub(id));
}

function interceptCallbacks(path: string): string[] {
  const seen: string[] = [];
  const realFetch = globalThis.fetch;
  vi.spyOn(globalThis, 'fetch').mockImplementation(async (input, init) => {
    const request = new Request(input, init);
    const url = new URL(request.url);
    if (url.host !== 'hooks.example.test') return realFetch(input, init);
    if (url.pathname === path) seen.push(await request.text());
    return new Response(null, { status: 204 });
  });
  return seen;
}

describe('chunk leases and the alarm', () => {
  it('re-sends a chunk whose delivery was lost (a server killed mid-chunk): every image present, counted once', async () => {
    const view = await accepted(await postWithKey({ count: 5, ...SMALL, seed: 3, testFaults: { dropOnce: [1] } }));
    // chunks 0 and 2 finish; chunk 1 was claimed and dropped: the job waits on its lease
    const stuck = await waitFor('chunks 0 and 2', async () => {
      const s = await status(view.id);
      return s.progress.chunks === 2 ? s : undefined;
    });
    expect(stuck.status).toBe('running');
    expect(stuck.progress.images).toBe(3);
    const before = await record(view.id);
    expect(before.leases?.[1]).toMatchObject({ sends: 1 });
    expect(before.leases?.[1]?.claimedAt).not.toBeNull();
    expect(await runInDurableObject(jobStub(view.id), (_i, ctx) => ctx.storage.getAlarm())).not.toBeNull();

    expect(await expireAndAlarm(view.id, 1)).toBe(true);
    const done = await finished(view.id);
    expect(done.status).toBe('succeeded');
    expect(done.progress).toMatchObject({ images: 5, chunks: 3 });
    expect(await listImages(env.GRIDS, view.id)).toEqual([0, 1, 2, 3, 4]);
    const after = await record(view.id);
    expect(after.leases?.every((l) => l === null)).toBe(true);
    // a late duplicate of a finished chunk changes nothing
    await jobStub(view.id).chunkDone(1, 2);
    expect((await status(view.id)).progress.images).toBe(5);
    expect(await runInDurableObject(jobStub(view.id), (_i, ctx) => ctx.storage.getAlarm())).toBeNull();
  });

  it('fails the job with a reason after BATCH_MAX_SENDS (3 here) sends of a chunk, and sends the failure callback', async () => {
    const callbacks = interceptCallbacks('/lost');
    const view = await accepted(await postWithKey({ count: 3, ...SMALL, testFaults: { dropAlways: [0] }, callbackUrl: 'https://hooks.example.test/lost' }));
    await waitFor('chunk 1', async () => ((await status(view.id)).progress.chunks === 1 ? true : undefined));
    for (let send = 1; send <= 3; send++) {
      await waitFor(`delivery ${send} of chunk 0 to be claimed`, async () => {
        const lease = (await record(view.id)).leases?.[0];
        return lease && lease.sends === send && lease.claimedAt !== null ? true : undefined;
      });
      expect(await expireAndAlarm(view.id, 0)).toBe(true);
    }
    const done = await finished(view.id);
    expect(done.status).toBe('failed');
    const final = done.errors.filter((e) => e.final);
    expect(final).toHaveLength(1);
    expect(final[0]).toMatchObject({ chunk: 0, attempt: 3 });
    expect(final[0]?.message).toContain('gave up: chunk 0 was sent 3 times');
    expect(done.progress.images).toBe(1); // chunk 1's image stays available
    await waitFor('the failure callback', async () => (callbacks.length > 0 ? true : undefined));
    expect(JSON.parse(callbacks[0] ?? '{}')).toMatchObject({ type: 'batch.failed', data: { id: view.id, status: 'failed' } });
  });

  it('re-sends a callback message that went missing', async () => {
    const callbacks = interceptCallbacks('/missing');
    const job = plannedJob({ status: 'running', chunksDone: [0], count: 3 });
    job.spec.callbackUrl = 'https://hooks.example.test/missing';
    job.leases = [null, { sends: 1, expiresAt: Date.now() + 60_000, claimedAt: Date.now() }];
    await runInDurableObject(jobStub(job.id), async (_i, ctx) => {
      await ctx.storage.put('job', job);
    });
    // the chunk finishes; its callback is queued (and delivered: the interceptor answers 204)
    await jobStub(job.id).chunkDone(1, 1);
    await waitFor('the callback', async () => (callbacks.length > 0 ? true : undefined));
    expect((await status(job.id)).callback).toMatchObject({ status: 'delivered' });
    // a job whose callback message was lost: pending, enqueued, overdue
    const lost = plannedJob({ status: 'succeeded', chunksDone: [0, 1], count: 3 });
    lost.spec.callbackUrl = 'https://hooks.example.test/missing';
    lost.callback = { status: 'pending', event: 'batch.succeeded', attempts: 0, lastStatus: null, lastError: null, enqueued: true, deliveredAt: null, dueBy: Date.now() - 1, resends: 0 };
    await runInDurableObject(jobStub(lost.id), async (_i, ctx) => {
      await ctx.storage.put('job', lost);
      await ctx.storage.setAlarm(Date.now() + 60_000);
    });
    expect(await runDurableObjectAlarm(jobStub(lost.id))).toBe(true);
    await waitFor('the re-sent callback', async () => ((await status(lost.id)).callback?.status === 'delivered' ? true : undefined));
  });
});

describe('failures no retry can fix', () => {
  it('fails the job at once, without retries, when the model changed since the job was accepted', async () => {
    const job = plannedJob({ status: 'queued', chunksDone: [], count: 2 });
    job.spec.modelSha256 = '0'.repeat(64);
    await jobStub(job.id).create(job);
    const done = await finished(job.id);
    expect(done.status).toBe('failed');
    expect(done.errors).toHaveLength(1);
    expect(done.errors[0]).toMatchObject({ chunk: 0, attempt: 1, final: true });
    expect(done.errors[0]?.message).toContain('no longer served');
  });

  it('refuses a batch for a model that fails its integrity check with 503 at POST, creating no job', async () => {
    const tampered = fixtureInt8.slice(0);
    const bytes = new Uint8Array(tampered);
    bytes[bytes.length - 10] ^= 0xff;
    const app = createApp({ registry: createRegistry([{ card: parseModelCard(fixtureCard), bytes: tampered, limits: { maxBatch: 8, maxImageSteps: 1024 } }]) });
    const res = await app.request('/v1/batches', { method: 'POST', body: JSON.stringify({ count: 2, steps: 2 }), headers: { authorization: 'Bearer test-api-key-old', 'content-type': 'application/json' } }, env);
    expect(res.status).toBe(503);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    expect(await res.json()).toMatchObject({ title: 'Model integrity check failed', model: 'fixture-tiny' });
  });
});
