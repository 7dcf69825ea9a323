import { describe, expect, it } from 'vitest';
import {
  createScheduler,
  DiffusionOptionError,
  dynamicThreshold,
  makeSchedule,
  modelEvaluations,
  NonFiniteOutputError,
  qPosterior,
  qSample,
  sample,
  toX0AndEps,
  velocity,
  type EpsModel,
  type SamplerName,
} from '../../src/diffusion/index.ts';
import { gaussianEps } from './analytic.ts';

const schedule = makeSchedule();
const model = gaussianEps(schedule, 0.1, 0.5);

describe('sampling loop', () => {
  it('gives image k the same pixels whatever the batch (a grid agrees with single images)', async () => {
    for (const name of ['ddpm', 'ddim', 'dpmpp2m', 'unipc'] as SamplerName[]) {
      const seeds = [11, 22, 33];
      const grid = await sample({ model, scheduler: createScheduler(name, schedule, { eta: 0.5 }), steps: 10, shape: [3, 1, 8, 8], seeds });
      for (let k = 0; k < 3; k++) {
        const one = await sample({ model, scheduler: createScheduler(name, schedule, { eta: 0.5 }), steps: 10, shape: [1, 1, 8, 8], seeds: [seeds[k]] });
        expect(one).toEqual(grid.subarray(k * 64, (k + 1) * 64));
      }
    }
  });

  it('calls back after each step with the step index and predX0', async () => {
    const seen: [number, number, number][] = [];
    await sample({
      model,
      scheduler: createScheduler('dpmpp2m', schedule),
      steps: 7,
      shape: [2, 1, 4, 4],
      seeds: [1, 2],
      onStep: ({ index, total, predX0 }) => {
        seen.push([index, total, predX0.length]);
      },
    });
    expect(seen).toEqual(Array.from({ length: 7 }, (_, i) => [i, 7, 32]));
  });

  it('runs classifier-free guidance as one doubled batch: uncond + w (cond - uncond)', async () => {
    const calls: { batch: number; classes: number[] }[] = [];
    // eps = 0.1 * class: the guided output is then exactly 0.1 * (null + w (class - null))
    const classModel: EpsModel = async ({ x, t, classes: cond }) => {
      calls.push({ batch: t.length, classes: [...(cond ?? [])] });
      const n = x.length / t.length;
      return x.map((_, i) => 0.1 * cond![Math.floor(i / n)]);
    };
    const seen: Float32Array[] = [];
    await sample({
      model: classModel,
      scheduler: createScheduler('ddim', schedule, { clipSample: false }),
      steps: 2,
      shape: [2, 1, 2, 2],
      seeds: [5, 6],
      classes: new Int32Array([3, 7]),
      guidanceScale: 2,
      nullClass: 10,
      onStep: ({ predX0 }) => void seen.push(predX0),
    });
    expect(calls).toEqual([
      { batch: 4, classes: [3, 7, 10, 10] },
      { batch: 4, classes: [3, 7, 10, 10] },
    ]);
    expect(seen).toHaveLength(2);
  });

  it('refuses a model that returns NaN instead of making a NaN image', async () => {
    const bad: EpsModel = async ({ x }) => x.map(() => Number.NaN);
    await expect(sample({ model: bad, scheduler: createScheduler('ddim', schedule), steps: 3, shape: [1, 1, 2, 2], seeds: [1] })).rejects.toThrow(
      NonFiniteOutputError,
    );
  });

  it('refuses a model output of the wrong size', async () => {
    const bad: EpsModel = async () => new Float32Array(3);
    await expect(sample({ model: bad, scheduler: createScheduler('ddim', schedule), steps: 3, shape: [1, 1, 2, 2], seeds: [1] })).rejects.toThrow(
      /model output must hold 4 values/,
    );
  });
});

