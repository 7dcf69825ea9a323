// Per-model serving defaults (ServingDefaults in src/models/registry.ts) in Node: checked when the registry is
// created, applied by query parsing (the guidance default only with a class), the same content key as the
// explicit spelling, and described in /openapi.json. The worker tests check the bundled models end to end.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildOpenApi } from '../../src/openapi.ts';
import { DEFAULTS } from '../../src/render/limits.ts';
import { ProblemError } from '../../src/api/problem.ts';
import { parseRenderQuery } from '../../src/api/query.ts';
import { parseBatchBody } from '../../src/batches/spec.ts';
import { createRegistry, parseModelCard, servingDefaults, type ModelEntry, type ServingDefaults } from '../../src/models/registry.ts';
import type { RenderKind } from '../../src/render/params.ts';
import { contentKey } from '../../src/storage/keys.ts';

const json = JSON.parse(readFileSync(join(import.meta.dirname, '../../models/fixture-tiny/model.json'), 'utf8')) as Record<string, unknown>;
const card = parseModelCard(json);
const unconditionalCard = parseModelCard({ ...json, name: 'uncond', classNames: null, architecture: { ...card.architecture, numClasses: 0 }, io: { x: 'x', t: 't', output: 'out' } });
const limits = { maxBatch: 8, maxImageSteps: 1024 };

function entry(defaults?: ServingDefaults, c = card): ModelEntry {
  return { card: c, bytes: new ArrayBuffer(0), limits, ...(defaults === undefined ? {} : { defaults }) };
}

const guided = entry({ sampler: 'ddim', steps: 30, guidance: 3 });
const plain = entry();

function parse(e: ModelEntry, query: string, kind: RenderKind = 'sample') {
  return parseRenderQuery(new URLSearchParams(query), kind, e);
}

describe('serving defaults at registry creation', () => {
  it('accepts valid defaults and fills the rest from the global ones', () => {
    expect(() => createRegistry([guided])).not.toThrow();
    expect(servingDefaults(guided)).toEqual({ ...DEFAULTS, sampler: 'ddim', steps: 30, guidance: 3 });
    expect(servingDefaults(plain)).toEqual(DEFAULTS);
    expect(servingDefaults(entry({ guidance: 2 }))).toEqual({ ...DEFAULTS, guidance: 2 });
  });

  const invalid: [string, ServingDefaults, string, ModelEntry['card']?][] = [
    ['an unknown sampler', { sampler: 'euler' as ServingDefaults['sampler'] }, 'defaults.sampler must be one of ddpm, ddim, dpmpp2m, dpmpp3m, unipc (got "euler")'],
    ['0 steps', { steps: 0 }, 'defaults.steps must be an integer in [1, 1000]'],
    ['more steps than LIMITS', { steps: 1001 }, 'defaults.steps must be an integer in [1, 1000]'],
    ['fractional steps', { steps: 2.5 }, 'defaults.steps must be an integer'],
    ['negative guidance', { guidance: -1 }, 'defaults.guidance must be a number in [0, 20]'],
    ['guidance above LIMITS', { guidance: 21 }, 'defaults.guidance must be a number in [0, 20]'],
    ['NaN guidance', { guidance: NaN }, 'defaults.guidance must be a number in [0, 20]'],
    ['guidance for an unconditional model', { guidance: 3 }, 'defaults.guidance must be 1: the model is unconditional', unconditionalCard],
    ['a default image over the work limit', { steps: 600, guidance: 2 }, 'defaults.steps must be such that one image fits limits.maxImageSteps = 1024'],
  ];
  it.each(invalid)('refuses %s, naming the model and the field', (_, defaults, message, c) => {
    const bad = entry(defaults, c ?? card);
    expect(() => createRegistry([bad])).toThrow(`invalid serving defaults of model ${bad.card.name}: ${message}`);
  });
});

