/**
 * `npm run eval -- --tradeoff a/results.json,b/results.json --bench <bench.json> [--budget-ms <ms>]`: the
 * quality/latency table that picks a default model. One row per evaluated model at its default cell (both
 * meters with their 95% intervals, requested-class accuracy, the same-n floor ratio), next to the warm
 * single-image latency `npm run bench edge` measured for that model at the same defaults in workerd (p50 of
 * the guided request for a conditional model, else the unguided one).
 *
 * The rule: among the models whose p50 is within the budget (all of them without one), drop every model that
 * another one beats by the evaluation's decision rule (its interval wholly better on both meters); of those
 * left, the fastest is the default. Quality the meters cannot tell apart is not paid for in latency.
 */
import { promises as fsp } from 'node:fs';
import { distanceWinner, defaultOf, verdict } from './compare.ts';
import { pct } from './report.ts';
import type { CellResult, EvalReport } from './spec.ts';

export class TradeoffError extends Error {
  override readonly name = 'TradeoffError';
}

/** What the tool reads of one model's entry in a bench edge JSON report (scripts/bench/cli.ts). */
export interface BenchModelEntry {
  model: { card: { name: string; version: string; architecture?: { parameters?: number; numClasses?: number } } };
  latency: { label: string; wallP50: number; wallP95: number; handlerP50: number }[];
}

export interface TradeoffRow {
  name: string;
  version: string;
  parameters: number | null;
  cell: CellResult;
  /** Guidance only at timesteps in [lo, hi] (the report's --guidance-interval), or at every step. */
  guidanceInterval: readonly [number, number] | null;
  floorRatio: number | null;
  latencyLabel: string;
  p50: number;
  p95: number;
}

const GUIDED = 'single image, class 1 (guided at the defaults), warm, miss';
const UNGUIDED = 'single image, warm, miss';

export function tradeoffRows(reports: readonly EvalReport[], bench: readonly BenchModelEntry[]): TradeoffRow[] {
  return reports.map((r) => {
    const cell = defaultOf(r);
    if (!cell) throw new TradeoffError(`${r.model.name} ${r.model.version}: the report has no measured default cell (run the eval with the model's --default-cell among its cells)`);
    const entry = bench.find((b) => b.model.card.name === r.model.name && b.model.card.version === r.model.version);
    if (!entry) throw new TradeoffError(`${r.model.name} ${r.model.version}: not in the bench report (bench models: ${bench.map((b) => `${b.model.card.name} ${b.model.card.version}`).join(', ') || 'none'})`);
    const label = r.model.numClasses > 0 ? GUIDED : UNGUIDED;
    const row = entry.latency.find((l) => l.label === label);
    if (!row) throw new TradeoffError(`${r.model.name}: the bench report has no "${label}" row (run npm run bench edge without --no-e2e)`);
    const floor = r.reference.floor.distance;
    return {
      name: r.model.name,
      version: r.model.version,
      parameters: entry.model.card.architecture?.parameters ?? null,
      cell,
      guidanceInterval: r.settings.guidanceInterval ?? null,
      floorRatio: floor > 0 ? cell.distance / floor : null,
      latencyLabel: label,
      p50: row.wallP50,
      p95: row.wallP95,
    };
  });
}

/** Whether `a` beats `b` by the decision rule (both meters resolve in a's favour; one meter when only one was used). */
export function beats(a: CellResult, b: CellResult): boolean {
  const primary = distanceWinner(a.distanceCi, b.distanceCi);
  const second = a.second === undefined || b.second === undefined ? undefined : distanceWinner(a.second.distanceCi, b.second.distanceCi);
  return verdict(primary, second) === 'a';
}

/** The rule (module doc): the fastest model within the budget that no other model within the budget beats. */
export function pickDefault(rows: readonly TradeoffRow[], budgetMs?: number): { pick: TradeoffRow | null; within: TradeoffRow[]; beaten: Map<string, string> } {
  const within = rows.filter((r) => budgetMs === undefined || r.p50 <= budgetMs);
  const beaten = new Map<string, string>();
  for (const r of within) {
    const by = within.find((o) => o !== r && beats(o.cell, r.cell));
    if (by) beaten.set(r.name, by.name);
  }
  const left = within.filter((r) => !beaten.has(r.name)).sort((a, b) => a.p50 - b.p50);
  return { pick: left[0] ?? null, within, beaten };
}

const ci = (i: readonly [number, number] | undefined, d: number): string => (i ? ` [${i[0].toFixed(d)}, ${i[1].toFixed(d)}]` : '');

export function tradeoffTable(rows: readonly TradeoffRow[], budgetMs?: number): string {
  const { pick, within, beaten } = pickDefault(rows, budgetMs);
  const samples = [...new Set(rows.map((r) => r.cell.samples))];
  const lines = [
    `Quality at each model's default cell (${samples.join(' / ')} samples; 95% intervals) next to the warm single-image p50 in workerd at the same defaults (npm run bench edge).`,
    '',
    '| model | parameters | default cell | distance [95%] | x floor | second meter [95%] | accuracy [95%] | vs real | p50 (p95) ms | verdict |',
    '|---|---:|---|---:|---:|---:|---:|---:|---:|---|',
  ];
  for (const r of rows) {
    const c = r.cell;
    const inBudget = within.includes(r);
    const why = !inBudget ? `over the ${budgetMs} ms budget` : beaten.has(r.name) ? `beaten by ${beaten.get(r.name)}` : r === pick ? '**default**' : 'not beaten, slower';
    lines.push(
      `| ${r.name} ${r.version} | ${r.parameters === null ? '?' : `${(r.parameters / 1e6).toFixed(2)}M`} | ${c.sampler} ${c.steps} steps, guidance ${c.guidance}${r.guidanceInterval && c.guidance !== 1 ? ` at t ${r.guidanceInterval[0]}-${r.guidanceInterval[1]}` : ''} | ${c.distance.toFixed(2)}${ci(c.distanceCi, 2)} | ${r.floorRatio === null ? 'n/a' : `${r.floorRatio.toFixed(2)}x`} | ${c.second ? `${c.second.distance.toFixed(3)}${ci(c.second.distanceCi, 3)}` : 'n/a'} | ${pct(c.accuracy)}${c.accuracyCi ? ` [${pct(c.accuracyCi[0])}, ${pct(c.accuracyCi[1])}]` : ''} | ${pct(c.relativeAccuracy)} | ${r.p50.toFixed(0)} (${r.p95.toFixed(0)}) | ${why} |`,
    );
  }
  lines.push(
    '',
    `Rule: among the models within the budget (${budgetMs === undefined ? 'none given: all' : `p50 <= ${budgetMs} ms`}), drop those another one beats (intervals wholly better on both meters); the fastest left is the default${pick ? `: ${pick.name} ${pick.version}` : ': none qualifies'}.`,
  );
  return lines.join('\n');
}

export async function runTradeoff(reportFiles: readonly string[], benchFile: string, budgetMs?: number): Promise<string> {
  const read = async <T>(f: string): Promise<T> => {
    try {
      return JSON.parse(await fsp.readFile(f, 'utf8')) as T;
    } catch (e) {
      throw new TradeoffError(`${f}: ${(e as Error).message}`);
    }
  };
  const reports = await Promise.all(reportFiles.map((f) => read<EvalReport>(f)));
  const bench = await read<BenchModelEntry[]>(benchFile);
  if (!Array.isArray(bench)) throw new TradeoffError(`${benchFile}: not a bench edge JSON report (an array of models)`);
  return tradeoffTable(tradeoffRows(reports, bench), budgetMs);
}
