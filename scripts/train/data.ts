/**
 * Training data: IDX files (MNIST / Fashion-MNIST format, optionally gzip-compressed) and folders of
 * PNG/JPEG images. Everything is fitted once to the model size and kept as 8-bit pixels, NHWC:
 * [N, S, S, C]; batches are scaled to [-1, 1] when drawn.
 *
 * IDX (http://yann.lecun.com/exdb/mnist/): big-endian header: two zero bytes, a type byte (0x08 =
 * unsigned byte), the number of dimensions, then one uint32 per dimension; then the data.
 * Images: 3 dimensions [N, H, W] (magic 0x00000803); labels: 1 dimension [N] (magic 0x00000801).
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { decode as decodePng, convertIndexedToRgb } from 'fast-png';
import jpeg from 'jpeg-js';
import type { FitMode } from './options.ts';

export interface Dataset {
  /** [N, S, S, C] pixels, 0..255. */
  pixels: Uint8Array;
  count: number;
  size: number;
  channels: number;
  /** One class id per image, or null when the source has no labels. */
  labels: Int32Array | null;
  classNames: string[] | null;
  /** Where it came from, for logs. */
  source: string;
}

export class DatasetError extends Error {
  override readonly name = 'DatasetError';
}

export const FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';
export const FASHION_MNIST_CLASSES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];

export function fashionMnistPaths(split: 'train' | 't10k' = 'train', dir = FASHION_MNIST_DIR): { images: string; labels: string } {
  return { images: path.join(dir, `${split}-images-idx3-ubyte.gz`), labels: path.join(dir, `${split}-labels-idx1-ubyte.gz`) };
}

export interface IdxArray {
  dims: number[];
  data: Uint8Array;
}

