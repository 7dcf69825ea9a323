/**
 * End-to-end requests against the bench worker under `wrangler dev` (loopback): sequential latency
 * (client wall clock; handler and U-Net ms from the worker's x-bench-* headers) and concurrent load with
 * autocannon (bounded in requests and time).
 */
import autocannon from 'autocannon';
import { percentile } from './timing.ts';
import type { ColdStart } from '../../src/inference/runtime.ts';

/** Per attempt. wrangler dev's local proxy now and then holds a request and never hands it to the worker
 * (seen in about 1 of 10 fresh starts, right after the first model run; workers-sdk #14641-like): such a request
 * is abandoned after this long and sent again, and the retry is counted in the report's log. */
const REQUEST_TIMEOUT_MS = 30_000;
const ATTEMPTS = 3;
let retries = 0;
/** Requests that had to be sent again after a held connection. */
export const heldRequestRetries = (): number => retries;

export interface Sample {
  wallMs: number;
  handlerMs: number;
  unetMs: number;
  layer: string;
  status: number;
  heapBytes?: number;
}

export async function request(base: string, path: string): Promise<Sample> {
  let t0 = performance.now();
  let res: Response | undefined;
  for (let attempt = 1; res === undefined; attempt++) {
    t0 = performance.now();
    try {
      res = await fetch(base + path, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
      await res.arrayBuffer();
    } catch (e) {
      if (!(e instanceof Error && e.name === 'TimeoutError') || attempt >= ATTEMPTS) throw e;
      retries++;
      console.error(`[bench] GET ${path}: no response in ${REQUEST_TIMEOUT_MS / 1000} s (wrangler's proxy held it); sending it again`);
      res = undefined;
    }
  }
  const wallMs = performance.now() - t0;
  if (process.env.BENCH_VERBOSE) console.error(`[bench] GET ${path} ${res.status} ${wallMs.toFixed(0)} ms (handler ${res.headers.get('x-bench-handler-ms')}, U-Net ${res.headers.get('x-bench-unet-ms')})`);
  if (res.status !== 200) throw new Error(`GET ${path}: ${res.status}`);
  const heap = res.headers.get('x-wasm-heap-bytes');
  return {
    wallMs,
    handlerMs: Number(res.headers.get('x-bench-handler-ms') ?? NaN),
    unetMs: Number(res.headers.get('x-bench-unet-ms') ?? NaN),
    layer: res.headers.get('x-cache-layer') ?? '',
    status: res.status,
    ...(heap === null ? {} : { heapBytes: Number(heap) }),
  };
}

export interface LatencyRow {
  label: string;
  requests: number;
  layer: string;
  wallP50: number;
  wallP95: number;
  handlerP50: number;
  unetP50: number;
  /** Median over requests of (handler - U-Net) / handler. */
  overheadShare: number;
}

export function summarize(label: string, samples: readonly Sample[]): LatencyRow {
  const wall = samples.map((s) => s.wallMs);
  return {
    label,
    requests: samples.length,
    layer: [...new Set(samples.map((s) => s.layer))].join(', '),
    wallP50: percentile(wall, 50),
    wallP95: percentile(wall, 95),
    handlerP50: percentile(samples.map((s) => s.handlerMs), 50),
    unetP50: percentile(samples.map((s) => s.unetMs), 50),
    overheadShare: percentile(samples.map((s) => (s.handlerMs > 0 ? (s.handlerMs - s.unetMs) / s.handlerMs : 0)), 50),
  };
}

export async function sequential(base: string, paths: readonly string[]): Promise<Sample[]> {
  const out: Sample[] = [];
  for (const p of paths) out.push(await request(base, p));
  return out;
}

export interface Stats {
  runs: number;
  runMs: number;
  handlerMs: number;
  requests: number;
  heapBytes: number;
  /** The isolate's first session creation, in parts (src/inference/runtime.ts coldStartBreakdown). */
  coldStart: ColdStart | null;
}

export async function stats(base: string): Promise<Stats> {
  const res = await fetch(`${base}/__bench/stats`);
  return (await res.json()) as Stats;
}

export interface LoadRow {
  label: string;
  connections: number;
  requests: number;
  seconds: number;
  rps: number;
  errors: number;
  non2xx: number;
  timeouts: number;
  p50: number;
  p97_5: number;
  /** Time inside session.run during the load / the load's wall time (the isolate runs one forward at a time). */
  unetShare: number;
  /** Time inside session.run / summed handler time (handlers overlap while they wait for the model). */
  unetHandlerShare: number;
}

/** autocannon over `pathOf(i)` (i = 0, 1, ...): at most `amount` requests and `maxSeconds`. */
export async function load(
  base: string,
  label: string,
  pathOf: (i: number) => string,
  opts: { connections: number; amount: number; maxSeconds: number },
): Promise<LoadRow> {
  const before = await stats(base);
  let i = 0;
  const t0 = performance.now();
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url: base,
        connections: opts.connections,
        amount: opts.amount,
        duration: opts.maxSeconds,
        timeout: 120,
        requests: [
          {
            method: 'GET',
            setupRequest: (req) => ({ ...req, path: pathOf(i++) }),
          },
        ],
      },
      (err, res) => (err ? reject(err) : resolve(res)),
    );
    instance.on('error', reject);
  });
  const seconds = (performance.now() - t0) / 1000;
  const after = await stats(base);
  const handler = after.handlerMs - before.handlerMs;
  return {
    label,
    connections: opts.connections,
    requests: result.requests.total,
    seconds,
    rps: result.requests.total / seconds,
    errors: result.errors,
    non2xx: result.non2xx,
    timeouts: result.timeouts,
    p50: result.latency.p50,
    p97_5: result.latency.p97_5,
    unetShare: (after.runMs - before.runMs) / (seconds * 1000),
    unetHandlerShare: handler > 0 ? (after.runMs - before.runMs) / handler : NaN,
  };
}
