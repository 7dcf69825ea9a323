/**
 * The evaluation of a Cold Diffusion model (`npm run eval -- --model models/<cold model>`, issue 19):
 *   - restoration: Fashion-MNIST test images (fitted to the model's size as training fits them) degraded to
 *     each level t (rounded to 8 bits as served) and restored by Algorithm 2, Algorithm 1 and the network's
 *     one-step estimate R(x_t, t); PSNR and SSIM (ssim.ts) of each against the clean image, next to those of the
 *     degraded input itself, the floor a restoration has to beat; means with 95% intervals over the images;
 *   - generation (models with a generation start): samples from the mixture start with Algorithm 2 (and 1)
 *     scored on the project's meter (evaluate.ts: Fréchet distance in the evaluation classifier's feature
 *     space with its jackknife interval, fidelity and diversity, the training-subset floor).
 * Writes table.md, results.json and grids/ (restorations per level, samples).
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { coldSample, makeDegradation, mixtureStart, needsCentres, type ColdAlgorithm, type ColdModelCard, type RestoreModel } from '../../src/cold/index.ts';
import { deriveSeed } from '../../src/diffusion/index.ts';
import { quantize8 } from '../../src/image/index.ts';
import { parseColdCard } from '../../src/models/cold.ts';
import { createEpsModel } from '../../src/inference/eps-model.ts';
import { createModelSession, fileSessionOptions, graphSpec, RUNTIME_LABEL, type OrtRuntime } from '../../src/inference/onnx.ts';
import { fashionMnistPaths, loadIdxDataset } from '../train/data.ts';
import type { FitMode } from '../train/options.ts';
import { Rng } from '../train/rng.ts';
import { EvalError, type EvalOptions, type Precision } from './spec.ts';
import { disposeReference, prepareReference, writeGrid } from './score.ts';
import { formatDuration } from './report.ts';
import { defaultFit, samplesToClassifierPixels } from './images.ts';
import { meanInterval, type Interval } from './intervals.ts';
import { scoreOnMeter, type Meter } from './meters.ts';
import { psnrDb, ssim } from './ssim.ts';
import { gridPng } from '../train/plot.ts';

/** The DDPM evaluation's options that mean the same here (evaluate.ts), and the cold ones. */
export interface ColdEvalOptions
  extends Pick<EvalOptions, 'modelDir' | 'batch' | 'seed' | 'fit' | 'out' | 'classifierDir' | 'secondClassifierDir' | 'cacheDir' | 'testImages' | 'backend' | 'runtime' | 'threads' | 'grids' | 'log'> {
  /** Test images restored at each level. */
  restoreImages: number;
  /** Levels t to degrade to (default: T/4, T/2, 3T/4, T). */
  levels?: number[];
  /** Generated samples per algorithm (models with a generation start; 0 = none). */
  samples: number;
  algorithms: readonly ColdAlgorithm[];
  precision: Precision;
}

/** A figure's mean over the images and its 95% interval. */
export interface Figure {
  mean: number;
  interval: Interval;
}

export interface RestorationRow {
  t: number;
  images: number;
  /** The degraded input against the clean image: the floor. */
  degraded: { psnr: Figure; ssim: Figure };
  /** R(x_t, t), the network's one-step estimate (the first step of both algorithms). */
  direct: { psnr: Figure; ssim: Figure };
  /** Per algorithm ("2", "1"). */
  restored: Record<string, { psnr: Figure; ssim: Figure }>;
}

/** One meter's reading of a set of samples (meters.ts). */
export interface MeterReading {
  distance: number;
  distanceCi: Interval;
  meanTerm: number;
  covTerm: number;
  fidelity: number;
  diversity: number;
}

export interface GenerationRow extends MeterReading {
  algorithm: ColdAlgorithm;
  samples: number;
  noise: number;
  /** The second meter (another classifier), when used. */
  second: MeterReading | null;
  secondsPer1000: number;
  grid?: string;
}

export interface ColdEvalReport {
  createdAt: string;
  model: { dir: string; name: string; version: string; kind: string; process: ColdModelCard['process']; imageSize: number; channels: number; trainingSteps: number; precision: Precision; sha256: string; fit: FitMode };
  settings: { restoreImages: number; levels: number[]; samples: number; algorithms: ColdAlgorithm[]; batch: number; seed: number; runtime: OrtRuntime };
  restoration: RestorationRow[];
  /** floor: the primary meter's (as many training images vs the test set); secondFloor: the second meter's. */
  generation: { floor: { samples: number; distance: number } | null; secondFloor: { samples: number; distance: number } | null; rows: GenerationRow[] };
  seconds: number;
}

/** The default levels: a quarter, half, three quarters of T, and T (distinct, at least 1). */
export function defaultLevels(T: number): number[] {
  return [...new Set([0.25, 0.5, 0.75, 1].map((f) => Math.max(1, Math.round(f * T))))];
}

