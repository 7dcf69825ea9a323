/**
 * `npm run export -- --run <dir>`: models/<name>/ (unet.onnx, unet.int8.onnx, model.json) from a training
 * run, with a report of the measured parity and int8 errors.
 * `npm run export -- --from-model models/<name>`: the same from an exported model's fp32 weights (a new graph
 * or quantization without the training checkpoint).
 */
import { Command, InvalidArgumentError } from 'commander';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ExportError } from '../model/ops-onnx.ts';
import { formatReport } from './export.ts';
import { exportFromModel } from './from-model.ts';
import { exportRun } from './from-run.ts';
import { optimizeModelFolder } from './optimize.ts';
import { DEFAULT_MIXTURE_COMPONENTS, DEFAULT_START_NOISE } from './cold.ts';
import { positiveInt } from '../lib/cli-options.ts';

const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

function nonNegative(v: string): number {
  const x = Number(v);
  if (!Number.isFinite(x) || x < 0 || x > 1) throw new InvalidArgumentError(`expected a number in [0, 1], got ${v}`);
  return x;
}

function intList(v: string): number[] {
  return v.split(',').map((s) => positiveInt(s.trim()));
}

const program = new Command()
  .name('export')
  .description('Export a training run to ONNX (fp32 EMA weights + static int8 QDQ) with a model card')
  .option('--run <dir>', 'run directory (or one of its checkpoints/step-NNNNNNNN folders)')
  .option('--from-model <dir>', "an exported model folder (model.json + fp32 unet.onnx): rebuild today's graph from its weights")
  .option('--images <path>', "with --from-model: calibration images, IDX file or image folder (default: the card's dataset path)")
  .option('--labels <file>', 'with --from-model: IDX labels (default: beside the IDX images)')
  .option('--step <n>', 'checkpoint step (default: the latest)', positiveInt)
  .option('--name <name>', 'model name, the folder under --out (default: the run folder name, or the model\'s own name)')
  .option('--model-version <v>', 'version written to model.json', '1.0.0')
  .option('--out <dir>', 'models folder', path.join(ROOT, 'models'))
  .option('--calibration-images <n>', 'training images used for int8 calibration (each noised at one of 16 t)', positiveInt, 256)
  .option('--evaluation-images <n>', 'other training images for the int8 error figures (x 5 timesteps)', positiveInt, 64)
  .option('--keep-float <layers>', 'comma-separated conv layers kept in float (default: first and last conv, down.0.downsample, up.0.res.*/skip)')
  .option('--no-parity', 'skip the tfjs vs onnxruntime-web parity check')
  .option('--no-optimize', "ship the int8 graph as quantized (onnxruntime-web then optimizes it at every session creation)")
  .option('--optimize <dir>', 'instead of exporting: optimize an exported model folder\'s int8 graph in place (file and card), checked against the original')
  .option('--bench <batches>', 'time fp32 and int8 forwards at these batch sizes, e.g. 1,4,16', intList)
  .option('--mixture-components <n>', `cold-blur runs: components of the Gaussian mixture of the fully blurred start (default ${DEFAULT_MIXTURE_COMPONENTS}, the paper's --gmm_cluster)`, positiveInt)
  .option('--start-noise <x>', `cold-blur runs: std of the noise added to the generation start (default ${DEFAULT_START_NOISE}, the paper's --noise)`, nonNegative)
  .action(async (opts: {
    run?: string;
    fromModel?: string;
    images?: string;
    labels?: string;
    step?: number;
    name?: string;
    modelVersion: string;
    out: string;
    calibrationImages: number;
    evaluationImages: number;
    keepFloat?: string;
    parity: boolean;
    optimize: boolean | string;
    bench?: number[];
    mixtureComponents?: number;
    startNoise?: number;
  }) => {
    if (typeof opts.optimize === 'string') {
      if (opts.run !== undefined || opts.fromModel !== undefined) program.error('export: --optimize <dir> works on an exported model folder; it goes without --run and --from-model');
      await optimizeModelFolder(opts.optimize);
      return;
    }
    if ((opts.run === undefined) === (opts.fromModel === undefined)) program.error('export: give exactly one of --run <dir> and --from-model <dir>');
    if (opts.fromModel === undefined && (opts.images !== undefined || opts.labels !== undefined)) program.error('export: --images and --labels go with --from-model');
    if (opts.fromModel !== undefined && opts.step !== undefined) program.error('export: --step goes with --run');
    if (opts.fromModel !== undefined && (opts.mixtureComponents !== undefined || opts.startNoise !== undefined)) program.error('export: --mixture-components and --start-noise go with --run (a cold-blur run)');
    const common = {
      name: opts.name,
      version: opts.modelVersion,
      modelsDir: opts.out,
      calibrationImages: opts.calibrationImages,
      evaluationImages: opts.evaluationImages,
      keepFloat: opts.keepFloat?.split(',').map((s) => s.trim()).filter((s) => s.length > 0),
      parity: opts.parity,
      benchmarkBatches: opts.bench ?? [],
      optimize: opts.optimize !== false,
      log: (line: string) => console.log(line),
    };
    const { dir, report } =
      opts.fromModel !== undefined
        ? await exportFromModel({ ...common, modelDir: opts.fromModel, images: opts.images, labels: opts.labels })
        : await exportRun({ ...common, runDir: opts.run as string, step: opts.step, mixtureComponents: opts.mixtureComponents, startNoise: opts.startNoise });
    console.log(formatReport(report, dir));
  });

try {
  await program.parseAsync();
} catch (e) {
  if (e instanceof ExportError) {
    console.error(`export: ${e.message}`);
    process.exit(1);
  }
  throw e;
}
