/** Documented batch limits (README "## Batches and webhooks"). */
export const BATCH_LIMITS = {
  /** Images per job. */
  maxImages: 256,
  /** Images per chunk, whatever the model's work limit allows. */
  maxChunkImages: 16,
  /** Classes listed in one request. */
  maxClasses: 256,
  /** Request body bytes. */
  maxBodyBytes: 16 * 1024,
  /** Errors kept in a job record (the newest). */
  maxErrors: 20,
} as const;

/**
 * Chunk retry backoff in seconds after failed attempt `attempt` (1-based): base x 2^(attempt - 1),
 * capped at 5 minutes; base 10 s (BATCH_RETRY_BASE_SECONDS overrides it, 0 in the tests).
 * With max_retries = 5 (wrangler.toml) a chunk is tried 6 times (10, 20, 40, 80, 160 s apart), then
 * it goes to the dead-letter queue and the job fails.
 */
export function chunkRetryDelay(attempt: number, baseOverride: string | undefined): number {
  const base = baseOverride !== undefined && /^[0-9]{1,5}$/.test(baseOverride) ? Number(baseOverride) : 10;
  return Math.min(300, base * 2 ** Math.max(0, attempt - 1));
}
