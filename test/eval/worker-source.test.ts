import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { encodePng } from '../../src/image/index.ts';
import { fetchSamples, pngToSample, sampleUrl, WorkerSourceError } from '../../scripts/eval/worker-source.ts';

const S = 4;
/** A 4x4 gray PNG whose pixels encode the seed: value (seed * 10 + i) mod 256. */
function png(seed: number): Uint8Array {
  const data = new Uint8Array(S * S);
  for (let i = 0; i < data.length; i++) data[i] = (seed * 10 + i) % 256;
  return encodePng({ width: S, height: S, channels: 1, data });
}

let server: Server;
let base = '';
const seen: string[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    seen.push(u.pathname + u.search);
    const m = /^\/v1\/samples\/(\d+)\.png$/.exec(u.pathname);
    if (!m || u.searchParams.get('steps') === '0') {
      res.writeHead(400, { 'content-type': 'application/problem+json' });
      res.end(JSON.stringify({ title: 'Invalid parameter', detail: 'steps must be an integer in [1, 1000]' }));
      return;
    }
    res.writeHead(200, { 'content-type': 'image/png' });
    res.end(png(Number(m[1])));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

describe('samples requested from a worker', () => {
  it('builds the served query: model, class, sampler, steps, guidance and its interval', () => {
    const u = new URL(sampleUrl('http://127.0.0.1:8787', 'fmnist-small', 42, 3, { sampler: 'unipc', steps: 10, guidance: 1.75, guidanceInterval: [0, 600] }));
    expect(u.pathname).toBe('/v1/samples/42.png');
    expect(Object.fromEntries(u.searchParams)).toEqual({ model: 'fmnist-small', class: '3', sampler: 'unipc', steps: '10', guidance: '1.75', guidance_interval: '0,600' });
    const unconditional = new URL(sampleUrl('http://h/', 'm', 1, null, { sampler: 'ddim', steps: 5, guidance: 1 }));
    expect(unconditional.searchParams.has('class')).toBe(false);
    expect(unconditional.searchParams.has('guidance')).toBe(false);
  });

  it('decodes each PNG to [-1, 1] in request order, with requests in parallel', async () => {
    const seeds = [5, 1, 9, 2, 7];
    const x = await fetchSamples(base, 'm', seeds, seeds.map(() => 0), { sampler: 'ddim', steps: 5, guidance: 1 }, 1, S, 3);
    seeds.forEach((seed, k) => {
      for (let i = 0; i < S * S; i++) expect(x[k * S * S + i]).toBeCloseTo(((seed * 10 + i) % 256) / 127.5 - 1, 6);
    });
    expect(seen.filter((p) => p.startsWith('/v1/samples/'))).toHaveLength(5);
  });

  it("stops with the worker's problem detail on a non-200 answer, and names an unreachable worker", async () => {
    await expect(fetchSamples(base, 'm', [1], [0], { sampler: 'ddim', steps: 0, guidance: 1 }, 1, S)).rejects.toThrow(/400 .*steps must be an integer/);
    await expect(fetchSamples('http://127.0.0.1:9', 'm', [1], [0], { sampler: 'ddim', steps: 5, guidance: 1 }, 1, S)).rejects.toThrow(/cannot reach the worker .*npm run dev/);
  });

  it('refuses an image of the wrong size or channel count', () => {
    expect(() => pngToSample(png(1), 1, 8)).toThrow(WorkerSourceError);
    expect(() => pngToSample(encodePng({ width: S, height: S, channels: 3, data: new Uint8Array(S * S * 3) }), 3, S)).not.toThrow();
    expect(() => pngToSample(encodePng({ width: S, height: S, channels: 3, data: new Uint8Array(S * S * 3) }), 2, S)).toThrow(/channel/);
  });
});
