/**
 * The sample grid of a Cold Diffusion run (the paper's Trainer saves og / xt / direct_recons / recon): for 8
 * training images, rows of x0, D(x0, T/2), its Algorithm 2 restoration, D(x0, T) and its Algorithm 2
 * restoration, from the EMA weights. Random masks use the centre of the image (as serving does by default).
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { coldSample, makeDegradation, needsCentres, centredMask, type RestoreModel } from '../../src/cold/index.ts';
import { quantize8 } from '../../src/image/pixels.ts';
import { writeFileAtomic } from './checkpoint.ts';
import type { Dataset } from './data.ts';
import { nhwcToNchw } from './cold-batch.ts';
import { ImageOrder } from './batch.ts';
import { setWeights, toEpsModel, type TfjsUNet } from './model.ts';
import type { ColdRunConfig } from './options.ts';
import { gridPng } from './plot.ts';

/** Image k of n spread evenly over the dataset, as x0 [n, C, S, S]. */
function spreadImages(ds: Dataset, n: number): Float32Array {
  const order = new ImageOrder(ds, 0);
  const per = ds.size * ds.size * ds.channels;
  const x = new Float32Array(n * per);
  for (let k = 0; k < n; k++) order.write(Math.floor(((k + 0.5) * ds.count) / n), false, x, k * per);
  return nhwcToNchw(x, n, ds.size, ds.channels);
}

/** The network as the sampler's restorer (x0 prediction at timestep level - 1). */
export function restorerOf(model: TfjsUNet, maxBatch = 40): RestoreModel {
  const eps = toEpsModel(model, maxBatch);
  return (x, t) => eps({ x, t });
}

export async function writeColdGrid(model: TfjsUNet, cfg: ColdRunConfig, ds: Dataset, ema: Float32Array, file: string): Promise<void> {
  setWeights(model, ema);
  const { imageSize: S, channels: C } = cfg.unet;
  const n = 8;
  const per = C * S * S;
  const D = makeDegradation(cfg.process, S);
  const centres = needsCentres(cfg.process) ? new Int32Array(2 * n).fill(centredMask(S)) : undefined;
  const x0 = spreadImages(ds, n);
  const rows = [x0];
  for (const level of [Math.max(1, Math.round(cfg.process.T / 2)), cfg.process.T]) {
    let xt = D.apply(x0, C, level, centres);
    if (cfg.process.discrete) xt = quantize8(xt);
    rows.push(xt, await coldSample({ restorer: restorerOf(model), degradation: D, xt, channels: C, t: level, centres }));
  }
  const images = new Float32Array(rows.length * n * per);
  rows.forEach((r, i) => images.set(r, i * n * per));
  await fsp.mkdir(path.dirname(file), { recursive: true });
  await writeFileAtomic(file, gridPng(images, rows.length * n, C, S, n));
}
