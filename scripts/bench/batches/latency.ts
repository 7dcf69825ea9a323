/**
 * Head-of-line blocking: the latency of a cheap request (a 400 that renders nothing) while one long stream
 * (GET /v1/samples/{seed}/stream, many steps) renders in the same isolate. Run on the working tree, or on a
 * commit (--ref) for a before/after comparison. Loopback only.
 */
import { sleep, snapshot, startDev, stateDirFor } from './dev.ts';

export interface LatencyOptions {
  /** A git commit to serve instead of the working tree. */
  ref?: string;
  steps: number;
  log: (line: string) => void;
}

export interface LatencyResult {
  ref: string;
  steps: number;
  idle: Summary;
  duringStream: Summary;
  streamSeconds: number;
}

export interface Summary {
  n: number;
  medianMs: number;
  p95Ms: number;
  maxMs: number;
}

function summarize(xs: number[]): Summary {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;
  return { n: s.length, medianMs: Math.round(at(0.5)), p95Ms: Math.round(at(0.95)), maxMs: Math.round(s[s.length - 1] ?? NaN) };
}

async function cheap(base: string): Promise<number> {
  const t = performance.now();
  const res = await fetch(`${base}/v1/samples/1.png?steps=0`, { signal: AbortSignal.timeout(120_000) });
  await res.arrayBuffer();
  if (res.status !== 400) throw new Error(`the cheap request answered ${res.status}`);
  return performance.now() - t;
}

export async function runLatency(o: LatencyOptions): Promise<LatencyResult> {
  const name = o.ref === undefined ? 'latency-worktree' : `latency-${o.ref.replace(/[^a-zA-Z0-9]/g, '_')}`;
  const dev = await startDev({ root: snapshot(name, o.ref), stateDir: stateDirFor(name), fresh: true, vars: {} });
  try {
    // warm: the model session, the stream route
    await (await fetch(`${dev.base}/v1/samples/2/stream?steps=3`)).text();
    const idle: number[] = [];
    for (let i = 0; i < 20; i++) idle.push(await cheap(dev.base));
    const t0 = performance.now();
    let streaming = true;
    const stream = fetch(`${dev.base}/v1/samples/7/stream?steps=${o.steps}`)
      .then((res) => res.text())
      .finally(() => {
        streaming = false;
      });
    const during: number[] = [];
    await sleep(300);
    // a request counts when it was sent while the stream ran (held to the stream's end, it is one long sample)
    while (streaming) {
      during.push(await cheap(dev.base));
      await sleep(200);
    }
    await stream;
    const result = { ref: o.ref ?? 'working tree', steps: o.steps, idle: summarize(idle), duringStream: summarize(during), streamSeconds: Math.round((performance.now() - t0) / 100) / 10 };
    o.log(JSON.stringify(result));
    return result;
  } finally {
    await dev.stop();
  }
}
