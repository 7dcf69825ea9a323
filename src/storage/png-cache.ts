// The PNG cache of /v1/samples and /v1/grids: R2 (binding GRIDS) and the Cache API in front of it. (Batch images
// and job records live in R2 too, through src/batches/store.ts.)

/** Where a cached PNG came from. */
export type CacheLayer = 'cache-api' | 'r2';

export interface CachedPng {
  bytes: Uint8Array<ArrayBuffer>;
  layer: CacheLayer;
}

const CACHE_ORIGIN = 'https://png-cache.ddpm-edge.internal/';
export const IMMUTABLE = 'public, max-age=31536000, immutable';

function cacheRequest(r2Key: string): Request {
  return new Request(CACHE_ORIGIN + encodeURI(r2Key));
}

/** The Cache API of this colo (`caches.default`); absent in some test setups. */
function edgeCache(): Cache | undefined {
  return typeof caches === 'undefined' ? undefined : caches.default;
}

/**
 * A write whose failure must not fail the response (the response has the bytes; a later request regenerates
 * them): resolves either way, and logs a failure with the key.
 */
async function logFailure(what: string, r2Key: string, write: () => Promise<unknown>): Promise<void> {
  try {
    await write();
  } catch (error) {
    console.error(`${what} of ${r2Key} failed (served, not stored):`, error);
  }
}

/** Looks a PNG up in the Cache API, then in R2 (a hit in R2 is copied into the Cache API in the background). */
export async function readPng(bucket: R2Bucket, r2Key: string, waitUntil: (p: Promise<unknown>) => void): Promise<CachedPng | undefined> {
  const cache = edgeCache();
  const cached = await cache?.match(cacheRequest(r2Key));
  if (cached) return { bytes: new Uint8Array(await cached.arrayBuffer()), layer: 'cache-api' };
  const object = await bucket.get(r2Key);
  if (!object) return undefined;
  const bytes = new Uint8Array(await object.arrayBuffer());
  if (cache) waitUntil(logFailure('Cache API put', r2Key, () => cache.put(cacheRequest(r2Key), pngResponse(bytes))));
  return { bytes, layer: 'r2' };
}

/**
 * Stores a generated PNG in R2 and, in the background (waitUntil), in the Cache API. The promise settles once
 * R2 has it and never rejects: a failed write is logged with its key. /v1/samples and /v1/grids hand it to
 * waitUntil, so the R2 put is off the response path (issue 9); the stream awaits it before its `done` event.
 */
export function storePng(
  bucket: R2Bucket,
  r2Key: string,
  bytes: Uint8Array<ArrayBuffer>,
  metadata: Record<string, string>,
  waitUntil: (p: Promise<unknown>) => void,
): Promise<void> {
  const cache = edgeCache();
  if (cache) waitUntil(logFailure('Cache API put', r2Key, () => cache.put(cacheRequest(r2Key), pngResponse(bytes))));
  return logFailure('R2 put', r2Key, () => bucket.put(r2Key, bytes, { httpMetadata: { contentType: 'image/png', cacheControl: IMMUTABLE }, customMetadata: metadata }));
}

/** Removes a PNG from both layers (tests, operations). */
export async function deletePng(bucket: R2Bucket, r2Key: string): Promise<void> {
  await bucket.delete(r2Key);
  await edgeCache()?.delete(cacheRequest(r2Key));
}

function pngResponse(bytes: Uint8Array<ArrayBuffer>): Response {
  return new Response(bytes, { headers: { 'content-type': 'image/png', 'cache-control': IMMUTABLE } });
}
