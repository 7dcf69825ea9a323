/**
 * The one module that imports onnxruntime. It creates sessions for every runtime the project uses and builds
 * their input tensors from the named model inputs ({ x, t, classes?, selfCond? }):
 *   - onnxruntime-web (wasm, one thread, no proxy) in workerd: give `wasmEntry` (src/inference/wasm/ort-entry.mjs);
 *   - onnxruntime-web in Node (the exporter, eval, bench): the same build and settings, so figures match serving;
 *   - onnxruntime-node (native CPU), Node only, loaded on demand (eval, bench).
 * Every session checks at creation that the graph takes exactly the inputs its model card lists, with the
 * card's types and shapes (ModelIoError naming both sides).
 */
import * as web from 'onnxruntime-web/wasm';
import type { ModelInputs } from '../diffusion/types.ts';
import { graphInputs, type ModelFile, type ModelIo, type NetworkCard } from '../model-card.ts';

web.env.wasm.numThreads = 1; // workerd has no Worker; in Node one thread is what serving gets
web.env.wasm.proxy = false;

/** The session's graph does not take the inputs (or give the output) its card names, or inputs do not fit it. */
export class ModelIoError extends Error {
  override readonly name = 'ModelIoError';
}

export type OrtRuntime = 'web' | 'node';
export const ORT_RUNTIMES: readonly OrtRuntime[] = ['web', 'node'];
export const RUNTIME_LABEL: Record<OrtRuntime, string> = {
  web: 'onnxruntime-web (wasm, 1 thread, as served)',
  node: 'onnxruntime-node (native)',
};

/** What a session runs: the model's name (for messages), its graph I/O names and the image dims [C, H, W]. */
export interface GraphSpec {
  name: string;
  io: ModelIo;
  dims: readonly [channels: number, height: number, width: number];
}

/** The GraphSpec of a model card (DDPM or Cold Diffusion). */
export function graphSpec(card: Pick<NetworkCard, 'name' | 'io' | 'channels' | 'imageSize'>): GraphSpec {
  return { name: card.name, io: card.io, dims: [card.channels, card.imageSize, card.imageSize] };
}

export interface SessionOptions {
  runtime?: OrtRuntime;
  /** onnxruntime-node's intra-op threads (onnxruntime-web always runs one). */
  threads?: number;
  /** onnxruntime-web in workerd: the specifier of ort-entry.mjs (Env.ORT_WASM_ENTRY), which hands over the wasm. */
  wasmEntry?: string;
  /** Profile the session's kernels (onnxruntime-web prints the profile at endProfiling). */
  profile?: boolean;
  /**
   * The graph was saved already optimized (a card file's `optimized`): onnxruntime-web skips its optimizers
   * (level "disabled"). onnxruntime-node always runs all of them (its NCHWc kernels are its best, and the peer of
   * the benchmarks should be at its best).
   */
  preOptimized?: boolean;
}

/** Session options for one of a card's files: `preOptimized` when the exporter saved it optimized. */
export function fileSessionOptions(file: Pick<ModelFile, 'optimized'> | undefined): Pick<SessionOptions, 'preOptimized'> {
  return file?.optimized === undefined ? {} : { preOptimized: true };
}

/** Input tensors of one run, built once (timing loops reuse them). */
export interface Feeds {
  readonly batch: number;
  readonly tensors: Readonly<Record<string, unknown>>;
}

export interface ModelSession {
  readonly spec: GraphSpec;
  readonly runtime: OrtRuntime;
  /** The graph's own input and output names. */
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  /** Tensors of `inputs` for this graph; views of the arrays, no copies. */
  feeds(inputs: ModelInputs): Feeds;
  /** Runs prepared feeds and returns the named outputs (default: the model output) as float32 arrays. */
  runFeeds(feeds: Feeds, outputs?: readonly string[]): Promise<Map<string, Float32Array>>;
  /** One run: the model output [B, C, H, W]. */
  run(inputs: ModelInputs): Promise<Float32Array>;
  endProfiling(): void;
  release(): Promise<void>;
}

export interface TensorLike {
  readonly type: string;
  readonly data: unknown;
  readonly dims: readonly number[];
  dispose(): void;
}
interface TensorCtor {
  new (type: 'float32', data: Float32Array, dims: readonly number[]): TensorLike;
  new (type: 'int64', data: BigInt64Array, dims: readonly number[]): TensorLike;
}
type ValueMetadata = { readonly name: string; readonly isTensor: boolean; readonly type?: string; readonly shape?: readonly (number | string)[] };
/** What this module needs of an onnxruntime session (both runtimes' sessions have it; tests and benches can fake it). */
export interface OrtSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  readonly inputMetadata?: readonly ValueMetadata[];
  run(feeds: Record<string, TensorLike>, fetches?: readonly string[]): Promise<Record<string, TensorLike>>;
  endProfiling(): void;
  release(): Promise<void>;
}

// A module name in a variable: bundlers (wrangler, vite) leave the import alone, and workerd never runs it.
const NATIVE = 'onnxruntime-node';
let configuredEntry: string | undefined;

