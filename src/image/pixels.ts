/** An 8-bit image, channels interleaved (HWC): gray (1) or RGB (3). */
export interface Image8 {
  width: number;
  height: number;
  channels: number;
  data: Uint8Array; // [H, W, C]
}

/** One value in [-1, 1] as an 8-bit level: round((clamp(v) + 1) * 127.5); NaN becomes 0. */
export function toByte(v: number): number {
  const clamped = v > 1 ? 1 : v < -1 ? -1 : v === v ? v : -1;
  return Math.round((clamped + 1) * 127.5);
}

/** An 8-bit level back in [-1, 1]: v / 127.5 - 1 (the inverse of toByte on its levels). */
export function fromByte(v: number): number {
  return v / 127.5 - 1;
}

/** x rounded to the 8-bit levels a PNG holds (toByte, then fromByte), as a new array: what a PNG round trip gives. */
export function quantize8(x: Float32Array): Float32Array {
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = fromByte(toByte(x[i]));
  return out;
}

/** An 8-bit HWC image as floats in [-1, 1], [C, H, W] (the inverse of toImages on 8-bit levels). */
export function fromImage(image: Image8): Float32Array {
  const { width: W, height: H, channels: C, data } = image;
  const out = new Float32Array(C * H * W);
  for (let i = 0; i < H * W; i++) for (let c = 0; c < C; c++) out[c * H * W + i] = fromByte(data[i * C + c]);
  return out;
}

/**
 * Images of a batch x in [-1, 1], [B, C, H, W], to 8-bit HWC: round((clamp(x) + 1) * 127.5).
 * NaN becomes 0 (the sampler refuses non-finite model outputs, this is a last guard).
 */
export function toImages(x: Float32Array, shape: readonly [number, number, number, number]): Image8[] {
  const [B, C, H, W] = shape;
  if (x.length !== B * C * H * W) throw new RangeError(`x holds ${x.length} values, not [${B}, ${C}, ${H}, ${W}]`);
  const images: Image8[] = [];
  const plane = H * W;
  for (let b = 0; b < B; b++) {
    const data = new Uint8Array(plane * C);
    const base = b * C * plane;
    for (let c = 0; c < C; c++) {
      for (let i = 0; i < plane; i++) data[i * C + c] = toByte(x[base + c * plane + i]);
    }
    images.push({ width: W, height: H, channels: C, data });
  }
  return images;
}

/** Nearest-neighbour integer upscaling (pixel art stays crisp). */
export function upscale(image: Image8, scale: number): Image8 {
  if (!Number.isInteger(scale) || scale < 1) throw new RangeError(`scale must be a positive integer (got ${scale})`);
  if (scale === 1) return image;
  const { width, height, channels } = image;
  const W = width * scale;
  const H = height * scale;
  const data = new Uint8Array(W * H * channels);
  const rowBytes = W * channels;
  for (let y = 0; y < height; y++) {
    const row = new Uint8Array(rowBytes);
    for (let x = 0; x < width; x++) {
      const src = (y * width + x) * channels;
      for (let s = 0; s < scale; s++) row.set(image.data.subarray(src, src + channels), (x * scale + s) * channels);
    }
    for (let s = 0; s < scale; s++) data.set(row, (y * scale + s) * rowBytes);
  }
  return { width: W, height: H, channels, data };
}
