/**
 * A meter: one evaluation classifier's feature space with its reference side (the test set's statistics,
 * the same-n floor, the real features of precision/recall and per-class statistics), and the scoring of a
 * set of generated images in it. The evaluation reads every cell on two meters trained differently
 * (classifier.ts: `cnn3` seed 0 and `cnn-gap` seed 1); a difference counts when both resolve it.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import type { FitMode } from '../train/options.ts';
import { Rng } from '../train/rng.ts';
import { accuracy, embed, loadClassifier, FEATURE_DIM, NUM_CLASSES, type ClassifierManifest, type ClassifierParams } from './classifier.ts';
import { frechetDistance, gaussianStats, type GaussianStats } from './frechet.ts';
import { jackknifeDistance, wilsonInterval, type Interval } from './intervals.ts';
import { precisionRecall } from './precision-recall.ts';
import { loadReal, readFashion } from './images.ts';

export const DEFAULT_CACHE_DIR = 'node_modules/.cache/ddpm-edge-eval';

export interface Floor {
  samples: number;
  distance: number;
  meanTerm: number;
  covTerm: number;
}

export interface Meter {
  /** Where the classifier was read from. */
  dir: string;
  clf: ClassifierParams;
  manifest: ClassifierManifest;
  testStats: GaussianStats;
  testCount: number;
  /** Classifier accuracy on the test images after the round trip through the model's size. */
  realAccuracy: number;
  /** A training subset of `samples` images against the test set: the distance a perfect model gets at this n. */
  floor: Floor;
  /** Features of `samples` test images picked at random (seeded): the real side of precision and recall. */
  realFeatures: Float32Array;
  realFeatureCount: number;
  /** Per class k: the test images of class k as a Gaussian, and the floor of samples/10 training images of class k. */
  perClass: { testStats: GaussianStats; floor: number }[];
}

export interface MeterOptions {
  samples: number;
  seed: number;
  /** null = no cache. */
  cacheDir: string | null;
  /** The first n test images only (0 = all 10,000). */
  testImages: number;
}

interface CachedStats {
  stats: GaussianStats;
  accuracy: number;
}

/** Reference statistics are deterministic given the key: compute once, keep as JSON (doubles round-trip exactly). */
async function cached(cacheDir: string | null, key: Record<string, string | number>, compute: () => Promise<CachedStats>): Promise<CachedStats> {
  const text = JSON.stringify(key);
  const file = cacheDir === null ? null : path.join(cacheDir, `${createHash('sha256').update(text).digest('hex').slice(0, 24)}.json`);
  if (file !== null) {
    try {
      const c = JSON.parse(await fsp.readFile(file, 'utf8')) as { key: string; dim: number; count: number; mean: number[]; cov: number[]; accuracy: number };
      if (c.key === text) return { stats: { dim: c.dim, count: c.count, mean: Float64Array.from(c.mean), cov: Float64Array.from(c.cov) }, accuracy: c.accuracy };
    } catch {
      // not cached yet
    }
  }
  const r = await compute();
  if (file !== null && cacheDir !== null) {
    await fsp.mkdir(cacheDir, { recursive: true });
    const body = { key: text, dim: r.stats.dim, count: r.stats.count, mean: Array.from(r.stats.mean), cov: Array.from(r.stats.cov), accuracy: r.accuracy };
    await fsp.writeFile(file, JSON.stringify(body));
  }
  return r;
}

async function statsOf(clf: ClassifierParams, pixels: Uint8Array, count: number, labels: ArrayLike<number>): Promise<CachedStats> {
  const e = await embed(clf, pixels, count);
  return { stats: gaussianStats(e.features, count, FEATURE_DIM), accuracy: accuracy(e.predictions, labels) };
}

/** Indices (in order) of the rows whose label is k. */
function indicesOfClass(labels: ArrayLike<number>, k: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < labels.length; i++) if (labels[i] === k) out.push(i);
  return out;
}

