/**
 * Where a forward's time goes: onnxruntime-web's own profiler (Node, one thread, as served), kernels grouped
 * by op type. Kernel count and time per forward are averaged over the profiled runs (the first is dropped:
 * it allocates). Profiling inflates absolute times; the shares and counts are what to read.
 */
import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));

export interface OpShare {
  op: string;
  /** Kernels of this op per forward. */
  kernels: number;
  /** Profiled kernel time per forward, ms. */
  ms: number;
}

export interface KernelProfile {
  /** Kernels per forward, all ops. */
  kernels: number;
  /** Sum of kernel times per forward (ms, profiled). */
  kernelMs: number;
  /** Wall time of a profiled forward (model_run events, ms). */
  runMs: number;
  ops: OpShare[];
}

interface ProfileEvent {
  cat: string;
  name: string;
  dur: number;
  args?: { op_name?: string };
}

/** Aggregates onnxruntime's profile events (chrome trace JSON) over `runs` forwards. */
export function summarizeProfile(events: readonly ProfileEvent[], skipFirst = true): KernelProfile {
  const runs = events.filter((e) => e.cat === 'Session' && e.name === 'model_run');
  const kernels = events.filter((e) => e.cat === 'Node' && e.name.endsWith('_kernel_time'));
  if (runs.length === 0) throw new Error('the profile holds no model_run event');
  const perRun = kernels.length / runs.length;
  const used = skipFirst && runs.length > 1 ? kernels.slice(perRun) : kernels;
  const usedRuns = skipFirst && runs.length > 1 ? runs.slice(1) : runs;
  const n = usedRuns.length;
  const byOp = new Map<string, { kernels: number; us: number }>();
  for (const e of used) {
    const op = e.args?.op_name ?? '?';
    const s = byOp.get(op) ?? { kernels: 0, us: 0 };
    s.kernels += 1;
    s.us += e.dur;
    byOp.set(op, s);
  }
  const ops = [...byOp].map(([op, s]) => ({ op, kernels: s.kernels / n, ms: s.us / n / 1000 })).sort((a, b) => b.ms - a.ms);
  return {
    kernels: used.length / n,
    kernelMs: ops.reduce((a, o) => a + o.ms, 0),
    runMs: usedRuns.reduce((a, e) => a + e.dur, 0) / n / 1000,
    ops,
  };
}

/** Runs the child with its stdout going to `outFile` (not a pipe: with a pipe read by a busy parent, children stalled). */
function runChild(args: string[], outFile: string, timeoutMs: number): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const fd = openSync(outFile, 'w');
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(HERE, 'profile-child.ts'), ...args], { stdio: ['ignore', fd, 'pipe'] });
    closeSync(fd);
    let err = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(readFileSync(outFile, 'utf8'));
      else reject(new Error(`profile child ${signal === 'SIGKILL' ? `killed after ${timeoutMs / 1000} s` : `exited ${code}`}: ${err.slice(-2000)}`));
    });
  });
}

/**
 * Profiles `onnx` (bytes) of the model in `modelDir` at one batch size, in a child process, loaded as the app
 * loads it (`preOptimized`: a graph the exporter saved optimized, onnxruntime-web's optimizers off). On a busy machine
 * a child is killed after `timeoutMs` and tried again once.
 */
export async function profileGraph(
  modelDir: string,
  onnx: Uint8Array,
  batch: number,
  opts: { warmup?: number; runs?: number; timeoutMs?: number; log?: (line: string) => void; preOptimized?: boolean } = {},
): Promise<KernelProfile> {
  const tmp = mkdtempSync(path.join(tmpdir(), 'ddpm-profile-'));
  const file = path.join(tmp, 'graph.onnx');
  writeFileSync(file, onnx);
  try {
    const args = [modelDir, file, String(batch), String(opts.warmup ?? 100), String(opts.runs ?? 21), opts.preOptimized ? 'pre-optimized' : 'optimize'];
    const timeoutMs = opts.timeoutMs ?? 180_000;
    let stdout: string;
    try {
      stdout = await runChild(args, path.join(tmp, 'profile.out'), timeoutMs);
    } catch (e) {
      opts.log?.(`profile: ${(e as Error).message.split('\n')[0]}; trying once more`);
      stdout = await runChild(args, path.join(tmp, 'profile.out'), timeoutMs);
    }
    const events: ProfileEvent[] = [];
    for (const line of stdout.split('\n')) {
      const s = line.trim().replace(/,$/, '');
      if (!s.startsWith('{"cat"')) continue;
      events.push(JSON.parse(s) as ProfileEvent);
    }
    return summarizeProfile(events);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
