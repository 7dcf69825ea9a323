/**
 * Timing helpers shared by Node and the bench worker (pure: no I/O, no runtime-specific types).
 *
 * Runs are timed in blocks: after a warm-up, k consecutive runs are timed together, k chosen so that a block
 * lasts at least `minBlockMs`. A clock with millisecond resolution (workerd's Date.now / performance.now)
 * then still resolves sub-millisecond runs; the median and minimum are over block means.
 */
export interface TimingOptions {
  /** Warm-up time (V8 tiers wasm up during the first runs). At least 3 runs. */
  warmupMs: number;
  /** Measured time; at least `minBlocks` blocks. */
  measureMs: number;
  /** A block lasts at least this long (clock resolution). */
  minBlockMs: number;
  minBlocks: number;
}

export interface Timing {
  /** Median over blocks of the mean ms per run. */
  medianMs: number;
  minMs: number;
  /** Timed runs (warm-up excluded). */
  runs: number;
  blocks: number;
}

export const DEFAULT_TIMING: TimingOptions = { warmupMs: 300, measureMs: 1500, minBlockMs: 25, minBlocks: 7 };

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Nearest-rank percentile (p in [0, 100]). */
export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * s.length));
  return s[Math.min(s.length, rank) - 1];
}

export async function timeRuns(run: () => Promise<unknown> | unknown, options: TimingOptions, now: () => number): Promise<Timing> {
  let start = now();
  let warm = 0;
  while (warm < 3 || now() - start < options.warmupMs) {
    await run();
    warm++;
  }
  const perRun = Math.max((now() - start) / warm, 1e-3);
  const k = Math.max(1, Math.ceil(options.minBlockMs / perRun));
  const means: number[] = [];
  start = now();
  while (means.length < options.minBlocks || now() - start < options.measureMs) {
    const t0 = now();
    for (let i = 0; i < k; i++) await run();
    means.push((now() - t0) / k);
  }
  return { medianMs: median(means), minMs: Math.min(...means), runs: means.length * k, blocks: means.length };
}
