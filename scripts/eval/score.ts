/**
 * Scoring one cell: images from an exported model (in process) or from a running worker, sampled at the
 * cell's sampler, steps and guidance, scored on every meter against the prepared reference (the test set's
 * features and the same-n floor). Also the per-call timing probe and the sample grid writer.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { createScheduler, deriveSeed, guidedAt, makeSchedule, sample, type EpsModel, type PredictionType, type ScheduleConfig } from '../../src/diffusion/index.ts';
import { encodePng, makeGrid, toImages, upscale } from '../../src/image/index.ts';
import { type GraphSpec } from '../../src/inference/onnx.ts';
import { inputsFor } from '../bench/inputs.ts';
import { selectBackend } from '../train/backend.ts';
import type { FitMode } from '../train/options.ts';
import { disposeClassifier, DEFAULT_CLASSIFIER_DIR, SECOND_CLASSIFIER_DIR } from './classifier.ts';
import { samplesToClassifierPixels } from './images.ts';
import { fetchSamples } from './worker-source.ts';
import { DEFAULT_CACHE_DIR, prepareMeter, scoreOnMeter, type Meter, type MeterScore } from './meters.ts';
import { type Cell, type CellResult, type EvalOptions } from './spec.ts';

/** Milliseconds per image per U-Net call at batch `B` (median of 5 calls after 2 warm-up calls). */
export async function probe(m: EpsModel, spec: Pick<GraphSpec, 'io' | 'dims'>, B: number): Promise<number> {
  const inputs = inputsFor(spec, B, 500);
  for (let k = 0; k < 2; k++) await m(inputs);
  const times: number[] = [];
  for (let k = 0; k < 5; k++) {
    const tp = performance.now();
    await m(inputs);
    times.push(performance.now() - tp);
  }
  return times.sort((a, b) => a - b)[2] / B;
}

/** What sampling needs to know about a model, from a model card or a training run's config. */
export interface SampleSpace {
  imageSize: number;
  channels: number;
  numClasses: number;
  schedule: ScheduleConfig;
  prediction: PredictionType;
}

/** The reference side of every figure: the primary meter (the committed classifier) and the second one. */
export interface Reference {
  primary: Meter;
  second: Meter | null;
}

export type ReferenceOptions = Pick<EvalOptions, 'samples' | 'seed' | 'classifierDir' | 'secondClassifierDir' | 'cacheDir' | 'testImages' | 'backend'>;

export async function prepareReference(o: ReferenceOptions, S: number, fit: FitMode): Promise<Reference> {
  await selectBackend(o.backend);
  const mo = { samples: o.samples, seed: o.seed, cacheDir: o.cacheDir === undefined ? DEFAULT_CACHE_DIR : o.cacheDir, testImages: o.testImages ?? 0 };
  const primary = await prepareMeter(o.classifierDir ?? DEFAULT_CLASSIFIER_DIR, mo, S, fit);
  const secondDir = o.secondClassifierDir === undefined ? SECOND_CLASSIFIER_DIR : o.secondClassifierDir;
  const second = secondDir === null ? null : await prepareMeter(secondDir, mo, S, fit);
  return { primary, second };
}

export function disposeReference(ref: Reference): void {
  disposeClassifier(ref.primary.clf);
  if (ref.second) disposeClassifier(ref.second.clf);
}

export interface CellScore {
  primary: MeterScore;
  second: MeterScore | null;
  seconds: number;
  /** The first batch's samples (up to 100), [n, C, S, S] in [-1, 1], for a grid. */
  firstImages: Float32Array;
}

/** The primary meter's figures under the report's (older) top-level names. */
export function cellFields(m: MeterScore): Pick<CellResult, 'distance' | 'distanceCi' | 'meanTerm' | 'covTerm' | 'accuracy' | 'accuracyCi' | 'fidelity' | 'diversity' | 'relativeAccuracy' | 'perClass'> {
  return {
    distance: m.distance,
    distanceCi: m.distanceCi,
    meanTerm: m.meanTerm,
    covTerm: m.covTerm,
    accuracy: m.accuracy,
    accuracyCi: m.accuracyCi,
    fidelity: m.fidelity,
    diversity: m.diversity,
    relativeAccuracy: m.relativeAccuracy,
    perClass: m.perClass,
  };
}

