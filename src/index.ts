import { env } from 'cloudflare:workers';
import { createApp } from './app.ts';
import { BatchJobObject, handleBatchQueue } from './batches/index.ts';
import type { Env } from './env.ts';
import { startRuntimeWithIsolate } from './inference/runtime.ts';
import { bundledModels } from './models/bundled.ts';

const registry = bundledModels();
const app = createApp({ registry });

// onnxruntime's one-time start (about 300 ms locally, the same for every model) runs with the isolate, so that
// the first request for an image creates only its model's session (docs/edge-latency.md, "Cold start").
// ORT_START = "first-use" leaves it to that request instead.
startRuntimeWithIsolate(env as unknown as Env);

/** The batch jobs' Durable Object class (wrangler.toml BATCH_JOBS). */
export { BatchJobObject };

export default {
  fetch: app.fetch,
  /** Batch chunks, callback deliveries and the dead-letter queue (src/batches/consumer.ts). */
  queue: (batch, env) => handleBatchQueue(batch, env, { registry }),
} satisfies ExportedHandler<Env>;
