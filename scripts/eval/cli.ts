/**
 * `npm run eval -- --model models/<name> [--samples 1000] [--samplers ddpm,ddim,dpmpp2m] [--steps 5,10,20,50]
 *   [--guidance 1,3] [--guidance-interval lo,hi] [--precision fp32,int8] [--out <dir>]`
 * See scripts/eval/evaluate.ts and docs/evaluation.md.
 */
import { readFile } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import type { ColdAlgorithm } from '../../src/cold/index.ts';
import { isColdCard } from '../../src/models/cold.ts';
import { coldMarkdown, evaluateCold } from './cold.ts';
import { servedModel } from '../../src/models/served.ts';
import { Command, InvalidArgumentError } from 'commander';
import { SAMPLER_NAMES, type GuidanceInterval, type SamplerName } from '../../src/diffusion/index.ts';
import { BACKEND_REQUESTS, type BackendRequest } from '../train/backend.ts';
import type { FitMode } from '../train/options.ts';
import { checkpointTable, evaluateCheckpoints } from './checkpoints.ts';
import { ORT_RUNTIMES, type OrtRuntime } from '../../src/inference/onnx.ts';
import { compareFiles } from './compare.ts';
import { runTradeoff } from './tradeoff.ts';
import { evaluate } from './evaluate.ts';
import { DEFAULT_EVAL, PRECISIONS, type DefaultCell, type Precision } from './spec.ts';
import { DEFAULT_CACHE_DIR } from './meters.ts';
import { markdownTable } from './report.ts';

function intIn(min: number, max: number): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`expected an integer in [${min}, ${max}]`);
    return n;
  };
}

function listOf<T>(parse: (item: string) => T): (v: string) => T[] {
  return (v) => {
    const items = v.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
    if (items.length === 0) throw new InvalidArgumentError('expected a comma-separated list');
    return [...new Set(items.map(parse))];
  };
}

function oneOf<T extends string>(allowed: readonly T[]): (v: string) => T {
  return (v) => {
    if (!(allowed as readonly string[]).includes(v)) throw new InvalidArgumentError(`"${v}" is not one of ${allowed.join(', ')}`);
    return v as T;
  };
}

const positiveStep = (v: string): number => intIn(1, 1000)(v);
const guidanceScale = (v: string): number => {
  const x = Number(v);
  if (!Number.isFinite(x) || x < 0 || x > 50) throw new InvalidArgumentError(`guidance "${v}" must be a number in [0, 50]`);
  return x;
};

/** `lo,hi`: guidance only at timesteps in [lo, hi] (checked against the model's T when sampling). */
function parseGuidanceInterval(v: string): GuidanceInterval {
  const parts = v.split(',').map((s) => s.trim());
  const [lo, hi] = parts.map((s) => (/^[0-9]+$/.test(s) ? Number(s) : NaN));
  if (parts.length !== 2 || !Number.isSafeInteger(lo) || !Number.isSafeInteger(hi) || lo > hi) {
    throw new InvalidArgumentError(`expected two integer timesteps lo,hi with 0 <= lo <= hi, e.g. 200,800 (got "${v}")`);
  }
  return [lo, hi];
}

function parseDefaultCell(v: string): DefaultCell {
  const [sampler, steps, guidance, ...rest] = v.split(',').map((s) => s.trim());
  if (rest.length > 0 || guidance === undefined) throw new InvalidArgumentError(`expected <sampler>,<steps>,<guidance>, e.g. dpmpp2m,20,3 (got "${v}")`);
  return { sampler: oneOf(SAMPLER_NAMES)(sampler), steps: positiveStep(steps), guidance: guidanceScale(guidance) };
}

interface CliOptions {
  model?: string;
  run?: string;
  checkpoints: number[];
  samples: number;
  samplers: SamplerName[];
  steps: number[];
  ddpmReference: number;
  guidance: number[];
  guidanceInterval?: GuidanceInterval;
  precision: Precision[];
  batch: number;
  seed: number;
  fit?: FitMode;
  clip: boolean;
  out?: string;
  classifier?: string;
  secondClassifier?: string;
  compare?: string[];
  tradeoff?: string[];
  bench?: string;
  budgetMs?: number;
  worker?: string;
  workerConcurrency: number;
  backend: BackendRequest;
  runtime: OrtRuntime;
  threads: number;
  defaultCell?: DefaultCell;
  include: string[];
  mergeOnly: boolean;
  grids: boolean;
  progress: boolean;
  testImages: number;
  cache: boolean;
  restoreImages: number;
  levels?: number[];
  algorithms: ColdAlgorithm[];
}

