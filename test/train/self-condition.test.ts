import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { makeSchedule } from '../../src/diffusion/index.ts';
import { selectBackend } from '../../scripts/train/backend.ts';
import { BatchMaker, SELF_COND_P, lossWeight, p2Weight, shardOf, type Batch, type BatchSpec } from '../../scripts/train/batch.ts';
import { lossAndGrads, selfCondition } from '../../scripts/train/grad.ts';
import { createUNet, forward, type TfjsUNet } from '../../scripts/train/model.ts';
import { lossWeighting, validateTrainOptions, DEFAULT_TRAIN } from '../../scripts/train/options.ts';
import type { Dataset } from '../../scripts/train/data.ts';
import type { UNetConfig } from '../../scripts/model/config.ts';

const schedule = makeSchedule({ kind: 'linear', T: 1000 });

function dataset(): Dataset {
  const n = 40;
  const pixels = new Uint8Array(n * 64).map((_, i) => (i * 37) % 256);
  return { pixels, count: n, size: 8, channels: 1, labels: Int32Array.from({ length: n }, (_, i) => i % 2), classNames: ['a', 'b'], source: 'test' };
}

const spec = (over: Partial<BatchSpec> = {}): BatchSpec => ({
  seed: 7,
  batchSize: 4,
  objective: 'eps',
  weighting: { kind: 'none' },
  hflip: true,
  numClasses: 2,
  labelDropout: 0.2,
  ...over,
});

describe('self-conditioned batches', () => {
  it('leave every other draw of the batch as it was; the coin is per step, seeded and near 1/2', () => {
    const plain = new BatchMaker(dataset(), schedule, spec());
    const sc = new BatchMaker(dataset(), schedule, spec({ selfCondition: true }));
    let heads = 0;
    for (let step = 0; step < 200; step++) {
      const { selfCond, ...rest } = sc.make(step);
      expect(rest).toEqual(plain.make(step));
      expect(plain.make(step).selfCond).toBeUndefined();
      if (selfCond) heads++;
      expect(sc.make(step).selfCond === undefined).toBe(selfCond === undefined);
    }
    expect(SELF_COND_P).toBe(0.5);
    expect(heads).toBeGreaterThan(80);
    expect(heads).toBeLessThan(120);
  });

  it('carry the linear map from the model output to x0 per objective, clipped by default', () => {
    const firstPass = (objective: 'eps' | 'v' | 'x0'): NonNullable<Batch['selfCond']> & { t: Int32Array } => {
      const bm = new BatchMaker(dataset(), schedule, spec({ selfCondition: true, objective }));
      for (let step = 0; ; step++) {
        const b = bm.make(step);
        if (b.selfCond) return { ...b.selfCond, t: b.t };
      }
    };
    const e = firstPass('eps');
    expect(e.clip).toBe(true);
    e.t.forEach((t, i) => {
      expect(e.a[i]).toBeCloseTo(1 / Math.sqrt(schedule.alphasCumprod[t]), 3);
      expect(e.b[i]).toBeCloseTo(-Math.sqrt(1 / schedule.alphasCumprod[t] - 1), 3);
    });
    const v = firstPass('v');
    v.t.forEach((t, i) => expect([v.a[i], v.b[i]]).toEqual([Math.fround(schedule.sqrtAlphasCumprod[t]), Math.fround(-schedule.sqrtOneMinusAlphasCumprod[t])]));
    const x0 = firstPass('x0');
    expect([...x0.a, ...x0.b]).toEqual([0, 0, 0, 0, 1, 1, 1, 1]);
    const bm = new BatchMaker(dataset(), schedule, spec({ selfCondition: true, selfConditionClip: false }));
    const b = Array.from({ length: 10 }, (_, s) => bm.make(s)).find((x) => x.selfCond);
    expect(b?.selfCond?.clip).toBe(false);
    // shards split the coefficients and give each worker its own dropout masks
    if (!b?.selfCond) throw new Error('no self-conditioned step in 10');
    const s1 = shardOf(b, 1, 2).selfCond;
    expect(Array.from(s1?.a ?? [])).toEqual(Array.from(b.selfCond.a.slice(2)));
    expect(s1?.dropoutSeed).not.toBe(shardOf(b, 0, 2).selfCond?.dropoutSeed);
  });
});

