// The batches' R2 objects (bucket GRIDS), under batches/<job>/. Every image's bytes are a pure function of
// the job (model, parameters, seed, k), so a retried chunk overwrites an object with identical bytes.
import { IMMUTABLE } from '../storage/png-cache.ts';

export function imageKey(job: string, k: number): string {
  return `batches/${job}/images/${k}.png`;
}

export function gridKey(job: string): string {
  return `batches/${job}/grid.png`;
}

export async function putPng(bucket: R2Bucket, key: string, bytes: Uint8Array<ArrayBuffer>, metadata: Record<string, string>): Promise<void> {
  await bucket.put(key, bytes, { httpMetadata: { contentType: 'image/png', cacheControl: IMMUTABLE }, customMetadata: metadata });
}

export async function getPng(bucket: R2Bucket, key: string): Promise<{ bytes: Uint8Array<ArrayBuffer>; etag: string } | null> {
  const object = await bucket.get(key);
  if (!object) return null;
  return { bytes: new Uint8Array(await object.arrayBuffer()), etag: object.httpEtag };
}

/** Image indices present under batches/<job>/images/ (tests and the contact sheet's completeness check). */
export async function listImages(bucket: R2Bucket, job: string): Promise<number[]> {
  const prefix = `batches/${job}/images/`;
  const found: number[] = [];
  let cursor: string | undefined;
  do {
    const page = await bucket.list({ prefix, ...(cursor === undefined ? {} : { cursor }) });
    for (const object of page.objects) {
      const m = /^(\d+)\.png$/.exec(object.key.slice(prefix.length));
      if (m) found.push(Number(m[1]));
    }
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor !== undefined);
  return found.sort((a, b) => a - b);
}
