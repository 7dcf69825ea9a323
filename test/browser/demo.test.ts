// The demo page in a real browser: Debian's Chromium (/usr/bin/chromium) driven by playwright-core (no browser
// download), against the worker under `wrangler dev --local` on loopback. Screenshots go to
// test/browser/screenshots/ (ignored by git).
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decode, encode } from 'fast-png';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startDevServer, type DevServer } from './dev-server.ts';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SHOTS = join(import.meta.dirname, 'screenshots');
const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1200, height: 900 };
/** CI (.ci/run) installs Chromium and sets REQUIRE_BROWSER=1; elsewhere a missing Chromium skips this file. */
const available = existsSync(CHROMIUM);
if (!available && process.env.REQUIRE_BROWSER === '1') throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium`);

declare global {
  interface Window {
    /** Step indices of the `preview-step` events the page dispatched (installed by the test). */
    __steps: number[];
    /** The preview image shown at each of those steps. */
    __frames: string[];
    /** Step indices of the restoration section's `restore-step` events (installed by the restore test). */
    __restore: number[];
  }
}

/** Mean and standard deviation of the luminance of a PNG (a blank screenshot has a deviation near 0). */
export function pngStats(png: Uint8Array): { width: number; height: number; mean: number; std: number; colors: number } {
  const image = decode(png);
  const { width, height, channels } = image;
  const data = image.data;
  const colorChannels = channels >= 3 ? 3 : 1;
  let sum = 0;
  let sumSq = 0;
  const colors = new Set<number>();
  const pixels = width * height;
  for (let i = 0; i < pixels; i++) {
    const o = i * channels;
    const r = data[o];
    const g = colorChannels === 3 ? data[o + 1] : r;
    const b = colorChannels === 3 ? data[o + 2] : r;
    const y = 0.2126 * r + 0.7152 * g + 0.0722 * b;
    sum += y;
    sumSq += y * y;
    if (colors.size < 4096) colors.add((r << 16) | (g << 8) | b);
  }
  const mean = sum / pixels;
  return { width, height, mean, std: Math.sqrt(Math.max(0, sumSq / pixels - mean * mean)), colors: colors.size };
}

/**
 * fetch with a deadline per attempt, tried again after one: wrangler dev's local proxy now and then holds a
 * request without passing it to the worker until the client gives up (seen for a request right after the first
 * model run), and a new attempt gets through. Each failed test prints what the page requested and wrangler's log.
 */
async function fetchPatiently(url: string, init: RequestInit = {}, attemptMs = 5_000, attempts = 3): Promise<Response> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fetch(url, { ...init, signal: AbortSignal.timeout(attemptMs) });
    } catch (error) {
      if (attempt >= attempts) throw error;
    }
  }
}

/** A generated PNG is stored after its response (waitUntil): wait until a HEAD (which never generates) finds it. */
async function untilStored(url: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await fetchPatiently(url, { method: 'HEAD' })).headers.get('x-cache') !== 'HIT') {
    if (Date.now() > deadline) throw new Error(`${url} was not stored within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe.skipIf(!available)('demo page in Chromium', () => {
  let server: DevServer;
  let context: BrowserContext;
  let page: Page;
  let profile: string;
  const started = Date.now();
  /** What the page requested and got, with seconds since the start: printed with wrangler's log when a test fails. */
  const trace: string[] = [];
  const note = (line: string) => trace.push(`${((Date.now() - started) / 1000).toFixed(2)} ${line}`);

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    server = await startDevServer(150_000);
    profile = mkdtempSync(join(tmpdir(), 'ddpm-edge-chromium-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
      viewport: PHONE,
      deviceScaleFactor: 2,
      isMobile: true,
      hasTouch: true,
      timeout: 60_000,
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.setDefaultTimeout(60_000);
    const path = (url: string) => url.replace(server.base, '');
    page.on('request', (r) => note(`> ${r.method()} ${path(r.url())}`));
    page.on('response', (r) => note(`< ${r.status()} ${path(r.url())}`));
    page.on('requestfailed', (r) => note(`! ${path(r.url())} ${r.failure()?.errorText ?? ''}`));
    page.on('crash', () => note('page crashed'));
    await page.addInitScript(() => {
      window.__steps = [];
      window.__frames = [];
      window.addEventListener('preview-step', (e) => {
        window.__steps.push((e as CustomEvent<{ index: number }>).detail.index);
        window.__frames.push((document.getElementById('image') as HTMLImageElement | null)?.src ?? '');
      });
    });
  }, 240_000);

  beforeEach(({ onTestFailed }) => {
    onTestFailed(() => console.log(`page requests:\n${trace.slice(-60).join('\n')}\nwrangler dev:\n${server?.log() ?? ''}`));
  });

  afterAll(async () => {
    await context?.close();
    await server?.stop();
    if (profile) rmSync(profile, { recursive: true, force: true });
    console.log(`browser test: ${((Date.now() - started) / 1000).toFixed(1)} s including wrangler dev start`);
  }, 60_000);

  it('serves the first view from cache: the default image needs no model run once generated', async () => {
    // a class (seed 42 mod 10: Pullover), so fmnist-tiny samples at its default guidance; nothing else in the URL
    const defaultUrl = `${server.base}/v1/samples/42.png?class=2`;
    const warm = await fetchPatiently(defaultUrl, {}, 50_000, 2); // generate the default image once (fresh local R2)
    expect(warm.status, server.log()).toBe(200);
    await untilStored(defaultUrl);

    const imageHeaders: Record<string, string>[] = [];
    page.on('response', (res) => {
      if (res.url() === defaultUrl) imageHeaders.push(res.headers());
    });
    const res = await page.goto(server.base + '/', { waitUntil: 'load' });
    expect(res?.status()).toBe(200);
    expect(res?.headers()['cache-control']).toBe('public, max-age=60, stale-while-revalidate=86400');
    await page.waitForFunction(() => {
      const img = document.getElementById('image') as HTMLImageElement | null;
      return img !== null && img.complete && img.naturalWidth > 0;
    });
    // the default model is fmnist-tiny (32x32), selected in the form
    expect(await page.evaluate(() => (document.getElementById('image') as HTMLImageElement).naturalWidth)).toBe(32);
    expect(await page.inputValue('#model')).toBe('fmnist-tiny');
    expect(await page.inputValue('#class')).toBe('2');
    expect(await page.getAttribute('#permalink', 'href')).toBe('/v1/samples/42.png?class=2');
    expect(imageHeaders[0]?.['x-cache']).toBe('HIT');
    expect(imageHeaders[0]?.['cache-control']).toBe('public, max-age=3600, stale-while-revalidate=86400');
    const script = await page.locator('script[src^="/assets/app."]').getAttribute('src');
    const asset = await fetch(server.base + (script ?? ''));
    expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    // another model starts from its own initial class and defaults, as the page started from fmnist-tiny's
    await page.selectOption('#model', 'fixture-tiny');
    expect(await page.inputValue('#class')).toBe('2');
    await page.selectOption('#model', 'fmnist-tiny');
    expect(await page.inputValue('#class')).toBe('2');
  });

  it('generates an image with a live preview that advances through every step', async () => {
    await page.selectOption('#class', '3');
    await page.selectOption('#sampler', 'ddim');
    await page.fill('#steps', '12');
    await page.fill('#seed', '2024');
    await page.evaluate(() => {
      window.__steps = [];
      window.__frames = [];
    });
    const historyBefore = await page.locator('#history img').count();
    await page.click('#generate');
    await page.waitForSelector('#image[data-state="done"]', { timeout: 90_000 });
    const steps = await page.evaluate(() => window.__steps);
    expect(steps).toEqual(Array.from({ length: 12 }, (_, i) => i));
    const frames = await page.evaluate(() => window.__frames);
    expect(frames.every((f) => f.startsWith('data:image/png;base64,'))).toBe(true);
    expect(new Set(frames).size).toBeGreaterThan(6); // the predicted x0 changes as the steps advance
    const src = await page.getAttribute('#image', 'src');
    expect(src).toMatch(/^data:image\/png;base64,/);
    expect(await page.getAttribute('#permalink', 'href')).toBe('/v1/samples/2024.png?class=3&sampler=ddim&steps=12');
    expect(await page.textContent('#status')).toContain('done: 12 steps');
    expect(await page.locator('#history img').count()).toBe(historyBefore + 1);
    // the streamed final image is the stored PNG: its URL is now a cache hit with the same bytes
    const stored = await fetchPatiently(`${server.base}/v1/samples/2024.png?class=3&sampler=ddim&steps=12`);
    expect(stored.headers.get('x-cache')).toBe('HIT');
    const bytes = Buffer.from(await stored.arrayBuffer()).toString('base64');
    expect(src).toBe(`data:image/png;base64,${bytes}`);
  });

  it('looks like a page on a phone (screenshot not blank) and on a desktop', async () => {
    await page.setViewportSize(PHONE);
    await page.click('#show-grid');
    await page.waitForFunction(() => {
      const img = document.getElementById('grid') as HTMLImageElement | null;
      return img !== null && !img.hidden && img.complete && img.naturalWidth > 0;
    }, undefined, { timeout: 90_000 });
    const phone = await page.screenshot({ fullPage: true });
    writeFileSync(join(SHOTS, 'demo-phone.png'), phone);
    const stats = pngStats(phone);
    expect(stats.width).toBe(PHONE.width * 2);
    expect(stats.std).toBeGreaterThan(15);
    expect(stats.colors).toBeGreaterThan(50);
    // nothing wider than the phone: no horizontal scrolling
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(PHONE.width);
    const image = pngStats(await page.locator('#image').screenshot());
    expect(image.std).toBeGreaterThan(5); // the generated sample itself is not flat

    await page.setViewportSize(DESKTOP);
    writeFileSync(join(SHOTS, 'demo-desktop.png'), await page.screenshot({ fullPage: true }));
  });

  it('shows validation errors from the stream', async () => {
    await page.fill('#steps', '5000');
    await page.evaluate(() => {
      const steps = document.getElementById('steps') as HTMLInputElement;
      steps.removeAttribute('max'); // let the form submit: the worker's validation answers
    });
    await page.click('#generate');
    await page.waitForSelector('#image[data-state="error"]');
    // the problem's title and its detail
    expect(await page.textContent('#status')).toContain('Invalid parameter: steps must be an integer in [1, 1000]');
  });

  it('keeps the grid and the steps within the limits /v1/models reports, and shows a grid error', async () => {
    const models = (await (await fetchPatiently(`${server.base}/v1/models`)).json()) as { models: { name: string; limits: { maxImageSteps: number } }[] };
    const limit = models.models.find((m) => m.name === 'fmnist-tiny')?.limits.maxImageSteps ?? 0;
    expect(limit).toBeGreaterThan(0);
    await page.goto(server.base + '/', { waitUntil: 'load' });
    await page.selectOption('#class', '0');
    // a class at the model's guidance counts each step twice: the steps field allows limit / 2
    expect(await page.getAttribute('#steps', 'max')).toBe(String(Math.min(1000, Math.floor(limit / 2))));
    await page.fill('#steps', '50');
    const n = Math.floor(limit / (50 * 2));
    expect(n).toBeLessThan(16); // the case that used to ask for 16 x 50 x 2 and show a broken image
    expect(await page.textContent('#show-grid')).toBe(`Grid of ${n}`);
    const gridUrl = page.waitForResponse((r) => r.url().includes('/v1/grids/'), { timeout: 120_000 });
    await page.click('#show-grid');
    const res = await gridUrl;
    expect(res.url()).toContain(`n=${n}`);
    expect(res.status()).toBe(200);
    await page.waitForSelector('#grid[data-state="done"]', { timeout: 120_000 });
    // unguided, the same steps fit 16 images again
    await page.selectOption('#class', '');
    expect(await page.textContent('#show-grid')).toBe(`Grid of ${Math.min(16, Math.floor(limit / 50))}`);
    // a grid the worker refuses (a seed outside [0, 2^53 - 1] typed past the field's check): its problem is shown
    await page.evaluate(() => {
      const seed = document.getElementById('seed') as HTMLInputElement;
      seed.value = '1.5';
    });
    await page.click('#show-grid');
    expect(await page.textContent('#status')).toContain('seed must be an integer');
    // a grid the worker refuses (steps past the work limit even for one image): the problem's title and detail
    await page.fill('#seed', '77');
    await page.selectOption('#class', '0');
    await page.fill('#steps', '1000');
    expect(await page.textContent('#show-grid')).toBe('Grid of 1');
    await page.click('#show-grid');
    await page.waitForSelector('#grid[data-state="error"]', { state: 'attached' });
    expect(await page.textContent('#status')).toMatch(/^grid: Invalid parameter: steps x images x 2 .*must be at most \d+ for model fmnist-tiny/);
    expect(await page.isHidden('#grid')).toBe(true);
  });

  it('restores a degraded image step by step (Cold Diffusion), from the image shown and from an upload, and says what is missing', async () => {
    await page.goto(server.base + '/', { waitUntil: 'load' });
    await page.waitForFunction(() => {
      const img = document.getElementById('image') as HTMLImageElement | null;
      return img !== null && img.complete && img.naturalWidth > 0;
    }, undefined, { timeout: 90_000 });
    await page.evaluate(() => {
      window.__restore = [];
      window.addEventListener('restore-step', (e) => window.__restore.push((e as CustomEvent<{ index: number }>).detail.index));
      const level = document.getElementById('cold-t') as HTMLInputElement;
      level.value = '4';
      level.dispatchEvent(new Event('input'));
    });
    expect(await page.textContent('#cold-t-value')).toBe('4');
    // the image shown above, degraded to t = 4 by the worker, then restored one level per step
    await page.click('#restore');
    await page.waitForSelector('#cold-result[data-state="done"]', { timeout: 90_000 });
    expect(await page.evaluate(() => window.__restore)).toEqual([0, 1, 2, 3]);
    expect(await page.textContent('#cold-status')).toBe('restored from t = 4 with Algorithm 2');
    for (const id of ['#cold-clean', '#cold-degraded', '#cold-result']) expect(await page.getAttribute(id, 'src'), id).toMatch(/^data:image\/png;base64,/);
    expect(await page.getAttribute('#cold-degraded', 'src')).not.toBe(await page.getAttribute('#cold-result', 'src'));

    // a file of the user's: refused with a message until one is chosen, then restored the same way
    await page.selectOption('#cold-source', 'upload');
    expect(await page.isVisible('#cold-file')).toBe(true);
    await page.click('#restore');
    await page.waitForSelector('#cold-result[data-state="error"]');
    expect(await page.textContent('#cold-status')).toBe('choose a file first');
    const square = new Uint8Array(48 * 48);
    for (let y = 12; y < 36; y++) square.fill(230, y * 48 + 12, y * 48 + 36);
    await page.setInputFiles('#cold-file', { name: 'square.png', mimeType: 'image/png', buffer: Buffer.from(encode({ width: 48, height: 48, data: square, channels: 1, depth: 8 })) });
    await page.waitForFunction(() => document.getElementById('cold-status')?.textContent?.startsWith('file loaded'));
    await page.evaluate(() => (window.__restore = []));
    await page.click('#restore');
    await page.waitForSelector('#cold-result[data-state="done"]', { timeout: 90_000 });
    expect(await page.evaluate(() => window.__restore)).toEqual([0, 1, 2, 3]);
    const result = pngStats(Buffer.from((await page.getAttribute('#cold-result', 'src'))!.split(',')[1], 'base64'));
    expect(result.width).toBe(32); // the model's size
    expect(result.std).toBeGreaterThan(10); // the square is still there, not a flat image
  });

  it('links an API reference built from /openapi.json', async () => {
    await page.goto(server.base + '/', { waitUntil: 'load' });
    await page.click('a[href="/docs"] >> nth=0');
    await page.waitForSelector('#streamSample');
    expect(await page.textContent('#streamSample')).toContain('/v1/samples/{seed}/stream');
    const spec = await page.evaluate(async () => (await fetch('/openapi.json')).json() as Promise<{ openapi: string }>);
    expect(spec.openapi).toBe('3.1.1');
    await page.setViewportSize(PHONE);
    writeFileSync(join(SHOTS, 'docs-phone.png'), await page.screenshot());
  });
});
