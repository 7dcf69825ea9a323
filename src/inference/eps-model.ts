import type { EpsModel, ModelInputs } from '../diffusion/index.ts';
import { ModelIoError, type ModelSession } from './onnx.ts';

export { ModelIoError };

export interface EpsModelOptions {
  /** Images per session.run; larger batches are split (bounds the wasm heap). Default: no split. */
  maxBatch?: number;
  /** Called once per session.run with its batch size (instrumentation). */
  onRun?: (batch: number) => void;
  /** Called after each session.run with its batch size and duration in ms (instrumentation: npm run bench). */
  onRunTime?: (batch: number, ms: number) => void;
}

/**
 * Turns a model session (src/inference/onnx.ts) into the diffusion core's EpsModel. A conditional model gets
 * the null class (numClasses) when the caller gives no classes; a self-conditioned one says so
 * (`selfCondition`), so the sampling loop feeds it its previous x0 prediction.
 * Runs are serialized on a promise chain: one session never sees overlapping runs.
 */
export function createEpsModel(session: ModelSession, nullClass: number, options: EpsModelOptions = {}): EpsModel {
  const [C, H, W] = session.spec.dims;
  const n = C * H * W;
  const maxBatch = options.maxBatch ?? Infinity;
  const { io, name } = session.spec;
  let queue: Promise<unknown> = Promise.resolve();

  async function runChunk(inputs: ModelInputs, start: number, b: number): Promise<Float32Array> {
    // No copies: onnxruntime copies its inputs into the wasm heap (views of the chunk's images are enough).
    const B = inputs.t.length;
    const chunk = { ...inputs };
    if (start !== 0 || b !== B) {
      for (const [key, v] of Object.entries(inputs) as [keyof ModelInputs, Float32Array | Int32Array | undefined][]) {
        if (v === undefined) continue;
        const per = v.length / B; // values per image: 1 (t, classes) or C x H x W (x, selfCond)
        Object.assign(chunk, { [key]: v.subarray(start * per, (start + b) * per) });
      }
    }
    if (io.class !== undefined && chunk.classes === undefined) chunk.classes = new Int32Array(b).fill(nullClass);
    options.onRun?.(b);
    const started = performance.now();
    const out = await session.run(chunk);
    options.onRunTime?.(b, performance.now() - started);
    return out;
  }

  async function forward(inputs: ModelInputs): Promise<Float32Array> {
    const B = inputs.t.length;
    // every input holds B times its values per image (src/inference/onnx.ts checks each against the graph)
    for (const [key, v] of Object.entries(inputs) as [string, Float32Array | Int32Array | undefined][]) {
      if (v !== undefined && (v.length % B !== 0 || (key === 'x' && v.length !== B * n))) throw new ModelIoError(`model ${name}: ${key} holds ${v.length} values, not a multiple of ${B} images${key === 'x' ? ` x ${n}` : ''}`);
    }
    if (B <= maxBatch) return runChunk(inputs, 0, B); // one run: its output is the result
    const result = new Float32Array(B * n);
    for (let start = 0; start < B; start += maxBatch) {
      const b = Math.min(maxBatch, B - start);
      result.set(await runChunk(inputs, start, b), start * n);
    }
    return result;
  }

  const model = function onnxEpsModel(inputs: ModelInputs): Promise<Float32Array> {
    const run = queue.then(() => forward(inputs));
    queue = run.catch(() => undefined);
    return run;
  };
  return Object.assign(model, { selfCondition: io.selfCond !== undefined });
}
