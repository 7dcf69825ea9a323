// Runs in Node before the workers pool starts: vendors onnxruntime-web's glue and wasm for the worker, and
// renders the reference PNGs with the same model and sampler in Node (onnxruntime-web's wasm backend), which
// the worker tests compare byte for byte with what the worker serves.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { createEpsModel } from '../../src/inference/eps-model.ts';
import { createModelSession, fileSessionOptions, graphSpec } from '../../src/inference/onnx.ts';
import { vendorOrtWasm } from '../../src/inference/wasm/vendor.mjs';
import { readModelCard } from '../../scripts/lib/model-card.ts';
import { renderPng } from '../../src/render/render.ts';
import { REFERENCE_CASES } from './reference.ts';
import { makeDegradation } from '../../src/cold/index.ts';
import { parseColdCard } from '../../src/models/cold.ts';
import { renderColdSample, restoreInput, restorePng } from '../../src/render/cold.ts';
import { decodeRestoreImage } from '../../src/api/restore-body.ts';
import { COLD_RESTORE, COLD_SAMPLE, COLD_SIZE, DEGRADATION_CASES, degradationInput, restoreInputPng } from './cold-reference.ts';

const MODEL_DIR = join(import.meta.dirname, '../../models/fixture-tiny');

export default async function setup(project: TestProject): Promise<void> {
  vendorOrtWasm();
  const card = readModelCard(MODEL_DIR);
  // the session as the worker gets it (src/inference/onnx.ts), onnxruntime-web in Node
  const session = await createModelSession(readFileSync(join(MODEL_DIR, card.files.int8.path)), graphSpec(card), fileSessionOptions(card.files.int8));
  const model = createEpsModel(session, card.architecture.numClasses, { maxBatch: 8 });
  const pngs: string[] = [];
  for (const c of REFERENCE_CASES) {
    pngs.push(Buffer.from(await renderPng(model, card, c.kind, c.seed, c.params)).toString('base64'));
  }
  await session.release();
  project.provide('nodeReference', { model: card.name, pngs });
  await provideColdReference(project);
}

const COLD_DIR = join(import.meta.dirname, '../fixtures/cold-blur-tiny');

/** Cold Diffusion in Node: the degradations' bits and the cold fixture's sample and restoration PNGs. */
async function provideColdReference(project: TestProject): Promise<void> {
  const x = degradationInput();
  const degradations = DEGRADATION_CASES.map((c) => {
    const y = makeDegradation(c.process, COLD_SIZE).apply(x, 1, c.levels, c.centres ? Int32Array.from(c.centres) : undefined);
    return Buffer.from(y.buffer).toString('base64');
  });
  const card = parseColdCard(JSON.parse(readFileSync(join(COLD_DIR, 'model.json'), 'utf8')));
  const session = await createModelSession(readFileSync(join(COLD_DIR, card.files.int8.path)), graphSpec(card), fileSessionOptions(card.files.int8));
  const model = createEpsModel(session, card.architecture.numClasses, { maxBatch: 8 });
  const sample = await renderColdSample(model, card, COLD_SAMPLE.seed, COLD_SAMPLE.params);
  const image = await decodeRestoreImage(restoreInputPng(), card);
  const restored = await restorePng(model, card, restoreInput(card, image, COLD_RESTORE.params), COLD_RESTORE.params);
  await session.release();
  const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64');
  project.provide('coldNodeReference', { degradations, sample: b64(sample), restore: b64(restored.png) });
}