describe('self-conditioning forward/backward', () => {
  const cfg: UNetConfig = { imageSize: 8, channels: 1, baseChannels: 8, channelMults: [1, 2], numResBlocks: 1, attentionResolutions: [4], dropout: 0.1, groups: 4, numClasses: 2, selfCondition: true };

  async function model(): Promise<TfjsUNet> {
    await selectBackend('wasm');
    const m = createUNet(cfg, 5);
    // zero-initialised convs get small random values, so the output (and so the x0 estimate) is not trivial
    for (const [name, v] of m.params) if (name.endsWith('kernel') && tf.max(tf.abs(v)).dataSync()[0] === 0) v.assign(tf.randomNormal(v.shape, 0, 0.3, 'float32', name.length));
    return m;
  }

  const shard = (pass: boolean): Batch => {
    const B = 2;
    const t = Int32Array.from([30, 700]);
    return {
      step: 0,
      xt: new Float32Array(B * 64).map((_, i) => 1.5 * Math.sin(i * 0.37)),
      t,
      y: Int32Array.from([1, 2]),
      target: new Float32Array(B * 64).map((_, i) => Math.cos(i * 0.11)),
      weight: Float32Array.from([1, 0.5]),
      dropoutSeed: 11,
      ...(pass
        ? { selfCond: { a: Float32Array.from(t, (k) => schedule.sqrtRecipAlphasCumprod[k]), b: Float32Array.from(t, (k) => -schedule.sqrtRecipm1AlphasCumprod[k]), clip: true, dropoutSeed: 99 } }
        : {}),
    };
  };

  const grads = (m: TfjsUNet, s: Batch, selfCond: (xt: tf.Tensor4D, t: tf.Tensor, y: tf.Tensor) => tf.Tensor): Map<string, Float32Array> => {
    const vars = m.layout.entries.map((e) => m.params.get(e.name) as tf.Variable);
    const out = new Map<string, Float32Array>();
    tf.tidy(() => {
      const xt = tf.tensor4d(s.xt, [2, 8, 8, 1]);
      const t = tf.tensor1d(s.t, 'int32');
      const y = tf.tensor1d(s.y as Int32Array, 'int32');
      const { grads: g } = tf.variableGrads(() => {
        const pred = forward(m, xt, t, y, { training: true, dropoutSeed: s.dropoutSeed }, selfCond(xt, t, y));
        return tf.mean(tf.mul(tf.square(tf.sub(pred, tf.tensor4d(s.target, [2, 8, 8, 1]))), tf.tensor4d(s.weight, [2, 1, 1, 1]))) as tf.Scalar;
      }, vars);
      m.layout.entries.forEach((e, i) => out.set(e.name, (g[vars[i].name]?.dataSync() as Float32Array | undefined) ?? new Float32Array(e.size)));
    });
    return out;
  };

  it('the no-grad pass is clip(a x_t + b f(x_t, t, y, 0)) in training mode with its own dropout masks', async () => {
    const m = await model();
    const s = shard(true);
    const pass = s.selfCond as NonNullable<Batch['selfCond']>;
    const [got, want, unclipped, otherMask] = tf.tidy(() => {
      const xt = tf.tensor4d(s.xt, [2, 8, 8, 1]);
      const t = tf.tensor1d(s.t, 'int32');
      const y = tf.tensor1d(s.y as Int32Array, 'int32');
      const out = forward(m, xt, t, y, { training: true, dropoutSeed: 99 }, tf.zeros([2, 8, 8, 1])).dataSync();
      const raw = Float32Array.from(s.xt, (x, i) => Math.fround(Math.fround(x * pass.a[i >> 6]) + Math.fround(out[i] * pass.b[i >> 6])));
      const other = forward(m, xt, t, y, { training: true, dropoutSeed: 100 }, tf.zeros([2, 8, 8, 1])).dataSync();
      return [selfCondition(m, s, xt, t, y)?.dataSync() as Float32Array, raw.map((v) => Math.min(1, Math.max(-1, v))), raw, other];
    });
    expect(Array.from(got)).toEqual(Array.from(want));
    expect(Math.max(...unclipped.map(Math.abs))).toBeGreaterThan(1); // the clip did something
    expect(Array.from(got).some((v) => Math.abs(v) < 0.999)).toBe(true);
    expect(Array.from(otherMask)).not.toEqual(Array.from(got)); // dropout is on in that pass
    // without the step's pass the self-condition is zeros; a model without self-conditioning has none
    const zeros = tf.tidy(() => selfCondition(m, shard(false), tf.zeros([2, 8, 8, 1]), tf.tensor1d([1, 2], 'int32'), undefined)?.dataSync());
    expect(Array.from(zeros ?? [1]).every((v) => v === 0)).toBe(true);
    const plain = createUNet({ ...cfg, selfCondition: false }, 5);
    expect(selfCondition(plain, s, tf.zeros([2, 8, 8, 1]), tf.tensor1d([1, 2], 'int32'), undefined)).toBeUndefined();
    expect(m.params.get('in/conv/kernel')?.shape).toEqual([3, 3, 2, 8]);
    expect(plain.params.get('in/conv/kernel')?.shape).toEqual([3, 3, 1, 8]);
  });

  it('the gradient treats the estimate as a constant input (no gradient through the first pass)', async () => {
    const m = await model();
    const s = shard(true);
    const pass = s.selfCond as NonNullable<Batch['selfCond']>;
    const est = tf.tidy(() => selfCondition(m, s, tf.tensor4d(s.xt, [2, 8, 8, 1]), tf.tensor1d(s.t, 'int32'), tf.tensor1d(s.y as Int32Array, 'int32')) as tf.Tensor);
    const r = lossAndGrads(m, s, 'l2');
    const constant = grads(m, s, () => est);
    // the same estimate computed on the tape: gradients would flow through the first pass
    const taped = grads(m, s, (xt, t, y) => {
      const out = forward(m, xt, t, y, { training: true, dropoutSeed: pass.dropoutSeed }, tf.zerosLike(xt));
      return tf.clipByValue(tf.add(tf.mul(xt, tf.tensor4d(pass.a, [2, 1, 1, 1])), tf.mul(out, tf.tensor4d(pass.b, [2, 1, 1, 1]))), -1, 1);
    });
    let maxDiff = 0;
    let tapedDiff = 0;
    for (const e of m.layout.entries) {
      const g = r.grads.subarray(e.offset, e.offset + e.size);
      const c = constant.get(e.name) as Float32Array;
      const tp = taped.get(e.name) as Float32Array;
      for (let i = 0; i < e.size; i++) {
        maxDiff = Math.max(maxDiff, Math.abs(g[i] - c[i]));
        tapedDiff = Math.max(tapedDiff, Math.abs(g[i] - tp[i]));
      }
    }
    expect(maxDiff).toBeLessThan(1e-6);
    expect(tapedDiff).toBeGreaterThan(1e-3);
    // the self-condition channel of in/conv learns only when an estimate is fed (zeros give it no gradient)
    const inConv = m.layout.entries.find((e) => e.name === 'in/conv/kernel');
    if (!inConv) throw new Error('in/conv/kernel missing');
    const scSlice = (g: Float32Array): number[] => Array.from(g.subarray(inConv.offset, inConv.offset + inConv.size)).filter((_, i) => Math.floor(i / 8) % 2 === 0);
    expect(scSlice(r.grads).some((v) => v !== 0)).toBe(true);
    expect(scSlice(lossAndGrads(m, shard(false), 'l2').grads).every((v) => v === 0)).toBe(true);
    est.dispose();
  });
});

