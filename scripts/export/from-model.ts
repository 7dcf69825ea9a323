/**
 * Re-export an exported model: its fp32 unet.onnx weights rebuilt into today's graph (scripts/model/ops-onnx.ts),
 * re-quantized and re-measured, with the card's training record kept. For graph changes that need no retraining
 * (`npm run export -- --from-model models/fmnist-small`); the old fp32 graph is the parity reference.
 */
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { isColdCard } from '../../src/models/cold.ts';
import { parseModelCard } from '../../src/model-card.ts';
import { createModelSession, graphSpec } from '../../src/inference/onnx.ts';
import type { DiffusionModelConfig } from '../model/config.ts';
import { ExportError } from '../model/ops-onnx.ts';
import { FASHION_MNIST_CLASSES, loadIdxDataset, loadImageFolder, type Dataset } from '../train/data.ts';
import { exportModel, type ExportInput } from './export.ts';
import { weightsSource } from './graph.ts';
import { errorStats } from './measure.ts';
import { weightsFromOnnx } from './onnx-weights.ts';
import { tfjsOrtParity } from './parity.ts';
import { exportImageSets, parityTimesteps, type RunExportOptions } from './from-run.ts';

export interface ModelExportOptions extends Omit<RunExportOptions, 'runDir' | 'step'> {
  modelDir: string;
  /** Training images (IDX file or image folder); default: the path in the card's `dataset`. */
  images?: string;
  labels?: string;
}

/** The IDX images path a card's `dataset` names ("Fashion-MNIST: /path/train-images-idx3-ubyte.gz"), if any. */
export function datasetPath(dataset: string): string | undefined {
  const m = /:\s*(\/\S+)$/.exec(dataset);
  return m?.[1];
}

/** train-images-idx3-ubyte(.gz) -> train-labels-idx1-ubyte(.gz), the IDX naming convention. */
export function labelsBeside(images: string): string | undefined {
  const base = path.basename(images);
  return base.includes('-images-idx3-') ? path.join(path.dirname(images), base.replace('-images-idx3-', '-labels-idx1-')) : undefined;
}

export async function exportFromModel(o: ModelExportOptions) {
  let card;
  try {
    const json: unknown = JSON.parse(await readFile(path.join(o.modelDir, 'model.json'), 'utf8'));
    if (isColdCard(json)) throw new Error(`it is a Cold Diffusion model (${(json as { kind: string }).kind}); --from-model re-exports DDPM models: export it from its run (--run)`);
    card = parseModelCard(json);
  } catch (e) {
    throw new ExportError(`cannot read the model card in ${o.modelDir}: ${(e as Error).message}`, { cause: e });
  }
  const oldFp32 = await readFile(path.join(o.modelDir, card.files.fp32.path));
  const source = weightsSource(weightsFromOnnx(oldFp32));
  const { parameters: _count, ...unet } = card.architecture;
  const config: DiffusionModelConfig = { unet, schedule: card.schedule, prediction: card.prediction };
  const u = config.unet;

  const images = o.images ?? datasetPath(card.dataset);
  if (images === undefined) throw new ExportError(`the card's dataset (${card.dataset}) names no file: pass --images`);
  const isIdx = /idx\d-ubyte(\.gz)?$/.test(images);
  const labels = o.labels ?? (isIdx && u.numClasses > 0 ? labelsBeside(images) : undefined);
  const loadOpts = { size: u.imageSize, channels: u.channels, fit: 'pad' as const, limit: 0 };
  let ds: Dataset;
  try {
    ds = isIdx ? await loadIdxDataset(images, labels, loadOpts) : await loadImageFolder(images, loadOpts);
  } catch (e) {
    throw new ExportError(`cannot read training images (${images}) for calibration: ${(e as Error).message}`, { cause: e });
  }
  const n = u.channels * u.imageSize * u.imageSize;
  const input: ExportInput = {
    name: o.name ?? card.name,
    version: o.version,
    config,
    params: source,
    classNames: card.classNames,
    dataset: card.dataset,
    training: card.training,
    ...exportImageSets(ds, o.calibrationImages, o.evaluationImages),
    keepFloat: o.keepFloat === undefined ? undefined : () => new Set(o.keepFloat),
    modelsDir: o.modelsDir,
    benchmarkBatches: o.benchmarkBatches,
    optimize: o.optimize,
    log: o.log,
    extraChecks: async (fp32, net) => {
      const inputs = net.inputs(input.evaluationImages.subarray(0, 8 * n), 8, 4, parityTimesteps(net.T), 4, input.evaluationLabels);
      const old = await createModelSession(oldFp32, graphSpec(card));
      const a: number[] = [];
      const b: number[] = [];
      try {
        for (const x of inputs) {
          a.push(...(await fp32.run(x)));
          b.push(...(await old.run(x)));
        }
      } finally {
        await old.release();
      }
      const checks: Record<string, number> = { 'parity.previousGraphMaxAbs': errorStats(Float32Array.from(a), Float32Array.from(b)).maxAbs };
      if (o.parity) checks['parity.tfjsVsOrtMaxAbs'] = (await tfjsOrtParity(u, source, fp32, inputs)).maxAbs;
      return checks;
    },
  };
  if (card.classNames !== null && card.classNames.join() !== FASHION_MNIST_CLASSES.join() && ds.classNames !== null && ds.classNames.join() !== card.classNames.join()) {
    throw new ExportError(`the images' classes (${ds.classNames.join(', ')}) are not the model's (${card.classNames.join(', ')})`);
  }
  return exportModel(input);
}
