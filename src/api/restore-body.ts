// The image of POST /v1/restore: read with a byte limit, checked as a PNG of the model's size and channels
// before it is decoded (including the size its compressed pixels inflate to, so a small body cannot expand
// into a large allocation), then decoded (fast-png) into floats in [-1, 1], [C, S, S]. Every refusal is a
// problem+json: 415 (not image/png), 413 (too large), 400 (not a PNG), 422 (a PNG this model cannot take).
import { convertIndexedToRgb, decode, hasPngSignature } from 'fast-png';
import { fromImage } from '../image/index.ts';
import { LIMITS } from '../render/limits.ts';
import { ProblemError } from './problem.ts';

/** What the restoration needs of the model's card. */
export interface ImageSpec {
  name: string;
  imageSize: number;
  channels: number;
}

function tooLarge(detail: string): ProblemError {
  return new ProblemError(413, 'Content too large', detail, { limit: LIMITS.maxRestoreBytes });
}

function notPng(detail: string): ProblemError {
  return new ProblemError(400, 'Invalid image', detail, { reason: 'not-png' });
}

function unusable(reason: 'size' | 'channels' | 'depth' | 'transparency', detail: string): ProblemError {
  return new ProblemError(422, 'Unusable image', detail, { reason });
}

/** The body, refused with 415 unless it is declared image/png, and with 413 past maxRestoreBytes (declared or read). */
export async function readPngBody(request: Request): Promise<Uint8Array> {
  const type = (request.headers.get('content-type') ?? '').split(';')[0]?.trim().toLowerCase();
  if (type !== 'image/png') {
    throw new ProblemError(415, 'Unsupported media type', `the body must be a PNG sent as Content-Type: image/png (got ${JSON.stringify(type || 'none')})`);
  }
  const limit = LIMITS.maxRestoreBytes;
  const declared = Number(request.headers.get('content-length') ?? NaN);
  if (declared > limit) throw tooLarge(`the body is ${declared} bytes; at most ${limit} are accepted`);
  if (request.body === null) throw notPng('the body is empty');
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel();
      throw tooLarge(`the body is over ${limit} bytes, the most accepted`);
    }
    chunks.push(value);
  }
  const body = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    body.set(c, at);
    at += c.byteLength;
  }
  if (size === 0) throw notPng('the body is empty');
  return body;
}

interface Header {
  width: number;
  height: number;
  depth: number;
  colorType: number;
  interlace: number;
  /** The zlib stream of the pixels: every IDAT chunk's data, in order. */
  idat: Uint8Array;
}

/** Samples per pixel of a PNG colour type (0 gray, 2 RGB, 3 indexed, 4 gray + alpha, 6 RGBA). */
const SAMPLES: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

/** The signature, IHDR and the IDAT data, read without inflating anything; 400 when the structure is broken. */
function readHeader(png: Uint8Array): Header {
  if (!hasPngSignature(png)) throw notPng('the body is not a PNG (no PNG signature)');
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  const type = (at: number): string => String.fromCharCode(...png.subarray(at, at + 4));
  if (png.length < 33 || type(12) !== 'IHDR') throw notPng('the PNG has no IHDR chunk');
  const header = { width: view.getUint32(16), height: view.getUint32(20), depth: png[24], colorType: png[25], interlace: png[28] };
  if (SAMPLES[header.colorType] === undefined) throw notPng(`the PNG has an unknown colour type ${header.colorType}`);
  const parts: Uint8Array[] = [];
  let at = 8;
  while (at + 8 <= png.length) {
    const length = view.getUint32(at);
    const name = type(at + 4);
    if (at + 12 + length > png.length) throw notPng(`the PNG is truncated (chunk ${name} runs past the end)`);
    if (name === 'IDAT') parts.push(png.subarray(at + 8, at + 8 + length));
    if (name === 'IEND') break;
    at += 12 + length;
  }
  if (parts.length === 0) throw notPng('the PNG has no image data (IDAT)');
  const idat = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let k = 0;
  for (const p of parts) {
    idat.set(p, k);
    k += p.length;
  }
  return { ...header, idat };
}

/** Bytes the pixel stream inflates to, stopping (and failing) past `limit`. */
async function inflatedSize(idat: Uint8Array, limit: number): Promise<number> {
  const stream = new Blob([idat as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new DecompressionStream('deflate'));
  const reader = stream.getReader();
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return size;
      size += value.byteLength;
      if (size > limit) {
        await reader.cancel();
        throw notPng(`the PNG's pixel data inflates past the ${limit} bytes its header allows`);
      }
    }
  } catch (error) {
    if (error instanceof ProblemError) throw error;
    throw notPng(`the PNG's pixel data is not a valid zlib stream (${(error as Error).message})`);
  }
}

/**
 * A PNG for a model of spec S x S x C as floats in [-1, 1], [C, S, S]. Accepted: 8-bit gray, RGB or indexed
 * PNGs of exactly S x S, opaque (an alpha channel must be 255 everywhere); a 1-channel model also takes RGB
 * whose three channels are equal (a browser canvas), a 3-channel model RGB only.
 */
export async function decodeRestoreImage(png: Uint8Array, spec: ImageSpec): Promise<Float32Array> {
  const h = readHeader(png);
  const S = spec.imageSize;
  const want = spec.channels === 1 ? 'grayscale (1 channel)' : 'RGB (3 channels)';
  if (h.width !== S || h.height !== S) throw unusable('size', `the image is ${h.width}x${h.height}; model ${spec.name} takes ${S}x${S}`);
  if (h.depth !== 8) throw unusable('depth', `the image has ${h.depth}-bit samples; 8-bit PNGs are accepted`);
  const rowBytes = 1 + Math.ceil((S * SAMPLES[h.colorType] * h.depth) / 8);
  // Adam7 adds at most one filter byte per row of each of its 7 passes
  await inflatedSize(h.idat, S * rowBytes + (h.interlace === 1 ? 7 * S : 0));
  let decoded;
  try {
    decoded = decode(png);
  } catch (error) {
    throw notPng(`the PNG cannot be decoded (${(error as Error).message})`);
  }
  let data = decoded.data as Uint8Array;
  let channels = decoded.channels;
  if (decoded.palette !== undefined) {
    data = convertIndexedToRgb(decoded) as Uint8Array;
    channels = decoded.palette[0]?.length ?? 3;
  } else if (decoded.transparency !== undefined) {
    throw unusable('transparency', 'the image has a transparent colour (tRNS); send an opaque image');
  }
  const color = channels >= 3 ? 3 : 1;
  const alpha = channels === 2 || channels === 4;
  const n = S * S;
  if (alpha) {
    for (let i = 0; i < n; i++) if (data[i * channels + channels - 1] !== 255) throw unusable('transparency', 'the image has transparent pixels; send an opaque image');
  }
  const pixels = new Uint8Array(n * spec.channels);
  if (spec.channels === 1 && color === 3) {
    for (let i = 0; i < n; i++) {
      const [r, g, b] = [data[i * channels], data[i * channels + 1], data[i * channels + 2]];
      if (r !== g || g !== b) throw unusable('channels', `the image has colour; model ${spec.name} takes ${want} (an RGB PNG is accepted when its channels are equal)`);
      pixels[i] = r;
    }
  } else if (spec.channels === color) {
    for (let i = 0; i < n; i++) for (let c = 0; c < color; c++) pixels[i * color + c] = data[i * channels + c];
  } else {
    throw unusable('channels', `the image is grayscale; model ${spec.name} takes ${want}`);
  }
  return fromImage({ width: S, height: S, channels: spec.channels, data: pixels });
}
