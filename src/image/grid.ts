import type { Image8 } from './pixels.ts';

export interface GridLayout {
  cols: number;
  rows: number;
  /** Pixels between tiles and around the border. */
  pad: number;
  width: number;
  height: number;
}

/** cols = ceil(sqrt(n)), rows = ceil(n / cols); tiles of tileW x tileH with `pad` pixels around each. */
export function gridLayout(n: number, tileW: number, tileH: number, pad: number): GridLayout {
  const cols = Math.ceil(Math.sqrt(n));
  const rows = Math.ceil(n / cols);
  return { cols, rows, pad, width: cols * tileW + (cols + 1) * pad, height: rows * tileH + (rows + 1) * pad };
}

/** Lays images of one size out row-major on a black background; image k at (k % cols, floor(k / cols)). */
export function makeGrid(images: readonly Image8[], pad: number): Image8 {
  const first = images[0];
  if (!first) throw new RangeError('a grid needs at least one image');
  const { width: w, height: h, channels } = first;
  const layout = gridLayout(images.length, w, h, pad);
  const data = new Uint8Array(layout.width * layout.height * channels);
  images.forEach((image, k) => {
    if (image.width !== w || image.height !== h || image.channels !== channels) throw new RangeError('grid images must share one size');
    const x0 = pad + (k % layout.cols) * (w + pad);
    const y0 = pad + Math.floor(k / layout.cols) * (h + pad);
    for (let y = 0; y < h; y++) {
      data.set(image.data.subarray(y * w * channels, (y + 1) * w * channels), ((y0 + y) * layout.width + x0) * channels);
    }
  });
  return { width: layout.width, height: layout.height, channels, data };
}
