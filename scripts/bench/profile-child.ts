/**
 * Child process of the kernel profile (scripts/bench/profile.ts): onnxruntime-web prints its profile as JSON
 * lines on stdout when the session ends profiling, so the profiled run gets a process of its own.
 *   node --import tsx scripts/bench/profile-child.ts <model.json dir> <onnx file> <batch> <warmup runs> <profiled runs> <pre-optimized|optimize>
 */
import { readFileSync } from 'node:fs';
import { createModelSession, graphSpec } from '../../src/inference/onnx.ts';
import { readModelCard } from '../lib/model-card.ts';
import { forwardInputs } from './inputs.ts';

const [dir, file, batchArg, warmArg, runsArg, load] = process.argv.slice(2);
const card = readModelCard(dir);
const inputs = forwardInputs(card, Number(batchArg));
// as the app loads the graph: a pre-optimized one (the card's `optimized`) skips onnxruntime-web's optimizers
const options = { preOptimized: load === 'pre-optimized' };
// warm up an unprofiled session first (V8 tiers the runtime wasm up), then profile a second one
const warm = await createModelSession(readFileSync(file), graphSpec(card), options);
const warmFeeds = warm.feeds(inputs);
for (let i = 0; i < Number(warmArg); i++) await warm.runFeeds(warmFeeds);
await warm.release();
const session = await createModelSession(readFileSync(file), graphSpec(card), { ...options, profile: true });
const feeds = session.feeds(inputs);
for (let i = 0; i < Number(runsArg); i++) await session.runFeeds(feeds);
session.endProfiling();
await session.release();
// the runtime keeps the event loop alive: exit once stdout (a pipe, written asynchronously) has drained
process.stdout.write('', () => process.exit(0));