const figure = (values: number[]): Figure => meanInterval(values);

/** The first n Fashion-MNIST test images as the model sees them: fitted to S as training fits, [n, C, S, S] in [-1, 1]. */
async function testImages(n: number, S: number, C: number, fit: FitMode): Promise<Float32Array> {
  const p = fashionMnistPaths('t10k');
  const ds = await loadIdxDataset(p.images, undefined, { size: S, channels: C, fit, limit: n });
  const out = new Float32Array(ds.count * C * S * S);
  for (let k = 0; k < ds.count; k++) for (let i = 0; i < S * S; i++) for (let c = 0; c < C; c++) out[(k * C + c) * S * S + i] = ds.pixels[(k * S * S + i) * C + c] / 127.5 - 1;
  return out;
}

/** Restoration figures at one level: degraded, direct and restored PSNR/SSIM per image. */
async function restorationAt(restorer: RestoreModel, card: ColdModelCard, x0: Float32Array, count: number, t: number, o: ColdEvalOptions): Promise<{ row: RestorationRow; strip: Float32Array; cols: number }> {
  const { channels: C, imageSize: S } = card;
  const n = C * S * S;
  const D = makeDegradation(card.process, S);
  const per: Record<string, number[]> = {};
  const add = (name: string, a: Float32Array, b: Float32Array): void => {
    (per[`${name}.psnr`] ??= []).push(psnrDb(a, b));
    (per[`${name}.ssim`] ??= []).push(ssim(a, b, C, S));
  };
  const strips: Float32Array[] = [];
  let cols = 0;
  for (let s = 0; s < count; s += o.batch) {
    const b = Math.min(o.batch, count - s);
    const clean = x0.subarray(s * n, (s + b) * n);
    // random masks: a centre per image, drawn from the seed (as training draws them)
    const rng = Rng.of('eval-centres', o.seed, s);
    const centres = needsCentres(card.process) ? Int32Array.from({ length: 2 * b }, () => S - 1 - rng.int(S + 1)) : undefined;
    const xt = card.process.discrete ? quantize8(D.apply(clean, C, t, centres)) : D.apply(clean, C, t, centres);
    let direct: Float32Array = new Float32Array(0);
    const results: Record<string, Float32Array> = {};
    for (const algorithm of o.algorithms) {
      results[algorithm] = await coldSample({
        restorer,
        degradation: D,
        xt,
        channels: C,
        t,
        algorithm,
        centres,
        onStep: ({ index, predX0 }) => {
          if (index === 0) direct = predX0;
        },
      });
    }
    for (let k = 0; k < b; k++) {
      const ref = clean.subarray(k * n, (k + 1) * n);
      add('degraded', xt.subarray(k * n, (k + 1) * n), ref);
      add('direct', direct.subarray(k * n, (k + 1) * n), ref);
      for (const a of o.algorithms) add(`alg${a}`, results[a].subarray(k * n, (k + 1) * n), ref);
    }
    if (s === 0) {
      cols = Math.min(8, b);
      const m = cols * n;
      strips.push(clean.slice(0, m), xt.slice(0, m), direct.slice(0, m), ...o.algorithms.map((a) => results[a].slice(0, m)));
    }
  }
  const pair = (name: string) => ({ psnr: figure(per[`${name}.psnr`]), ssim: figure(per[`${name}.ssim`]) });
  const row: RestorationRow = { t, images: count, degraded: pair('degraded'), direct: pair('direct'), restored: Object.fromEntries(o.algorithms.map((a) => [String(a), pair(`alg${a}`)])) };
  const strip = new Float32Array(strips.reduce((a, x) => a + x.length, 0));
  let at = 0;
  for (const x of strips) {
    strip.set(x, at);
    at += x.length;
  }
  return { row, strip, cols };
}

async function readColdCard(modelDir: string): Promise<ColdModelCard> {
  const file = path.join(modelDir, 'model.json');
  try {
    return parseColdCard(JSON.parse(await fsp.readFile(file, 'utf8')));
  } catch (e) {
    throw new EvalError(`${file}: not a Cold Diffusion model card (${(e as Error).message})`, { cause: e });
  }
}

const f2 = (x: Figure, digits: number): string => `${x.mean.toFixed(digits)} [${x.interval[0].toFixed(digits)}, ${x.interval[1].toFixed(digits)}]`;

