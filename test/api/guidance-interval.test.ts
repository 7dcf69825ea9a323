// guidance_interval (classifier-free guidance in a limited interval, Kynkaanniemi et al. 2024) on the serving
// path in Node: query parsing, model defaults, the canonical cache key and the work count.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildOpenApi } from '../../src/openapi.ts';
import { ProblemError } from '../../src/api/problem.ts';
import { parseRenderQuery } from '../../src/api/query.ts';
import { createScheduler, makeSchedule } from '../../src/diffusion/index.ts';
import { createRegistry, parseModelCard, servingDefaults, type ModelEntry, type ServingDefaults } from '../../src/models/registry.ts';
import { canonicalParams, workOf, type RenderKind } from '../../src/render/params.ts';

const json = JSON.parse(readFileSync(join(import.meta.dirname, '../../models/fixture-tiny/model.json'), 'utf8')) as Record<string, unknown>;
const card = parseModelCard(json);
const T = card.schedule.T;
const limits = { maxBatch: 8, maxImageSteps: 1024 };

function entry(defaults?: ServingDefaults): ModelEntry {
  return { card, bytes: new ArrayBuffer(0), limits, ...(defaults === undefined ? {} : { defaults }) };
}
const plain = entry();
const withInterval = entry({ guidance: 3, guidanceInterval: [200, 800] });

function parse(e: ModelEntry, query: string, kind: RenderKind = 'sample') {
  return parseRenderQuery(new URLSearchParams(query), kind, e);
}

function problem(fn: () => unknown): { param: unknown; detail: string } {
  try {
    fn();
  } catch (error) {
    if (error instanceof ProblemError) return { param: error.extensions.param, detail: error.detail };
    throw error;
  }
  throw new Error('expected a ProblemError');
}

describe('guidance_interval query parameter', () => {
  it('parses lo,hi into the render parameters of a guided request', () => {
    expect(parse(plain, 'class=3&guidance=2&guidance_interval=200,800')).toMatchObject({ guidance: 2, guidanceInterval: { tLow: 200, tHigh: 800 } });
    expect(parse(plain, 'class=3&guidance=2&guidance_interval=0500,0500').guidanceInterval).toEqual({ tLow: 500, tHigh: 500 });
    expect(parse(plain, 'class=3&guidance=2')).not.toHaveProperty('guidanceInterval');
  });

  it('leaves out an interval over every timestep: plain guidance, the same key', () => {
    const p = parse(plain, `class=3&guidance=2&guidance_interval=0,${T - 1}`);
    expect(p).not.toHaveProperty('guidanceInterval');
    expect(canonicalParams('sample', p)).toBe(canonicalParams('sample', parse(plain, 'class=3&guidance=2')));
  });

  it.each([
    ['class=3&guidance=2&guidance_interval=200', 'guidance_interval must be two integer timesteps tLow,tHigh (e.g. 200,800)'],
    ['class=3&guidance=2&guidance_interval=a,b', 'guidance_interval must be two integer timesteps tLow,tHigh (e.g. 200,800)'],
    ['class=3&guidance=2&guidance_interval=-1,5', 'guidance_interval must be two integer timesteps tLow,tHigh (e.g. 200,800)'],
    ['class=3&guidance=2&guidance_interval=1,2,3', 'guidance_interval must be two integer timesteps tLow,tHigh (e.g. 200,800)'],
    ['class=3&guidance=2&guidance_interval=800,200', `guidance_interval must be two timesteps tLow,tHigh with 0 <= tLow <= tHigh <= ${T - 1} (got 800,200)`],
    [`class=3&guidance=2&guidance_interval=0,${T}`, `guidance_interval must be two timesteps tLow,tHigh with 0 <= tLow <= tHigh <= ${T - 1} (got 0,${T})`],
    ['class=3&guidance_interval=200,800', 'guidance_interval needs guidance != 1 and a class (it limits classifier-free guidance to some steps)'],
    ['guidance_interval=200,800', 'guidance_interval needs guidance != 1 and a class'],
  ])('refuses %s with a 400 naming guidance_interval', (query, message) => {
    const p = problem(() => parse(plain, query));
    expect(p.param).toBe('guidance_interval');
    expect(`guidance_interval ${p.detail}`).toContain(message);
  });
});

