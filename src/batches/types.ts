import type { RenderParams } from '../render/params.ts';

/** How the trigger authenticated. */
export type BatchAuth = 'api-key' | 'webhook';

export type BatchStatus = 'queued' | 'running' | 'succeeded' | 'failed';

/** Everything that determines a job's images, validated and with defaults applied. */
export interface BatchSpec {
  model: string;
  /** sha256 of the model's int8 file when the job was accepted (the images belong to these weights). */
  modelSha256: string;
  count: number;
  /** Sampler options as for /v1/samples (n is always 1, classId null: classes below decide). */
  params: RenderParams;
  /** Class id per image cycle: image k gets classes[k % classes.length]; null for unconditional. */
  classes: number[] | null;
  /** Job seed: image k uses deriveSeed(seed, k). */
  seed: number;
  /** Images per chunk (one queue message, one consumer invocation). */
  chunkSize: number;
  callbackUrl: string | null;
}

/** Test-only fault injection (honoured only when BATCH_TEST_FAULTS=enabled). */
export interface BatchFaults {
  /** Chunks whose first attempt fails after writing its first image (a consumer dying mid-chunk). */
  failOnce: number[];
  /** Chunks that fail on every attempt (they end in the dead-letter queue). */
  failAlways: number[];
  /** Chunks whose first delivery is dropped unprocessed (a server killed mid-chunk: only the lease brings it back). */
  dropOnce: number[];
  /** Chunks whose every delivery is dropped (the lease re-sends them until the job fails). */
  dropAlways: number[];
}

export interface BatchError {
  chunk: number;
  attempt: number;
  message: string;
  at: string;
  /** True when the chunk was given up (dead-letter queue): the job failed. */
  final: boolean;
}

/**
 * A chunk's lease, kept in the job's Durable Object until the chunk is done. Every send of the chunk's message,
 * every claim by a consumer and every finished image pushes `expiresAt` forward; when it passes, the object's
 * alarm re-sends the chunk (up to a bound, then the job fails). A server killed mid-chunk, a lost message or a
 * stuck consumer therefore ends in a re-send, never in a job that waits forever.
 */
export interface ChunkLease {
  /** Messages sent for this chunk: 1 at creation, + 1 per re-send by the alarm. */
  sends: number;
  /** Epoch milliseconds after which the chunk counts as lost. */
  expiresAt: number;
  /** When a consumer claimed the current delivery (null: not claimed, or released after a failed attempt). */
  claimedAt: number | null;
}

export type CallbackStatus = 'none' | 'pending' | 'delivered' | 'failed';

export interface CallbackState {
  status: CallbackStatus;
  /** Event sent: set when the job finished. */
  event: BatchEvent | null;
  attempts: number;
  lastStatus: number | null;
  lastError: string | null;
  /** The callback message is on the queue (set after a successful send; repaired when false). */
  enqueued: boolean;
  /** Epoch ms by which the next attempt should have been recorded; past it, the alarm re-sends the message. */
  dueBy?: number | null;
  /** Messages re-sent by the alarm (bounded). */
  resends?: number;
  deliveredAt: string | null;
}

export type BatchEvent = 'batch.succeeded' | 'batch.failed';

/** The job record, kept by its Durable Object (src/batches/job-object.ts). */
export interface BatchJob {
  id: string;
  status: BatchStatus;
  auth: BatchAuth;
  /** sha256 of the canonical request: a replay with another request under the same key is refused. */
  requestHash: string;
  /** Origin the job was created under: the links in its status and callback point there. */
  origin: string;
  spec: BatchSpec;
  faults: BatchFaults | null;
  chunks: number;
  /** Indices of finished chunks, ascending (a chunk finished twice counts once). */
  chunksDone: number[];
  /** Leases of the chunks not yet done, by chunk index (null once done). Absent in records older than leases. */
  leases?: (ChunkLease | null)[];
  imagesDone: number;
  /** Chunk messages sent to the queue (one per chunk unless a lost enqueue was repaired). */
  messagesSent: boolean;
  /** Accepted deliveries of the trigger (1 + replays). */
  deliveries: number;
  errors: BatchError[];
  callback: CallbackState;
  createdAt: string;
  updatedAt: string;
  finishedAt: string | null;
}

/** Queue messages. The job's spec stays in its Durable Object; messages only name the work. */
export interface ChunkMessage {
  kind: 'chunk';
  job: string;
  chunk: number;
}

export interface CallbackMessage {
  kind: 'callback';
  job: string;
}

export type BatchMessage = ChunkMessage | CallbackMessage;
