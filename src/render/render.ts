import { createScheduler, deriveSeed, makeSchedule, sample, type EpsModel, type SampleOptions } from '../diffusion/index.ts';
import { encodePng, makeGrid, toImages, upscale } from '../image/index.ts';
import type { ModelCard } from '../model-card.ts';
import type { RenderKind, RenderParams } from './params.ts';

/** Pixels between grid tiles (before upscaling). */
export const GRID_PAD = 2;

/** Per-image seeds: a sample uses its seed; image k of a grid uses deriveSeed(seed, k). */
export function seedsFor(kind: RenderKind, seed: number, n: number): number[] {
  if (kind === 'sample') return [seed];
  return Array.from({ length: n }, (_, k) => deriveSeed(seed, k));
}

/** Observers of a render (live previews, GET /v1/samples/{seed}/stream); they never change the pixels. */
export type RenderObservers = Pick<SampleOptions, 'onStep' | 'signal'>;

/**
 * The PNG of a request: the sampling loop over `model`, then pixels, grid and upscaling. Pure apart from
 * the model calls, so Node (tests) and workerd produce the same bytes for the same model and inputs.
 */
export async function renderPng(
  model: EpsModel,
  card: ModelCard,
  kind: RenderKind,
  seed: number,
  p: RenderParams,
  observers: RenderObservers = {},
): Promise<Uint8Array<ArrayBuffer>> {
  const seeds = seedsFor(kind, seed, p.n);
  const B = seeds.length;
  const shape = [B, card.channels, card.imageSize, card.imageSize] as const;
  const scheduler = createScheduler(p.sampler, makeSchedule(card.schedule), {
    predictionType: card.prediction,
    clipSample: p.clip,
    ...(p.sampler === 'ddim' ? { eta: p.eta } : {}),
  });
  const x = await sample({
    model,
    scheduler,
    steps: p.steps,
    shape,
    seeds,
    ...(p.classId === null ? {} : { classes: new Int32Array(B).fill(p.classId) }),
    guidanceScale: p.guidance,
    ...(p.guidanceInterval ? { guidanceInterval: [p.guidanceInterval.tLow, p.guidanceInterval.tHigh] as const } : {}),
    nullClass: card.architecture.numClasses,
    ...observers,
  });
  const images = toImages(x, shape);
  const picture = kind === 'grid' ? makeGrid(images, GRID_PAD) : images[0];
  if (!picture) throw new RangeError('nothing was sampled');
  return encodePng(upscale(picture, p.scale));
}
