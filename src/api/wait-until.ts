import type { Context } from 'hono';

/**
 * Background work of a request: `c.executionCtx.waitUntil`, so the runtime keeps it alive after the response.
 * Without an execution context (`app.request` in tests) the promise just runs; a rejection is logged, never
 * dropped silently (the storage writes handed here log their own failures with the key and never reject).
 */
export function waitUntilOf(c: Context): (p: Promise<unknown>) => void {
  let keepAlive: ((p: Promise<unknown>) => void) | undefined;
  try {
    const ctx = c.executionCtx;
    keepAlive = (p) => ctx.waitUntil(p);
  } catch {
    keepAlive = undefined; // Hono throws when the request came without one
  }
  return function waitUntil(p) {
    if (keepAlive) keepAlive(p);
    else void p.catch((error: unknown) => console.error(`background work of ${c.req.method} ${new URL(c.req.url).pathname} failed:`, error));
  };
}
