import { describe, expect, it } from 'vitest';
import type { ModelCard } from '../model-card.ts';
import type { RenderParams } from '../render/params.ts';
import { contentKey, matchesEtag } from './keys.ts';

const card = { files: { int8: { sha256: 'ab'.repeat(32) } } } as unknown as ModelCard;
const params: RenderParams = { sampler: 'ddim', steps: 20, eta: 0.5, clip: true, classId: 3, guidance: 2, scale: 4, n: 9 };

describe('content keys', () => {
  it('name the model hash, the canonical parameters and the seed', async () => {
    const key = await contentKey(card, 'grid', 7, params);
    expect(key.r2Key).toBe(`v1/${'ab'.repeat(32)}/grid/r1/sampler=ddim&steps=20&eta=0.5&clip=1&class=3&guidance=2&scale=4&n=9/7.png`);
    expect(key.etag).toMatch(/^"[0-9a-f]{40}"$/);
    expect((await contentKey(card, 'sample', 7, { ...params, n: 1 })).r2Key).not.toContain('n=');
  });

  it('differ when anything that changes the pixels differs', async () => {
    const base = (await contentKey(card, 'grid', 7, params)).etag;
    const variants: RenderParams[] = [
      { ...params, steps: 21 },
      { ...params, eta: 0 },
      { ...params, clip: false },
      { ...params, classId: null },
      { ...params, guidance: 1 },
      { ...params, scale: 3 },
      { ...params, n: 8 },
      { ...params, sampler: 'ddpm' },
      { ...params, guidanceInterval: { tLow: 200, tHigh: 800 } },
    ];
    const etags = await Promise.all(variants.map(async (p) => (await contentKey(card, 'grid', 7, p)).etag));
    expect(new Set([base, ...etags]).size).toBe(variants.length + 1);
    expect((await contentKey(card, 'grid', 8, params)).etag).not.toBe(base);
  });
});

describe('If-None-Match', () => {
  it('matches a listed tag, a weak form of it, or *', () => {
    expect(matchesEtag('"a", "b"', '"b"')).toBe(true);
    expect(matchesEtag('W/"b"', '"b"')).toBe(true);
    expect(matchesEtag('*', '"b"')).toBe(true);
    expect(matchesEtag('"c"', '"b"')).toBe(false);
    expect(matchesEtag(undefined, '"b"')).toBe(false);
  });
});
