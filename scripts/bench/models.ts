/** Models the bench runs on: a folder with model.json (the registry's default by default) and a random-weight probe. */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gaussianNoise } from '../../src/diffusion/noise.ts';
import type { ModelCard } from '../../src/model-card.ts';
import { readModelCard } from '../lib/model-card.ts';
import type { DiffusionModelConfig, UNetConfig } from '../model/config.ts';
import { exportModel } from '../export/export.ts';
import { syntheticImages } from '../export/fixture.ts';
import { randomParams } from '../export/random-weights.ts';
import { PRESETS } from '../train/options.ts';
import type { ServingDefaults, ServingLimits } from '../../src/models/registry.ts';
import { SERVED_MODELS, servedModel } from '../../src/models/served.ts';

export const ROOT = join(import.meta.dirname, '..', '..');

export interface BenchModel {
  /** Label in the tables, e.g. "fixture-tiny (registry default)". */
  label: string;
  dir: string;
  card: ModelCard;
  fp32: Uint8Array;
  int8: Uint8Array;
}

export function loadModel(dir: string, label: string): BenchModel {
  const card = readModelCard(dir);
  return { label, dir, card, fp32: readFileSync(join(dir, card.files.fp32.path)), int8: readFileSync(join(dir, card.files.int8.path)) };
}

/** The served default model (the first entry of src/models/served.json). */
export function registryDefaultModel(): string {
  return SERVED_MODELS[0].name;
}

/** Serving limits and defaults of a model as served (src/models/served.json); a model it does not serve gets the global ones. */
export function servedSettings(name: string): { limits: ServingLimits; defaults?: ServingDefaults } {
  return servedModel(name) ?? { limits: { maxBatch: 8, maxImageSteps: 1024 } };
}

/** A probe architecture: a training preset at the trained model's shape (28x28x1, 10 classes). */
export function probeConfig(preset: string, imageSize = 28): DiffusionModelConfig {
  const p = PRESETS[preset];
  if (!p) throw new Error(`unknown preset ${preset} (${Object.keys(PRESETS).join(', ')})`);
  const base: UNetConfig = {
    imageSize,
    channels: 1,
    baseChannels: 16,
    channelMults: [1, 2, 2],
    numResBlocks: 1,
    attentionResolutions: [],
    dropout: 0.1,
    groups: 8,
    numClasses: 10,
    ...p,
  };
  // presets name attention at 8 of 32: the same depth at other sizes (28 -> 7)
  const attn = (p.attentionResolutions ?? [8]).map((r) => (r * imageSize) / 32).filter((r) => Number.isInteger(r));
  return { unet: { ...base, imageSize, attentionResolutions: attn }, schedule: { kind: 'linear', T: 1000 }, prediction: 'epsilon' };
}

/**
 * models/probe-<preset>-<size>/ under `modelsDir` (bench-results/models), exported through the real exporter
 * from seeded random weights, calibrated on synthetic images. Reused when it exists with the same architecture.
 */
export async function probeModel(preset: string, modelsDir: string, log: (line: string) => void): Promise<BenchModel> {
  const config = probeConfig(preset);
  const name = `probe-${preset}-${config.unet.imageSize}`;
  const dir = join(modelsDir, name);
  const label = `${name} (random weights, preset ${preset})`;
  if (existsSync(join(dir, 'model.json'))) {
    const found = loadModel(dir, label);
    const a = found.card.architecture;
    const u = config.unet;
    if (a.baseChannels === u.baseChannels && a.numResBlocks === u.numResBlocks && a.channelMults.join() === u.channelMults.join()) return found;
  }
  log(`exporting probe ${name} (random weights) ...`);
  const size = config.unet.imageSize;
  const labels = (count: number, seed: number): Int32Array => Int32Array.from(gaussianNoise(seed, 7, new Float32Array(count)), (v) => Math.abs(Math.floor(v * 1000)) % 10);
  await exportModel({
    name,
    version: '0.0.0-bench',
    config,
    params: randomParams(9),
    classNames: Array.from({ length: 10 }, (_, i) => `class-${i}`),
    dataset: 'none: random weights (bench probe)',
    training: { steps: 0, seconds: 0 },
    calibrationImages: syntheticImages(32, size, 1),
    calibrationLabels: labels(32, 1),
    evaluationImages: syntheticImages(16, size, 2),
    evaluationLabels: labels(16, 2),
    sampleSteps: 2,
    sampleImages: 2,
    modelsDir,
  });
  return loadModel(dir, label);
}
