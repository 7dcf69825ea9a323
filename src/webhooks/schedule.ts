/**
 * When callback attempts happen, in seconds after the previous attempt: the Standard Webhooks / Svix
 * schedule (immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h): 8 attempts over about 27.6 hours,
 * then we give up. Every delay fits a Queues delaySeconds (at most 12 h).
 */
export const CALLBACK_SCHEDULE_SECONDS: readonly number[] = [0, 5, 300, 1800, 7200, 18000, 36000, 36000];

/** A schedule from `CALLBACK_RETRY_SCHEDULE` ("0,1,1": tests, local development), else the default. */
export function callbackSchedule(override: string | undefined): readonly number[] {
  if (override === undefined || override.trim() === '') return CALLBACK_SCHEDULE_SECONDS;
  const parts = override.split(',').map((s) => Number(s.trim()));
  if (parts.length === 0 || parts.some((v) => !Number.isInteger(v) || v < 0 || v > 43200)) {
    throw new RangeError(`CALLBACK_RETRY_SCHEDULE must be comma-separated integer seconds in [0, 43200] (got ${JSON.stringify(override)})`);
  }
  return parts;
}

/**
 * Delay before attempt `attempt + 1` after attempt `attempt` (1-based) failed, or null when the schedule
 * is exhausted (give up).
 */
export function nextCallbackDelay(schedule: readonly number[], attempt: number): number | null {
  const next = schedule[attempt];
  return next === undefined ? null : next;
}
