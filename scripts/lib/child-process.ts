/** Helpers for local servers that scripts and tests start (wrangler dev): a free loopback port, a start, a clean stop. */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Resolves when the child has exited (at once if it already has). */
export function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((resolve) => child.once('exit', () => resolve()));
}

/** SIGTERM to the child's process group (spawned with detached: true), SIGKILL after `graceMs`; waits for the exit. */
export async function stopProcessGroup(child: ChildProcess, graceMs = 5000): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const kill = (signal: NodeJS.Signals) => {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, signal);
    } catch {
      // already gone
    }
  };
  kill('SIGTERM');
  const timer = setTimeout(() => kill('SIGKILL'), graceMs);
  await exited(child);
  clearTimeout(timer);
}

export interface WranglerDev {
  /** http://127.0.0.1:<port> */
  base: string;
  /** wrangler's last output (for failure messages): requests with status and time, reloads, errors. */
  log(): string;
  /** Ends wrangler and workerd (the whole process group), then runs `cleanup`. */
  stop(): Promise<void>;
  /** SIGKILL to the whole process group at once (a crash: no graceful shutdown), then waits for the exit. */
  kill(): Promise<void>;
  /** The process group (wrangler's pid): its workerd is found with `ps -g`. */
  pgid: number;
}

export interface WranglerDevOptions {
  /** The folder wrangler runs in (its wrangler.toml unless `config` names another). */
  cwd: string;
  config?: string;
  /** Local state (R2, Cache API, queues): `--persist-to`. */
  stateDir: string;
  logLevel: 'log' | 'warn';
  /** A path on the worker that answers 200 without loading a model: readiness without warming onnxruntime. */
  readyPath: string;
  timeoutMs: number;
  /** Characters of output kept for log(). */
  keepOutput?: number;
  /** Runs after the process group has ended (e.g. removing the state folder). */
  cleanup?: () => void;
  /** Kill the group with SIGKILL if this process exits without stop(). */
  killOnExit?: boolean;
  /** More arguments for `wrangler dev` (e.g. `--var NAME:value`). */
  extraArgs?: readonly string[];
}

/**
 * `wrangler dev --local` on a free loopback port in its own process group, with metrics off and no interactive
 * session; resolves once `readyPath` answers 200, or stops it and throws with wrangler's output.
 */
export async function startWranglerDev(o: WranglerDevOptions): Promise<WranglerDev> {
  const port = await freePort();
  const wrangler = join(import.meta.dirname, '../../node_modules/wrangler/bin/wrangler.js');
  const args = [wrangler, 'dev', '--local', ...(o.config ? ['--config', o.config] : []), '--ip', '127.0.0.1', '--port', String(port)];
  args.push('--persist-to', o.stateDir, '--show-interactive-dev-session=false', '--log-level', o.logLevel, ...(o.extraArgs ?? []));
  const child = spawn(process.execPath, args, {
    cwd: o.cwd,
    detached: true, // its own process group: stop() ends wrangler and workerd together
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CI: process.env.CI ?? '1' },
  });
  const keep = o.keepOutput ?? 16_000;
  let output = '';
  const collect = (chunk: Buffer): void => {
    output = (output + chunk.toString()).slice(-keep);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const onExit = (): void => {
    try {
      if (child.pid !== undefined && child.exitCode === null) process.kill(-child.pid, 'SIGKILL');
    } catch {
      // gone
    }
  };
  if (o.killOnExit) process.once('exit', onExit);

  async function stop(): Promise<void> {
    process.removeListener('exit', onExit);
    await stopProcessGroup(child);
    o.cleanup?.();
  }

  async function kill(): Promise<void> {
    process.removeListener('exit', onExit);
    onExit();
    await exited(child);
  }

  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + o.timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) break;
    try {
      const res = await fetch(`${base}${o.readyPath}`, { signal: AbortSignal.timeout(2000) });
      if (res.ok) return { base, log: () => output, stop, kill, pgid: child.pid ?? 0 };
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  await stop();
  throw new Error(`wrangler dev (${o.cwd}${o.config ? `, ${o.config}` : ''}) did not become ready within ${o.timeoutMs} ms (exit ${child.exitCode}):\n${output}`);
}
