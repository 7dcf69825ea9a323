/**
 * Cold Diffusion sampling (Bansal et al. 2022): from x_t, a degraded image at level t, back to level 0 with a
 * restoration network R(x_s, s) ~ x0. The paper's code (deblurring_diffusion_pytorch.py `sample`,
 * `sampling_routine`):
 *   Algorithm 1 (`default`, naive):        x_{s-1} = D(R(x_s, s), s - 1)
 *   Algorithm 2 (`x0_step_down`, improved): x_{s-1} = x_s - D(R(x_s, s), s) + D(R(x_s, s), s - 1)
 * for s = t, t - 1, ..., 1. The network's timestep input is s - 1 (the paper calls denoise_fn(img, t - 1) at
 * level t, and trains on t ~ U{0..T-1} after t + 1 degradation steps). Algorithm 2 is exact whatever R when
 * D(x, s) = x + s e (its section 3.3), and tolerates errors of R that Algorithm 1 compounds.
 */
import { checkInt, checkOneOf, DiffusionOptionError } from '../diffusion/errors.ts';
import { NonFiniteOutputError } from '../diffusion/sample.ts';
import type { Degradation, MaskCentres } from './degrade.ts';

/** R(x_s, s - 1): x [B, C, H, W] at level s, the network timestep s - 1 per image; returns the x0 estimate. */
export type RestoreModel = (x: Float32Array, t: Int32Array) => Promise<Float32Array>;

/** `2`: the paper's Algorithm 2 (the default everywhere); `1`: its naive Algorithm 1, for comparison. */
export type ColdAlgorithm = 1 | 2;
export const COLD_ALGORITHMS: readonly ColdAlgorithm[] = [2, 1];

export interface ColdStepInfo {
  /** 0-based index of the step just taken, of `total`. */
  index: number;
  total: number;
  /** The level the step started from (t .. 1); the step lands on t - 1. */
  t: number;
  /** x_{t-1} after the step, [B, C, H, W]. */
  x: Float32Array;
  /** R(x_t, t): the network's estimate of x0 at this step. */
  predX0: Float32Array;
}

export interface ColdSampleOptions {
  restorer: RestoreModel;
  degradation: Degradation;
  /** x_t, [B, C, H, W] (not modified). */
  xt: Float32Array;
  channels: number;
  /** The level of x_t, 1..T. */
  t: number;
  algorithm?: ColdAlgorithm;
  /** Random masks: the centre of each image (as when x_t was degraded). */
  centres?: MaskCentres;
  onStep?: (info: ColdStepInfo) => void | Promise<void>;
  signal?: AbortSignal;
}

/** Restores x_t to level 0 with Algorithm 2 (or 1); returns x_0 [B, C, H, W]. */
export async function coldSample(o: ColdSampleOptions): Promise<Float32Array> {
  const { degradation: D, channels: C } = o;
  const S = D.size;
  const t0 = checkInt('t', o.t, 1, D.T);
  const algorithm = Number(checkOneOf('algorithm', String(o.algorithm ?? 2), ['1', '2'])) as ColdAlgorithm;
  const per = C * S * S;
  if (o.xt.length === 0 || o.xt.length % per !== 0) throw new DiffusionOptionError('xt', `must hold [B, ${C}, ${S}, ${S}] values (got ${o.xt.length})`);
  const B = o.xt.length / per;
  let x: Float32Array = o.xt.slice();
  const total = t0;
  for (let s = t0; s >= 1; s--) {
    o.signal?.throwIfAborted();
    const predX0 = await o.restorer(x, new Int32Array(B).fill(s - 1));
    if (predX0.length !== x.length) throw new DiffusionOptionError('restorer', `must return ${x.length} values (got ${predX0.length})`);
    for (let i = 0; i < predX0.length; i++) {
      if (!Number.isFinite(predX0[i])) throw new NonFiniteOutputError(`the restoration network returned a non-finite value at level ${s}`);
    }
    const down = D.apply(predX0, C, s - 1, o.centres); // D(x0_hat, s - 1)
    if (algorithm === 1) x = down;
    else {
      const here = D.apply(predX0, C, s, o.centres); // D(x0_hat, s)
      const next = new Float32Array(x.length);
      for (let i = 0; i < x.length; i++) next[i] = x[i] - here[i] + down[i];
      x = next;
    }
    await o.onStep?.({ index: t0 - s, total, t: s, x, predX0 });
  }
  return x;
}
