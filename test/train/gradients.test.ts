import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { conv3x3Forward, convBias, upsampleConv } from '../../scripts/model/conv-tfjs.ts';
import { attentionCore, attentionPlain } from '../../scripts/model/attention-tfjs.ts';
import { gemmKernelGradAvailable, gemmPathCalls, kernelGradGemm, matMulTN, sliceOnHeap, useWasmGemm } from '../../scripts/model/wasm-kernel-grad.ts';
import { selectBackend } from '../../scripts/train/backend.ts';
import { createUNet, forward } from '../../scripts/train/model.ts';
import { lossAndGrads } from '../../scripts/train/grad.ts';
import type { UNetConfig } from '../../scripts/model/config.ts';

const PAD1: [[number, number], [number, number], [number, number], [number, number]] = [[0, 0], [1, 1], [1, 1], [0, 0]];

function maxRelErr(a: tf.Tensor, b: tf.Tensor): number {
  const d = tf.max(tf.abs(tf.sub(a, b))).dataSync()[0];
  const s = tf.max(tf.abs(b)).dataSync()[0];
  return d / Math.max(s, 1e-12);
}

describe('hand-built convolution gradients', () => {
  // the cpu backend has Conv2DBackpropFilter/Input, so tfjs' own autodiff is the reference
  for (const stride of [1, 2] as const) {
    for (const [h, w] of [[8, 8], [6, 10]]) {
      it(`match autodiff (stride ${stride}, ${h}x${w})`, async () => {
        await selectBackend('cpu');
        const x = tf.randomNormal([3, h, w, 5], 0, 1, 'float32', 11) as tf.Tensor4D;
        const k = tf.randomNormal([3, 3, 5, 4], 0, 1, 'float32', 12) as tf.Tensor4D;
        const r = tf.randomNormal([3, h / stride, w / stride, 4], 0, 1, 'float32', 13);
        const mine = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(conv3x3Forward[stride](a as tf.Tensor4D, b as tf.Tensor4D), r)));
        const ref = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, stride, PAD1), r)));
        const [dx, dw] = mine([x, k]);
        const [rx, rw] = ref([x, k]);
        expect(dx.shape).toEqual(x.shape);
        expect(dw.shape).toEqual(k.shape);
        expect(maxRelErr(dx, rx)).toBeLessThan(1e-5);
        expect(maxRelErr(dw, rw)).toBeLessThan(1e-5);
        // forward values are tfjs' own conv
        expect(maxRelErr(conv3x3Forward[stride](x, k), tf.conv2d(x, k, stride, PAD1))).toBe(0);
      });
    }
  }

  it('the whole U-Net: forward-conv gradients (wasm) match autodiff (cpu) and a finite difference', async () => {
    const cfg: UNetConfig = { imageSize: 8, channels: 1, baseChannels: 8, channelMults: [1, 2], numResBlocks: 1, attentionResolutions: [4], dropout: 0, groups: 4, numClasses: 2 };
    const x = new Float32Array(2 * 64).map((_, i) => Math.sin(i * 0.37));
    const target = new Float32Array(2 * 64).map((_, i) => Math.cos(i * 0.11));
    const gradsOn = async (backend: 'cpu' | 'wasm', convGrad: 'forward' | 'autodiff'): Promise<Map<string, Float32Array>> => {
      await selectBackend(backend);
      const m = createUNet(cfg, 5, convGrad);
      // make every branch live: zero-initialised convs get small random values
      for (const [name, v] of m.params) if (v.size > 1 && tf.max(tf.abs(v)).dataSync()[0] === 0 && name.endsWith('kernel')) v.assign(tf.randomNormal(v.shape, 0, 0.05, 'float32', name.length));
      const { grads } = tf.variableGrads(() => {
        const out = forward(m, tf.tensor4d(x, [2, 8, 8, 1]), tf.tensor1d([10, 500], 'int32'), tf.tensor1d([1, 2], 'int32'), { training: false });
        return tf.mean(tf.square(tf.sub(out, tf.tensor4d(target, [2, 8, 8, 1])))) as tf.Scalar;
      }, [...m.params.values()]);
      const out = new Map<string, Float32Array>();
      const ids = new Map([...m.params].map(([n, v]) => [v.name, n]));
      for (const [id, g] of Object.entries(grads)) out.set(ids.get(id) ?? id, g.dataSync() as Float32Array);
      // finite difference on one in/conv kernel entry (central, float32)
      if (backend === 'cpu') {
        const v = m.params.get('in/conv/kernel');
        if (!v) throw new Error('missing');
        const base = v.dataSync().slice();
        const lossAt = (delta: number): number => {
          const d = base.slice();
          d[7] += delta;
          v.assign(tf.tensor(d, v.shape));
          const o = forward(m, tf.tensor4d(x, [2, 8, 8, 1]), tf.tensor1d([10, 500], 'int32'), tf.tensor1d([1, 2], 'int32'), { training: false });
          return tf.mean(tf.square(tf.sub(o, tf.tensor4d(target, [2, 8, 8, 1])))).dataSync()[0];
        };
        const eps = 1e-2;
        const fd = (lossAt(eps) - lossAt(-eps)) / (2 * eps);
        out.set('fd', new Float32Array([fd]));
      }
      return out;
    };
    const ref = await gradsOn('cpu', 'autodiff');
    const calls = { ...gemmPathCalls };
    const mine = await gradsOn('wasm', 'forward');
    // both weight-gradient paths ran: the SIMD kernel (8 and 16 channels) and XNNPACK (the 1-channel input/output)
    expect(gemmPathCalls.wasm).toBeGreaterThan(calls.wasm);
    expect(gemmPathCalls.xnnpack).toBeGreaterThan(calls.xnnpack);
    expect(mine.size).toBe(ref.size - 1);
    let worst = 0;
    for (const [name, r] of ref) {
      if (name === 'fd') continue;
      const g = mine.get(name);
      expect(g, name).toBeDefined();
      let d = 0;
      let s = 0;
      for (let i = 0; i < r.length; i++) {
        d = Math.max(d, Math.abs((g as Float32Array)[i] - r[i]));
        s = Math.max(s, Math.abs(r[i]));
      }
      // k's bias has a zero gradient in exact arithmetic (softmax is shift-invariant): floor the scale
      worst = Math.max(worst, d / Math.max(s, 1e-6));
    }
    expect(worst).toBeLessThan(1e-3);
    const fd = (ref.get('fd') as Float32Array)[0];
    const an = (ref.get('in/conv/kernel') as Float32Array)[7];
    expect(Math.abs(fd - an)).toBeLessThan(0.02 * Math.abs(an) + 1e-5);
  });
});

