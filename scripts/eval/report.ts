/**
 * The evaluation's report: the markdown table (every figure with its 95% interval, both meters), the
 * per-class table of the default cell, and the plot series. Pure functions of an EvalReport.
 */
import type { SamplerName } from '../../src/diffusion/index.ts';
import { RUNTIME_LABEL } from '../../src/inference/onnx.ts';
import { FASHION_MNIST_CLASSES } from '../train/data.ts';
import { PALETTE, type Series } from '../lib/plot.ts';
import type { Interval } from './intervals.ts';
import type { CellResult, EvalReport } from './spec.ts';

/** A fraction as a percentage with one decimal ('n/a' when missing). */
export const pct = (v: number | null): string => (v === null ? 'n/a' : `${(100 * v).toFixed(1)}%`);

export const SAMPLER_LABEL: Record<SamplerName, string> = {
  ddpm: 'DDPM ancestral',
  ddim: 'DDIM',
  dpmpp2m: 'DPM-Solver++(2M)',
  dpmpp3m: 'DPM-Solver++(3M)',
  unipc: 'UniPC (bh2, order 2)',
};

export function formatDuration(seconds: number): string {
  return seconds < 120 ? `${seconds.toFixed(0)} s` : seconds < 7200 ? `${(seconds / 60).toFixed(1)} min` : `${(seconds / 3600).toFixed(1)} h`;
}

const ci = (i: Interval | null | undefined, digits: number): string => (i ? ` [${i[0].toFixed(digits)}, ${i[1].toFixed(digits)}]` : '');
const pctCi = (i: Interval | null | undefined): string => (i ? ` [${pct(i[0])}, ${pct(i[1])}]` : '');

const fmt = (v: number | null, digits: number): string => (v === null ? 'n/a' : v.toFixed(digits));

/** The runs that sampled a report's cells: the included ones, and this one unless it only merged. */
function runCount(r: EvalReport): number {
  return r.settings.included.length + (r.settings.sampledCells > 0 ? 1 : 0);
}