describe('invalid options throw a typed error naming the option and its range', () => {
  const cases: [string, () => unknown, RegExp][] = [
    ['steps > T', () => createScheduler('ddim', schedule).setTimesteps(1001), /steps must be an integer in \[1, 1000\] \(got 1001\)/],
    ['steps < 1', () => createScheduler('dpmpp2m', schedule).setTimesteps(0), /steps must be an integer in \[1, 1000\]/],
    ['eta > 1', () => createScheduler('ddim', schedule, { eta: 1.5 }), /eta must be a number in \[0, 1\] \(got 1.5\)/],
    ['eta NaN', () => createScheduler('ddim', schedule, { eta: Number.NaN }), /eta must be a number in \[0, 1\]/],
    ['unknown sampler', () => createScheduler('euler' as SamplerName, schedule), /sampler must be one of ddpm, ddim, dpmpp2m, dpmpp3m, unipc \(got "euler"\)/],
    ['unknown schedule', () => makeSchedule({ kind: 'quadratic' as 'linear', T: 1000 }), /schedule.kind must be one of linear, scaled_linear, cosine, sigmoid/],
    ['T too small', () => makeSchedule({ kind: 'linear', T: 1 }), /schedule.T must be an integer in \[2, 100000\]/],
    ['unknown spacing', () => createScheduler('ddim', schedule, { timestepSpacing: 'random' as 'leading' }), /timestepSpacing must be one of leading, linspace, trailing/],
    ['unknown prediction', () => createScheduler('ddpm', schedule, { predictionType: 'mu' as 'epsilon' }), /predictionType must be one of/],
    ['mismatched shapes', () => qSample(schedule, new Float32Array(4), [1], new Float32Array(3)), /eps must have the shape of x/],
    ['t out of range', () => qSample(schedule, new Float32Array(4), [1000], new Float32Array(4)), /t must be an integer timestep in \[0, 999\]/],
    [
      'step before setTimesteps',
      () => createScheduler('ddim', schedule).step(new Float32Array(1), 1, new Float32Array(1)),
      /steps are not set/,
    ],
    [
      'noise missing for a stochastic step',
      () => {
        const s = createScheduler('ddpm', schedule);
        s.setTimesteps(10);
        return s.step(new Float32Array(1), s.timesteps[0], new Float32Array(1));
      },
      /noise is required/,
    ],
  ];
  for (const [what, fn, message] of cases) {
    it(what, () => {
      expect(fn).toThrow(DiffusionOptionError);
      expect(fn).toThrow(message);
    });
  }

  it('seeds, guidance and classes are checked by the loop', async () => {
    const base = { model, scheduler: createScheduler('ddim', schedule), steps: 2, shape: [2, 1, 2, 2] as const };
    await expect(sample({ ...base, seeds: [1] })).rejects.toThrow(/seeds must hold one seed per image \(2, got 1\)/);
    await expect(sample({ ...base, seeds: [1, -2] })).rejects.toThrow(/seeds\[1\] must be an integer/);
    await expect(sample({ ...base, seeds: [1, 2], guidanceScale: 3 })).rejects.toThrow(/guidanceScale needs classes/);
    await expect(sample({ ...base, seeds: [1, 2], guidanceScale: 99 })).rejects.toThrow(/guidanceScale must be a number in \[0, 50\]/);
    await expect(sample({ ...base, seeds: [1, 2], classes: new Int32Array(1) })).rejects.toThrow(/classes must hold one class per image/);
  });
});

describe('forward process and parameterisations', () => {
  it('qSample, x0/eps/v conversions and the posterior agree with each other', () => {
    const x0 = new Float32Array([0.5, -0.25, 0.9, -1]);
    const eps = new Float32Array([1.2, -0.3, 0.05, 0.7]);
    const t = 420;
    const xt = qSample(schedule, x0, [t], eps);
    for (const [type, out] of [
      ['epsilon', eps],
      ['sample', x0],
      ['v_prediction', velocity(schedule, x0, t, eps)],
    ] as const) {
      const r = toX0AndEps(schedule, type, out, t, xt);
      r.x0.forEach((v, i) => expect(v).toBeCloseTo(x0[i], 5));
      r.eps.forEach((v, i) => expect(v).toBeCloseTo(eps[i], 5));
    }
    // posterior mean at t is between x0 and x_t, and its variance is beta~_t
    const post = qPosterior(schedule, x0, xt, t);
    expect(post.variance).toBeCloseTo(schedule.posteriorVariance[t], 12);
    const c1 = schedule.posteriorMeanCoef1[t];
    const c2 = schedule.posteriorMeanCoef2[t];
    post.mean.forEach((m, i) => expect(m).toBeCloseTo(c1 * x0[i] + c2 * xt[i], 5));
  });
});

describe('x0 processing', () => {
  it('clips predicted x0 and applies dynamic thresholding per image', () => {
    const s = createScheduler('ddim', schedule, { clipSample: true });
    s.setTimesteps(10);
    const x = new Float32Array([5, -5, 0.2, 0]);
    const { predX0 } = s.step(new Float32Array(4), s.timesteps[0], x);
    expect(Math.max(...predX0)).toBeLessThanOrEqual(1);
    expect(Math.min(...predX0)).toBeGreaterThanOrEqual(-1);

  });

  it('dynamic thresholding follows Imagen: s = quantile(|x0|), clamped to [1, max], x0 -> clamp(x0, -s, s) / s', () => {
    // image 0: |x| = 0..3, ratio 0.5 -> s = 1.5; image 1: small values -> s = 1, plain clipping
    const x0 = new Float32Array([0, 1, -2, 3, 0.5, -0.25, 0.1, 0]);
    dynamicThreshold(x0, 2, 0.5, 4);
    expect([...x0]).toEqual([0, 1 / 1.5, -1, 1, 0.5, -0.25, 0.1, 0].map(Math.fround));
    const big = new Float32Array([10, -10, 10, -10]);
    dynamicThreshold(big, 1, 0.995, 4); // s clamped at sampleMaxValue 4
    expect([...big]).toEqual([1, -1, 1, -1]);
  });
});

