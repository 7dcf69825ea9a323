/**
 * The evaluation's Fashion-MNIST classifier (tfjs): a small CNN on 28x28 gray images whose penultimate
 * layer (64 values) is the feature space of the Fréchet distance and whose predictions check
 * class-conditional samples.
 *
 *   x [N, 28, 28, 1] in [-1, 1]
 *   conv3x3  1->16, stride 1, ReLU   [N, 28, 28, 16]
 *   conv3x3 16->32, stride 2, ReLU   [N, 14, 14, 32]
 *   conv3x3 32->64, stride 2, ReLU   [N, 7, 7, 64]
 *   dense 3136->64, ReLU             [N, 64]   <- features
 *   dense 64->10                     [N, 10]   logits
 *
 * Convolutions use the training code's forward-conv gradients (scripts/model/ops-tfjs.ts), since the wasm
 * backend has no Conv2DBackpropFilter. The weights (about 0.9 MB) are committed next to this file so that
 * everyone's distances are measured in the same feature space; `npm run eval:classifier` retrains them.
 *
 * A second architecture, `cnn-gap`, gives an independent feature space for the same questions (a
 * meter is only trusted where two meters trained differently agree):
 *
 *   conv3x3  1->16, stride 2, ReLU   [N, 14, 14, 16]
 *   conv3x3 16->32, stride 2, ReLU   [N, 7, 7, 32]
 *   conv3x3 32->64, stride 1, ReLU   [N, 7, 7, 64]
 *   global average pool              [N, 64]
 *   dense 64->64, ReLU               [N, 64]   <- features
 *   dense 64->10                     [N, 10]   logits
 *
 * Its weights live in `classifier-gap/` (trained with another seed: `npm run eval:classifier -- --arch
 * cnn-gap --seed 1 --out scripts/eval/classifier-gap`).
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import '../lib/tfjs-quiet.ts';
import { conv3x3Forward } from '../model/conv-tfjs.ts';
import { Rng } from '../train/rng.ts';

export const CLASSIFIER_SIZE = 28;
export const FEATURE_DIM = 64;
export const NUM_CLASSES = 10;
export const CLASSIFIER_FORMAT = 'ddpm-edge-eval-classifier';
/** Where the committed weights live (manifest.json + weights.bin). */
export const DEFAULT_CLASSIFIER_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'classifier');
/** The second meter's committed weights. */
export const SECOND_CLASSIFIER_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'classifier-gap');

export const CLASSIFIER_ARCHS = ['cnn3', 'cnn-gap'] as const;
export type ClassifierArch = (typeof CLASSIFIER_ARCHS)[number];

type Layout = readonly (readonly [string, readonly number[], 'kernel' | 'bias'])[];

/** name -> [shape, kind]; the order is the file order. */
const LAYOUT_CNN3: Layout = [
  ['conv1/w', [3, 3, 1, 16], 'kernel'],
  ['conv1/b', [16], 'bias'],
  ['conv2/w', [3, 3, 16, 32], 'kernel'],
  ['conv2/b', [32], 'bias'],
  ['conv3/w', [3, 3, 32, 64], 'kernel'],
  ['conv3/b', [64], 'bias'],
  ['fc1/w', [7 * 7 * 64, FEATURE_DIM], 'kernel'],
  ['fc1/b', [FEATURE_DIM], 'bias'],
  ['fc2/w', [FEATURE_DIM, NUM_CLASSES], 'kernel'],
  ['fc2/b', [NUM_CLASSES], 'bias'],
];

const LAYOUT_GAP: Layout = [
  ['conv1/w', [3, 3, 1, 16], 'kernel'],
  ['conv1/b', [16], 'bias'],
  ['conv2/w', [3, 3, 16, 32], 'kernel'],
  ['conv2/b', [32], 'bias'],
  ['conv3/w', [3, 3, 32, 64], 'kernel'],
  ['conv3/b', [64], 'bias'],
  ['fc1/w', [64, FEATURE_DIM], 'kernel'],
  ['fc1/b', [FEATURE_DIM], 'bias'],
  ['fc2/w', [FEATURE_DIM, NUM_CLASSES], 'kernel'],
  ['fc2/b', [NUM_CLASSES], 'bias'],
];

const LAYOUTS: Record<ClassifierArch, Layout> = { cnn3: LAYOUT_CNN3, 'cnn-gap': LAYOUT_GAP };

