/**
 * Child process of the kernel profile (scripts/bench/profile.ts): onnxruntime-web prints its profile as JSON
 * lines on stdout when the session ends profiling, so the profiled run gets a process of its own.
 *   node --import tsx scripts/bench/profile-child.ts <model.json dir> <onnx file> <batch> <warmup runs> <profiled runs>
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as ort from 'onnxruntime-web';
import { parseModelCard } from '../../src/models/registry.ts';
import { forwardInputs } from './inputs.ts';

ort.env.wasm.numThreads = 1;
ort.env.wasm.proxy = false;

const [dir, file, batchArg, warmArg, runsArg] = process.argv.slice(2);
const card = parseModelCard(JSON.parse(readFileSync(path.join(dir, 'model.json'), 'utf8')));
const batch = Number(batchArg);
const { x, t, y } = forwardInputs(card, batch);
const feeds: Record<string, ort.Tensor> = {
  [card.io.x]: new ort.Tensor('float32', x, [batch, card.channels, card.imageSize, card.imageSize]),
  [card.io.t]: new ort.Tensor('int64', t, [batch]),
};
if (card.io.class !== undefined && y) feeds[card.io.class] = new ort.Tensor('int64', y, [batch]);
const opts = { executionProviders: ['wasm'], graphOptimizationLevel: 'all', logSeverityLevel: 3 } as const;
// warm up an unprofiled session first (V8 tiers the runtime wasm up), then profile a second one
const warm = await ort.InferenceSession.create(readFileSync(file), opts);
for (let i = 0; i < Number(warmArg); i++) await warm.run(feeds);
await warm.release();
const session = await ort.InferenceSession.create(readFileSync(file), { ...opts, enableProfiling: true });
for (let i = 0; i < Number(runsArg); i++) await session.run(feeds);
session.endProfiling();
await session.release();
// the runtime keeps the event loop alive: exit once stdout (a pipe, written asynchronously) has drained
process.stdout.write('', () => process.exit(0));
