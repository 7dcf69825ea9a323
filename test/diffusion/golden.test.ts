// Golden numbers from an independent numpy reference (golden.py, diffusers' formulas in float64).
import { describe, expect, it } from 'vitest';
import {
  createScheduler,
  DdimScheduler,
  DpmSolverMultistepScheduler,
  inferenceTimesteps,
  makeSchedule,
  type NoiseSchedule,
  type ScheduleKind,
} from '../../src/diffusion/index.ts';
import golden from './golden.json';

type Tables = Record<string, number[]>;

function expectClose(actual: number, expected: number, rel = 1e-10): void {
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(rel * Math.max(1, Math.abs(expected)));
}

describe('schedule coefficients', () => {
  for (const [key, table] of Object.entries(golden.coef as Record<string, Tables>)) {
    it(`match the reference for ${key}`, () => {
      const [kind, T] = key.split('-');
      const s = makeSchedule({ kind: kind as ScheduleKind, T: Number(T) });
      for (const [name, values] of Object.entries(table)) {
        if (name === 't') continue;
        const arr = s[name as keyof NoiseSchedule] as Float64Array;
        table.t.forEach((t, i) => expectClose(arr[t], values[i]));
      }
    });
  }

  it('linear at T = 1000 spans 1e-4..0.02 and abar_T is about 4e-5', () => {
    const s = makeSchedule({ kind: 'linear', T: 1000 });
    expect(s.betas[0]).toBe(1e-4);
    expect(s.betas[999]).toBe(0.02);
    expect(s.alphasCumprod[999]).toBeGreaterThan(3e-5);
    expect(s.alphasCumprod[999]).toBeLessThan(5e-5);
  });

  it('cosine betas are clipped at 0.999', () => {
    const s = makeSchedule({ kind: 'cosine', T: 1000 });
    expect(Math.max(...s.betas)).toBe(0.999);
  });
});

describe('timesteps', () => {
  it('DDIM, 5 of 1000, leading, steps offset 1 is [801, 601, 401, 201, 1]', () => {
    expect([...inferenceTimesteps(1000, 5, 'leading', 1)]).toEqual([801, 601, 401, 201, 1]);
    const ddim = new DdimScheduler(makeSchedule(), { stepsOffset: 1 });
    ddim.setTimesteps(5);
    expect([...ddim.timesteps]).toEqual([801, 601, 401, 201, 1]);
  });

  for (const [key, expected] of Object.entries(golden.ddim as Record<string, number[]>)) {
    it(`DDIM ${key}`, () => {
      const [spacing, n, offset] = key.split('-');
      const s = new DdimScheduler(makeSchedule(), {
        timestepSpacing: spacing as 'leading',
        stepsOffset: Number(offset),
      });
      s.setTimesteps(Number(n));
      expect([...s.timesteps]).toEqual(expected);
    });
  }

  for (const [key, expected] of Object.entries(golden.dpm as Record<string, number[]>)) {
    it(`DPM-Solver++ ${key}`, () => {
      const [spacing, n, offset] = key.split('-');
      const s = new DpmSolverMultistepScheduler(makeSchedule(), {
        timestepSpacing: spacing as 'leading',
        stepsOffset: Number(offset),
      });
      s.setTimesteps(Number(n));
      expect([...s.timesteps]).toEqual(expected);
    });
  }

  it('DDPM with 1000 steps visits 999..0', () => {
    const s = createScheduler('ddpm', makeSchedule());
    s.setTimesteps(1000);
    expect(s.timesteps[0]).toBe(999);
    expect(s.timesteps[999]).toBe(0);
    expect(s.timesteps.length).toBe(1000);
  });
});

describe('steps', () => {
  const x = new Float32Array([0.5, -1.2, 2.0, 0.1]);
  const eps = new Float32Array([0.3, -0.7, 1.1, 0.0]);

  it('one DDIM step (eta 0.5) matches the reference', () => {
    const s = new DdimScheduler(makeSchedule(), { eta: 0.5, clipSample: false, stepsOffset: 1 });
    s.setTimesteps(5);
    const { prev } = s.step(eps, 801, x, { noise: new Float32Array([1.0, -0.5, 0.25, 2.0]) });
    golden.ddimStep.forEach((v, i) => expect(prev[i]).toBeCloseTo(v, 4));
  });

  it('DDIM recomputes eps from the clipped x0 by default (diffusers use_clipped_model_output), and can mix them as diffusers does', () => {
    const sch = makeSchedule();
    const big = new Float32Array([3.0, -4.0, 0.2, 0.0]);
    const prevOf = (useClippedModelOutput?: boolean): Float32Array => {
      const s = new DdimScheduler(sch, { clipSample: true, ...(useClippedModelOutput === undefined ? {} : { useClippedModelOutput }) });
      s.setTimesteps(5);
      return s.step(big, 600, x).prev;
    };
    const aT = sch.alphasCumprod[600];
    const aP = sch.alphasCumprod[400];
    const x0 = Array.from(x, (v, j) => Math.max(-1, Math.min(1, (v - Math.sqrt(1 - aT) * big[j]) / Math.sqrt(aT))));
    const consistent = x0.map((v, j) => Math.sqrt(aP) * v + Math.sqrt(1 - aP) * ((x[j] - Math.sqrt(aT) * v) / Math.sqrt(1 - aT)));
    const mixed = x0.map((v, j) => Math.sqrt(aP) * v + Math.sqrt(1 - aP) * big[j]);
    prevOf().forEach((v, i) => expect(v).toBeCloseTo(consistent[i], 5));
    prevOf(false).forEach((v, i) => expect(v).toBeCloseTo(mixed[i], 5));
    expect(Math.abs(consistent[0] - mixed[0])).toBeGreaterThan(0.1);
  });

  it('three DPM-Solver++(2M) steps match the reference', () => {
    const s = new DpmSolverMultistepScheduler(makeSchedule());
    s.setTimesteps(3);
    expect([...s.timesteps]).toEqual(golden.dpmRun.timesteps);
    const epss = [eps, eps.map((e) => e * 0.5 + 0.1), eps.map((e) => e * -0.25)];
    let cur: Float32Array = x;
    s.timesteps.forEach((t, i) => {
      cur = s.step(epss[i], t, cur).prev;
    });
    golden.dpmRun.x.forEach((v, i) => expect(Math.abs(cur[i] - v) / Math.abs(v)).toBeLessThan(1e-5));
  });
});
