// The Cold Diffusion samplers (src/cold/sample.ts): the paper's Algorithm 2 and its naive Algorithm 1.
import { describe, expect, it } from 'vitest';
import { coldSample, DEFAULT_BLUR, makeDegradation, type ColdProcess, type Degradation, type RestoreModel } from '../../src/cold/index.ts';
import { NonFiniteOutputError } from '../../src/diffusion/index.ts';

const S = 8;
const C = 1;
const n = C * S * S;

function image(seed: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.7 + seed) * 0.8);
}

/** The paper's linear degradation of section 3.3: D(x, s) = x + s e, e a fixed direction. */
function linearDegradation(T: number, e: Float32Array): Degradation {
  return {
    process: { ...DEFAULT_BLUR, T },
    T,
    size: S,
    apply(x, channels, t) {
      const B = x.length / (channels * S * S);
      const out = x.slice();
      for (let b = 0; b < B; b++) {
        const s = typeof t === 'number' ? t : t[b];
        for (let i = 0; i < n; i++) out[b * n + i] += s * e[i];
      }
      return out;
    },
  };
}

/** A restorer that knows x0 (a perfect one), optionally off by a fixed bias. */
function knowing(x0: Float32Array, bias = 0): RestoreModel {
  return async (x, t) => {
    const out = new Float32Array(x.length);
    for (let b = 0; b < t.length; b++) for (let i = 0; i < n; i++) out[b * n + i] = x0[i] + bias;
    return out;
  };
}

/** A poor restorer: returns its input, scaled (it has learnt nothing). */
const poor: RestoreModel = async (x) => x.map((v) => 0.5 * v);

const maxAbs = (a: Float32Array, b: Float32Array): number => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

describe('Algorithm 2 (x_{s-1} = x_s - D(x0^, s) + D(x0^, s - 1))', () => {
  const T = 10;
  const e = image(7);
  const D = linearDegradation(T, e);
  const x0 = image(1);

  it('is exact for a linear degradation with a perfect restorer, as Algorithm 1 is', async () => {
    const xt = D.apply(x0, C, T);
    for (const algorithm of [1, 2] as const) {
      const out = await coldSample({ restorer: knowing(x0), degradation: D, xt, channels: C, t: T, algorithm });
      expect(maxAbs(out, x0), `algorithm ${algorithm}`).toBeLessThan(1e-5);
    }
  });

  it('is exact for a linear degradation whatever the restorer (section 3.3); Algorithm 1 is not', async () => {
    const xt = D.apply(x0, C, T);
    for (const restorer of [poor, knowing(x0, 0.3)]) {
      const two = await coldSample({ restorer, degradation: D, xt, channels: C, t: T, algorithm: 2 });
      expect(maxAbs(two, x0)).toBeLessThan(1e-5);
      const one = await coldSample({ restorer, degradation: D, xt, channels: C, t: T, algorithm: 1 });
      expect(maxAbs(one, x0)).toBeGreaterThan(0.1);
    }
  });

  it('restores the paper-default blur exactly with a perfect restorer, from any level', async () => {
    const P: ColdProcess = DEFAULT_BLUR;
    const B = makeDegradation(P, 16);
    const x = Float32Array.from({ length: 256 }, (_, i) => Math.cos(i * 0.3) * 0.7);
    for (const t of [1, 7, 20]) {
      const out = await coldSample({ restorer: async () => x.slice(), degradation: B, xt: B.apply(x, 1, t), channels: 1, t });
      expect(maxAbs(out, x)).toBeLessThan(1e-5);
    }
  });

  it('calls the network at timestep s - 1 for level s, reports each step, and stops when aborted', async () => {
    const calls: number[] = [];
    const seen: [number, number][] = [];
    const restorer: RestoreModel = async (x, t) => {
      calls.push(...t);
      return x.slice();
    };
    const xt = new Float32Array(2 * n);
    await coldSample({ restorer, degradation: D, xt, channels: C, t: 4, onStep: ({ index, t }) => void seen.push([index, t]) });
    expect(calls).toEqual([3, 3, 2, 2, 1, 1, 0, 0]);
    expect(seen).toEqual([[0, 4], [1, 3], [2, 2], [3, 1]]);
    const abort = new AbortController();
    const stopped = coldSample({ restorer, degradation: D, xt, channels: C, t: 4, signal: abort.signal, onStep: () => abort.abort() });
    await expect(stopped).rejects.toThrow();
  });

  it('refuses bad levels, shapes and non-finite network outputs', async () => {
    const xt = new Float32Array(n);
    await expect(coldSample({ restorer: poor, degradation: D, xt, channels: C, t: 0 })).rejects.toThrow(/t must be an integer in \[1, 10\]/);
    await expect(coldSample({ restorer: poor, degradation: D, xt, channels: C, t: 11 })).rejects.toThrow(/t must be an integer in \[1, 10\]/);
    await expect(coldSample({ restorer: poor, degradation: D, xt: new Float32Array(5), channels: C, t: 2 })).rejects.toThrow(/xt must hold/);
    await expect(coldSample({ restorer: async (x) => x.map(() => Number.NaN), degradation: D, xt, channels: C, t: 2 })).rejects.toThrow(NonFiniteOutputError);
    await expect(coldSample({ restorer: async () => new Float32Array(3), degradation: D, xt, channels: C, t: 2 })).rejects.toThrow(/restorer must return 64 values/);
  });
});
