/** Cold Diffusion (Bansal et al. 2022): degradations, their restoration sampler and the generation start. Pure, no I/O. */
export * from './process.ts';
export * from './degrade.ts';
export * from './sample.ts';
export * from './mixture.ts';
export type * from './card.ts';
