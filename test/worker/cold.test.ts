// Cold Diffusion in the worker (workerd, real onnxruntime-web, miniflare R2), over the cold test fixture
// (test/fixtures/cold-blur-tiny: random weights, not served by the bundle): degradations bit for bit as in
// Node, /v1/models kinds, generation and restoration byte for byte as in Node, the stream, and every refusal.
import { createExecutionContext, env, waitOnExecutionContext } from 'cloudflare:test';
import { decode, encode } from 'fast-png';
import { describe, expect, inject, it } from 'vitest';
import coldCard from '../fixtures/cold-blur-tiny/model.json';
import coldInt8 from '../fixtures/cold-blur-tiny/unet.int8.onnx';
import fixtureCard from '../../models/fixture-tiny/model.json';
import fixtureInt8 from '../../models/fixture-tiny/unet.int8.onnx';
import { createApp } from '../../src/app.ts';
import { makeDegradation } from '../../src/cold/index.ts';
import { LIMITS } from '../../src/render/limits.ts';
import { parseColdCard } from '../../src/models/cold.ts';
import { createRegistry, parseModelCard } from '../../src/models/registry.ts';
import { COLD_RESTORE, COLD_SAMPLE, COLD_SIZE, DEGRADATION_CASES, degradationInput, restoreInputPng } from './cold-reference.ts';

const limits = { maxBatch: 8, maxImageSteps: 1024 };
const app = createApp({
  registry: createRegistry([{ card: parseModelCard(fixtureCard), bytes: fixtureInt8, limits }], undefined, [{ card: parseColdCard(coldCard), bytes: coldInt8, limits }]),
});
const COLD = 'cold-blur-tiny';

