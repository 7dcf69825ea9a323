import { DdimScheduler, type DdimOptions } from './ddim.ts';
import { DdpmScheduler, type DdpmOptions } from './ddpm.ts';
import { DpmSolverMultistepScheduler, type DpmSolverOptions } from './dpm-solver.ts';
import { checkOneOf } from './errors.ts';
import type { NoiseSchedule } from './schedule.ts';
import type { SamplerName, Scheduler } from './scheduler.ts';
import { UniPcMultistepScheduler, type UniPcOptions } from './unipc.ts';

export const SAMPLER_NAMES: readonly SamplerName[] = ['ddpm', 'ddim', 'dpmpp2m', 'dpmpp3m', 'unipc'];

/** Options of any sampler; each reads those it knows (see DdpmOptions, DdimOptions, DpmSolverOptions, UniPcOptions). */
export type SchedulerOptions = DdpmOptions & DdimOptions & Omit<DpmSolverOptions, 'solverOrder'> & UniPcOptions;

/**
 * The scheduler for an API sampler name: ddpm, ddim, dpmpp2m (DPM-Solver++ 2M), dpmpp3m (3M), unipc (UniPC,
 * bh2, order 2 unless `solverOrder` says otherwise; the DPM-Solver++ names fix their own order).
 */
export function createScheduler(name: SamplerName, schedule: NoiseSchedule, options: SchedulerOptions = {}): Scheduler {
  switch (checkOneOf('sampler', name, SAMPLER_NAMES)) {
    case 'ddpm':
      return new DdpmScheduler(schedule, options);
    case 'ddim':
      return new DdimScheduler(schedule, options);
    case 'dpmpp2m':
      return new DpmSolverMultistepScheduler(schedule, { ...options, solverOrder: 2 });
    case 'dpmpp3m':
      return new DpmSolverMultistepScheduler(schedule, { ...options, solverOrder: 3 });
    case 'unipc':
      return new UniPcMultistepScheduler(schedule, options);
  }
}
