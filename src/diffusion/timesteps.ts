import { checkInt, checkOneOf } from './errors.ts';

export type TimestepSpacing = 'leading' | 'linspace' | 'trailing';
export const TIMESTEP_SPACINGS: readonly TimestepSpacing[] = ['leading', 'linspace', 'trailing'];

/** numpy's round(): half to even. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * The timesteps (descending, 0-based) of N inference steps over T training steps, as diffusers' DDIM / DDPM
 * `set_timesteps` lays them out (Lin et al. 2023, table 2):
 * - leading:  (0, 1, ..., N-1) * floor(T / N), reversed, + stepsOffset
 * - linspace: round(linspace(0, T - 1, N)), reversed
 * - trailing: round(arange(T, 0, -T / N)) - 1
 * `extra` = 1 gives DPM-Solver's N + 1 grid with the last point dropped (diffusers' DPMSolverMultistep).
 */
export function inferenceTimesteps(
  T: number,
  numInferenceSteps: number,
  spacing: TimestepSpacing,
  stepsOffset = 0,
  extra: 0 | 1 = 0,
): Int32Array {
  const N = checkInt('steps', numInferenceSteps, 1, T);
  checkOneOf('timestepSpacing', spacing, TIMESTEP_SPACINGS);
  checkInt('stepsOffset', stepsOffset, 0, T - 1);
  const out = new Int32Array(N);
  switch (spacing) {
    case 'leading': {
      const ratio = Math.floor(T / (N + extra));
      for (let i = 0; i < N; i++) out[i] = (N + extra - 1 - i) * ratio + stepsOffset;
      break;
    }
    case 'linspace': {
      const M = N + extra;
      const step = M === 1 ? 0 : (T - 1) / (M - 1);
      for (let i = 0; i < N; i++) out[i] = roundHalfEven((M - 1 - i) * step);
      break;
    }
    case 'trailing': {
      const ratio = T / N;
      for (let i = 0; i < N; i++) out[i] = roundHalfEven(T - i * ratio) - 1;
      break;
    }
  }
  for (let i = 0; i < N; i++) out[i] = Math.min(Math.max(out[i], 0), T - 1);
  return out;
}
