// Runs in Node before the workers pool starts: vendors onnxruntime-web's glue and wasm for the worker, and
// renders the reference PNGs with the same model and sampler in Node (onnxruntime-web's wasm backend), which
// the worker tests compare byte for byte with what the worker serves.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { createEpsModel } from '../../src/inference/eps-model.ts';
import { createModelSession, graphSpec } from '../../src/inference/onnx.ts';
import { vendorOrtWasm } from '../../src/inference/wasm/vendor.mjs';
import { readModelCard } from '../../scripts/lib/model-card.ts';
import { renderPng } from '../../src/render/render.ts';
import { REFERENCE_CASES } from './reference.ts';

const MODEL_DIR = join(import.meta.dirname, '../../models/fixture-tiny');

export default async function setup(project: TestProject): Promise<void> {
  vendorOrtWasm();
  const card = readModelCard(MODEL_DIR);
  // the session as the worker gets it (src/inference/onnx.ts), onnxruntime-web in Node
  const session = await createModelSession(readFileSync(join(MODEL_DIR, card.files.int8.path)), graphSpec(card));
  const model = createEpsModel(session, card.architecture.numClasses, { maxBatch: 8 });
  const pngs: string[] = [];
  for (const c of REFERENCE_CASES) {
    pngs.push(Buffer.from(await renderPng(model, card, c.kind, c.seed, c.params)).toString('base64'));
  }
  await session.release();
  project.provide('nodeReference', { model: card.name, pngs });
}