export function buildProgram(): Command {
  const d = DEFAULT_EVAL;
  return new Command()
    .name('eval')
    .description(
      'Evaluate an exported model: Fréchet distance in the evaluation classifier\'s feature space against the Fashion-MNIST test set, ' +
        'and the classifier\'s accuracy on samples of the requested class, on two meters (classifiers of different architecture and seed) with 95% intervals and a per-class table, for each sampler x steps x precision x guidance; ' +
        'plus the reference floor (a training subset of the same size vs the test set). Writes table.md, results.json, distance-vs-steps.png and grids/.',
    )
    .option('--model <dir>', 'model folder (models/<name>, with model.json)')
    .option('--run <dir>', 'instead of --model: a training run; evaluates one cell per checkpoint (EMA weights, fp32 ONNX)')
    .option('--checkpoints <list>', 'with --run: checkpoint steps (default: every checkpoint the run kept)', listOf(intIn(0, 1e9)), [])
    .option('--samples <n>', 'samples per cell (time grows linearly; >= 1000 for stable distances)', intIn(2, 1_000_000), d.samples)
    .option('--samplers <list>', `samplers: ${SAMPLER_NAMES.join(', ')} (DPM-Solver++ = dpmpp2m, UniPC = unipc)`, listOf(oneOf(SAMPLER_NAMES)), [...d.samplers])
    .option('--steps <list>', 'sampling steps', listOf(positiveStep), [...d.steps])
    .option('--ddpm-reference <n>', 'steps of the extra DDPM reference row (0 = none)', intIn(0, 1000), d.ddpmReference)
    .option('--guidance <list>', 'classifier-free guidance scales (1 = none; > 1 doubles the cost)', listOf(guidanceScale), [...d.guidance])
    .option('--guidance-interval <lo,hi>', 'guided cells apply guidance only at timesteps in [lo, hi] (Kynkaanniemi et al. 2024; the other steps cost one model call)', parseGuidanceInterval)
    .option('--precision <list>', `model files: ${PRECISIONS.join(', ')}`, listOf(oneOf(PRECISIONS)), [...d.precisions])
    .option('--batch <n>', 'images per sampling batch', intIn(1, 4096), d.batch)
    .option('--seed <n>', 'base seed (sample i uses deriveSeed(seed, i)); also picks the floor subset', intIn(0, 2 ** 31 - 1), d.seed)
    .option('--fit <mode>', 'how training fitted 28x28 images to the model size: pad or resize (default: pad if the size is >= 28, else resize)', oneOf<FitMode>(['pad', 'resize']))
    .option('--no-clip', 'sample without clipSample (serving clips by default)')
    .option('--out <dir>', 'output folder (default: eval-results/<model name>)')
    .option('--classifier <dir>', 'evaluation classifier folder (default: scripts/eval/classifier)')
    .option('--compare <a,b>', 'compare two results.json files cell by cell with the decision rule (intervals, both meters); samples nothing', (v) => v.split(','))
    .option('--tradeoff <files>', 'the quality/latency table of several models: their results.json (each with its default cell) with --bench; picks the default by the rule it prints; samples nothing', (v) => v.split(','))
    .option('--bench <file>', 'with --tradeoff: the JSON report of npm run bench edge -- --model <the same models> (bench-results/bench-*.json)')
    .option('--budget-ms <ms>', 'with --tradeoff: latency budget for the warm single-image p50', intIn(1, 1e7))
    .option('--worker <url>', 'request every sample from a running worker (npm run dev: http://127.0.0.1:8787) instead of sampling in-process; int8 only')
    .option('--worker-concurrency <n>', 'with --worker: requests in flight', intIn(1, 16), 2)
    .option('--second-classifier <dir>', 'the second meter: a classifier of another architecture and seed, or "none" (default: scripts/eval/classifier-gap)')
    .option('--backend <name>', `tfjs backend for the classifier: ${BACKEND_REQUESTS.join(', ')}`, oneOf(BACKEND_REQUESTS), d.backend)
    .option('--runtime <name>', `onnxruntime that samples: node (native, about 5x faster) or web (wasm, as served); the same graph`, oneOf(ORT_RUNTIMES), d.runtime)
    .option('--threads <n>', 'onnxruntime-node intra-op threads', intIn(1, 64), d.threads)
    .option(
      '--default-cell <sampler,steps,guidance>',
      'where the targets are checked (default: the model\'s serving defaults in src/models/served.json, else dpmpp2m,20,1)',
      parseDefaultCell,
    )
    .option('--merge-only', 'with --include: sample nothing, only merge the included cells into one table (cells the other options name but no run has stay out)', false)
    .option('--include <files>', 'comma-separated results.json of earlier runs on the same model and settings: their cells are reused (run cells in parallel processes, then merge)', listOf((v) => v), [...d.include])
    .option('--test-images <n>', 'reference: the first n test images (0 = all 10,000; fewer only for quick checks)', intIn(0, 10_000), 0)
    .option('--no-cache', `recompute the reference statistics (cached in ${DEFAULT_CACHE_DIR})`)
    .option('--no-grids', 'do not write sample grids')
    .option('--no-progress', 'no progress bar (one line per cell)')
    .option('--restore-images <n>', 'Cold Diffusion models: test images restored at each level', intIn(2, 10_000), 1000)
    .option('--levels <list>', 'Cold Diffusion models: degradation levels t to restore from (default T/4, T/2, 3T/4, T)', listOf(intIn(1, 1000)))
    .option('--algorithms <list>', "Cold Diffusion models: 2 (the paper's Algorithm 2) and/or 1 (its naive Algorithm 1)", listOf((v) => Number(oneOf(['1', '2'])(v)) as ColdAlgorithm), [2, 1])
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  npm run eval -- --model models/fixture-tiny --samples 200 --steps 5,10 --ddpm-reference 0\n' +
        '  npm run eval -- --model models/fmnist-small --samples 1000 --samplers unipc,dpmpp2m --steps 10,20 --guidance 1,1.75 --precision int8\n' +
        '  npm run eval -- --run runs/fmnist-small --samples 500      # DPM-Solver++(2M), 20 steps, at every kept checkpoint\n' +
        '  npm run eval -- --model models/fmnist-small --worker http://127.0.0.1:8787 --samples 500 --samplers unipc --steps 10 --guidance 1.75 \\\n' +
        '      --guidance-interval 0,600 --precision int8 --ddpm-reference 0   # the served images, from npm run dev, on both meters\n' +
        '  npm run eval -- --compare eval-results/a/results.json,eval-results/b/results.json   # which cells differ, by the decision rule\n' +
        '  npm run eval -- --model models/<cold model> --restore-images 1000 --samples 1000   # Cold Diffusion: restoration by t, generation\n' +
        '  npm run eval -- --tradeoff eval-results/a/results.json,eval-results/b/results.json --bench bench-results/bench-<time>.json --budget-ms 250   # which model should be the default\n',
    );
}

