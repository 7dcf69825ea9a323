/** Pure image helpers: [-1, 1] floats to 8-bit pixels, upscaling, grids, PNG. No I/O. */
export * from './pixels.ts';
export * from './grid.ts';
export * from './png.ts';
