/**
 * The distance during training: one cell (by default DPM-Solver++(2M), 20 steps) per checkpoint of a run,
 * sampled from the checkpoint's EMA weights as the exporter's fp32 ONNX graph (scripts/export/graph.ts, the
 * same graph `npm run export` writes, before quantization) and scored as `npm run eval` scores exported
 * models. Writes checkpoints.md, checkpoints.json and distance-vs-checkpoint.png.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import cliProgress from 'cli-progress';
import type { SamplerName } from '../../src/diffusion/index.ts';
import { listCheckpoints, loadCheckpoint, type LoadedCheckpoint } from '../train/checkpoint.ts';
import { ddpmRun } from '../train/options.ts';
import { linePlotPng } from '../lib/plot.ts';
import { encodeModel } from '../model/onnx-graph.ts';
import { ExportError } from '../model/ops-onnx.ts';
import { buildUNetGraph, weightsSource } from '../export/graph.ts';
import { createEpsModel } from '../../src/inference/eps-model.ts';
import { createModelSession, RUNTIME_LABEL, type OrtRuntime } from '../../src/inference/onnx.ts';
import type { Interval } from './intervals.ts';
import { EvalError, type CellResult, type EvalOptions } from './spec.ts';
import { disposeReference, prepareReference, probe, scoreCell, writeGrid, type SampleSpace } from './score.ts';
import { SAMPLER_LABEL, formatDuration, pct } from './report.ts';

export interface CheckpointEvalOptions
  extends Pick<EvalOptions, 'samples' | 'batch' | 'seed' | 'clip' | 'classifierDir' | 'cacheDir' | 'testImages' | 'backend' | 'runtime' | 'threads' | 'grids' | 'progress' | 'log' | 'out'> {
  runDir: string;
  /** Checkpoint steps to evaluate; empty = every checkpoint the run kept. */
  checkpoints: readonly number[];
  sampler: SamplerName;
  steps: number;
  guidance: number;
}

/** One checkpoint's cell: the primary meter's figures as in an evaluation's CellResult, the second meter flat. */
export interface CheckpointResult extends Pick<CellResult, 'distance' | 'distanceCi' | 'meanTerm' | 'covTerm' | 'accuracy' | 'accuracyCi' | 'relativeAccuracy' | 'seconds' | 'grid'> {
  step: number;
  trainSeconds: number;
  /** The second meter's distance and interval (absent when not used). */
  secondDistance?: number;
  secondDistanceCi?: Interval;
}

export interface CheckpointReport {
  createdAt: string;
  runDir: string;
  cell: { sampler: SamplerName; steps: number; guidance: number; samples: number; weights: 'EMA fp32'; runtime: OrtRuntime };
  reference: { testImages: number; realAccuracy: number; floor: { samples: number; distance: number }; secondFloor?: number };
  classifier: { sha256: string; testAccuracy: number };
  checkpoints: CheckpointResult[];
}

/** The checkpoint's EMA weights as an fp32 ONNX session (the graph `npm run export` writes). */
async function emaSession(ck: LoadedCheckpoint, o: Pick<CheckpointEvalOptions, 'runtime' | 'threads'>) {
  const c = ck.config;
  try {
    const built = buildUNetGraph({ unet: c.unet }, weightsSource(ck.ema));
    const session = await createModelSession(encodeModel(built.graph), built.spec, { runtime: o.runtime, threads: o.threads });
    return { session, spec: built.spec, eps: createEpsModel(session, c.unet.numClasses) };
  } catch (e) {
    if (e instanceof ExportError) throw new EvalError(`${ck.dir}: ${e.message}`, { cause: e });
    throw e;
  }
}

const ci = (i: Interval | undefined, digits: number): string => (i ? ` [${i[0].toFixed(digits)}, ${i[1].toFixed(digits)}]` : '');

export function checkpointTable(r: CheckpointReport): string {
  const lines = [
    `Run \`${r.runDir}\`: ${SAMPLER_LABEL[r.cell.sampler]}, ${r.cell.steps} steps, guidance ${r.cell.guidance}, ${r.cell.samples} samples per checkpoint (EMA weights, fp32, ${RUNTIME_LABEL[r.cell.runtime]}). ` +
      `Floor ${r.reference.floor.distance.toFixed(3)} (${r.reference.floor.samples} training images vs ${r.reference.testImages} test images); ` +
      `classifier accuracy on real test images at the model's size ${pct(r.reference.realAccuracy)}.`,
    '',
    `Intervals: 95% (jackknife for distances, Wilson for accuracy); two checkpoints differ when their intervals do not overlap${r.reference.secondFloor !== undefined ? ` on both meters. Second meter (cnn-gap) floor ${r.reference.secondFloor.toFixed(3)}` : ''}.`,
    '',
    '| checkpoint step | training time | distance [95%] | second meter [95%] | accuracy (requested class) [95%] | vs real |',
    '|---:|---:|---:|---:|---:|---:|',
    ...r.checkpoints.map(
      (c) =>
        `| ${c.step} | ${formatDuration(c.trainSeconds)} | ${c.distance.toFixed(3)}${ci(c.distanceCi, 2)} | ${c.secondDistance === undefined ? 'n/a' : `${c.secondDistance.toFixed(3)}${ci(c.secondDistanceCi, 2)}`} | ${pct(c.accuracy)}${c.accuracyCi ? ` [${pct(c.accuracyCi[0])}, ${pct(c.accuracyCi[1])}]` : ''} | ${pct(c.relativeAccuracy)} |`,
    ),
  ];
  return `${lines.join('\n')}\n`;
}

