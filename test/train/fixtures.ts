/** Test fixtures shared by the training tests. */

/** An IDX file: magic 0x000008NN, dims (big-endian uint32), bytes. */
export function idxBytes(dims: number[], data: Uint8Array): Uint8Array {
  const head = new Uint8Array(4 + 4 * dims.length);
  const v = new DataView(head.buffer);
  head[2] = 0x08;
  head[3] = dims.length;
  dims.forEach((d, i) => v.setUint32(4 + 4 * i, d, false));
  const out = new Uint8Array(head.length + data.length);
  out.set(head);
  out.set(data, head.length);
  return out;
}

/** n 8x8 images of two classes (a vertical or a horizontal bar at a position that varies) and their labels. */
export function barImages(n: number): { pixels: Uint8Array; labels: Uint8Array } {
  const pixels = new Uint8Array(n * 64);
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const cls = i % 2;
    const pos = 1 + ((i * 5) % 6);
    labels[i] = cls;
    for (let k = 0; k < 8; k++) pixels[i * 64 + (cls === 0 ? k * 8 + pos : pos * 8 + k)] = 255;
  }
  return { pixels, labels };
}
