/**
 * Queue names (wrangler.toml [[queues.*]]): chunk work, callback deliveries, and the dead-letter queue both
 * consumers send to after max_retries. One worker consumes all three; `batch.queue` tells them apart.
 */
export const QUEUE_NAMES = {
  chunks: 'ddpm-edge-batch-chunks',
  callbacks: 'ddpm-edge-batch-callbacks',
  deadLetters: 'ddpm-edge-batch-dlq',
} as const;

/** Messages per sendBatch call (the Queues limit is 100). */
export const SEND_BATCH_MAX = 100;
