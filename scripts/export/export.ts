/**
 * The exporter core: (architecture, weights, images) -> models/<name>/ with unet.onnx (fp32),
 * unet.int8.onnx (static QDQ, QLinearConv after fusion) and model.json, plus a report of the measured
 * errors. Everything is written to a temp folder first and renamed at the end, so models/ never holds
 * a half-written model.
 */
import { createHash } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ModelInputs } from '../../src/diffusion/types.ts';
import { createModelSession, type ModelSession } from '../../src/inference/onnx.ts';
import type { ColdModelCard } from '../../src/cold/card.ts';
import type { ModelCard, ModelFile } from '../../src/model-card.ts';
import type { DiffusionModelConfig } from '../model/config.ts';
import { encodeModel } from '../model/onnx-graph.ts';
import { ExportError, type ParamSource } from '../model/ops-onnx.ts';
import { calibrate } from './calibrate.ts';
import { buildUNetGraph } from './graph.ts';
import { coldInputs, isColdExport, type ColdExportConfig } from './cold.ts';
import { batchOf, ddpmInputs, predictionErrors, timeForward, type ErrorStats, type NetworkInputs } from './measure.ts';
import { convLayers, quantizeGraph } from './quantize.ts';
import { optimizeChecked } from './optimize.ts';

export const FILES = { fp32: 'unet.onnx', int8: 'unet.int8.onnx', card: 'model.json' } as const;

export interface ExportInput {
  name: string;
  version: string;
  /** A DDPM model (noise schedule) or a Cold Diffusion one (cold.ts: its degradation and generation start). */
  config: DiffusionModelConfig | ColdExportConfig;
  /** EMA weights in the canonical layouts; `unused` (optional) lists checkpoint entries the graph never read. */
  params: ParamSource & { unused?: () => string[] };
  classNames: string[] | null;
  dataset: string;
  training: ModelCard['training'];
  /** Clean images x0 [N, C, H, W] in [-1, 1] for calibration and for the error figures (disjoint sets). */
  calibrationImages: Float32Array;
  evaluationImages: Float32Array;
  /** Their class ids (conditional models); without them every id, the null class included, is used in turn. */
  calibrationLabels?: Int32Array;
  evaluationLabels?: Int32Array;
  /** Conv layers kept in float in the int8 model (default: defaultKeepFloat). */
  keepFloat?: (layers: readonly string[]) => Set<string>;
  modelsDir: string;
  /** Extra figures measured against the fp32 session, e.g. tfjs-vs-onnxruntime parity, on inputs made by `inputs`. */
  extraChecks?: (fp32: ModelSession, inputs: NetworkInputs) => Promise<Record<string, number>>;
  /** Steps and images of the sample PSNR check (default 20 steps, 8 images). */
  sampleSteps?: number;
  sampleImages?: number;
  /** Time forwards at these batch sizes (fp32 and int8), e.g. [1, 4, 16]; none by default. */
  benchmarkBatches?: number[];
  /** Ship the int8 graph optimized by onnxruntime-node (optimize.ts; default true). */
  optimize?: boolean;
  log?: (line: string) => void;
}

export interface ExportReport {
  parameters: number;
  keptFloat: string[];
  quantizedConvs: number;
  files: Record<'fp32' | 'int8', ModelFile>;
  int8ByT: Record<string, ErrorStats>;
  int8Overall: ErrorStats;
  samplePsnrDb: number;
  /** What samplePsnrDb compares, e.g. `20-step DDIM sample`. */
  sampleLabel: string;
  extra: Record<string, number>;
  /** batch -> ms per forward (fastest of 20 after warm-up) */
  timings: Record<string, { fp32: number; int8: number }>;
}

/**
 * Layers kept in float, from `npm run export:study` on a trained Fashion-MNIST model (docs/export.md, "Export and
 * quantization"; rel rms error of the prediction at t = 20 when only that conv is int8):
 *   - the first conv (12.3%): its input x_t is quantized per tensor over the range of every t; at small t
 *     the uint8 step (about 0.035) is as large as the noise the network has to find;
 *   - the full-resolution skip path: `up.0.res.N/skip` (4.3%, 2.8%), 1x1 convs over the concatenation that
 *     carries the first conv's output, and `down.0.downsample` (2.9%);
 *   - the last conv (0.5% at every t): its output is the prediction.
 * Every other conv costs under 1.5% alone, attention convs 0.01-0.04%. Keeping these 5 of 51 convs in float
 * cuts the int8 error at t = 20 from 14.0% to 3.0% and raises the 20-step sample PSNR from 32.5 to 44.9 dB.
 */
export function defaultKeepFloat(layers: readonly string[]): Set<string> {
  return new Set(layers.filter((l) => l === 'in/conv' || l === 'out/conv' || l === 'down.0.downsample' || /^up\.0\.res\.\d+\/skip$/.test(l)));
}

