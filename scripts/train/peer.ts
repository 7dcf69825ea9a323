/**
 * The PyTorch CPU peer of `npm run bench train` (issue #21): peer/unet_torch.py builds the same U-Net from the
 * run's UNetConfig and times the same training step (q_sample, eps MSE, backward, clipping, Adam, EMA) in plain
 * PyTorch, so the benchmark can print ours / PyTorch on the same cores. Optional at run time: without a Python
 * that imports torch the benchmark prints PEER_SKIPPED and goes on. Never run by `npm test`.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { UNetConfig } from '../model/config.ts';
import { median } from '../bench/timing.ts';
import { medianInterval, type Interval } from '../eval/intervals.ts';

export const PEER_SCRIPT = fileURLToPath(new URL('./peer/unet_torch.py', import.meta.url));
export const PEER_SKIPPED = 'PyTorch peer skipped: no python with torch (apt-get install -y python3-torch, or set DDPM_PYTORCH_PYTHON)';

export interface PeerResult {
  params: number;
  msPerStep: number;
  imagesPerSec: number;
  threads: number;
  torch: string;
}

/** Interpreters to probe, in order: $DDPM_PYTORCH_PYTHON, Debian's /usr/bin/python3 (python3-torch), then python3 on PATH. */
export function pythonCandidates(env: Record<string, string | undefined> = process.env): string[] {
  const list = [env.DDPM_PYTORCH_PYTHON?.trim(), '/usr/bin/python3', 'python3'].filter((p): p is string => !!p);
  return [...new Set(list)];
}

/** The torch version a probe printed (`import torch; print(torch.__version__)`), or null if it failed. */
export function parseProbe(status: number | null, stdout: string): string | null {
  if (status !== 0) return null;
  const v = stdout.trim().split('\n').pop()?.trim() ?? '';
  return /^\d+\.\d+/.test(v) ? v : null;
}

/** The first candidate whose `-c "import torch"` works, with its torch version; null when none does. */
export function findTorchPython(candidates = pythonCandidates()): { python: string; torch: string } | null {
  for (const python of candidates) {
    const r = spawnSync(python, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8', timeout: 60_000 });
    const torch = r.error ? null : parseProbe(r.status, r.stdout ?? '');
    if (torch) return { python, torch };
  }
  return null;
}

/** The peer's result from its stdout: the last line that is a JSON object with params and msPerStep. */
export function parsePeerOutput(stdout: string): PeerResult {
  for (const line of stdout.trim().split('\n').reverse()) {
    try {
      const j = JSON.parse(line) as Partial<PeerResult>;
      if (typeof j.params === 'number' && typeof j.msPerStep === 'number' && j.msPerStep > 0) {
        return { params: j.params, msPerStep: j.msPerStep, imagesPerSec: Number(j.imagesPerSec), threads: Number(j.threads), torch: String(j.torch) };
      }
    } catch {
      // not the result line
    }
  }
  throw new Error(`PyTorch peer printed no result line (stdout: ${JSON.stringify(stdout.slice(-200))})`);
}

/** Runs the peer for one cell; rejects with a clear message on a non-zero exit or after timeoutMs (the child is killed). */
export function runPeer(
  python: string,
  cfg: UNetConfig,
  o: { batch: number; steps: number; warmup: number; threads: number; timeoutMs: number },
): Promise<PeerResult> {
  const args = [PEER_SCRIPT, JSON.stringify(cfg), '--batch', String(o.batch), '--steps', String(o.steps), '--warmup', String(o.warmup), '--threads', String(o.threads)];
  return new Promise((resolve, reject) => {
    const child = spawn(python, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, o.timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`PyTorch peer could not start (${python}): ${e.message}`));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (timedOut) return reject(new Error(`PyTorch peer killed after ${(o.timeoutMs / 1000).toFixed(0)} s (raise --pytorch-timeout or lower --steps)`));
      if (code !== 0) return reject(new Error(`PyTorch peer exited with ${code}: ${err.trim().split('\n').slice(-3).join(' | ')}`));
      try {
        resolve(parsePeerOutput(out));
      } catch (e) {
        reject(e as Error);
      }
    });
  });
}

