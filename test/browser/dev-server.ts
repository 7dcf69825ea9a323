// Starts the worker under `wrangler dev --local` on a free loopback port with empty local state (R2 and the
// Cache API in a temp dir), waits until it answers, and stops it (its whole process group) afterwards.
// onnxruntime-web's glue is vendored first, as `npm run dev` does (wrangler.toml has no custom build).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, stopProcessGroup } from '../../scripts/lib/child-process.ts';
import { vendorOrtWasm } from '../../src/inference/wasm/vendor.mjs';

export interface DevServer {
  base: string;
  /** The last lines wrangler printed (for failure messages): requests with status and time, reloads. */
  log(): string;
  stop(): Promise<void>;
}

const ROOT = join(import.meta.dirname, '../..');

export async function startDevServer(timeoutMs: number): Promise<DevServer> {
  vendorOrtWasm();
  const port = await freePort();
  const state = mkdtempSync(join(tmpdir(), 'ddpm-edge-browser-state-'));
  const wrangler = join(ROOT, 'node_modules/wrangler/bin/wrangler.js');
  const args = [wrangler, 'dev', '--local', '--ip', '127.0.0.1', '--port', String(port), '--persist-to', state, '--show-interactive-dev-session=false', '--log-level', 'log'];
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    detached: true, // its own process group: stop() ends wrangler and workerd together
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CI: process.env.CI ?? '1' },
  });
  let output = '';
  const collect = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-16_000);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);

  async function stop(): Promise<void> {
    await stopProcessGroup(child);
    rmSync(state, { recursive: true, force: true });
  }

  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) break;
    try {
      // /openapi.json needs no model run: readiness without warming onnxruntime
      const res = await fetch(`${base}/openapi.json`, { signal: AbortSignal.timeout(2000) });
      if (res.ok) return { base, log: () => output, stop };
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
  await stop();
  throw new Error(`wrangler dev did not become ready within ${timeoutMs} ms (exit ${child.exitCode}):\n${output}`);
}