/** Load the classifier in `dir` and compute (or read from the cache) its reference side at model size S. */
export async function prepareMeter(dir: string, o: MeterOptions, S: number, fit: FitMode): Promise<Meter> {
  const { params: clf, manifest } = await loadClassifier(dir);
  const refKey = { v: 1, classifier: manifest.sha256, size: S, fit };
  const testLimit = o.testImages;
  const testRef = await cached(o.cacheDir, { ...refKey, set: 't10k', limit: testLimit }, async () => {
    const test = await loadReal('t10k', S, fit, { limit: testLimit });
    return statsOf(clf, test.pixels, test.count, test.labels);
  });
  const floorRef = await cached(o.cacheDir, { ...refKey, set: 'train-subset', samples: o.samples, seed: o.seed }, async () => {
    const pick = Rng.of('eval-floor', o.seed).permutation(60_000).subarray(0, Math.min(o.samples, 60_000));
    const train = await loadReal('train', S, fit, { indices: pick });
    return statsOf(clf, train.pixels, train.count, train.labels);
  });
  const floor = { samples: floorRef.stats.count, ...frechetDistance(floorRef.stats, testRef.stats) };
  // precision/recall compare sets of equal size: as many test images as samples per cell
  const prCount = Math.min(o.samples, testRef.stats.count);
  const prPick = Rng.of('eval-precision-recall', o.seed).permutation(testRef.stats.count).subarray(0, prCount);
  const prImages = await loadReal('t10k', S, fit, { indices: prPick });
  const realFeatures = (await embed(clf, prImages.pixels, prImages.count)).features;

  // per class: the class's test images, and a floor of as many training images of the class as a cell has
  const perClassN = Math.max(2, Math.floor(o.samples / NUM_CLASSES));
  const testLabels = (await readFashion('t10k')).labels.subarray(0, testLimit > 0 ? testLimit : undefined);
  const trainLabels = (await readFashion('train')).labels;
  const perClass: Meter['perClass'] = [];
  for (let k = 0; k < NUM_CLASSES; k++) {
    const testK = await cached(o.cacheDir, { ...refKey, set: 't10k-class', cls: k, limit: testLimit }, async () => {
      const idx = indicesOfClass(testLabels, k);
      const imgs = await loadReal('t10k', S, fit, { indices: idx });
      return statsOf(clf, imgs.pixels, imgs.count, imgs.labels);
    });
    const floorK = await cached(o.cacheDir, { ...refKey, set: 'train-class-subset', cls: k, samples: perClassN, seed: o.seed }, async () => {
      const all = indicesOfClass(trainLabels, k);
      const order = Rng.of('eval-floor-class', o.seed, k).permutation(all.length);
      const idx = Array.from(order.subarray(0, Math.min(perClassN, all.length)), (j) => all[j]);
      const imgs = await loadReal('train', S, fit, { indices: idx });
      return statsOf(clf, imgs.pixels, imgs.count, imgs.labels);
    });
    perClass.push({ testStats: testK.stats, floor: frechetDistance(floorK.stats, testK.stats).distance });
  }
  return { dir, clf, manifest, testStats: testRef.stats, testCount: testRef.stats.count, realAccuracy: testRef.accuracy, floor, realFeatures, realFeatureCount: prImages.count, perClass };
}

/** One class's figures: how often the classifier sees the requested class, and the class's own distance. */
export interface ClassScore {
  accuracy: number;
  accuracyCi: Interval;
  distance: number;
  distanceCi: Interval;
  /** The same-n floor of the class (training images of the class against its test images). */
  floor: number;
}

/** A set of generated images read on one meter. */
export interface MeterScore {
  /** Squared Fréchet distance in the classifier's feature space (FID's formula). */
  distance: number;
  /** 95% jackknife interval (intervals.ts). */
  distanceCi: Interval;
  meanTerm: number;
  covTerm: number;
  /** Fraction of samples the classifier assigns to the requested class (null: unconditional). */
  accuracy: number | null;
  accuracyCi: Interval | null;
  /** accuracy / the classifier's accuracy on real test images at the model's size. */
  relativeAccuracy: number | null;
  /** Improved precision / recall (k = 3). */
  fidelity: number;
  diversity: number;
  /** Conditional models: per requested class. */
  perClass: ClassScore[] | null;
}

/** Score `count` 28x28 images (sample i asked for classes[i]; null: unconditional) on `meter`. */
export async function scoreOnMeter(meter: Meter, pixels: Uint8Array, count: number, classes: Int32Array | null): Promise<MeterScore> {
  const emb = await embed(meter.clf, pixels, count);
  const stats = gaussianStats(emb.features, count, FEATURE_DIM);
  const fd = frechetDistance(stats, meter.testStats);
  const distanceCi = jackknifeDistance(emb.features, count, FEATURE_DIM, meter.testStats).interval;
  const pr = precisionRecall(meter.realFeatures, meter.realFeatureCount, emb.features, count, FEATURE_DIM);
  if (classes === null) return { ...fd, distanceCi, accuracy: null, accuracyCi: null, relativeAccuracy: null, fidelity: pr.precision, diversity: pr.recall, perClass: null };
  const acc = accuracy(emb.predictions, classes);
  const perClass: ClassScore[] = [];
  for (let k = 0; k < NUM_CLASSES; k++) {
    const rows = indicesOfClass(classes, k);
    if (rows.length < 4) continue;
    const f = new Float32Array(rows.length * FEATURE_DIM);
    let ok = 0;
    rows.forEach((i, j) => {
      f.set(emb.features.subarray(i * FEATURE_DIM, (i + 1) * FEATURE_DIM), j * FEATURE_DIM);
      if (emb.predictions[i] === k) ok++;
    });
    const jk = jackknifeDistance(f, rows.length, FEATURE_DIM, meter.perClass[k].testStats);
    perClass.push({ accuracy: ok / rows.length, accuracyCi: wilsonInterval(ok, rows.length), distance: jk.distance, distanceCi: jk.interval, floor: meter.perClass[k].floor });
  }
  return {
    ...fd,
    distanceCi,
    accuracy: acc,
    accuracyCi: wilsonInterval(Math.round(acc * count), count),
    relativeAccuracy: acc / meter.realAccuracy,
    fidelity: pr.precision,
    diversity: pr.recall,
    perClass,
  };
}