describe('p2 loss weight', () => {
  it("is lucidrains' (k + snr)^-gamma for eps, and the same weighting of the eps loss for x0 and v", () => {
    for (const t of [0, 10, 250, 500, 750, 999]) {
      const abar = schedule.alphasCumprod[t];
      const snr = abar / (1 - abar);
      // lucidrains 0.27: p2_loss_weight = (p2_loss_weight_k + alphas_cumprod / (1 - alphas_cumprod)) ** -p2_loss_weight_gamma
      for (const [k, gamma] of [[1, 1], [1, 0.5], [2, 1], [1, 0]]) expect(p2Weight(abar, k, gamma, 'eps')).toBeCloseTo((k + snr) ** -gamma, 12);
      // k = gamma = 1: (1 + snr)^-1 = 1 - abar, so x0 gets abar and v gets abar (1 - abar)
      expect(p2Weight(abar, 1, 1, 'eps')).toBeCloseTo(1 - abar, 12);
      expect(p2Weight(abar, 1, 1, 'x0')).toBeCloseTo(abar, 12);
      expect(p2Weight(abar, 1, 1, 'v')).toBeCloseTo(abar * (1 - abar), 12);
      // the weighted losses agree for one prediction error at fixed x_t: d x0 = -sqrt(1 - abar) / sqrt(abar) d eps, d v = d eps / sqrt(abar)
      const dEps = 0.3;
      const epsLoss = p2Weight(abar, 1, 1, 'eps') * dEps ** 2;
      expect(p2Weight(abar, 1, 1, 'x0') * ((Math.sqrt(1 - abar) / Math.sqrt(abar)) * dEps) ** 2).toBeCloseTo(epsLoss, 10);
      expect(p2Weight(abar, 1, 1, 'v') * (dEps / Math.sqrt(abar)) ** 2).toBeCloseTo(epsLoss, 10);
    }
    expect(lossWeight(0.5, { kind: 'p2', k: 1, gamma: 1 }, 'eps')).toBe(0.5);
    expect(lossWeight(0.5, { kind: 'none' }, 'x0')).toBe(1);
    expect(lossWeight(0.9, { kind: 'min-snr', gamma: 5 }, 'eps')).toBeCloseTo(5 / 9, 12);
  });

  it('reaches the batch weights, and older configs keep meaning what they meant', () => {
    const b = new BatchMaker(dataset(), schedule, spec({ weighting: { kind: 'p2', k: 1, gamma: 1 } })).make(3);
    b.t.forEach((t, i) => expect(b.weight[i]).toBe(Math.fround(1 - schedule.alphasCumprod[t])));
    expect(lossWeighting({ ...DEFAULT_TRAIN, minSnrGamma: 5 })).toEqual({ kind: 'min-snr', gamma: 5 });
    expect(lossWeighting({ ...DEFAULT_TRAIN })).toEqual({ kind: 'none' });
    expect(lossWeighting({ ...DEFAULT_TRAIN, lossWeight: 'p2', p2K: 1, p2Gamma: 1 })).toEqual({ kind: 'p2', k: 1, gamma: 1 });
    expect(() => validateTrainOptions({ ...DEFAULT_TRAIN, lossWeight: 'p2', minSnrGamma: 5, p2K: 1, p2Gamma: 1 })).toThrow(/lossWeight p2 excludes min-SNR/);
    expect(() => validateTrainOptions({ ...DEFAULT_TRAIN, lossWeight: 'p2' })).toThrow(/training\.p2K must be a number/);
    expect(() => validateTrainOptions({ ...DEFAULT_TRAIN, lossWeight: 'min-snr' })).toThrow(/needs minSnrGamma > 0/);
  });
});
