/**
 * `npm run bench export -- models/<name>`: fp32 vs int8 forward time in onnxruntime-web under Node (one
 * thread, as in workerd), batch 1/4/16. fp32 and int8 runs alternate so that load from other processes
 * hits both alike; the fastest and the median of the reps are printed.
 */
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { createModelSession, graphSpec } from '../../src/inference/onnx.ts';
import { readModelCard } from '../lib/model-card.ts';
import { forwardInputs } from '../bench/inputs.ts';

const dir = process.argv[2] ?? path.join('models', 'fixture-tiny');
const reps = Number(process.argv[3] ?? 30);
const card = readModelCard(dir);
const fp32 = await createModelSession(await readFile(path.join(dir, card.files.fp32.path)), graphSpec(card));
const int8 = await createModelSession(await readFile(path.join(dir, card.files.int8.path)), graphSpec(card));
const dims = [card.channels, card.imageSize, card.imageSize] as const;
console.log(`${card.name}: ${card.architecture.parameters ?? '?'} parameters, ${dims.join('x')}; ms per forward (fastest / median of ${reps})`);
console.log('| batch | fp32 | int8 | speed-up (fastest) |\n|---|---|---|---|');
for (const b of [1, 4, 16]) {
  const input = forwardInputs(card, b);
  const times = { fp32: [] as number[], int8: [] as number[] };
  for (let i = 0; i < 5; i++) {
    await fp32.run(input);
    await int8.run(input);
  }
  for (let i = 0; i < reps; i++) {
    for (const [k, s] of [['fp32', fp32], ['int8', int8]] as const) {
      const t0 = performance.now();
      await s.run(input);
      times[k].push(performance.now() - t0);
    }
  }
  const stat = (a: number[]): [number, number] => {
    const s = [...a].sort((x, y) => x - y);
    return [s[0], s[Math.floor(s.length / 2)]];
  };
  const [f, fm] = stat(times.fp32);
  const [q, qm] = stat(times.int8);
  console.log(`| ${b} | ${f.toFixed(1)} / ${fm.toFixed(1)} | ${q.toFixed(1)} / ${qm.toFixed(1)} | ${(f / q).toFixed(2)}x |`);
}
await fp32.release();
await int8.release();