describe('hand-written backward passes of the tfjs emitter', () => {
  it('GroupNorm, SiLU, concat, upsampling and 1x1 conv match tfjs autodiff of plain ops (cpu) on wasm', async () => {
    const plain = {
      groupNorm: (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor, groups: number): tf.Tensor => {
        const [n, h, w, c] = x.shape as [number, number, number, number];
        const xg = tf.reshape(x, [n, h * w, groups, c / groups]);
        const { mean, variance } = tf.moments(xg, [1, 3], true);
        return tf.add(tf.mul(tf.reshape(tf.div(tf.sub(xg, mean), tf.sqrt(tf.add(variance, 1e-5))), [n, h, w, c]), g), b);
      },
    };
    const run = async (backend: 'cpu' | 'wasm', fast: boolean): Promise<Float32Array[]> => {
      await selectBackend(backend);
      const { TfjsOps } = await import('../../scripts/model/ops-tfjs.ts');
      const x = tf.tensor4d(Float32Array.from({ length: 2 * 4 * 6 * 8 }, (_, i) => Math.sin(i * 0.37) * 2 + 0.5), [2, 4, 6, 8]);
      const g = tf.tensor1d(Float32Array.from({ length: 8 }, (_, i) => 1 + 0.1 * i));
      const b = tf.tensor1d(Float32Array.from({ length: 8 }, (_, i) => -0.2 * i));
      const r = tf.tensor4d(Float32Array.from({ length: 2 * 4 * 6 * 8 }, (_, i) => Math.cos(i * 0.13)), [2, 4, 6, 8]);
      const r2 = tf.tensor4d(Float32Array.from({ length: 2 * 8 * 12 * 8 }, (_, i) => Math.cos(i * 0.07)), [2, 8, 12, 8]);
      const w1 = tf.tensor4d(Float32Array.from({ length: 8 * 8 }, (_, i) => Math.sin(i)), [1, 1, 8, 8]);
      const params = new Map<string, tf.Variable>([['c/kernel', tf.variable(w1)], ['c/bias', tf.variable(tf.zeros([8]))], ['n/gamma', tf.variable(g)], ['n/beta', tf.variable(b)]]);
      const ops = new TfjsOps({ params, training: false });
      const f = (a: tf.Tensor): tf.Scalar => {
        const gn = fast ? ops.groupNorm(a, 'n', 4) : plain.groupNorm(a, params.get('n/gamma') as tf.Tensor, params.get('n/beta') as tf.Tensor, 4);
        const s = fast ? ops.silu(gn) : tf.mul(gn, tf.sigmoid(gn));
        const cat = fast ? ops.concatChannels(s, a) : tf.concat([s, a], 3);
        const half = tf.add(tf.slice(cat, [0, 0, 0, 0], [2, 4, 6, 8]), tf.mul(tf.slice(cat, [0, 0, 0, 8], [2, 4, 6, 8]), 0.5));
        const c1 = fast ? ops.conv2d(half, 'c', 8, 1) : tf.add(tf.conv2d(half as tf.Tensor4D, params.get('c/kernel') as tf.Tensor4D, 1, 'valid'), params.get('c/bias') as tf.Tensor);
        // per-image channel offsets (the timestep projection of the ResNet blocks)
        const off = tf.tensor2d(Float32Array.from({ length: 16 }, (_, i) => 0.1 * i), [2, 8]);
        const c1o = fast ? ops.addPerChannel(c1, tf.mul(off, params.get('n/beta') as tf.Tensor)) : tf.add(c1, tf.reshape(tf.mul(off, params.get('n/beta') as tf.Tensor), [2, 1, 1, 8]));
        // reference upsampling by concats (tfjs' own ResizeNearestNeighborGrad is wrong for some shapes on cpu and wasm)
        const up = fast ? ops.upsampleNearest2x(c1o) : tf.reshape(tf.concat([tf.reshape(tf.concat([c1o, c1o], 3), [2, 4, 12, 8]), tf.reshape(tf.concat([c1o, c1o], 3), [2, 4, 12, 8])], 2), [2, 8, 12, 8]);
        return tf.add(tf.sum(tf.mul(c1o, r)), tf.sum(tf.mul(up, r2))) as tf.Scalar;
      };
      const vars = [params.get('n/gamma'), params.get('n/beta'), params.get('c/kernel'), params.get('c/bias')] as tf.Variable[];
      const { value, grads } = tf.variableGrads(() => f(x), vars);
      const [dx] = tf.grads((a: tf.Tensor) => f(a))([x]);
      return [value.dataSync() as Float32Array, dx.dataSync() as Float32Array, ...vars.map((v) => grads[v.name].dataSync() as Float32Array)];
    };
    const ref = await run('cpu', false);
    const mine = await run('wasm', true);
    const names = ['value', 'dx', 'dgamma', 'dbeta', 'dkernel', 'dbias'];
    ref.forEach((r, i) => {
      let d = 0;
      let s = 0;
      for (let k = 0; k < r.length; k++) {
        d = Math.max(d, Math.abs(r[k] - mine[i][k]));
        s = Math.max(s, Math.abs(r[k]));
      }
      expect(d / s, names[i]).toBeLessThan(2e-4);
    });
  });
});

