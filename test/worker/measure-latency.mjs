// Measures request latency of the worker under `wrangler dev` (local workerd) on this machine:
//   node test/worker/measure-latency.mjs [--runs 3]
// Each run starts a fresh `wrangler dev` with empty local state (R2, Cache API) in a temp dir, so the first
// request is cold (isolate start, onnxruntime-web init, session creation, sampling). Prints a Markdown table
// of wall-clock latency and of the CPU time workerd spent per request (utime + stime from /proc, all its
// threads, 10 ms resolution): the CPU figure is what Workers' CPU limit counts and is less sensitive to other
// load on the machine than the wall clock.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const runs = Number(process.argv[process.argv.indexOf('--runs') + 1]) || 3;
const port = 8791;
const base = `http://127.0.0.1:${port}`;

let devPid = 0;

function procStat(pid) {
  const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { ppid: Number(fields[1]), cpuTicks: Number(fields[11]) + Number(fields[12]) };
}

/** The workerd processes under `root` (wrangler runs two: a proxy and the runtime of the worker). */
function findWorkerd(root) {
  const children = new Map();
  for (const name of readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(name)) continue;
    try {
      const { ppid } = procStat(Number(name));
      children.set(ppid, [...(children.get(ppid) ?? []), Number(name)]);
    } catch {
      // gone
    }
  }
  const found = [];
  const queue = [root];
  while (queue.length > 0) {
    const pid = queue.shift();
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('workerd')) found.push(pid);
    } catch {
      // gone
    }
    queue.push(...(children.get(pid) ?? []));
  }
  if (found.length === 0) throw new Error('workerd not found');
  return found;
}

/** CPU ms of all workerd processes of the dev server so far (USER_HZ = 100). */
const cpuMs = () => findWorkerd(devPid).reduce((sum, pid) => sum + (procStat(pid).cpuTicks * 1000) / 100, 0);

async function timed(path, headers = {}) {
  const c0 = cpuMs();
  const t0 = performance.now();
  const res = await fetch(base + path, { headers, signal: AbortSignal.timeout(300_000) });
  const body = new Uint8Array(await res.arrayBuffer());
  const ms = performance.now() - t0;
  const cpu = cpuMs() - c0;
  if (res.status !== 200 && res.status !== 304) throw new Error(`${path}: ${res.status} ${new TextDecoder().decode(body)}`);
  return { ms, cpu, res };
}

/** Resolves when wrangler prints "Ready on" (no request yet: the first one measured is cold). */
function waitReady(dev) {
  return new Promise((resolve, reject) => {
    let log = '';
    const timer = setTimeout(() => reject(new Error(`wrangler dev did not start:\n${log}`)), 180_000);
    dev.stdout.on('data', (chunk) => {
      log += chunk;
      if (log.includes('Ready on')) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const rows = new Map();
const record = (name, { ms, cpu }) => rows.set(name, [...(rows.get(name) ?? []), { ms, cpu }]);
let heap = 0;

for (let run = 0; run < runs; run++) {
  const state = mkdtempSync(join(tmpdir(), 'ddpm-edge-latency-'));
  const dev = spawn('npx', ['wrangler', 'dev', '--port', String(port), '--persist-to', state], {
    stdio: ['ignore', 'pipe', 'ignore'],
    detached: true,
  });
  try {
    await waitReady(dev);
    devPid = dev.pid;
    await new Promise((r) => setTimeout(r, 2000)); // let workerd settle
    record('cold: first request, a sample (default: dpmpp2m, 20 steps)', await timed(`/v1/samples/${run}.png`));
    for (let i = 0; i < 5; i++) record('warm miss: sample, 20 steps', await timed(`/v1/samples/${100 + run * 10 + i}.png`));
    for (let i = 0; i < 3; i++) record('warm miss: grid n=16, 20 steps', await timed(`/v1/grids/${200 + run * 10 + i}.png?n=16`));
    for (let i = 0; i < 2; i++) {
      const result = await timed(`/v1/grids/${300 + run * 10 + i}.png?n=16&steps=32&class=1&guidance=3`);
      record('warm miss: grid n=16, 32 steps, guidance (largest allowed: 1024 image-steps)', result);
      heap = Math.max(heap, Number(result.res.headers.get('x-wasm-heap-bytes')));
    }
    for (let i = 0; i < 5; i++) record('hit (Cache API): same grid again', await timed(`/v1/grids/${200 + run * 10}.png?n=16`));
    const { res } = await timed(`/v1/grids/${200 + run * 10}.png?n=16`);
    for (let i = 0; i < 5; i++) {
      record('304: If-None-Match', await timed(`/v1/grids/${200 + run * 10}.png?n=16`, { 'if-none-match': res.headers.get('etag') }));
    }
  } finally {
    process.kill(-dev.pid, 'SIGTERM');
    await new Promise((r) => setTimeout(r, 1500));
    rmSync(state, { recursive: true, force: true });
  }
}

console.log(`| request | wall ms, median (min-max) | workerd CPU ms, median (min-max) | n |`);
console.log(`|---|---|---|---|`);
const span = (xs) => `${median(xs).toFixed(0)} (${Math.min(...xs).toFixed(0)}-${Math.max(...xs).toFixed(0)})`;
for (const [name, xs] of rows) {
  console.log(`| ${name} | ${span(xs.map((x) => x.ms))} | ${span(xs.map((x) => x.cpu))} | ${xs.length} |`);
}
console.log(`\nload average at the end: ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')} on ${(await import('node:os')).availableParallelism()} cores`);
console.log(`\nwasm heap (x-wasm-heap-bytes, max over runs): ${(heap / 2 ** 20).toFixed(1)} MiB`);
