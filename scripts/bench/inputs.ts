/** Forward inputs shared by the Node and workerd benches (pure). */
import type { ModelCard } from '../../src/model-card.ts';

/** Inputs of one forward: x ~ N(0, 1)-like values, t = T/2, class 0 (conditional models). */
export function forwardInputs(card: ModelCard, batch: number): { x: Float32Array; t: BigInt64Array; y?: BigInt64Array } {
  const n = card.channels * card.imageSize * card.imageSize;
  const x = new Float32Array(batch * n);
  let s = 12345;
  for (let i = 0; i < x.length; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    x[i] = (s / 2 ** 32) * 3.4 - 1.7;
  }
  const t = new BigInt64Array(batch).fill(BigInt(card.schedule.T >> 1));
  return { x, t, ...(card.io.class === undefined ? {} : { y: new BigInt64Array(batch) }) };
}