export function coldMarkdown(r: ColdEvalReport): string {
  const algos = r.settings.algorithms;
  const lines = [
    `Model \`${r.model.name}\` ${r.model.version} (${r.model.kind}, T = ${r.model.process.T}, ${r.model.imageSize}x${r.model.imageSize}x${r.model.channels}, ${r.model.trainingSteps} training steps, ${r.model.precision}); sampled with ${RUNTIME_LABEL[r.settings.runtime]}.`,
    '',
    `**Restoration** of the first ${r.settings.restoreImages} Fashion-MNIST test images (fitted ${r.model.fit} to ${r.model.imageSize}x${r.model.imageSize}), degraded to t${r.model.process.discrete ? ' and rounded to 8 bits' : ''}; PSNR (dB, peak-to-peak 2 on [-1, 1]) and SSIM (pytorch_msssim's: 11-tap Gaussian window, std 1.5) against the clean image, mean [95% interval: +- 1.96 standard errors over the images]. The degraded input is the floor to beat; "one step" is R(x_t, t) alone.`,
    '',
    `| t | degraded PSNR | degraded SSIM | one step PSNR | one step SSIM | ${algos.map((a) => `Algorithm ${a} PSNR | Algorithm ${a} SSIM`).join(' | ')} |`,
    `|---:|---:|---:|---:|---:|${algos.map(() => '---:|---:|').join('')}`,
  ];
  for (const row of r.restoration) {
    lines.push(`| ${row.t} | ${f2(row.degraded.psnr, 2)} | ${f2(row.degraded.ssim, 3)} | ${f2(row.direct.psnr, 2)} | ${f2(row.direct.ssim, 3)} | ${algos.map((a) => `${f2(row.restored[a].psnr, 2)} | ${f2(row.restored[a].ssim, 3)}`).join(' | ')} |`);
  }
  if (r.generation.rows.length > 0 && r.generation.floor) {
    lines.push(
      '',
      `**Generation** from the mixture start (flat channel means drawn from the card's Gaussian mixture, plus Gaussian noise), ${r.settings.samples} samples per row; the project's meters: Fréchet distance in the evaluation classifier's feature space [95% jackknife interval], floor (as many training images vs the test set): **${r.generation.floor.distance.toFixed(3)}**${r.generation.secondFloor ? `; second meter (another classifier) floor **${r.generation.secondFloor.distance.toFixed(3)}**` : ''}.`,
      '',
      '| algorithm | noise | samples | distance [95%] | second meter [95%] | mean term | cov term | fidelity (P, k=3) | diversity (R, k=3) | s / 1,000 samples |',
      '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
      ...r.generation.rows.map(
        (g) =>
          `| ${g.algorithm} | ${g.noise} | ${g.samples} | ${g.distance.toFixed(3)} [${g.distanceCi[0].toFixed(2)}, ${g.distanceCi[1].toFixed(2)}] | ${g.second ? `${g.second.distance.toFixed(3)} [${g.second.distanceCi[0].toFixed(2)}, ${g.second.distanceCi[1].toFixed(2)}]` : 'n/a'} | ${g.meanTerm.toFixed(3)} | ${g.covTerm.toFixed(3)} | ${(100 * g.fidelity).toFixed(1)}% | ${(100 * g.diversity).toFixed(1)}% | ${g.secondsPer1000.toFixed(1)} |`,
      ),
    );
  } else lines.push('', `**Generation**: ${r.settings.samples === 0 ? 'not run (--samples 0)' : 'the model has no generation start (it restores only)'}.`);
  lines.push('', `Total time ${formatDuration(r.seconds)}.`);
  return `${lines.join('\n')}\n`;
}

