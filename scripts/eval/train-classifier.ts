/**
 * `npm run eval:classifier`: trains the evaluation classifier (scripts/eval/classifier.ts) on the
 * Fashion-MNIST training set, reports its test accuracy and writes manifest.json + weights.bin.
 */
import { Command, InvalidArgumentError } from 'commander';
import cliProgress from 'cli-progress';
import * as tf from '@tensorflow/tfjs';
import { selectBackend, describeBackend, BACKEND_REQUESTS, type BackendRequest } from '../train/backend.ts';
import { fashionMnistPaths, loadIdxDataset } from '../train/data.ts';
import { Rng } from '../train/rng.ts';
import {
  CLASSIFIER_ARCHS,
  CLASSIFIER_SIZE,
  DEFAULT_CLASSIFIER_DIR,
  SECOND_CLASSIFIER_DIR,
  NUM_CLASSES,
  accuracy,
  classifierForward,
  embed,
  initClassifier,
  saveClassifier,
  toInput,
  type ClassifierArch,
  type ClassifierManifest,
  type ClassifierParams,
} from './classifier.ts';

export interface TrainClassifierOptions {
  arch: ClassifierArch;
  epochs: number;
  batchSize: number;
  lr: number;
  seed: number;
  /** Use at most this many training images (0 = all 60,000). */
  limit: number;
  /** Evaluate on at most this many test images (0 = all 10,000). */
  testLimit: number;
  out: string;
  backend: BackendRequest;
  progress: boolean;
  log: (line: string) => void;
}

export const DEFAULT_TRAIN_CLASSIFIER: Omit<TrainClassifierOptions, 'log'> = {
  arch: 'cnn3',
  epochs: 3,
  batchSize: 128,
  lr: 2e-3,
  seed: 0,
  limit: 0,
  testLimit: 0,
  out: DEFAULT_CLASSIFIER_DIR,
  backend: 'auto',
  progress: true,
};

/** Adam whose step size can follow a schedule. */
class ScheduledAdam extends tf.AdamOptimizer {
  setLearningRate(lr: number): void {
    this.learningRate = lr;
  }
}

/** Train, evaluate on the test set and save. Returns the manifest written. */
export async function trainClassifier(o: TrainClassifierOptions): Promise<{ manifest: ClassifierManifest; params: ClassifierParams }> {
  const backend = await selectBackend(o.backend);
  o.log(describeBackend(backend));
  const S = CLASSIFIER_SIZE;
  const opts = { size: S, channels: 1, fit: 'pad' as const };
  const train = fashionMnistPaths('train');
  const test = fashionMnistPaths('t10k');
  const ds = await loadIdxDataset(train.images, train.labels, { ...opts, limit: o.limit });
  const ts = await loadIdxDataset(test.images, test.labels, { ...opts, limit: o.testLimit });
  if (ds.labels === null || ts.labels === null) throw new Error('Fashion-MNIST labels are missing');
  const trainLabels = ds.labels;
  o.log(`training ${o.arch} on ${ds.count} images, testing on ${ts.count}; ${o.epochs} epochs of batch ${o.batchSize}, Adam lr ${o.lr} (cosine decay)`);

  const params = initClassifier(o.seed, o.arch);
  const vars = [...params.vars.values()];
  const stepsPerEpoch = Math.ceil(ds.count / o.batchSize);
  const totalSteps = stepsPerEpoch * o.epochs;
  const optimizer = new ScheduledAdam(o.lr, 0.9, 0.999, 1e-7);
  const bar = o.progress ? new cliProgress.SingleBar({ format: 'classifier {bar} {percentage}% | step {value}/{total} | loss {loss} | eta {eta_formatted}' }, cliProgress.Presets.shades_classic) : null;
  bar?.start(totalSteps, 0, { loss: '-' });
  const t0 = performance.now();
  const batchPixels = new Uint8Array(o.batchSize * S * S);
  const batchLabels = new Int32Array(o.batchSize);
  let step = 0;
  for (let epoch = 0; epoch < o.epochs; epoch++) {
    const perm = Rng.of('eval-classifier-shuffle', o.seed, epoch).permutation(ds.count);
    let lossSum = 0;
    for (let s = 0; s < stepsPerEpoch; s++) {
      const n = Math.min(o.batchSize, ds.count - s * o.batchSize);
      for (let i = 0; i < n; i++) {
        const k = perm[s * o.batchSize + i];
        batchPixels.set(ds.pixels.subarray(k * S * S, (k + 1) * S * S), i * S * S);
        batchLabels[i] = trainLabels[k];
      }
      // cosine decay to 5% of the peak over the run
      const lr = o.lr * (0.05 + 0.95 * 0.5 * (1 + Math.cos((Math.PI * step) / totalSteps)));
      optimizer.setLearningRate(lr);
      const lossT = optimizer.minimize(
        () =>
          tf.tidy(() => {
            const x = toInput(batchPixels, 0, n);
            const y = tf.oneHot(tf.tensor1d(batchLabels.subarray(0, n), 'int32'), NUM_CLASSES);
            const { logits } = classifierForward(params, x, 0.3, o.seed * 1_000_003 + step);
            return tf.losses.softmaxCrossEntropy(y, logits) as tf.Scalar;
          }),
        true,
        vars,
      );
      const loss = lossT === null ? NaN : (await lossT.data())[0];
      lossT?.dispose();
      lossSum += loss;
      step++;
      if (step % 10 === 0 || step === totalSteps) bar?.update(step, { loss: loss.toFixed(3) });
    }
    if (!bar) o.log(`epoch ${epoch + 1}: mean loss ${(lossSum / stepsPerEpoch).toFixed(4)}`);
  }
  bar?.stop();
  const seconds = (performance.now() - t0) / 1000;
  const { predictions } = await embed(params, ts.pixels, ts.count);
  const testAccuracy = accuracy(predictions, ts.labels);
  optimizer.dispose();
  o.log(`trained in ${seconds.toFixed(0)} s; test accuracy ${(100 * testAccuracy).toFixed(2)}% on ${ts.count} images`);
  const manifest = await saveClassifier(o.out, params, {
    training: { seed: o.seed, epochs: o.epochs, batchSize: o.batchSize, lr: o.lr, seconds: Math.round(seconds), backend: backend.name, trainImages: ds.count },
    testAccuracy,
  });
  o.log(`wrote ${o.out}/manifest.json and weights.bin`);
  return { manifest, params };
}