/** The peer model's parameter count for a config (builds it, no training): the parity check of the test suite. */
export function peerParamCount(python: string, cfg: UNetConfig): number {
  const r = spawnSync(python, [PEER_SCRIPT, JSON.stringify(cfg), '--params-only'], { encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) throw new Error(`PyTorch peer --params-only failed (${r.status}): ${(r.stderr ?? '').slice(-300)}`);
  const j = JSON.parse((r.stdout ?? '').trim().split('\n').pop() ?? '') as { params: number };
  return j.params;
}

export interface PeerRow {
  backend: string;
  model: string;
  batch: number;
  params: number;
  peerParams: number;
  imagesPerSec: number;
  peerImagesPerSec: number;
}

/** ours / PyTorch images per second (> 1: we are faster; the issue asks for >= 0.5). */
export function speedRatio(ours: number, peer: number): number {
  return peer > 0 ? ours / peer : NaN;
}

/**
 * With --repeats: ours and the peer were timed alternately, n pairs per cell. One line per cell with the median
 * ratio of the pairs and their range: a machine shared with other work moves both sides of a pair alike, so the
 * pairs' ratios spread far less than either side's images per second.
 */
export function formatPeerSummary(rows: PeerRow[]): string {
  const cells = new Map<string, PeerRow[]>();
  for (const r of rows) {
    const key = `${r.backend}/${r.model}/${r.batch}`;
    cells.set(key, [...(cells.get(key) ?? []), r]);
  }
  const lines = ['ours / PyTorch over alternating pairs (median [min, max]):', 'backend        model  batch  pairs  ours img/s  torch img/s  ours/torch'];
  for (const group of cells.values()) {
    const ratios = group.map((r) => speedRatio(r.imagesPerSec, r.peerImagesPerSec));
    const { backend, model, batch } = group[0];
    lines.push(
      `${backend.padEnd(14)} ${model.padEnd(6)} ${String(batch).padStart(5)} ${String(group.length).padStart(6)} ${median(group.map((r) => r.imagesPerSec)).toFixed(1).padStart(11)} ${median(group.map((r) => r.peerImagesPerSec)).toFixed(1).padStart(12)}  ${median(ratios).toFixed(2)} [${Math.min(...ratios).toFixed(2)}, ${Math.max(...ratios).toFixed(2)}]`,
    );
  }
  return lines.join('\n');
}

/** The comparison table printed after the benchmark's own table. */
export function formatPeerTable(rows: PeerRow[], threads: number, torch: string): string {
  const lines = [
    `PyTorch ${torch} peer (plain PyTorch, ${threads} threads; same config, batch, step):`,
    'backend        model  batch  params(ours)  params(torch)  ours img/s  torch img/s  ours/torch',
  ];
  for (const r of rows) {
    const same = r.params === r.peerParams ? '' : '  PARAM MISMATCH';
    lines.push(
      `${r.backend.padEnd(14)} ${r.model.padEnd(6)} ${String(r.batch).padStart(5)} ${String(r.params).padStart(13)} ${String(r.peerParams).padStart(14)} ${r.imagesPerSec.toFixed(1).padStart(11)} ${r.peerImagesPerSec.toFixed(1).padStart(12)} ${speedRatio(r.imagesPerSec, r.peerImagesPerSec).toFixed(2).padStart(11)}${same}`,
    );
  }
  return lines.join('\n');
}

/**
 * The peer kept running between blocks of steps (`unet_torch.py --serve`, for bench:train --interleave): the
 * model, optimizer and allocator stay warm, so ours and the peer can alternate short blocks in one run and both
 * sides of a pair see the same minute of the machine. Each request ("run N") answers with the N steps' times;
 * a peer that exits, prints an error or goes silent for `timeoutMs` rejects the request with what it said.
 */
export class PeerServer {
  private buffered = '';
  private stderr = '';
  private waiting: { resolve: (line: string) => void; reject: (e: Error) => void } | null = null;
  private exited: string | null = null;
  private readonly lines: string[] = [];

  private constructor(
    private readonly child: ChildProcessWithoutNullStreams,
    private readonly timeoutMs: number,
  ) {
    child.stdout.on('data', (d: Buffer) => {
      this.buffered += d.toString();
      let nl: number;
      while ((nl = this.buffered.indexOf('\n')) >= 0) {
        const line = this.buffered.slice(0, nl).trim();
        this.buffered = this.buffered.slice(nl + 1);
        if (line.startsWith('{')) this.deliver(line);
      }
    });
    child.stderr.on('data', (d: Buffer) => (this.stderr = (this.stderr + d.toString()).slice(-2000)));
    // a request written after the peer died fails with EPIPE here; 'close' reports the exit with its stderr
    child.stdin.on('error', () => undefined);
    child.on('error', (e) => this.fail(`could not start: ${e.message}`));
    child.on('close', (code, signal) => this.fail(`exited with ${code ?? signal}: ${this.stderr.trim().split('\n').slice(-3).join(' | ') || '(no stderr)'}`));
  }

  /** Starts the peer for one cell and waits for its warm-up to end ({"ready": true, ...}). */
  static async start(python: string, cfg: UNetConfig, o: { batch: number; warmup: number; threads: number; timeoutMs: number }): Promise<{ server: PeerServer; params: number; threads: number; torch: string }> {
    const args = [PEER_SCRIPT, JSON.stringify(cfg), '--batch', String(o.batch), '--warmup', String(o.warmup), '--threads', String(o.threads), '--serve'];
    const server = new PeerServer(spawn(python, args, { stdio: ['pipe', 'pipe', 'pipe'] }), o.timeoutMs);
    try {
      const ready = JSON.parse(await server.next()) as { ready?: boolean; params?: number; threads?: number; torch?: string };
      if (ready.ready !== true || typeof ready.params !== 'number') throw new Error(`PyTorch peer did not report ready: ${JSON.stringify(ready)}`);
      return { server, params: ready.params, threads: Number(ready.threads), torch: String(ready.torch) };
    } catch (e) {
      server.close();
      throw e;
    }
  }

  /** Runs n steps in the peer; resolves with each step's milliseconds. */
  async run(n: number): Promise<number[]> {
    this.child.stdin.write(`run ${n}\n`);
    const reply = JSON.parse(await this.next()) as { stepMs?: number[]; error?: string };
    if (reply.error) throw new Error(`PyTorch peer: ${reply.error}`);
    if (!Array.isArray(reply.stepMs) || reply.stepMs.length !== n || !reply.stepMs.every((v) => Number.isFinite(v) && v > 0)) {
      throw new Error(`PyTorch peer answered "run ${n}" with ${JSON.stringify(reply).slice(0, 200)}`);
    }
    return reply.stepMs;
  }

  /** Asks the peer to quit (and kills it if it is still there a second later). */
  close(): void {
    if (this.exited !== null) return;
    this.child.stdin.end('quit\n');
    setTimeout(() => this.exited === null && this.child.kill('SIGKILL'), 1000).unref();
  }

  private deliver(line: string): void {
    if (this.waiting) {
      const w = this.waiting;
      this.waiting = null;
      w.resolve(line);
    } else this.lines.push(line);
  }

  private fail(why: string): void {
    if (this.exited !== null) return;
    this.exited = why;
    if (this.waiting) {
      const w = this.waiting;
      this.waiting = null;
      w.reject(new Error(`PyTorch peer ${why}`));
    }
  }

  private next(): Promise<string> {
    const line = this.lines.shift();
    if (line !== undefined) return Promise.resolve(line);
    if (this.exited !== null) return Promise.reject(new Error(`PyTorch peer ${this.exited}`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting = null;
        this.child.kill('SIGKILL');
        reject(new Error(`PyTorch peer silent for ${(this.timeoutMs / 1000).toFixed(0)} s (raise --pytorch-timeout or lower --steps)`));
      }, this.timeoutMs);
      this.waiting = {
        resolve: (l) => (clearTimeout(timer), resolve(l)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      };
    });
  }
}

