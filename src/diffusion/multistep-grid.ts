import type { NoiseSchedule } from './schedule.ts';

/** Where a multistep solver's last step goes: sigma 0 (x0 itself) or the schedule's smallest sigma. */
export type FinalSigmasType = 'zero' | 'sigma_min';

/**
 * alpha_t, sigma_t and lambda_t = log(alpha_t / sigma_t) at each timestep of the grid (indices 0..N-1) and after
 * the last step (index N): the half-log-SNR grid DPM-Solver++ and UniPC step along (Lu et al. 2022, eq. 4).
 */
export function multistepGrid(schedule: NoiseSchedule, timesteps: ArrayLike<number>, finalSigmasType: FinalSigmasType): {
  alpha: Float64Array<ArrayBuffer>;
  sigma: Float64Array<ArrayBuffer>;
  lambda: Float64Array<ArrayBuffer>;
} {
  const N = timesteps.length;
  const alpha = new Float64Array(N + 1);
  const sigma = new Float64Array(N + 1);
  const lambda = new Float64Array(N + 1);
  for (let i = 0; i < N; i++) {
    alpha[i] = schedule.sqrtAlphasCumprod[timesteps[i]];
    sigma[i] = schedule.sqrtOneMinusAlphasCumprod[timesteps[i]];
  }
  if (finalSigmasType === 'zero') {
    alpha[N] = 1;
    sigma[N] = 0;
  } else {
    alpha[N] = schedule.sqrtAlphasCumprod[0];
    sigma[N] = schedule.sqrtOneMinusAlphasCumprod[0];
  }
  for (let i = 0; i <= N; i++) lambda[i] = Math.log(alpha[i]) - Math.log(sigma[i]);
  return { alpha, sigma, lambda };
}
