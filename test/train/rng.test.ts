import { describe, expect, it } from 'vitest';
import { Rng } from '../../scripts/train/rng.ts';

describe('Rng.fillMask (dropout masks)', () => {
  it('draws exactly what nextU32 would, and leaves the generator where nextU32 would', () => {
    const threshold = Math.floor(0.1 * 4294967296);
    const scale = 1 / 0.9;
    const a = new Rng(1234);
    const b = new Rng(1234);
    const mask = a.fillMask(new Float32Array(10_000), threshold, scale);
    let dropped = 0;
    for (let i = 0; i < mask.length; i++) {
      const expected = b.nextU32() >= threshold ? Math.fround(scale) : 0;
      expect(mask[i]).toBe(expected);
      if (mask[i] === 0) dropped++;
    }
    expect(a.nextU32()).toBe(b.nextU32());
    expect(dropped / mask.length).toBeGreaterThan(0.08);
    expect(dropped / mask.length).toBeLessThan(0.12);
  });
});
