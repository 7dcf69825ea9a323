/**
 * Samples requested from a running worker (`npm run dev`, or a deployment) instead of sampled in-process:
 * `GET /v1/samples/{seed}.png?model=..&class=..&sampler=..&steps=..&guidance=..`, one image per request, as a
 * user gets them. The evaluation scores them on both meters like any cell, so the served path (bundled int8
 * graph, onnxruntime-web in workerd, PNG encoding) is checked end to end and independently of the in-process
 * sampler.
 */
import { decode } from 'fast-png';
import type { GuidanceInterval, SamplerName } from '../../src/diffusion/index.ts';

export class WorkerSourceError extends Error {
  override readonly name = 'WorkerSourceError';
}

export interface WorkerCell {
  sampler: SamplerName;
  steps: number;
  guidance: number;
  guidanceInterval?: GuidanceInterval;
}

/** The request URL of one sample (class omitted for unconditional models). */
export function sampleUrl(base: string, model: string, seed: number, cls: number | null, cell: WorkerCell): string {
  const u = new URL(`v1/samples/${seed}.png`, base.endsWith('/') ? base : `${base}/`);
  u.searchParams.set('model', model);
  if (cls !== null) u.searchParams.set('class', String(cls));
  u.searchParams.set('sampler', cell.sampler);
  u.searchParams.set('steps', String(cell.steps));
  if (cls !== null) u.searchParams.set('guidance', String(cell.guidance));
  if (cls !== null && cell.guidance !== 1 && cell.guidanceInterval) u.searchParams.set('guidance_interval', cell.guidanceInterval.join(','));
  return u.href;
}

/** A PNG of C x S x S as [C, S, S] in [-1, 1] (the inverse of the worker's (x + 1) * 127.5 quantisation). */
export function pngToSample(bytes: Uint8Array, C: number, S: number): Float32Array {
  const img = decode(bytes);
  if (img.width !== S || img.height !== S) throw new WorkerSourceError(`expected a ${S}x${S} image, got ${img.width}x${img.height}`);
  if (img.depth !== 8) throw new WorkerSourceError(`expected 8-bit samples, got ${img.depth}-bit`);
  const ch = img.channels;
  if (ch !== C && !(C === 1 && (ch === 2 || ch === 3 || ch === 4))) throw new WorkerSourceError(`expected ${C} channel(s), got ${ch}`);
  const out = new Float32Array(C * S * S);
  for (let c = 0; c < C; c++) for (let i = 0; i < S * S; i++) out[c * S * S + i] = img.data[i * ch + c] / 127.5 - 1;
  return out;
}

/**
 * Fetch `seeds.length` samples ([B, C, S, S] in [-1, 1]) with at most `concurrency` requests in flight.
 * A non-200 answer stops the evaluation with the worker's problem detail.
 */
export async function fetchSamples(base: string, model: string, seeds: readonly number[], classes: readonly (number | null)[], cell: WorkerCell, C: number, S: number, concurrency = 2, onImage?: () => void): Promise<Float32Array> {
  const out = new Float32Array(seeds.length * C * S * S);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < seeds.length; i = next++) {
      const url = sampleUrl(base, model, seeds[i], classes[i], cell);
      let res: Response;
      try {
        res = await fetch(url);
      } catch (e) {
        throw new WorkerSourceError(`cannot reach the worker at ${base} (${(e as Error).message}); start it with npm run dev`, { cause: e });
      }
      if (res.status !== 200) throw new WorkerSourceError(`GET ${url}: ${res.status} ${await res.text()}`);
      out.set(pngToSample(new Uint8Array(await res.arrayBuffer()), C, S), i * C * S * S);
      onImage?.();
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, concurrency) }, worker));
  return out;
}