export async function main(argv: readonly string[] = process.argv): Promise<void> {
  const program = buildProgram();
  program.parse(argv);
  const a = program.opts<CliOptions>();
  if (a.compare !== undefined) {
    if (a.compare.length !== 2 || a.compare.some((f) => f === '')) program.error('error: --compare takes two results.json files: --compare a/results.json,b/results.json');
    console.log(await compareFiles(a.compare[0], a.compare[1]));
    return;
  }
  if (a.tradeoff !== undefined) {
    if (a.bench === undefined) program.error('error: --tradeoff needs --bench <bench edge JSON report> for the latencies');
    if (a.tradeoff.length < 1 || a.tradeoff.some((f) => f === '')) program.error('error: --tradeoff takes results.json files: --tradeoff a/results.json,b/results.json');
    console.log(await runTradeoff(a.tradeoff, a.bench as string, a.budgetMs));
    return;
  }
  if (a.bench !== undefined || a.budgetMs !== undefined) program.error('error: --bench and --budget-ms go with --tradeoff');
  if ((a.model === undefined) === (a.run === undefined)) program.error('error: give exactly one of --model <dir>, --run <dir>, --compare <a,b> or --tradeoff <files>');
  const common = {
    samples: a.samples,
    batch: a.batch,
    seed: a.seed,
    clip: a.clip,
    classifierDir: a.classifier,
    ...(a.worker !== undefined ? { worker: a.worker, workerConcurrency: a.workerConcurrency } : {}),
    ...(a.secondClassifier !== undefined ? { secondClassifierDir: a.secondClassifier === 'none' ? null : a.secondClassifier } : {}),
    testImages: a.testImages,
    cacheDir: a.cache ? DEFAULT_CACHE_DIR : null,
    backend: a.backend,
    runtime: a.runtime,
    threads: a.threads,
    grids: a.grids,
    progress: a.progress && process.stderr.isTTY === true,
    log: (l: string) => console.log(l),
    ...(a.guidanceInterval ? { guidanceInterval: a.guidanceInterval } : {}),
  };
  if (a.run !== undefined) {
    // one cell per checkpoint: serving's default unless given
    const given = (name: string): boolean => program.getOptionValueSource(name) === 'cli';
    const runName = a.run.replace(/\/+$/, '').split('/').pop() ?? 'run';
    const r = await evaluateCheckpoints({
      ...common,
      runDir: a.run,
      checkpoints: a.checkpoints,
      sampler: given('samplers') ? a.samplers[0] : 'dpmpp2m',
      steps: given('steps') ? a.steps[0] : 20,
      guidance: given('guidance') ? a.guidance[0] : 1,
      out: a.out ?? `eval-results/${runName}-checkpoints`,
    });
    console.log(`\n${checkpointTable(r)}`);
    return;
  }
  const modelDir = a.model ?? '';
  const name = modelDir.replace(/\/+$/, '').split('/').pop() ?? 'model';
  if (isColdCard(await readJson(`${modelDir}/model.json`))) {
    // Cold Diffusion (scripts/eval/cold.ts): restoration by t and generation; the DDPM cells' options do not apply
    const given = (option: string): boolean => program.getOptionValueSource(option) === 'cli';
    const ddpmOnly = ['samplers', 'steps', 'ddpmReference', 'guidance', 'guidanceInterval', 'defaultCell', 'include', 'mergeOnly', 'clip', 'worker'].filter(given);
    if (ddpmOnly.length > 0) program.error(`error: ${ddpmOnly.join(', ')} apply to DDPM models; ${modelDir} is a Cold Diffusion model`);
    if (given('precision') && a.precision.length !== 1) program.error('error: a Cold Diffusion evaluation takes one --precision (fp32 or int8)');
    const report = await evaluateCold({
      ...common,
      modelDir,
      restoreImages: a.restoreImages,
      ...(a.levels ? { levels: a.levels } : {}),
      samples: a.samples,
      algorithms: a.algorithms,
      precision: given('precision') ? a.precision[0] : 'int8',
      fit: a.fit,
      out: a.out ?? `eval-results/${name}`,
    });
    console.log(`\n${coldMarkdown(report)}`);
    return;
  }
  for (const [option, value] of [['restoreImages', '--restore-images'], ['levels', '--levels'], ['algorithms', '--algorithms']] as const) {
    if (program.getOptionValueSource(option) === 'cli') program.error(`error: ${value} applies to Cold Diffusion models; ${modelDir} is a DDPM model`);
  }
  const report = await evaluate({
    ...common,
    modelDir,
    samplers: a.samplers,
    steps: a.steps,
    ddpmReference: a.ddpmReference,
    guidance: a.guidance,
    precisions: a.precision,
    fit: a.fit,
    defaultCell: a.defaultCell ?? servedDefaultCell(name, DEFAULT_EVAL.defaultCell),
    include: a.include,
    mergeOnly: a.mergeOnly,
    out: a.out ?? `eval-results/${name}`,
  });
  console.log(`\n${markdownTable(report)}`);
}

/** A JSON file, or null when it cannot be read (the evaluation itself then says why). */
async function readJson(file: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(file, 'utf8'));
  } catch {
    return null;
  }
}

/** The served defaults of a model (src/models/served.json) as the eval's default cell: a requested class gets the default guidance. */
function servedDefaultCell(name: string, fallback: DefaultCell): DefaultCell {
  const d = servedModel(name)?.defaults;
  return d ? { sampler: d.sampler ?? fallback.sampler, steps: d.steps ?? fallback.steps, guidance: d.guidance ?? fallback.guidance } : fallback;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((e: unknown) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  });
}
