/**
 * Gradient engines: compute the batch-mean loss and gradient for the current weights.
 * - InProcessEngine: the main thread's backend (native tfjs-node, or a single wasm/cpu instance).
 * - WorkerPoolEngine: n worker_threads, each with its own backend instance and a shard of the batch;
 *   the main thread averages their gradients (equal shards, so the mean of shard means is the batch mean).
 * Weights live in a SharedArrayBuffer the optimiser updates in place between steps.
 */
import { Worker } from 'node:worker_threads';
import { shardOf, type Batch } from './batch.ts';
import type { BackendRequest } from './backend.ts';
import { lossAndGrads } from './grad.ts';
import { createUNet, setWeights, type TfjsUNet } from './model.ts';
import type { LossType } from './options.ts';
import type { UNetConfig } from '../model/config.ts';
import type { FromWorker, ToWorker, WorkerInit } from './grad-worker.ts';

export interface StepGrad {
  loss: number;
  grads: Float32Array;
}

export interface GradEngine {
  readonly description: string;
  /** Shared with the optimiser: update in place, the next `compute` uses it. */
  readonly weights: Float32Array;
  compute(batch: Batch): Promise<StepGrad>;
  close(): Promise<void>;
}

export function sharedWeights(total: number): Float32Array {
  return new Float32Array(new SharedArrayBuffer(total * 4));
}

export class InProcessEngine implements GradEngine {
  readonly description: string;
  readonly weights: Float32Array;
  private readonly model: TfjsUNet;

  constructor(cfg: UNetConfig, convGrad: 'forward' | 'autodiff', private readonly loss: LossType, backendLine: string) {
    this.model = createUNet(cfg, 0, convGrad);
    this.weights = sharedWeights(this.model.layout.total);
    this.description = `in-process (${backendLine})`;
  }

  async compute(batch: Batch): Promise<StepGrad> {
    setWeights(this.model, this.weights);
    return lossAndGrads(this.model, shardOf(batch, 0, 1), this.loss);
  }

  async close(): Promise<void> {}
}

interface Pending {
  resolve: (r: { loss: number; grads: Float32Array }) => void;
  reject: (e: Error) => void;
}

export class WorkerPoolEngine implements GradEngine {
  readonly weights: Float32Array;
  description = '';
  private readonly workers: Worker[] = [];
  private readonly pending: (Pending | null)[] = [];
  private dead: Error | null = null;

  private constructor(total: number) {
    this.weights = sharedWeights(total);
  }

  /** Start n workers and wait until each has its backend and model. */
  static async start(n: number, cfg: UNetConfig, total: number, backend: BackendRequest, convGrad: 'forward' | 'autodiff', loss: LossType): Promise<WorkerPoolEngine> {
    const pool = new WorkerPoolEngine(total);
    const boot = new URL('./worker-boot.mjs', import.meta.url);
    const entry = new URL('./grad-worker.ts', import.meta.url).href;
    const ready: Promise<string>[] = [];
    for (let k = 0; k < n; k++) {
      const init: WorkerInit = { entry, cfg, backend, convGrad, loss, weights: pool.weights.buffer as SharedArrayBuffer };
      const w = new Worker(boot, { workerData: init });
      pool.workers.push(w);
      pool.pending.push(null);
      ready.push(
        new Promise<string>((resolve, reject) => {
          const onMsg = (m: FromWorker): void => {
            if (m.type === 'ready') {
              w.off('message', onMsg);
              if (m.params !== total) reject(new Error(`worker ${k}: model has ${m.params} parameters, expected ${total}`));
              else resolve(m.backend);
            } else if (m.type === 'error') reject(new Error(`worker ${k} failed to start: ${m.message}`));
          };
          w.on('message', onMsg);
          w.once('error', reject);
        }),
      );
      w.on('message', (m: FromWorker) => pool.onMessage(k, m));
      w.on('error', (e) => pool.fail(new Error(`worker ${k} crashed: ${e.message}`)));
      w.on('exit', (code) => {
        if (code !== 0) pool.fail(new Error(`worker ${k} exited with code ${code}`));
      });
    }
    try {
      const lines = await Promise.all(ready);
      pool.description = `${n} worker threads (${lines[0]})`;
    } catch (e) {
      await pool.close();
      throw e;
    }
    return pool;
  }

  private onMessage(k: number, m: FromWorker): void {
    const p = this.pending[k];
    if (m.type === 'ready' || p === null) return;
    this.pending[k] = null;
    if (m.type === 'result') p.resolve({ loss: m.loss, grads: m.grads });
    else p.reject(new Error(`worker ${k}: ${m.message}`));
  }

  private fail(e: Error): void {
    this.dead ??= e;
    for (let k = 0; k < this.pending.length; k++) {
      const p = this.pending[k];
      this.pending[k] = null;
      p?.reject(e);
    }
  }

  async compute(batch: Batch): Promise<StepGrad> {
    if (this.dead) throw this.dead;
    const n = this.workers.length;
    const results = await Promise.all(
      this.workers.map(
        (w, k) =>
          new Promise<{ loss: number; grads: Float32Array }>((resolve, reject) => {
            this.pending[k] = { resolve, reject };
            w.postMessage({ type: 'step', shard: shardOf(batch, k, n) } satisfies ToWorker);
          }),
      ),
    );
    // average in a fixed order (deterministic)
    const grads = results[0].grads;
    let loss = results[0].loss;
    for (let k = 1; k < n; k++) {
      const g = results[k].grads;
      for (let i = 0; i < grads.length; i++) grads[i] += g[i];
      loss += results[k].loss;
    }
    if (n > 1) for (let i = 0; i < grads.length; i++) grads[i] /= n;
    return { loss: loss / n, grads };
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
