// The queue consumer: chunk work, callback deliveries, and the dead-letter queue.
import { DiffusionOptionError, NonFiniteOutputError } from '../diffusion/index.ts';
import type { Env } from '../env.ts';
import { ModelIoError } from '../inference/eps-model.ts';
import { ModelIntegrityError } from '../inference/integrity.ts';
import { loadEpsModel } from '../inference/runtime.ts';
import type { ModelRegistry } from '../models/registry.ts';
import { callbackSchedule, deliverOnce, nextCallbackDelay } from '../webhooks/index.ts';
import { callbackPayload } from './view.ts';
import { chunkRange, renderImage } from './generate.ts';
import { chunkRetryDelay, leaseConfig } from './limits.ts';
import { QUEUE_NAMES } from './queues.ts';
import { imageKey, putPng } from './store.ts';
import type { BatchJob, BatchMessage, CallbackMessage, ChunkMessage } from './types.ts';

/** A failure no retry can fix (the model changed or vanished since the job was accepted). */
class PermanentChunkError extends Error {
  override readonly name = 'PermanentChunkError';
}

/**
 * Errors no retry can fix: the model changed or failed its integrity check, options the sampler refuses, or a
 * model that answers NaN (deterministic: the same inputs give the same NaN). They fail the job at once.
 */
function isPermanent(error: unknown): boolean {
  return error instanceof PermanentChunkError || error instanceof ModelIntegrityError || error instanceof DiffusionOptionError || error instanceof NonFiniteOutputError || error instanceof ModelIoError;
}

/** Test-only fault (BATCH_TEST_FAULTS=enabled, `testFaults` in the request). */
class InjectedFault extends Error {
  override readonly name = 'InjectedFault';
}

function jobStub(env: Env, id: string) {
  return env.BATCH_JOBS.get(env.BATCH_JOBS.idFromName(id));
}

function isBatchMessage(body: unknown): body is BatchMessage {
  if (body === null || typeof body !== 'object') return false;
  const m = body as Record<string, unknown>;
  if (typeof m.job !== 'string') return false;
  return m.kind === 'callback' || (m.kind === 'chunk' && typeof m.chunk === 'number');
}

/**
 * Renders a chunk's images into R2, renewing the chunk's lease after each, then records the chunk as done.
 * Throws to have the message retried. Stops early when the job finished meanwhile (failed by another chunk).
 */
async function runChunk(env: Env, registry: ModelRegistry, job: BatchJob, chunk: number, attempt: number, stage: Stage): Promise<void> {
  const { spec } = job;
  const entry = registry.get(spec.model);
  if (!entry || entry.card.files.int8.sha256 !== spec.modelSha256) {
    throw new PermanentChunkError(`model ${spec.model} (sha256 ${spec.modelSha256.slice(0, 12)}) is no longer served`);
  }
  stage.at = 'load model';
  const model = await loadEpsModel(entry, { wasmEntry: env.ORT_WASM_ENTRY });
  const faults = env.BATCH_TEST_FAULTS === 'enabled' ? job.faults : null;
  const stub = jobStub(env, job.id);
  const [start, end] = chunkRange(spec, chunk);
  for (let k = start; k < end; k++) {
    stage.at = `render image ${k}`;
    const bytes = await renderImage(model, entry.card, spec, k);
    stage.at = `store image ${k}`;
    await putPng(env.GRIDS, imageKey(job.id, k), bytes, { job: job.id, k: String(k) });
    if (faults && k === start) {
      if (faults.failAlways.includes(chunk)) throw new InjectedFault(`injected failure of chunk ${chunk} (every attempt)`);
      if (faults.failOnce.includes(chunk) && attempt === 1) throw new InjectedFault(`injected failure of chunk ${chunk} (first attempt, after image ${k})`);
    }
    stage.at = `renew lease after image ${k}`;
    if (k + 1 < end && !(await stub.progress(chunk))) return;
  }
  stage.at = 'record chunk done';
  await stub.chunkDone(chunk, end - start);
}

/** A delivery the test faults drop unprocessed after claiming it (a server killed mid-chunk). */
function dropped(env: Env, job: BatchJob, chunk: number, sends: number): boolean {
  const faults = env.BATCH_TEST_FAULTS === 'enabled' ? job.faults : null;
  if (!faults) return false;
  return (faults.dropAlways ?? []).includes(chunk) || ((faults.dropOnce ?? []).includes(chunk) && sends === 1);
}

/** Where a chunk delivery is (for the watchdog's message). */
interface Stage {
  at: string;
}

