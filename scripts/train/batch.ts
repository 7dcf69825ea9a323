/**
 * One training batch, a pure function of (dataset, seed, step): which images (an epoch-wise permutation),
 * flips, timesteps t ~ U{0..T-1}, noise eps ~ N(0, I), label dropout, dropout seeds. The noisy input is
 * x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) eps (Ho et al. eq. 4, the core's qSample) and the target is
 * eps, x0 or v = sqrt(abar_t) eps - sqrt(1 - abar_t) x0 per the objective.
 */
import { qSample, type NoiseSchedule } from '../../src/diffusion/index.ts';
import type { Dataset } from './data.ts';
import type { Objective } from './options.ts';
import { Rng, hashKey } from './rng.ts';

export interface BatchSpec {
  seed: number;
  batchSize: number;
  objective: Objective;
  minSnrGamma: number;
  hflip: boolean;
  /** 0 = unconditional; else labels are used and `labelDropout` of them become the null class numClasses. */
  numClasses: number;
  labelDropout: number;
}

/** Arrays are NHWC per image ([B, S, S, C]). */
export interface Batch {
  step: number;
  xt: Float32Array;
  t: Int32Array;
  y: Int32Array | null;
  target: Float32Array;
  /** Per-image loss weight (1, or min-SNR-gamma). */
  weight: Float32Array;
  /** Base seed of the dropout masks of this step (shard k adds k). */
  dropoutSeed: number;
}

/** Loss weight of min-SNR-gamma (Hang et al. 2023) for each objective; snr = abar / (1 - abar). */
export function minSnrWeight(abar: number, gamma: number, objective: Objective): number {
  if (gamma <= 0) return 1;
  const snr = abar / (1 - abar);
  const clipped = Math.min(snr, gamma);
  if (objective === 'eps') return clipped / snr;
  if (objective === 'v') return clipped / (snr + 1);
  return clipped; // x0
}

/**
 * The training images in a seeded order (an epoch-wise permutation from (seed, epoch)), written into batches
 * as NHWC floats in [-1, 1]. Shared by the DDPM batches here and the Cold Diffusion batches (cold-batch.ts).
 */
export class ImageOrder {
  private permEpoch = -1;
  private perm: Uint32Array = new Uint32Array(0);

  constructor(
    readonly ds: Dataset,
    private readonly seed: number,
  ) {}

  /** Dataset index of the global sample position p. */
  indexAt(p: number): number {
    const n = this.ds.count;
    const epoch = Math.floor(p / n);
    if (epoch !== this.permEpoch) {
      this.perm = Rng.of('perm', this.seed, epoch).permutation(n);
      this.permEpoch = epoch;
    }
    return this.perm[p % n];
  }

  /** Image `idx` into `x0` at offset `dst` (NHWC, in [-1, 1]), mirrored left-right when `flip`. */
  write(idx: number, flip: boolean, x0: Float32Array, dst: number): void {
    const { size: S, channels: C } = this.ds;
    const per = S * S * C;
    const src = this.ds.pixels.subarray(idx * per, (idx + 1) * per);
    for (let r = 0; r < S; r++) {
      for (let c = 0; c < S; c++) {
        const sc = flip ? S - 1 - c : c;
        for (let ch = 0; ch < C; ch++) x0[dst + (r * S + c) * C + ch] = src[(r * S + sc) * C + ch] / 127.5 - 1;
      }
    }
  }
}

export class BatchMaker {
  private readonly order: ImageOrder;

  constructor(
    private readonly ds: Dataset,
    private readonly schedule: NoiseSchedule,
    private readonly spec: BatchSpec,
  ) {
    if (spec.numClasses > 0 && ds.labels === null) throw new Error(`class conditioning needs labels, and ${ds.source} has none`);
    this.order = new ImageOrder(ds, spec.seed);
  }

  make(step: number): Batch {
    const { batchSize: B, seed } = this.spec;
    const { size: S, channels: C } = this.ds;
    const per = S * S * C;
    const rng = Rng.of('batch', seed, step);
    const x0 = new Float32Array(B * per);
    const t = new Int32Array(B);
    const y = this.spec.numClasses > 0 ? new Int32Array(B) : null;
    for (let b = 0; b < B; b++) {
      const idx = this.order.indexAt(step * B + b);
      this.order.write(idx, this.spec.hflip && rng.uniform() < 0.5, x0, b * per);
      t[b] = rng.int(this.schedule.T);
      if (y && this.ds.labels) y[b] = rng.uniform() < this.spec.labelDropout ? this.spec.numClasses : this.ds.labels[idx];
    }
    const eps = Rng.of('eps', seed, step).fillNormal(new Float32Array(B * per));
    const xt = qSample(this.schedule, x0, t, eps);
    let target: Float32Array;
    if (this.spec.objective === 'eps') target = eps;
    else if (this.spec.objective === 'x0') target = x0;
    else {
      target = new Float32Array(B * per);
      for (let b = 0; b < B; b++) {
        const a = this.schedule.sqrtAlphasCumprod[t[b]];
        const s = this.schedule.sqrtOneMinusAlphasCumprod[t[b]];
        for (let i = b * per; i < (b + 1) * per; i++) target[i] = a * eps[i] - s * x0[i];
      }
    }
    const weight = new Float32Array(B);
    for (let b = 0; b < B; b++) weight[b] = minSnrWeight(this.schedule.alphasCumprod[t[b]], this.spec.minSnrGamma, this.spec.objective);
    return { step, xt, t, y, target, weight, dropoutSeed: hashKey('dropout', seed, step) % 1_000_000_007 };
  }
}

/** Shard k of n (equal contiguous slices of the batch). */
export function shardOf(batch: Batch, k: number, n: number): Batch {
  const B = batch.t.length;
  if (B % n !== 0) throw new Error(`batch ${B} is not divisible into ${n} shards`);
  const m = B / n;
  const per = batch.xt.length / B;
  return {
    step: batch.step,
    xt: batch.xt.slice(k * m * per, (k + 1) * m * per),
    t: batch.t.slice(k * m, (k + 1) * m),
    y: batch.y ? batch.y.slice(k * m, (k + 1) * m) : null,
    target: batch.target.slice(k * m * per, (k + 1) * m * per),
    weight: batch.weight.slice(k * m, (k + 1) * m),
    dropoutSeed: (batch.dropoutSeed + 104729 * k) % 1_000_000_007,
  };
}
