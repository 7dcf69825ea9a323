import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { conv3x3Forward } from '../../scripts/model/ops-tfjs.ts';
import { selectBackend } from '../../scripts/train/backend.ts';
import { createUNet, forward } from '../../scripts/train/model.ts';
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
    const mine = await gradsOn('wasm', 'forward');
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
