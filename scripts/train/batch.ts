/**
 * One training batch, a pure function of (dataset, seed, step): which images (an epoch-wise permutation),
 * flips, timesteps t ~ U{0..T-1}, noise eps ~ N(0, I), label dropout, dropout seeds. The noisy input is
 * x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) eps (Ho et al. eq. 4, the core's qSample) and the target is
 * eps, x0 or v = sqrt(abar_t) eps - sqrt(1 - abar_t) x0 per the objective.
 *
 * Self-conditioning adds one coin per step (all images, all workers alike, as lucidrains' `random() < 0.5`)
 * from its own stream ('selfcond', seed, step); nothing else of the batch draws from it, so a run without
 * self-conditioning gets exactly the batches it got before the option existed.
 */
import { qSample, type NoiseSchedule } from '../../src/diffusion/index.ts';
import type { Dataset } from './data.ts';
import type { LossWeighting, Objective } from './options.ts';
import { Rng, hashKey } from './rng.ts';

export interface BatchSpec {
  seed: number;
  batchSize: number;
  objective: Objective;
  weighting: LossWeighting;
  hflip: boolean;
  /** 0 = unconditional; else labels are used and `labelDropout` of them become the null class numClasses. */
  numClasses: number;
  labelDropout: number;
  /** Self-conditioning on: each step flips the coin of `selfCond` (probability SELF_COND_P). */
  selfCondition?: boolean;
  /** Clip the first pass' x0 estimate to [-1, 1] (default true). */
  selfConditionClip?: boolean;
}

/** Probability that a step first predicts x0 without gradient and feeds it back (lucidrains: 0.5). */
export const SELF_COND_P = 0.5;

/**
 * The no-gradient first pass of a self-conditioned step: x0_hat = clip(a * x_t + b * f(x_t, t, y, 0)),
 * with (a, b) per image the objective's linear map from the model output to x0:
 * eps: (1/sqrt(abar), -sqrt(1/abar - 1)); v: (sqrt(abar), -sqrt(1 - abar)); x0: (0, 1).
 */
export interface SelfCondPass {
  a: Float32Array;
  b: Float32Array;
  /** Clip x0_hat to [-1, 1]. */
  clip: boolean;
  /** Base seed of that pass' dropout masks (shard k adds k, as dropoutSeed). */
  dropoutSeed: number;
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
  /** Self-conditioned runs only: the first pass when this step's coin says so; absent: the self-condition is zeros. */
  selfCond?: SelfCondPass;
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
 * P2 weight (Choi et al. 2022): (k + snr)^-gamma on the eps loss, lucidrains' `p2_loss_weight`. For the
 * other objectives it is carried over the way lucidrains carries min-SNR: at fixed x_t,
 * |x0 - x0^|^2 = |eps - eps^|^2 / snr and |v - v^|^2 = |eps - eps^|^2 (snr + 1) / snr, so the same
 * weighting of the eps loss is snr (k + snr)^-gamma for x0 and snr / (snr + 1) (k + snr)^-gamma for v.
 */
export function p2Weight(abar: number, k: number, gamma: number, objective: Objective): number {
  const snr = abar / (1 - abar);
  const w = (k + snr) ** -gamma;
  if (objective === 'eps') return w;
  if (objective === 'v') return (w * snr) / (snr + 1);
  return w * snr; // x0
}

/** The per-image loss weight of a step at abar_t. */
export function lossWeight(abar: number, weighting: LossWeighting, objective: Objective): number {
  if (weighting.kind === 'min-snr') return minSnrWeight(abar, weighting.gamma, objective);
  if (weighting.kind === 'p2') return p2Weight(abar, weighting.k, weighting.gamma, objective);
  return 1;
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
    for (let b = 0; b < B; b++) weight[b] = lossWeight(this.schedule.alphasCumprod[t[b]], this.spec.weighting, this.spec.objective);
    const batch: Batch = { step, xt, t, y, target, weight, dropoutSeed: hashKey('dropout', seed, step) % 1_000_000_007 };
    if (this.spec.selfCondition === true && Rng.of('selfcond', seed, step).uniform() < SELF_COND_P) batch.selfCond = this.selfCondPass(seed, step, t);
    return batch;
  }

  private selfCondPass(seed: number, step: number, t: Int32Array): SelfCondPass {
    const s = this.schedule;
    const a = new Float32Array(t.length);
    const b = new Float32Array(t.length);
    for (let i = 0; i < t.length; i++) {
      const ti = t[i];
      if (this.spec.objective === 'eps') [a[i], b[i]] = [s.sqrtRecipAlphasCumprod[ti], -s.sqrtRecipm1AlphasCumprod[ti]];
      else if (this.spec.objective === 'v') [a[i], b[i]] = [s.sqrtAlphasCumprod[ti], -s.sqrtOneMinusAlphasCumprod[ti]];
      else [a[i], b[i]] = [0, 1];
    }
    return { a, b, clip: this.spec.selfConditionClip ?? true, dropoutSeed: hashKey('selfcond-dropout', seed, step) % 1_000_000_007 };
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
    ...(batch.selfCond
      ? {
          selfCond: {
            a: batch.selfCond.a.slice(k * m, (k + 1) * m),
            b: batch.selfCond.b.slice(k * m, (k + 1) * m),
            clip: batch.selfCond.clip,
            dropoutSeed: (batch.selfCond.dropoutSeed + 104729 * k) % 1_000_000_007,
          },
        }
      : {}),
  };
}
