// Requests through the worker's own fetch handler (src/index.ts, as SELF.fetch would send them) that also wait for
// the work a response leaves running (waitUntil: a miss's R2 and Cache API writes), so that the next request, or an
// R2 read, sees what the response stored.
import { createExecutionContext, env, waitOnExecutionContext } from 'cloudflare:test';
import worker from '../../src/index.ts';

export async function fetchSettled(url: string, init: RequestInit = {}): Promise<Response> {
  const ctx = createExecutionContext();
  const res = await worker.fetch(new Request(url, init), env, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}