export type CellOptions = Pick<EvalOptions, 'samples' | 'batch' | 'seed' | 'clip' | 'guidanceInterval'> & { fit: FitMode };

/**
 * Sample `o.samples` images for one cell (sample i: class i mod numClasses, seed deriveSeed(seed, i), so
 * every cell sees the same noise seeds and classes) and score them against the reference.
 */
/** Where a cell's images come from: a model sampled in-process, or a running worker serving `model`. */
export type ImageSource = EpsModel | { worker: string; model: string; concurrency: number };

export async function scoreCell(source: ImageSource, space: SampleSpace, cell: Omit<Cell, 'precision'>, o: CellOptions, ref: Reference, onImageSteps?: (n: number) => void): Promise<CellScore> {
  const { imageSize: S, channels: C, numClasses } = space;
  const seeds = Array.from({ length: o.samples }, (_, i) => deriveSeed(o.seed, i));
  const classes = Int32Array.from({ length: o.samples }, (_, i) => (numClasses > 0 ? i % numClasses : 0));
  const pixels = new Uint8Array(o.samples * 28 * 28);
  let firstImages = new Float32Array(0);
  const interval = cell.guidance !== 1 ? o.guidanceInterval : undefined;
  const tc = performance.now();
  for (let s = 0; s < o.samples; s += o.batch) {
    const B = Math.min(o.batch, o.samples - s);
    if (typeof source !== 'function') {
      const cls = Array.from(classes.slice(s, s + B), (k) => (numClasses > 0 ? k : null));
      const wcell = { sampler: cell.sampler, steps: cell.steps, guidance: cell.guidance, ...(interval ? { guidanceInterval: interval } : {}) };
      const x = await fetchSamples(source.worker, source.model, seeds.slice(s, s + B), cls, wcell, C, S, source.concurrency, () => onImageSteps?.(cell.steps * (cell.guidance !== 1 ? 2 : 1)));
      pixels.set(samplesToClassifierPixels(x, B, C, S, o.fit), s * 28 * 28);
      if (s === 0) firstImages = x.slice(0, Math.min(B, 100) * C * S * S);
      continue;
    }
    const model = source;
    const scheduler = createScheduler(cell.sampler, makeSchedule(space.schedule), { predictionType: space.prediction, clipSample: o.clip });
    const x = await sample({
      model,
      scheduler,
      steps: cell.steps,
      shape: [B, C, S, S],
      seeds: seeds.slice(s, s + B),
      ...(numClasses > 0 ? { classes: classes.slice(s, s + B), nullClass: numClasses } : {}),
      guidanceScale: cell.guidance,
      ...(interval ? { guidanceInterval: interval } : {}),
      onStep: ({ t }) => onImageSteps?.(B * (cell.guidance !== 1 && guidedAt(t, interval) ? 2 : 1)),
    });
    pixels.set(samplesToClassifierPixels(x, B, C, S, o.fit), s * 28 * 28);
    if (s === 0) firstImages = x.slice(0, Math.min(B, 100) * C * S * S);
  }
  const seconds = (performance.now() - tc) / 1000;
  const requested = numClasses > 0 ? classes : null;
  const primary = await scoreOnMeter(ref.primary, pixels, o.samples, requested);
  const second = ref.second === null ? null : await scoreOnMeter(ref.second, pixels, o.samples, requested);
  return { primary, second, seconds, firstImages };
}

/** A grid of samples as PNG (upscaled 2x below 32 pixels). */
export async function writeGrid(file: string, images: Float32Array, C: number, S: number): Promise<void> {
  const n = images.length / (C * S * S);
  const grid = makeGrid(toImages(images, [n, C, S, S]), 1);
  await fsp.mkdir(path.dirname(file), { recursive: true });
  await fsp.writeFile(file, encodePng(upscale(grid, S < 32 ? 2 : 1)));
}
