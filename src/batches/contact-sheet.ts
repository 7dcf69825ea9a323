import { decode } from 'fast-png';
import { encodePng, makeGrid, type Image8 } from '../image/index.ts';
import { GRID_PAD } from '../render/render.ts';

/** Decodes one of our own 8-bit gray or RGB PNGs. */
function decodePng(bytes: Uint8Array): Image8 {
  const png = decode(bytes);
  if (png.depth !== 8 || (png.channels !== 1 && png.channels !== 3)) throw new RangeError('expected an 8-bit gray or RGB PNG');
  return { width: png.width, height: png.height, channels: png.channels, data: new Uint8Array(png.data) };
}

/** The contact sheet of a job: its images, in order k = 0.., on the grid layout of /v1/grids. */
export function contactSheet(pngs: readonly Uint8Array[]): Uint8Array<ArrayBuffer> {
  return encodePng(makeGrid(pngs.map(decodePng), GRID_PAD));
}
