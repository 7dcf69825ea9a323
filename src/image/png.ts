import { encode } from 'fast-png';
import type { Image8 } from './pixels.ts';

/** PNG bytes of an 8-bit gray or RGB image. Deterministic: same pixels, same bytes (pure-JS deflate). */
export function encodePng(image: Image8): Uint8Array<ArrayBuffer> {
  if (image.channels !== 1 && image.channels !== 3) throw new RangeError(`PNG encoding supports 1 or 3 channels (got ${image.channels})`);
  return encode({ width: image.width, height: image.height, data: image.data, channels: image.channels, depth: 8 }).slice();
}