export interface ClassifierManifest {
  format: typeof CLASSIFIER_FORMAT;
  version: 1;
  /** Absent in manifests written before the second architecture: cnn3. */
  arch?: ClassifierArch;
  inputSize: number;
  featureDim: number;
  params: { name: string; shape: number[] }[];
  /** sha256 of weights.bin (float32 little-endian, params in order). */
  sha256: string;
  training: { seed: number; epochs: number; batchSize: number; lr: number; seconds: number; backend: string; trainImages: number };
  /** Accuracy on the 10,000 Fashion-MNIST test images. */
  testAccuracy: number;
}

/** The weights of one classifier, tagged with its architecture. */
export interface ClassifierParams {
  arch: ClassifierArch;
  vars: Map<string, tf.Variable>;
}

export class ClassifierError extends Error {
  override readonly name = 'ClassifierError';
}

/** He-normal kernels (ReLU network), zero biases; a pure function of the seed. */
export function initClassifier(seed: number, arch: ClassifierArch = 'cnn3'): ClassifierParams {
  const vars = new Map<string, tf.Variable>();
  for (const [name, shape, kind] of LAYOUTS[arch]) {
    const size = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(size);
    if (kind === 'kernel') {
      const fanIn = shape.length === 4 ? shape[0] * shape[1] * shape[2] : shape[0];
      Rng.of('eval-classifier', seed, name).fillNormal(data, Math.sqrt(2 / fanIn));
    }
    vars.set(name, tf.variable(tf.tensor(data, [...shape]), true));
  }
  return { arch, vars };
}

function p(params: ClassifierParams, name: string): tf.Variable {
  const v = params.vars.get(name);
  if (v === undefined) throw new ClassifierError(`classifier parameter ${name} is missing`);
  return v;
}

export interface ClassifierOutput {
  /** [N, FEATURE_DIM] */
  features: tf.Tensor2D;
  /** [N, NUM_CLASSES] */
  logits: tf.Tensor2D;
}

/** x [N, 28, 28, 1] in [-1, 1]. `dropout` (training only) applies to the features. */
export function classifierForward(params: ClassifierParams, x: tf.Tensor4D, dropout = 0, dropoutSeed = 0): ClassifierOutput {
  const conv = (h: tf.Tensor4D, layer: string, stride: 1 | 2): tf.Tensor4D =>
    tf.relu(tf.add(conv3x3Forward[stride](h, p(params, `${layer}/w`) as tf.Tensor4D), p(params, `${layer}/b`))) as tf.Tensor4D;
  let flat: tf.Tensor2D;
  if (params.arch === 'cnn3') {
    const h3 = conv(conv(conv(x, 'conv1', 1), 'conv2', 2), 'conv3', 2);
    flat = tf.reshape(h3, [x.shape[0], 7 * 7 * 64]) as tf.Tensor2D;
  } else {
    const h3 = conv(conv(conv(x, 'conv1', 2), 'conv2', 2), 'conv3', 1);
    flat = tf.mean(h3, [1, 2]) as tf.Tensor2D;
  }
  const features = tf.relu(tf.add(tf.matMul(flat, p(params, 'fc1/w') as tf.Tensor2D), p(params, 'fc1/b'))) as tf.Tensor2D;
  const f = dropout > 0 ? (tf.dropout(features, dropout, undefined, dropoutSeed) as tf.Tensor2D) : features;
  const logits = tf.add(tf.matMul(f, p(params, 'fc2/w') as tf.Tensor2D), p(params, 'fc2/b')) as tf.Tensor2D;
  return { features, logits };
}

/** 8-bit images [N, 28, 28] -> [N, 28, 28, 1] in [-1, 1]. */
export function toInput(pixels: Uint8Array, start: number, count: number): tf.Tensor4D {
  const S = CLASSIFIER_SIZE;
  const x = new Float32Array(count * S * S);
  const src = pixels.subarray(start * S * S, (start + count) * S * S);
  for (let i = 0; i < x.length; i++) x[i] = src[i] / 127.5 - 1;
  return tf.tensor4d(x, [count, S, S, 1]);
}

export interface Embedding {
  /** [N, FEATURE_DIM] */
  features: Float32Array;
  /** [N] argmax class */
  predictions: Int32Array;
}

/** Features and predicted classes of `count` 8-bit 28x28 images, in batches. */
export async function embed(params: ClassifierParams, pixels: Uint8Array, count: number, batch = 500): Promise<Embedding> {
  const S = CLASSIFIER_SIZE;
  if (pixels.length < count * S * S) throw new ClassifierError(`expected ${count} images of ${S}x${S}, got ${pixels.length} bytes`);
  const features = new Float32Array(count * FEATURE_DIM);
  const predictions = new Int32Array(count);
  for (let s = 0; s < count; s += batch) {
    const n = Math.min(batch, count - s);
    const [f, pr] = tf.tidy(() => {
      const out = classifierForward(params, toInput(pixels, s, n));
      return [out.features, tf.argMax(out.logits, 1)];
    });
    features.set((await f.data()) as Float32Array, s * FEATURE_DIM);
    predictions.set(Int32Array.from(await pr.data()), s);
    f.dispose();
    pr.dispose();
  }
  return { features, predictions };
}