describe('canonical parameters and work', () => {
  it('keep the key of every request without an interval as it was', () => {
    const p = parse(plain, 'class=3&guidance=2&steps=20');
    expect(canonicalParams('sample', p)).toBe(`sampler=dpmpp2m&steps=20&eta=0&clip=1&class=3&guidance=2&scale=1`);
    const q = parse(plain, 'class=3&guidance=2&steps=20&guidance_interval=200,800');
    expect(canonicalParams('sample', q)).toBe(`sampler=dpmpp2m&steps=20&eta=0&clip=1&class=3&guidance=2&guidance_interval=200,800&scale=1`);
  });

  it('count the real model evaluations: 2 per image at guided steps, 1 elsewhere', () => {
    const s = createScheduler('dpmpp2m', makeSchedule(card.schedule));
    s.setTimesteps(20);
    const inside = [...s.timesteps].filter((t) => t >= 200 && t <= 800).length;
    expect(inside).toBeGreaterThan(0);
    expect(inside).toBeLessThan(20);
    const grid = parse(plain, 'class=3&guidance=2&steps=20&n=4&guidance_interval=200,800', 'grid');
    expect(workOf(grid, T)).toBe(4 * (20 + inside));
    expect(workOf(parse(plain, 'class=3&guidance=2&steps=20&n=4', 'grid'), T)).toBe(4 * 40);
    expect(workOf(parse(plain, 'class=3&steps=20&n=4', 'grid'), T)).toBe(4 * 20);
  });

  it('let a request through the work limit that full guidance would exceed', () => {
    // 16 images x 40 steps: 1,280 evaluations guided at every step, 16 x (40 + guided steps) with the interval
    expect(() => parse(plain, 'class=3&guidance=2&steps=40&n=16', 'grid')).toThrow(/x 2 \(guidance\) must be at most 1024/);
    expect(parse(plain, 'class=3&guidance=2&steps=40&n=16&guidance_interval=900,999', 'grid').guidanceInterval).toEqual({ tLow: 900, tHigh: 999 });
  });
});

describe('a model default guidanceInterval', () => {
  it('applies to guided requests only, and an explicit interval wins', () => {
    expect(() => createRegistry([withInterval])).not.toThrow();
    expect(servingDefaults(withInterval).guidanceInterval).toEqual([200, 800]);
    expect(servingDefaults(plain)).not.toHaveProperty('guidanceInterval');
    expect(parse(withInterval, 'class=3').guidanceInterval).toEqual({ tLow: 200, tHigh: 800 });
    expect(parse(withInterval, 'class=3&guidance_interval=100,300').guidanceInterval).toEqual({ tLow: 100, tHigh: 300 });
    expect(parse(withInterval, `class=3&guidance_interval=0,${T - 1}`)).not.toHaveProperty('guidanceInterval');
    expect(parse(withInterval, 'class=3&guidance=1')).not.toHaveProperty('guidanceInterval');
    expect(parse(withInterval, '')).not.toHaveProperty('guidanceInterval');
  });

  it.each([
    [[300, 200], 'defaults.guidanceInterval must be two timesteps [tLow, tHigh] with 0 <= tLow <= tHigh <= 999 (got [300,200])'],
    [[0, 1000], 'defaults.guidanceInterval must be two timesteps [tLow, tHigh]'],
    [[1.5, 20], 'defaults.guidanceInterval must be two timesteps [tLow, tHigh]'],
  ])('refuses %j at registry creation', (interval, message) => {
    expect(() => createRegistry([entry({ guidance: 2, guidanceInterval: interval as [number, number] })])).toThrow(`invalid serving defaults of model ${card.name}: ${message}`);
  });

  it('is described in /openapi.json', () => {
    const doc = buildOpenApi(createRegistry([withInterval]));
    const param = doc.paths['/v1/samples/{seed}.png']?.get?.parameters.find((p) => p.name === 'guidance_interval');
    expect(param?.description).toContain('tLow,tHigh');
    expect(param?.description).toContain(`${card.name}: 200,800`);
    expect(param?.example).toBe('200,800');
  });
});