/** The issue's target: ours at least half of the peer's images per second. */
export const PEER_TARGET = 0.5;

/** One round of bench:train --interleave: a block of ours and a block of the peer, back to back (per-step ms). */
export interface InterleaveRound {
  oursFirst: boolean;
  oursMs: number[];
  peerMs: number[];
  /** CPU time (all threads) our process used while the peer's block ran: what it took from the peer (idle: ~0). */
  oursCpuDuringPeerMs?: number;
}

export interface InterleaveSummary {
  rounds: number;
  stepsPerBlock: number;
  /** Over all rounds: images / time. */
  oursImagesPerSec: number;
  peerImagesPerSec: number;
  /** Median over rounds of ours / peer images per second, and its distribution-free 95% interval. */
  ratio: number;
  interval: Interval;
  coverage: number;
  verdict: string;
  /** Our process's CPU time while the peer's blocks ran, over the blocks' wall time (one core = 1; null if not recorded). */
  oursCpuInPeerBlocks: number | null;
}

/** Who goes first in round r: ours, peer, peer, ours, ... (ABBA), so neither side always follows the other. */
export function oursFirstInRound(r: number): boolean {
  return r % 4 === 0 || r % 4 === 3;
}

/**
 * The rounds' ratios (ours / peer images per second within a round: mean peer step / mean ours step), their median
 * and its 95% interval (medianInterval: needs at least 6 rounds), and the verdict against `target`: met only when
 * the whole interval is at or above it, not met when it is below, otherwise not resolved.
 */
