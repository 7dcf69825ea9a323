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
