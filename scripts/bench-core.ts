/**
 * Micro-benchmark of the diffusion core: time per step of the scheduler arithmetic and of the seeded noise
 * for a [16, 1, 32, 32] batch, against one U-Net call of the shipped model measured in the same run
 * (onnxruntime-web, one thread, batch 16), to show the core's share of a sampling step.
 *
 *   npm run bench core [-- --model models/<name> --iterations 200]
 */
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { createScheduler, gaussianNoise, makeSchedule, type SamplerName } from '../src/diffusion/index.ts';
import { createEpsModel } from '../src/inference/eps-model.ts';
import { createModelSession, graphSpec } from '../src/inference/onnx.ts';
import { readModelCard } from './lib/model-card.ts';
import { forwardInputs } from './bench/inputs.ts';

const program = new Command()
  .name('bench:core')
  .description('Time per step of scheduler arithmetic and noise generation, against one U-Net call')
  .option('--model <dir>', 'model folder with model.json (default: the first non-fixture model, else the fixture)')
  .option('--iterations <n>', 'timed iterations per row', (v) => Number.parseInt(v, 10), 200)
  .parse();
const opts = program.opts<{ model?: string; iterations: number }>();

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function time(iterations: number, fn: () => unknown): Promise<number> {
  for (let i = 0; i < Math.min(20, iterations); i++) await fn(); // warm-up (JIT)
  const samples: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const t0 = performance.now();
    await fn();
    samples.push(performance.now() - t0);
  }
  return median(samples);
}

const B = 16;
const size = B * 32 * 32;
const schedule = makeSchedule();
const x = gaussianNoise(1, 0, new Float32Array(size));
const eps = gaussianNoise(2, 0, new Float32Array(size));
const noise = new Float32Array(size);
const rows: [string, number][] = [];

for (const name of ['ddpm', 'ddim', 'dpmpp2m', 'dpmpp3m', 'unipc'] as SamplerName[]) {
  const s = createScheduler(name, schedule, { eta: 1 });
  let i = 0;
  s.setTimesteps(50);
  rows.push([
    `${name} step`,
    await time(opts.iterations, () => {
      if (i === s.timesteps.length) {
        s.setTimesteps(50);
        i = 0;
      }
      s.step(eps, s.timesteps[i++], x, { noise, batch: B });
    }),
  ]);
}
rows.push([
  'noise, 16 images',
  await time(opts.iterations, () => {
    for (let b = 0; b < B; b++) gaussianNoise(1000 + b, 3, noise.subarray(b * 1024, (b + 1) * 1024));
  }),
]);

function pickModel(): string | undefined {
  if (opts.model) return opts.model;
  if (!existsSync('models')) return undefined;
  const names = readdirSync('models').filter((n) => existsSync(join('models', n, 'model.json')));
  const pick = names.find((n) => !n.startsWith('fixture')) ?? names[0];
  return pick && join('models', pick);
}

const dir = pickModel();
let unetMs: number | undefined;
let unetLabel = 'U-Net call';
if (dir) {
  const card = readModelCard(dir);
  const file = card.files.int8 ?? card.files.fp32;
  const session = await createModelSession(readFileSync(join(dir, file.path)), graphSpec(card));
  const model = createEpsModel(session, card.architecture.numClasses);
  const inputs = forwardInputs(card, B);
  unetMs = await time(Math.min(opts.iterations, 30), () => model(inputs));
  unetLabel = `U-Net call (${card.name} int8, batch ${B}, ${card.imageSize}x${card.imageSize})`;
  rows.push([unetLabel, unetMs]);
}

console.log(`\n| operation ([16, 1, 32, 32]) | ms per step | share of one U-Net call |`);
console.log(`|---|---|---|`);
for (const [name, ms] of rows) {
  const share = unetMs && name !== unetLabel ? `${((100 * ms) / unetMs).toFixed(2)}%` : '';
  console.log(`| ${name} | ${ms.toFixed(3)} | ${share} |`);
}
if (!unetMs) console.log('\n(no model found under models/: the U-Net column is empty)');
