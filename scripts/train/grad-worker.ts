/**
 * A gradient worker (worker_threads): its own tfjs backend instance (wasm: one thread each), its own copy
 * of the U-Net. Each step it reads the current weights from the shared buffer, computes loss and
 * gradients of its shard and sends the flat gradient back (transferred, not copied).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { selectBackend, describeBackend, type BackendRequest } from './backend.ts';
import { createUNet, setWeights } from './model.ts';
import { lossAndGrads } from './grad.ts';
import type { UNetConfig } from '../model/config.ts';
import type { Batch } from './batch.ts';
import type { LossType } from './options.ts';
import { absNow, type GradTiming, type WorkerStepTiming } from './profile.ts';

export interface WorkerInit {
  entry: string;
  cfg: UNetConfig;
  backend: BackendRequest;
  convGrad: 'forward' | 'autodiff';
  loss: LossType;
  /** Float32 weights, shared with the main thread (written there between steps only). */
  weights: SharedArrayBuffer;
}

/** `postedAt` (absNow of the main thread) asks for a profiled step. */
export type ToWorker = { type: 'step'; shard: Batch; postedAt?: number } | { type: 'exit' };
export type FromWorker =
  | { type: 'ready'; backend: string; params: number }
  | { type: 'result'; step: number; loss: number; grads: Float32Array; ms: number; timing?: WorkerStepTiming }
  | { type: 'error'; message: string };

async function main(): Promise<void> {
  const port = parentPort;
  if (port === null) throw new Error('grad-worker.ts must run in a worker thread');
  const init = workerData as WorkerInit;
  try {
    const choice = await selectBackend(init.backend);
    const model = createUNet(init.cfg, 0, init.convGrad);
    const weights = new Float32Array(init.weights);
    if (weights.length !== model.layout.total) throw new Error(`shared weights hold ${weights.length} values, the model has ${model.layout.total}`);
    port.on('message', (msg: ToWorker) => {
      if (msg.type === 'exit') {
        port.close();
        return;
      }
      try {
        const t0 = performance.now();
        const prof = msg.postedAt !== undefined;
        const requestMs = prof ? absNow() - (msg.postedAt as number) : 0;
        setWeights(model, weights);
        const t1 = prof ? performance.now() : 0;
        const g: GradTiming | undefined = prof ? { forwardMs: 0, backwardMs: 0, readMs: 0 } : undefined;
        const r = lossAndGrads(model, msg.shard, init.loss, g ? { timing: g } : undefined);
        const reply: FromWorker = { type: 'result', step: msg.shard.step, loss: r.loss, grads: r.grads, ms: performance.now() - t0 };
        if (g) reply.timing = { ...g, requestMs, setWeightsMs: t1 - t0, sentAt: absNow() };
        port.postMessage(reply, [r.grads.buffer as ArrayBuffer]);
      } catch (e) {
        port.postMessage({ type: 'error', message: e instanceof Error ? (e.stack ?? e.message) : String(e) } satisfies FromWorker);
      }
    });
    port.postMessage({ type: 'ready', backend: describeBackend(choice), params: model.layout.total } satisfies FromWorker);
  } catch (e) {
    port.postMessage({ type: 'error', message: e instanceof Error ? (e.stack ?? e.message) : String(e) } satisfies FromWorker);
  }
}

await main();
