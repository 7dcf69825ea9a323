/**
 * U-Net forward latency under Node: onnxruntime-web (wasm, one thread, as served) and onnxruntime-node
 * (native CPU provider, intraOpNumThreads = 1), both with graphOptimizationLevel 'all'.
 */
import { createModelSession, fileSessionOptions, graphSpec, type OrtRuntime } from '../../src/inference/onnx.ts';
import type { ModelCard } from '../../src/model-card.ts';
import { forwardInputs } from './inputs.ts';
import { timeRuns, type Timing, type TimingOptions } from './timing.ts';

export type Precision = 'fp32' | 'int8';
export type Runtime = 'web-node' | 'web-workerd' | 'native' | 'native-avx2';

export interface ForwardRow {
  runtime: Runtime;
  precision: Precision;
  batch: number;
  timing: Timing;
  /** wasm heap after this batch (workerd only; it never shrinks). */
  heapBytes?: number;
}

/** Forward latency at each batch size in one runtime (one session, feeds built once per batch size). */
async function timeForwards(
  runtime: OrtRuntime,
  card: ModelCard,
  bytes: Uint8Array,
  precision: Precision,
  batches: readonly number[],
  timing: TimingOptions,
  initialWarmupMs: number,
): Promise<ForwardRow[]> {
  const session = await createModelSession(bytes, graphSpec(card), { runtime, threads: 1, ...fileSessionOptions(card.files[precision]) });
  const rows: ForwardRow[] = [];
  try {
    // as in workerd: let V8 tier the runtime's wasm up before timing (scripts/bench/workerd/bench-worker.ts)
    const warm = session.feeds(forwardInputs(card, 1));
    const until = performance.now() + initialWarmupMs;
    while (performance.now() < until) await session.runFeeds(warm);
    for (const batch of batches) {
      const feeds = session.feeds(forwardInputs(card, batch));
      const t = await timeRuns(() => session.runFeeds(feeds), timing, () => performance.now());
      rows.push({ runtime: runtime === 'web' ? 'web-node' : 'native', precision, batch, timing: t });
    }
  } finally {
    await session.release();
  }
  return rows;
}

export function timeWebNode(
  card: ModelCard,
  bytes: Uint8Array,
  precision: Precision,
  batches: readonly number[],
  timing: TimingOptions,
  initialWarmupMs = 2000,
): Promise<ForwardRow[]> {
  return timeForwards('web', card, bytes, precision, batches, timing, initialWarmupMs);
}

export function timeNative(card: ModelCard, bytes: Uint8Array, precision: Precision, batches: readonly number[], timing: TimingOptions): Promise<ForwardRow[]> {
  return timeForwards('node', card, bytes, precision, batches, timing, 0);
}
