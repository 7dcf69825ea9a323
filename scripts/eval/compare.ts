/**
 * `npm run eval -- --compare a/results.json,b/results.json`: the decision rule applied to two evaluations.
 * For every cell both reports measured (same sampler, steps, precision and guidance) it prints each figure
 * with its 95% interval and a verdict: a model is better on a meter when its interval lies wholly below
 * (distance) or above (accuracy) the other's; it is better when both meters say so; "not resolved" when
 * either meter's intervals overlap; "meters disagree" when they resolve in opposite directions.
 */
import { promises as fsp } from 'node:fs';
import { resolved, type Interval } from './intervals.ts';
import { SAMPLER_LABEL } from './report.ts';
import type { CellResult, EvalReport } from './spec.ts';
import { pct } from './report.ts';

export class CompareError extends Error {
  override readonly name = 'CompareError';
}

export type Verdict = 'a' | 'b' | 'unresolved' | 'disagree';

/** Which side a meter resolves: lower distance wins. null = the intervals overlap (or a figure is missing). */
export function distanceWinner(a: Interval | undefined, b: Interval | undefined): 'a' | 'b' | null {
  if (!a || !b || !resolved(a, b)) return null;
  return a[1] < b[0] ? 'a' : 'b';
}

/** Both meters' winners into one verdict (a single meter, when the reports have only one, decides alone). */
export function verdict(primary: 'a' | 'b' | null, second: 'a' | 'b' | null | undefined): Verdict {
  if (second === undefined) return primary ?? 'unresolved';
  if (primary !== null && second !== null && primary !== second) return 'disagree';
  if (primary === null || second === null) return 'unresolved';
  return primary;
}

export interface CellComparison {
  key: string;
  a: CellResult;
  b: CellResult;
  primary: 'a' | 'b' | null;
  second: 'a' | 'b' | null | undefined;
  accuracy: 'a' | 'b' | null;
  verdict: Verdict;
}

const keyOf = (c: CellResult): string => `${c.sampler}|${c.steps}|${c.precision}|${c.guidance}`;

/** The report's measured default cell (targets.defaultCell), if any. */
export function defaultOf(r: EvalReport): CellResult | undefined {
  const d = r.targets?.defaultCell;
  return d ? r.cells.find((c) => c.sampler === d.sampler && c.steps === d.steps && c.precision === d.precision && c.guidance === d.guidance) : undefined;
}

export function compareReports(a: EvalReport, b: EvalReport): CellComparison[] {
  if (a.settings.samples !== b.settings.samples) {
    throw new CompareError(`the reports sampled ${a.settings.samples} and ${b.settings.samples} images per cell: the distance's bias depends on n, compare equal counts`);
  }
  if (a.classifier.sha256 !== b.classifier.sha256) throw new CompareError('the reports were scored by different primary classifiers');
  const pairs: [CellResult, CellResult][] = [];
  for (const ca of a.cells) {
    const cb = b.cells.find((c) => keyOf(c) === keyOf(ca));
    if (cb) pairs.push([ca, cb]);
  }
  // each model at its own serving defaults (the comparison that picks a default model), when those differ
  const da = defaultOf(a);
  const db = defaultOf(b);
  if (da && db && keyOf(da) !== keyOf(db)) pairs.push([da, db]);
  const out: CellComparison[] = [];
  for (const [ca, cb] of pairs) {
    const primary = distanceWinner(ca.distanceCi, cb.distanceCi);
    const second = ca.second && cb.second ? distanceWinner(ca.second.distanceCi, cb.second.distanceCi) : undefined;
    // accuracy: higher wins
    const acc = ca.accuracyCi && cb.accuracyCi && resolved(ca.accuracyCi, cb.accuracyCi) ? (ca.accuracyCi[0] > cb.accuracyCi[1] ? 'a' : 'b') : null;
    out.push({ key: keyOf(ca), a: ca, b: cb, primary, second, accuracy: acc, verdict: verdict(primary, second) });
  }
  return out;
}

const ci = (v: number, i: Interval | undefined | null, d = 2): string => `${v.toFixed(d + 1)}${i ? ` [${i[0].toFixed(d)}, ${i[1].toFixed(d)}]` : ''}`;

export function comparisonTable(rows: readonly CellComparison[], nameA: string, nameB: string, samples: number): string {
  const say = (w: 'a' | 'b' | null | undefined): string => (w === undefined ? 'n/a' : w === null ? 'overlap' : w === 'a' ? nameA : nameB);
  const v = (x: Verdict): string => (x === 'a' ? `**${nameA} better**` : x === 'b' ? `**${nameB} better**` : x === 'disagree' ? 'meters disagree' : 'not resolved');
  const lines = [
    `${nameA} (A) vs ${nameB} (B), ${samples} samples per cell; 95% intervals; a side wins a meter when its interval lies wholly on the better side, and the cell when both meters agree.`,
    '',
    '| cell (A; B where it differs) | distance A | distance B | lower | second meter A | second meter B | lower | accuracy A | accuracy B | higher | verdict |',
    '|---|---:|---:|---|---:|---:|---|---:|---:|---|---|',
  ];
  const label = (c: CellResult): string => `${SAMPLER_LABEL[c.sampler]}, ${c.steps} steps, ${c.precision}, guidance ${c.guidance}`;
  for (const r of rows) {
    const cellName = keyOf(r.a) === keyOf(r.b) ? label(r.a) : `defaults: ${label(r.a)}; ${label(r.b)}`;
    lines.push(
      `| ${cellName} | ${ci(r.a.distance, r.a.distanceCi)} | ${ci(r.b.distance, r.b.distanceCi)} | ${say(r.primary)} | ` +
        `${r.a.second ? ci(r.a.second.distance, r.a.second.distanceCi) : 'n/a'} | ${r.b.second ? ci(r.b.second.distance, r.b.second.distanceCi) : 'n/a'} | ${say(r.second)} | ` +
        `${pct(r.a.accuracy)} | ${pct(r.b.accuracy)} | ${say(r.accuracy)} | ${v(r.verdict)} |`,
    );
  }
  if (rows.length === 0) lines.push('', 'No cell was measured in both reports.');
  return `${lines.join('\n')}\n`;
}

export async function readReport(file: string): Promise<EvalReport> {
  try {
    return JSON.parse(await fsp.readFile(file, 'utf8')) as EvalReport;
  } catch (e) {
    throw new CompareError(`${file}: cannot read an evaluation report (${(e as Error).message})`, { cause: e });
  }
}

/** Compare two results.json files; returns the markdown table. */
export async function compareFiles(fileA: string, fileB: string): Promise<string> {
  const [a, b] = await Promise.all([readReport(fileA), readReport(fileB)]);
  const label = (r: EvalReport, f: string): string => (a.model.name === b.model.name ? f : `${r.model.name} ${r.model.version}`);
  return comparisonTable(compareReports(a, b), label(a, fileA), label(b, fileB), a.settings.samples);
}
