// The worker's models: one session per model and isolate (src/inference/onnx.ts creates it, configured for
// workerd; see src/inference/wasm/ort-entry.mjs for how the wasm is handed over), verified first. Before the
// first one, onnxruntime itself starts once per isolate (startRuntime): with the isolate when src/index.ts
// starts it at module scope, else on the first request that needs a model.
import type { EpsModel } from '../diffusion/index.ts';
import type { NetworkEntry } from '../models/registry.ts';
import { createEpsModel } from './eps-model.ts';
import { verifyModel } from './integrity.ts';
import { createModelSession, fileSessionOptions, graphSpec, startWebRuntime } from './onnx.ts';

export interface RuntimeOptions {
  /** Specifier of ort-entry.mjs (Env.ORT_WASM_ENTRY). */
  wasmEntry: string;
}

interface OrtEntryModule {
  wasmMemory(): WebAssembly.Memory | undefined;
  wasmInstantiateMs(): number | undefined;
}

/**
 * When onnxruntime's one-time start runs (Env.ORT_START) or ran: with the isolate (src/index.ts, module scope) or
 * on the first request that needs a model.
 */
export const ORT_START_VALUES = ['isolate', 'first-use'] as const;
export type OrtStart = (typeof ORT_START_VALUES)[number];

/** Where an isolate spends its time before its first sampling (npm run bench, "cold start"). */
export interface ColdStart {
  /**
   * onnxruntime's one-time start (startRuntime: glue, wasm instantiation, the runtime's environment, the
   * session code's first run), whichever request or isolate start paid it. Deployed Workers' clock stands
   * still outside I/O, so there it reads 0.
   */
  runtimeStartMs: number | undefined;
  runtimeStartedAt: OrtStart | undefined;
  /** WebAssembly.instantiate of the precompiled runtime module (part of runtimeStartMs). */
  instantiateMs: number | undefined;
  /** sha256 of the model bytes against the card. */
  verifyMs: number;
  /** InferenceSession.create of the first model, after the runtime's start. */
  sessionMs: number;
}

let coldStart: ColdStart | undefined;
/** The ort-entry.mjs specifier the runtime was started with (wasmHeapBytes reads its memory). */
let configuredEntry: string | undefined;

let runtimeStart: Promise<void> | undefined;
let runtimeStarted: { ms: number; at: OrtStart } | undefined;
/** The started runtime's one-node session (onnx.ts startWebRuntime), kept for the isolate's life, never released. */
let runtimeStartSession: unknown;

/**
 * Starts onnxruntime once per isolate, before and apart from any model's session (onnx.ts startWebRuntime).
 * src/index.ts calls it at module scope, so that the start is part of the isolate's startup and not of the first
 * request for an image; loadEpsModel awaits it (or starts it, when nothing did). A failed start is forgotten,
 * so the next call tries again.
 */
export function startRuntime(options: RuntimeOptions, at: OrtStart = 'first-use'): Promise<void> {
  if (runtimeStart === undefined) {
    const started = (async () => {
      const t0 = performance.now();
      runtimeStartSession = await startWebRuntime(options.wasmEntry);
      configuredEntry = options.wasmEntry;
      runtimeStarted = { ms: performance.now() - t0, at };
    })();
    runtimeStart = started;
    started.catch(() => {
      if (runtimeStart === started) runtimeStart = undefined;
    });
  }
  return runtimeStart;
}

/** How long onnxruntime's start took and when it ran (undefined before it has finished). */
export function runtimeStartBreakdown(): { ms: number; at: OrtStart } | undefined {
  return runtimeStarted;
}

/**
 * The Env.ORT_START setting: "isolate" (default) starts onnxruntime with the isolate, "first-use" leaves it to
 * the first request that needs a model. Anything else is refused with the allowed values.
 */
export function runtimeStartSetting(value: string | undefined): OrtStart {
  if (value === undefined || value === '') return 'isolate';
  if ((ORT_START_VALUES as readonly string[]).includes(value)) return value as OrtStart;
  throw new Error(`ORT_START must be "isolate" or "first-use", got ${JSON.stringify(value)}`);
}

/**
 * For a worker's module scope: starts onnxruntime with the isolate (the start becomes part of the isolate's
 * startup, and the first request for an image creates only its model's session), unless ORT_START is
 * "first-use". A failed start is logged and left to the first request that needs a model, which tries again.
 * Throws on an unknown ORT_START (the worker then does not start: wrangler deploy reports it).
 */
export function startRuntimeWithIsolate(env: { ORT_START?: string; ORT_WASM_ENTRY: string }): void {
  if (runtimeStartSetting(env.ORT_START) !== 'isolate') return;
  startRuntime({ wasmEntry: env.ORT_WASM_ENTRY }, 'isolate').catch((e: unknown) => {
    console.error('onnxruntime did not start with the isolate; the first request that needs a model starts it again:', e);
  });
}

const sessions = new WeakMap<NetworkEntry, Promise<EpsModel>>();
let runs = 0;
let runMs = 0;

/**
 * The EpsModel of a model entry: verifies the bytes (sha256 of the card), creates the session once per
 * isolate and shares it; a failed creation is forgotten so the next request retries.
 */
export function loadEpsModel(entry: NetworkEntry, options: RuntimeOptions): Promise<EpsModel> {
  let model = sessions.get(entry);
  if (!model) {
    model = (async function createSession() {
      await startRuntime(options);
      const t0 = performance.now();
      await verifyModel(entry);
      const t1 = performance.now();
      const session = await createModelSession(new Uint8Array(entry.bytes), graphSpec(entry.card), { wasmEntry: options.wasmEntry, ...fileSessionOptions(entry.card.files.int8) });
      if (coldStart === undefined) {
        const entryModule = (await import(/* @vite-ignore */ options.wasmEntry)) as OrtEntryModule;
        coldStart = {
          runtimeStartMs: runtimeStarted?.ms,
          runtimeStartedAt: runtimeStarted?.at,
          instantiateMs: entryModule.wasmInstantiateMs(),
          verifyMs: t1 - t0,
          sessionMs: performance.now() - t1,
        };
      }
      return createEpsModel(session, entry.card.architecture.numClasses, {
        maxBatch: entry.limits.maxBatch,
        onRun: () => void runs++,
        onRunTime: (_batch, ms) => void (runMs += ms),
      });
    })();
    sessions.set(entry, model);
    model.catch(() => sessions.delete(entry));
  }
  return model;
}

/** Number of session runs in this isolate so far (all models). */
export function sessionRuns(): number {
  return runs;
}

/**
 * Milliseconds spent inside session.run in this isolate so far (all models): the U-Net's share of request
 * time in `npm run bench`. Local workerd's clock advances during computation; deployed Workers' clock only
 * advances on I/O, so there it undercounts.
 */
export function sessionRunMs(): number {
  return runMs;
}

/** The first session creation's breakdown in this isolate (undefined before it). */
export function coldStartBreakdown(): ColdStart | undefined {
  return coldStart;
}

/** Bytes of the onnxruntime wasm linear memory in this isolate (0 before the runtime is loaded). It never shrinks. */
export async function wasmHeapBytes(): Promise<number> {
  if (configuredEntry === undefined) return 0;
  const entry = (await import(/* @vite-ignore */ configuredEntry)) as OrtEntryModule;
  return entry.wasmMemory()?.buffer.byteLength ?? 0;
}
