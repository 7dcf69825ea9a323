/**
 * `npm run bench batches -- <what>`: the batch path under `wrangler dev --local` (issue 15), loopback only.
 *
 *   npm run bench batches -- faults --batches 6          # kills and restarts at random points; lost / duplicated / stuck
 *   npm run bench batches -- soak --minutes 10           # mixed GET and batch load; errors; workerd RSS start/middle/end
 *   npm run bench batches -- latency --ref 852439e       # a cheap request's latency during a long stream (before/after)
 *   npm run bench batches -- <what> --help
 *
 * Each serves a copy of the worker (bench-results/snapshots/), so edits during a run change nothing, with the
 * local development secrets of .dev.vars.example, and writes its result as JSON to bench-results/batches-<what>-<time>.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { ROOT } from '../models.ts';
import { runFaults } from './faults.ts';
import { runLatency } from './latency.ts';
import { runSoak } from './soak.ts';
import { positiveInt } from '../../lib/cli-options.ts';

const log = (line: string): void => console.error(`[bench:batches] ${line}`);

function save(what: string, result: unknown): void {
  const dir = join(ROOT, 'bench-results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `batches-${what}-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, JSON.stringify(result, null, 2) + '\n');
  console.log(JSON.stringify(result, null, 2));
  log(`written ${file}`);
}

const program = new Command().name('bench:batches').description('The batch path under wrangler dev: fault run, soak, head-of-line latency (loopback only)');

program
  .command('faults')
  .description('signed batches; the dev server killed (SIGKILL) and restarted at a random point of each; checks every image and callback')
  .option('--batches <n>', 'batches (one kill and restart each)', positiveInt, 6)
  .option('--seed <n>', 'seed of the batch sizes and kill points', positiveInt, 1)
  .option('--settle-seconds <n>', 'time for every job to end after the last restart', positiveInt, 240)
  .action(async (o: { batches: number; seed: number; settleSeconds: number }) => {
    if (o.batches > 20) throw new InvalidArgumentError('at most 20 batches');
    save('faults', await runFaults({ ...o, log }));
  });

program
  .command('soak')
  .description('mixed GET and batch load for a fixed time; errors, batches and workerd RSS over time')
  .option('--minutes <n>', 'duration (at most 60)', positiveInt, 10)
  .option('--connections <n>', 'concurrent GET loops', positiveInt, 3)
  .option('--batch-every <s>', 'seconds between batch posts', positiveInt, 20)
  .action(async (o: { minutes: number; connections: number; batchEvery: number }) => {
    if (o.minutes > 60) throw new InvalidArgumentError('at most 60 minutes');
    save('soak', await runSoak({ minutes: o.minutes, connections: o.connections, batchEverySeconds: o.batchEvery, log }));
  });

program
  .command('latency')
  .description("a cheap request's latency (a 400) idle and while one long stream renders")
  .option('--ref <commit>', 'serve this commit instead of the working tree (before/after)')
  .option('--steps <n>', 'steps of the long stream', positiveInt, 999)
  .action(async (o: { ref?: string; steps: number }) => {
    save('latency', await runLatency({ ...o, log }));
  });

await program.parseAsync();
