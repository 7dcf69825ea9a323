/**
 * One Cold Diffusion training batch, a pure function of (dataset, seed, step), in the DDPM batch's shape
 * (batch.ts), so the gradient engines and the loss are shared: the input is x_t = D(x0, t + 1) (t ~ U{0..T-1}
 * is the network's timestep, after t + 1 degradation steps, as the paper's q_sample), rounded to 8 bits when
 * the process is `discrete`, and the target is x0: the paper's restoration loss ||R(D(x0, t), t) - x0||
 * (p_losses, `loss_type` l1). Random masks draw a centre per image. Draws come from the stream
 * ('cold-batch', seed, step): flip, t, mask centre per image, in that order.
 */
import { makeDegradation, needsCentres, type Degradation } from '../../src/cold/degrade.ts';
import type { ColdProcess } from '../../src/cold/process.ts';
import { quantize8 } from '../../src/image/pixels.ts';
import { ImageOrder, type Batch } from './batch.ts';
import type { Dataset } from './data.ts';
import { Rng, hashKey } from './rng.ts';

export interface ColdBatchSpec {
  seed: number;
  batchSize: number;
  hflip: boolean;
}

/** [B, S, S, C] <-> [B, C, S, S]. */
export function nhwcToNchw(x: Float32Array, B: number, S: number, C: number): Float32Array {
  if (C === 1) return x.slice();
  const out = new Float32Array(x.length);
  for (let b = 0; b < B; b++) for (let i = 0; i < S * S; i++) for (let c = 0; c < C; c++) out[(b * C + c) * S * S + i] = x[(b * S * S + i) * C + c];
  return out;
}

export function nchwToNhwc(x: Float32Array, B: number, S: number, C: number): Float32Array {
  if (C === 1) return x.slice();
  const out = new Float32Array(x.length);
  for (let b = 0; b < B; b++) for (let i = 0; i < S * S; i++) for (let c = 0; c < C; c++) out[(b * S * S + i) * C + c] = x[(b * C + c) * S * S + i];
  return out;
}

export class ColdBatchMaker {
  private readonly order: ImageOrder;
  readonly degradation: Degradation;

  constructor(
    private readonly ds: Dataset,
    private readonly process: ColdProcess,
    private readonly spec: ColdBatchSpec,
  ) {
    this.order = new ImageOrder(ds, spec.seed);
    this.degradation = makeDegradation(process, ds.size);
  }

  make(step: number): Batch {
    const { batchSize: B, seed } = this.spec;
    const { size: S, channels: C } = this.ds;
    const per = S * S * C;
    const T = this.process.T;
    const rng = Rng.of('cold-batch', seed, step);
    const x0 = new Float32Array(B * per);
    const t = new Int32Array(B);
    const centres = needsCentres(this.process) ? new Int32Array(2 * B) : undefined;
    for (let b = 0; b < B; b++) {
      this.order.write(this.order.indexAt(step * B + b), this.spec.hflip && rng.uniform() < 0.5, x0, b * per);
      t[b] = rng.int(T);
      if (centres) {
        // the paper's random crop offset in [0, S] puts the centre at S - 1 - offset
        centres[2 * b] = S - 1 - rng.int(S + 1);
        centres[2 * b + 1] = S - 1 - rng.int(S + 1);
      }
    }
    const levels = Int32Array.from(t, (v) => v + 1);
    let xt = this.degradation.apply(nhwcToNchw(x0, B, S, C), C, levels, centres);
    if (this.process.discrete) xt = quantize8(xt);
    return {
      step,
      xt: nchwToNhwc(xt, B, S, C),
      t,
      y: null,
      target: x0,
      weight: new Float32Array(B).fill(1),
      dropoutSeed: hashKey('dropout', seed, step) % 1_000_000_007,
    };
  }
}
