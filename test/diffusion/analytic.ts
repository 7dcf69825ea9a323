import type { EpsModel, NoiseSchedule } from '../../src/diffusion/index.ts';

/** Exact eps for x0 ~ N(mu, s^2) per pixel: sqrt(1 - abar) (x - sqrt(abar) mu) / (abar s^2 + 1 - abar). */
export function gaussianEps(schedule: NoiseSchedule, mu: number, s: number): EpsModel {
  return async ({ x, t }) => {
    const n = x.length / t.length;
    const out = new Float32Array(x.length);
    for (let b = 0; b < t.length; b++) {
      const a = schedule.alphasCumprod[t[b]];
      const k = Math.sqrt(1 - a) / (a * s * s + 1 - a);
      for (let i = b * n; i < (b + 1) * n; i++) out[i] = k * (x[i] - Math.sqrt(a) * mu);
    }
    return out;
  };
}

export interface Component {
  w: number;
  mu: number;
  s: number;
}

/** Exact eps for a 1-D Gaussian mixture per pixel, from its posterior mean E[x0 | x_t]. */
export function mixtureEps(schedule: NoiseSchedule, comps: Component[]): EpsModel {
  return async ({ x, t }) => {
    const n = x.length / t.length;
    const out = new Float32Array(x.length);
    for (let b = 0; b < t.length; b++) {
      const a = schedule.alphasCumprod[t[b]];
      const sa = Math.sqrt(a);
      for (let i = b * n; i < (b + 1) * n; i++) {
        const xi = x[i];
        let norm = 0;
        let mean = 0;
        const logs = comps.map((c) => {
          const v = a * c.s * c.s + 1 - a;
          return Math.log(c.w) - 0.5 * Math.log(v) - ((xi - sa * c.mu) ** 2) / (2 * v);
        });
        const mx = Math.max(...logs);
        comps.forEach((c, k) => {
          const r = Math.exp(logs[k] - mx);
          const v = a * c.s * c.s + 1 - a;
          norm += r;
          mean += r * (c.mu + ((sa * c.s * c.s) / v) * (xi - sa * c.mu));
        });
        const x0 = mean / norm;
        out[i] = (xi - sa * x0) / Math.sqrt(1 - a);
      }
    }
    return out;
  };
}

export function meanStd(x: Float32Array): { mean: number; std: number } {
  let m = 0;
  for (const v of x) m += v;
  m /= x.length;
  let v2 = 0;
  for (const v of x) v2 += (v - m) ** 2;
  return { mean: m, std: Math.sqrt(v2 / (x.length - 1)) };
}
