/** Shared helpers of the export tests: a fake training run with random weights on real images. */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { DiffusionModelConfig } from '../../scripts/model/config.ts';
import { buildUNetGraph } from '../../scripts/export/graph.ts';
import { materialise, randomParams } from '../../scripts/export/random-weights.ts';
import { saveCheckpoint, writeRunConfig, type ParamEntry } from '../../scripts/train/checkpoint.ts';
import { fashionMnistPaths, FASHION_MNIST_CLASSES } from '../../scripts/train/data.ts';
import { DEFAULT_TRAIN, type AnyRunConfig, type ColdRunConfig, type RunConfig } from '../../scripts/train/options.ts';

export async function tempDir(prefix: string): Promise<string> {
  return mkdtemp(path.join(tmpdir(), `ddpm-export-${prefix}-`));
}

/**
 * A run folder whose checkpoint holds seeded random weights (EMA = weights), on Fashion-MNIST t10k: a DDPM
 * run, or a Cold Diffusion one when the config has a `process`.
 */
export async function fakeRun(config: DiffusionModelConfig | Pick<ColdRunConfig, 'unet' | 'process'>, opts: { seed?: number; unet?: RunConfig['unet']; training?: Partial<RunConfig['training']> } = {}): Promise<string> {
  const runDir = path.join(await tempDir('run'), 'tiny-run');
  const data = fashionMnistPaths('t10k');
  const common = {
    format: 'ddpm-edge-run',
    version: 1,
    unet: opts.unet ?? config.unet,
    training: { ...DEFAULT_TRAIN, steps: 10, batchSize: 8, ...opts.training },
    data: { kind: 'idx', images: data.images, labels: data.labels, fit: 'resize', hflip: false, limit: 256 },
    classNames: config.unet.numClasses > 0 ? FASHION_MNIST_CLASSES.slice() : undefined,
  } as const;
  const run: AnyRunConfig =
    'process' in config
      ? { ...common, process: config.process, prediction: 'sample', training: { ...common.training, objective: 'x0', loss: 'l1' } }
      : { ...common, schedule: config.schedule, prediction: config.prediction };
  await writeRunConfig(runDir, run);
  const built = buildUNetGraph(config, randomParams(opts.seed ?? 3));
  const weights = materialise(built.params, randomParams(opts.seed ?? 3));
  let offset = 0;
  const params: ParamEntry[] = built.params.map((p) => {
    const size = p.shape.reduce((a, b) => a * b, 1);
    const e = { name: p.name, shape: p.shape, offset, size };
    offset += size;
    return e;
  });
  const flat = new Float32Array(offset);
  for (const p of params) flat.set(weights.get(p.name)?.data ?? [], p.offset);
  await saveCheckpoint(runDir, params, { step: 10, imagesSeen: 80, trainSeconds: 1.5, weights: flat, ema: flat, adamM: new Float32Array(offset), adamV: new Float32Array(offset) }, 0, 1);
  return runDir;
}
