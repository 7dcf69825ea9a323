/**
 * The batch fault run: signed batches against `wrangler dev`, the server killed (SIGKILL, the whole process
 * group: workerd gets no shutdown) and restarted on the same state at random points, then every job checked
 * through the API: each image present once and byte-identical to /v1/samples, or the job failed with its
 * callback; no job left unfinished. Loopback only; bounded in batches, kills and time.
 */
import type { WranglerDev } from '../../lib/child-process.ts';
import { deriveSeed } from '../../../src/diffusion/index.ts';
import { startCallbackReceiver } from './callbacks.ts';
import { getJob, postBatch, sleep, snapshot, startDev, stateDirFor, type BatchRequest, type JobStatus } from './dev.ts';

export interface FaultOptions {
  batches: number;
  seed: number;
  /** Seconds to wait for every job to end after the last restart. */
  settleSeconds: number;
  log: (line: string) => void;
}

export interface FaultResult {
  batches: number;
  kills: number;
  images: number;
  lost: number;
  duplicated: number;
  mismatched: number;
  stuck: number;
  failed: number;
  callbacksMissing: number;
  callbacksBad: number;
  seconds: number;
}

/** A small deterministic generator (mulberry32): the same --seed gives the same batches and kill points. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const VARS = { BATCH_CHUNK_IMAGES: '2', BATCH_RETRY_BASE_SECONDS: '1', BATCH_LEASE_SECONDS: '12', BATCH_MAX_SENDS: '6', CALLBACK_RETRY_SCHEDULE: '0,1,2' };

interface Posted {
  id: string;
  request: BatchRequest;
}

export async function runFaults(o: FaultOptions): Promise<FaultResult> {
  const started = Date.now();
  const random = rng(o.seed);
  const root = snapshot('faults');
  const stateDir = stateDirFor('faults');
  const receiver = await startCallbackReceiver();
  let dev: WranglerDev = await startDev({ root, stateDir, fresh: true, vars: VARS });
  const posted: Posted[] = [];
  let kills = 0;
  try {
    for (let i = 0; i < o.batches; i++) {
      const request: BatchRequest = {
        count: 3 + Math.floor(random() * 6),
        model: 'fmnist-tiny',
        sampler: 'ddim',
        steps: 4 + Math.floor(random() * 5),
        classes: [Math.floor(random() * 10)],
        seed: Math.floor(random() * 1e9),
        callbackUrl: receiver.url,
      };
      const webhookId = `msg_fault_${o.seed}_${i}`;
      const res = await postBatch(dev.base, request, 'webhook', webhookId);
      const text = await res.text();
      if (res.status !== 202) throw new Error(`batch ${i}: POST answered ${res.status}: ${text.slice(0, 300)}`);
      const id = (JSON.parse(text) as { id: string }).id;
      posted.push({ id, request });
      // kill at a random point of this batch's work (before, during or after its chunks), then restart on the same state
      const waitMs = Math.floor(random() * 4000);
      await sleep(waitMs);
      const before = await getJob(dev.base, id).catch(() => null);
      await dev.kill();
      kills += 1;
      o.log(`batch ${i + 1}/${o.batches} ${id.slice(0, 8)} (${request.count} images, ${request.steps} steps): killed after ${waitMs} ms at ${before ? `${before.status} ${before.progress.images}/${before.progress.count}` : '?'}`);
      dev = await startDev({ root, stateDir, fresh: false, vars: VARS });
      // a sender retrying its delivery after the outage reaches the same job
      const replay = await postBatch(dev.base, request, 'webhook', webhookId);
      const replayed = (await replay.json()) as { id: string };
      if (replay.status !== 202 || replayed.id !== id) throw new Error(`batch ${i}: the replay answered ${replay.status} with job ${replayed.id}, not ${id}`);
    }
    // every job must end: succeeded, or failed with its callback
    const deadline = Date.now() + o.settleSeconds * 1000;
    const final = new Map<string, JobStatus>();
    while (Date.now() < deadline && final.size < posted.length) {
      for (const p of posted) {
        if (final.has(p.id)) continue;
        const s = await getJob(dev.base, p.id);
        if (s.status === 'succeeded' || s.status === 'failed') final.set(p.id, s);
      }
      if (final.size < posted.length) await sleep(1000);
    }
    // callbacks: give the last ones a moment
    const callbackDeadline = Date.now() + 30_000;
    const hasCallback = (id: string) => receiver.received.some((r) => r.job === id);
    while (Date.now() < callbackDeadline && [...final.keys()].some((id) => !hasCallback(id))) await sleep(500);

    let images = 0;
    let lost = 0;
    let duplicated = 0;
    let mismatched = 0;
    let failed = 0;
    for (const p of posted) {
      const s = final.get(p.id);
      if (!s) {
        const now = await getJob(dev.base, p.id);
        o.log(`STUCK ${p.id}: ${now.status} ${now.progress.images}/${now.progress.count}`);
        continue;
      }
      if (s.status === 'failed') {
        failed += 1;
        o.log(`failed ${p.id}: ${s.errors.filter((e) => e.final).map((e) => e.message).join('; ')}`);
      }
      if (s.progress.images > s.progress.count) duplicated += s.progress.images - s.progress.count;
      for (let k = 0; k < p.request.count; k++) {
        const res = await fetch(`${dev.base}/v1/batches/${p.id}/images/${k}.png`);
        const bytes = new Uint8Array(await res.arrayBuffer());
        if (res.status !== 200) {
          if (s.status === 'succeeded') lost += 1;
          continue;
        }
        images += 1;
        const q = `model=${p.request.model}&sampler=${p.request.sampler}&steps=${p.request.steps}&class=${p.request.classes?.[0]}`;
        const ref = new Uint8Array(await (await fetch(`${dev.base}/v1/samples/${deriveSeed(p.request.seed ?? 0, k)}.png?${q}`)).arrayBuffer());
        if (Buffer.compare(Buffer.from(bytes), Buffer.from(ref)) !== 0) mismatched += 1;
      }
      if (s.status === 'succeeded' && s.progress.images !== p.request.count) lost += Math.max(0, p.request.count - s.progress.images);
    }
    const callbacksMissing = [...final.keys()].filter((id) => !hasCallback(id)).length;
    return {
      batches: posted.length,
      kills,
      images,
      lost,
      duplicated,
      mismatched,
      stuck: posted.length - final.size,
      failed,
      callbacksMissing,
      callbacksBad: receiver.bad,
      seconds: Math.round((Date.now() - started) / 1000),
    };
  } finally {
    await dev.stop();
    await receiver.close();
  }
}