export async function evaluateCheckpoints(o: CheckpointEvalOptions): Promise<CheckpointReport> {
  const kept = await listCheckpoints(o.runDir);
  if (kept.length === 0) throw new EvalError(`${o.runDir}: no checkpoints (expected ${o.runDir}/checkpoints/step-NNNNNNNN)`);
  const steps = o.checkpoints.length > 0 ? [...o.checkpoints] : kept;
  const missing = steps.filter((s) => !kept.includes(s));
  if (missing.length > 0) throw new EvalError(`${o.runDir}: no checkpoint at step ${missing.join(', ')} (kept: ${kept.join(', ')})`);

  const first = await loadCheckpoint(o.runDir, { step: steps[0] });
  let cfg;
  try {
    cfg = ddpmRun(first.config, 'npm run eval -- --run');
  } catch (e) {
    throw new EvalError(`${o.runDir}: ${(e as Error).message}`, { cause: e });
  }
  const u = cfg.unet;
  if (u.numClasses === 0 && o.guidance !== 1) throw new EvalError('the run is unconditional: only guidance 1 applies');
  const space: SampleSpace = { imageSize: u.imageSize, channels: u.channels, numClasses: u.numClasses, schedule: cfg.schedule, prediction: cfg.prediction };
  const fit = cfg.data.fit;
  if (!/fashion/i.test(cfg.data.images)) o.log(`warning: the run trained on ${cfg.data.images}, not Fashion-MNIST: the distances compare against Fashion-MNIST`);
  const ref = await prepareReference(o, u.imageSize, fit);
  const probed = await emaSession(first, o);
  const ms = await probe(probed.eps, probed.spec, o.batch);
  await probed.session.release();
  const perCheckpoint = (o.samples * o.steps * (o.guidance !== 1 ? 2 : 1) * ms) / 1000;
  o.log(`${steps.length} checkpoints x ${o.samples} samples; one U-Net image-step ${ms.toFixed(2)} ms (${RUNTIME_LABEL[o.runtime]}); estimated ${formatDuration(perCheckpoint * steps.length)}`);
  await fsp.mkdir(o.out, { recursive: true });

  const bar = o.progress ? new cliProgress.SingleBar({ format: 'checkpoints {bar} {percentage}% | step {ck} | eta {eta_formatted}', etaBuffer: 50 }, cliProgress.Presets.shades_classic) : null;
  const work = o.samples * o.steps * (o.guidance !== 1 ? 2 : 1);
  bar?.start(work * steps.length, 0, { ck: '' });
  let done = 0;
  const results: CheckpointResult[] = [];
  for (const step of steps) {
    const ck = step === first.step ? first : await loadCheckpoint(o.runDir, { step });
    const { session, eps } = await emaSession(ck, o);
    const sc = await scoreCell(eps, space, { sampler: o.sampler, steps: o.steps, guidance: o.guidance }, { ...o, fit }, ref, (n) => {
      done += n;
      bar?.update(done, { ck: step });
    });
    await session.release();
    const r: CheckpointResult = {
      step,
      trainSeconds: ck.state.trainSeconds,
      distance: sc.primary.distance,
      distanceCi: sc.primary.distanceCi,
      meanTerm: sc.primary.meanTerm,
      covTerm: sc.primary.covTerm,
      accuracy: sc.primary.accuracy,
      accuracyCi: sc.primary.accuracyCi,
      relativeAccuracy: sc.primary.relativeAccuracy,
      ...(sc.second ? { secondDistance: sc.second.distance, secondDistanceCi: sc.second.distanceCi } : {}),
      seconds: sc.seconds,
    };
    if (o.grids && sc.firstImages.length > 0) {
      r.grid = path.join('grids', `checkpoint-${step}.png`);
      await writeGrid(path.join(o.out, r.grid), sc.firstImages, u.channels, u.imageSize);
    }
    results.push(r);
    if (!bar) o.log(`checkpoint ${step}: distance ${r.distance.toFixed(3)}, accuracy ${pct(r.accuracy)}`);
  }
  bar?.stop();
  disposeReference(ref);

  const report: CheckpointReport = {
    createdAt: new Date().toISOString(),
    runDir: o.runDir,
    cell: { sampler: o.sampler, steps: o.steps, guidance: o.guidance, samples: o.samples, weights: 'EMA fp32', runtime: o.runtime },
    reference: { testImages: ref.primary.testCount, realAccuracy: ref.primary.realAccuracy, floor: { samples: ref.primary.floor.samples, distance: ref.primary.floor.distance }, ...(ref.second ? { secondFloor: ref.second.floor.distance } : {}) },
    classifier: { sha256: ref.primary.manifest.sha256, testAccuracy: ref.primary.manifest.testAccuracy },
    checkpoints: results,
  };
  await fsp.writeFile(path.join(o.out, 'checkpoints.md'), checkpointTable(report));
  await fsp.writeFile(path.join(o.out, 'checkpoints.json'), `${JSON.stringify(report, null, 2)}\n`);
  const xs = results.map((c) => c.step);
  const png = linePlotPng(
    [
      { name: `${SAMPLER_LABEL[o.sampler]}, ${o.steps} steps`, points: results.map((c) => [c.step, c.distance] as const) },
      { name: 'floor (train vs test)', points: [[Math.min(...xs), ref.primary.floor.distance], [Math.max(...xs), ref.primary.floor.distance]], color: [150, 150, 150] },
    ],
    { title: `distance vs training step (n=${o.samples})`, xLabel: 'training step', yLabel: 'Frechet distance (classifier features)', yZero: true },
  );
  await fsp.writeFile(path.join(o.out, 'distance-vs-checkpoint.png'), png);
  o.log(`wrote ${path.join(o.out, 'checkpoints.md')}, checkpoints.json, distance-vs-checkpoint.png`);
  return report;
}
