// The worker's models: one session per model and isolate (src/inference/onnx.ts creates it, configured for
// workerd; see src/inference/wasm/ort-entry.mjs for how the wasm is handed over), verified first.
import type { EpsModel } from '../diffusion/index.ts';
import type { NetworkEntry } from '../models/registry.ts';
import { createEpsModel } from './eps-model.ts';
import { verifyModel } from './integrity.ts';
import { createModelSession, fileSessionOptions, graphSpec } from './onnx.ts';

export interface RuntimeOptions {
  /** Specifier of ort-entry.mjs (Env.ORT_WASM_ENTRY). */
  wasmEntry: string;
}

interface OrtEntryModule {
  wasmMemory(): WebAssembly.Memory | undefined;
  wasmInstantiateMs(): number | undefined;
}

/** Where the first request of an isolate spends its time before sampling (npm run bench, "cold start"). */
export interface ColdStart {
  /** sha256 of the model bytes against the card. */
  verifyMs: number;
  /** InferenceSession.create, the runtime's first initialization (glue, wasm instantiation) included. */
  sessionMs: number;
  /** WebAssembly.instantiate of the precompiled runtime module (part of sessionMs). */
  instantiateMs: number | undefined;
}

let coldStart: ColdStart | undefined;

let configuredEntry: string | undefined;

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
      const t0 = performance.now();
      await verifyModel(entry);
      const t1 = performance.now();
      const session = await createModelSession(new Uint8Array(entry.bytes), graphSpec(entry.card), { wasmEntry: options.wasmEntry, ...fileSessionOptions(entry.card.files.int8) });
      configuredEntry = options.wasmEntry;
      if (coldStart === undefined) {
        const entryModule = (await import(/* @vite-ignore */ options.wasmEntry)) as OrtEntryModule;
        coldStart = { verifyMs: t1 - t0, sessionMs: performance.now() - t1, instantiateMs: entryModule.wasmInstantiateMs() };
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
