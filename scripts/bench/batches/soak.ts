/**
 * The batch soak: mixed GET and batch load on `wrangler dev` for a fixed time (loopback only), counting every
 * answer that is not the expected one as an error, and sampling workerd's resident memory (start, middle, end).
 */
import { getJob, postBatch, sleep, snapshot, startDev, stateDirFor, workerdRss } from './dev.ts';

export interface SoakOptions {
  minutes: number;
  /** Concurrent GET loops. */
  connections: number;
  /** Seconds between batch posts. */
  batchEverySeconds: number;
  log: (line: string) => void;
}

export interface SoakResult {
  seconds: number;
  requests: number;
  byKind: Record<string, number>;
  errors: number;
  errorSamples: string[];
  batches: number;
  batchesSucceeded: number;
  batchesStuck: number;
  rss: { atSeconds: number; mib: number }[];
}

interface Probe {
  kind: string;
  path: string;
  want: number;
}

/** Cheap and expensive GETs: misses and hits of small renders, a grid, a long stream, models, OpenAPI, a 400, a 404. */
function probe(i: number, jobs: readonly string[]): Probe {
  const seed = i % 40; // a small seed range: hits after the first round
  switch (i % 8) {
    case 0:
      return { kind: 'sample', path: `/v1/samples/${seed}.png?model=fmnist-small&steps=6`, want: 200 };
    case 1:
      return { kind: 'sample-default', path: `/v1/samples/${seed}.png?class=${seed % 10}`, want: 200 };
    case 2:
      return { kind: 'grid', path: `/v1/grids/${seed}.png?model=fmnist-small&steps=4&n=4`, want: 200 };
    case 3:
      return { kind: 'models', path: '/v1/models', want: 200 };
    case 4:
      return { kind: 'bad-request', path: `/v1/samples/${seed}.png?steps=0`, want: 400 };
    case 5:
      return { kind: 'status', path: jobs.length ? `/v1/batches/${jobs[i % jobs.length]}` : '/v1/models', want: 200 };
    case 6:
      return { kind: 'not-found', path: `/v1/batches/${'f'.repeat(32)}`, want: 404 };
    default:
      // now and then a long render in the same isolate as the chunks: a 300-step stream
      return i % 16 === 7 ? { kind: 'stream', path: `/v1/samples/${seed}/stream?model=fmnist-tiny&steps=300`, want: 200 } : { kind: 'openapi', path: '/openapi.json', want: 200 };
  }
}

export async function runSoak(o: SoakOptions): Promise<SoakResult> {
  const root = snapshot('soak');
  const dev = await startDev({ root, stateDir: stateDirFor('soak'), fresh: true, vars: {} });
  const started = Date.now();
  const endAt = started + o.minutes * 60_000;
  const result: SoakResult = { seconds: 0, requests: 0, byKind: {}, errors: 0, errorSamples: [], batches: 0, batchesSucceeded: 0, batchesStuck: 0, rss: [] };
  const jobs: string[] = [];
  const error = (what: string): void => {
    result.errors += 1;
    if (result.errorSamples.length < 10) result.errorSamples.push(what);
    o.log(`ERROR ${what}`);
  };
  const sampleRss = (): void => {
    const mib = workerdRss(dev) / 2 ** 20;
    result.rss.push({ atSeconds: Math.round((Date.now() - started) / 1000), mib: Math.round(mib * 10) / 10 });
    o.log(`t=${Math.round((Date.now() - started) / 1000)} s: workerd RSS ${mib.toFixed(1)} MiB, ${result.requests} requests, ${result.errors} errors, ${jobs.length} batches`);
  };
  try {
    sampleRss();
    let counter = 0;
    const getLoop = async (): Promise<void> => {
      while (Date.now() < endAt) {
        const p = probe(counter++, jobs);
        try {
          const res = await fetch(dev.base + p.path, { signal: AbortSignal.timeout(60_000) });
          await res.arrayBuffer();
          result.requests += 1;
          result.byKind[p.kind] = (result.byKind[p.kind] ?? 0) + 1;
          if (res.status !== p.want) error(`${p.path}: ${res.status} (want ${p.want})`);
        } catch (e) {
          error(`${p.path}: ${String(e)}`);
        }
      }
    };
    const batchLoop = async (): Promise<void> => {
      let i = 0;
      while (Date.now() < endAt - 60_000) {
        const how = i % 2 === 0 ? 'webhook' : 'api-key';
        try {
          const res = await postBatch(dev.base, { count: 6 + (i % 4) * 2, model: i % 3 === 0 ? undefined : 'fmnist-small', steps: 8, classes: [i % 10, (i + 3) % 10] }, how, `soak_${started}_${i}`);
          const body = (await res.json()) as { id: string };
          result.requests += 1;
          result.byKind.batch = (result.byKind.batch ?? 0) + 1;
          if (res.status !== 202) error(`POST /v1/batches: ${res.status}`);
          else jobs.push(body.id);
        } catch (e) {
          error(`POST /v1/batches: ${String(e)}`);
        }
        i += 1;
        await sleep(o.batchEverySeconds * 1000);
      }
    };
    const rssLoop = async (): Promise<void> => {
      while (Date.now() < endAt) {
        await sleep(Math.min(30_000, Math.max(0, endAt - Date.now())));
        sampleRss();
      }
    };
    await Promise.all([...Array.from({ length: o.connections }, getLoop), batchLoop(), rssLoop()]);
    // the batches posted: all end (the last was posted a minute before the end)
    const deadline = Date.now() + 180_000;
    const pending = new Set(jobs);
    while (pending.size > 0 && Date.now() < deadline) {
      for (const id of [...pending]) {
        const s = await getJob(dev.base, id).catch(() => null);
        if (s && (s.status === 'succeeded' || s.status === 'failed')) {
          pending.delete(id);
          if (s.status === 'succeeded') result.batchesSucceeded += 1;
          else error(`batch ${id} failed: ${s.errors.map((e) => e.message).join('; ')}`);
        }
      }
      if (pending.size > 0) await sleep(2000);
    }
    result.batches = jobs.length;
    result.batchesStuck = pending.size;
    result.seconds = Math.round((Date.now() - started) / 1000);
    return result;
  } finally {
    await dev.stop();
  }
}