async function readBytes(file: string, what: string): Promise<Buffer> {
  try {
    return await fsp.readFile(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const hint = file.startsWith(FASHION_MNIST_DIR) ? ` (install it with: apt-get install -y dataset-fashion-mnist)` : '';
    throw new DatasetError(`${file}: cannot read ${what} (${code ?? String(e)})${hint}`);
  }
}

/** Parse an IDX file (gzip-compressed or raw); only unsigned-byte data. */
export function parseIdx(buf: Uint8Array, file: string, expectedDims?: number): IdxArray {
  let b = buf;
  if (b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b) {
    try {
      b = gunzipSync(b);
    } catch (e) {
      throw new DatasetError(`${file}: gzip data is corrupt (${(e as Error).message})`);
    }
  }
  if (b.length < 4) throw new DatasetError(`${file}: expected an IDX file (at least a 4-byte header), found ${b.length} bytes`);
  const magicHex = Array.from(b.subarray(0, 4), (x) => x.toString(16).padStart(2, '0')).join('');
  if (b[0] !== 0 || b[1] !== 0) throw new DatasetError(`${file}: expected an IDX magic number 0x0000TTNN, found 0x${magicHex}`);
  if (b[2] !== 0x08) throw new DatasetError(`${file}: expected unsigned-byte IDX data (type 0x08), found type 0x${b[2].toString(16).padStart(2, '0')}`);
  const nd = b[3];
  if (expectedDims !== undefined && nd !== expectedDims) {
    throw new DatasetError(`${file}: expected ${expectedDims} dimension(s) (magic 0x0000080${expectedDims}), found ${nd} (magic 0x${magicHex})`);
  }
  if (nd < 1 || b.length < 4 + 4 * nd) throw new DatasetError(`${file}: header declares ${nd} dimensions but the file has only ${b.length} bytes`);
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const dims: number[] = [];
  for (let i = 0; i < nd; i++) dims.push(view.getUint32(4 + 4 * i, false));
  const count = dims.reduce((a, c) => a * c, 1);
  const start = 4 + 4 * nd;
  if (b.length - start !== count) {
    throw new DatasetError(`${file}: header dimensions [${dims.join(', ')}] need ${count} data bytes, found ${b.length - start}`);
  }
  return { dims, data: b.subarray(start) };
}

/** Scale and center `src` (h x w x c, 8-bit) into an S x S x c image. */
export function fitImage(src: Uint8Array, h: number, w: number, c: number, S: number, fit: FitMode, out: Uint8Array, outOffset: number): void {
  if (fit === 'pad' && h <= S && w <= S) {
    // centered, background = the image's corner value (0 for MNIST-like data)
    const y0 = Math.floor((S - h) / 2);
    const x0 = Math.floor((S - w) / 2);
    for (let ch = 0; ch < c; ch++) {
      const bg = src[ch];
      for (let i = 0; i < S * S; i++) out[outOffset + i * c + ch] = bg;
    }
    for (let y = 0; y < h; y++) {
      out.set(src.subarray(y * w * c, (y + 1) * w * c), outOffset + ((y0 + y) * S + x0) * c);
    }
    return;
  }
  // resize so the shorter side is S (area-averaging when shrinking, bilinear when growing), center-crop
  const scale = S / Math.min(h, w);
  const rh = Math.max(S, Math.round(h * scale));
  const rw = Math.max(S, Math.round(w * scale));
  const oy = Math.floor((rh - S) / 2);
  const ox = Math.floor((rw - S) / 2);
  for (let y = 0; y < S; y++) {
    for (let x = 0; x < S; x++) {
      // source rectangle of this output pixel
      const sy0 = (y + oy) / scale;
      const sy1 = (y + oy + 1) / scale;
      const sx0 = (x + ox) / scale;
      const sx1 = (x + ox + 1) / scale;
      for (let ch = 0; ch < c; ch++) {
        let v: number;
        if (scale < 1) {
          let acc = 0;
          let wsum = 0;
          for (let yy = Math.floor(sy0); yy < Math.min(h, Math.ceil(sy1)); yy++) {
            const wy = Math.min(sy1, yy + 1) - Math.max(sy0, yy);
            for (let xx = Math.floor(sx0); xx < Math.min(w, Math.ceil(sx1)); xx++) {
              const wx = Math.min(sx1, xx + 1) - Math.max(sx0, xx);
              acc += wy * wx * src[(yy * w + xx) * c + ch];
              wsum += wy * wx;
            }
          }
          v = wsum > 0 ? acc / wsum : 0;
        } else {
          const fy = Math.min(h - 1, Math.max(0, (sy0 + sy1) / 2 - 0.5));
          const fx = Math.min(w - 1, Math.max(0, (sx0 + sx1) / 2 - 0.5));
          const y0 = Math.floor(fy);
          const x0 = Math.floor(fx);
          const y1 = Math.min(h - 1, y0 + 1);
          const x1 = Math.min(w - 1, x0 + 1);
          const ay = fy - y0;
          const ax = fx - x0;
          const p = (yy: number, xx: number): number => src[(yy * w + xx) * c + ch];
          v = (1 - ay) * ((1 - ax) * p(y0, x0) + ax * p(y0, x1)) + ay * ((1 - ax) * p(y1, x0) + ax * p(y1, x1));
        }
        out[outOffset + (y * S + x) * c + ch] = Math.max(0, Math.min(255, Math.round(v)));
      }
    }
  }
}

export interface LoadOptions {
  size: number;
  channels: number;
  fit: FitMode;
  /** Use at most this many images (0 = all). */
  limit?: number;
}

/** IDX images ([N, H, W], grayscale) with optional IDX labels ([N]). */
export async function loadIdxDataset(imagesFile: string, labelsFile: string | undefined, opts: LoadOptions): Promise<Dataset> {
  const img = parseIdx(await readBytes(imagesFile, 'IDX images'), imagesFile, 3);
  const [n0, h, w] = img.dims;
  if (n0 === 0 || h === 0 || w === 0) throw new DatasetError(`${imagesFile}: expected a non-empty [N, H, W] image array, found [${img.dims.join(', ')}]`);
  let labels: Int32Array | null = null;
  if (labelsFile !== undefined) {
    const lab = parseIdx(await readBytes(labelsFile, 'IDX labels'), labelsFile, 1);
    if (lab.dims[0] !== n0) throw new DatasetError(`${labelsFile}: expected ${n0} labels (one per image of ${imagesFile}), found ${lab.dims[0]}`);
    labels = Int32Array.from(lab.data);
  }
  const n = opts.limit ? Math.min(opts.limit, n0) : n0;
  const S = opts.size;
  const C = opts.channels;
  const pixels = new Uint8Array(n * S * S * C);
  const tmp = new Uint8Array(h * w * C);
  for (let i = 0; i < n; i++) {
    const src = img.data.subarray(i * h * w, (i + 1) * h * w);
    if (C === 1) fitImage(src, h, w, 1, S, opts.fit, pixels, i * S * S);
    else {
      for (let p = 0; p < h * w; p++) for (let ch = 0; ch < C; ch++) tmp[p * C + ch] = src[p];
      fitImage(tmp, h, w, C, S, opts.fit, pixels, i * S * S * C);
    }
  }
  if (labels) labels = labels.slice(0, n);
  const maxLabel = labels ? labels.reduce((m, v) => Math.max(m, v), 0) : -1;
  const isFashion = path.basename(imagesFile).startsWith('train-images') || path.basename(imagesFile).startsWith('t10k-images');
  const classNames = labels ? (isFashion && imagesFile.includes('fashion') && maxLabel < 10 ? FASHION_MNIST_CLASSES.slice() : Array.from({ length: maxLabel + 1 }, (_, k) => String(k))) : null;
  return { pixels, count: n, size: S, channels: C, labels, classNames, source: imagesFile };
}

const IMAGE_EXT = /\.(png|jpe?g)$/i;

/** Decode a PNG or JPEG into 8-bit pixels with `channels` channels (1: luma, 3: RGB; alpha composited over black). */
export function decodeImage(buf: Uint8Array, file: string, channels: number): { data: Uint8Array; width: number; height: number } {
  let rgba: Uint8Array;
  let width: number;
  let height: number;
  let srcC: number;
  if (/\.png$/i.test(file)) {
    let png;
    try {
      png = decodePng(buf);
    } catch (e) {
      throw new DatasetError(`${file}: not a valid PNG (${(e as Error).message})`);
    }
    width = png.width;
    height = png.height;
    if (png.palette) {
      rgba = convertIndexedToRgb(png);
      srcC = rgba.length / (width * height); // 3, or 4 with a tRNS chunk
    } else {
      srcC = png.channels;
      if (png.depth === 16) rgba = Uint8Array.from(png.data as Uint16Array, (v) => v >> 8);
      else if (png.depth === 8) rgba = png.data as Uint8Array;
      else {
        // 1/2/4-bit grayscale: fast-png leaves them packed; expand
        const bits = png.depth;
        const packed = png.data as Uint8Array;
        const rowBytes = Math.ceil((width * bits * srcC) / 8);
        rgba = new Uint8Array(width * height * srcC);
        const maxV = (1 << bits) - 1;
        for (let y = 0; y < height; y++) {
          for (let x = 0; x < width * srcC; x++) {
            const bit = x * bits;
            const byte = packed[y * rowBytes + (bit >> 3)];
            const v = (byte >> (8 - bits - (bit & 7))) & maxV;
            rgba[y * width * srcC + x] = Math.round((v * 255) / maxV);
          }
        }
      }
    }
  } else {
    let j;
    try {
      j = jpeg.decode(buf, { useTArray: true, formatAsRGBA: false, maxMemoryUsageInMB: 1024 });
    } catch (e) {
      throw new DatasetError(`${file}: not a valid JPEG (${e instanceof Error ? e.message : String(e)})`);
    }
    width = j.width;
    height = j.height;
    rgba = j.data;
    srcC = rgba.length / (width * height);
  }
  if (!(width > 0 && height > 0) || !Number.isInteger(srcC) || srcC < 1 || srcC > 4) {
    throw new DatasetError(`${file}: decoded to an unexpected layout (${width}x${height}, ${rgba.length} bytes)`);
  }
  const out = new Uint8Array(width * height * channels);
  for (let p = 0; p < width * height; p++) {
    const s = p * srcC;
    let r: number;
    let g: number;
    let b: number;
    if (srcC <= 2) r = g = b = rgba[s];
    else {
      r = rgba[s];
      g = rgba[s + 1];
      b = rgba[s + 2];
    }
    const a = srcC === 2 ? rgba[s + 1] / 255 : srcC === 4 ? rgba[s + 3] / 255 : 1;
    // composite over black (the [-1, 1] background)
    r *= a;
    g *= a;
    b *= a;
    if (channels === 1) out[p] = Math.round(0.299 * r + 0.587 * g + 0.114 * b);
    else {
      out[p * 3] = Math.round(r);
      out[p * 3 + 1] = Math.round(g);
      out[p * 3 + 2] = Math.round(b);
    }
  }
  return { data: out, width, height };
}

/**
 * A folder of PNG/JPEG images. With sub-folders (root/<class>/*.png), each sub-folder is a class
 * (sorted by name); images directly in the root are unlabeled.
 */
export async function loadImageFolder(root: string, opts: LoadOptions): Promise<Dataset> {
  let entries;
  try {
    entries = await fsp.readdir(root, { withFileTypes: true });
  } catch (e) {
    throw new DatasetError(`${root}: cannot read the image folder (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  const subdirs = entries.filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name).sort();
  const files: { file: string; label: number }[] = [];
  let classNames: string[] | null = null;
  if (subdirs.length > 0) {
    classNames = [];
    for (const d of subdirs) {
      const imgs = (await fsp.readdir(path.join(root, d))).filter((f) => IMAGE_EXT.test(f)).sort();
      if (imgs.length === 0) continue;
      const label = classNames.length;
      classNames.push(d);
      for (const f of imgs) files.push({ file: path.join(root, d, f), label });
    }
  } else {
    for (const e of entries.filter((x) => x.isFile() && IMAGE_EXT.test(x.name)).map((x) => x.name).sort()) files.push({ file: path.join(root, e), label: -1 });
  }
  if (files.length === 0) {
    const found = entries.slice(0, 5).map((e) => e.name).join(', ');
    throw new DatasetError(`${root}: expected .png/.jpg/.jpeg images (directly or in class sub-folders), found ${entries.length === 0 ? 'an empty folder' : `none (entries: ${found}${entries.length > 5 ? ', ...' : ''})`}`);
  }
  const n = opts.limit ? Math.min(opts.limit, files.length) : files.length;
  const S = opts.size;
  const C = opts.channels;
  const pixels = new Uint8Array(n * S * S * C);
  const labels = classNames ? new Int32Array(n) : null;
  for (let i = 0; i < n; i++) {
    const { file, label } = files[i];
    const img = decodeImage(await readBytes(file, 'an image'), file, C);
    fitImage(img.data, img.height, img.width, C, S, opts.fit === 'pad' ? 'pad' : 'resize', pixels, i * S * S * C);
    if (labels) labels[i] = label;
  }
  return { pixels, count: n, size: S, channels: C, labels, classNames, source: root };
}
