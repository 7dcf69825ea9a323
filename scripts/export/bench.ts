/**
 * `npm run bench export -- models/<name>`: fp32 vs int8 forward time in onnxruntime-web under Node (one
 * thread, as in workerd), batch 1/4/16. fp32 and int8 runs alternate so that load from other processes
 * hits both alike; the fastest and the median of the reps are printed.
 */
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import type { ModelCard } from '../../src/model-card.ts';
import { gaussianNoise } from '../../src/diffusion/noise.ts';
import { createSession, run, type ForwardInput } from './runtime.ts';

const dir = process.argv[2] ?? path.join('models', 'fixture-tiny');
const reps = Number(process.argv[3] ?? 30);
const card = JSON.parse(await readFile(path.join(dir, 'model.json'), 'utf8')) as ModelCard;
const fp32 = await createSession(await readFile(path.join(dir, card.files.fp32.path)));
const int8 = await createSession(await readFile(path.join(dir, card.files.int8.path)));
const dims = [card.channels, card.imageSize, card.imageSize] as const;
const n = dims[0] * dims[1] * dims[2];
console.log(`${card.name}: ${card.architecture.parameters ?? '?'} parameters, ${dims.join('x')}; ms per forward (fastest / median of ${reps})`);
console.log('| batch | fp32 | int8 | speed-up (fastest) |\n|---|---|---|---|');
for (const b of [1, 4, 16]) {
  const input: ForwardInput = {
    x: gaussianNoise(7, b, new Float32Array(b * n)),
    t: Array(b).fill(Math.floor(card.schedule.T / 2)),
    y: card.io.class === undefined ? undefined : Array.from({ length: b }, (_, i) => i % (card.architecture.numClasses + 1)),
    imageDims: dims,
  };
  const times = { fp32: [] as number[], int8: [] as number[] };
  for (let i = 0; i < 5; i++) {
    await run(fp32, card.io, input);
    await run(int8, card.io, input);
  }
  for (let i = 0; i < reps; i++) {
    for (const [k, s] of [['fp32', fp32], ['int8', int8]] as const) {
      const t0 = performance.now();
      await run(s, card.io, input);
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
