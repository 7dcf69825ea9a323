import { decode } from 'fast-png';
import { describe, expect, it } from 'vitest';
import { encodePng, gridLayout, makeGrid, toImages, upscale } from './index.ts';

describe('toImages', () => {
  it('maps [-1, 1] to 0..255 with rounding and clamping, NCHW to HWC', () => {
    // B=1, C=3, H=1, W=2
    const x = new Float32Array([-1, 1, 0, 2, -0.5, Number.NaN]);
    const [image] = toImages(x, [1, 3, 1, 2]);
    expect(image).toMatchObject({ width: 2, height: 1, channels: 3 });
    // pixel 0: (c0=-1, c1=0, c2=-0.5), pixel 1: (c0=1, c1=2 -> 1, c2=NaN -> -1)
    expect(Array.from(image!.data)).toEqual([0, 128, 64, 255, 255, 0]);
  });
});

describe('upscale and grids', () => {
  it('repeats pixels scale x scale', () => {
    const up = upscale({ width: 2, height: 1, channels: 1, data: new Uint8Array([1, 2]) }, 2);
    expect([up.width, up.height, Array.from(up.data)]).toEqual([4, 2, [1, 1, 2, 2, 1, 1, 2, 2]]);
  });

  it('lays images out row-major with padding', () => {
    expect(gridLayout(5, 16, 16, 2)).toEqual({ cols: 3, rows: 2, pad: 2, width: 56, height: 38 });
    const tiles = [1, 2, 3].map((v) => ({ width: 1, height: 1, channels: 1, data: new Uint8Array([v]) }));
    const grid = makeGrid(tiles, 1);
    // 2 columns, 2 rows of 1 px tiles with 1 px padding: 5 x 5
    expect([grid.width, grid.height]).toEqual([5, 5]);
    expect(grid.data[1 * 5 + 1]).toBe(1);
    expect(grid.data[1 * 5 + 3]).toBe(2);
    expect(grid.data[3 * 5 + 1]).toBe(3);
    expect(grid.data[3 * 5 + 3]).toBe(0);
  });

  it('encodes PNGs that decode to the same pixels, deterministically', () => {
    const image = { width: 3, height: 2, channels: 1, data: new Uint8Array([0, 50, 100, 150, 200, 250]) };
    const png = encodePng(image);
    expect(encodePng(image)).toEqual(png);
    const back = decode(png);
    expect([back.width, back.height, back.channels, Array.from(back.data)]).toEqual([3, 2, 1, Array.from(image.data)]);
  });
});