/** Deterministic test data: a tensor of `shape` filled with sin(i * a + b). */
function wave(shape: number[], a: number, b = 0): tf.Tensor {
  return tf.tensor(Float32Array.from({ length: shape.reduce((x, y) => x * y, 1) }, (_, i) => Math.sin(i * a + b)), shape);
}

/** Value and gradients of sum(f(inputs) * r) on a backend, as arrays (value first). */
async function valueAndGrads(backend: 'cpu' | 'wasm', shapes: number[][], f: (...xs: tf.Tensor[]) => tf.Tensor): Promise<Float32Array[]> {
  await selectBackend(backend);
  return tf.tidy(() => {
    const xs = shapes.map((s, i) => wave(s, 0.37 + 0.1 * i, i));
    const y = f(...xs);
    const r = wave(y.shape, 0.13, 1);
    const { value, grads } = tf.valueAndGrads((...a: tf.Tensor[]) => tf.sum(tf.mul(f(...a), r)) as tf.Scalar)(xs);
    return [value.dataSync() as Float32Array, ...grads.map((g) => g.dataSync() as Float32Array)];
  });
}

function worstRelErr(mine: Float32Array[], ref: Float32Array[]): number {
  let worst = 0;
  ref.forEach((r, i) => {
    let d = 0;
    let s = 0;
    for (let k = 0; k < r.length; k++) {
      d = Math.max(d, Math.abs(r[k] - mine[i][k]));
      s = Math.max(s, Math.abs(r[k]));
    }
    worst = Math.max(worst, d / Math.max(s, 1e-12));
  });
  return worst;
}

