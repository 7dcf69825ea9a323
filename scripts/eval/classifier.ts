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
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { conv3x3Forward } from '../model/conv-tfjs.ts';
import { Rng } from '../train/rng.ts';

export const CLASSIFIER_SIZE = 28;
export const FEATURE_DIM = 64;
export const NUM_CLASSES = 10;
export const CLASSIFIER_FORMAT = 'ddpm-edge-eval-classifier';
/** Where the committed weights live (manifest.json + weights.bin). */
export const DEFAULT_CLASSIFIER_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'classifier');

/** name -> [shape, kind]; the order is the file order. */
const LAYOUT: readonly (readonly [string, readonly number[], 'kernel' | 'bias'])[] = [
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

export interface ClassifierManifest {
  format: typeof CLASSIFIER_FORMAT;
  version: 1;
  inputSize: number;
  featureDim: number;
  params: { name: string; shape: number[] }[];
  /** sha256 of weights.bin (float32 little-endian, params in order). */
  sha256: string;
  training: { seed: number; epochs: number; batchSize: number; lr: number; seconds: number; backend: string; trainImages: number };
  /** Accuracy on the 10,000 Fashion-MNIST test images. */
  testAccuracy: number;
}

export type ClassifierParams = Map<string, tf.Variable>;

export class ClassifierError extends Error {
  override readonly name = 'ClassifierError';
}

/** He-normal kernels (ReLU network), zero biases; a pure function of the seed. */
export function initClassifier(seed: number): ClassifierParams {
  const params: ClassifierParams = new Map();
  for (const [name, shape, kind] of LAYOUT) {
    const size = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(size);
    if (kind === 'kernel') {
      const fanIn = shape.length === 4 ? shape[0] * shape[1] * shape[2] : shape[0];
      Rng.of('eval-classifier', seed, name).fillNormal(data, Math.sqrt(2 / fanIn));
    }
    params.set(name, tf.variable(tf.tensor(data, [...shape]), true));
  }
  return params;
}

function p(params: ClassifierParams, name: string): tf.Variable {
  const v = params.get(name);
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
  const h1 = conv(x, 'conv1', 1);
  const h2 = conv(h1, 'conv2', 2);
  const h3 = conv(h2, 'conv3', 2);
  const flat = tf.reshape(h3, [x.shape[0], 7 * 7 * 64]) as tf.Tensor2D;
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
  for (const [name] of LAYOUT) chunks.push((await p(params, name).data()) as Float32Array);
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
    inputSize: CLASSIFIER_SIZE,
    featureDim: FEATURE_DIM,
    params: LAYOUT.map(([name, shape]) => ({ name, shape: [...shape] })),
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
  const expected = LAYOUT.map(([name, shape]) => `${name}[${shape.join(',')}]`).join(' ');
  const got = manifest.params.map((q) => `${q.name}[${q.shape.join(',')}]`).join(' ');
  if (expected !== got) throw new ClassifierError(`${dir}: parameter layout ${got} differs from this code's ${expected}; retrain with npm run eval:classifier`);
  // copy: the Buffer may not be 4-byte aligned
  const flat = new Float32Array(new Uint8Array(bytes).buffer);
  const params: ClassifierParams = new Map();
  let o = 0;
  for (const [name, shape] of LAYOUT) {
    const size = shape.reduce((a, b) => a * b, 1);
    params.set(name, tf.variable(tf.tensor(flat.slice(o, o + size), [...shape]), false));
    o += size;
  }
  if (o !== flat.length) throw new ClassifierError(`${dir}/weights.bin holds ${flat.length} values, the layout ${o}`);
  return { params, manifest };
}

export function disposeClassifier(params: ClassifierParams): void {
  for (const v of params.values()) v.dispose();
}