export async function evaluateCold(o: ColdEvalOptions): Promise<ColdEvalReport> {
  const t0 = performance.now();
  const card = await readColdCard(o.modelDir);
  const { imageSize: S, channels: C } = card;
  const T = card.process.T;
  const levels = o.levels ?? defaultLevels(T);
  for (const t of levels) if (!Number.isInteger(t) || t < 1 || t > T) throw new EvalError(`levels must be integers in [1, ${T}] (got ${t})`);
  if (o.restoreImages < 2) throw new EvalError(`restore images must be at least 2 (got ${o.restoreImages})`);
  const fit = o.fit ?? defaultFit(S);
  const file = card.files[o.precision];
  const bytes = new Uint8Array(await fsp.readFile(path.join(o.modelDir, file.path)));
  const sha = createHash('sha256').update(bytes).digest('hex');
  if (sha !== file.sha256) throw new EvalError(`${o.modelDir}/${file.path}: sha256 ${sha} differs from model.json's ${file.sha256}`);
  const session = await createModelSession(bytes, graphSpec(card), { runtime: o.runtime, threads: o.threads, ...fileSessionOptions(file) });
  const restorer: RestoreModel = (() => {
    const m = createEpsModel(session, card.architecture.numClasses);
    return (x, t) => m({ x, t });
  })();
  await fsp.mkdir(o.out, { recursive: true });
  o.log(`model ${card.name} ${card.version}: ${card.kind}, T = ${T}, ${S}x${S}x${C}, ${o.precision}; levels ${levels.join(', ')}; ${o.restoreImages} test images`);

  const x0 = await testImages(o.restoreImages, S, C, fit);
  const count = x0.length / (C * S * S);
  const restoration: RestorationRow[] = [];
  for (const t of levels) {
    const tl = performance.now();
    const { row, strip, cols } = await restorationAt(restorer, card, x0, count, t, o);
    restoration.push(row);
    if (o.grids) {
      // one row each: clean, degraded, one step, then each algorithm's restoration
      await fsp.mkdir(path.join(o.out, 'grids'), { recursive: true });
      await fsp.writeFile(path.join(o.out, 'grids', `restore-t${t}.png`), gridPng(strip, strip.length / (C * S * S), C, S, cols));
    }
    o.log(`t = ${t}: degraded ${row.degraded.psnr.mean.toFixed(2)} dB / ${row.degraded.ssim.mean.toFixed(3)}; ${o.algorithms.map((a) => `Algorithm ${a} ${row.restored[a].psnr.mean.toFixed(2)} dB / ${row.restored[a].ssim.mean.toFixed(3)}`).join('; ')} (${formatDuration((performance.now() - tl) / 1000)})`);
  }

  const generation: ColdEvalReport['generation'] = { floor: null, secondFloor: null, rows: [] };
  if (card.generation !== null && o.samples > 0) {
    const ref = await prepareReference(
      { samples: o.samples, seed: o.seed, classifierDir: o.classifierDir, secondClassifierDir: o.secondClassifierDir, cacheDir: o.cacheDir, testImages: o.testImages, backend: o.backend },
      S,
      fit,
    );
    generation.floor = { samples: ref.primary.floor.samples, distance: ref.primary.floor.distance };
    generation.secondFloor = ref.second ? { samples: ref.second.floor.samples, distance: ref.second.floor.distance } : null;
    const D = makeDegradation(card.process, S);
    for (const algorithm of o.algorithms) {
      const tg = performance.now();
      const pixels = new Uint8Array(o.samples * 28 * 28);
      let first = new Float32Array(0);
      for (let s = 0; s < o.samples; s += o.batch) {
        const b = Math.min(o.batch, o.samples - s);
        const xt = new Float32Array(b * C * S * S);
        for (let k = 0; k < b; k++) mixtureStart(card.generation.mixture, C, S, card.generation.noise, deriveSeed(o.seed, s + k), xt.subarray(k * C * S * S, (k + 1) * C * S * S));
        const x = await coldSample({ restorer, degradation: D, xt, channels: C, t: T, algorithm });
        pixels.set(samplesToClassifierPixels(x, b, C, S, fit), s * 28 * 28);
        if (s === 0) first = x.slice(0, Math.min(b, 100) * C * S * S);
      }
      const seconds = (performance.now() - tg) / 1000;
      const reading = async (meter: Meter): Promise<MeterReading> => {
        const m = await scoreOnMeter(meter, pixels, o.samples, null);
        return { distance: m.distance, distanceCi: m.distanceCi, meanTerm: m.meanTerm, covTerm: m.covTerm, fidelity: m.fidelity, diversity: m.diversity };
      };
      const row: GenerationRow = {
        algorithm,
        samples: o.samples,
        noise: card.generation.noise,
        ...(await reading(ref.primary)),
        second: ref.second ? await reading(ref.second) : null,
        secondsPer1000: (seconds * 1000) / o.samples,
      };
      if (o.grids) {
        row.grid = path.join('grids', `generate-alg${algorithm}.png`);
        await writeGrid(path.join(o.out, row.grid), first, C, S);
      }
      generation.rows.push(row);
      o.log(`generation, Algorithm ${algorithm}: distance ${row.distance.toFixed(3)} [${row.distanceCi[0].toFixed(2)}, ${row.distanceCi[1].toFixed(2)}] (floor ${ref.primary.floor.distance.toFixed(3)})`);
    }
    disposeReference(ref);
  }
  await session.release();
  const report: ColdEvalReport = {
    createdAt: new Date().toISOString(),
    model: { dir: o.modelDir, name: card.name, version: card.version, kind: card.kind, process: card.process, imageSize: S, channels: C, trainingSteps: card.training.steps, precision: o.precision, sha256: file.sha256, fit },
    settings: { restoreImages: count, levels, samples: card.generation === null ? 0 : o.samples, algorithms: [...o.algorithms], batch: o.batch, seed: o.seed, runtime: o.runtime },
    restoration,
    generation,
    seconds: (performance.now() - t0) / 1000,
  };
  await fsp.writeFile(path.join(o.out, 'table.md'), coldMarkdown(report));
  await fsp.writeFile(path.join(o.out, 'results.json'), `${JSON.stringify(report, null, 2)}\n`);
  o.log(`wrote ${path.join(o.out, 'table.md')}, results.json${o.grids ? ', grids/' : ''}`);
  return report;
}
