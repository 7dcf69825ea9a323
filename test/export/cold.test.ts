// Exporting Cold Diffusion models: the same exporter with degraded inputs; the card records the process, its
// kind and the generation start; the test fixture is reproducible byte for byte.
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_BLUR, DEFAULT_MASK, makeDegradation, validateMixture, type ColdModelCard } from '../../src/cold/index.ts';
import { quantize8 } from '../../src/image/pixels.ts';
import { coldInputs, channelMeans, generates } from '../../scripts/export/cold.ts';
import { COLD_FIXTURE_NAME, coldFixtureConfig, exportColdFixture, syntheticImages } from '../../scripts/export/fixture.ts';
import { exportRun, type RunExportOptions } from '../../scripts/export/from-run.ts';
import { decodeModel } from '../../scripts/model/onnx-graph.ts';
import type { UNetConfig } from '../../scripts/model/config.ts';
import { fakeRun, tempDir } from './helpers.ts';

const ROOT = path.join(import.meta.dirname, '..', '..');
const UNET: UNetConfig = { imageSize: 16, channels: 1, baseChannels: 4, channelMults: [1, 2], numResBlocks: 1, attentionResolutions: [8], dropout: 0, groups: 2, numClasses: 0 };

const common = (modelsDir: string): Omit<RunExportOptions, 'runDir'> => ({
  version: '0.0.1',
  modelsDir,
  calibrationImages: 32,
  evaluationImages: 16,
  parity: true,
  benchmarkBatches: [],
  log: () => {},
});

describe('cold network inputs', () => {
  it('are D(x0, t + 1) at network timestep t, rounded to 8 bits for a discrete process', () => {
    const x0 = syntheticImages(6, 16, 3);
    const net = coldInputs({ unet: UNET, process: DEFAULT_BLUR, generation: null }, x0);
    expect(net.T).toBe(20);
    const [batch] = net.inputs(x0, 6, 6, [0, 9, 19], 1);
    expect(Array.from(batch.t)).toEqual([0, 9, 19, 0, 9, 19]);
    expect(Array.from(batch.x)).toEqual(Array.from(quantize8(makeDegradation(DEFAULT_BLUR, 16).apply(x0, 1, [1, 10, 20, 1, 10, 20]))));
    expect(batch.classes).toBeUndefined();
  });

  it('generation is modelled only where D(x0, T) is the flat per-channel mean (blur, discrete)', () => {
    expect([generates(DEFAULT_BLUR), generates({ ...DEFAULT_BLUR, discrete: false }), generates(DEFAULT_MASK)]).toEqual([true, false, false]);
  });
});

describe('npm run export -- --run <cold run>', () => {
  it('writes a cold-blur card: kind, process, x0 prediction, the mixture of the channel means; parity holds', async () => {
    const runDir = await fakeRun({ unet: UNET, process: DEFAULT_BLUR });
    const out = await tempDir('cold-models');
    const { card, report } = await exportRun({ ...common(out), runDir, name: 'cold-test', mixtureComponents: 3, startNoise: 0.01 });
    const c = card as ColdModelCard;
    expect([c.kind, c.prediction, c.classNames, 'schedule' in c]).toEqual(['cold-blur', 'sample', null, false]);
    expect(c.process).toEqual(DEFAULT_BLUR);
    expect(c.generation?.noise).toBe(0.01);
    expect(c.generation?.mixture.weights).toHaveLength(3);
    validateMixture(c.generation!.mixture);
    expect(c.dataset).toMatch(/^Fashion-MNIST: /);
    expect(report.extra['parity.tfjsVsOrtMaxAbs']).toBeLessThan(1e-4);
    expect(report.sampleLabel).toMatch(/Algorithm 2 restoration of \d+ images from t = T = 20/);
    expect(Object.keys(report.int8ByT)).toEqual(['0', '5', '10', '15', '19']);
    const written = JSON.parse(await readFile(path.join(out, 'cold-test', 'model.json'), 'utf8')) as ColdModelCard;
    expect(Object.keys(written).slice(0, 3)).toEqual(['kind', 'name', 'version']);
    const meta = decodeModel(await readFile(path.join(out, 'cold-test', 'unet.onnx'))).metadataProps!.map((m) => m.key);
    expect(meta).toContain('process');
  });

  it('a cold-mask run restores only (no generation start); mixture options are refused on DDPM runs', async () => {
    const runDir = await fakeRun({ unet: UNET, process: { ...DEFAULT_MASK, T: 10 } });
    const out = await tempDir('cold-models');
    const { card } = await exportRun({ ...common(out), runDir, name: 'mask-test' });
    expect([(card as ColdModelCard).kind, (card as ColdModelCard).generation]).toEqual(['cold-mask', null]);
    const ddpm = await fakeRun({ unet: UNET, schedule: { kind: 'linear', T: 1000 }, prediction: 'epsilon' });
    await expect(exportRun({ ...common(out), runDir: ddpm, name: 'ddpm-test', mixtureComponents: 2 })).rejects.toThrow(/--mixture-components and --start-noise apply to Cold Diffusion runs/);
  });
});

describe(`test fixture (test/fixtures/${COLD_FIXTURE_NAME})`, () => {
  it('is what `npm run export:fixture` writes, byte for byte; its mixture fits the synthetic images', async () => {
    const dir = await tempDir('cold-fixture');
    await exportColdFixture(dir);
    for (const f of ['model.json', 'unet.onnx', 'unet.int8.onnx']) {
      const a = await readFile(path.join(dir, COLD_FIXTURE_NAME, f));
      const b = await readFile(path.join(ROOT, 'test', 'fixtures', COLD_FIXTURE_NAME, f));
      expect(a.equals(b), f).toBe(true);
    }
    const images = syntheticImages(64, 16, 1);
    const { mixture } = coldFixtureConfig(images).generation!;
    const mean = channelMeans({ size: 16, channels: 1, count: 64, pixels: Uint8Array.from(images, (v) => Math.round((v + 1) * 127.5)), labels: null, classNames: null, source: 'x' }).reduce((a, v) => a + v, 0) / 64;
    const mixMean = mixture.weights.reduce((a, w, k) => a + w * mixture.means[k][0], 0);
    expect(mixMean).toBeCloseTo(mean, 2);
  });
});

describe('npm run export -- --from-model <cold model>', () => {
  it('is refused with the reason: it re-exports DDPM models', async () => {
    const { exportFromModel } = await import('../../scripts/export/from-model.ts');
    const out = await tempDir('cold-from-model');
    await expect(exportFromModel({ ...common(out), modelDir: path.join(ROOT, 'test', 'fixtures', COLD_FIXTURE_NAME) })).rejects.toThrow(/it is a Cold Diffusion model \(cold-blur\); --from-model re-exports DDPM models/);
  });
});
