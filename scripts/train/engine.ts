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
import { absNow, type EngineTiming, type GradTiming, type WorkerStepTiming } from './profile.ts';

export interface StepGrad {
  loss: number;
  grads: Float32Array;
  /** Only with `profile` on (bench --profile). */
  timing?: EngineTiming;
}

export interface GradEngine {
  readonly description: string;
  /** Shared with the optimiser: update in place, the next `compute` uses it. */
  readonly weights: Float32Array;
  /** Time the phases of each compute (StepGrad.timing); off by default, and then nothing is timed. */
  profile: boolean;
  compute(batch: Batch): Promise<StepGrad>;
  close(): Promise<void>;
}

export function sharedWeights(total: number): Float32Array {
  return new Float32Array(new SharedArrayBuffer(total * 4));
}

export class InProcessEngine implements GradEngine {
  readonly description: string;
  readonly weights: Float32Array;
  profile = false;
  private readonly model: TfjsUNet;

  constructor(cfg: UNetConfig, convGrad: 'forward' | 'autodiff', private readonly loss: LossType, backendLine: string) {
    this.model = createUNet(cfg, 0, convGrad);
    this.weights = sharedWeights(this.model.layout.total);
    this.description = `in-process: ${backendLine}`;
  }

  async compute(batch: Batch): Promise<StepGrad> {
    if (!this.profile) {
      setWeights(this.model, this.weights);
      return lossAndGrads(this.model, shardOf(batch, 0, 1), this.loss);
    }
    const t0 = performance.now();
    setWeights(this.model, this.weights);
    const t1 = performance.now();
    const g: GradTiming = { forwardMs: 0, backwardMs: 0, readMs: 0 };
    const r = lossAndGrads(this.model, shardOf(batch, 0, 1), this.loss, { timing: g });
    const t2 = performance.now();
    return { ...r, timing: { postMs: 0, waitMs: t2 - t0, sumMs: 0, workers: [{ ...g, requestMs: 0, setWeightsMs: t1 - t0, replyMs: 0 }] } };
  }

  async close(): Promise<void> {}
}

interface WorkerResult {
  loss: number;
  grads: Float32Array;
  timing?: WorkerStepTiming;
  receivedAt: number;
}

interface Pending {
  resolve: (r: WorkerResult) => void;
  reject: (e: Error) => void;
}

export class WorkerPoolEngine implements GradEngine {
  readonly weights: Float32Array;
  description = '';
  profile = false;
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
      pool.description = `${n} worker thread${n === 1 ? '' : 's'}: ${lines[0]}`;
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
    if (m.type === 'result') p.resolve({ loss: m.loss, grads: m.grads, timing: m.timing, receivedAt: m.timing ? absNow() : 0 });
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
    const prof = this.profile;
    const t0 = prof ? performance.now() : 0;
    const all = Promise.all(
      this.workers.map(
        (w, k) =>
          new Promise<WorkerResult>((resolve, reject) => {
            this.pending[k] = { resolve, reject };
            const shard = shardOf(batch, k, n);
            w.postMessage((prof ? { type: 'step', shard, postedAt: absNow() } : { type: 'step', shard }) satisfies ToWorker);
          }),
      ),
    );
    const t1 = prof ? performance.now() : 0;
    const results = await all;
    const t2 = prof ? performance.now() : 0;
    // average in a fixed order (deterministic)
    const grads = results[0].grads;
    let loss = results[0].loss;
    for (let k = 1; k < n; k++) {
      const g = results[k].grads;
      for (let i = 0; i < grads.length; i++) grads[i] += g[i];
      loss += results[k].loss;
    }
    if (n > 1) for (let i = 0; i < grads.length; i++) grads[i] /= n;
    if (!prof) return { loss: loss / n, grads };
    const workers = results.map((r) => {
      const t = r.timing ?? { forwardMs: 0, backwardMs: 0, readMs: 0, requestMs: 0, setWeightsMs: 0, sentAt: r.receivedAt };
      return { forwardMs: t.forwardMs, backwardMs: t.backwardMs, readMs: t.readMs, requestMs: t.requestMs, setWeightsMs: t.setWeightsMs, replyMs: r.receivedAt - t.sentAt };
    });
    return { loss: loss / n, grads, timing: { postMs: t1 - t0, waitMs: t2 - t1, sumMs: performance.now() - t2, workers } };
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
