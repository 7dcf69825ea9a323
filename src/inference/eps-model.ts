import { Tensor, type InferenceSession } from 'onnxruntime-web/wasm';
import type { EpsModel } from '../diffusion/index.ts';
import type { NetworkCard } from '../model-card.ts';

/** The session does not have the inputs or outputs its model card names. */
export class ModelIoError extends Error {
  override readonly name = 'ModelIoError';
}

/** Fails with a message naming every input or output of `card.io` the graph lacks. */
export function checkSessionIo(session: Pick<InferenceSession, 'inputNames' | 'outputNames'>, card: NetworkCard): void {
  const missing: string[] = [];
  for (const name of [card.io.x, card.io.t, ...(card.io.class === undefined ? [] : [card.io.class])]) {
    if (!session.inputNames.includes(name)) missing.push(`input ${name}`);
  }
  if (!session.outputNames.includes(card.io.output)) missing.push(`output ${card.io.output}`);
  if (missing.length > 0) {
    throw new ModelIoError(
      `model ${card.name}: the ONNX graph lacks ${missing.join(', ')} (has inputs [${session.inputNames.join(', ')}], outputs [${session.outputNames.join(', ')}])`,
    );
  }
}

export interface EpsModelOptions {
  /** Images per session.run; larger batches are split (bounds the wasm heap). */
  maxBatch: number;
  /** Called once per session.run with its batch size (instrumentation). */
  onRun?: (batch: number) => void;
  /** Called after each session.run with its batch size and duration in ms (instrumentation: npm run bench). */
  onRunTime?: (batch: number, ms: number) => void;
}

/**
 * Turns an onnxruntime session into the diffusion core's EpsModel: x [B, C, H, W] float32, t [B] int64
 * (0-based), class [B] int64 (conditional models; the null class numClasses when the caller gives none).
 * Runs are serialized on a promise chain: one session never sees overlapping runs.
 */
export function createEpsModel(session: InferenceSession, card: NetworkCard, options: EpsModelOptions): EpsModel {
  checkSessionIo(session, card);
  const C = card.channels;
  const H = card.imageSize;
  const W = card.imageSize;
  const n = C * H * W;
  const nullClass = card.architecture.numClasses;
  const classInput = card.io.class;
  let queue: Promise<unknown> = Promise.resolve();

  async function runChunk(x: Float32Array, t: Int32Array, cond: Int32Array | undefined, start: number, b: number): Promise<Float32Array> {
    // No copies of x: onnxruntime copies its inputs into the wasm heap (a view of the chunk is enough).
    const steps = new BigInt64Array(b);
    for (let i = 0; i < b; i++) steps[i] = BigInt(t[start + i]);
    const feeds: Record<string, Tensor> = {
      [card.io.x]: new Tensor('float32', start === 0 && b * n === x.length ? x : x.subarray(start * n, (start + b) * n), [b, C, H, W]),
      [card.io.t]: new Tensor('int64', steps, [b]),
    };
    if (classInput !== undefined) {
      const ids = new BigInt64Array(b);
      for (let i = 0; i < b; i++) ids[i] = BigInt(cond ? cond[start + i] : nullClass);
      feeds[classInput] = new Tensor('int64', ids, [b]);
    }
    options.onRun?.(b);
    const started = performance.now();
    const results = await session.run(feeds);
    options.onRunTime?.(b, performance.now() - started);
    const out = results[card.io.output];
    if (!out || out.type !== 'float32' || !(out.data instanceof Float32Array) || out.data.length !== b * n) {
      throw new ModelIoError(`model ${card.name}: output ${card.io.output} is not float32 [${b}, ${C}, ${H}, ${W}]`);
    }
    // A CPU output's data is already a copy out of the wasm heap, and dispose() only drops the tensor's reference
    // to it: the array is ours, no second copy.
    const data = out.data;
    out.dispose();
    return data;
  }

  async function forward(x: Float32Array, t: Int32Array, cond?: Int32Array): Promise<Float32Array> {
    const B = t.length;
    if (x.length !== B * n) throw new ModelIoError(`x must hold ${B} x ${n} values, got ${x.length}`);
    if (cond && cond.length !== B) throw new ModelIoError(`class must hold ${B} values, got ${cond.length}`);
    if (B <= options.maxBatch) return runChunk(x, t, cond, 0, B); // one run: its output is the result
    const result = new Float32Array(B * n);
    for (let start = 0; start < B; start += options.maxBatch) {
      const b = Math.min(options.maxBatch, B - start);
      result.set(await runChunk(x, t, cond, start, b), start * n);
    }
    return result;
  }

  return function onnxEpsModel(x, t, cond) {
    const run = queue.then(() => forward(x, t, cond));
    queue = run.catch(() => undefined);
    return run;
  };
}
