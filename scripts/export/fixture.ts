/**
 * `npm run export:fixture`: models/fixture-tiny/, a tiny class-conditional U-Net with seeded random
 * weights, exported through the real path (shared definition -> ONNX emitter -> calibration -> int8), and
 * test/fixtures/cold-blur-tiny/, the same for a Cold Diffusion (blur) model, which no served list names.
 * Deterministic: the same bytes on every run. For worker tests (guidance, batching, hashes), not images.
 */
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { gaussianNoise } from '../../src/diffusion/noise.ts';
import type { DiffusionModelConfig } from '../model/config.ts';
import { DEFAULT_BLUR, fitGaussianMixture } from '../../src/cold/index.ts';
import { exportModel, formatReport } from './export.ts';
import type { ColdExportConfig } from './cold.ts';
import { randomParams } from './random-weights.ts';

export const FIXTURE_NAME = 'fixture-tiny';

export const FIXTURE_CONFIG: DiffusionModelConfig = {
  unet: {
    imageSize: 16,
    channels: 1,
    baseChannels: 4,
    channelMults: [1, 2],
    numResBlocks: 1,
    attentionResolutions: [8],
    dropout: 0.1,
    groups: 2,
    numClasses: 10,
  },
  schedule: { kind: 'linear', T: 1000 },
  prediction: 'epsilon',
};

/** Smooth synthetic images in [-1, 1]: two Gaussian blobs on a dark background, seeded. */
export function syntheticImages(count: number, size: number, seed: number): Float32Array {
  const out = new Float32Array(count * size * size);
  const p = gaussianNoise(seed, 0, new Float32Array(count * 6));
  for (let k = 0; k < count; k++) {
    const blobs = [0, 1].map((j) => ({
      cx: size * (0.5 + 0.2 * p[k * 6 + 3 * j]),
      cy: size * (0.5 + 0.2 * p[k * 6 + 3 * j + 1]),
      r: size * (0.15 + 0.05 * Math.abs(p[k * 6 + 3 * j + 2])),
    }));
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        let v = 0;
        for (const b of blobs) v += Math.exp(-((x - b.cx) ** 2 + (y - b.cy) ** 2) / (2 * b.r * b.r));
        out[k * size * size + y * size + x] = Math.min(1, 2 * v - 1);
      }
    }
  }
  return out;
}

export async function exportFixture(modelsDir: string, log: (line: string) => void = () => {}) {
  const size = FIXTURE_CONFIG.unet.imageSize;
  return exportModel({
    name: FIXTURE_NAME,
    version: '1.0.0',
    config: FIXTURE_CONFIG,
    params: randomParams(20261129),
    classNames: Array.from({ length: 10 }, (_, i) => `class-${i}`),
    dataset: 'none: random weights, calibrated on synthetic blob images (test fixture)',
    training: { steps: 0, seconds: 0 },
    calibrationImages: syntheticImages(64, size, 1),
    evaluationImages: syntheticImages(32, size, 2),
    sampleSteps: 20,
    sampleImages: 4,
    modelsDir,
    // the fixture keeps the int8 graph as quantized: it covers the path of a card file without `optimized`
    // (the shipped models cover the optimized one)
    optimize: false,
    log,
  });
}

export const COLD_FIXTURE_NAME = 'cold-blur-tiny';

/** The cold fixture: the paper's default blur over 16x16 images, unconditional, the fixture's small U-Net. */
export function coldFixtureConfig(images: Float32Array): ColdExportConfig {
  const size = FIXTURE_CONFIG.unet.imageSize;
  const count = images.length / (size * size);
  const means = Float64Array.from({ length: count }, (_, k) => images.subarray(k * size * size, (k + 1) * size * size).reduce((a, v) => a + v, 0) / (size * size));
  const { mixture, iterations } = fitGaussianMixture(means, count, 1, { components: 2 });
  return {
    unet: { ...FIXTURE_CONFIG.unet, numClasses: 0 },
    process: DEFAULT_BLUR,
    generation: { mixture, noise: 0.002, fittedOn: `per-channel means of ${count} synthetic blob images, 2 components (${iterations} EM iterations)` },
  };
}

export async function exportColdFixture(dir: string, log: (line: string) => void = () => {}) {
  const size = FIXTURE_CONFIG.unet.imageSize;
  const calibration = syntheticImages(64, size, 1);
  return exportModel({
    name: COLD_FIXTURE_NAME,
    version: '1.0.0',
    config: coldFixtureConfig(calibration),
    params: randomParams(20261130),
    classNames: null,
    dataset: 'none: random weights, calibrated on synthetic blob images (test fixture)',
    training: { steps: 0, seconds: 0 },
    calibrationImages: calibration,
    evaluationImages: syntheticImages(32, size, 2),
    sampleImages: 4,
    modelsDir: dir,
    optimize: false, // as the DDPM fixture: the path of a card file without `optimized`
    log,
  });
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
  const { dir, report } = await exportFixture(join(root, 'models'), (l) => console.log(l));
  console.log(formatReport(report, dir));
  const cold = await exportColdFixture(join(root, 'test', 'fixtures'), (l) => console.log(l));
  console.log(formatReport(cold.report, cold.dir));
}
