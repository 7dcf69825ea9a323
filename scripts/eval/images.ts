/**
 * Between the model's image space (S x S, C channels, in [-1, 1]) and the classifier's (28 x 28 gray,
 * 8-bit). Real images take the training path (Fashion-MNIST fitted to S as scripts/train/data.ts does)
 * and then the same way back as samples, so both sides of the distance see the same resolution loss.
 */
import type { FitMode } from '../train/options.ts';
import { promises as fsp } from 'node:fs';
import { fitImage, fashionMnistPaths, parseIdx } from '../train/data.ts';
import { toImages } from '../../src/image/index.ts';
import { CLASSIFIER_SIZE } from './classifier.ts';

/** How training fitted 28x28 Fashion-MNIST to S: padded when it fits (S >= 28), else resized. */
export function defaultFit(imageSize: number): FitMode {
  return imageSize >= CLASSIFIER_SIZE ? 'pad' : 'resize';
}

/**
 * 8-bit S x S x C images (HWC, one after another) -> 28 x 28 gray: the center crop when the model's images
 * were padded, else a resize (area-averaging down, bilinear up). Color is averaged to gray.
 */
export function toClassifierPixels(pixels: Uint8Array, count: number, S: number, C: number, fit: FitMode): Uint8Array {
  const T = CLASSIFIER_SIZE;
  if (pixels.length !== count * S * S * C) throw new RangeError(`expected ${count} images of ${S}x${S}x${C}, got ${pixels.length} bytes`);
  const out = new Uint8Array(count * T * T);
  const gray = new Uint8Array(S * S);
  for (let i = 0; i < count; i++) {
    const src = pixels.subarray(i * S * S * C, (i + 1) * S * S * C);
    let g = src;
    if (C !== 1) {
      for (let p = 0; p < S * S; p++) {
        let s = 0;
        for (let c = 0; c < C; c++) s += src[p * C + c];
        gray[p] = Math.round(s / C);
      }
      g = gray;
    }
    if (S === T) out.set(g, i * T * T);
    else if (fit === 'pad' && S > T) {
      const o = Math.floor((S - T) / 2);
      for (let y = 0; y < T; y++) out.set(g.subarray((o + y) * S + o, (o + y) * S + o + T), (i * T + y) * T);
    } else fitImage(g, S, S, 1, T, 'resize', out, i * T * T);
  }
  return out;
}

/** Samples x [B, C, S, S] in [-1, 1] -> 8-bit as served (src/image) -> classifier pixels. */
export function samplesToClassifierPixels(x: Float32Array, B: number, C: number, S: number, fit: FitMode): Uint8Array {
  const images = toImages(x, [B, C, S, S]);
  const hwc = new Uint8Array(B * S * S * C);
  images.forEach((im, k) => hwc.set(im.data, k * S * S * C));
  return toClassifierPixels(hwc, B, S, C, fit);
}

export interface RealImages {
  /** [N, 28, 28] after the round trip through the model's size. */
  pixels: Uint8Array;
  labels: Int32Array;
  count: number;
}

/** 28x28 gray images -> fitted to S x S as training does -> back to 28x28 as samples are. */
export function roundTrip(pixels28: Uint8Array, count: number, S: number, fit: FitMode): Uint8Array {
  const T = CLASSIFIER_SIZE;
  if (S === T) return pixels28.slice(0, count * T * T);
  const small = new Uint8Array(count * S * S);
  for (let i = 0; i < count; i++) fitImage(pixels28.subarray(i * T * T, (i + 1) * T * T), T, T, 1, S, fit, small, i * S * S);
  return toClassifierPixels(small, count, S, 1, fit);
}

interface RawSplit {
  pixels: Uint8Array;
  labels: Int32Array;
  count: number;
}

const rawCache = new Map<string, Promise<RawSplit>>();

/** The 28x28 Fashion-MNIST split as stored (IDX parsed once per process and kept). */
export function readFashion(split: 'train' | 't10k'): Promise<RawSplit> {
  let p = rawCache.get(split);
  if (p === undefined) {
    p = (async () => {
      const f = fashionMnistPaths(split);
      const read = async (file: string): Promise<Uint8Array> => {
        try {
          return new Uint8Array(await fsp.readFile(file));
        } catch (e) {
          throw new Error(`${file}: cannot read Fashion-MNIST (${(e as Error).message}); install it with: apt-get install -y dataset-fashion-mnist`, { cause: e });
        }
      };
      const img = parseIdx(await read(f.images), f.images, 3);
      const lab = parseIdx(await read(f.labels), f.labels, 1);
      const [n, h, w] = img.dims;
      if (h !== CLASSIFIER_SIZE || w !== CLASSIFIER_SIZE || lab.dims[0] !== n) throw new Error(`${f.images}: expected [N, 28, 28] images with N labels`);
      return { pixels: img.data, labels: Int32Array.from(lab.data), count: n };
    })();
    rawCache.set(split, p);
    p.catch(() => rawCache.delete(split));
  }
  return p;
}

/**
 * Fashion-MNIST `split` (the first `limit` images, or those at `indices`), through the model's S x S and
 * back to the classifier's 28 x 28. Gray is enough: a color model's training images are gray replicated.
 */
export async function loadReal(split: 'train' | 't10k', S: number, fit: FitMode, select: { limit?: number; indices?: ArrayLike<number> } = {}): Promise<RealImages> {
  const raw = await readFashion(split);
  let pixels: Uint8Array;
  let labels: Int32Array;
  if (select.indices !== undefined) {
    pixels = pickImages(raw.pixels, select.indices);
    labels = Int32Array.from(select.indices, (k) => raw.labels[k]);
  } else {
    const n = select.limit ? Math.min(select.limit, raw.count) : raw.count;
    pixels = raw.pixels.subarray(0, n * CLASSIFIER_SIZE * CLASSIFIER_SIZE);
    labels = raw.labels.slice(0, n);
  }
  return { pixels: roundTrip(pixels, labels.length, S, fit), labels, count: labels.length };
}

/** The rows `indices` of a [N, 28, 28] pixel array. */
export function pickImages(pixels: Uint8Array, indices: ArrayLike<number>): Uint8Array {
  const T = CLASSIFIER_SIZE * CLASSIFIER_SIZE;
  const out = new Uint8Array(indices.length * T);
  for (let i = 0; i < indices.length; i++) out.set(pixels.subarray(indices[i] * T, (indices[i] + 1) * T), i * T);
  return out;
}
