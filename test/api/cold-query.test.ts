// The query of Cold Diffusion requests (src/api/cold-query.ts), in Node: defaults, ranges per model, and the
// parameters that only some processes take.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseColdSampleQuery, parseRestoreQuery, resolveColdModel } from '../../src/api/cold-query.ts';
import { DEFAULT_MASK, type ColdModelCard } from '../../src/cold/index.ts';
import { parseColdCard, type ColdEntry } from '../../src/models/cold.ts';
import { createRegistry, parseModelCard } from '../../src/models/registry.ts';

const read = (path: string): unknown => JSON.parse(readFileSync(join(import.meta.dirname, path), 'utf8'));
const limits = { maxBatch: 8, maxImageSteps: 1024 };
const blur: ColdEntry = { card: parseColdCard(read('../fixtures/cold-blur-tiny/model.json')), bytes: new ArrayBuffer(0), limits };
/** The fixture's network with a random-mask process: restores only. */
const mask: ColdEntry = { card: parseColdCard({ ...blur.card, name: 'mask-tiny', kind: 'cold-mask', process: DEFAULT_MASK, generation: null } satisfies ColdModelCard), bytes: new ArrayBuffer(0), limits };
const ddpm = { card: parseModelCard(read('../../models/fixture-tiny/model.json')), bytes: new ArrayBuffer(0), limits };

const q = (s: string): URLSearchParams => new URLSearchParams(s);

describe('cold query parameters', () => {
  it('restore: defaults, ranges from the model, the centre of random masks only', () => {
    expect(parseRestoreQuery(q('t=20'), blur)).toEqual({ t: 20, algorithm: 2, input: 'degraded', centre: null, scale: 1 });
    expect(parseRestoreQuery(q('t=50&centre=-1,15&algorithm=1&input=clean&scale=8'), mask)).toEqual({ t: 50, algorithm: 1, input: 'clean', centre: [-1, 15], scale: 8 });
    expect(() => parseRestoreQuery(q('t=51'), mask)).toThrow(/t must be an integer in \[1, 50\] \(model mask-tiny has T = 50; got 51\)/);
    expect(() => parseRestoreQuery(q('t=3&centre=16,0'), mask)).toThrow(/centre must be two integers in \[-1, 15\] \(got 16,0\)/);
    expect(() => parseRestoreQuery(q('t=3&centre=3'), mask)).toThrow(/centre must be two integers row,column/);
    expect(() => parseRestoreQuery(q('t=3&centre=3,3'), blur)).toThrow(/centre applies to random masks only; model cold-blur-tiny \(cold-blur, constant\) has none/);
    expect(() => parseRestoreQuery(q('t=3&scale=9'), blur)).toThrow(/scale must be an integer in \[1, 8\]/);
    expect(() => parseRestoreQuery(q('t=3&steps=3'), blur)).toThrow(/steps is not a query parameter of this endpoint/);
    const small = { ...blur, limits: { maxBatch: 8, maxImageSteps: 5 } };
    expect(() => parseRestoreQuery(q('t=6'), small)).toThrow(/t must be at most 5 for model cold-blur-tiny/);
  });

  it('samples: generation needs a generation start; noise in [0, 1] over the card default', () => {
    expect(parseColdSampleQuery(q(''), blur)).toEqual({ algorithm: 2, noise: 0.002, scale: 1 });
    expect(parseColdSampleQuery(q('noise=0.05&algorithm=1&scale=3'), blur)).toEqual({ algorithm: 1, noise: 0.05, scale: 3 });
    expect(() => parseColdSampleQuery(q('noise=1.5'), blur)).toThrow(/noise must be a number in \[0, 1\]/);
    expect(() => parseColdSampleQuery(q(''), mask)).toThrow(/mask-tiny \(cold-mask\) restores only/);
  });

  it('the model: the first cold model by default; DDPM and unknown names are refused, naming the cold ones', () => {
    const registry = createRegistry([ddpm], undefined, [blur, mask]);
    expect(resolveColdModel(registry, null).card.name).toBe('cold-blur-tiny');
    expect(resolveColdModel(registry, 'mask-tiny').card.name).toBe('mask-tiny');
    expect(() => resolveColdModel(registry, 'fixture-tiny')).toThrow(/fixture-tiny is a DDPM model; one of cold-blur-tiny, mask-tiny/);
    expect(() => resolveColdModel(registry, 'nope')).toThrow(/must be one of cold-blur-tiny, mask-tiny \(got "nope"\)/);
    expect(() => resolveColdModel(createRegistry([ddpm]), null)).toThrow(/this worker serves no Cold Diffusion model/);
    expect(() => createRegistry([ddpm], undefined, [{ ...blur, card: { ...blur.card, name: 'fixture-tiny' } }])).toThrow(/duplicate model name fixture-tiny/);
    expect(() => parseColdCard({ ...blur.card, process: { ...blur.card.process, kernelSize: 4 } })).toThrow(/invalid cold model card cold-blur-tiny: process.kernelSize must be odd/);
    expect(() => parseColdCard({ ...blur.card, kind: 'cold-mask' })).toThrow(/process.kind cold-blur must equal the card's kind cold-mask/);
  });
});
