/**
 * Cold Diffusion (Bansal et al. 2022, "Inverting Arbitrary Image Transforms Without Noise"): the degradation
 * D(x0, t), t = 0 .. T, as data. Written to the run's config.json and to model.json, read back by training,
 * export, serving and evaluation, so all of them degrade the same way. Every default below is the paper's own
 * code (github.com/arpitbansal297/Cold-Diffusion-Models, README "Gaussian Blur" / "Inpainting" commands for
 * MNIST, and the `get_kernels` of deblurring-diffusion-pytorch/deblurring_diffusion_pytorch/
 * deblurring_diffusion_pytorch.py and defading-diffusion-pytorch/defading_diffusion_pytorch/
 * defading_diffusion_gaussian.py).
 */
import { checkInt, checkOneOf, checkRange, DiffusionOptionError } from '../diffusion/errors.ts';

export type ColdKind = 'cold-blur' | 'cold-mask';
export const COLD_KINDS: readonly ColdKind[] = ['cold-blur', 'cold-mask'];

/**
 * The paper's blur routines (`--blur_routine`): the std of the Gaussian kernel applied at step i (0-based):
 *   constant: std;  incremental: std * (i + 1);  exponential: exp(std * i);  special-6: i / 100 + 0.35 (its
 *   CIFAR-10 schedule, which also fixes the kernel at 11 taps).
 */
export type BlurRoutine = 'constant' | 'incremental' | 'exponential' | 'special-6';
export const BLUR_ROUTINES: readonly BlurRoutine[] = ['constant', 'incremental', 'exponential', 'special-6'];

/** Border handling of the blur convolution (torch padding_mode): the paper's default `circular`, or `reflect`. */
export type BlurPadding = 'circular' | 'reflect';
export const BLUR_PADDINGS: readonly BlurPadding[] = ['circular', 'reflect'];

/** Gaussian blur, applied once per step: D(x0, t) = G_{t-1} * ... * G_0 * x0 (repeated application). */
export interface BlurProcess {
  kind: 'cold-blur';
  /** Steps from the clean image (t = 0) to the most blurred (t = T). */
  T: number;
  /** Taps of the (square, odd) kernel: `--blur_size`. */
  kernelSize: number;
  /** `--blur_std`; its meaning depends on the routine. */
  std: number;
  routine: BlurRoutine;
  padding: BlurPadding;
  /**
   * The paper's `--discrete`: the last step (t = T) replaces each channel by its mean, so the fully degraded
   * state is a flat image (whose distribution the generation's Gaussian mixture models), and the degraded
   * training inputs are rounded to 8 bits.
   */
  discrete: boolean;
}

/**
 * The paper's Gaussian-mask routines (`--fade_routine`): each step multiplies the image by 1 - g / max g, g a
 * Gaussian bump of std `std * (i + initialMask)` (incremental, random-incremental) or `std` (constant), so a
 * soft hole grows towards 0 (mid-grey in [-1, 1]) over the steps. incremental and constant centre it (at
 * pixel S/2 - 1, the paper's [1:, 1:] crop of a (S+1)-tap kernel); random-incremental draws the centre of
 * each image uniformly from [-1, S - 1] in both axes (a random S x S crop of a (2S+1)-tap kernel).
 */
export type MaskRoutine = 'incremental' | 'random-incremental' | 'constant';
export const MASK_ROUTINES: readonly MaskRoutine[] = ['incremental', 'random-incremental', 'constant'];

export interface MaskProcess {
  kind: 'cold-mask';
  T: number;
  /** `--kernel_std`. */
  std: number;
  /** `initial_mask` (the paper's class default, 11; its MNIST scripts do not change it). */
  initialMask: number;
  routine: MaskRoutine;
  /** The paper's `--discrete`: degraded training inputs are rounded to 8 bits. */
  discrete: boolean;
}

export type ColdProcess = BlurProcess | MaskProcess;

/**
 * The paper's MNIST blur schedule (README: `mnist_train.py --time_steps 20 --blur_size 11 --blur_std 7.0
 * --blur_routine 'Constant'`; circular padding is get_conv's default), with `--discrete` as its generation
 * models use it (celebA_128.py / AFHQ_128.py `--discrete`), so that the fully blurred state is exactly the
 * per-channel mean the Gaussian mixture is fitted to.
 */
export const DEFAULT_BLUR: BlurProcess = { kind: 'cold-blur', T: 20, kernelSize: 11, std: 7, routine: 'constant', padding: 'circular', discrete: true };

