// The Cold Diffusion degradations (src/cold/degrade.ts): the paper's own operations (golden values from
// torch, test/cold/golden_cold.py), identity at t = 0, monotone in t, deterministic, validated.
import { describe, expect, it } from 'vitest';
import {
  centredMask,
  DEFAULT_BLUR,
  DEFAULT_MASK,
  gaussianKernel1d,
  makeDegradation,
  validateProcess,
  type ColdProcess,
} from '../../src/cold/index.ts';
import { quantize8 } from '../../src/image/pixels.ts';
import golden from './golden-cold.json';

interface GoldenCase {
  process: ColdProcess;
  size: number;
  channels: number;
  x: number[];
  levels: Record<string, number[]>;
  centres?: number[];
}

const cases = [...golden.blur, ...golden.mask] as unknown as GoldenCase[];

/** Deterministic test images in [-1, 1]: [B, C, S, S]. */
function images(B: number, C: number, S: number, seed = 1): Float32Array {
  const x = new Float32Array(B * C * S * S);
  for (let i = 0; i < x.length; i++) x[i] = Math.sin(i * 0.37 + seed) * 0.6 + Math.cos(i * 0.011 * seed) * 0.35;
  return x;
}

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

describe('degradations against the paper (torch, golden-cold.json)', () => {
  it("torchgeometry's 1-D Gaussian: centred at tap n // 2, normalized", () => {
    const g = gaussianKernel1d(11, 7);
    expect(g.reduce((a, v) => a + v, 0)).toBeCloseTo(1, 14);
    expect(g[5]).toBeGreaterThan(g[4]);
    expect(g[0]).toBeCloseTo(g[10], 15);
    expect(g[0] / g[5]).toBeCloseTo(Math.exp(-25 / 98), 14);
  });

  for (const c of cases) {
    const p = c.process;
    const label = `${p.kind} ${p.kind === 'cold-blur' ? `${p.routine} ${p.padding} ${p.kernelSize} taps` : p.routine}${p.discrete ? ' discrete' : ''}, ${c.channels}x${c.size}x${c.size}`;
    it(`${label}: D(x0, t) matches the paper's operations to 2e-6`, () => {
      const D = makeDegradation(validateProcess(p), c.size);
      const x = Float32Array.from(c.x);
      const centres = c.centres && c.centres.length > 0 ? Int32Array.from(c.centres) : undefined;
      for (const [level, want] of Object.entries(c.levels)) {
        const got = D.apply(x, c.channels, Number(level), centres);
        expect(maxAbsDiff(got, want), `level ${level}`).toBeLessThan(2e-6);
      }
    });
  }
});

describe('degradation properties', () => {
  const processes: ColdProcess[] = [
    DEFAULT_BLUR,
    { ...DEFAULT_BLUR, routine: 'incremental', std: 0.5, padding: 'reflect', discrete: false },
    { ...DEFAULT_BLUR, routine: 'exponential', std: 0.1, kernelSize: 7 },
    DEFAULT_MASK,
    { ...DEFAULT_MASK, routine: 'incremental' },
  ];
  const S = 16;
  const B = 3;
  const centres = Int32Array.from([3, 12, -1, 0, 15, 7]);
  const centresOf = (p: ColdProcess): Int32Array | undefined => (p.kind === 'cold-mask' && p.routine === 'random-incremental' ? centres : undefined);

  for (const p of processes) {
    const name = `${p.kind} (${p.routine})`;
    it(`${name}: t = 0 is the identity, bit for bit`, () => {
      const x = images(B, 1, S);
      const D = makeDegradation(p, S);
      expect(Buffer.from(D.apply(x, 1, 0, centresOf(p)).buffer).equals(Buffer.from(x.buffer))).toBe(true);
    });

    it(`${name}: deterministic (the same bits twice, and from a fresh degradation)`, () => {
      const x = images(B, 1, S, 2);
      const levels = Int32Array.from([1, p.T >> 1, p.T]);
      const a = makeDegradation(p, S).apply(x, 1, levels, centresOf(p));
      const b = makeDegradation(p, S).apply(x, 1, levels, centresOf(p));
      expect(Buffer.from(a.buffer).equals(Buffer.from(b.buffer))).toBe(true);
      // per-image levels equal one level at a time
      for (let k = 0; k < B; k++) {
        const one = makeDegradation(p, S).apply(x.subarray(k * S * S, (k + 1) * S * S), 1, levels[k], centresOf(p)?.subarray(2 * k, 2 * k + 2));
        expect(Array.from(a.subarray(k * S * S, (k + 1) * S * S))).toEqual(Array.from(one));
      }
    });

    it(`${name}: monotone in t`, () => {
      const x = images(B, 1, S, 3);
      const D = makeDegradation(p, S);
      let previous: Float32Array = x;
      for (let t = 1; t <= p.T; t++) {
        const y = D.apply(x, 1, t, centresOf(p));
        if (p.kind === 'cold-mask') {
          // each step multiplies by a mask in [0, 1]: no pixel grows in magnitude
          for (let i = 0; i < y.length; i++) expect(Math.abs(y[i])).toBeLessThanOrEqual(Math.abs(previous[i]) + 1e-7);
        } else {
          // each step is an averaging: what is left to restore, the spread about each image's mean, never grows
          for (let k = 0; k < B; k++) expect(spread(y, k, S)).toBeLessThanOrEqual(spread(previous, k, S) + 1e-6);
        }
        previous = y;
      }
      if (p.kind === 'cold-blur' && p.discrete) for (let k = 0; k < B; k++) expect(spread(previous, k, S)).toBe(0); // flat at T
    });
  }

  it('the paper-default blur destroys most of the image by T/2 and all of it at T (discrete)', () => {
    const x = images(1, 1, 32);
    const D = makeDegradation(DEFAULT_BLUR, 32);
    const s0 = spread(x, 0, 32);
    expect(spread(D.apply(x, 1, 10), 0, 32)).toBeLessThan(0.2 * s0);
    const flat = D.apply(x, 1, 20);
    const mean = x.reduce((a, v) => a + v, 0) / x.length;
    expect(Math.abs(flat[0] - mean)).toBeLessThan(1e-6); // circular blur keeps the mean, which the last step spreads
  });

  it('centred masks are centred at S/2 - 1 (the paper crops its (S+1)-tap kernel [1:, 1:])', () => {
    expect([centredMask(32), centredMask(16), centredMask(15)]).toEqual([15, 7, 7]);
    const D = makeDegradation({ ...DEFAULT_MASK, routine: 'incremental' }, 16);
    const y = D.apply(new Float32Array(256).fill(1), 1, 1);
    expect(y[7 * 16 + 7]).toBe(0);
    expect(Math.min(...y)).toBe(0);
  });

  it('8-bit rounding is the PNG round trip', () => {
    const q = quantize8(Float32Array.from([-1, -0.999, 0, 0.5, 1, 1.5, Number.NaN]));
    expect(Array.from(q, (v) => Math.round((v + 1) * 127.5))).toEqual([0, 0, 128, 191, 255, 255, 0]);
  });
});

