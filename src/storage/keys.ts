import { sha256Hex } from '../shared/sha256.ts';
import type { ModelCard } from '../model-card.ts';
import { canonicalParams, type RenderKind, type RenderParams } from '../render/params.ts';

/** Bump when the pixels or PNG bytes produced for the same inputs change (new image code, encoder). */
export const RENDER_VERSION = 'r1';

export interface ContentKey {
  /** R2 object key: `v1/<model sha256>/<kind>/<canonical params>/<seed>.png`, readable and content-addressed. */
  r2Key: string;
  /** Strong ETag: the first 40 hex digits of the sha256 of the key, quoted (160 bits). */
  etag: string;
}

/**
 * The content key of a response: the model's int8 sha256 + the canonical parameters + the seed (+ the
 * render version). The same key always names the same bytes, so what is stored under it can be cached
 * forever (a URL cannot: src/api/cache-control.ts) and an ETag can be answered without running the model.
 */
export async function contentKey(card: ModelCard, kind: RenderKind, seed: number, params: RenderParams): Promise<ContentKey> {
  return keyOf(card, kind, canonicalParams(kind, params), seed);
}

/**
 * The key of any rendered PNG: `v1/<model int8 sha256>/<kind>/<render version>/<canonical params>/<seed>.png`
 * and its ETag. `kind` tells apart what a model renders (`sample`, `grid`; `cold-sample` for Cold Diffusion).
 */
export async function keyOf(card: Pick<ModelCard, 'files'>, kind: string, canonical: string, seed: number): Promise<ContentKey> {
  const r2Key = `v1/${card.files.int8.sha256}/${kind}/${RENDER_VERSION}/${canonical}/${seed}.png`;
  const etag = `"${(await sha256Hex(r2Key)).slice(0, 40)}"`;
  return { r2Key, etag };
}

/** If-None-Match against a strong ETag (RFC 9110 13.1.2: a list, or `*`; weak comparison for GET). */
export function matchesEtag(ifNoneMatch: string | undefined, etag: string): boolean {
  if (!ifNoneMatch) return false;
  if (ifNoneMatch.trim() === '*') return true;
  return ifNoneMatch.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag);
}
