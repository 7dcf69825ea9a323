/** Forward inputs shared by the Node and workerd benches (pure). */
import type { ModelInputs } from '../../src/diffusion/types.ts';
import type { ModelCard } from '../../src/model-card.ts';

/**
 * Inputs of one forward, as the card's graph takes them: x ~ N(0, 1)-like values, t = T/2, class 0
 * (conditional models), a zero x0 estimate (self-conditioned models; the cost does not depend on it).
 */
export function forwardInputs(card: ModelCard, batch: number): ModelInputs {
  const n = card.channels * card.imageSize * card.imageSize;
  const x = new Float32Array(batch * n);
  let s = 12345;
  for (let i = 0; i < x.length; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    x[i] = (s / 2 ** 32) * 3.4 - 1.7;
  }
  const t = new Int32Array(batch).fill(card.schedule.T >> 1);
  return {
    x,
    t,
    ...(card.io.class === undefined ? {} : { classes: new Int32Array(batch) }),
    ...(card.io.selfCond === undefined ? {} : { selfCond: new Float32Array(batch * n) }),
  };
}
