/**
 * The evaluation (issue 8): samples from an exported model under each sampler x steps x precision x
 * guidance cell, scored in the evaluation classifier's feature space against the Fashion-MNIST test set
 * (Fréchet distance) and by the classifier's accuracy on the requested class; plus the reference floor
 * (a training subset of the same size against the test set). Writes a markdown table, a JSON report, a
 * distance-vs-steps plot and a grid of samples per cell.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import cliProgress from 'cli-progress';
import { createScheduler, deriveSeed, guidedAt, makeSchedule, modelEvaluations, sample, SAMPLER_NAMES, type EpsModel, type GuidanceInterval, type PredictionType, type SamplerName, type ScheduleConfig } from '../../src/diffusion/index.ts';
import { encodePng, makeGrid, toImages, upscale } from '../../src/image/index.ts';
import type { ModelCard } from '../../src/model-card.ts';
import { createEpsModel } from '../../src/inference/eps-model.ts';
import { createModelSession, graphSpec, RUNTIME_LABEL, type GraphSpec, type ModelSession, type OrtRuntime } from '../../src/inference/onnx.ts';
import { inputsFor } from '../bench/inputs.ts';
import { readModelCard } from '../lib/model-card.ts';
import { selectBackend, type BackendRequest } from '../train/backend.ts';
import type { FitMode } from '../train/options.ts';
import { Rng } from '../train/rng.ts';
import { FASHION_MNIST_CLASSES } from '../train/data.ts';
import { PALETTE, linePlotPng, type Series } from '../lib/plot.ts';
import { accuracy, embed, loadClassifier, disposeClassifier, FEATURE_DIM, type ClassifierManifest, type ClassifierParams } from './classifier.ts';
import { frechetDistance, gaussianStats, type GaussianStats } from './frechet.ts';
import { jackknifeDistance, wilsonInterval, type Interval } from './intervals.ts';
import { precisionRecall } from './precision-recall.ts';
import { defaultFit, loadReal, samplesToClassifierPixels } from './images.ts';

export type Precision = 'fp32' | 'int8';
export const PRECISIONS: readonly Precision[] = ['fp32', 'int8'];
/** DPM-Solver++ is `dpmpp2m` (the serving default); `dpmpp3m` and `unipc` can be asked for. */
export const DEFAULT_SAMPLERS: readonly SamplerName[] = ['ddpm', 'ddim', 'dpmpp2m'];
export const SAMPLER_LABEL: Record<SamplerName, string> = {
  ddpm: 'DDPM ancestral',
  ddim: 'DDIM',
  dpmpp2m: 'DPM-Solver++(2M)',
  dpmpp3m: 'DPM-Solver++(3M)',
  unipc: 'UniPC (bh2, order 2)',
};

export interface EvalOptions {
  /** models/<name>: model.json and its ONNX files. */
  modelDir: string;
  /** Samples per cell (classes balanced: sample i asks for class i mod numClasses). */
  samples: number;
  samplers: readonly SamplerName[];
  steps: readonly number[];
  /** Steps of the DDPM reference row (1000 = T for the project's models); 0 = none. */
  ddpmReference: number;
  guidance: readonly number[];
  /** Guided cells apply guidance only at timesteps in [tLow, tHigh] (Kynkaanniemi et al. 2024); default: every step. */
  guidanceInterval?: GuidanceInterval;
  precisions: readonly Precision[];
  /** Images per sampling batch (a guided batch makes model calls of twice this). */
  batch: number;
  seed: number;
  /** How the model's training fitted 28x28 images to its size; default: pad when it fits, else resize. */
  fit?: FitMode;
  /** clipSample, as serving applies it (default on). */
  clip: boolean;
  out: string;
  classifierDir?: string;
  /** Where reference statistics (test set, floor) are cached, keyed by classifier, size and fit; null = no cache. */
  cacheDir?: string | null;
  /** Use the first n test images as the reference (0 = all 10,000; fewer only for quick checks). */
  testImages?: number;
  backend: BackendRequest;
  /** Which onnxruntime samples (the same graph; node is native and about 5x faster than web). */
  runtime: OrtRuntime;
  /** onnxruntime-node intra-op threads. */
  threads: number;
  /** The serving default the targets are checked at (int8 when measured, else fp32). */
  defaultCell: DefaultCell;
  /** results.json files of earlier runs on the same model and settings: their cells are reused, not resampled. */
  include: readonly string[];
  /** Sample nothing: the report is the --include cells alone (with the targets checked over them). */
  mergeOnly?: boolean;
  /** Write a grid of the first samples of each cell. */
  grids: boolean;
  progress: boolean;
  log: (line: string) => void;
}

export interface DefaultCell {
  sampler: SamplerName;
  steps: number;
  guidance: number;
}