async function handleChunk(env: Env, registry: ModelRegistry, message: Message<unknown>, body: ChunkMessage, stage: Stage): Promise<void> {
  const stub = jobStub(env, body.job);
  stage.at = 'claim';
  // Unknown job, a finished job, a finished chunk, or a chunk another delivery holds: nothing to do.
  const { job, run, sends } = await stub.claim(body.chunk);
  if (!job || !run) return message.ack();
  if (dropped(env, job, body.chunk, sends)) {
    console.warn(`batch ${body.job} chunk ${body.chunk}: delivery ${sends} dropped (test fault)`);
    return message.ack();
  }
  try {
    await runChunk(env, registry, job, body.chunk, message.attempts, stage);
    message.ack();
  } catch (error) {
    const permanent = isPermanent(error);
    const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    console.warn(`batch ${body.job} chunk ${body.chunk} attempt ${message.attempts} failed: ${text}`);
    const retryInSeconds = chunkRetryDelay(message.attempts, env.BATCH_RETRY_BASE_SECONDS);
    await stub.chunkFailed({ chunk: body.chunk, attempt: message.attempts, message: text, final: permanent, retryInSeconds }).catch(() => undefined);
    if (permanent) message.ack();
    else message.retry({ delaySeconds: retryInSeconds });
  }
}

async function handleCallback(env: Env, message: Message<unknown>, body: CallbackMessage): Promise<void> {
  const stub = jobStub(env, body.job);
  const job = await stub.get();
  // Only a pending callback is sent: a duplicate message after delivery or after giving up does nothing.
  if (!job || job.spec.callbackUrl === null || job.callback.event === null || job.callback.status !== 'pending') return message.ack();
  const secret = env.CALLBACK_SIGNING_SECRET;
  const schedule = callbackSchedule(env.CALLBACK_RETRY_SCHEDULE);
  const attempt = message.attempts;
  const result = secret
    ? await deliverOnce({
        url: job.spec.callbackUrl,
        id: `msg_${job.id}_${job.callback.event.replace('.', '_')}`,
        body: JSON.stringify(callbackPayload(job)),
        secret,
      })
    : { ok: false, error: 'CALLBACK_SIGNING_SECRET is not configured' };
  const delay = result.ok ? null : nextCallbackDelay(schedule, attempt);
  await stub.callbackAttempt({ attempt, ...result, gaveUp: !result.ok && delay === null, ...(delay === null ? {} : { nextInSeconds: delay }) });
  if (result.ok || delay === null) message.ack();
  else message.retry({ delaySeconds: delay });
}

async function handleDeadLetter(env: Env, message: Message<unknown>, body: BatchMessage): Promise<void> {
  const stub = jobStub(env, body.job);
  if (body.kind === 'chunk') {
    await stub.chunkFailed({ chunk: body.chunk, attempt: message.attempts, message: 'gave up: the chunk reached the dead-letter queue', final: true });
  } else {
    await stub.callbackAttempt({ attempt: 0, ok: false, error: 'gave up: the callback reached the dead-letter queue', gaveUp: true });
  }
  message.ack();
}

/**
 * A chunk delivery that has not ended within a lease is abandoned: the invocation returns, so the queue goes on
 * delivering (local Queues deliver one batch at a time, and one invocation that never returned stopped every
 * later job), and the chunk's lease, no longer renewed, brings it back through the job's alarm.
 */
async function withWatchdog(env: Env, message: Message<unknown>, body: ChunkMessage, work: (stage: Stage) => Promise<void>): Promise<void> {
  const stage: Stage = { at: 'start' };
  const { leaseMs } = leaseConfig(env);
  let timer: ReturnType<typeof setTimeout> | null = null;
  const watchdog = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), leaseMs);
  });
  const outcome = await Promise.race([work(stage).then(() => 'done' as const), watchdog]);
  if (timer !== null) clearTimeout(timer);
  if (outcome === 'timeout') {
    console.error(`batch ${body.job} chunk ${body.chunk}: no end after ${leaseMs / 1000} s (at: ${stage.at}); delivery abandoned, the lease re-sends it`);
    message.ack();
  }
}

export interface ConsumerDeps {
  registry: ModelRegistry;
}

/** The worker's `queue` handler. Messages are handled one after another (chunks are CPU-bound). */
export async function handleBatchQueue(batch: MessageBatch<unknown>, env: Env, deps: ConsumerDeps): Promise<void> {
  for (const message of batch.messages) {
    const body = message.body;
    if (!isBatchMessage(body)) {
      console.error(`queue ${batch.queue}: dropping a malformed message ${message.id}`);
      message.ack();
      continue;
    }
    if (batch.queue === QUEUE_NAMES.deadLetters) await handleDeadLetter(env, message, body);
    else if (body.kind === 'chunk') await withWatchdog(env, message, body, (stage) => handleChunk(env, deps.registry, message, body, stage));
    else await handleCallback(env, message, body);
  }
}
