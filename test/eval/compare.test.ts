import { describe, expect, it } from 'vitest';
import { compareReports, comparisonTable, distanceWinner, verdict } from '../../scripts/eval/compare.ts';
import type { CellResult, EvalReport } from '../../scripts/eval/spec.ts';

function cell(d: number, ci: [number, number], second?: [number, [number, number]], acc = 0.9): CellResult {
  return {
    sampler: 'unipc',
    steps: 10,
    precision: 'int8',
    guidance: 1.75,
    samples: 1000,
    distance: d,
    distanceCi: ci,
    meanTerm: 0,
    covTerm: d,
    accuracy: acc,
    accuracyCi: [acc - 0.02, acc + 0.02],
    relativeAccuracy: acc,
    seconds: 1,
    secondsPer1000: 1,
    ...(second
      ? { second: { distance: second[0], distanceCi: second[1], meanTerm: 0, covTerm: 0, accuracy: acc, accuracyCi: null, relativeAccuracy: null, fidelity: 0.5, diversity: 0.5, perClass: null } }
      : {}),
  };
}

function report(cells: CellResult[], samples = 1000): EvalReport {
  return { model: { name: 'm', version: '1' }, classifier: { sha256: 'x' }, settings: { samples }, cells } as unknown as EvalReport;
}

describe('the decision rule on two reports', () => {
  it('a meter resolves only non-overlapping intervals; lower distance wins', () => {
    expect(distanceWinner([1, 2], [2.5, 3])).toBe('a');
    expect(distanceWinner([2.5, 3], [1, 2])).toBe('b');
    expect(distanceWinner([1, 2.6], [2.5, 3])).toBeNull();
    expect(distanceWinner(undefined, [1, 2])).toBeNull();
  });

  it('a winner needs both meters; opposite resolutions are a disagreement', () => {
    expect(verdict('a', 'a')).toBe('a');
    expect(verdict('a', null)).toBe('unresolved');
    expect(verdict('a', 'b')).toBe('disagree');
    expect(verdict('b', undefined)).toBe('b');
  });

  it('matches cells across reports and writes the verdict table', () => {
    const a = report([cell(3, [2.8, 3.2], [30, [28, 32]], 0.95)]);
    const b = report([cell(4, [3.7, 4.3], [47, [44, 50]], 0.8), { ...cell(1, [0, 2]), steps: 20 }]);
    const rows = compareReports(a, b);
    expect(rows).toHaveLength(1);
    expect(rows[0].verdict).toBe('a');
    expect(rows[0].accuracy).toBe('a');
    const table = comparisonTable(rows, 'A', 'B', 1000);
    expect(table).toContain('**A better**');
    expect(table).toContain('3.000 [2.80, 3.20]');
    expect(table).toContain('UniPC (bh2, order 2), 10 steps, int8, guidance 1.75');
  });

  it('refuses reports of different sample counts (the distance bias depends on n)', () => {
    expect(() => compareReports(report([]), report([], 500))).toThrow(/equal counts/);
  });
});

describe('models at their own defaults', () => {
  it('adds the default cell of each report as one row when the defaults differ', () => {
    const a = report([cell(3, [2.8, 3.2], [0.5, [0.4, 0.6]])]);
    const bCell = { ...cell(3.1, [2.9, 3.3], [0.45, [0.35, 0.55]]), sampler: 'dpmpp2m' as const, steps: 20 };
    const b = report([bCell]);
    (a as { targets: unknown }).targets = { defaultCell: { sampler: 'unipc', steps: 10, precision: 'int8', guidance: 1.75 } };
    (b as { targets: unknown }).targets = { defaultCell: { sampler: 'dpmpp2m', steps: 20, precision: 'int8', guidance: 1.75 } };
    const rows = compareReports(a, b);
    expect(rows).toHaveLength(1);
    expect(rows[0].verdict).toBe('unresolved');
    expect(comparisonTable(rows, 'A', 'B', 1000)).toContain('defaults: UniPC (bh2, order 2), 10 steps, int8, guidance 1.75; DPM-Solver++(2M), 20 steps');
  });
});