/**
 * The paper's MNIST inpainting schedule (README: `mnist_train.py --time_steps 50 --discrete --kernel_std 0.1
 * --fade_routine Random_Incremental`, initial_mask 11 by default).
 */
export const DEFAULT_MASK: MaskProcess = { kind: 'cold-mask', T: 50, std: 0.1, initialMask: 11, routine: 'random-incremental', discrete: true };

export const DEFAULT_PROCESS: Record<ColdKind, ColdProcess> = { 'cold-blur': DEFAULT_BLUR, 'cold-mask': DEFAULT_MASK };

/** Most steps a process may have (the U-Net's timestep input ranges over [0, T)). */
export const MAX_COLD_T = 1000;

/** Checks every field (DiffusionOptionError naming it, prefixed `process.`); returns a clean copy. */
export function validateProcess(p: unknown): ColdProcess {
  if (p === null || typeof p !== 'object') throw new DiffusionOptionError('process', `must be an object (got ${JSON.stringify(p)})`);
  const o = p as Record<string, unknown>;
  const kind = checkOneOf('process.kind', String(o.kind), COLD_KINDS);
  const num = (name: string): number => (typeof o[name] === 'number' ? (o[name] as number) : NaN);
  const bool = (name: string): boolean => {
    if (typeof o[name] !== 'boolean') throw new DiffusionOptionError(`process.${name}`, `must be true or false (got ${JSON.stringify(o[name])})`);
    return o[name] as boolean;
  };
  const T = checkInt('process.T', num('T'), 1, MAX_COLD_T);
  if (kind === 'cold-blur') {
    const routine = checkOneOf('process.routine', String(o.routine), BLUR_ROUTINES);
    const kernelSize = checkInt('process.kernelSize', num('kernelSize'), 1, 63);
    if (kernelSize % 2 === 0) throw new DiffusionOptionError('process.kernelSize', `must be odd (got ${kernelSize})`);
    if (routine === 'special-6' && kernelSize !== 11) throw new DiffusionOptionError('process.kernelSize', `must be 11 with routine special-6 (the paper fixes it; got ${kernelSize})`);
    const std = checkRange('process.std', num('std'), 1e-3, 100);
    const padding = checkOneOf('process.padding', String(o.padding), BLUR_PADDINGS);
    const out: BlurProcess = { kind, T, kernelSize, std, routine, padding, discrete: bool('discrete') };
    for (let i = 0; i < T; i++) checkRange(`process.std at step ${i}`, blurStd(out, i), 1e-3, 1e4);
    return out;
  }
  const routine = checkOneOf('process.routine', String(o.routine), MASK_ROUTINES);
  const std = checkRange('process.std', num('std'), 1e-3, 100);
  const initialMask = checkRange('process.initialMask', num('initialMask'), 0, 1000);
  const out: MaskProcess = { kind, T, std, initialMask, routine, discrete: bool('discrete') };
  for (let i = 0; i < T; i++) checkRange(`process.std at step ${i}`, maskStd(out, i), 1e-3, 1e4);
  return out;
}

/** The std of blur step i (0-based), the paper's get_kernels. */
export function blurStd(p: BlurProcess, i: number): number {
  switch (p.routine) {
    case 'constant':
      return p.std;
    case 'incremental':
      return p.std * (i + 1);
    case 'exponential':
      return Math.exp(p.std * i);
    case 'special-6':
      return i / 100 + 0.35;
  }
}

/** The std of mask step i (0-based), the paper's get_kernels. */
export function maskStd(p: MaskProcess, i: number): number {
  return p.routine === 'constant' ? p.std : p.std * (i + p.initialMask);
}

/** One line for logs and the README, e.g. `cold-blur: T 20, 11-tap Gaussian, std 7 (constant), circular, discrete`. */
export function describeProcess(p: ColdProcess): string {
  if (p.kind === 'cold-blur') {
    return `cold-blur: T ${p.T}, ${p.kernelSize}-tap Gaussian, std ${p.routine === 'special-6' ? 'i/100 + 0.35' : p.std} (${p.routine}), ${p.padding} padding${p.discrete ? ', discrete' : ''}`;
  }
  return `cold-mask: T ${p.T}, Gaussian mask std ${p.std} x (i + ${p.initialMask}) (${p.routine})${p.discrete ? ', discrete' : ''}`;
}