export function summarizeInterleave(rounds: readonly InterleaveRound[], batch: number, target = PEER_TARGET): InterleaveSummary {
  const sum = (a: readonly number[]): number => a.reduce((x, y) => x + y, 0);
  const ratios = rounds.map((r) => sum(r.peerMs) / r.peerMs.length / (sum(r.oursMs) / r.oursMs.length));
  const { median, interval, coverage } = medianInterval(ratios);
  const oursSteps = sum(rounds.map((r) => r.oursMs.length));
  const peerSteps = sum(rounds.map((r) => r.peerMs.length));
  const verdict =
    interval[0] >= target
      ? `met: the interval is at or above ${target}`
      : interval[1] < target
        ? `not met: the interval is below ${target}`
        : `not resolved: the interval holds ${target}`;
  const recorded = rounds.filter((r) => r.oursCpuDuringPeerMs !== undefined);
  const oursCpuInPeerBlocks = recorded.length > 0 ? sum(recorded.map((r) => r.oursCpuDuringPeerMs!)) / sum(recorded.flatMap((r) => r.peerMs)) : null;
  return {
    oursCpuInPeerBlocks,
    rounds: rounds.length,
    stepsPerBlock: rounds[0]?.oursMs.length ?? 0,
    oursImagesPerSec: (batch * oursSteps * 1000) / sum(rounds.flatMap((r) => r.oursMs)),
    peerImagesPerSec: (batch * peerSteps * 1000) / sum(rounds.flatMap((r) => r.peerMs)),
    ratio: median,
    interval,
    coverage,
    verdict,
  };
}

/** The table printed after an --interleave run: one line per cell. */
export function formatInterleaveTable(rows: readonly { backend: string; model: string; batch: number; summary: InterleaveSummary }[], threads: number, torch: string): string {
  const lines = [
    `ours / PyTorch ${torch} (${threads} threads), interleaved: blocks of steps alternating ours, peer, peer, ours, ... in one run;`,
    `ratio = median over rounds of ours / PyTorch images per second within the round, [distribution-free 95% interval]; target ${PEER_TARGET}`,
    'backend        model  batch  rounds x steps  ours img/s  torch img/s  ours/torch [95%]      ours CPU in torch blocks  verdict',
  ];
  for (const { backend, model, batch, summary: s } of rows) {
    lines.push(
      `${backend.padEnd(14)} ${model.padEnd(6)} ${String(batch).padStart(5)}  ${`${s.rounds} x ${s.stepsPerBlock}`.padStart(14)} ${s.oursImagesPerSec.toFixed(1).padStart(11)} ${s.peerImagesPerSec.toFixed(1).padStart(12)}  ${`${s.ratio.toFixed(3)} [${s.interval[0].toFixed(3)}, ${s.interval[1].toFixed(3)}]`.padEnd(21)} ${(s.oursCpuInPeerBlocks === null ? '-' : `${(100 * s.oursCpuInPeerBlocks).toFixed(1)}% of a core`).padStart(24)}  ${s.verdict}`,
    );
  }
  return lines.join('\n');
}