describe('query parsing with serving defaults', () => {
  it("applies the model's sampler and steps, and its guidance to a request with a class", () => {
    expect(parse(guided, 'class=3')).toMatchObject({ sampler: 'ddim', steps: 30, classId: 3, guidance: 3 });
    expect(parse(plain, 'class=3')).toMatchObject({ sampler: DEFAULTS.sampler, steps: DEFAULTS.steps, classId: 3, guidance: 1 });
    // explicit values win, guidance=1 included
    expect(parse(guided, 'class=3&guidance=1&sampler=dpmpp2m&steps=5')).toMatchObject({ sampler: 'dpmpp2m', steps: 5, guidance: 1 });
  });

  it('samples without a class unguided, and still refuses explicit guidance without a class', () => {
    expect(parse(guided, '')).toMatchObject({ classId: null, guidance: 1 });
    expect(parse(guided, 'guidance=1')).toMatchObject({ classId: null, guidance: 1 });
    expect(() => parse(guided, 'guidance=3')).toThrow(ProblemError);
    expect(() => parse(guided, 'guidance=3')).toThrow('guidance needs a class');
  });

  it('counts the default guidance in the work limit', () => {
    // 16 images x 33 steps x 2 (the default guidance) = 1056 > 1024; unguided (explicit 1) it fits
    expect(() => parse(guided, 'class=1&n=16&steps=33', 'grid')).toThrow('x 2 (guidance)');
    expect(parse(guided, 'class=1&n=16&steps=33&guidance=1', 'grid').guidance).toBe(1);
  });

  it('gives a request with and without the defaults written out one content key', async () => {
    for (const kind of ['sample', 'grid'] as const) {
      const implicit = await contentKey(card, kind, 7, parse(guided, 'class=2', kind));
      const explicit = await contentKey(card, kind, 7, parse(guided, `class=2&guidance=3&sampler=ddim&steps=30${kind === 'grid' ? '&n=16' : ''}`, kind));
      expect(explicit).toEqual(implicit);
      expect(implicit.r2Key).toContain('sampler=ddim&steps=30&eta=0&clip=1&class=2&guidance=3&');
      const other = await contentKey(card, kind, 7, parse(guided, 'class=2&guidance=1', kind));
      expect(other.etag).not.toBe(implicit.etag);
    }
  });

  it("resolves a batch's guidance from its classes like the sample route", () => {
    const options = { callbackPolicy: { allowHttp: false }, faultsEnabled: false };
    const registry = createRegistry([guided]);
    const withClasses = parseBatchBody(JSON.stringify({ count: 2, classes: [1, 2] }), registry, options);
    expect(withClasses.spec.params).toMatchObject({ sampler: 'ddim', steps: 30, guidance: 3 });
    expect(withClasses.spec.chunkSize).toBe(16); // 1024 / (30 x 2) = 17 images, at most 16 a chunk
    const without = parseBatchBody(JSON.stringify({ count: 2 }), registry, options);
    expect(without.spec.params).toMatchObject({ sampler: 'ddim', steps: 30, guidance: 1 });
  });
});

describe('serving defaults in /openapi.json', () => {
  it("names a model's own defaults in the parameter descriptions and lists each model's defaults", () => {
    const other = { ...guided, card: { ...card, name: 'other' } };
    const doc = buildOpenApi(createRegistry([plain, other]));
    const parameters = doc.paths['/v1/samples/{seed}.png']?.get?.parameters ?? [];
    const description = (name: string) => parameters.find((p) => p.name === name)?.description ?? '';
    expect(description('guidance')).toContain('Default with a class: 1 (other: 3); without a class: 1.');
    expect(description('sampler')).toContain('default dpmpp2m (other: ddim)');
    expect(description('steps')).toContain('default 20 (other: 30)');
    const model = (doc.components.schemas.Models?.properties as Record<string, { items: { properties: Record<string, unknown> } }>).models;
    expect(Object.keys(model.items.properties)).toContain('defaults');
  });
});
