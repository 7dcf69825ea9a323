// The job record and its transitions, one Durable Object per job. A Durable Object is single-threaded and
// strongly consistent: each transition below reads, changes and writes the record with no other event in
// between (blockConcurrencyWhile also holds events back across the queue sends), so counts stay exact
// when chunks finish concurrently, are delivered twice, or a consumer dies mid-chunk.
//
// Nothing here trusts a queue message to arrive: every chunk holds a lease (src/batches/types.ts ChunkLease)
// and the object's alarm re-sends a chunk whose lease expired, a bounded number of times, then fails the job
// and sends its callback. The alarm also repairs a callback message that went missing.
import { DurableObject } from 'cloudflare:workers';
import type { Env } from '../env.ts';
import { BATCH_LIMITS, LEASE_DEFAULTS, leaseConfig, type LeaseConfig } from './limits.ts';
import { SEND_BATCH_MAX } from './queues.ts';
import type { BatchError, BatchEvent, BatchJob, CallbackMessage, ChunkLease, ChunkMessage } from './types.ts';

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
  /** Seconds until the next attempt, when one follows. */
  nextInSeconds?: number;
}

export interface Claim {
  job: BatchJob | null;
  /** True: this delivery owns the chunk now and should render it. False: ack and do nothing. */
  run: boolean;
  /** Messages sent for the chunk so far (1 for the first delivery). */
  sends: number;
}

/** A failed attempt; `retryInSeconds`: when the queue delivers it again (the lease waits that long plus a lease). */
export type ChunkFailure = Omit<BatchError, 'at'> & { retryInSeconds?: number };

function now(): string {
  return new Date().toISOString();
}

