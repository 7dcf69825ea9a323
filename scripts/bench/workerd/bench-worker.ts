/**
 * The bench worker (npm run bench, never deployed): the production app (src/app.ts) over a registry of one
 * model, plus bench-only routes under /__bench/ that exist only in this worker:
 *
 * - POST /__bench/forward?precision=&batches=1,4,16&... (body: ONNX bytes): onnxruntime-web forward latency
 *   inside workerd, the session created as the app creates it (src/inference/onnx.ts), after onnxruntime's start
 *   (reported apart: runtimeStart); the wasm heap after each batch size.
 * - POST /__bench/r2?bytes=&reps=: a miss's lookup (Cache API + R2), R2 put and get of a PNG-sized object.
 * - GET /__bench/stats: session runs and ms inside session.run (src/inference/runtime.ts), handler ms, heap.
 *
 * Every app response gets x-bench-handler-ms and x-bench-unet-ms (exact for sequential requests).
 * Timing: local workerd's Date.now and performance.now advance during computation (1 ms resolution), so
 * forwards are timed in blocks of runs lasting at least minBlockMs (scripts/bench/timing.ts).
 */
import { env as isolateEnv } from 'cloudflare:workers';
import { createApp } from '../../../src/app.ts';
import type { Env } from '../../../src/env.ts';
import { createModelSession, fileSessionOptions, graphSpec } from '../../../src/inference/onnx.ts';
import { coldStartBreakdown, runtimeStartBreakdown, sessionRunMs, sessionRuns, startRuntime, startRuntimeWithIsolate, wasmHeapBytes } from '../../../src/inference/runtime.ts';
import type { ModelCard } from '../../../src/model-card.ts';
import { createRegistry, parseModelCard, type ServingDefaults, type ServingLimits } from '../../../src/models/registry.ts';
import { forwardInputs } from '../inputs.ts';
import { timeRuns, type TimingOptions } from '../timing.ts';

interface OrtEntryModule {
  wasmMemory(): WebAssembly.Memory | undefined;
}

export interface BenchWorkerModel {
  card: unknown;
  int8: ArrayBuffer;
  limits: ServingLimits;
  /** The model's serving defaults (src/models/served.json). */
  defaults: ServingDefaults;
}

function num(q: URLSearchParams, name: string, fallback: number): number {
  const v = q.get(name);
  return v === null ? fallback : Number(v);
}

async function heapBytes(entry: string): Promise<number> {
  const mod = (await import(/* @vite-ignore */ entry)) as OrtEntryModule;
  return mod.wasmMemory()?.buffer.byteLength ?? 0;
}

async function forwardBench(request: Request, env: Env, card: ModelCard): Promise<Response> {
  const q = new URL(request.url).searchParams;
  const batches = (q.get('batches') ?? '1,4,16').split(',').map(Number);
  const timing: TimingOptions = {
    warmupMs: num(q, 'warmupMs', 300),
    measureMs: num(q, 'measureMs', 1500),
    minBlockMs: num(q, 'minBlockMs', 25),
    minBlocks: num(q, 'minBlocks', 7),
  };
  const bytes = new Uint8Array(await request.arrayBuffer());
  // onnxruntime's one-time start, as the app has it (with the isolate, or here when ORT_START = "first-use"),
  // reported apart from the model's own session
  await startRuntime({ wasmEntry: env.ORT_WASM_ENTRY });
  const created = Date.now();
  // the session as the app gets it (src/inference/onnx.ts, configured for workerd)
  const precision = q.get('precision') === 'fp32' ? 'fp32' : 'int8';
  const session = await createModelSession(bytes, graphSpec(card), { wasmEntry: env.ORT_WASM_ENTRY, ...fileSessionOptions(card.files[precision]) });
  const createMs = Date.now() - created;
  const heapAfterCreate = await heapBytes(env.ORT_WASM_ENTRY);
  const rows = [];
  try {
    // V8 compiles the 14 MB runtime wasm lazily and tiers it up in the background: run batch 1 for a while
    // before timing anything, or the first batch size measures the compiler
    const warmFeeds = session.feeds(forwardInputs(card, 1));
    const until = Date.now() + num(q, 'initialWarmupMs', 2000);
    while (Date.now() < until) await session.runFeeds(warmFeeds);
    for (const batch of batches) {
      const feeds = session.feeds(forwardInputs(card, batch));
      const result = await timeRuns(() => session.runFeeds(feeds), timing, () => Date.now());
      rows.push({ batch, timing: result, heapBytes: await heapBytes(env.ORT_WASM_ENTRY) });
    }
  } finally {
    await session.release();
  }
  return Response.json({ createMs, runtimeStart: runtimeStartBreakdown() ?? null, heapAfterCreate, rows });
}

async function r2Bench(request: Request, env: Env): Promise<Response> {
  const q = new URL(request.url).searchParams;
  const size = num(q, 'bytes', 1000);
  const reps = num(q, 'reps', 20);
  const body = new Uint8Array(size).map((_, i) => (i * 31) & 255);
  const put: number[] = [];
  const get: number[] = [];
  const lookup: number[] = [];
  for (let i = 0; i < reps; i++) {
    const key = `bench/r2/${size}/${i}`;
    // a miss's lookup, as src/storage/png-cache.ts readPng does it: the Cache API, then R2
    const l0 = performance.now();
    await caches.default.match(new Request(`https://png-cache.ddpm-edge.internal/${key}`));
    await env.GRIDS.get(key);
    lookup.push(performance.now() - l0);
    const t0 = performance.now();
    await env.GRIDS.put(key, body, { httpMetadata: { contentType: 'image/png' } });
    const t1 = performance.now();
    const object = await env.GRIDS.get(key);
    await object?.arrayBuffer();
    const t2 = performance.now();
    put.push(t1 - t0);
    get.push(t2 - t1);
  }
  return Response.json({ bytes: size, put, get, lookup });
}

export function createBenchWorker(model: BenchWorkerModel): ExportedHandler<Env> {
  // module scope of the generated entry, as src/index.ts: onnxruntime starts with the isolate unless ORT_START says otherwise
  startRuntimeWithIsolate(isolateEnv as unknown as Env);
  const card = parseModelCard(model.card);
  const registry = createRegistry([{ card, bytes: model.int8, limits: model.limits, defaults: model.defaults }]);
  const app = createApp({ registry });
  let handlerMs = 0;
  let requests = 0;
  return {
    async fetch(request, env, ctx) {
      const path = new URL(request.url).pathname;
      if (path === '/__bench/forward' && request.method === 'POST') return forwardBench(request, env, card);
      if (path === '/__bench/r2' && request.method === 'POST') return r2Bench(request, env);
      if (path === '/__bench/stats') {
        return Response.json({ runs: sessionRuns(), runMs: sessionRunMs(), handlerMs, requests, heapBytes: await wasmHeapBytes(), coldStart: coldStartBreakdown() ?? null });
      }
      const unet0 = sessionRunMs();
      const t0 = performance.now();
      const response = await app.fetch(request, env, ctx);
      const body = await response.arrayBuffer(); // PNGs and JSON: the handler's work is done once the body is
      const elapsed = performance.now() - t0;
      handlerMs += elapsed;
      requests++;
      const out = new Response(response.status === 304 ? null : body, response);
      out.headers.set('x-bench-handler-ms', elapsed.toFixed(2));
      out.headers.set('x-bench-unet-ms', (sessionRunMs() - unet0).toFixed(2));
      return out;
    },
  };
}
