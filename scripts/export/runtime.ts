/**
 * onnxruntime-web under Node for the exporter: sessions from bytes, one forward, an EpsModel adapter.
 * One thread, no proxy (as in workerd), so the figures match what serving sees. The evaluation may ask
 * for onnxruntime-node instead (native, about 5x faster on the same graph; it accepts the same tensors).
 */
import * as ort from 'onnxruntime-web';
import type { EpsModel } from '../../src/diffusion/types.ts';

ort.env.wasm.numThreads = 1;
ort.env.wasm.proxy = false;

export interface ModelIo {
  x: string;
  t: string;
  class?: string;
  output: string;
}

export const DEFAULT_IO: Required<ModelIo> = { x: 'x', t: 't', class: 'class', output: 'out' };

export type OrtRuntime = 'web' | 'node';
export const ORT_RUNTIMES: readonly OrtRuntime[] = ['web', 'node'];
export const RUNTIME_LABEL: Record<OrtRuntime, string> = {
  web: 'onnxruntime-web (wasm, 1 thread, as served)',
  node: 'onnxruntime-node (native)',
};

export interface SessionOptions {
  runtime?: OrtRuntime;
  /** onnxruntime-node's intra-op threads (onnxruntime-web always runs one). */
  threads?: number;
}

export async function createSession(bytes: Uint8Array, opts: SessionOptions = {}): Promise<ort.InferenceSession> {
  if (opts.runtime === 'node') {
    let native: typeof import('onnxruntime-node');
    try {
      native = await import('onnxruntime-node');
    } catch (e) {
      throw new Error('onnxruntime-node cannot be loaded (npm ci installs it as a dev dependency); use the web runtime', { cause: e });
    }
    const session = await native.InferenceSession.create(bytes, {
      intraOpNumThreads: opts.threads ?? 1,
      interOpNumThreads: 1,
      graphOptimizationLevel: 'all',
      logSeverityLevel: 3,
    });
    // Same API; onnxruntime-node reads onnxruntime-web's tensors (type, dims, data) as its own.
    return session as unknown as ort.InferenceSession;
  }
  return ort.InferenceSession.create(bytes, {
    executionProviders: ['wasm'],
    graphOptimizationLevel: 'all',
    logSeverityLevel: 3,
  });
}

export interface ForwardInput {
  /** [B, C, H, W] */
  x: Float32Array;
  /** [B] timesteps, 0-based */
  t: ArrayLike<number>;
  /** [B] class ids (numClasses = null class), when the model is conditional */
  y?: ArrayLike<number>;
  /** C, H, W */
  imageDims: readonly [number, number, number];
}

function int64(v: ArrayLike<number>): BigInt64Array {
  return BigInt64Array.from(Array.from(v, (n) => BigInt(n)));
}

export function feeds(io: ModelIo, input: ForwardInput): Record<string, ort.Tensor> {
  const batch = input.t.length;
  const [c, h, w] = input.imageDims;
  if (input.x.length !== batch * c * h * w) throw new Error(`x has ${input.x.length} values, expected ${batch}x${c}x${h}x${w}`);
  const f: Record<string, ort.Tensor> = {
    [io.x]: new ort.Tensor('float32', input.x, [batch, c, h, w]),
    [io.t]: new ort.Tensor('int64', int64(input.t), [batch]),
  };
  if (io.class !== undefined) {
    if (input.y === undefined || input.y.length !== batch) throw new Error(`the model is conditional: ${batch} class ids needed`);
    f[io.class] = new ort.Tensor('int64', int64(input.y), [batch]);
  }
  return f;
}

/** Runs the session and returns the named outputs as Float32Arrays. */
export async function run(
  session: ort.InferenceSession,
  io: ModelIo,
  input: ForwardInput,
  outputs: string[] = [io.output],
): Promise<Map<string, Float32Array>> {
  const result = await session.run(feeds(io, input), outputs);
  const out = new Map<string, Float32Array>();
  for (const name of outputs) {
    const data = result[name].data;
    if (!(data instanceof Float32Array)) throw new Error(`output ${name} is not float32`);
    out.set(name, data);
  }
  return out;
}

/** The session as the diffusion core's EpsModel (runs serialized by the caller's await). */
export function epsModel(session: ort.InferenceSession, io: ModelIo, imageDims: readonly [number, number, number]): EpsModel {
  return async (x, t, cond) => {
    const out = await run(session, io, { x, t, y: cond, imageDims });
    const y = out.get(io.output);
    if (y === undefined) throw new Error('no output');
    return y;
  };
}
