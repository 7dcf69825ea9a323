import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { evaluate } from '../../scripts/eval/evaluate.ts';
import { DEFAULT_EVAL } from '../../scripts/eval/spec.ts';
import { loadClassifier, disposeClassifier, SECOND_CLASSIFIER_DIR, DEFAULT_CLASSIFIER_DIR } from '../../scripts/eval/classifier.ts';
import { selectBackend } from '../../scripts/train/backend.ts';

describe('the two meters', () => {
  it('the second committed classifier is another architecture with another seed, and is accurate', async () => {
    await selectBackend('wasm');
    const a = await loadClassifier(DEFAULT_CLASSIFIER_DIR);
    const b = await loadClassifier(SECOND_CLASSIFIER_DIR);
    expect(a.params.arch).toBe('cnn3');
    expect(b.params.arch).toBe('cnn-gap');
    expect(b.manifest.training.seed).not.toBe(a.manifest.training.seed);
    expect(b.manifest.testAccuracy).toBeGreaterThanOrEqual(0.85);
    disposeClassifier(a.params);
    disposeClassifier(b.params);
  });

  it('every cell is read on both meters with intervals, and the default cell class by class', async () => {
    const out = mkdtempSync(path.join(tmpdir(), 'eval-meters-'));
    const report = await evaluate({
      ...DEFAULT_EVAL,
      modelDir: 'models/fixture-tiny',
      samples: 40,
      batch: 20,
      samplers: ['dpmpp2m'],
      steps: [3],
      ddpmReference: 0,
      guidance: [1],
      precisions: ['int8'],
      defaultCell: { sampler: 'dpmpp2m', steps: 3, guidance: 1 },
      testImages: 500,
      cacheDir: null,
      backend: 'wasm',
      progress: false,
      grids: false,
      out,
      log: () => {},
    });
    const c = report.cells[0];
    expect(report.secondMeter?.arch).toBe('cnn-gap');
    expect(report.secondMeter?.floor.distance).toBeGreaterThan(0);
    const s = c.second;
    expect(s).toBeDefined();
    if (!s || !c.distanceCi) throw new Error('second meter or interval missing');
    // the meters are different feature spaces: different distances, each inside its own interval
    expect(s.distance).not.toBeCloseTo(c.distance, 3);
    expect(s.distanceCi[0]).toBeLessThanOrEqual(s.distance);
    expect(s.distanceCi[1]).toBeGreaterThanOrEqual(s.distance);
    expect(c.distanceCi[0]).toBeLessThanOrEqual(c.distance);
    // 40 samples, class i mod 10: 4 per class, 10 rows, per-class accuracies average to the overall one
    expect(c.perClass).toHaveLength(10);
    const mean = (c.perClass ?? []).reduce((a, k) => a + k.accuracy, 0) / 10;
    expect(mean).toBeCloseTo(c.accuracy ?? NaN, 10);
    for (const k of c.perClass ?? []) {
      expect(k.floor).toBeGreaterThan(0);
      expect(k.accuracyCi[0]).toBeLessThanOrEqual(k.accuracy);
    }
    // the targets: the floor ratio with its interval
    const ft = report.targets.floorTarget;
    expect(ft?.ratio).toBeCloseTo(c.distance / report.reference.floor.distance, 10);
    expect(ft?.required).toBe(2);
    expect(report.targets.accuracyTarget.required).toBe(0.95);
    const table = readFileSync(path.join(out, 'table.md'), 'utf8');
    expect(table).toContain('second meter [95%]');
    expect(table).toContain('Per requested class at the default cell');
    expect(table).toContain('| 9 Ankle boot |');
    expect(table).toMatch(/x the same-n floor \[/);
  });
});
