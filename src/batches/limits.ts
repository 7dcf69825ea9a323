/** Documented batch limits (docs/batches-and-webhooks.md). */
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

/** Lease defaults (docs/batches-and-webhooks.md "Chunks, leases, retries"): BATCH_LEASE_SECONDS and BATCH_MAX_SENDS override them. */
export const LEASE_DEFAULTS = {
  /**
   * Seconds a chunk may go without news (send, claim, a finished image) before the alarm re-sends it. A chunk
   * fits one invocation's 30 s of CPU time; the rest is room for a queue backlog.
   */
  leaseSeconds: 300,
  /** Messages per chunk (the first + re-sends) before the job fails. */
  maxSends: 5,
  /** Re-sends of a callback message that went missing (each then follows the callback schedule). */
  maxCallbackResends: 3,
} as const;

function positiveIntVar(value: string | undefined, fallback: number, max: number): number {
  return value !== undefined && /^[1-9][0-9]{0,5}$/.test(value) ? Math.min(max, Number(value)) : fallback;
}

export interface LeaseConfig {
  leaseMs: number;
  maxSends: number;
}

export function leaseConfig(env: { BATCH_LEASE_SECONDS?: string | undefined; BATCH_MAX_SENDS?: string | undefined }): LeaseConfig {
  return {
    leaseMs: positiveIntVar(env.BATCH_LEASE_SECONDS, LEASE_DEFAULTS.leaseSeconds, 3600) * 1000,
    maxSends: positiveIntVar(env.BATCH_MAX_SENDS, LEASE_DEFAULTS.maxSends, 20),
  };
}
