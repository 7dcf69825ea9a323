import type { BatchJobObject } from './batches/job-object.ts';
import type { CallbackMessage, ChunkMessage } from './batches/types.ts';

/** The worker's bindings (wrangler.toml). */
export interface Env {
  /** Generated PNGs, content-addressed (src/storage/keys.ts). */
  GRIDS: R2Bucket;
  /**
   * Module specifier of src/inference/wasm/ort-entry.mjs as the runtime resolves it: relative to wrangler's
   * base_dir ("/inference/...") when deployed or under `wrangler dev`, "/src/inference/..." in the tests.
   */
  ORT_WASM_ENTRY: string;
  /**
   * When onnxruntime starts: "isolate" (default) at module scope of src/index.ts, with the isolate; "first-use"
   * on the first request that needs a model (src/inference/runtime.ts startRuntime).
   */
  ORT_START?: string;

  // Batches (issue 6: src/batches/, src/webhooks/; docs/batches-and-webhooks.md).
  /** One Durable Object per batch job: its record and transitions. */
  BATCH_JOBS: DurableObjectNamespace<BatchJobObject>;
  /** Chunk work (one message per chunk) and callback deliveries. */
  BATCH_CHUNKS: Queue<ChunkMessage>;
  BATCH_CALLBACKS: Queue<CallbackMessage>;
  /** Secrets: API keys (bearer), webhook senders' whsec_ secrets, our callback signing secret (whsec_). Lists: comma/space separated. */
  BATCH_API_KEYS?: string;
  WEBHOOK_SECRETS?: string;
  CALLBACK_SIGNING_SECRET?: string;
  /** Local development and tests only: "true" accepts http: and local callback hosts. */
  CALLBACK_ALLOW_HTTP?: string;
  /** Seconds between callback attempts, e.g. "0,1,1" (default: the Standard Webhooks schedule). */
  CALLBACK_RETRY_SCHEDULE?: string;
  /** Chunk retry backoff base in seconds (default 10). */
  BATCH_RETRY_BASE_SECONDS?: string;
  /** Smaller chunks than the model's work limit allows (tests). */
  BATCH_CHUNK_IMAGES?: string;
  /** Seconds without news before a chunk is re-sent (default 300), and messages per chunk before the job fails (default 5). */
  BATCH_LEASE_SECONDS?: string;
  BATCH_MAX_SENDS?: string;
  /** Key of the job ids derived from idempotency keys (HMAC); falls back to CALLBACK_SIGNING_SECRET. */
  BATCH_ID_SECRET?: string;
  /** "enabled" accepts `testFaults` in POST /v1/batches (tests only). */
  BATCH_TEST_FAULTS?: string;
}
