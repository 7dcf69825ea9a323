// Helpers for the batch tests: signed triggers (the standardwebhooks library, as a sender would), polling.
import { env, SELF } from 'cloudflare:test';
import { Webhook } from 'standardwebhooks';
import { expect } from 'vitest';
import type { JobView } from '../../src/batches/view.ts';
import { parseSecrets } from '../../src/webhooks/index.ts';

export const BASE = 'https://worker.test';

export function webhookSecrets(): string[] {
  return parseSecrets(env.WEBHOOK_SECRETS);
}

export function apiKeys(): string[] {
  return parseSecrets(env.BATCH_API_KEYS);
}

let counter = 0;
export function uniqueId(prefix: string): string {
  counter += 1;
  return `${prefix}_${Date.now().toString(36)}_${counter}_${Math.random().toString(36).slice(2, 8)}`;
}

export interface SignOptions {
  id?: string;
  secret?: string;
  /** Seconds since the epoch (default now). */
  timestamp?: number;
  /** Extra signatures to put in the header (rotation: several, space separated). */
  extraSignatures?: string[];
}

/** Standard Webhooks headers for `body`, made with the library. */
export function signedHeaders(body: string, options: SignOptions = {}): Record<string, string> {
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

export function postBatch(body: string, headers: Record<string, string>): Promise<Response> {
  return SELF.fetch(`${BASE}/v1/batches`, { method: 'POST', body, headers });
}

export function postWithKey(body: unknown, key = apiKeys()[0], extra: Record<string, string> = {}): Promise<Response> {
  return postBatch(JSON.stringify(body), { 'content-type': 'application/json', authorization: `Bearer ${key}`, ...extra });
}

export async function accepted(res: Response): Promise<JobView> {
  const text = await res.text();
  expect(res.status, text).toBe(202);
  const view = JSON.parse(text) as JobView;
  expect(res.headers.get('location')).toBe(`${BASE}/v1/batches/${view.id}`);
  return view;
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

/** Polls until the job is succeeded or failed. */
export function finished(id: string, timeoutMs?: number): Promise<JobView> {
  return waitFor(
    `batch ${id} to finish`,
    async () => {
      const view = await status(id);
      return view.status === 'succeeded' || view.status === 'failed' ? view : undefined;
    },
    timeoutMs,
  );
}
