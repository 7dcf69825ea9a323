/**
 * U-Net forward latency under Node: onnxruntime-web (wasm, one thread, as served) and onnxruntime-node
 * (native CPU provider, intraOpNumThreads = 1), both with graphOptimizationLevel 'all'.
 */
import * as ortNode from 'onnxruntime-node';
import * as ortWeb from 'onnxruntime-web';
import type { ModelCard } from '../../src/model-card.ts';
import { forwardInputs } from './inputs.ts';
import { timeRuns, type Timing, type TimingOptions } from './timing.ts';

ortWeb.env.wasm.numThreads = 1;
ortWeb.env.wasm.proxy = false;

export type Precision = 'fp32' | 'int8';
export type Runtime = 'web-node' | 'web-workerd' | 'native';

export interface ForwardRow {
  runtime: Runtime;
  precision: Precision;
  batch: number;
  timing: Timing;
  /** wasm heap after this batch (workerd only; it never shrinks). */
  heapBytes?: number;
}

interface TensorCtor<T> {
  new (type: 'float32', data: Float32Array, dims: readonly number[]): T;
  new (type: 'int64', data: BigInt64Array, dims: readonly number[]): T;
}

function feedsOf<T>(Tensor: TensorCtor<T>, card: ModelCard, batch: number): Record<string, T> {
  const { x, t, y } = forwardInputs(card, batch);
  const feeds: Record<string, T> = {
    [card.io.x]: new Tensor('float32', x, [batch, card.channels, card.imageSize, card.imageSize]),
    [card.io.t]: new Tensor('int64', t, [batch]),
  };
  if (card.io.class !== undefined && y) feeds[card.io.class] = new Tensor('int64', y, [batch]);
  return feeds;
}

export async function timeWebNode(
  card: ModelCard,
  bytes: Uint8Array,
  precision: Precision,
  batches: readonly number[],
  timing: TimingOptions,
  initialWarmupMs = 2000,
): Promise<ForwardRow[]> {
  const session = await ortWeb.InferenceSession.create(bytes, { executionProviders: ['wasm'], graphOptimizationLevel: 'all', logSeverityLevel: 3 });
  const rows: ForwardRow[] = [];
  try {
    // as in workerd: let V8 tier the runtime's wasm up before timing (scripts/bench/workerd/bench-worker.ts)
    const warm = feedsOf(ortWeb.Tensor, card, 1);
    const until = performance.now() + initialWarmupMs;
    while (performance.now() < until) await session.run(warm);
    for (const batch of batches) {
      const feeds = feedsOf(ortWeb.Tensor, card, batch);
      const t = await timeRuns(() => session.run(feeds), timing, () => performance.now());
      rows.push({ runtime: 'web-node', precision, batch, timing: t });
    }
  } finally {
    await session.release();
  }
  return rows;
}

export async function timeNative(card: ModelCard, bytes: Uint8Array, precision: Precision, batches: readonly number[], timing: TimingOptions): Promise<ForwardRow[]> {
  const session = await ortNode.InferenceSession.create(bytes, {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    logSeverityLevel: 3,
  });
  const rows: ForwardRow[] = [];
  try {
    for (const batch of batches) {
      const feeds = feedsOf(ortNode.Tensor, card, batch);
      const t = await timeRuns(() => session.run(feeds), timing, () => performance.now());
      rows.push({ runtime: 'native', precision, batch, timing: t });
    }
  } finally {
    await session.release();
  }
  return rows;
}