/** A request through the app that waits for its background writes (the next request sees what it stored). */
async function request(path: string, init: RequestInit = {}): Promise<Response> {
  const ctx = createExecutionContext();
  const res = await app.fetch(new Request(`http://worker.test${path}`, init), env, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

const restore = (query: string, body: BodyInit | null, type = 'image/png'): Promise<Response> =>
  request(`/v1/restore?${query}`, { method: 'POST', body, headers: type ? { 'content-type': type } : {} });

const b64 = (bytes: Uint8Array): string => {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
};

async function problem(res: Response, status: number): Promise<Record<string, unknown>> {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toBe('application/problem+json');
  const body = await res.json<Record<string, unknown>>();
  expect(body.status).toBe(status);
  return body;
}

/** An 8-bit PNG of the given channels (1 gray, 2 gray + alpha, 3 RGB, 4 RGBA) filled by `value(i, channel)`. */
function pngOf(size: number, channels: 1 | 2 | 3 | 4, value: (i: number, c: number) => number): Uint8Array {
  const data = new Uint8Array(size * size * channels);
  for (let i = 0; i < size * size; i++) for (let c = 0; c < channels; c++) data[i * channels + c] = value(i, c);
  return encode({ width: size, height: size, data, channels, depth: 8 });
}

describe('Cold Diffusion degradations', () => {
  it('give the same bits in workerd as in Node', () => {
    const reference = inject('coldNodeReference');
    const x = degradationInput();
    DEGRADATION_CASES.forEach((c, k) => {
      const y = makeDegradation(c.process, COLD_SIZE).apply(x, 1, c.levels, c.centres ? Int32Array.from(c.centres) : undefined);
      expect(b64(new Uint8Array(y.buffer)), `case ${k}`).toBe(reference.degradations[k]);
    });
  });
});

describe('GET /v1/models', () => {
  it("lists each model's kind; cold models with their process and generation start", async () => {
    const body = await (await request('/v1/models')).json<{ models: { name: string; kind: string; available: boolean; process?: unknown; generation?: unknown }[] }>();
    expect(body.models.map((m) => [m.name, m.kind, m.available])).toEqual([
      ['fixture-tiny', 'ddpm', true],
      [COLD, 'cold-blur', true],
    ]);
    expect(body.models[1].process).toEqual(coldCard.process);
    expect(body.models[1].generation).toEqual(coldCard.generation);
  });
});

describe('GET /v1/samples/{seed}.png from a cold model', () => {
  it('generates from the mixture start with Algorithm 2, byte for byte as in Node; cached and content-addressed', async () => {
    const path = `/v1/samples/${COLD_SAMPLE.seed}.png?model=${COLD}&${COLD_SAMPLE.query}`;
    const first = await request(path);
    expect(first.status).toBe(200);
    expect(first.headers.get('x-cache')).toBe('MISS');
    const bytes = new Uint8Array(await first.arrayBuffer());
    expect(b64(bytes)).toBe(inject('coldNodeReference').sample);
    const image = decode(bytes);
    expect([image.width, image.height, image.channels]).toEqual([32, 32, 1]);
    const key = first.headers.get('x-content-key') ?? '';
    expect(key).toBe(`v1/${coldCard.files.int8.sha256}/cold-sample/r1/algorithm=2&noise=0.002&scale=2/3.png`);
    // defaults written out give the same key; the etag answers 304
    const again = await request(`/v1/samples/3.png?scale=2&model=${COLD}`, { headers: { 'if-none-match': first.headers.get('etag') ?? '' } });
    expect(again.status).toBe(304);
    const hit = await request(path);
    expect(hit.headers.get('x-cache')).toBe('HIT');
    expect(new Uint8Array(await hit.arrayBuffer())).toEqual(bytes);
  });

  it('refuses DDPM parameters and bad values, naming them; grids and streams are DDPM only', async () => {
    expect((await problem(await request(`/v1/samples/1.png?model=${COLD}&steps=5`), 400)).param).toBe('steps');
    expect((await problem(await request(`/v1/samples/1.png?model=${COLD}&algorithm=3`), 400)).param).toBe('algorithm');
    expect((await problem(await request(`/v1/samples/1.png?model=${COLD}&noise=2`), 400)).param).toBe('noise');
    const grid = await problem(await request(`/v1/grids/1.png?model=${COLD}`), 400);
    expect(grid.detail).toMatch(/cold-blur-tiny is a Cold Diffusion model \(cold-blur\): it is served by GET \/v1\/samples\/\{seed\}.png and POST \/v1\/restore only/);
    expect((await problem(await request(`/v1/samples/1/stream?model=${COLD}`), 400)).param).toBe('model');
  });
});

describe('POST /v1/restore', () => {
  it('degrades (input=clean) and restores with Algorithm 2, byte for byte as in Node', async () => {
    const res = await restore(`model=${COLD}&${COLD_RESTORE.query}`, restoreInputPng());
    expect(res.status).toBe(200);
    expect([res.headers.get('content-type'), res.headers.get('cache-control'), res.headers.get('x-restore-t')]).toEqual(['image/png', 'no-store', '7']);
    expect(b64(new Uint8Array(await res.arrayBuffer()))).toBe(inject('coldNodeReference').restore);
  });

  it('takes a degraded image (the default input), gray or RGB with equal channels, opaque alpha allowed', async () => {
    const gray = pngOf(COLD_SIZE, 1, (i) => (i * 7) % 256);
    const a = new Uint8Array(await (await restore(`model=${COLD}&t=3&algorithm=1`, gray)).arrayBuffer());
    const rgba = pngOf(COLD_SIZE, 4, (i, c) => (c === 3 ? 255 : (i * 7) % 256));
    const b = new Uint8Array(await (await restore(`model=${COLD}&t=3&algorithm=1`, rgba)).arrayBuffer());
    expect(b).toEqual(a); // the same pixels, however encoded
    expect(decode(a).width).toBe(COLD_SIZE);
    // the model defaults to the first cold model
    expect((await restore('t=3&algorithm=1', gray)).status).toBe(200);
  });

  it('streams the restoration: start with the degraded input, one step per level, done with the PNG of /v1/restore', async () => {
    const res = await request(`/v1/restore/stream?model=${COLD}&${COLD_RESTORE.query}`, { method: 'POST', body: restoreInputPng(), headers: { 'content-type': 'image/png' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const events = (await res.text())
      .split('\n\n')
      .filter((block) => block.includes('event:'))
      .map((block) => ({ event: /event: (\w+)/.exec(block)?.[1], data: JSON.parse(/data: (.*)/.exec(block)?.[1] ?? 'null') as Record<string, unknown> }));
    expect(events.map((e) => e.event)).toEqual(['start', ...Array(7).fill('step'), 'done']);
    expect(events[0].data).toMatchObject({ model: COLD, total: 7, t: 7, algorithm: 2 });
    expect(String(events[0].data.degraded)).toMatch(/^data:image\/png;base64,/);
    expect(events.slice(1, 8).map((e) => e.data.t)).toEqual([7, 6, 5, 4, 3, 2, 1]);
    expect(events[8].data.image).toBe(`data:image/png;base64,${inject('coldNodeReference').restore}`);
  });

  it('refuses bad input with a clear problem+json: type, size, channels, body limit, model, t', async () => {
    const ok = restoreInputPng();
    expect((await problem(await restore(`model=${COLD}&t=3`, 'not a png at all'), 400)).reason).toBe('not-png');
    expect((await problem(await restore(`model=${COLD}&t=3`, new Uint8Array([137, 80, 78, 71, 13, 10, 26, 10, 0, 0])), 400)).detail).toMatch(/no IHDR/);
    expect((await problem(await restore(`model=${COLD}&t=3`, ok.slice(0, ok.length - 30)), 400)).reason).toBe('not-png');
    expect((await problem(await restore(`model=${COLD}&t=3`, ok, 'image/jpeg'), 415)).detail).toMatch(/Content-Type: image\/png \(got "image\/jpeg"\)/);
    expect((await problem(await restore(`model=${COLD}&t=3`, ok, ''), 415)).title).toBe('Unsupported media type');
    expect((await problem(await restore(`model=${COLD}&t=3`, new Uint8Array(LIMITS.maxRestoreBytes + 1)), 413)).limit).toBe(LIMITS.maxRestoreBytes);
    const big = await problem(await restore(`model=${COLD}&t=3`, pngOf(32, 1, () => 9)), 422);
    expect([big.reason, big.detail]).toEqual(['size', 'the image is 32x32; model cold-blur-tiny takes 16x16']);
    expect((await problem(await restore(`model=${COLD}&t=3`, pngOf(COLD_SIZE, 3, (i, c) => (c === 0 ? 200 : 10))), 422)).reason).toBe('channels');
    expect((await problem(await restore(`model=${COLD}&t=3`, pngOf(COLD_SIZE, 2, (i, c) => (c === 1 ? 128 : 50))), 422)).reason).toBe('transparency');
    const deep = encode({ width: COLD_SIZE, height: COLD_SIZE, data: new Uint16Array(COLD_SIZE * COLD_SIZE), channels: 1, depth: 16 });
    expect((await problem(await restore(`model=${COLD}&t=3`, deep), 422)).reason).toBe('depth');
    expect((await problem(await restore('model=no-such&t=3', ok), 400)).detail).toMatch(/model must be one of cold-blur-tiny \(got "no-such"\)/);
    expect((await problem(await restore('model=fixture-tiny&t=3', ok), 400)).detail).toMatch(/fixture-tiny is a DDPM model/);
    for (const [t, pattern] of [['0', /t must be an integer in \[1, 1000\]/], ['21', /t must be an integer in \[1, 20\] \(model cold-blur-tiny has T = 20; got 21\)/], ['x', /t must be an integer/]] as const) {
      const p = await problem(await restore(`model=${COLD}&t=${t}`, ok), 400);
      expect([p.param, p.detail]).toEqual(['t', expect.stringMatching(pattern)]);
    }
    expect((await problem(await restore(`model=${COLD}`, ok), 400)).detail).toMatch(/t is required/);
    expect((await problem(await restore(`model=${COLD}&t=3&centre=1,1`, ok), 400)).detail).toMatch(/centre applies to random masks only/);
    expect((await problem(await restore(`model=${COLD}&t=3&input=noisy`, ok), 400)).param).toBe('input');
    expect((await problem(await restore(`model=${COLD}&t=3&t=4`, ok), 400)).detail).toMatch(/t is given more than once/);
    expect((await problem(await request(`/v1/restore?model=${COLD}&t=3`), 404)).title).toBe('Not found');
  });
});

describe('the demo page', () => {
  it('has a restoration section configured with the cold models, and none without them', async () => {
    const html = await (await request('/')).text();
    expect(html).toContain('id="cold-controls"');
    const config = JSON.parse(/<script id="config" type="application\/json">(.*?)<\/script>/s.exec(html)?.[1] ?? '{}') as { cold: unknown[] };
    expect(config.cold).toEqual([{ name: COLD, kind: 'cold-blur', T: 20, imageSize: 16, channels: 1 }]);
    expect(html).toMatch(/<input id="cold-t" type="range" min="1" max="20" value="10">/);
    const plain = createApp({ registry: createRegistry([{ card: parseModelCard(fixtureCard), bytes: fixtureInt8, limits }]) });
    const other = await (await plain.request('/', {}, env)).text();
    expect(other).not.toContain('cold-controls');
  });
});
