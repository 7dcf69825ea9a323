import { deriveSeed, type EpsModel } from '../diffusion/index.ts';
import type { ModelCard } from '../model-card.ts';
import { yieldToEventLoop } from '../api/yield.ts';
import { renderPng } from '../render/render.ts';
import type { BatchSpec } from './types.ts';

/** Images [start, end) of chunk `chunk`. */
export function chunkRange(spec: Pick<BatchSpec, 'count' | 'chunkSize'>, chunk: number): [number, number] {
  const start = chunk * spec.chunkSize;
  return [start, Math.min(spec.count, start + spec.chunkSize)];
}

export function chunkCount(spec: Pick<BatchSpec, 'count' | 'chunkSize'>): number {
  return Math.ceil(spec.count / spec.chunkSize);
}

/** The seed and class of image k: deriveSeed(job seed, k), classes cycled. */
export function imageInputs(spec: BatchSpec, k: number): { seed: number; classId: number | null } {
  const classes = spec.classes;
  return { seed: deriveSeed(spec.seed, k), classId: classes === null ? null : classes[k % classes.length] };
}

/**
 * Image k of a job: the sample route's rendering (one image, its own seed), so image k is byte-identical
 * to GET /v1/samples/{deriveSeed(seed, k)}.png with the same options and class, whatever the chunking.
 */
export function renderImage(model: EpsModel, card: ModelCard, spec: BatchSpec, k: number): Promise<Uint8Array<ArrayBuffer>> {
  const { seed, classId } = imageInputs(spec, k);
  // yields between steps: a chunk never holds the isolate (its job's status, other requests) for a whole image
  return renderPng(model, card, 'sample', seed, { ...spec.params, n: 1, classId }, { onStep: yieldToEventLoop });
}
