/**
 * The real worker (wrangler.toml, src/index.ts) under `wrangler dev --local` on a loopback port, for the batch
 * fault run, soak and latency probe: dev secrets and fast schedules as `--var`s, state kept in a folder that
 * survives a kill, so a restarted server continues from it. Only 127.0.0.1 is ever contacted.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Webhook } from 'standardwebhooks';
import { vendorOrtWasm } from '../../../src/inference/wasm/vendor.mjs';
import { startWranglerDev, type WranglerDev } from '../../lib/child-process.ts';
import { ROOT } from '../models.ts';

/** The local development values of .dev.vars.example (never used anywhere else). */
export const DEV_API_KEY = 'dev-api-key';
export const DEV_WEBHOOK_SECRET = 'whsec_ZGV2LXdlYmhvb2stc2VjcmV0LWZvci1sb2NhbC11c2U=';
export const DEV_CALLBACK_SECRET = 'whsec_ZGV2LWNhbGxiYWNrLXNpZ25pbmctc2VjcmV0LWxvY2Fs';

/**
 * A copy of the worker (src/, models/, wrangler.toml) under bench-results/snapshots/<name>: wrangler dev serves the
 * copy, so edits to the working tree during a run neither reload nor change the server. With `gitRef`, the copy is
 * that commit's worker (e.g. HEAD~3 for a before/after comparison); the vendored wasm comes from the working tree.
 * Packages resolve from the repository's node_modules (a parent folder).
 */
export function snapshot(name: string, gitRef?: string): string {
  const dir = join(ROOT, 'bench-results', 'snapshots', name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  vendorOrtWasm();
  if (gitRef === undefined) {
    for (const part of ['src', 'models', 'wrangler.toml']) cpSync(join(ROOT, part), join(dir, part), { recursive: true });
  } else {
    const tar = execFileSync('git', ['archive', gitRef, 'src', 'models', 'wrangler.toml'], { cwd: ROOT, maxBuffer: 1 << 30 });
    execFileSync('tar', ['-x', '-C', dir], { input: tar });
    cpSync(join(ROOT, 'src/inference/wasm'), join(dir, 'src/inference/wasm'), { recursive: true });
  }
  return dir;
}

export interface DevOptions {
  /** The folder served (a snapshot()). */
  root: string;
  stateDir: string;
  /** Extra or overriding vars (name -> value). */
  vars?: Record<string, string>;
  /** Remove the state folder before the start (a fresh server). */
  fresh: boolean;
}

export function devVars(extra: Record<string, string> = {}): Record<string, string> {
  return {
    BATCH_API_KEYS: DEV_API_KEY,
    WEBHOOK_SECRETS: DEV_WEBHOOK_SECRET,
    CALLBACK_SIGNING_SECRET: DEV_CALLBACK_SECRET,
    CALLBACK_ALLOW_HTTP: 'true',
    BATCH_ID_SECRET: 'dev-job-id-secret-for-local-use-only',
    ...extra,
  };
}

export async function startDev(o: DevOptions): Promise<WranglerDev> {
  if (o.fresh) rmSync(o.stateDir, { recursive: true, force: true });
  mkdirSync(o.stateDir, { recursive: true });
  const vars = devVars(o.vars);
  const extraArgs = Object.entries(vars).flatMap(([k, v]) => ['--var', `${k}:${v}`]);
  return startWranglerDev({ cwd: o.root, stateDir: o.stateDir, logLevel: process.env.BATCH_DEV_LOG === 'log' ? 'log' : 'warn', readyPath: '/v1/models', timeoutMs: 180_000, keepOutput: 20_000, killOnExit: true, extraArgs });
}

/** Resident set size in bytes of the workerd process(es) of a dev server's process group (Linux `ps`). */
export function workerdRss(dev: WranglerDev): number {
  try {
    const out = execFileSync('ps', ['-o', 'rss=,comm=', '-g', String(dev.pgid)], { encoding: 'utf8' });
    return out
      .split('\n')
      .filter((line) => /workerd/.test(line))
      .reduce((sum, line) => sum + Number(line.trim().split(/\s+/)[0]) * 1024, 0);
  } catch {
    return 0;
  }
}

export const stateDirFor = (name: string): string => join(ROOT, 'bench-results', 'state', name);

export interface BatchRequest {
  count: number;
  model?: string;
  sampler?: string;
  steps?: number;
  classes?: (number | string)[];
  seed?: number;
  callbackUrl?: string;
}

/** POST /v1/batches signed as a webhook sender (standardwebhooks) or with the dev API key. */
export async function postBatch(base: string, body: BatchRequest, how: 'webhook' | 'api-key', id: string): Promise<Response> {
  const text = JSON.stringify(body);
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (how === 'api-key') {
    headers.authorization = `Bearer ${DEV_API_KEY}`;
    headers['idempotency-key'] = id;
  } else {
    const now = new Date();
    headers['webhook-id'] = id;
    headers['webhook-timestamp'] = String(Math.floor(now.getTime() / 1000));
    headers['webhook-signature'] = new Webhook(DEV_WEBHOOK_SECRET).sign(id, new Date(Math.floor(now.getTime() / 1000) * 1000), text);
  }
  return fetch(`${base}/v1/batches`, { method: 'POST', body: text, headers, signal: AbortSignal.timeout(60_000) });
}

export interface JobStatus {
  id: string;
  status: 'queued' | 'running' | 'succeeded' | 'failed';
  progress: { images: number; count: number; chunks: number; chunkCount: number };
  errors: { chunk: number; message: string; final: boolean }[];
  callback: { status: string; attempts: number } | null;
}

export async function getJob(base: string, id: string): Promise<JobStatus> {
  const res = await fetch(`${base}/v1/batches/${id}`, { signal: AbortSignal.timeout(60_000) });
  if (res.status !== 200) throw new Error(`GET /v1/batches/${id}: ${res.status} ${await res.text()}`);
  return (await res.json()) as JobStatus;
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
