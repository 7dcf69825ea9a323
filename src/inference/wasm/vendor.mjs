// Copies onnxruntime-web's SIMD glue and wasm next to ort-entry.mjs, where wrangler
// (find_additional_modules) and the worker tests load them as modules. Run before wrangler starts
// (`npm run dev`, `npm run deploy`, the browser test's dev server, the bench) and by the worker tests' global
// setup; not as a wrangler custom build (see wrangler.toml). Idempotent: unchanged files are not rewritten,
// and a changed one is replaced whole (rename), so a running wrangler dev never sees a half-written file.
//
// The glue is patched in one way: its two "am I in Node?" probes (`globalThis.process?.versions?.node`)
// are replaced by `false`. workerd with nodejs_compat (always on in @cloudflare/vitest-pool-workers,
// default on for recent compatibility dates) has `process.versions.node`, and the glue would then take its
// Node path (`import("module")`, `worker_threads`, `fs`), which does not exist there.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const dist = dirname(require.resolve('onnxruntime-web/ort-wasm-simd-threaded.wasm'));

const GLUE_PATCHES = [
  ['m=globalThis.process?.versions?.node&&"renderer"!=globalThis.process?.type', 'm=!1'],
  ['var isNode=globalThis.process?.versions?.node&&globalThis.process?.type!="renderer";', 'var isNode=!1;'],
];

function patchGlue(text) {
  let out = text;
  for (const [from, to] of GLUE_PATCHES) {
    const count = out.split(from).length - 1;
    if (count !== 1) {
      throw new Error(`vendor-ort: expected one "${from}" in the onnxruntime-web glue, found ${count} (version changed?)`);
    }
    out = out.replace(from, to);
  }
  return out;
}

function writeIfChanged(path, bytes) {
  let current;
  try {
    current = readFileSync(path);
  } catch {
    current = undefined;
  }
  if (current && current.equals(bytes)) return;
  const partial = `${path}.${process.pid}.tmp`;
  writeFileSync(partial, bytes);
  renameSync(partial, path);
}

export function vendorOrtWasm() {
  const glue = readFileSync(join(dist, 'ort-wasm-simd-threaded.mjs'), 'utf8');
  writeIfChanged(join(here, 'ort-wasm-simd-threaded.mjs'), Buffer.from(patchGlue(glue)));
  writeIfChanged(join(here, 'ort-wasm-simd-threaded.wasm'), readFileSync(join(dist, 'ort-wasm-simd-threaded.wasm')));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) vendorOrtWasm();