function intArg(min: number): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`expected an integer >= ${min}`);
    return n;
  };
}

async function main(): Promise<void> {
  const d = DEFAULT_TRAIN_CLASSIFIER;
  const program = new Command()
    .name('eval:classifier')
    .description('Train the Fashion-MNIST classifier whose features the evaluation uses (npm run eval)')
    .option('--arch <name>', `architecture: ${CLASSIFIER_ARCHS.join(', ')} (the second meter)`, (v) => {
      if (!(CLASSIFIER_ARCHS as readonly string[]).includes(v)) throw new InvalidArgumentError(`expected one of ${CLASSIFIER_ARCHS.join(', ')}`);
      return v as ClassifierArch;
    }, d.arch)
    .option('--epochs <n>', 'training epochs', intArg(1), d.epochs)
    .option('--batch-size <n>', 'batch size', intArg(1), d.batchSize)
    .option('--lr <x>', 'peak Adam learning rate (cosine decay)', (v) => {
      const x = Number(v);
      if (!(x > 0 && x < 1)) throw new InvalidArgumentError('expected a number in (0, 1)');
      return x;
    }, d.lr)
    .option('--seed <n>', 'initialisation, shuffling and dropout seed', intArg(0), d.seed)
    .option('--limit <n>', 'use at most n training images (0 = all)', intArg(0), d.limit)
    .option('--out <dir>', 'where to write manifest.json and weights.bin (default: scripts/eval/classifier for cnn3, scripts/eval/classifier-gap for cnn-gap)')
    .option('--backend <name>', `tfjs backend: ${BACKEND_REQUESTS.join(', ')}`, (v) => {
      if (!(BACKEND_REQUESTS as readonly string[]).includes(v)) throw new InvalidArgumentError(`expected one of ${BACKEND_REQUESTS.join(', ')}`);
      return v as BackendRequest;
    }, d.backend)
    .option('--no-progress', 'no progress bar (one line per epoch)');
  program.parse();
  const a = program.opts<{ arch: ClassifierArch; out?: string; epochs: number; batchSize: number; lr: number; seed: number; limit: number; backend: BackendRequest; progress: boolean }>();
  const out = a.out ?? (a.arch === 'cnn3' ? DEFAULT_CLASSIFIER_DIR : SECOND_CLASSIFIER_DIR);
  await trainClassifier({ ...d, ...a, out, progress: a.progress && process.stderr.isTTY === true, log: (l) => console.log(l) });
}

if (process.argv[1] !== undefined && import.meta.url === (await import('node:url')).pathToFileURL(process.argv[1]).href) {
  main().catch((e: unknown) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  });
}