describe('the wasm fast paths against plain ops and tfjs autodiff (cpu)', () => {
  it('convolutions with fused bias (3x3 stride 1 and 2, 1x1): value and gradients of x, kernel and bias', async () => {
    for (const [k, stride, cin, cout] of [[3, 1, 5, 4], [3, 2, 4, 6], [1, 1, 6, 3], [1, 1, 3, 7]] as const) {
      const shapes = [[3, 8, 6, cin], [k, k, cin, cout], [cout]];
      const ref = await valueAndGrads('cpu', shapes, (x, w, b) => tf.add(tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, stride, k === 3 ? PAD1 : 'valid'), b));
      const mine = await valueAndGrads('wasm', shapes, (x, w, b) => convBias(x as tf.Tensor4D, w as tf.Tensor4D, b as tf.Tensor1D, stride));
      expect(worstRelErr(mine, ref), `${k}x${k} stride ${stride}`).toBeLessThan(1e-5);
      // a network input: dx is zeros, dw and db as before
      const noDx = await valueAndGrads('wasm', shapes, (x, w, b) => convBias(x as tf.Tensor4D, w as tf.Tensor4D, b as tf.Tensor1D, stride, false));
      expect(noDx[1].every((v) => v === 0)).toBe(true);
      expect(worstRelErr([noDx[0], noDx[2], noDx[3]], [ref[0], ref[2], ref[3]])).toBeLessThan(1e-5);
    }
  });

  it('the upsampling convolution at the source resolution equals nearest 2x + 3x3 conv, gradients included', async () => {
    for (const [h, w, cin, cout] of [[4, 4, 3, 5], [3, 5, 6, 2]]) {
      const shapes = [[2, h, w, cin], [3, 3, cin, cout], [cout]];
      const ref = await valueAndGrads('cpu', shapes, (x, k, b) => {
        // nearest 2x by concats (tfjs' ResizeNearestNeighborGrad is wrong for some shapes)
        const [n, hh, ww, c] = x.shape as [number, number, number, number];
        const cols = tf.reshape(tf.concat([tf.reshape(x, [n, hh, ww, 1, c]), tf.reshape(x, [n, hh, ww, 1, c])], 3), [n, hh, 1, 2 * ww * c]);
        const up = tf.reshape(tf.concat([cols, cols], 2), [n, 2 * hh, 2 * ww, c]);
        return tf.add(tf.conv2d(up as tf.Tensor4D, k as tf.Tensor4D, 1, PAD1), b);
      });
      const mine = await valueAndGrads('wasm', shapes, (x, k, b) => upsampleConv(x as tf.Tensor4D, k as tf.Tensor4D, b as tf.Tensor1D));
      expect(mine[0].length).toBe(ref[0].length);
      expect(worstRelErr(mine, ref), `${h}x${w}, ${cin} -> ${cout}`).toBeLessThan(1e-5);
    }
  });

  // channels 4 -> 7 go to XNNPACK's per-tap GEMMs, 4 -> 8 and 8 -> 16 to the SIMD wasm kernel (Cin % 4, Cout % 8)
  it.each([
    [4, 7, 'xnnpack'],
    [4, 8, 'wasm'],
    [8, 16, 'wasm'],
  ] as const)('the weight gradient as GEMMs equals the direct sum (kernel sizes, asymmetric pads, 1x1): %d -> %d channels on %s', async (cin, cout, path) => {
    await selectBackend('wasm');
    expect(gemmKernelGradAvailable()).toBe(true);
    const n = 3;
    const [h, w] = [5, 6];
    const cases: [number, number, [[number, number], [number, number]]][] = [
      [3, 3, [[1, 1], [1, 1]]], // the U-Net's 3x3 convolutions
      [2, 3, [[1, 0], [1, 1]]], // the upsampling convolution's row phases
      [2, 3, [[0, 1], [1, 1]]],
      [3, 3, [[0, 0], [0, 0]]],
      [3, 2, [[2, 0], [0, 1]]],
      [1, 1, [[0, 0], [0, 0]]],
    ];
    const calls = { ...gemmPathCalls };
    for (const [kh, kw, pads] of cases) {
      const ho = h + pads[0][0] + pads[0][1] - kh + 1;
      const wo = w + pads[1][0] + pads[1][1] - kw + 1;
      const x = tf.randomNormal([n, h, w, cin], 0, 1, 'float32', kh * 10 + kw) as tf.Tensor4D;
      const dy = tf.randomNormal([n, ho, wo, cout], 0, 1, 'float32', 7) as tf.Tensor4D;
      const xv = x.dataSync();
      const dv = dy.dataSync();
      const ref = new Float64Array(kh * kw * cin * cout);
      for (let b = 0; b < n; b++)
        for (let i = 0; i < ho; i++)
          for (let j = 0; j < wo; j++)
            for (let a = 0; a < kh; a++)
              for (let s = 0; s < kw; s++) {
                const [hh, ww] = [i + a - pads[0][0], j + s - pads[1][0]];
                if (hh < 0 || hh >= h || ww < 0 || ww >= w) continue;
                for (let ci = 0; ci < cin; ci++)
                  for (let co = 0; co < cout; co++) ref[((a * kw + s) * cin + ci) * cout + co] += xv[((b * h + hh) * w + ww) * cin + ci] * dv[((b * ho + i) * wo + j) * cout + co];
              }
      const before = tf.memory().numTensors;
      const got = kernelGradGemm(x, dy, kh, kw, pads);
      expect(got.shape).toEqual([kh, kw, cin, cout]);
      expect(tf.memory().numTensors).toBe(before + 1); // the padded operands and the views are gone
      const gv = got.dataSync();
      let worst = 0;
      for (let k = 0; k < ref.length; k++) worst = Math.max(worst, Math.abs(gv[k] - ref[k]));
      expect(worst, `${kh}x${kw} pads ${JSON.stringify(pads)}`).toBeLessThan(1e-4);
      tf.dispose([x, dy, got]);
    }
    expect(gemmPathCalls[path] - calls[path]).toBe(cases.length);
  });

  it('a^T b of a 1x1 weight gradient by the wasm kernel equals XNNPACK\'s transposed product; null where it does not fit', async () => {
    await selectBackend('wasm');
    gemmKernelGradAvailable();
    const a = tf.randomNormal([1000, 12], 0, 1, 'float32', 3) as tf.Tensor2D;
    const b = tf.randomNormal([1000, 24], 0, 1, 'float32', 4) as tf.Tensor2D;
    const got = matMulTN(a, b)!;
    const ref = tf.matMul(a, b, true, false);
    expect(got.shape).toEqual([12, 24]);
    const gv = got.dataSync();
    const rv = ref.dataSync();
    for (let k = 0; k < rv.length; k++) expect(Math.abs(gv[k] - rv[k]), `entry ${k}`).toBeLessThan(1e-4);
    expect(matMulTN(a, tf.zeros([1000, 20]) as tf.Tensor2D)).toBeNull(); // 20 % 8 != 0
    useWasmGemm(false);
    try {
      expect(matMulTN(a, b)).toBeNull();
    } finally {
      useWasmGemm(true);
    }
    tf.dispose([a, b, got, ref]);
  });

  it('the heap-to-heap slice on wasm equals tf.slice (ranks 1-4, offsets on every axis)', async () => {
    const cases: [number[], number[], number[]][] = [
      [[10], [3], [5]],
      [[4, 6], [1, 2], [2, 3]],
      [[3, 4, 5], [0, 1, 2], [3, 2, 3]],
      [[2, 3, 2, 7], [0, 0, 1, 0], [2, 3, 1, 7]], // the upsampling convolution's row phase
      [[3, 5, 4, 6], [1, 2, 1, 3], [2, 2, 3, 2]],
    ];
    for (const [shape, begin, size] of cases) {
      const n = shape.reduce((a, b) => a * b, 1);
      const values = Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.7) + i * 1e-3);
      await selectBackend('cpu');
      const ref = tf.slice(tf.tensor(values, shape), begin, size).dataSync();
      await selectBackend('wasm');
      const x = tf.tensor(values, shape);
      const before = tf.memory().numTensors;
      const got = sliceOnHeap(x, begin, size);
      expect(tf.memory().numTensors).toBe(before + 1);
      expect(got.shape).toEqual(size);
      expect(tf.getKernel('DdpmSliceOnHeap', 'wasm')).toBeDefined(); // the wasm path ran, not tf.slice
      expect(Array.from(got.dataSync()), JSON.stringify({ shape, begin, size })).toEqual(Array.from(ref));
      tf.dispose([x, got]);
    }
  });

  it('attention with depthwise per-image products equals batched matMuls, gradients of q, k and v included', async () => {
    const shapes = [[3, 16, 8], [3, 16, 8], [3, 16, 8]];
    const ref = await valueAndGrads('cpu', shapes, (q, k, v) => attentionPlain(q as tf.Tensor3D, k as tf.Tensor3D, v as tf.Tensor3D));
    const mine = await valueAndGrads('wasm', shapes, (q, k, v) => attentionCore(q as tf.Tensor3D, k as tf.Tensor3D, v as tf.Tensor3D));
    expect(worstRelErr(mine, ref)).toBeLessThan(1e-5);
  });
});

