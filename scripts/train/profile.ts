/**
 * Profile of one training step (`npm run bench train -- --profile`): timing records filled by optional hooks
 * (engine.ts, grad.ts, optim.ts; absent = no timing work), and pure helpers that average them per phase and
 * group tf.profile() kernel records by kernel name. Formatting only; the bench does the measuring.
 */

/** Inside one gradient computation (grad.ts): forward, backward, reading the gradients back into the flat vector. */
export interface GradTiming {
  forwardMs: number;
  backwardMs: number;
  readMs: number;
}

/** Absolute time (ms since the epoch, sub-ms), comparable across threads. */
export const absNow = (): number => performance.timeOrigin + performance.now();

/** Worker-side times of one profiled step, as the worker sends them; `sentAt` is absolute (absNow). */
export interface WorkerStepTiming extends GradTiming {
  requestMs: number;
  setWeightsMs: number;
  sentAt: number;
}

/** One worker's share of a step, as seen by that worker; absolute times are performance.timeOrigin + now(). */
export interface WorkerTiming extends GradTiming {
  /** main posted the shard -> worker received it. */
  requestMs: number;
  setWeightsMs: number;
  /** worker posted the gradient -> main received it (transfer, not copy, plus event-loop latency). */
  replyMs: number;
}

/** Main-thread view of one engine.compute (worker pool), or of one in-process computation. */
export interface EngineTiming {
  /** Shard slicing + postMessage (worker pool); 0 in-process. */
  postMs: number;
  /** Main thread waiting for the last worker's result (worker pool); the whole computation in-process. */
  waitMs: number;
  /** Summing + averaging the workers' gradients (worker pool); 0 in-process. */
  sumMs: number;
  workers: WorkerTiming[];
}

/** Clipping (norm + scaling), Adam and EMA of optim.ts' adamStep. */
export interface OptimTiming {
  clipMs: number;
  adamMs: number;
  emaMs: number;
}

export interface StepProfile {
  batchMs: number;
  engine: EngineTiming;
  optim: OptimTiming;
  totalMs: number;
}

export interface PhaseRow {
  name: string;
  ms: number;
  /** ms / step total. */
  share: number;
  /** Indented rows run inside the row above them (they do not add to the step). */
  inside: boolean;
}

const mean = (xs: number[]): number => (xs.length ? xs.reduce((s, v) => s + v, 0) / xs.length : 0);

/** Mean per-step phases; the top-level rows (inside = false) sum to the step's total. */
export function phaseRows(steps: StepProfile[]): PhaseRow[] {
  const total = mean(steps.map((s) => s.totalMs));
  const rows: PhaseRow[] = [];
  const add = (name: string, ms: number, inside = false): void => {
    rows.push({ name, ms, share: total > 0 ? ms / total : 0, inside });
  };
  const nw = Math.max(0, ...steps.map((s) => s.engine.workers.length));
  const pool = steps.some((s) => s.engine.postMs > 0 || s.engine.sumMs > 0);
  add('batch drawing + noising (q_sample)', mean(steps.map((s) => s.batchMs)));
  if (pool) add('gradient exchange: shard + post to workers', mean(steps.map((s) => s.engine.postMs)));
  add(pool ? 'gradients: main thread waits for workers' : 'gradients (in-process)', mean(steps.map((s) => s.engine.waitMs)));
  for (let k = 0; k < nw; k++) {
    const w = steps.map((s) => s.engine.workers[k]).filter((x): x is WorkerTiming => x !== undefined);
    const who = pool ? `worker ${k}` : 'main';
    if (pool) add(`${who}: shard arrives (request latency)`, mean(w.map((x) => x.requestMs)), true);
    add(`${who}: set weights`, mean(w.map((x) => x.setWeightsMs)), true);
    add(`${who}: forward`, mean(w.map((x) => x.forwardMs)), true);
    add(`${who}: backward`, mean(w.map((x) => x.backwardMs)), true);
    add(`${who}: gradients to flat vector`, mean(w.map((x) => x.readMs)), true);
    if (pool) add(`${who}: gradient reaches main (reply latency)`, mean(w.map((x) => x.replyMs)), true);
  }
  if (pool) add('gradient exchange: sum + average', mean(steps.map((s) => s.engine.sumMs)));
  add('clipping (norm + scale)', mean(steps.map((s) => s.optim.clipMs)));
  add('Adam', mean(steps.map((s) => s.optim.adamMs)));
  add('EMA', mean(steps.map((s) => s.optim.emaMs)));
  const top = rows.filter((r) => !r.inside).reduce((s, r) => s + r.ms, 0);
  add('other (loop, await, GC)', Math.max(0, total - top));
  add('step total', total);
  return rows;
}

