import { createApp } from './app.ts';
import { BatchJobObject, handleBatchQueue } from './batches/index.ts';
import type { Env } from './env.ts';
import { bundledModels } from './models/bundled.ts';

const registry = bundledModels();
const app = createApp({ registry });

/** The batch jobs' Durable Object class (wrangler.toml BATCH_JOBS). */
export { BatchJobObject };

export default {
  fetch: app.fetch,
  /** Batch chunks, callback deliveries and the dead-letter queue (src/batches/consumer.ts). */
  queue: (batch, env) => handleBatchQueue(batch, env, { registry }),
} satisfies ExportedHandler<Env>;
