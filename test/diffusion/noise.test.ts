import { describe, expect, it } from 'vitest';
import { deriveSeed, DiffusionOptionError, gaussianNoise, philox4x32 } from '../../src/diffusion/index.ts';

describe('Philox4x32-10', () => {
  it('matches the Random123 known-answer vectors', () => {
    const out = new Uint32Array(4);
    philox4x32(0, 0, 0, 0, 0, 0, out);
    expect([...out]).toEqual([0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]);
    const m = 0xffffffff;
    philox4x32(m, m, m, m, m, m, out);
    expect([...out]).toEqual([0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd]);
    philox4x32(0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0, out);
    expect([...out]).toEqual([0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1]);
  });
});

describe('gaussianNoise', () => {
  it('is pinned: these values are what every runtime must produce for seed 42', () => {
    const z = gaussianNoise(42, 0, new Float32Array(8));
    expect([...z]).toEqual([
      -0.9701898097991943, 0.19401895999908447, -1.2356207370758057, 1.9239267110824585, -0.07318150997161865,
      0.13913749158382416, -1.106665015220642, 0.3266829550266266,
    ]);
    expect(deriveSeed(42, 0)).toBe(1014868962959394);
    expect(deriveSeed(42, 1)).toBe(1562553571569653);
  });

  it('is deterministic and depends on seed and stream', () => {
    const a = gaussianNoise(7, 3, new Float32Array(1000));
    expect(gaussianNoise(7, 3, new Float32Array(1000))).toEqual(a);
    expect(gaussianNoise(8, 3, new Float32Array(1000))).not.toEqual(a);
    expect(gaussianNoise(7, 4, new Float32Array(1000))).not.toEqual(a);
    expect(gaussianNoise(2 ** 40 + 7, 3, new Float32Array(1000))).not.toEqual(a);
  });

  it('is counter-based: any window equals the same slice of a longer run', () => {
    const long = gaussianNoise(99, 1, new Float32Array(4096));
    for (const [offset, len] of [[0, 5], [3, 10], [1021, 7], [4000, 96]]) {
      expect(gaussianNoise(99, 1, new Float32Array(len), offset)).toEqual(long.subarray(offset, offset + len));
    }
  });

  it('has mean 0, variance 1, normal tails and no correlation between neighbours', () => {
    const n = 1 << 20;
    const z = gaussianNoise(12345, 0, new Float32Array(n));
    let m = 0;
    let v = 0;
    let c1 = 0;
    let c4 = 0;
    let tail = 0;
    for (let i = 0; i < n; i++) m += z[i];
    m /= n;
    for (let i = 0; i < n; i++) {
      v += (z[i] - m) ** 2;
      if (i + 1 < n) c1 += (z[i] - m) * (z[i + 1] - m);
      if (i + 4 < n) c4 += (z[i] - m) * (z[i + 4] - m);
      if (Math.abs(z[i]) > 1.96) tail++;
    }
    v /= n - 1;
    const se = 1 / Math.sqrt(n); // about 0.001
    expect(Math.abs(m)).toBeLessThan(5 * se);
    expect(Math.abs(v - 1)).toBeLessThan(5 * Math.SQRT2 * se);
    expect(Math.abs(c1 / (n - 1) / v)).toBeLessThan(5 * se); // within a Box-Muller pair
    expect(Math.abs(c4 / (n - 4) / v)).toBeLessThan(5 * se); // across Philox blocks
    expect(Math.abs(tail / n - 0.05)).toBeLessThan(0.002);
  });

  it('derives distinct per-image seeds', () => {
    const seeds = new Set(Array.from({ length: 10000 }, (_, k) => deriveSeed(1, k)));
    expect(seeds.size).toBe(10000);
    for (const s of seeds) expect(Number.isSafeInteger(s) && s >= 0).toBe(true);
  });

  it('rejects invalid seeds and streams with a typed error', () => {
    expect(() => gaussianNoise(-1, 0, new Float32Array(1))).toThrow(DiffusionOptionError);
    expect(() => gaussianNoise(1.5, 0, new Float32Array(1))).toThrow(/seed must be an integer in \[0, 9007199254740991\]/);
    expect(() => gaussianNoise(1, -1, new Float32Array(1))).toThrow(/stream/);
    expect(() => deriveSeed(Number.NaN, 0)).toThrow(DiffusionOptionError);
  });
});
