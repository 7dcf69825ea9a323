/** The diffusion core: pure math, no I/O; runs unchanged in Node and in workerd. */
export * from './errors.ts';
export * from './types.ts';
export * from './schedule.ts';
export * from './forward.ts';
export * from './noise.ts';
export * from './timesteps.ts';
export * from './threshold.ts';
export type { CommonSchedulerOptions, SamplerName, Scheduler, StepExtras } from './scheduler.ts';
export * from './ddpm.ts';
export * from './ddim.ts';
export * from './dpm-solver.ts';
export * from './unipc.ts';
export * from './create.ts';
export * from './guidance.ts';
export * from './sample.ts';