export function formatPhaseTable(rows: PhaseRow[]): string {
  const lines = ['phase                                              ms/step   share'];
  for (const r of rows) {
    const name = (r.inside ? `  ${r.name}` : r.name).padEnd(48);
    lines.push(`${name} ${r.ms.toFixed(1).padStart(9)} ${(100 * r.share).toFixed(1).padStart(6)}%`);
  }
  return lines.join('\n');
}

/** One kernel execution from tf.profile(), tagged with the part of the gradient computation it ran in. */
export interface KernelRecord {
  name: string;
  ms: number;
  phase: 'forward' | 'backward';
}

export interface KernelRow {
  name: string;
  count: number;
  ms: number;
  forwardMs: number;
  backwardMs: number;
  /** ms / sum of all kernels' ms. */
  share: number;
}

/** Group by kernel name, sorted by total ms (descending, ties by name); shares of the sum over all kernels. */
export function groupKernels(records: KernelRecord[]): KernelRow[] {
  const by = new Map<string, KernelRow>();
  let total = 0;
  for (const r of records) {
    let row = by.get(r.name);
    if (!row) {
      row = { name: r.name, count: 0, ms: 0, forwardMs: 0, backwardMs: 0, share: 0 };
      by.set(r.name, row);
    }
    row.count++;
    row.ms += r.ms;
    if (r.phase === 'forward') row.forwardMs += r.ms;
    else row.backwardMs += r.ms;
    total += r.ms;
  }
  const rows = [...by.values()];
  for (const r of rows) r.share = total > 0 ? r.ms / total : 0;
  return rows.sort((a, b) => b.ms - a.ms || a.name.localeCompare(b.name));
}

/** The top `top` kernels, then one line for the rest and the totals. */
export function formatKernelTable(rows: KernelRow[], top = 15): string {
  const lines = ['kernel                      count   total ms  forward ms  backward ms   share'];
  const line = (name: string, count: number, ms: number, f: number, b: number, share: number): string =>
    `${name.slice(0, 26).padEnd(26)} ${String(count).padStart(6)} ${ms.toFixed(1).padStart(10)} ${f.toFixed(1).padStart(11)} ${b.toFixed(1).padStart(12)} ${(100 * share).toFixed(1).padStart(6)}%`;
  for (const r of rows.slice(0, top)) lines.push(line(r.name, r.count, r.ms, r.forwardMs, r.backwardMs, r.share));
  const rest = rows.slice(top);
  const sum = (xs: KernelRow[], f: (r: KernelRow) => number): number => xs.reduce((s, r) => s + f(r), 0);
  if (rest.length > 0) lines.push(line(`(${rest.length} other kernels)`, sum(rest, (r) => r.count), sum(rest, (r) => r.ms), sum(rest, (r) => r.forwardMs), sum(rest, (r) => r.backwardMs), sum(rest, (r) => r.share)));
  lines.push(line('all kernels', sum(rows, (r) => r.count), sum(rows, (r) => r.ms), sum(rows, (r) => r.forwardMs), sum(rows, (r) => r.backwardMs), rows.length ? 1 : 0));
  return lines.join('\n');
}