describe('bad input', () => {
  it('every process field is validated, naming it', () => {
    expect(() => validateProcess({ ...DEFAULT_BLUR, kernelSize: 10 })).toThrow(/process.kernelSize must be odd/);
    expect(() => validateProcess({ ...DEFAULT_BLUR, T: 0 })).toThrow(/process.T must be an integer in \[1, 1000\]/);
    expect(() => validateProcess({ ...DEFAULT_BLUR, routine: 'box' })).toThrow(/process.routine must be one of constant, incremental, exponential, special-6/);
    expect(() => validateProcess({ ...DEFAULT_BLUR, discrete: 'yes' })).toThrow(/process.discrete must be true or false/);
    expect(() => validateProcess({ ...DEFAULT_BLUR, routine: 'exponential', std: 1 })).toThrow(/process.std at step \d+ must be a number/);
    expect(() => validateProcess({ ...DEFAULT_MASK, std: -1 })).toThrow(/process.std must be a number/);
    expect(() => validateProcess({ kind: 'cold-noise' })).toThrow(/process.kind must be one of cold-blur, cold-mask/);
    expect(validateProcess(DEFAULT_MASK)).toEqual(DEFAULT_MASK);
  });

  it('levels, shapes and mask centres are checked', () => {
    const D = makeDegradation(DEFAULT_BLUR, 8);
    expect(() => D.apply(new Float32Array(64), 1, 21)).toThrow(/t\[0\] must be an integer in \[0, 20\]/);
    expect(() => D.apply(new Float32Array(63), 1, 1)).toThrow(/x must hold \[B, 1, 8, 8\] values/);
    expect(() => D.apply(new Float32Array(128), 1, [1])).toThrow(/t must hold one level per image \(2, got 1\)/);
    expect(() => makeDegradation(DEFAULT_BLUR, 5)).toThrow(/kernelSize must be below/);
    const M = makeDegradation(DEFAULT_MASK, 8);
    expect(() => M.apply(new Float32Array(64), 1, 1)).toThrow(/centres must hold \(row, column\) for each of the 1 images/);
    expect(() => M.apply(new Float32Array(64), 1, 1, Int32Array.from([8, 0]))).toThrow(/centres\[0\] must be an integer in \[-1, 7\]/);
    expect(() => makeDegradation({ ...DEFAULT_MASK, routine: 'incremental' }, 8).apply(new Float32Array(64), 1, 1, Int32Array.from([1, 1]))).toThrow(/must be 3,3 \(the incremental mask is centred/);
  });
});

/** Root mean square of image k about its mean. */
function spread(x: Float32Array, k: number, S: number): number {
  const img = x.subarray(k * S * S, (k + 1) * S * S);
  const mean = img.reduce((a, v) => a + v, 0) / img.length;
  return Math.sqrt(img.reduce((a, v) => a + (v - mean) ** 2, 0) / img.length);
}
