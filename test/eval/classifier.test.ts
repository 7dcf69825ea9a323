import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../scripts/train/backend.ts';
import {
  CLASSIFIER_SIZE,
  FEATURE_DIM,
  classifierForward,
  disposeClassifier,
  embed,
  initClassifier,
  loadClassifier,
  saveClassifier,
} from '../../scripts/eval/classifier.ts';
import { defaultFit, roundTrip, toClassifierPixels } from '../../scripts/eval/images.ts';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

beforeAll(async () => {
  await selectBackend('wasm');
});

function images(n: number): Uint8Array {
  const px = new Uint8Array(n * CLASSIFIER_SIZE * CLASSIFIER_SIZE);
  for (let i = 0; i < px.length; i++) px[i] = (i * 37 + (i >> 5) * 11) & 255;
  return px;
}

describe('evaluation classifier', () => {
  it('gives [N, 64] features and [N, 10] logits', () => {
    const params = initClassifier(1);
    const out = tf.tidy(() => {
      const { features, logits } = classifierForward(params, tf.zeros([3, 28, 28, 1]) as tf.Tensor4D);
      return [features.shape, logits.shape];
    });
    expect(out).toEqual([
      [3, FEATURE_DIM],
      [3, 10],
    ]);
    disposeClassifier(params);
  });

  it('embeds in batches (batch size does not change the result) and round-trips through save/load', async () => {
    const params = initClassifier(2);
    const px = images(7);
    const a = await embed(params, px, 7, 3);
    const b = await embed(params, px, 7, 7);
    expect(a.features.length).toBe(7 * FEATURE_DIM);
    expect(a.predictions.length).toBe(7);
    for (let i = 0; i < a.features.length; i++) expect(a.features[i]).toBeCloseTo(b.features[i], 4);
    const dir = mkdtempSync(path.join(tmpdir(), 'eval-clf-'));
    await saveClassifier(dir, params, { training: { seed: 2, epochs: 0, batchSize: 1, lr: 0, seconds: 0, backend: 'wasm', trainImages: 0 }, testAccuracy: 0 });
    const loaded = await loadClassifier(dir);
    const c = await embed(loaded.params, px, 7);
    expect(Array.from(c.features)).toEqual(Array.from(b.features));
    disposeClassifier(params);
    disposeClassifier(loaded.params);
  });

  it('the committed classifier loads and reached >= 90% test accuracy', async () => {
    const { manifest, params } = await loadClassifier();
    expect(manifest.testAccuracy).toBeGreaterThanOrEqual(0.9);
    disposeClassifier(params);
  });
});

describe('model size <-> classifier size', () => {
  it('pads 28 -> 32 and crops back exactly; resizes for 16', () => {
    const px = images(2);
    expect(defaultFit(32)).toBe('pad');
    expect(defaultFit(16)).toBe('resize');
    expect(Array.from(roundTrip(px, 2, 32, 'pad'))).toEqual(Array.from(px));
    expect(Array.from(roundTrip(px, 2, 28, 'pad'))).toEqual(Array.from(px));
    expect(roundTrip(px, 2, 16, 'resize').length).toBe(2 * 28 * 28);
  });

  it('maps a flat 16x16 gray image to a flat 28x28 one, and color to gray', () => {
    const flat = new Uint8Array(16 * 16 * 3).fill(90);
    const out = toClassifierPixels(flat, 1, 16, 3, 'resize');
    expect(out.every((v) => v === 90)).toBe(true);
  });
});