function chunkMessage(job: BatchJob, chunk: number): MessageSendRequest<ChunkMessage> {
  return { body: { kind: 'chunk', job: job.id, chunk }, contentType: 'json' };
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

  private config(): LeaseConfig {
    return leaseConfig(this.env);
  }

  /** The lease of a chunk that is not done (created for records older than leases). */
  private leaseOf(job: BatchJob, chunk: number): ChunkLease {
    const leases = (job.leases ??= Array.from({ length: job.chunks }, () => null));
    let lease = leases[chunk];
    if (!lease) {
      lease = { sends: 1, expiresAt: Date.now() + this.config().leaseMs, claimedAt: null };
      leases[chunk] = lease;
    }
    return lease;
  }

  /** The alarm fires at the earliest deadline: a chunk's lease, the callback's due time, or a repair. */
  private async scheduleAlarm(job: BatchJob): Promise<void> {
    const deadlines: number[] = [];
    if (job.finishedAt === null) {
      if (!job.messagesSent) deadlines.push(Date.now() + 1000);
      for (const lease of job.leases ?? []) if (lease) deadlines.push(lease.expiresAt);
    }
    if (job.callback.status === 'pending') deadlines.push(job.callback.enqueued ? (job.callback.dueBy ?? Date.now() + this.config().leaseMs) : Date.now() + 1000);
    if (deadlines.length === 0) await this.ctx.storage.deleteAlarm();
    else await this.ctx.storage.setAlarm(Math.min(...deadlines));
  }

  /** Sends one message per chunk not done, then records that they were sent (a failed send is repaired). */
  private async sendChunks(job: BatchJob): Promise<void> {
    const messages: MessageSendRequest<ChunkMessage>[] = [];
    for (let chunk = 0; chunk < job.chunks; chunk++) {
      if (!job.chunksDone.includes(chunk)) messages.push(chunkMessage(job, chunk));
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
    job.leases = (job.leases ?? []).map(() => null);
    if (job.spec.callbackUrl !== null) {
      job.callback = { ...job.callback, status: 'pending', event, enqueued: false, dueBy: Date.now() + this.config().leaseMs, resends: 0 };
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
   * Stores a new job, gives every chunk a lease and queues the chunks, or, when a job with this id exists (the
   * same idempotency key), counts the delivery and returns it unchanged. An enqueue that failed before is retried here.
   */
  create(job: BatchJob): Promise<CreateResult> {
    return this.serially(async () => {
      const existing = await this.read();
      if (existing) {
        existing.deliveries += 1;
        await this.write(existing);
        if (!existing.messagesSent && existing.finishedAt === null) await this.sendChunks(existing);
        await this.scheduleAlarm(existing);
        return { job: existing, created: false };
      }
      const expiresAt = Date.now() + this.config().leaseMs;
      job.leases = Array.from({ length: job.chunks }, () => ({ sends: 1, expiresAt, claimedAt: null }));
      await this.write(job);
      await this.scheduleAlarm(job); // before the send: a send that fails is repaired by the alarm
      await this.sendChunks(job);
      return { job, created: true };
    });
  }

  /** The record; a finished job whose callback could not be queued is repaired here, and a missing alarm is set. */
  get(): Promise<BatchJob | null> {
    return this.serially(async () => {
      const job = await this.read();
      if (!job) return null;
      if (job.callback.status === 'pending' && !job.callback.enqueued) await this.sendCallback(job).catch(() => undefined);
      const pendingWork = (job.finishedAt === null && job.leases !== undefined) || job.callback.status === 'pending';
      if (pendingWork && (await this.ctx.storage.getAlarm()) === null) await this.scheduleAlarm(job);
      return job;
    });
  }

  /**
   * A consumer received chunk `chunk`. It may render it unless the job is finished, the chunk is done, or
   * another delivery holds an unexpired claim (that one finishes it, or its lease expires and the alarm re-sends).
   */
  claim(chunk: number): Promise<Claim> {
    return this.serially(async () => {
      const job = (await this.read()) ?? null;
      if (!job || job.finishedAt !== null || job.chunksDone.includes(chunk) || chunk >= job.chunks) return { job, run: false, sends: 0 };
      const lease = this.leaseOf(job, chunk);
      const t = Date.now();
      if (lease.claimedAt !== null && lease.expiresAt > t) return { job, run: false, sends: lease.sends };
      lease.claimedAt = t;
      lease.expiresAt = t + this.config().leaseMs;
      if (job.status === 'queued') job.status = 'running';
      await this.write(job);
      await this.scheduleAlarm(job);
      return { job, run: true, sends: lease.sends };
    });
  }

  /** An image of a claimed chunk is in R2: the lease is renewed. False: stop (the job finished meanwhile). */
  progress(chunk: number): Promise<boolean> {
    return this.serially(async () => {
      const job = await this.read();
      if (!job || job.finishedAt !== null || job.chunksDone.includes(chunk)) return false;
      this.leaseOf(job, chunk).expiresAt = Date.now() + this.config().leaseMs;
      await this.write(job);
      return true;
    });
  }

  /** A chunk's images are all in R2. Idempotent: a chunk finished twice counts once. */
  chunkDone(chunk: number, images: number): Promise<BatchJob | null> {
    return this.serially(async () => {
      const job = await this.read();
      if (!job) return null;
      if (!job.chunksDone.includes(chunk) && job.finishedAt === null) {
        job.chunksDone = [...job.chunksDone, chunk].sort((a, b) => a - b);
        job.imagesDone += images;
        if (job.leases) job.leases[chunk] = null;
        if (job.status === 'queued') job.status = 'running';
        await this.write(job);
      }
      if (job.chunksDone.length === job.chunks) await this.finish(job, 'batch.succeeded');
      else if (job.callback.status === 'pending') await this.sendCallback(job);
      await this.scheduleAlarm(job);
      return job;
    });
  }

  /** An attempt of a chunk failed; `final` (dead-letter queue, or an error no retry can fix) fails the job. */
  chunkFailed(failure: ChunkFailure): Promise<BatchJob | null> {
    return this.serially(async () => {
      const job = await this.read();
      if (!job) return null;
      if (job.chunksDone.includes(failure.chunk)) return job; // a late duplicate of a chunk that succeeded
      const { retryInSeconds, ...error } = failure;
      job.errors = [...job.errors, { ...error, at: now() }].slice(-BATCH_LIMITS.maxErrors);
      if (!error.final && job.finishedAt === null && failure.chunk < job.chunks) {
        // the queue delivers it again after its backoff: the lease waits for that, then a lease more
        const lease = this.leaseOf(job, failure.chunk);
        lease.claimedAt = null;
        lease.expiresAt = Date.now() + (retryInSeconds ?? 0) * 1000 + this.config().leaseMs;
      }
      await this.write(job);
      if (error.final) await this.finish(job, 'batch.failed');
      await this.scheduleAlarm(job);
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
        job.callback.dueBy = null;
      } else if (result.gaveUp) {
        job.callback.status = 'failed';
        job.callback.dueBy = null;
      } else {
        job.callback.dueBy = Date.now() + (result.nextInSeconds ?? 0) * 1000 + this.config().leaseMs;
      }
      await this.write(job);
      await this.scheduleAlarm(job);
    });
  }

  /**
   * Re-sends every chunk whose lease expired (a lost message, a killed server, a stuck consumer); a chunk sent
   * maxSends times fails the job (its callback follows). Also re-sends lost chunk and callback messages.
   */
  override alarm(): Promise<void> {
    return this.serially(async () => {
      const job = await this.read();
      if (!job) return;
      const { leaseMs, maxSends } = this.config();
      const t = Date.now();
      if (job.finishedAt === null) {
        if (!job.messagesSent) await this.sendChunks(job);
        const resend: number[] = [];
        let exhausted: { chunk: number; sends: number } | null = null;
        const leases = job.leases ?? [];
        for (let chunk = 0; chunk < leases.length && exhausted === null; chunk++) {
          const lease = leases[chunk];
          if (!lease || lease.expiresAt > t) continue;
          if (lease.sends >= maxSends) {
            exhausted = { chunk, sends: lease.sends };
          } else {
            lease.sends += 1;
            lease.claimedAt = null;
            lease.expiresAt = t + leaseMs;
            resend.push(chunk);
          }
        }
        if (exhausted !== null) {
          const { chunk, sends } = exhausted;
          const message = `gave up: chunk ${chunk} was sent ${sends} times and no consumer finished it (lease ${leaseMs / 1000} s)`;
          job.errors = [...job.errors, { chunk, attempt: sends, message, at: now(), final: true }].slice(-BATCH_LIMITS.maxErrors);
          await this.write(job);
          await this.finish(job, 'batch.failed');
        } else if (resend.length > 0) {
          await this.write(job); // the leases first: a crash between the two re-sends again later
          const messages = resend.map((chunk) => chunkMessage(job, chunk));
          for (let i = 0; i < messages.length; i += SEND_BATCH_MAX) await this.env.BATCH_CHUNKS.sendBatch(messages.slice(i, i + SEND_BATCH_MAX));
          console.warn(`batch ${job.id}: lease expired, re-sent chunk(s) ${resend.join(', ')}`);
        }
      }
      const callback = job.callback;
      if (callback.status === 'pending') {
        if (!callback.enqueued) await this.sendCallback(job);
        else if ((callback.dueBy ?? 0) <= t) {
          if ((callback.resends ?? 0) < LEASE_DEFAULTS.maxCallbackResends) {
            callback.resends = (callback.resends ?? 0) + 1;
            callback.dueBy = t + leaseMs;
            await this.write(job);
            await this.env.BATCH_CALLBACKS.send({ kind: 'callback', job: job.id }, { contentType: 'json' });
          } else {
            callback.status = 'failed';
            callback.lastError = 'gave up: the callback message was lost repeatedly';
            callback.dueBy = null;
            await this.write(job);
          }
        }
      }
      await this.scheduleAlarm(job);
    });
  }
}