describe('training gradients', () => {
  it('lossAndGrads (network inputs as constants: the first convolution skips dx) equals autodiff of the same loss', async () => {
    await selectBackend('wasm');
    const cfg: UNetConfig = { imageSize: 8, channels: 1, baseChannels: 8, channelMults: [1, 2], numResBlocks: 1, attentionResolutions: [4], dropout: 0.1, groups: 4, numClasses: 2 };
    const m = createUNet(cfg, 7);
    for (const [name, v] of m.params) if (name.endsWith('kernel') && tf.max(tf.abs(v)).dataSync()[0] === 0) v.assign(tf.randomNormal(v.shape, 0, 0.05, 'float32', name.length));
    const n = 3;
    const shard = {
      step: 0,
      xt: Float32Array.from({ length: n * 64 }, (_, i) => Math.sin(i * 0.3)),
      t: Int32Array.of(5, 300, 900),
      y: Int32Array.of(0, 1, 2),
      target: Float32Array.from({ length: n * 64 }, (_, i) => Math.cos(i * 0.2)),
      weight: Float32Array.of(1, 0.5, 2),
      dropoutSeed: 11,
    };
    const mine = lossAndGrads(m, shard, 'l2');
    const vars = m.layout.entries.map((e) => m.params.get(e.name) as tf.Variable);
    const { value, grads } = tf.variableGrads(() => {
      const pred = forward(m, tf.tensor4d(shard.xt, [n, 8, 8, 1]), tf.tensor1d(shard.t, 'int32'), tf.tensor1d(shard.y, 'int32'), { training: true, dropoutSeed: 11 });
      return tf.mean(tf.mul(tf.square(tf.sub(pred, tf.tensor4d(shard.target, [n, 8, 8, 1]))), tf.tensor4d(shard.weight, [n, 1, 1, 1]))) as tf.Scalar;
    }, vars);
    expect(mine.loss).toBeCloseTo(value.dataSync()[0], 6);
    m.layout.entries.forEach((e, i) => {
      const g = grads[vars[i].name].dataSync();
      expect(Array.from(mine.grads.subarray(e.offset, e.offset + e.size)), e.name).toEqual(Array.from(g));
    });
  });
});
