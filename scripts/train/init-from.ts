/**
 * Warm start: a new run's weights (and EMA) taken from an exported model's fp32 graph (`models/<name>/unet.onnx`),
 * so the CPU time already spent on a model is kept when the recipe changes (`npm run train -- --init-from <dir>`).
 *
 * The architecture must be the model's, with one exception: a self-conditioned run may start from a model
 * without self-conditioning. Its first convolution reads [selfCond | x]; the x channels get the model's kernel
 * and the selfCond channels start at zero, so the run starts as the model (it ignores the estimate) and learns
 * to use it. Adam's moments start at zero; the learning rate warms up as in any new run.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { isColdCard } from '../../src/models/cold.ts';
import { parseModelCard, type InitFromRecord } from '../../src/model-card.ts';
import type { UNetConfig } from '../model/config.ts';
import type { ParamLayout } from '../model/ops-tfjs.ts';
import { weightsFromOnnx, type CanonicalWeight } from '../export/onnx-weights.ts';
import type { RunConfig } from './options.ts';

/** What a run started from, as config.json and the exported card record it. */
export interface InitFrom {
  /** The model folder, resolved. */
  dir: string;
  model: string;
  version: string;
  /** sha256 of the fp32 graph the weights were read from (checked again when the run starts). */
  sha256: string;
  /** The model's own training record (its card's `training`), with its own warm start when it had one. */
  training: { steps: number; seconds: number; batchSize?: number; initFrom?: InitFromRecord };
}

export class InitFromError extends Error {}

/** The fields of the U-Net that decide its weights' shapes and meaning (dropout does not). */
const SHAPE_FIELDS = ['imageSize', 'channels', 'baseChannels', 'channelMults', 'numResBlocks', 'attentionResolutions', 'groups', 'numClasses'] as const;

/** The first convolution: the only weight whose shape self-conditioning changes. */
export const INPUT_CONV = 'in/conv/kernel';

/** Read a model folder's card and check that a run with `run`'s network, schedule and objective can start from it. */
export async function describeInit(dir: string, run: Pick<RunConfig, 'unet' | 'schedule' | 'prediction'>): Promise<InitFrom> {
  const abs = path.resolve(dir);
  let card;
  try {
    const json: unknown = JSON.parse(await readFile(path.join(abs, 'model.json'), 'utf8'));
    if (isColdCard(json)) throw new Error('it is a Cold Diffusion model; --init-from starts DDPM runs');
    card = parseModelCard(json);
  } catch (e) {
    throw new InitFromError(`--init-from ${dir}: cannot read the model card: ${(e as Error).message}`, { cause: e });
  }
  const a = card.architecture;
  for (const k of SHAPE_FIELDS) {
    if (JSON.stringify(a[k]) !== JSON.stringify(run.unet[k])) {
      throw new InitFromError(`--init-from ${dir}: the model has ${k} ${JSON.stringify(a[k])}, the run ${JSON.stringify(run.unet[k])} (pass the model's architecture, e.g. its --preset)`);
    }
  }
  if (a.selfCondition === true && run.unet.selfCondition !== true) {
    throw new InitFromError(`--init-from ${dir}: the model is self-conditioned and the run is not (add --self-condition)`);
  }
  if (JSON.stringify(card.schedule) !== JSON.stringify(run.schedule)) {
    throw new InitFromError(`--init-from ${dir}: the model's schedule is ${JSON.stringify(card.schedule)}, the run's ${JSON.stringify(run.schedule)}`);
  }
  if (card.prediction !== run.prediction) {
    throw new InitFromError(`--init-from ${dir}: the model predicts ${card.prediction}, the run ${run.prediction} (--objective)`);
  }
  const bytes = await readFile(path.join(abs, card.files.fp32.path));
  const { steps, seconds, batchSize, initFrom } = card.training;
  return {
    dir: abs,
    model: card.name,
    version: card.version,
    sha256: createHash('sha256').update(bytes).digest('hex'),
    training: { steps, seconds, ...(batchSize !== undefined ? { batchSize } : {}), ...(initFrom !== undefined ? { initFrom } : {}) },
  };
}

/**
 * The flat weight vector of a run's layout from the model's named weights. Every parameter must be there with
 * its shape (the first convolution of a self-conditioned run may have twice the model's input channels; the
 * extra ones are zero), and every weight of the model must be used.
 */
export function initialWeights(layout: ParamLayout, unet: UNetConfig, weights: ReadonlyMap<string, CanonicalWeight>): { flat: Float32Array; notes: string[] } {
  const flat = new Float32Array(layout.total);
  const notes: string[] = [];
  const used = new Set<string>();
  for (const e of layout.entries) {
    const w = weights.get(e.name);
    if (w === undefined) throw new InitFromError(`the model has no parameter ${e.name} [${e.shape.join(', ')}]`);
    used.add(e.name);
    if (w.shape.join() === e.shape.join()) {
      flat.set(w.data, e.offset);
      continue;
    }
    const [kh, kw, cin, cout] = e.shape;
    const C = unet.channels;
    const widened = e.name === INPUT_CONV && unet.selfCondition === true && w.shape.join() === [kh, kw, cin - C, cout].join() && cin === 2 * C;
    if (!widened) throw new InitFromError(`parameter ${e.name}: the model has [${w.shape.join(', ')}], the run needs [${e.shape.join(', ')}]`);
    // [kh, kw, cin, cout] canonical; input channels [selfCond (C) | x (C)]: x's kernel from the model, selfCond's zero
    for (let i = 0; i < kh * kw; i++)
      for (let c = 0; c < C; c++) flat.set(w.data.subarray((i * C + c) * cout, (i * C + c + 1) * cout), e.offset + (i * cin + C + c) * cout);
    notes.push(`${e.name}: the model's kernel reads x; the ${C} self-condition input channel${C > 1 ? 's start' : ' starts'} at zero`);
  }
  const unused = [...weights.keys()].filter((k) => !used.has(k));
  if (unused.length > 0) throw new InitFromError(`the model has parameters the run does not: ${unused.slice(0, 5).join(', ')}${unused.length > 5 ? ', ...' : ''}`);
  return { flat, notes };
}

/** Load the weights a run's `initFrom` names, refusing a graph that changed since the run was configured. */
export async function loadInitWeights(init: InitFrom, layout: ParamLayout, unet: UNetConfig): Promise<{ flat: Float32Array; notes: string[] }> {
  const card = parseModelCard(JSON.parse(await readFile(path.join(init.dir, 'model.json'), 'utf8')));
  const bytes = await readFile(path.join(init.dir, card.files.fp32.path));
  const sha = createHash('sha256').update(bytes).digest('hex');
  if (sha !== init.sha256) throw new InitFromError(`${path.join(init.dir, card.files.fp32.path)} changed since the run was configured (sha256 ${sha.slice(0, 12)}, recorded ${init.sha256.slice(0, 12)})`);
  return initialWeights(layout, unet, weightsFromOnnx(bytes));
}