/** Fraction of `labels` that `predictions` get right. */
export function accuracy(predictions: ArrayLike<number>, labels: ArrayLike<number>): number {
  if (predictions.length !== labels.length || labels.length === 0) throw new RangeError('predictions and labels must be non-empty and of equal length');
  let ok = 0;
  for (let i = 0; i < labels.length; i++) if (predictions[i] === labels[i]) ok++;
  return ok / labels.length;
}

export async function saveClassifier(dir: string, params: ClassifierParams, info: Omit<ClassifierManifest, 'format' | 'version' | 'inputSize' | 'featureDim' | 'params' | 'sha256'>): Promise<ClassifierManifest> {
  const chunks: Float32Array[] = [];
  const layout = LAYOUTS[params.arch];
  for (const [name] of layout) chunks.push((await p(params, name).data()) as Float32Array);
  const total = chunks.reduce((a, c) => a + c.length, 0);
  const flat = new Float32Array(total);
  let o = 0;
  for (const c of chunks) {
    flat.set(c, o);
    o += c.length;
  }
  const bytes = new Uint8Array(flat.buffer);
  const manifest: ClassifierManifest = {
    format: CLASSIFIER_FORMAT,
    version: 1,
    arch: params.arch,
    inputSize: CLASSIFIER_SIZE,
    featureDim: FEATURE_DIM,
    params: layout.map(([name, shape]) => ({ name, shape: [...shape] })),
    sha256: createHash('sha256').update(bytes).digest('hex'),
    ...info,
  };
  await fsp.mkdir(dir, { recursive: true });
  await fsp.writeFile(path.join(dir, 'weights.bin'), bytes);
  await fsp.writeFile(path.join(dir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}

export interface LoadedClassifier {
  params: ClassifierParams;
  manifest: ClassifierManifest;
}

export async function loadClassifier(dir = DEFAULT_CLASSIFIER_DIR): Promise<LoadedClassifier> {
  let manifest: ClassifierManifest;
  let bytes: Buffer;
  try {
    manifest = JSON.parse(await fsp.readFile(path.join(dir, 'manifest.json'), 'utf8')) as ClassifierManifest;
    bytes = await fsp.readFile(path.join(dir, 'weights.bin'));
  } catch (e) {
    throw new ClassifierError(`no evaluation classifier in ${dir} (${(e as Error).message}); train one with: npm run eval:classifier`, { cause: e });
  }
  if (manifest.format !== CLASSIFIER_FORMAT || manifest.version !== 1) throw new ClassifierError(`${dir}/manifest.json: not a ${CLASSIFIER_FORMAT} v1 manifest`);
  const sha = createHash('sha256').update(bytes).digest('hex');
  if (sha !== manifest.sha256) throw new ClassifierError(`${dir}/weights.bin: sha256 ${sha} does not match the manifest's ${manifest.sha256}`);
  const arch = manifest.arch ?? 'cnn3';
  if (!(CLASSIFIER_ARCHS as readonly string[]).includes(arch)) throw new ClassifierError(`${dir}/manifest.json: unknown architecture ${JSON.stringify(arch)} (this code knows ${CLASSIFIER_ARCHS.join(', ')})`);
  const layout = LAYOUTS[arch];
  const expected = layout.map(([name, shape]) => `${name}[${shape.join(',')}]`).join(' ');
  const got = manifest.params.map((q) => `${q.name}[${q.shape.join(',')}]`).join(' ');
  if (expected !== got) throw new ClassifierError(`${dir}: parameter layout ${got} differs from this code's ${expected}; retrain with npm run eval:classifier`);
  // copy: the Buffer may not be 4-byte aligned
  const flat = new Float32Array(new Uint8Array(bytes).buffer);
  const vars = new Map<string, tf.Variable>();
  let o = 0;
  for (const [name, shape] of layout) {
    const size = shape.reduce((a, b) => a * b, 1);
    vars.set(name, tf.variable(tf.tensor(flat.slice(o, o + size), [...shape]), false));
    o += size;
  }
  if (o !== flat.length) throw new ClassifierError(`${dir}/weights.bin holds ${flat.length} values, the layout ${o}`);
  return { params: { arch, vars }, manifest };
}

export function disposeClassifier(params: ClassifierParams): void {
  for (const v of params.vars.values()) v.dispose();
}