async function loadNative(): Promise<typeof import('onnxruntime-node')> {
  try {
    return (await import(/* @vite-ignore */ NATIVE)) as typeof import('onnxruntime-node');
  } catch (e) {
    throw new Error('onnxruntime-node cannot be loaded (npm ci installs it as a dev dependency); use the web runtime', { cause: e });
  }
}

/**
 * The exporter's step (Node only): onnxruntime-node applies its graph optimizations up to level "extended"
 * (QDQ fusion into QLinearConv, constant folding, Conv+activation and other fusions; not the "all" level's
 * layout changes, which are specific to the native kernels) and writes the graph it would run to `outFile`.
 * onnxruntime-web loads that file with its optimizers off (`preOptimized`). Throws when onnxruntime-node is missing.
 */
export async function saveOptimizedGraph(bytes: Uint8Array, outFile: string): Promise<void> {
  const native = await loadNative();
  const session = await native.InferenceSession.create(bytes, { graphOptimizationLevel: 'extended', optimizedModelFilePath: outFile, intraOpNumThreads: 1, logSeverityLevel: 3 });
  await session.release();
}

async function openSession(bytes: Uint8Array, o: SessionOptions): Promise<{ session: OrtSession; Tensor: TensorCtor }> {
  if (o.runtime === 'node') {
    const native = await loadNative();
    const session = await native.InferenceSession.create(bytes, {
      intraOpNumThreads: o.threads ?? 1,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
      logSeverityLevel: 3,
      ...(o.profile ? { enableProfiling: true } : {}),
    });
    return { session: session as unknown as OrtSession, Tensor: native.Tensor as unknown as TensorCtor };
  }
  if (o.wasmEntry !== undefined && configuredEntry !== o.wasmEntry) {
    web.env.wasm.simd = true;
    web.env.wasm.wasmPaths = { mjs: o.wasmEntry };
    web.env.logLevel = 'error';
    configuredEntry = o.wasmEntry;
  }
  const session = await web.InferenceSession.create(bytes, {
    executionProviders: ['wasm'],
    graphOptimizationLevel: o.preOptimized ? 'disabled' : 'all',
    logSeverityLevel: 3,
    ...(o.profile ? { enableProfiling: true } : {}),
  });
  return { session: session as unknown as OrtSession, Tensor: web.Tensor as unknown as TensorCtor };
}

/**
 * The smallest graph onnxruntime-web can open: one Identity node, float32 [1] in and out (105 bytes, written by
 * scripts/model/onnx-graph.ts encodeModel; test/inference/runtime-start.test.ts checks that it still is). Its session
 * costs what every first session in an isolate costs before any model's own work: the glue, the wasm instance,
 * onnxruntime's environment (the operator schemas and kernel registry) and the session code's first run.
 */
export const RUNTIME_START_GRAPH_BASE64 =
  'CAoSCWRkcG0tZWRnZRoFMC4xLjA6TQoaCgF4EgF5GghpZGVudGl0eSIISWRlbnRpdHkSDXJ1bnRpbWUtc3RhcnRaDwoBeBIKCggIARIECgIIAWIPCgF5EgoKCAgBEgQKAggBQgQKABAV';

/**
 * Starts onnxruntime-web (wasm, one thread, as served) without a model: opens a session of
 * RUNTIME_START_GRAPH_BASE64, so that the runtime's one-time start is not part of the first model's session.
 * Returns the session for the caller to keep (src/inference/runtime.ts startRuntime, once per isolate), not to
 * release: a session released next to a live one in a workerd isolate once left that isolate's next run hanging
 * (scripts/bench/cli.ts, the forward passes).
 */
export async function startWebRuntime(wasmEntry?: string): Promise<OrtSession> {
  const bytes = Uint8Array.from(atob(RUNTIME_START_GRAPH_BASE64), (c) => c.charCodeAt(0));
  const { session } = await openSession(bytes, { ...(wasmEntry === undefined ? {} : { wasmEntry }), preOptimized: true });
  return session;
}

const shapeText = (shape: readonly (number | string)[] | undefined): string => (shape === undefined ? '?' : `[${shape.join(', ')}]`);

/**
 * The graph must take exactly the card's inputs (x, t, class?, selfCond?) with the card's element types and
 * image dims, and give its output; throws ModelIoError naming what the card says and what the graph has.
 */