export function markdownTable(r: EvalReport): string {
  const lines = [
    `Model \`${r.model.name}\` ${r.model.version} (${r.model.imageSize}x${r.model.imageSize}, ${r.model.trainingSteps} training steps); ` +
      `${r.settings.samples} samples per cell, classes balanced, seed ${r.settings.seed}, batch ${r.settings.batch}, clipSample ${r.settings.clip ? 'on' : 'off'}; ` +
      `guidance scales tried: ${r.settings.guidance.join(', ')}${r.settings.guidanceInterval ? ` (applied at timesteps ${r.settings.guidanceInterval.join('..')} only)` : ''}; ${r.settings.worker ? `requested one by one from the worker at ${r.settings.worker} (served int8 graph, onnxruntime-web in workerd)` : `sampled with ${RUNTIME_LABEL[r.settings.runtime]}`}` +
      `${r.settings.included.length > 0 ? ` (cells merged from ${runCount(r)} runs)` : ''}.`,
    '',
    `Reference floor (${r.reference.floor.samples} training images vs the ${r.reference.testImages} test images): **${r.reference.floor.distance.toFixed(3)}**. ` +
      `Classifier accuracy on real test images at ${r.model.imageSize}x${r.model.imageSize}: ${pct(r.reference.realAccuracy)} ` +
      `(at 28x28: ${pct(r.classifier.testAccuracy)}).`,
    '',
    'Intervals: 95%, distance +- 1.96 jackknife standard errors over the samples (20 groups; the distance is biased upwards by an amount set by the sample count, so compare cells of the same count) and Wilson (accuracy); two cells differ when their intervals do not overlap, on both meters. Fidelity and diversity: improved precision and recall (Kynkäänniemi et al. 2019, k = 3) in the same feature space against as many test images as samples, read apart: low fidelity = unrealistic samples, low diversity = modes missed.',
    ...(r.secondMeter
      ? [
          '',
          `Second meter: a classifier of another architecture and seed (${r.secondMeter.arch}, \`${r.secondMeter.dir}\`, test accuracy ${pct(r.secondMeter.testAccuracy)}); floor **${r.secondMeter.floor.distance.toFixed(3)}**, accuracy on real test images ${pct(r.secondMeter.realAccuracy)}.`,
        ]
      : []),
    '',
    '| sampler | steps | precision | guidance | samples | distance [95% interval] | second meter [95%] | mean term | cov term | accuracy (requested class) [95%] | vs real | second meter accuracy | fidelity (P, k=3) | diversity (R, k=3) | s / 1,000 samples |',
    '|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const c of r.cells) {
    lines.push(
      `| ${SAMPLER_LABEL[c.sampler]} | ${c.steps} | ${c.precision} | ${c.guidance} | ${c.samples} | ${c.distance.toFixed(3)}${ci(c.distanceCi, 2)} | ${c.second ? `${c.second.distance.toFixed(3)}${ci(c.second.distanceCi, 2)}` : 'n/a'} | ${c.meanTerm.toFixed(3)} | ${c.covTerm.toFixed(3)} | ${pct(c.accuracy)}${pctCi(c.accuracyCi)} | ${pct(c.relativeAccuracy)} | ${c.second ? pct(c.second.accuracy) : 'n/a'} | ${c.fidelity === undefined ? 'n/a' : pct(c.fidelity)} | ${c.diversity === undefined ? 'n/a' : pct(c.diversity)} | ${c.secondsPer1000.toFixed(1)} |`,
    );
  }
  const t = r.targets;
  lines.push('');
  if (t.defaultCell) {
    lines.push(
      `Targets at the default settings (${SAMPLER_LABEL[t.defaultCell.sampler]}, ${t.defaultCell.steps} steps, ${t.defaultCell.precision}, guidance ${t.defaultCell.guidance}): ` +
        `accuracy on the requested class ${pct(t.accuracyTarget.relativeAccuracy)} of the real-image accuracy (target >= ${pct(t.accuracyTarget.required)}: ${t.accuracyTarget.met === null ? 'n/a' : t.accuracyTarget.met ? 'met' : 'NOT met'}); ` +
        (t.floorTarget ? `distance ${t.floorTarget.ratio.toFixed(2)}x the same-n floor [${t.floorTarget.ratioCi[0].toFixed(2)}, ${t.floorTarget.ratioCi[1].toFixed(2)}] (target <= ${t.floorTarget.required}x: ${t.floorTarget.met ? 'met' : 'NOT met'}); ` : '') +
        (t.distanceTarget.ddpmReferenceDistance === null
          ? `distance ${fmt(t.distanceTarget.defaultDistance, 3)} (no ${r.settings.ddpmReference > 0 ? `${r.settings.ddpmReference}-step ` : ''}DDPM reference at these settings: distance target not checked).`
          : `distance ${fmt(t.distanceTarget.defaultDistance, 3)} vs ${r.settings.ddpmReference}-step DDPM ${fmt(t.distanceTarget.ddpmReferenceDistance, 3)} ` +
            `(target: no worse: ${t.distanceTarget.met === null ? 'n/a' : t.distanceTarget.met ? 'met' : 'NOT met'}).`),
    );
    const def = r.cells.find((c) => c.sampler === t.defaultCell?.sampler && c.steps === t.defaultCell.steps && c.precision === t.defaultCell.precision && c.guidance === t.defaultCell.guidance);
    if (def?.perClass && def.perClass.length > 0) lines.push('', ...perClassTable(def, r));
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


/** The default cell class by class: where a model fails (blobs of one class, another class drawn instead). */
export function perClassTable(c: CellResult, r: EvalReport): string[] {
  const rows = c.perClass ?? [];
  const second = c.second?.perClass ?? null;
  const lines = [
    `Per requested class at the default cell (${rows.length > 0 ? Math.round(c.samples / rows.length) : 0} samples each; distance against the class's test images, floor: as many training images of the class):`,
    '',
    `| class | accuracy [95%] | distance [95%] | class floor |${second ? ' second meter accuracy | second meter distance [95%] |' : ''}`,
    `|---|---:|---:|---:|${second ? '---:|---:|' : ''}`,
  ];
  rows.forEach((k, i) => {
    const s = second?.[i];
    lines.push(
      `| ${i} ${FASHION_MNIST_CLASSES[i] ?? ''} | ${pct(k.accuracy)}${pctCi(k.accuracyCi)} | ${k.distance.toFixed(2)}${ci(k.distanceCi, 1)} | ${k.floor.toFixed(2)} |${s ? ` ${pct(s.accuracy)} | ${s.distance.toFixed(2)}${ci(s.distanceCi, 1)} |` : ''}`,
    );
  });
  void r;
  return lines;
}