export const DEFAULT_EVAL: Omit<EvalOptions, 'modelDir' | 'log'> = {
  samples: 1000,
  samplers: DEFAULT_SAMPLERS,
  steps: [5, 10, 20, 50],
  ddpmReference: 1000,
  guidance: [1],
  precisions: ['fp32', 'int8'],
  batch: 50,
  seed: 0,
  clip: true,
  out: 'eval-results',
  backend: 'auto',
  runtime: 'node',
  threads: 1,
  defaultCell: { sampler: 'dpmpp2m', steps: 20, guidance: 1 },
  include: [],
  grids: true,
  progress: true,
};

export interface Cell {
  sampler: SamplerName;
  steps: number;
  precision: Precision;
  guidance: number;
}

export interface CellResult extends Cell {
  samples: number;
  /** Squared Fréchet distance in the classifier's feature space (FID's formula). */
  distance: number;
  /** Its 95% jackknife interval over the samples (absent in reports written before intervals). */
  distanceCi?: Interval;
  meanTerm: number;
  covTerm: number;
  /** Fraction of samples the classifier assigns to the requested class (null: unconditional model). */
  accuracy: number | null;
  /** Its 95% Wilson interval. */
  accuracyCi?: Interval | null;
  /** Improved precision / recall (Kynkäänniemi et al. 2019, k = 3): fidelity and diversity read apart. */
  fidelity?: number;
  diversity?: number;
  /** accuracy / the classifier's accuracy on real test images at the model's resolution. */
  relativeAccuracy: number | null;
  seconds: number;
  /** Wall time per 1,000 samples (sampling only). */
  secondsPer1000: number;
  grid?: string;
}

export interface EvalReport {
  createdAt: string;
  model: { dir: string; name: string; version: string; imageSize: number; channels: number; numClasses: number; trainingSteps: number; fit: FitMode; sha256: Partial<Record<Precision, string>> };
  classifier: { dir: string; sha256: string; featureDim: number; testAccuracy: number };
  reference: {
    testImages: number;
    /** Classifier accuracy on the test set after the round trip through the model's resolution. */
    realAccuracy: number;
    /** The same distance between a training subset of `samples` images and the test set. */
    floor: { samples: number; distance: number; meanTerm: number; covTerm: number };
  };
  settings: {
    samples: number;
    batch: number;
    seed: number;
    clip: boolean;
    guidance: number[];
    /** The guidance interval of the guided cells; null (or absent in older reports): every step. */
    guidanceInterval?: GuidanceInterval | null;
    precisions: Precision[];
    samplers: SamplerName[];
    steps: number[];
    ddpmReference: number;
    runtime: OrtRuntime;
    /** Cells reused from these results.json files. */
    included: string[];
    /** Cells this run sampled itself (0 for --merge-only); the others came from `included`. */
    sampledCells: number;
  };
  cells: CellResult[];
  /** The serving default cell (int8 if measured) and the targets. */
  targets: {
    defaultCell: Cell | null;
    accuracyTarget: { relativeAccuracy: number | null; required: 0.9; met: boolean | null };
    distanceTarget: { defaultDistance: number | null; ddpmReferenceDistance: number | null; met: boolean | null };
  };
  seconds: number;
}

export class EvalError extends Error {
  override readonly name = 'EvalError';
}

async function readCard(modelDir: string): Promise<ModelCard> {
  try {
    return readModelCard(modelDir);
  } catch (e) {
    throw new EvalError((e as Error).message, { cause: e });
  }
}

async function readModelFile(modelDir: string, card: ModelCard, precision: Precision): Promise<Uint8Array> {
  const f = card.files[precision];
  if (f === undefined) throw new EvalError(`${modelDir}/model.json lists no ${precision} file`);
  const bytes = new Uint8Array(await fsp.readFile(path.join(modelDir, f.path)));
  const sha = createHash('sha256').update(bytes).digest('hex');
  if (sha !== f.sha256) throw new EvalError(`${modelDir}/${f.path}: sha256 ${sha} differs from model.json's ${f.sha256}`);
  return bytes;
}

/** The cells in run order: precision, then sampler, then steps (the DDPM reference last), then guidance. */
export function cellsOf(o: Pick<EvalOptions, 'samplers' | 'steps' | 'ddpmReference' | 'guidance' | 'precisions'>): Cell[] {
  const cells: Cell[] = [];
  for (const precision of o.precisions)
    for (const sampler of o.samplers) {
      const steps = [...o.steps];
      if (sampler === 'ddpm' && o.ddpmReference > 0 && !steps.includes(o.ddpmReference)) steps.push(o.ddpmReference);
      for (const s of steps) for (const guidance of o.guidance) cells.push({ sampler, steps: s, precision, guidance });
    }
  return cells;
}