/** Evaluation timesteps: 5 spread over [0, T). */
export function evalTimesteps(T: number): number[] {
  return [0.02, 0.25, 0.5, 0.75, 0.98].map((f) => Math.min(T - 1, Math.round(f * T)));
}

function fileEntry(path: string, bytes: Uint8Array): ModelFile {
  return { path, bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') };
}

const round = (v: number, digits = 6): number => (Number.isFinite(v) ? Number(v.toPrecision(digits)) : v);

export async function exportModel(input: ExportInput): Promise<{ dir: string; card: ModelCard | ColdModelCard; report: ExportReport }> {
  const log = input.log ?? (() => {});
  if (!/^[a-z0-9][a-z0-9._-]*$/.test(input.name)) throw new ExportError(`model name ${JSON.stringify(input.name)} must match [a-z0-9][a-z0-9._-]*`);
  const { config } = input;
  const u = config.unet;
  if (u.numClasses > 0 && (input.classNames === null || input.classNames.length !== u.numClasses)) {
    throw new ExportError(`a conditional model needs ${u.numClasses} class names (got ${input.classNames?.length ?? 'none'})`);
  }

  // 1. fp32 graph from the shared definition
  const built = buildUNetGraph(config, input.params, input.name.replace(/[^a-z0-9]/g, '_'));
  const unused = input.params.unused?.() ?? [];
  if (unused.length > 0) {
    throw new ExportError(`the checkpoint holds parameters the architecture does not use (${unused.slice(0, 5).join(', ')}${unused.length > 5 ? ', ...' : ''})`);
  }
  // how clean images become network inputs (noised or degraded), and how int8 is checked end to end
  const net = isColdExport(config) ? coldInputs(config, input.evaluationImages) : ddpmInputs(config);
  built.graph.metadata = { ...net.metadata, architecture: JSON.stringify(u) };
  const fp32Bytes = encodeModel(built.graph);
  log(`graph: ${built.graph.nodes.length} nodes, ${built.parameterCount} parameters, fp32 ${fp32Bytes.length} bytes`);

  // 2. calibrate on noised (degraded) images across t, quantize
  const T = net.T;
  const n = u.channels * u.imageSize * u.imageSize;
  const calibCount = input.calibrationImages.length / n;
  const calibT = Array.from({ length: 16 }, (_, k) => Math.floor(((k + 0.5) * T) / 16));
  const calibration = net.inputs(input.calibrationImages, calibCount, 16, calibT, 1, input.calibrationLabels);
  const ranges = await calibrate(built.graph, built.spec, calibration);
  const layers = convLayers(built.graph);
  const keepFloat = (input.keepFloat ?? defaultKeepFloat)(layers);
  const unknown = [...keepFloat].filter((l) => !layers.includes(l));
  if (unknown.length > 0) throw new ExportError(`no conv layer named ${unknown.join(', ')} (layers: ${layers.join(', ')})`);
  const qGraph = quantizeGraph(built.graph, ranges, { keepFloat });
  const qdqBytes = encodeModel(qGraph);
  log(`int8: ${layers.length - keepFloat.size} of ${layers.length} convs quantized (${calibCount} calibration images), ${qdqBytes.length} bytes`);
  // onnxruntime's own optimizations, once here rather than at each session creation (optimize.ts); every
  // figure below is measured on the graph that ships
  const optimized = input.optimize === false ? null : await optimizeChecked(qdqBytes, built.spec, T);
  const int8Bytes = optimized?.bytes ?? qdqBytes;
  if (optimized) log(`int8: optimized by onnxruntime (extended), ${int8Bytes.length} bytes, outputs within ${optimized.maxAbs.toExponential(2)} of the QDQ graph's`);

  // 3. measure
  // both graphs are checked against the card's io (the inputs the card will list) as the worker checks them
  const fp32 = await createModelSession(fp32Bytes, built.spec);
  const int8 = await createModelSession(int8Bytes, built.spec, { preOptimized: optimized !== null }).catch(async (e: unknown) => {
    await fp32.release();
    throw e;
  });
  try {
    const evalCount = input.evaluationImages.length / n;
    const byT = new Map<number, ModelInputs[]>();
    for (const t of evalTimesteps(T)) byT.set(t, net.inputs(input.evaluationImages, evalCount, 16, [t], 2, input.evaluationLabels));
    const errors = await predictionErrors(fp32, int8, byT);
    const sampled = await net.samplePsnr(fp32, int8, {
      steps: Math.min(input.sampleSteps ?? 20, T),
      images: input.sampleImages ?? 8,
      seed: 1234,
    });
    const extra = input.extraChecks ? await input.extraChecks(fp32, net) : {};
    const timings: ExportReport['timings'] = {};
    for (const b of input.benchmarkBatches ?? []) {
      const [probe] = net.inputs(input.evaluationImages.subarray(0, Math.min(evalCount, b) * n), Math.min(evalCount, b), b, [T >> 1], 3);
      const timed = batchOf(probe, b, n);
      timings[String(b)] = { fp32: (await timeForward(fp32, timed)).min, int8: (await timeForward(int8, timed)).min };
    }

    // 4. model card
    const files = { fp32: fileEntry(FILES.fp32, fp32Bytes), int8: { ...fileEntry(FILES.int8, int8Bytes), ...(optimized ? { optimized: 'extended' as const } : {}) } };
    const samplePsnrDb = Math.min(sampled.psnr, 100);
    const exportErrors: Record<string, number> = {
      'int8.maxAbs': round(errors.overall.maxAbs),
      'int8.rms': round(errors.overall.rms),
      'int8.relRms': round(errors.overall.relRms),
      ...Object.fromEntries(Object.entries(errors.byT).map(([t, e]) => [`int8.relRms.t${t}`, round(e.relRms)])),
      'int8.samplePsnrDb': round(samplePsnrDb, 4),
      ...(optimized ? { 'int8.optimizedMaxAbs': Number(optimized.maxAbs.toPrecision(3)) } : {}),
      ...Object.fromEntries(Object.entries(extra).map(([k, v]) => [k, round(v)])),
    };
    const card = net.card({
      name: input.name,
      version: input.version,
      architecture: { ...u, channelMults: [...u.channelMults], attentionResolutions: [...u.attentionResolutions], parameters: built.parameterCount },
      imageSize: u.imageSize,
      channels: u.channels,
      classNames: u.numClasses > 0 ? input.classNames : null,
      dataset: input.dataset,
      training: input.training,
      io: built.io,
      files,
      exportErrors,
    });

    // 5. write atomically: temp folder, then rename
    const dir = join(input.modelsDir, input.name);
    const tmp = join(input.modelsDir, `.tmp-${input.name}-${process.pid}`);
    const old = join(input.modelsDir, `.old-${input.name}-${process.pid}`);
    await mkdir(input.modelsDir, { recursive: true });
    await rm(tmp, { recursive: true, force: true });
    try {
      await mkdir(tmp);
      await writeFile(join(tmp, FILES.fp32), fp32Bytes);
      await writeFile(join(tmp, FILES.int8), int8Bytes);
      await writeFile(join(tmp, FILES.card), `${JSON.stringify(card, null, 2)}\n`);
      let replaced = false;
      try {
        await rename(dir, old);
        replaced = true;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      }
      await rename(tmp, dir);
      if (replaced) await rm(old, { recursive: true, force: true });
    } catch (e) {
      await rm(tmp, { recursive: true, force: true });
      throw e;
    }
    const report: ExportReport = {
      parameters: built.parameterCount,
      keptFloat: [...keepFloat],
      quantizedConvs: layers.length - keepFloat.size,
      files,
      int8ByT: errors.byT,
      int8Overall: errors.overall,
      samplePsnrDb,
      sampleLabel: sampled.label,
      extra,
      timings,
    };
    return { dir, card, report };
  } finally {
    await fp32.release();
    await int8.release();
  }
}

/** The report the export prints. */
export function formatReport(r: ExportReport, dir: string): string {
  const f = (v: number): string => v.toExponential(2);
  const lines = [
    `wrote ${dir}`,
    `  ${FILES.fp32}: ${r.files.fp32.bytes} bytes, sha256 ${r.files.fp32.sha256}`,
    `  ${FILES.int8}: ${r.files.int8.bytes} bytes, sha256 ${r.files.int8.sha256}`,
    `parameters: ${r.parameters}; int8: ${r.quantizedConvs} convs quantized, kept in float: ${r.keptFloat.join(', ') || 'none'}`,
    'int8 vs fp32 prediction on noised (DDPM) or degraded (Cold Diffusion) images, by network timestep:',
    ...Object.entries(r.int8ByT).map(([t, e]) => `  t=${t.padStart(4)}: max abs ${f(e.maxAbs)}, rms ${f(e.rms)}, rel rms ${(100 * e.relRms).toFixed(2)}%`),
    `  all   : max abs ${f(r.int8Overall.maxAbs)}, rms ${f(r.int8Overall.rms)}, rel rms ${(100 * r.int8Overall.relRms).toFixed(2)}%`,
    `${r.sampleLabel}, int8 vs fp32 (same seeds): PSNR ${r.samplePsnrDb.toFixed(2)} dB`,
    ...Object.entries(r.extra).map(([k, v]) => `${k}: ${f(v)}`),
    ...Object.entries(r.timings).map(
      ([b, t]) => `onnxruntime-web (Node, 1 thread), batch ${b}: fp32 ${t.fp32.toFixed(1)} ms, int8 ${t.int8.toFixed(1)} ms (${(t.fp32 / t.int8).toFixed(2)}x)`,
    ),
  ];
  return lines.join('\n');
}
