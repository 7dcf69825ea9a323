// Shared helpers of the batch tests (issue 15): requests as a client sends them, polling, planted job records.
import { env, SELF } from 'cloudflare:test';
import { Webhook } from 'standardwebhooks';
import { expect } from 'vitest';
import type { BatchJob, BatchSpec, BatchStatus } from '../../src/batches/types.ts';
import type { JobView } from '../../src/batches/view.ts';
import { bundledModels } from '../../src/models/bundled.ts';
import { parseSecrets } from '../../src/webhooks/index.ts';

export const BASE = 'https://worker.test';
export const SMALL = { model: 'fixture-tiny', sampler: 'ddim', steps: 3 } as const;

let counter = 0;
export function uniqueId(prefix: string): string {
  counter += 1;
  return `${prefix}_${Date.now().toString(36)}_${counter}_${Math.random().toString(36).slice(2, 8)}`;
}

export function signedHeaders(body: string, id = uniqueId('msg')): Record<string, string> {
  const timestamp = Math.floor(Date.now() / 1000);
  const secret = parseSecrets(env.WEBHOOK_SECRETS)[0];
  return {
    'content-type': 'application/json',
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': new Webhook(secret).sign(id, new Date(timestamp * 1000), body),
  };
}

export function postRaw(body: BodyInit, headers: Record<string, string>): Promise<Response> {
  return SELF.fetch(`${BASE}/v1/batches`, { method: 'POST', body, headers });
}

export function postWithKey(body: unknown, extra: Record<string, string> = {}): Promise<Response> {
  const key = parseSecrets(env.BATCH_API_KEYS)[0];
  return postRaw(JSON.stringify(body), { 'content-type': 'application/json', authorization: `Bearer ${key}`, ...extra });
}

export async function accepted(res: Response): Promise<JobView> {
  const text = await res.text();
  expect(res.status, text).toBe(202);
  return JSON.parse(text) as JobView;
}

export async function status(id: string): Promise<JobView> {
  const res = await SELF.fetch(`${BASE}/v1/batches/${id}`);
  const text = await res.text();
  expect(res.status, text).toBe(200);
  return JSON.parse(text) as JobView;
}

export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export function finished(id: string, timeoutMs = 100_000): Promise<JobView> {
  return waitFor(
    `batch ${id} to finish`,
    async () => {
      const view = await status(id);
      return view.status === 'succeeded' || view.status === 'failed' ? view : undefined;
    },
    timeoutMs,
  );
}

export function jobStub(id: string) {
  return env.BATCH_JOBS.get(env.BATCH_JOBS.idFromName(id));
}

/** A job record of `count` fixture-tiny images in chunks of 2, in the given state (no leases: no alarm, no work). */
export function plannedJob(state: { status: BatchStatus; chunksDone: number[]; count: number }): BatchJob {
  const entry = bundledModels().get('fixture-tiny');
  if (!entry) throw new Error('no fixture-tiny');
  const spec: BatchSpec = {
    model: 'fixture-tiny',
    modelSha256: entry.card.files.int8.sha256,
    count: state.count,
    params: { sampler: 'ddim', steps: 3, eta: 0, clip: true, classId: null, guidance: 1, scale: 1, n: 1 },
    classes: null,
    seed: 7,
    chunkSize: 2,
    callbackUrl: null,
  };
  const id = crypto.randomUUID().replaceAll('-', '');
  const t = new Date().toISOString();
  const finished = state.status === 'succeeded' || state.status === 'failed';
  return {
    id,
    status: state.status,
    auth: 'api-key',
    requestHash: 'planted',
    origin: BASE,
    spec,
    faults: null,
    chunks: Math.ceil(state.count / 2),
    chunksDone: state.chunksDone,
    imagesDone: state.chunksDone.reduce((n, c) => n + Math.min(2, state.count - 2 * c), 0),
    messagesSent: true,
    deliveries: 1,
    errors: state.status === 'failed' ? [{ chunk: 1, attempt: 1, message: 'planted failure', at: t, final: true }] : [],
    callback: { status: 'none', event: null, attempts: 0, lastStatus: null, lastError: null, enqueued: false, deliveredAt: null },
    createdAt: t,
    updatedAt: t,
    finishedAt: finished ? t : null,
  };
}

/** Creates the onnxruntime session with one tiny render, outside any test's wait (slow on a busy machine). */
export async function warmSession(): Promise<void> {
  const res = await SELF.fetch(`${BASE}/v1/samples/1.png?model=fixture-tiny&steps=1`);
  if (res.status !== 200) throw new Error(`warm-up render answered ${res.status}`);
  await res.arrayBuffer();
}