export function cellId(c: Cell): string {
  return `${c.sampler}-${c.steps}-${c.precision}-w${c.guidance}`;
}

export const DEFAULT_CACHE_DIR = 'node_modules/.cache/ddpm-edge-eval';

interface ReferenceStats {
  stats: GaussianStats;
  /** Classifier accuracy on these images' true labels. */
  accuracy: number;
}

/** Reference statistics are deterministic given the key: compute once, keep as JSON (doubles round-trip exactly). */
async function cachedReference(cacheDir: string | null, key: Record<string, string | number>, compute: () => Promise<ReferenceStats>): Promise<ReferenceStats> {
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

/** Features of `count` 28x28 images as a fitted Gaussian, and the predictions. */
async function statsOf(clf: ClassifierParams, pixels: Uint8Array, count: number): Promise<{ stats: GaussianStats; predictions: Int32Array; features: Float32Array }> {
  const e = await embed(clf, pixels, count);
  return { stats: gaussianStats(e.features, count, FEATURE_DIM), predictions: e.predictions, features: e.features };
}

const fmt = (v: number | null, digits: number): string => (v === null ? 'n/a' : v.toFixed(digits));
const pct = (v: number | null): string => (v === null ? 'n/a' : `${(100 * v).toFixed(1)}%`);

/** The runs that sampled a report's cells: the included ones, and this one unless it only merged. */
function runCount(r: EvalReport): number {
  return r.settings.included.length + (r.settings.sampledCells > 0 ? 1 : 0);
}

export function markdownTable(r: EvalReport): string {
  const lines = [
    `Model \`${r.model.name}\` ${r.model.version} (${r.model.imageSize}x${r.model.imageSize}, ${r.model.trainingSteps} training steps); ` +
      `${r.settings.samples} samples per cell, classes balanced, seed ${r.settings.seed}, batch ${r.settings.batch}, clipSample ${r.settings.clip ? 'on' : 'off'}; ` +
      `guidance scales tried: ${r.settings.guidance.join(', ')}${r.settings.guidanceInterval ? ` (applied at timesteps ${r.settings.guidanceInterval.join('..')} only)` : ''}; sampled with ${RUNTIME_LABEL[r.settings.runtime]}` +
      `${r.settings.included.length > 0 ? ` (cells merged from ${runCount(r)} runs)` : ''}.`,
    '',
    `Reference floor (${r.reference.floor.samples} training images vs the ${r.reference.testImages} test images): **${r.reference.floor.distance.toFixed(3)}**. ` +
      `Classifier accuracy on real test images at ${r.model.imageSize}x${r.model.imageSize}: ${pct(r.reference.realAccuracy)} ` +
      `(at 28x28: ${pct(r.classifier.testAccuracy)}).`,
    '',
    'Intervals: 95%, distance +- 1.96 jackknife standard errors over the samples (20 groups; the distance is biased upwards by an amount set by the sample count, so compare cells of the same count) and Wilson (accuracy); two cells differ when their intervals do not overlap. Fidelity and diversity: improved precision and recall (Kynkäänniemi et al. 2019, k = 3) in the same feature space against as many test images as samples, read apart: low fidelity = unrealistic samples, low diversity = modes missed.',
    '',
    '| sampler | steps | precision | guidance | samples | distance [95% interval] | mean term | cov term | accuracy (requested class) [95%] | vs real | fidelity (P, k=3) | diversity (R, k=3) | s / 1,000 samples |',
    '|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const c of r.cells) {
    lines.push(
      `| ${SAMPLER_LABEL[c.sampler]} | ${c.steps} | ${c.precision} | ${c.guidance} | ${c.samples} | ${c.distance.toFixed(3)}${c.distanceCi ? ` [${c.distanceCi[0].toFixed(2)}, ${c.distanceCi[1].toFixed(2)}]` : ''} | ${c.meanTerm.toFixed(3)} | ${c.covTerm.toFixed(3)} | ${pct(c.accuracy)}${c.accuracyCi ? ` [${pct(c.accuracyCi[0])}, ${pct(c.accuracyCi[1])}]` : ''} | ${pct(c.relativeAccuracy)} | ${c.fidelity === undefined ? 'n/a' : pct(c.fidelity)} | ${c.diversity === undefined ? 'n/a' : pct(c.diversity)} | ${c.secondsPer1000.toFixed(1)} |`,
    );
  }
  const t = r.targets;
  lines.push('');
  if (t.defaultCell) {
    lines.push(
      `Targets at the default settings (${SAMPLER_LABEL[t.defaultCell.sampler]}, ${t.defaultCell.steps} steps, ${t.defaultCell.precision}, guidance ${t.defaultCell.guidance}): ` +
        `accuracy on the requested class ${pct(t.accuracyTarget.relativeAccuracy)} of the real-image accuracy (target >= 90%: ${t.accuracyTarget.met === null ? 'n/a' : t.accuracyTarget.met ? 'met' : 'NOT met'}); ` +
        (t.distanceTarget.ddpmReferenceDistance === null
          ? `distance ${fmt(t.distanceTarget.defaultDistance, 3)} (no ${r.settings.ddpmReference > 0 ? `${r.settings.ddpmReference}-step ` : ''}DDPM reference at these settings: distance target not checked).`
          : `distance ${fmt(t.distanceTarget.defaultDistance, 3)} vs ${r.settings.ddpmReference}-step DDPM ${fmt(t.distanceTarget.ddpmReferenceDistance, 3)} ` +
            `(target: no worse: ${t.distanceTarget.met === null ? 'n/a' : t.distanceTarget.met ? 'met' : 'NOT met'}).`),
    );
  } else lines.push('The default cell was not measured: no targets checked.');
  const sampling = r.cells.reduce((sum, c) => sum + c.seconds, 0);
  lines.push(
    '',
    r.settings.included.length > 0
      ? `Sampling and scoring the cells took ${formatDuration(sampling)} in ${runCount(r)} runs; this merge ${formatDuration(r.seconds)}.`
      : `Total time ${formatDuration(r.seconds)} (sampling and scoring the cells: ${formatDuration(sampling)}).`,
  );
  return `${lines.join('\n')}\n`;
}

export function plotSeries(r: EvalReport): Series[] {
  const multiPrecision = r.settings.precisions.length > 1;
  const multiGuidance = r.settings.guidance.length > 1;
  const groups = new Map<string, { points: [number, number][]; sampler: SamplerName; dashed: boolean }>();
  for (const c of r.cells) {
    const name = [SAMPLER_LABEL[c.sampler], multiPrecision ? c.precision : '', multiGuidance ? `w=${c.guidance}` : ''].filter(Boolean).join(' ');
    const g = groups.get(name) ?? { points: [], sampler: c.sampler, dashed: c.precision === 'int8' && multiPrecision };
    g.points.push([c.steps, c.distance]);
    groups.set(name, g);
  }
  // one colour per sampler (and guidance scale); int8 dashed beside fp32
  const colorKeys: string[] = [];
  const series: Series[] = [...groups].map(([name, g]) => {
    const key = name.replace(/ (fp32|int8)/, '');
    if (!colorKeys.includes(key)) colorKeys.push(key);
    return { name, points: g.points.sort((a, b) => a[0] - b[0]), dashed: g.dashed, color: PALETTE[colorKeys.indexOf(key) % PALETTE.length] };
  });
  const xs = r.cells.map((c) => c.steps);
  if (xs.length > 0) {
    series.push({ name: `floor (train vs test, n=${r.reference.floor.samples})`, points: [[Math.min(...xs), r.reference.floor.distance], [Math.max(...xs), r.reference.floor.distance]], color: [150, 150, 150] });
  }
  return series;
}

/** With several guidance scales: one line per sampler x steps (x precision) of distance against guidance, plus the floor. */
export function guidanceSeries(r: EvalReport): Series[] {
  const multiPrecision = r.settings.precisions.length > 1;
  const groups = new Map<string, { points: [number, number][]; dashed: boolean }>();
  for (const c of r.cells) {
    const name = [SAMPLER_LABEL[c.sampler], `${c.steps} steps`, multiPrecision ? c.precision : ''].filter(Boolean).join(' ');
    const g = groups.get(name) ?? { points: [], dashed: c.precision === 'int8' && multiPrecision };
    g.points.push([c.guidance, c.distance]);
    groups.set(name, g);
  }
  const series: Series[] = [...groups]
    .filter(([, g]) => g.points.length > 1)
    .map(([name, g], k) => ({ name, points: g.points.sort((a, b) => a[0] - b[0]), dashed: g.dashed, color: PALETTE[k % PALETTE.length] }));
  const ws = r.cells.map((c) => c.guidance);
  if (series.length > 0) {
    series.push({ name: `floor (train vs test, n=${r.reference.floor.samples})`, points: [[Math.min(...ws), r.reference.floor.distance], [Math.max(...ws), r.reference.floor.distance]], color: [150, 150, 150], markers: false });
  }
  return series;
}

export function formatDuration(seconds: number): string {
  return seconds < 120 ? `${seconds.toFixed(0)} s` : seconds < 7200 ? `${(seconds / 60).toFixed(1)} min` : `${(seconds / 3600).toFixed(1)} h`;
}

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

/** The measured cell at serving's defaults (src/models/served.json), int8 when measured. */
function defaultCellOf(cells: readonly CellResult[], d: DefaultCell): CellResult | null {
  const match = cells.filter((c) => c.sampler === d.sampler && c.steps === d.steps && c.guidance === d.guidance);
  return match.find((c) => c.precision === 'int8') ?? match[0] ?? null;
}

/** What sampling needs to know about a model, from a model card or a training run's config. */
export interface SampleSpace {
  imageSize: number;
  channels: number;
  numClasses: number;
  schedule: ScheduleConfig;
  prediction: PredictionType;
}

/** The reference side of every distance: the classifier, the test set's statistics and the floor. */
export interface Reference {
  clf: ClassifierParams;
  manifest: ClassifierManifest;
  testStats: GaussianStats;
  testCount: number;
  /** Classifier accuracy on the test images after the round trip through the model's size. */
  realAccuracy: number;
  floor: EvalReport['reference']['floor'];
  /** Features of `samples` test images picked at random (seeded): the real side of precision and recall. */
  realFeatures: Float32Array;
  realFeatureCount: number;
}

export type ReferenceOptions = Pick<EvalOptions, 'samples' | 'seed' | 'classifierDir' | 'cacheDir' | 'testImages' | 'backend'>;

export async function prepareReference(o: ReferenceOptions, S: number, fit: FitMode): Promise<Reference> {
  await selectBackend(o.backend);
  const { params: clf, manifest } = await loadClassifier(o.classifierDir);
  const cacheDir = o.cacheDir === undefined ? DEFAULT_CACHE_DIR : o.cacheDir;
  const refKey = { v: 1, classifier: manifest.sha256, size: S, fit };
  const testRef = await cachedReference(cacheDir, { ...refKey, set: 't10k', limit: o.testImages ?? 0 }, async () => {
    const test = await loadReal('t10k', S, fit, { limit: o.testImages ?? 0 });
    const e = await statsOf(clf, test.pixels, test.count);
    return { stats: e.stats, accuracy: accuracy(e.predictions, test.labels) };
  });
  const floorRef = await cachedReference(cacheDir, { ...refKey, set: 'train-subset', samples: o.samples, seed: o.seed }, async () => {
    const pick = Rng.of('eval-floor', o.seed).permutation(60_000).subarray(0, Math.min(o.samples, 60_000));
    const train = await loadReal('train', S, fit, { indices: pick });
    const e = await statsOf(clf, train.pixels, train.count);
    return { stats: e.stats, accuracy: accuracy(e.predictions, train.labels) };
  });
  const floor = { samples: floorRef.stats.count, ...frechetDistance(floorRef.stats, testRef.stats) };
  // precision/recall compare sets of equal size: as many test images as samples per cell
  const prCount = Math.min(o.samples, testRef.stats.count);
  const prPick = Rng.of('eval-precision-recall', o.seed).permutation(testRef.stats.count).subarray(0, prCount);
  const prImages = await loadReal('t10k', S, fit, { indices: prPick });
  const realFeatures = (await embed(clf, prImages.pixels, prImages.count)).features;
  return { clf, manifest, testStats: testRef.stats, testCount: testRef.stats.count, realAccuracy: testRef.accuracy, floor, realFeatures, realFeatureCount: prImages.count };
}

export interface CellScore {
  distance: number;
  /** 95% jackknife interval of the distance (intervals.ts). */
  distanceCi: Interval;
  /** 95% Wilson interval of the requested-class accuracy. */
  accuracyCi: Interval | null;
  /** Improved precision and recall (k = 3) against as many test images (precision-recall.ts). */
  precision: number;
  recall: number;
  meanTerm: number;
  covTerm: number;
  accuracy: number | null;
  relativeAccuracy: number | null;
  seconds: number;
  /** The first batch's samples (up to 100), [n, C, S, S] in [-1, 1], for a grid. */
  firstImages: Float32Array;
}

export type CellOptions = Pick<EvalOptions, 'samples' | 'batch' | 'seed' | 'clip' | 'guidanceInterval'> & { fit: FitMode };

/**
 * Sample `o.samples` images for one cell (sample i: class i mod numClasses, seed deriveSeed(seed, i), so
 * every cell sees the same noise seeds and classes) and score them against the reference.
 */
export async function scoreCell(model: EpsModel, space: SampleSpace, cell: Omit<Cell, 'precision'>, o: CellOptions, ref: Reference, onImageSteps?: (n: number) => void): Promise<CellScore> {
  const { imageSize: S, channels: C, numClasses } = space;
  const seeds = Array.from({ length: o.samples }, (_, i) => deriveSeed(o.seed, i));
  const classes = Int32Array.from({ length: o.samples }, (_, i) => (numClasses > 0 ? i % numClasses : 0));
  const pixels = new Uint8Array(o.samples * 28 * 28);
  let firstImages = new Float32Array(0);
  const interval = cell.guidance !== 1 ? o.guidanceInterval : undefined;
  const tc = performance.now();
  for (let s = 0; s < o.samples; s += o.batch) {
    const B = Math.min(o.batch, o.samples - s);
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
  const emb = await statsOf(ref.clf, pixels, o.samples);
  const fd = frechetDistance(emb.stats, ref.testStats);
  const distanceCi = jackknifeDistance(emb.features, o.samples, FEATURE_DIM, ref.testStats).interval;
  const acc = numClasses > 0 ? accuracy(emb.predictions, classes) : null;
  const accuracyCi = acc === null ? null : wilsonInterval(Math.round(acc * o.samples), o.samples);
  const pr = precisionRecall(ref.realFeatures, ref.realFeatureCount, emb.features, o.samples, FEATURE_DIM);
  return { ...fd, distanceCi, accuracy: acc, accuracyCi, ...pr, relativeAccuracy: acc === null ? null : acc / ref.realAccuracy, seconds, firstImages };
}

/** A grid of samples as PNG (upscaled 2x below 32 pixels). */
export async function writeGrid(file: string, images: Float32Array, C: number, S: number): Promise<void> {
  const n = images.length / (C * S * S);
  const grid = makeGrid(toImages(images, [n, C, S, S]), 1);
  await fsp.mkdir(path.dirname(file), { recursive: true });
  await fsp.writeFile(file, encodePng(upscale(grid, S < 32 ? 2 : 1)));
}

const unique = <T>(xs: readonly T[]): T[] => [...new Set(xs)];

/** Cells in cellsOf's order: precision, sampler, steps, guidance. */
function sortCells(cells: CellResult[]): CellResult[] {
  const key = (c: CellResult): [number, number, number, number] => [PRECISIONS.indexOf(c.precision), SAMPLER_NAMES.indexOf(c.sampler), c.steps, c.guidance];
  return cells.sort((a, b) => {
    const ka = key(a);
    const kb = key(b);
    for (let i = 0; i < 4; i++) if (ka[i] !== kb[i]) return ka[i] - kb[i];
    return 0;
  });
}

/** Cells of earlier reports (--include), checked to be comparable: same model files, classifier, samples, seed, clipping, fit and runtime. */
async function readIncluded(o: EvalOptions, card: ModelCard, fit: FitMode): Promise<{ cells: CellResult[]; reports: { file: string; report: EvalReport }[] }> {
  const out: CellResult[] = [];
  const reports: { file: string; report: EvalReport }[] = [];
  for (const file of o.include) {
    let r: EvalReport;
    try {
      r = JSON.parse(await fsp.readFile(file, 'utf8')) as EvalReport;
    } catch (e) {
      throw new EvalError(`--include ${file}: cannot read an evaluation report (${(e as Error).message})`, { cause: e });
    }
    const bad = (what: string, theirs: unknown, ours: unknown): never => {
      throw new EvalError(`--include ${file}: ${what} differs (${JSON.stringify(theirs)} there, ${JSON.stringify(ours)} here); its cells are not comparable`);
    };
    if (r.model?.name !== card.name) bad('model', r.model?.name, card.name);
    for (const [p, sha] of Object.entries(r.model.sha256)) if (card.files[p as Precision]?.sha256 !== sha) bad(`the ${p} model file`, sha, card.files[p as Precision]?.sha256);
    if (r.model.fit !== fit) bad('fit', r.model.fit, fit);
    const s = r.settings;
    for (const [k, ours] of [['samples', o.samples], ['seed', o.seed], ['clip', o.clip], ['runtime', o.runtime]] as const) {
      if (s[k] !== ours) bad(k, s[k], ours);
    }
    const interval = (i: GuidanceInterval | null | undefined): string => JSON.stringify(i ?? null);
    if (interval(s.guidanceInterval) !== interval(o.guidanceInterval)) bad('guidanceInterval', s.guidanceInterval ?? null, o.guidanceInterval ?? null);
    for (const c of r.cells) if (!out.some((d) => cellId(d) === cellId(c))) out.push(c);
    reports.push({ file, report: r });
  }
  return { cells: out, reports };
}

/** Run the whole evaluation and write table.md, results.json, distance-vs-steps.png (and grids/). */
export async function evaluate(o: EvalOptions): Promise<EvalReport> {
  const t0 = performance.now();
  const card = await readCard(o.modelDir);
  const S = card.imageSize;
  const C = card.channels;
  const numClasses = card.architecture.numClasses;
  const fit = o.fit ?? defaultFit(S);
  if (!Number.isInteger(o.samples) || o.samples < 2) throw new EvalError(`samples must be an integer >= 2 (got ${o.samples})`);
  const guidance = numClasses > 0 ? o.guidance : o.guidance.filter((w) => w === 1);
  if (guidance.length === 0) throw new EvalError(`model ${card.name} is unconditional: only guidance 1 applies`);
  for (const s of [...o.steps, o.ddpmReference]) if (s > card.schedule.T) throw new EvalError(`steps ${s} exceed the model's ${card.schedule.T} training timesteps`);
  const { cells: included, reports: includedReports } = await readIncluded(o, card, fit);
  const done0 = new Set(included.map(cellId));
  if (o.mergeOnly && o.include.length === 0) throw new EvalError('merge only: name the results.json files to merge with --include');
  const cells = o.mergeOnly ? [] : cellsOf({ ...o, guidance }).filter((c) => !done0.has(cellId(c)));
  if (included.length > 0) o.log(`reusing ${included.length} cells from ${o.include.join(', ')}`);
  await fsp.mkdir(o.out, { recursive: true });

  if (card.classNames !== null && card.classNames.join() !== FASHION_MNIST_CLASSES.join()) {
    o.log(`note: ${card.name}'s classes are not named as Fashion-MNIST's; class id k is scored as ${FASHION_MNIST_CLASSES.map((n, k) => `${k} = ${n}`).join(', ')}`);
  }
  const ref = await prepareReference(o, S, fit);
  const { clf, manifest, realAccuracy, floor } = ref;
  for (const { file, report } of includedReports) {
    if (report.classifier.sha256 !== manifest.sha256) throw new EvalError(`--include ${file}: scored by another classifier (${report.classifier.sha256.slice(0, 12)}, here ${manifest.sha256.slice(0, 12)})`);
    if (report.reference.testImages !== ref.testCount) throw new EvalError(`--include ${file}: its reference is ${report.reference.testImages} test images, here ${ref.testCount}`);
  }
  o.log(`model ${card.name} ${card.version}: ${S}x${S}x${C}, ${numClasses > 0 ? `${numClasses} classes` : 'unconditional'}, fit ${fit}; classifier test accuracy ${pct(manifest.testAccuracy)}`);
  o.log(`reference floor (${floor.samples} training images vs ${ref.testCount} test images): ${floor.distance.toFixed(3)}; classifier accuracy on real test images at ${S}x${S}: ${pct(realAccuracy)}`);

  // sessions and a timing probe (model calls at the batch size) for the up-front estimate
  const sessions = new Map<Precision, ModelSession>();
  const models = new Map<Precision, EpsModel>();
  const msPerImageStep = new Map<Precision, number>();
  for (const p of o.precisions) {
    if (!cells.some((c) => c.precision === p)) continue;
    const session = await createModelSession(await readModelFile(o.modelDir, card, p), graphSpec(card), { runtime: o.runtime, threads: o.threads });
    sessions.set(p, session);
    const m = createEpsModel(session, numClasses);
    models.set(p, m);
    msPerImageStep.set(p, await probe(m, session.spec, o.batch));
  }
  const work = (c: Cell): number => {
    if (c.guidance === 1 || !o.guidanceInterval) return o.samples * c.steps * (c.guidance !== 1 ? 2 : 1);
    const s = createScheduler(c.sampler, makeSchedule(card.schedule));
    s.setTimesteps(c.steps);
    return o.samples * modelEvaluations(s.timesteps, true, o.guidanceInterval);
  };
  const estimate = cells.reduce((a, c) => a + (work(c) * (msPerImageStep.get(c.precision) ?? 0)) / 1000, 0);
  o.log(
    `${cells.length} cells x ${o.samples} samples; one U-Net image-step: ${o.precisions.map((p) => `${p} ${(msPerImageStep.get(p) ?? 0).toFixed(2)} ms`).join(', ')}; ` +
      `estimated sampling time ${formatDuration(estimate)}`,
  );

  const totalWork = cells.reduce((a, c) => a + work(c), 0);
  const bar = o.progress ? new cliProgress.SingleBar({ format: 'eval {bar} {percentage}% | {cell} | eta {eta_formatted}', etaBuffer: 50 }, cliProgress.Presets.shades_classic) : null;
  bar?.start(totalWork, 0, { cell: '' });
  let done = 0;
  const results: CellResult[] = [];
  const space: SampleSpace = { imageSize: S, channels: C, numClasses, schedule: card.schedule, prediction: card.prediction };
  for (const cell of cells) {
    const model = models.get(cell.precision);
    if (model === undefined) throw new EvalError(`no ${cell.precision} session`);
    const id = cellId(cell);
    const sc = await scoreCell(model, space, cell, { ...o, fit }, ref, (n) => {
      done += n;
      bar?.update(done, { cell: id });
    });
    const r: CellResult = {
      ...cell,
      samples: o.samples,
      distance: sc.distance,
      distanceCi: sc.distanceCi,
      meanTerm: sc.meanTerm,
      covTerm: sc.covTerm,
      accuracy: sc.accuracy,
      accuracyCi: sc.accuracyCi,
      fidelity: sc.precision,
      diversity: sc.recall,
      relativeAccuracy: sc.relativeAccuracy,
      seconds: sc.seconds,
      secondsPer1000: (sc.seconds * 1000) / o.samples,
    };
    if (o.grids && sc.firstImages.length > 0) {
      r.grid = path.join('grids', `${id}.png`);
      await writeGrid(path.join(o.out, r.grid), sc.firstImages, C, S);
    }
    results.push(r);
    if (!bar) o.log(`${id}: distance ${r.distance.toFixed(3)}, accuracy ${pct(r.accuracy)}, ${r.secondsPer1000.toFixed(1)} s / 1,000 samples`);
  }
  bar?.stop();
  for (const s of sessions.values()) await s.release();
  disposeClassifier(clf);
  const test = { count: ref.testCount };

  const all = sortCells([...included, ...results]);
  const def = defaultCellOf(all, o.defaultCell);
  const ddpmRef = all.find((c) => c.sampler === 'ddpm' && c.steps === o.ddpmReference && def !== null && c.precision === def.precision && c.guidance === def.guidance) ?? null;
  const report: EvalReport = {
    createdAt: new Date().toISOString(),
    model: { dir: o.modelDir, name: card.name, version: card.version, imageSize: S, channels: C, numClasses, trainingSteps: card.training.steps, fit, sha256: Object.fromEntries(unique(all.map((c) => c.precision)).map((p) => [p, card.files[p].sha256])) },
    classifier: { dir: o.classifierDir ?? 'scripts/eval/classifier', sha256: manifest.sha256, featureDim: manifest.featureDim, testAccuracy: manifest.testAccuracy },
    reference: { testImages: test.count, realAccuracy, floor },
    settings: {
      samples: o.samples,
      batch: o.batch,
      seed: o.seed,
      clip: o.clip,
      guidance: unique(all.map((c) => c.guidance)),
      guidanceInterval: o.guidanceInterval ?? null,
      precisions: unique(all.map((c) => c.precision)),
      samplers: unique(all.map((c) => c.sampler)),
      steps: unique(all.filter((c) => c.sampler !== 'ddpm' || c.steps !== o.ddpmReference || o.steps.includes(c.steps)).map((c) => c.steps)),
      ddpmReference: o.ddpmReference,
      runtime: o.runtime,
      included: [...o.include],
      sampledCells: results.length,
    },
    cells: all,
    targets: {
      defaultCell: def === null ? null : { sampler: def.sampler, steps: def.steps, precision: def.precision, guidance: def.guidance },
      accuracyTarget: { relativeAccuracy: def?.relativeAccuracy ?? null, required: 0.9, met: def?.relativeAccuracy == null ? null : def.relativeAccuracy >= 0.9 },
      distanceTarget: { defaultDistance: def?.distance ?? null, ddpmReferenceDistance: ddpmRef?.distance ?? null, met: def === null || ddpmRef === null ? null : def.distance <= ddpmRef.distance },
    },
    seconds: (performance.now() - t0) / 1000,
  };
  const table = markdownTable(report);
  await fsp.writeFile(path.join(o.out, 'table.md'), table);
  await fsp.writeFile(path.join(o.out, 'results.json'), `${JSON.stringify(report, null, 2)}\n`);
  const png = linePlotPng(plotSeries(report), {
    title: `${card.name}: distance vs steps (n=${o.samples})`,
    xLabel: 'sampling steps (log scale)',
    yLabel: 'Frechet distance (classifier features)',
    logX: true,
    xTicks: unique(all.map((c) => c.steps)).sort((a, b) => a - b),
    yZero: true,
  });
  await fsp.writeFile(path.join(o.out, 'distance-vs-steps.png'), png);
  const byGuidance = guidanceSeries(report);
  if (byGuidance.length > 0) {
    const gpng = linePlotPng(byGuidance, {
      title: `${card.name}: distance vs guidance (n=${o.samples})`,
      xLabel: 'classifier-free guidance scale (1 = none)',
      yLabel: 'Frechet distance (classifier features)',
      xTicks: unique(all.map((c) => c.guidance)).sort((a, b) => a - b),
      yZero: true,
    });
    await fsp.writeFile(path.join(o.out, 'distance-vs-guidance.png'), gpng);
  }
  o.log(`wrote ${path.join(o.out, 'table.md')}, results.json, distance-vs-steps.png${byGuidance.length > 0 ? ', distance-vs-guidance.png' : ''}${o.grids && results.length > 0 ? ', grids/' : ''}`);
  return report;
}
