// UniPC against diffusers' own UniPCMultistepScheduler in float64 (golden_unipc.py writes golden-unipc.json).
import { describe, expect, it } from 'vitest';
import { createScheduler, DiffusionOptionError, makeSchedule, UniPcMultistepScheduler, type StepResult, type UniPcOptions } from '../../src/diffusion/index.ts';
import golden from './golden-unipc.json';

const schedule = makeSchedule({ kind: 'linear', T: 1000 });
const S = golden.s;

interface Run {
  options: Record<string, unknown>;
  steps: number;
  muScale: number;
  timesteps: number[];
  x: number[][];
}

/** The exact output of the Gaussian denoiser x0 ~ N(mu, S^2) per element, as golden_unipc.py's `model`. */
function model(x: Float32Array, t: number, predictionType: string, muScale: number): Float32Array {
  const a = schedule.alphasCumprod[t];
  return Float32Array.from(x, (xi, k) => {
    const mu = golden.mu[k] * muScale;
    const x0 = mu + ((Math.sqrt(a) * S * S) / (a * S * S + 1 - a)) * (xi - Math.sqrt(a) * mu);
    const eps = (xi - Math.sqrt(a) * x0) / Math.sqrt(1 - a);
    if (predictionType === 'sample') return x0;
    if (predictionType === 'v_prediction') return Math.sqrt(a) * eps - Math.sqrt(1 - a) * x0;
    return eps;
  });
}

describe('UniPC timesteps match diffusers', () => {
  for (const [key, expected] of Object.entries(golden.timesteps as Record<string, number[]>)) {
    it(key, () => {
      const [spacing, n, offset] = key.split('-');
      const s = new UniPcMultistepScheduler(schedule, { timestepSpacing: spacing as 'leading', stepsOffset: Number(offset) });
      s.setTimesteps(Number(n));
      expect([...s.timesteps]).toEqual(expected);
    });
  }
});

describe('UniPC trajectories match diffusers step by step', () => {
  for (const [name, run] of Object.entries(golden.runs as Record<string, Run>)) {
    it(`${name} ${JSON.stringify(run.options)}`, () => {
      const options = run.options as UniPcOptions;
      const s = createScheduler('unipc', schedule, options);
      s.setTimesteps(run.steps);
      expect([...s.timesteps]).toEqual(run.timesteps);
      let x: Float32Array = Float32Array.from(golden.xT);
      let worst = 0;
      s.timesteps.forEach((t, i) => {
        x = s.step(model(x, t, options.predictionType ?? 'epsilon', run.muScale), t, x, { batch: 2 }).prev;
        run.x[i].forEach((v, j) => {
          worst = Math.max(worst, Math.abs(x[j] - v) / Math.max(1, Math.abs(v)));
        });
      });
      // float32 state and history (x0 or eps) against a float64 reference: measured <= 4e-7, and 1.3e-6 for
      // the two runs that end at sigma_min, whose last step amplifies the float32 rounding of the history
      expect(worst).toBeLessThan(2e-6);
    });
  }
});

describe('UniPC options', () => {
  it('refuses the configurations for which diffusers returns NaN', () => {
    expect(golden.nonFinite['noiseForm-zero']).toBe(true);
    expect(golden.nonFinite['noLowerOrderFinal-zero']).toBe(true);
    expect(() => new UniPcMultistepScheduler(schedule, { predictX0: false })).toThrow(/predictX0 false needs finalSigmasType 'sigma_min'/);
    expect(() => new UniPcMultistepScheduler(schedule, { lowerOrderFinal: false })).toThrow(DiffusionOptionError);
    expect(() => new UniPcMultistepScheduler(schedule, { lowerOrderFinal: false, solverOrder: 1 })).not.toThrow();
  });

  it('bh1 to sigma 0 ends at x0, where diffusers computes -inf * 0', () => {
    expect(golden.nonFinite['bh1-zero']).toBe(true);
    const s = new UniPcMultistepScheduler(schedule, { solverType: 'bh1' });
    s.setTimesteps(6);
    let x: Float32Array = Float32Array.from(golden.xT);
    let last: StepResult = { prev: x, predX0: x };
    for (const t of s.timesteps) {
      last = s.step(model(x, t, 'epsilon', 1), t, x);
      x = last.prev;
    }
    expect([...last.prev]).toEqual([...last.predX0]);
    expect(last.prev.every(Number.isFinite)).toBe(true);
  });

  it.each([
    [{ solverOrder: 4 as 3 }, /solverOrder must be an integer in \[1, 3\] \(got 4\)/],
    [{ solverType: 'bh3' as 'bh1' }, /solverType must be one of bh1, bh2 \(got "bh3"\)/],
    [{ finalSigmasType: 'one' as 'zero' }, /finalSigmasType must be one of zero, sigma_min/],
    [{ disableCorrector: [1, -1] }, /disableCorrector\[1\] must be an integer in \[0, 999\] \(got -1\)/],
    [{ predictionType: 'flow_prediction' as 'epsilon' }, /predictionType must be one of epsilon, sample, v_prediction/],
  ])('throws DiffusionOptionError for %j', (options, message) => {
    expect(() => new UniPcMultistepScheduler(schedule, options)).toThrow(message);
    expect(() => new UniPcMultistepScheduler(schedule, options)).toThrow(DiffusionOptionError);
  });

  it('is multistep: timesteps must come in order', () => {
    const s = createScheduler('unipc', schedule);
    s.setTimesteps(5);
    const x = new Float32Array(4);
    expect(() => s.step(x, s.timesteps[1], x)).toThrow(/expected timestep 999 next, got 799/);
  });
});
