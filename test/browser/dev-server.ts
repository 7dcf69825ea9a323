// Starts the worker under `wrangler dev --local` on a free loopback port with empty local state (R2 and the
// Cache API in a temp dir), waits until it answers, and stops it (its whole process group) afterwards.
// onnxruntime-web's glue is vendored first, as `npm run dev` does (wrangler.toml has no custom build).
//
// wrangler serves a copy of what it builds (wrangler.toml, src/, models/), taken at the start: wrangler dev
// reloads the worker when one of its inputs changes, and in a shared working tree an edit or a model
// re-export (models/<name>/ is rewritten in place) would otherwise reload it in the middle of the tests.
import { cpSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startWranglerDev, type WranglerDev } from '../../scripts/lib/child-process.ts';
import { vendorOrtWasm } from '../../src/inference/wasm/vendor.mjs';

export type DevServer = WranglerDev;

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
  const stateDir = mkdtempSync(join(tmpdir(), 'ddpm-edge-browser-state-'));
  // /openapi.json needs no model run: readiness without warming onnxruntime
  return startWranglerDev({
    cwd: worker,
    stateDir,
    logLevel: 'log',
    readyPath: '/openapi.json',
    timeoutMs,
    cleanup: () => {
      rmSync(stateDir, { recursive: true, force: true });
      rmSync(worker, { recursive: true, force: true });
    },
  });
}
