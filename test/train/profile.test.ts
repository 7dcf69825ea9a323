import { describe, expect, it } from 'vitest';
import { formatKernelTable, formatPhaseTable, groupKernels, phaseRows, type StepProfile } from '../../scripts/train/profile.ts';

describe('training-step profile helpers', () => {
  it('groups kernel records by name, splits forward/backward, sorts by time and computes shares', () => {
    const rows = groupKernels([
      { name: 'Conv2D', ms: 3, phase: 'forward' },
      { name: 'Add', ms: 1, phase: 'forward' },
      { name: 'Conv2D', ms: 5, phase: 'backward' },
      { name: 'Mul', ms: 1, phase: 'backward' },
    ]);
    expect(rows.map((r) => r.name)).toEqual(['Conv2D', 'Add', 'Mul']);
    expect(rows[0]).toEqual({ name: 'Conv2D', count: 2, ms: 8, forwardMs: 3, backwardMs: 5, share: 0.8 });
    expect(rows.reduce((s, r) => s + r.share, 0)).toBeCloseTo(1, 12);
    const table = formatKernelTable(rows, 1).split('\n');
    expect(table).toHaveLength(4); // header, Conv2D, the 2 others, all
    expect(table[2]).toMatch(/^\(2 other kernels\)\s+2\s+2\.0\s+1\.0\s+1\.0\s+20\.0%$/);
    expect(table[3]).toMatch(/^all kernels\s+4\s+10\.0\s+4\.0\s+6\.0\s+100\.0%$/);
    expect(groupKernels([])).toEqual([]);
  });

  it('averages step phases; top-level rows sum to the step, worker rows sit inside the wait', () => {
    const step = (k: number): StepProfile => ({
      batchMs: 10 * k,
      totalMs: 100 * k,
      engine: {
        postMs: 1 * k,
        waitMs: 70 * k,
        sumMs: 4 * k,
        workers: [
          { requestMs: 0.5, setWeightsMs: 1, forwardMs: 20, backwardMs: 40, readMs: 3, replyMs: 0.5 },
          { requestMs: 0.5, setWeightsMs: 1, forwardMs: 22, backwardMs: 42, readMs: 3, replyMs: 0.5 },
        ],
      },
      optim: { clipMs: 2 * k, adamMs: 5 * k, emaMs: 3 * k },
    });
    const rows = phaseRows([step(1), step(3)]);
    const by = new Map(rows.map((r) => [r.name, r]));
    expect(by.get('step total')?.ms).toBe(200);
    expect(by.get('batch drawing + noising (q_sample)')).toMatchObject({ ms: 20, share: 0.1, inside: false });
    expect(by.get('worker 1: forward')).toMatchObject({ ms: 22, share: 0.11, inside: true });
    expect(by.get('other (loop, await, GC)')?.ms).toBeCloseTo(10, 12);
    const top = rows.filter((r) => !r.inside && r.name !== 'step total').reduce((s, r) => s + r.ms, 0);
    expect(top).toBeCloseTo(200, 12);
    const text = formatPhaseTable(rows);
    expect(text).toContain('  worker 0: backward');
    expect(text.split('\n').at(-1)).toMatch(/^step total\s+200\.0\s+100\.0%$/);
  });

  it('in-process steps have no exchange rows and a main-thread split', () => {
    const rows = phaseRows([
      { batchMs: 1, totalMs: 10, engine: { postMs: 0, waitMs: 8, sumMs: 0, workers: [{ requestMs: 0, setWeightsMs: 0, forwardMs: 3, backwardMs: 4, readMs: 1, replyMs: 0 }] }, optim: { clipMs: 0, adamMs: 1, emaMs: 0 } },
    ]);
    const names = rows.map((r) => r.name);
    expect(names).toContain('gradients (in-process)');
    expect(names).toContain('main: forward');
    expect(names.some((n) => n.startsWith('gradient exchange'))).toBe(false);
  });
});
