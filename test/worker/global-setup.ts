// Runs in Node before the workers pool starts: vendors onnxruntime-web's glue and wasm for the worker, and
// renders the reference PNGs with the same model and sampler in Node (onnxruntime-web's wasm backend), which
// the worker tests compare byte for byte with what the worker serves.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { env as ortEnv, InferenceSession } from 'onnxruntime-web/wasm';
import type { TestProject } from 'vitest/node';
import { createEpsModel } from '../../src/inference/eps-model.ts';
import { vendorOrtWasm } from '../../src/inference/wasm/vendor.mjs';
import { parseModelCard } from '../../src/models/registry.ts';
import { renderPng } from '../../src/render/render.ts';
import { REFERENCE_CASES } from './reference.ts';

const MODEL_DIR = join(import.meta.dirname, '../../models/fixture-tiny');

export default async function setup(project: TestProject): Promise<void> {
  vendorOrtWasm();
  const card = parseModelCard(JSON.parse(readFileSync(join(MODEL_DIR, 'model.json'), 'utf8')));
  ortEnv.wasm.numThreads = 1;
  ortEnv.wasm.proxy = false;
  const session = await InferenceSession.create(readFileSync(join(MODEL_DIR, card.files.int8.path)), { logSeverityLevel: 3 });
  const model = createEpsModel(session, card, { maxBatch: 8 });
  const pngs: string[] = [];
  for (const c of REFERENCE_CASES) {
    pngs.push(Buffer.from(await renderPng(model, card, c.kind, c.seed, c.params)).toString('base64'));
  }
  await session.release();
  project.provide('nodeReference', { model: card.name, pngs });
}
