/**
 * The request path apart from the U-Net, in Node with the worker's own modules: the sampling loop with an
 * instant model (scheduler arithmetic, x_T noise, guidance, finiteness checks), the noise alone, the
 * onnxruntime adapter (src/inference/eps-model.ts: input copies, int64 conversion, output copy) over a session
 * that answers at once, pixels + grid + PNG encoding, and the content key (sha256).
 */
import { createScheduler, gaussianNoise, makeSchedule, sample, type EpsModel } from '../../src/diffusion/index.ts';
import { createEpsModel } from '../../src/inference/eps-model.ts';
import { graphInputs } from '../../src/model-card.ts';
import { graphSpec, modelSession, type ModelSession, type TensorLike } from '../../src/inference/onnx.ts';
import type { ModelCard } from '../../src/model-card.ts';
import { encodePng, makeGrid, toImages, upscale } from '../../src/image/index.ts';
import type { RenderParams } from '../../src/render/params.ts';
import { GRID_PAD, seedsFor } from '../../src/render/render.ts';
import { contentKey } from '../../src/storage/keys.ts';
import { timeRuns, type TimingOptions } from './timing.ts';

export interface OverheadRow {
  part: string;
  /** ms per request (all steps). */
  msPerRequest: number;
}

export const DEFAULT_PARAMS: RenderParams = { sampler: 'dpmpp2m', steps: 20, eta: 0, clip: true, classId: null, guidance: 1, scale: 1, n: 1 };

/** The model's session (src/inference/onnx.ts, onnxruntime-web tensors) over a runtime that answers at once. */
function instantSession(card: ModelCard): ModelSession {
  const n = card.channels * card.imageSize * card.imageSize;
  const fake = {
    inputNames: graphInputs(card.io),
    outputNames: [card.io.output],
    async run(feeds: Record<string, TensorLike>): Promise<Record<string, TensorLike>> {
      const b = feeds[card.io.x].dims[0];
      return { [card.io.output]: { type: 'float32', data: new Float32Array(b * n), dims: [b, card.channels, card.imageSize, card.imageSize], dispose() {} } };
    },
    endProfiling() {},
    async release() {},
  };
  return modelSession(fake, graphSpec(card));
}

/** Overhead parts of one request of `images` images (1: /v1/samples, 16: /v1/grids) at `params`. */
export async function measureOverhead(card: ModelCard, images: number, params: RenderParams, maxBatch: number, timing: TimingOptions): Promise<OverheadRow[]> {
  const kind = images === 1 ? 'sample' : 'grid';
  const p: RenderParams = { ...params, n: images };
  const shape = [images, card.channels, card.imageSize, card.imageSize] as const;
  const n = card.channels * card.imageSize * card.imageSize;
  const seeds = seedsFor(kind, 42, images);
  const schedule = makeSchedule(card.schedule);
  const zero: EpsModel = Object.assign(async ({ x }: { x: Float32Array }) => new Float32Array(x.length), { selfCondition: card.io.selfCond !== undefined });
  const loop = (model: EpsModel) => () =>
    sample({
      model,
      scheduler: createScheduler(p.sampler, schedule, { predictionType: card.prediction, clipSample: p.clip }),
      steps: p.steps,
      shape,
      seeds,
      ...(p.classId === null ? {} : { classes: new Int32Array(images).fill(p.classId) }),
      guidanceScale: p.guidance,
      nullClass: card.architecture.numClasses,
    });
  const now = (): number => performance.now();
  const rows: OverheadRow[] = [];
  const sampler = await timeRuns(loop(zero), timing, now);
  rows.push({ part: `sampling loop without the U-Net (${p.sampler} x ${p.steps}: scheduler, x_T noise, checks)`, msPerRequest: sampler.medianMs });
  const noise = new Float32Array(images * n);
  const noiseT = await timeRuns(() => {
    for (let b = 0; b < images; b++) gaussianNoise(seeds[b], 1, noise.subarray(b * n, (b + 1) * n));
  }, timing, now);
  rows.push({ part: `  of which noise, one draw for ${images} image(s) (x ${p.sampler === 'ddpm' || (p.sampler === 'ddim' && p.eta > 0) ? p.steps + 1 : 1} per request)`, msPerRequest: noiseT.medianMs });
  const adapter = createEpsModel(instantSession(card), card.architecture.numClasses, { maxBatch });
  const withAdapter = await timeRuns(loop(adapter), timing, now);
  rows.push({ part: `onnxruntime adapter (eps-model.ts: copies, int64 feeds, output copy; maxBatch ${maxBatch})`, msPerRequest: Math.max(0, withAdapter.medianMs - sampler.medianMs) });
  const x = gaussianNoise(7, 0, new Float32Array(images * n)).map((v) => Math.tanh(v));
  const png = await timeRuns(() => {
    const imgs = toImages(x, shape);
    const picture = kind === 'grid' ? makeGrid(imgs, GRID_PAD) : imgs[0];
    return encodePng(upscale(picture, p.scale));
  }, timing, now);
  rows.push({ part: 'pixels, grid and PNG encoding (fast-png)', msPerRequest: png.medianMs });
  const key = await timeRuns(() => contentKey(card, kind, 42, p), timing, now);
  rows.push({ part: 'content key (sha256 of the canonical parameters)', msPerRequest: key.medianMs });
  return rows;
}
