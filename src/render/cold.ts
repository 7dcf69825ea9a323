// The PNGs of Cold Diffusion models (src/cold/): generation from the card's mixture start (GET /v1/samples) and
// restoration of a degraded image (POST /v1/restore), both with the paper's Algorithm 2 (or 1). Pure apart from
// the model calls, so Node and workerd give the same bytes for the same model and inputs.
import type { ColdModelCard } from '../cold/card.ts';
import { centredMask, makeDegradation, needsCentres, type Degradation, type MaskCentres } from '../cold/degrade.ts';
import { mixtureStart } from '../cold/mixture.ts';
import { coldSample, type ColdAlgorithm, type ColdStepInfo, type RestoreModel } from '../cold/sample.ts';
import type { EpsModel } from '../diffusion/index.ts';
import { encodePng, quantize8, toImages, upscale } from '../image/index.ts';

/** What determines the pixels of a cold sample (the cache key is made from it). */
export interface ColdSampleParams {
  algorithm: ColdAlgorithm;
  /** Std of the noise added to the mixture start (the card's, unless the request sets it). */
  noise: number;
  scale: number;
}

/** What determines a restoration besides the input image. */
export interface RestoreParams {
  /** The level of the input (input `degraded`), or the level to degrade it to first (input `clean`). */
  t: number;
  algorithm: ColdAlgorithm;
  /** `degraded`: the image is x_t; `clean`: the worker degrades it to t first (8-bit, as a PNG holds it). */
  input: 'degraded' | 'clean';
  /** Random masks: the mask centre (row, column); centred masks: their own centre. */
  centre: [number, number] | null;
  scale: number;
}

export type ColdObservers = { onStep?: (info: ColdStepInfo) => void | Promise<void>; signal?: AbortSignal };

/** The canonical text of a cold sample's parameters (fixed order, numbers in JS's shortest form). */
export function canonicalColdParams(p: ColdSampleParams): string {
  return `algorithm=${p.algorithm}&noise=${p.noise}&scale=${p.scale}`;
}

/** The network as the sampler's restorer: x0 at network timestep level - 1 (unconditional). */
export function restorerOf(model: EpsModel): RestoreModel {
  return (x, t) => model({ x, t });
}

const degradations = new WeakMap<ColdModelCard, Degradation>();

/** The card's degradation, built once per card. */
export function degradationOf(card: ColdModelCard): Degradation {
  let d = degradations.get(card);
  if (!d) {
    d = makeDegradation(card.process, card.imageSize);
    degradations.set(card, d);
  }
  return d;
}

function centresOf(card: ColdModelCard, centre: [number, number] | null): MaskCentres | undefined {
  if (!needsCentres(card.process)) return undefined;
  const c = centre ?? [centredMask(card.imageSize), centredMask(card.imageSize)];
  return Int32Array.from(c);
}

function png(x: Float32Array, card: ColdModelCard, scale: number): Uint8Array<ArrayBuffer> {
  const [image] = toImages(x, [1, card.channels, card.imageSize, card.imageSize]);
  if (!image) throw new RangeError('no image');
  return encodePng(upscale(image, scale));
}

/** One generated image: the mixture start of the seed (flat channel means + noise), then Algorithm 2 from T. */
export async function renderColdSample(model: EpsModel, card: ColdModelCard, seed: number, p: ColdSampleParams, observers: ColdObservers = {}): Promise<Uint8Array<ArrayBuffer>> {
  if (card.generation === null) throw new RangeError(`model ${card.name} does not generate`);
  const xt = mixtureStart(card.generation.mixture, card.channels, card.imageSize, p.noise, seed);
  const x = await coldSample({ restorer: restorerOf(model), degradation: degradationOf(card), xt, channels: card.channels, t: card.process.T, algorithm: p.algorithm, ...observers });
  return png(x, card, p.scale);
}

/** The restoration's input x_t: the image itself, or (input `clean`) D(image, t) rounded to 8 bits. */
export function restoreInput(card: ColdModelCard, image: Float32Array, p: RestoreParams): Float32Array {
  if (p.input === 'degraded') return image;
  return quantize8(degradationOf(card).apply(image, card.channels, p.t, centresOf(card, p.centre)));
}

/** Restores x_t [C, S, S] from level t with Algorithm 2 (or 1); returns the PNG (with the scale) and x_0. */
export async function restorePng(model: EpsModel, card: ColdModelCard, xt: Float32Array, p: RestoreParams, observers: ColdObservers = {}): Promise<{ png: Uint8Array<ArrayBuffer>; x0: Float32Array }> {
  const x0 = await coldSample({ restorer: restorerOf(model), degradation: degradationOf(card), xt, channels: card.channels, t: p.t, algorithm: p.algorithm, centres: centresOf(card, p.centre), ...observers });
  return { png: png(x0, card, p.scale), x0 };
}

/** A preview of one image [C, S, S] at the model's size (stream events). */
export function previewOf(x: Float32Array, card: ColdModelCard): Uint8Array<ArrayBuffer> {
  return png(x.subarray(0, card.channels * card.imageSize * card.imageSize), card, 1);
}
