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
import { createScheduler, makeSchedule, modelEvaluations, SAMPLER_NAMES, type EpsModel, type GuidanceInterval } from '../../src/diffusion/index.ts';
import type { ModelCard } from '../../src/model-card.ts';
import { createEpsModel } from '../../src/inference/eps-model.ts';
import { createModelSession, fileSessionOptions, graphSpec, type ModelSession } from '../../src/inference/onnx.ts';
import { readModelCard } from '../lib/model-card.ts';
import type { FitMode } from '../train/options.ts';
import { FASHION_MNIST_CLASSES } from '../train/data.ts';
import { linePlotPng } from '../lib/plot.ts';
import { defaultFit } from './images.ts';
import { markdownTable, plotSeries, guidanceSeries, formatDuration, pct } from './report.ts';
import { ACCURACY_TARGET, cellId, cellsOf, EvalError, FLOOR_RATIO_TARGET, PRECISIONS, type Cell, type CellResult, type DefaultCell, type EvalOptions, type EvalReport, type Precision } from './spec.ts';
import { cellFields, disposeReference, prepareReference, probe, scoreCell, writeGrid, type ImageSource, type SampleSpace } from './score.ts';

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


/** The measured cell at serving's defaults (src/models/served.json), int8 when measured. */
function defaultCellOf(cells: readonly CellResult[], d: DefaultCell): CellResult | null {
  const match = cells.filter((c) => c.sampler === d.sampler && c.steps === d.steps && c.guidance === d.guidance);
  return match.find((c) => c.precision === 'int8') ?? match[0] ?? null;
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
  if (o.worker && o.precisions.some((p) => p !== 'int8')) throw new EvalError('--worker: the worker serves the int8 graph only; pass --precision int8');
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
  const { manifest, realAccuracy, floor, testCount } = ref.primary;
  for (const { file, report } of includedReports) {
    if (report.classifier.sha256 !== manifest.sha256) throw new EvalError(`--include ${file}: scored by another classifier (${report.classifier.sha256.slice(0, 12)}, here ${manifest.sha256.slice(0, 12)})`);
    if (report.reference.testImages !== testCount) throw new EvalError(`--include ${file}: its reference is ${report.reference.testImages} test images, here ${testCount}`);
  }
  o.log(`model ${card.name} ${card.version}: ${S}x${S}x${C}, ${numClasses > 0 ? `${numClasses} classes` : 'unconditional'}, fit ${fit}; classifier test accuracy ${pct(manifest.testAccuracy)}`);
  o.log(`reference floor (${floor.samples} training images vs ${testCount} test images): ${floor.distance.toFixed(3)}; classifier accuracy on real test images at ${S}x${S}: ${pct(realAccuracy)}`);
  if (ref.second) o.log(`second meter (${ref.second.manifest.arch ?? 'cnn3'}, ${ref.second.dir}): floor ${ref.second.floor.distance.toFixed(3)}, accuracy on real test images ${pct(ref.second.realAccuracy)}`);

  // sessions and a timing probe (model calls at the batch size) for the up-front estimate
  const sessions = new Map<Precision, ModelSession>();
  const models = new Map<Precision, EpsModel>();
  const msPerImageStep = new Map<Precision, number>();
  for (const p of o.precisions) {
    if (!cells.some((c) => c.precision === p) || o.worker) continue;
    const session = await createModelSession(await readModelFile(o.modelDir, card, p), graphSpec(card), { runtime: o.runtime, threads: o.threads, ...fileSessionOptions(card.files[p]) });
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
    o.worker
      ? `${cells.length} cells x ${o.samples} samples, requested from the worker at ${o.worker} (${o.workerConcurrency ?? 2} at a time; the time is the worker's)`
      : `${cells.length} cells x ${o.samples} samples; one U-Net image-step: ${o.precisions.map((p) => `${p} ${(msPerImageStep.get(p) ?? 0).toFixed(2)} ms`).join(', ')}; ` +
          `estimated sampling time ${formatDuration(estimate)}`,
  );

  const totalWork = cells.reduce((a, c) => a + work(c), 0);
  const bar = o.progress ? new cliProgress.SingleBar({ format: 'eval {bar} {percentage}% | {cell} | eta {eta_formatted}', etaBuffer: 50 }, cliProgress.Presets.shades_classic) : null;
  bar?.start(totalWork, 0, { cell: '' });
  let done = 0;
  const results: CellResult[] = [];
  const space: SampleSpace = { imageSize: S, channels: C, numClasses, schedule: card.schedule, prediction: card.prediction };
  for (const cell of cells) {
    const model: ImageSource | undefined = o.worker ? { worker: o.worker, model: card.name, concurrency: o.workerConcurrency ?? 2 } : models.get(cell.precision);
    if (model === undefined) throw new EvalError(`no ${cell.precision} session`);
    const id = cellId(cell);
    const sc = await scoreCell(model, space, cell, { ...o, fit }, ref, (n) => {
      done += n;
      bar?.update(done, { cell: id });
    });
    const r: CellResult = {
      ...cell,
      samples: o.samples,
      ...cellFields(sc.primary),
      ...(sc.second ? { second: sc.second } : {}),
      seconds: sc.seconds,
      secondsPer1000: (sc.seconds * 1000) / o.samples,
    };
    if (o.grids && sc.firstImages.length > 0) {
      r.grid = path.join('grids', `${id}.png`);
      await writeGrid(path.join(o.out, r.grid), sc.firstImages, C, S);
    }
    results.push(r);
    if (!bar) o.log(`${id}: distance ${r.distance.toFixed(3)}${r.second ? ` (second meter ${r.second.distance.toFixed(3)})` : ''}, accuracy ${pct(r.accuracy)}, ${r.secondsPer1000.toFixed(1)} s / 1,000 samples`);
  }
  bar?.stop();
  for (const s of sessions.values()) await s.release();
  disposeReference(ref);

  const all = sortCells([...included, ...results]);
  const def = defaultCellOf(all, o.defaultCell);
  const ddpmRef = all.find((c) => c.sampler === 'ddpm' && c.steps === o.ddpmReference && def !== null && c.precision === def.precision && c.guidance === def.guidance) ?? null;
  const report: EvalReport = {
    createdAt: new Date().toISOString(),
    model: { dir: o.modelDir, name: card.name, version: card.version, imageSize: S, channels: C, numClasses, trainingSteps: card.training.steps, fit, sha256: Object.fromEntries(unique(all.map((c) => c.precision)).map((p) => [p, card.files[p].sha256])) },
    classifier: { dir: o.classifierDir ?? 'scripts/eval/classifier', sha256: manifest.sha256, featureDim: manifest.featureDim, testAccuracy: manifest.testAccuracy },
    ...(ref.second ? { secondMeter: { dir: ref.second.dir, arch: ref.second.manifest.arch ?? 'cnn3', sha256: ref.second.manifest.sha256, testAccuracy: ref.second.manifest.testAccuracy, realAccuracy: ref.second.realAccuracy, floor: ref.second.floor } } : {}),
    reference: { testImages: testCount, realAccuracy, floor },
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
      ...(o.worker ? { worker: o.worker } : {}),
      included: [...o.include],
      sampledCells: results.length,
    },
    cells: all,
    targets: {
      defaultCell: def === null ? null : { sampler: def.sampler, steps: def.steps, precision: def.precision, guidance: def.guidance },
      accuracyTarget: { relativeAccuracy: def?.relativeAccuracy ?? null, required: ACCURACY_TARGET, met: def?.relativeAccuracy == null ? null : def.relativeAccuracy >= ACCURACY_TARGET },
      floorTarget:
        def === null
          ? null
          : {
              ratio: def.distance / floor.distance,
              ratioCi: [(def.distanceCi ?? [def.distance, def.distance])[0] / floor.distance, (def.distanceCi ?? [def.distance, def.distance])[1] / floor.distance],
              required: FLOOR_RATIO_TARGET,
              met: def.distance <= FLOOR_RATIO_TARGET * floor.distance,
            },
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
