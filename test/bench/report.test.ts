// npm run bench's report writer and timing helpers (scripts/bench/report.ts, timing.ts); the bench itself is not
// part of npm test.
import { describe, expect, it } from 'vitest';
import { mib, ms, pct, ratio, Report, table } from '../../scripts/bench/report.ts';
import { median, percentile, timeRuns } from '../../scripts/bench/timing.ts';

describe('bench report', () => {
  it('formats numbers with a fixed number of significant digits and n/a for missing values', () => {
    expect([ms(1234.5), ms(12.345), ms(1.2345), ms(0.12345), ms(undefined), ms(NaN)]).toEqual(['1235', '12.3', '1.23', '0.123', 'n/a', 'n/a']);
    expect([ratio(3.456), pct(0.0712), mib(16 * 2 ** 20)]).toEqual(['3.46x', '7.1%', '16.0 MiB']);
  });

  it('writes GitHub tables: escaped pipes, numeric columns right-aligned', () => {
    const text = table(['runtime', 'ms', 'vs native'], [['web | node', '12.3', '3.10x'], ['native', 4, '1.00x'], ['x', null, 'n/a']]);
    expect(text.split('\n')).toEqual([
      '| runtime | ms | vs native |',
      '|---|---:|---:|',
      '| web \\| node | 12.3 | 3.10x |',
      '| native | 4 | 1.00x |',
      '| x | n/a | n/a |',
    ]);
  });

  it('joins headings, prose and tables with blank lines', () => {
    const text = new Report().heading(2, 'Bench').text('  measured  ').table(['a'], [[1]]).toString();
    expect(text).toBe('## Bench\n\nmeasured\n\n| a |\n|---:|\n| 1 |\n');
  });
});

describe('bench timing', () => {
  it('computes medians and nearest-rank percentiles', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(percentile([5, 1, 4, 2, 3], 50)).toBe(3);
    expect(percentile(Array.from({ length: 20 }, (_, i) => i + 1), 95)).toBe(19);
  });

  it('times runs in blocks long enough for a coarse clock', async () => {
    let clock = 0;
    const result = await timeRuns(() => void (clock += 0.25), { warmupMs: 2, measureMs: 10, minBlockMs: 1, minBlocks: 5 }, () => Math.floor(clock));
    expect(result.medianMs).toBeCloseTo(0.25, 5); // 4 runs per block on a 1 ms clock
    expect(result.runs % 4).toBe(0);
    expect(result.blocks).toBeGreaterThanOrEqual(5);
  });
});
