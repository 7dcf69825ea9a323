// Starts the worker under `wrangler dev --local` on a free loopback port with empty local state (R2 and the
// Cache API in a temp dir), waits until it answers, and stops it (its whole process group) afterwards.
// onnxruntime-web's glue is vendored first, as `npm run dev` does (wrangler.toml has no custom build).
//
// wrangler serves a copy of what it builds (wrangler.toml, src/, models/), taken at the start: wrangler dev
// reloads the worker when one of its inputs changes, and in a shared working tree an edit or a model
// re-export (models/<name>/ is rewritten in place) would otherwise reload it in the middle of the tests.
import { spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
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

/** The copy wrangler serves: under .wrangler/ (ignored by git), inside the root so packages resolve from its node_modules. */
function snapshotWorker(): string {
  mkdirSync(join(ROOT, '.wrangler'), { recursive: true });
  const dir = mkdtempSync(join(ROOT, '.wrangler', 'browser-test-'));
  for (const path of ['wrangler.toml', 'src', 'models']) cpSync(join(ROOT, path), join(dir, path), { recursive: true });
  return dir;
}

export async function startDevServer(timeoutMs: number): Promise<DevServer> {
  vendorOrtWasm();
  const worker = snapshotWorker();
  const port = await freePort();
  const state = mkdtempSync(join(tmpdir(), 'ddpm-edge-browser-state-'));
  const wrangler = join(ROOT, 'node_modules/wrangler/bin/wrangler.js');
  const args = [wrangler, 'dev', '--local', '--ip', '127.0.0.1', '--port', String(port), '--persist-to', state, '--show-interactive-dev-session=false', '--log-level', 'log'];
  const child = spawn(process.execPath, args, {
    cwd: worker,
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
    rmSync(worker, { recursive: true, force: true });
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
