/** Forward inputs shared by the benches and the eval's timing probe (pure: Node and workerd). */
import type { ModelInputs } from '../../src/diffusion/types.ts';
import type { ModelCard, ModelIo } from '../../src/model-card.ts';

/**
 * Inputs of one forward of batch `batch`, as a graph with `io` takes them: x ~ N(0, 1)-like values, timestep t,
 * class 0 (conditional models), a zero x0 estimate (self-conditioned models; the cost does not depend on it).
 */
export function inputsFor(spec: { io: ModelIo; dims: readonly [number, number, number] }, batch: number, t: number): ModelInputs {
  const n = spec.dims[0] * spec.dims[1] * spec.dims[2];
  const x = new Float32Array(batch * n);
  let s = 12345;
  for (let i = 0; i < x.length; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    x[i] = (s / 2 ** 32) * 3.4 - 1.7;
  }
  return {
    x,
    t: new Int32Array(batch).fill(t),
    ...(spec.io.class === undefined ? {} : { classes: new Int32Array(batch) }),
    ...(spec.io.selfCond === undefined ? {} : { selfCond: new Float32Array(batch * n) }),
  };
}

/** inputsFor a model card's graph at t = T/2. */
export function forwardInputs(card: ModelCard, batch: number): ModelInputs {
  return inputsFor({ io: card.io, dims: [card.channels, card.imageSize, card.imageSize] }, batch, card.schedule.T >> 1);
}
