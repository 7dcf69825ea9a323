import { describe, expect, it, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../scripts/train/backend.ts';
import { createUNet, forward, toEpsModel } from '../../scripts/train/model.ts';
import { validateUNetConfig } from '../../scripts/model/unet.ts';
import type { UNetConfig } from '../../scripts/model/config.ts';

const tiny: UNetConfig = {
  imageSize: 8, channels: 1, baseChannels: 8, channelMults: [1, 2], numResBlocks: 1,
  attentionResolutions: [4], dropout: 0.1, groups: 4, numClasses: 3,
};

beforeAll(async () => {
  await selectBackend('wasm');
});

describe('unet (tfjs emitter)', () => {
  it('creates canonically named parameters deterministically and runs a forward pass', () => {
    const a = createUNet(tiny, 7);
    const b = createUNet(tiny, 7);
    const names = [...a.params.keys()];
    expect(names[0]).toBe('time/dense0/kernel');
    expect(names).toContain('class/embed/table');
    expect(names).toContain('down.1.attn.0/q/kernel');
    expect(names).toContain('mid.attn/proj/kernel');
    expect(names).toContain('up.0.res.1/skip/kernel');
    expect(names[names.length - 1]).toBe('out/conv/bias');
    expect(a.params.get('class/embed/table')?.shape).toEqual([4, 32]);
    expect(a.params.get('in/conv/kernel')?.shape).toEqual([3, 3, 1, 8]);
    expect(a.params.get('down.0.downsample/kernel')?.shape).toEqual([3, 3, 8, 8]);
    for (const n of names) expect(a.params.get(n)?.dataSync()).toEqual(b.params.get(n)?.dataSync());
    // the output conv starts at zero: perturb it so the output is informative
    const k = a.params.get('out/conv/kernel');
    k?.assign(tf.randomNormal(k.shape, 0, 0.1, 'float32', 1));
    const out = forward(a, tf.randomNormal([2, 8, 8, 1], 0, 1, 'float32', 2), tf.tensor1d([3, 999], 'int32'), tf.tensor1d([0, 3], 'int32'), { training: false });
    expect(out.shape).toEqual([2, 8, 8, 1]);
    const d = out.dataSync();
    expect(d.every((v) => Number.isFinite(v))).toBe(true);
    expect(Math.max(...Array.from(d, Math.abs))).toBeGreaterThan(0);
  });

  it('is an EpsModel over NCHW arrays', async () => {
    const m = createUNet(tiny, 1);
    const eps = toEpsModel(m, 3);
    const out = await eps({ x: new Float32Array(5 * 64).fill(0.5), t: new Int32Array([1, 2, 3, 4, 5]), classes: new Int32Array([0, 1, 2, 3, 0]) });
    expect(out.length).toBe(5 * 64);
    expect(eps.selfCondition).toBe(false);
  });

  it('a self-conditioned EpsModel says so and uses the estimate (zeros without one)', async () => {
    const m = createUNet({ ...tiny, selfCondition: true }, 1);
    // zero-initialised output conv: give it weights, or every output is 0 whatever the input
    const out = m.params.get('out/conv/kernel');
    out?.assign(tf.randomNormal(out.shape, 0, 0.2, 'float32', 3));
    const eps = toEpsModel(m, 2);
    expect(eps.selfCondition).toBe(true);
    const x = new Float32Array(3 * 64).fill(0.5);
    const t = new Int32Array([10, 500, 900]);
    const none = await eps({ x, t });
    const zeros = await eps({ x, t, selfCond: new Float32Array(3 * 64) });
    const some = await eps({ x, t, selfCond: new Float32Array(3 * 64).fill(0.8) });
    expect(zeros).toEqual(none);
    expect(some).not.toEqual(zeros);
  });

  it('rejects invalid architectures with the offending field', () => {
    expect(() => validateUNetConfig({ ...tiny, groups: 3 })).toThrow(/groups 3 must divide/);
    expect(() => validateUNetConfig({ ...tiny, imageSize: 10, channelMults: [1, 2, 2] })).toThrow(/divisible by 2\^2/);
    expect(() => validateUNetConfig({ ...tiny, attentionResolutions: [5] })).toThrow(/not one of the model's resolutions/);
  });
});