export function checkGraphIo(graph: Pick<OrtSession, 'inputNames' | 'outputNames' | 'inputMetadata'>, spec: GraphSpec): void {
  const { io } = spec;
  const expected = graphInputs(io);
  const both = `the card lists inputs [${expected.join(', ')}] and output ${io.output}; the ONNX graph takes [${graph.inputNames.join(', ')}] and gives [${graph.outputNames.join(', ')}]`;
  const missing = expected.filter((n) => !graph.inputNames.includes(n));
  const extra = graph.inputNames.filter((n) => !expected.includes(n));
  if (missing.length > 0 || extra.length > 0 || !graph.outputNames.includes(io.output)) {
    const what = [
      ...(missing.length > 0 ? [`the graph lacks ${missing.join(', ')}`] : []),
      ...(extra.length > 0 ? [`the card does not list ${extra.join(', ')}`] : []),
      ...(graph.outputNames.includes(io.output) ? [] : [`the graph has no output ${io.output}`]),
    ];
    throw new ModelIoError(`model ${spec.name}: ${what.join('; ')} (${both})`);
  }
  const [C, H, W] = spec.dims;
  const want: Record<string, { type: string; shape: (number | null)[] }> = {
    [io.x]: { type: 'float32', shape: [null, C, H, W] },
    [io.t]: { type: 'int64', shape: [null] },
    ...(io.class === undefined ? {} : { [io.class]: { type: 'int64', shape: [null] } }),
    ...(io.selfCond === undefined ? {} : { [io.selfCond]: { type: 'float32', shape: [null, C, H, W] } }),
  };
  for (const meta of graph.inputMetadata ?? []) {
    const w = want[meta.name];
    if (w === undefined || !meta.isTensor) continue;
    const shape = meta.shape;
    const fits = meta.type === w.type && (shape === undefined || (shape.length === w.shape.length && w.shape.every((d, i) => d === null || shape[i] === d)));
    if (!fits) {
      const card = `${w.type} [${w.shape.map((d) => d ?? 'batch').join(', ')}]`;
      throw new ModelIoError(`model ${spec.name}: input ${meta.name}: the card says ${card}, the ONNX graph has ${meta.type ?? '?'} ${shapeText(shape)}`);
    }
  }
}

function int64(v: Int32Array): BigInt64Array {
  const out = new BigInt64Array(v.length);
  for (let i = 0; i < v.length; i++) out[i] = BigInt(v[i]);
  return out;
}

/** A session over `bytes`, checked against `spec` (an exporter's calibration graph may have more outputs). */
export async function createModelSession(bytes: Uint8Array, spec: GraphSpec, options: SessionOptions = {}): Promise<ModelSession> {
  const { session, Tensor } = await openSession(bytes, options);
  try {
    checkGraphIo(session, spec);
  } catch (e) {
    await session.release();
    throw e;
  }
  return modelSession(session, spec, options.runtime ?? 'web', Tensor);
}

/** A ModelSession over an opened (or fake) session, inputs built as onnxruntime-web tensors unless told otherwise. */
export function modelSession(session: OrtSession, spec: GraphSpec, runtime: OrtRuntime = 'web', Tensor: TensorCtor = web.Tensor as unknown as TensorCtor): ModelSession {
  const { io, name } = spec;
  const [C, H, W] = spec.dims;
  const n = C * H * W;

  function feeds(inputs: ModelInputs): Feeds {
    const B = inputs.t.length;
    const image = (what: string, v: Float32Array): TensorLike => {
      if (v.length !== B * n) throw new ModelIoError(`model ${name}: ${what} must hold ${B} x ${C}x${H}x${W} values, got ${v.length}`);
      return new Tensor('float32', v, [B, C, H, W]);
    };
    const tensors: Record<string, TensorLike> = { [io.x]: image('x', inputs.x), [io.t]: new Tensor('int64', int64(inputs.t), [B]) };
    if (io.class !== undefined) {
      if (inputs.classes === undefined || inputs.classes.length !== B) throw new ModelIoError(`model ${name} is conditional: classes must hold ${B} class ids, got ${inputs.classes?.length ?? 'none'}`);
      tensors[io.class] = new Tensor('int64', int64(inputs.classes), [B]);
    }
    if (io.selfCond !== undefined) {
      if (inputs.selfCond === undefined) throw new ModelIoError(`model ${name} is self-conditioned: selfCond (the previous x0 estimate, zeros at first) is required`);
      tensors[io.selfCond] = image('selfCond', inputs.selfCond);
    }
    return { batch: B, tensors };
  }

  async function runFeeds(f: Feeds, outputs: readonly string[] = [io.output]): Promise<Map<string, Float32Array>> {
    const results = await session.run(f.tensors as Record<string, TensorLike>, outputs);
    const out = new Map<string, Float32Array>();
    for (const o of outputs) {
      const r = results[o];
      if (r === undefined || r.type !== 'float32' || !(r.data instanceof Float32Array)) throw new ModelIoError(`model ${name}: output ${o} is missing or not float32`);
      if (o === io.output && r.data.length !== f.batch * n) throw new ModelIoError(`model ${name}: output ${o} is not float32 [${f.batch}, ${C}, ${H}, ${W}]`);
      // a CPU output's data is already a copy out of the runtime's heap; dispose() only drops the tensor's reference
      out.set(o, r.data);
      r.dispose();
    }
    return out;
  }

  return {
    spec,
    runtime,
    inputNames: session.inputNames,
    outputNames: session.outputNames,
    feeds,
    runFeeds,
    async run(inputs) {
      const out = (await runFeeds(feeds(inputs))).get(io.output);
      if (out === undefined) throw new ModelIoError(`model ${name}: no output ${io.output}`);
      return out;
    },
    endProfiling: () => session.endProfiling(),
    release: () => session.release(),
  };
}
