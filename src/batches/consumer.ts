// The queue consumer: chunk work, callback deliveries, and the dead-letter queue.
import type { Env } from '../env.ts';
import { loadEpsModel } from '../inference/runtime.ts';
import type { ModelRegistry } from '../models/registry.ts';
import { callbackSchedule, deliverOnce, nextCallbackDelay } from '../webhooks/index.ts';
import { callbackPayload } from './view.ts';
import { chunkRange, renderImage } from './generate.ts';
import { chunkRetryDelay } from './limits.ts';
import { QUEUE_NAMES } from './queues.ts';
import { imageKey, putPng } from './store.ts';
import type { BatchJob, BatchMessage, CallbackMessage, ChunkMessage } from './types.ts';

/** A failure no retry can fix (the model changed or vanished since the job was accepted). */
class PermanentChunkError extends Error {
  override readonly name = 'PermanentChunkError';
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

/** Renders a chunk's images into R2, then records the chunk as done. Throws to have the message retried. */
async function runChunk(env: Env, registry: ModelRegistry, job: BatchJob, chunk: number, attempt: number): Promise<void> {
  const { spec } = job;
  const entry = registry.get(spec.model);
  if (!entry || entry.card.files.int8.sha256 !== spec.modelSha256) {
    throw new PermanentChunkError(`model ${spec.model} (sha256 ${spec.modelSha256.slice(0, 12)}) is no longer served`);
  }
  const model = await loadEpsModel(entry, { wasmEntry: env.ORT_WASM_ENTRY });
  const faults = env.BATCH_TEST_FAULTS === 'enabled' ? job.faults : null;
  const [start, end] = chunkRange(spec, chunk);
  for (let k = start; k < end; k++) {
    const bytes = await renderImage(model, entry.card, spec, k);
    await putPng(env.GRIDS, imageKey(job.id, k), bytes, { job: job.id, k: String(k) });
    if (faults && k === start) {
      if (faults.failAlways.includes(chunk)) throw new InjectedFault(`injected failure of chunk ${chunk} (every attempt)`);
      if (faults.failOnce.includes(chunk) && attempt === 1) throw new InjectedFault(`injected failure of chunk ${chunk} (first attempt, after image ${k})`);
    }
  }
  await jobStub(env, job.id).chunkDone(chunk, end - start);
}

async function handleChunk(env: Env, registry: ModelRegistry, message: Message<unknown>, body: ChunkMessage): Promise<void> {
  const stub = jobStub(env, body.job);
  const job = await stub.get();
  // Unknown job, a failed job, or a duplicate delivery of a finished chunk: nothing to do.
  if (!job || job.status === 'failed' || job.chunksDone.includes(body.chunk)) return message.ack();
  if (job.status === 'queued') await stub.chunkStarted();
  try {
    await runChunk(env, registry, job, body.chunk, message.attempts);
    message.ack();
  } catch (error) {
    const permanent = error instanceof PermanentChunkError;
    const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    console.warn(`batch ${body.job} chunk ${body.chunk} attempt ${message.attempts} failed: ${text}`);
    await stub.chunkFailed({ chunk: body.chunk, attempt: message.attempts, message: text, final: permanent }).catch(() => undefined);
    if (permanent) message.ack();
    else message.retry({ delaySeconds: chunkRetryDelay(message.attempts, env.BATCH_RETRY_BASE_SECONDS) });
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
  await stub.callbackAttempt({ attempt, ...result, gaveUp: !result.ok && delay === null });
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
    else if (body.kind === 'chunk') await handleChunk(env, deps.registry, message, body);
    else await handleCallback(env, message, body);
  }
}