describe('guidance in a limited interval (Kynkaanniemi et al. 2024)', () => {
  // A class-dependent exact denoiser that records every call's batch size, timesteps and classes.
  function countingModel() {
    const calls: { rows: number; t: number[]; classes: number[] }[] = [];
    const base = gaussianEps(schedule, 0.1, 0.5);
    const m: EpsModel = async ({ x, t, classes: cond }) => {
      calls.push({ rows: t.length, t: [...t], classes: [...(cond ?? [])] });
      const out = await base({ x, t });
      const n = x.length / t.length;
      // class c shifts the prediction by 0.05 c, the null class (10) by -0.2: guidance makes a difference
      return out.map((v, i) => v + (cond ? (cond[Math.floor(i / n)] === 10 ? -0.2 : 0.05 * cond[Math.floor(i / n)]) : 0));
    };
    return { calls, model: m };
  }
  const B = 3;
  const classes = new Int32Array([1, 4, 7]);
  const run = async (sampler: SamplerName, guidanceScale: number, guidanceInterval?: readonly [number, number]) => {
    const { calls, model: m } = countingModel();
    const x = await sample({
      model: m,
      scheduler: createScheduler(sampler, schedule),
      steps: 10,
      shape: [B, 1, 4, 4],
      seeds: [5, 6, 7],
      classes,
      guidanceScale,
      nullClass: 10,
      ...(guidanceInterval ? { guidanceInterval } : {}),
    });
    return { x, calls };
  };

  for (const sampler of ['dpmpp2m', 'unipc', 'ddpm'] as SamplerName[]) {
    it(`${sampler}: batch 2B (classes then null) inside the interval, B (classes only) outside`, async () => {
      const { calls } = await run(sampler, 3, [300, 700]);
      expect(calls.length).toBe(10);
      for (const c of calls) {
        const inside = c.t[0] >= 300 && c.t[0] <= 700;
        expect(c.rows).toBe(inside ? 2 * B : B);
        expect(c.t).toEqual(new Array(c.rows).fill(c.t[0]));
        expect(c.classes).toEqual(inside ? [1, 4, 7, 10, 10, 10] : [1, 4, 7]);
      }
      const guided = calls.filter((c) => c.rows === 2 * B).map((c) => c.t[0]);
      expect(guided.length).toBeGreaterThan(0);
      expect(guided.length).toBeLessThan(10);
      expect(calls.reduce((n, c) => n + c.rows, 0)).toBe(B * (10 + guided.length));
    });

    it(`${sampler}: an interval over every timestep is plain guidance, a disjoint one plain conditional sampling, exactly`, async () => {
      const guided = await run(sampler, 3);
      const all = await run(sampler, 3, [0, 999]);
      expect(all.x).toEqual(guided.x);
      expect(all.calls.every((c) => c.rows === 2 * B)).toBe(true);
      const cond = await run(sampler, 1);
      // an interval strictly between two grid points holds no step
      const s = createScheduler(sampler, schedule);
      s.setTimesteps(10);
      const [a, b] = [s.timesteps[4], s.timesteps[3]];
      const none = await run(sampler, 3, [a + 1, b - 1]);
      expect(none.x).toEqual(cond.x);
      expect(none.calls.every((c) => c.rows === B)).toBe(true);
      expect(none.x).not.toEqual(guided.x);
    });
  }

  it('is validated: integers, 0 <= tLow <= tHigh <= T - 1, only with guidance', async () => {
    const base = { model, scheduler: createScheduler('ddim', schedule), steps: 2, shape: [1, 1, 2, 2] as const, seeds: [1], classes: new Int32Array([2]), nullClass: 10 };
    await expect(sample({ ...base, guidanceInterval: [100, 200] })).rejects.toThrow(/guidanceInterval needs guidanceScale != 1/);
    await expect(sample({ ...base, guidanceScale: 2, guidanceInterval: [-1, 200] })).rejects.toThrow(/guidanceInterval\[0\] must be an integer in \[0, 999\] \(got -1\)/);
    await expect(sample({ ...base, guidanceScale: 2, guidanceInterval: [300, 200] })).rejects.toThrow(/guidanceInterval\[1\] must be an integer in \[300, 999\] \(got 200\)/);
    await expect(sample({ ...base, guidanceScale: 2, guidanceInterval: [0, 1000] })).rejects.toThrow(DiffusionOptionError);
    await expect(sample({ ...base, guidanceScale: 2, guidanceInterval: [0.5, 10] })).rejects.toThrow(/guidanceInterval\[0\] must be an integer/);
    await expect(sample({ ...base, guidanceScale: 2, guidanceInterval: [1, 2, 3] as unknown as [number, number] })).rejects.toThrow(/guidanceInterval must be two timesteps/);
  });

  it('modelEvaluations counts 2 per guided step and 1 otherwise', () => {
    const ts = new Int32Array([999, 800, 600, 400, 200, 0]);
    expect(modelEvaluations(ts, false)).toBe(6);
    expect(modelEvaluations(ts, true)).toBe(12);
    expect(modelEvaluations(ts, true, [200, 600])).toBe(9);
    expect(modelEvaluations(ts, true, [1, 199])).toBe(6);
    expect(modelEvaluations(ts, false, [200, 600])).toBe(6);
  });
});
