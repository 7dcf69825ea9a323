/** An 8-bit image, channels interleaved (HWC): gray (1) or RGB (3). */
export interface Image8 {
  width: number;
  height: number;
  channels: number;
  data: Uint8Array; // [H, W, C]
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
      for (let i = 0; i < plane; i++) {
        const v = x[base + c * plane + i];
        const clamped = v > 1 ? 1 : v < -1 ? -1 : v === v ? v : -1;
        data[i * C + c] = Math.round((clamped + 1) * 127.5);
      }
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
