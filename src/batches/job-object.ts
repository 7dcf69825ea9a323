// The job record and its transitions, one Durable Object per job. A Durable Object is single-threaded and
// strongly consistent: each transition below reads, changes and writes the record with no other event in
// between (blockConcurrencyWhile also holds events back across the queue sends), so counts stay exact
// when chunks finish concurrently, are delivered twice, or a consumer dies mid-chunk.
import { DurableObject } from 'cloudflare:workers';
import type { Env } from '../env.ts';
import { BATCH_LIMITS } from './limits.ts';
import { SEND_BATCH_MAX } from './queues.ts';
import type { BatchError, BatchEvent, BatchJob, CallbackMessage, ChunkMessage } from './types.ts';

const KEY = 'job';

export interface CreateResult {
  job: BatchJob;
  /** False when the job already existed (a replayed delivery): no new work was started. */
  created: boolean;
}

export interface CallbackAttempt {
  attempt: number;
  ok: boolean;
  status?: number;
  error?: string;
  /** No attempt follows (schedule exhausted, or the message reached the dead-letter queue). */
  gaveUp: boolean;
}

function now(): string {
  return new Date().toISOString();
}

export class BatchJobObject extends DurableObject<Env> {
  private read(): Promise<BatchJob | undefined> {
    return this.ctx.storage.get<BatchJob>(KEY);
  }

  private async write(job: BatchJob): Promise<void> {
    job.updatedAt = now();
    await this.ctx.storage.put(KEY, job);
  }

  private serially<T>(fn: () => Promise<T>): Promise<T> {
    return this.ctx.blockConcurrencyWhile(fn);
  }

  /** Sends one message per chunk, then records that they were sent (a failed send is repaired by a replay). */
  private async sendChunks(job: BatchJob): Promise<void> {
    const messages: MessageSendRequest<ChunkMessage>[] = [];
    for (let chunk = 0; chunk < job.chunks; chunk++) {
      if (!job.chunksDone.includes(chunk)) messages.push({ body: { kind: 'chunk', job: job.id, chunk }, contentType: 'json' });
    }
    for (let i = 0; i < messages.length; i += SEND_BATCH_MAX) {
      await this.env.BATCH_CHUNKS.sendBatch(messages.slice(i, i + SEND_BATCH_MAX));
    }
    job.messagesSent = true;
    await this.write(job);
  }

  /** Marks the job finished (once) and queues its callback when it has a URL. */
  private async finish(job: BatchJob, event: BatchEvent): Promise<void> {
    if (job.finishedAt !== null) return;
    job.status = event === 'batch.succeeded' ? 'succeeded' : 'failed';
    job.finishedAt = now();
    if (job.spec.callbackUrl !== null) {
      job.callback = { ...job.callback, status: 'pending', event, enqueued: false };
    }
    await this.write(job);
    await this.sendCallback(job);
  }

  private async sendCallback(job: BatchJob): Promise<void> {
    if (job.callback.status !== 'pending' || job.callback.enqueued) return;
    const message: CallbackMessage = { kind: 'callback', job: job.id };
    await this.env.BATCH_CALLBACKS.send(message, { contentType: 'json' });
    job.callback.enqueued = true;
    await this.write(job);
  }

  /**
   * Stores a new job and queues its chunks, or, when a job with this id exists (the same idempotency key),
   * counts the delivery and returns it unchanged. An enqueue that failed before is retried here.
   */
  create(job: BatchJob): Promise<CreateResult> {
    return this.serially(async () => {
      const existing = await this.read();
      if (existing) {
        existing.deliveries += 1;
        await this.write(existing);
        if (!existing.messagesSent) await this.sendChunks(existing);
        return { job: existing, created: false };
      }
      await this.write(job);
      await this.sendChunks(job);
      return { job, created: true };
    });
  }

  /** The record; a finished job whose callback could not be queued is repaired here. */
  get(): Promise<BatchJob | null> {
    return this.serially(async () => {
      const job = await this.read();
      if (!job) return null;
      if (job.callback.status === 'pending' && !job.callback.enqueued) await this.sendCallback(job).catch(() => undefined);
      return job;
    });
  }

  /** A consumer started a chunk (queued -> running). */
  chunkStarted(): Promise<void> {
    return this.serially(async () => {
      const job = await this.read();
      if (job && job.status === 'queued') {
        job.status = 'running';
        await this.write(job);
      }
    });
  }

  /** A chunk's images are all in R2. Idempotent: a chunk finished twice counts once. */
  chunkDone(chunk: number, images: number): Promise<BatchJob | null> {
    return this.serially(async () => {
      const job = await this.read();
      if (!job) return null;
      if (!job.chunksDone.includes(chunk)) {
        job.chunksDone = [...job.chunksDone, chunk].sort((a, b) => a - b);
        job.imagesDone += images;
        if (job.status === 'queued') job.status = 'running';
        await this.write(job);
      }
      if (job.chunksDone.length === job.chunks) await this.finish(job, 'batch.succeeded');
      else if (job.callback.status === 'pending') await this.sendCallback(job);
      return job;
    });
  }

  /** An attempt of a chunk failed; `final` (dead-letter queue, or an error no retry can fix) fails the job. */
  chunkFailed(error: Omit<BatchError, 'at'>): Promise<BatchJob | null> {
    return this.serially(async () => {
      const job = await this.read();
      if (!job) return null;
      if (job.chunksDone.includes(error.chunk)) return job; // a late duplicate of a chunk that succeeded
      job.errors = [...job.errors, { ...error, at: now() }].slice(-BATCH_LIMITS.maxErrors);
      await this.write(job);
      if (error.final) await this.finish(job, 'batch.failed');
      return job;
    });
  }

  /** Records a callback attempt. */
  callbackAttempt(result: CallbackAttempt): Promise<void> {
    return this.serially(async () => {
      const job = await this.read();
      if (!job || job.callback.status === 'delivered') return;
      job.callback.attempts = Math.max(job.callback.attempts, result.attempt);
      job.callback.lastStatus = result.status ?? null;
      job.callback.lastError = result.ok ? null : (result.error ?? null);
      if (result.ok) {
        job.callback.status = 'delivered';
        job.callback.deliveredAt = now();
      } else if (result.gaveUp) {
        job.callback.status = 'failed';
      }
      await this.write(job);
    });
  }
}
