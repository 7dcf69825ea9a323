// `env` of cloudflare:test is the worker's Env (wrangler.toml bindings).
import type { Env as WorkerEnv } from '../../src/env.ts';

declare global {
  namespace Cloudflare {
    interface Env extends WorkerEnv {}
  }
}
