/**
 * Exporting a Cold Diffusion model (src/cold/): the same exporter (export.ts), with the network's inputs made
 * by the degradation instead of noise: calibration and the int8 error figures use D(x0, t + 1) at network
 * timestep t (8-bit when the process is discrete, as in training), the end-to-end int8 check restores
 * images from level T with Algorithm 2, and the card records the process and the generation start: the
 * Gaussian mixture of the training images' per-channel means (D(x0, T) of a discrete blur), fitted here
 * from the data as the paper fits it at test time (deblurring_diffusion_pytorch.py
 * `sample_as_a_mean_blur_torch_gmm`).
 */
import { coldSample, fitGaussianMixture, makeDegradation, needsCentres, type ColdGeneration, type ColdModelCard, type ColdProcess, type RestoreModel } from '../../src/cold/index.ts';
import { quantize8 } from '../../src/image/pixels.ts';
import type { UNetConfig } from '../model/config.ts';
import type { Dataset } from '../train/data.ts';
import { Rng } from '../train/rng.ts';
import type { ModelInputs } from '../../src/diffusion/types.ts';
import { createEpsModel } from '../../src/inference/eps-model.ts';
import type { ModelSession } from '../../src/inference/onnx.ts';
import { cardOf, psnr, type NetworkInputs } from './measure.ts';

/** What the exporter needs of a cold model besides weights. */
export interface ColdExportConfig {
  unet: UNetConfig;
  process: ColdProcess;
  /** The generation start (blur with `discrete`), or null: the model restores only. */
  generation: ColdGeneration | null;
}

export function isColdExport(c: object): c is ColdExportConfig {
  return 'process' in c;
}

/** The paper's defaults for the generation start: `--gmm_cluster` 10 and `--noise` 0.002 (README, broken symmetry). */
export const DEFAULT_MIXTURE_COMPONENTS = 10;
export const DEFAULT_START_NOISE = 0.002;

/** Whether D(x0, T) is a flat image of the per-channel means, so that a mixture of those means models it. */
export function generates(p: ColdProcess): boolean {
  return p.kind === 'cold-blur' && p.discrete;
}

/** Per-channel means of every image of the dataset, in [-1, 1]: [count, C]. */
export function channelMeans(ds: Dataset): Float64Array {
  const { size: S, channels: C } = ds;
  const per = S * S * C;
  const out = new Float64Array(ds.count * C);
  for (let k = 0; k < ds.count; k++) {
    for (let i = 0; i < S * S; i++) for (let c = 0; c < C; c++) out[k * C + c] += ds.pixels[k * per + i * C + c];
    for (let c = 0; c < C; c++) out[k * C + c] = out[k * C + c] / (S * S) / 127.5 - 1;
  }
  return out;
}

/** The generation start of a cold model: a mixture fitted to the training images' channel means, or null. */
export function fitGeneration(ds: Dataset, p: ColdProcess, components: number, noise: number): { generation: ColdGeneration | null; note: string } {
  if (!generates(p)) return { generation: null, note: `${p.kind}${p.kind === 'cold-blur' ? ' without discrete' : ''}: D(x0, T) is no flat image; the model restores only` };
  const fit = fitGaussianMixture(channelMeans(ds), ds.count, ds.channels, { components });
  const fittedOn = `per-channel means of ${ds.count} training images (= D(x0, T)), ${components} components, EM to a log-likelihood gain < 1e-3 (${fit.iterations} iterations)`;
  return { generation: { mixture: fit.mixture, noise, fittedOn }, note: `generation start: Gaussian mixture of the ${fittedOn}; mean log-likelihood ${fit.logLikelihood.toFixed(3)}` };
}

/** Network inputs of a cold model: D(x0, t + 1) at network timestep t; int8 checked on restorations from T. */
export function coldInputs(config: ColdExportConfig, evaluationImages: Float32Array): NetworkInputs {
  const { unet: u, process } = config;
  const S = u.imageSize;
  const C = u.channels;
  const n = C * S * S;
  const D = makeDegradation(process, S);
  /** Mask centres of random masks (training draws them), from the seed: [b, 2]. */
  const centresOf = (seed: number, start: number, b: number): Int32Array | undefined => {
    if (!needsCentres(process)) return undefined;
    const rng = Rng.of('export-centres', seed, start);
    return Int32Array.from({ length: 2 * b }, () => S - 1 - rng.int(S + 1));
  };
  const degrade = (x0: Float32Array, levels: ArrayLike<number>, centres?: Int32Array): Float32Array => {
    const xt = D.apply(x0, C, levels, centres);
    return process.discrete ? quantize8(xt) : xt;
  };
  const restorer = (session: ModelSession): RestoreModel => {
    const m = createEpsModel(session, 0);
    return (x, t) => m({ x, t });
  };
  return {
    T: process.T,
    inputs(x0, count, batch, timesteps, seed) {
      const out: ModelInputs[] = [];
      for (let start = 0; start < count; start += batch) {
        const b = Math.min(batch, count - start);
        const t = Int32Array.from({ length: b }, (_, i) => timesteps[(start + i) % timesteps.length]);
        const x = degrade(x0.slice(start * n, (start + b) * n), t.map((v) => v + 1), centresOf(seed, start, b));
        out.push({ x, t });
      }
      return out;
    },
    async samplePsnr(fp32, int8, opts) {
      const count = Math.min(opts.images, evaluationImages.length / n);
      const x0 = evaluationImages.slice(0, count * n);
      const centres = centresOf(opts.seed, 0, count);
      const xt = degrade(x0, new Int32Array(count).fill(process.T), centres);
      const restore = (m: RestoreModel): Promise<Float32Array> => coldSample({ restorer: m, degradation: D, xt, channels: C, t: process.T, centres });
      const a = await restore(restorer(fp32));
      const b = await restore(restorer(int8));
      return { psnr: psnr(b, a), label: `Algorithm 2 restoration of ${count} images from t = T = ${process.T}` };
    },
    metadata: { prediction: 'sample', process: JSON.stringify(process) },
    card: (common): ColdModelCard => ({ kind: process.kind, ...cardOf(common, { process, prediction: 'sample' as const, generation: config.generation }) }),
  };
}
