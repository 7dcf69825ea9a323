/**
 * `npm run export:study -- --run <dir>`: the measurements behind the keep-float policy and docs/export.md
 * figures. For a run's EMA weights and training images it prints
 *   - per-layer sensitivity: the int8-vs-fp32 prediction error (rel rms) when only that conv is quantized;
 *   - policies (all convs int8; first+last float; first+last+attention float): error per t, 20-step
 *     sample PSNR, file size, and onnxruntime-web (Node, 1 thread) ms per forward at batch 1/4/16.
 * Without --run it uses random weights of the given architecture on synthetic images (timing only).
 */
import { Command } from 'commander';
import type { ModelInputs } from '../../src/diffusion/types.ts';
import { createModelSession, type ModelSession } from '../../src/inference/onnx.ts';
import type { DiffusionModelConfig } from '../model/config.ts';
import { encodeModel, type Graph } from '../model/onnx-graph.ts';
import type { ParamSource } from '../model/ops-onnx.ts';
import { loadCheckpoint } from '../train/checkpoint.ts';
import { loadIdxDataset, loadImageFolder } from '../train/data.ts';
import { DEFAULT_UNET, ddpmRun } from '../train/options.ts';
import { calibrate } from './calibrate.ts';
import { defaultKeepFloat, evalTimesteps } from './export.ts';
import { syntheticImages } from './fixture.ts';
import { buildUNetGraph, weightsSource } from './graph.ts';
import { batchOf, errorStats, noisedBatches, samplePsnr, timeForward } from './measure.ts';
import { convLayers, quantizeGraph, type Range } from './quantize.ts';
import { randomParams } from './random-weights.ts';

async function outputs(s: ModelSession, inputs: readonly ModelInputs[]): Promise<Float32Array> {
  const parts: number[] = [];
  for (const input of inputs) parts.push(...(await s.run(input)));
  return Float32Array.from(parts);
}

async function study(config: DiffusionModelConfig, params: ParamSource, calib: Float32Array, evalImgs: Float32Array, opts: { sensitivity: boolean; batches: number[] }) {
  const u = config.unet;
  const n = u.channels * u.imageSize * u.imageSize;
  const built = buildUNetGraph(config, params);
  const spec = built.spec;
  const T = config.schedule.T;
  const calibT = Array.from({ length: 16 }, (_, k) => Math.floor(((k + 0.5) * T) / 16));
  const ranges: Map<string, Range> = await calibrate(built.graph, spec, noisedBatches(config, calib, calib.length / n, 16, calibT, 1));
  const fp32Bytes = encodeModel(built.graph);
  const fp32 = await createModelSession(fp32Bytes, spec);
  const evalByT = evalTimesteps(T).map((t) => ({ t, inputs: noisedBatches(config, evalImgs, evalImgs.length / n, 16, [t], 2) }));
  const refs = await Promise.all(evalByT.map(({ inputs }) => outputs(fp32, inputs)));
  const layers = convLayers(built.graph);
  console.log(`${layers.length} convs, ${built.parameterCount} parameters, fp32 ${fp32Bytes.length} bytes`);

  const errorsOf = async (g: Graph): Promise<number[]> => {
    const s = await createModelSession(encodeModel(g), spec);
    const errs: number[] = [];
    for (const [i, { inputs }] of evalByT.entries()) errs.push(errorStats(await outputs(s, inputs), refs[i]).relRms);
    await s.release();
    return errs;
  };

  if (opts.sensitivity) {
    console.log('\nper-layer sensitivity: rel rms error (%) of the prediction when only this conv is int8, t = ' + evalByT.map((e) => e.t).join(' / '));
    for (const layer of layers) {
      const errs = await errorsOf(quantizeGraph(built.graph, ranges, { keepFloat: new Set(layers.filter((l) => l !== layer)) }));
      console.log(`  ${layer.padEnd(24)} ${errs.map((e) => (100 * e).toFixed(2)).join(' / ')}`);
    }
  }

  const isAttn = (l: string): boolean => /\.attn(\.\d+)?\//.test(l);
  const policies: [string, Set<string>][] = [
    ['all convs int8', new Set()],
    ['first+last float', new Set(layers.filter((l) => l === 'in/conv' || l === 'out/conv'))],
    ['attention float', new Set(layers.filter(isAttn))],
    ['first+last+attention float', new Set(layers.filter((l) => l === 'in/conv' || l === 'out/conv' || isAttn(l)))],
    ['first+last float + level-0 skip/downsample', new Set(layers.filter((l) => l === 'in/conv' || l === 'out/conv' || /^(up|down)\.0\.(res\.\d+\/skip|downsample)$/.test(l)))],
    ['default (exporter)', defaultKeepFloat(layers)],
  ];
  console.log('\n| policy | convs int8 | rel rms % at t = ' + evalByT.map((e) => e.t).join(' / ') + ' | sample PSNR dB | bytes | ' + opts.batches.map((b) => `ms B=${b}`).join(' | ') + ' |');
  const times: Record<number, number> = {};
  for (const b of opts.batches) times[b] = (await timeForward(fp32, batchOf(evalByT[2].inputs[0], b, n))).min;
  console.log(`| fp32 | 0 | - | - | ${fp32Bytes.length} | ${opts.batches.map((b) => times[b].toFixed(1)).join(' | ')} |`);
  for (const [label, keep] of policies) {
    const g = quantizeGraph(built.graph, ranges, { keepFloat: keep });
    const bytes = encodeModel(g);
    const errs = await errorsOf(g);
    const s = await createModelSession(bytes, spec);
    const ps = await samplePsnr(config, fp32, s, { steps: 20, images: 8, seed: 1234 });
    const ms = [];
    for (const b of opts.batches) ms.push((await timeForward(s, batchOf(evalByT[2].inputs[0], b, n))).min);
    await s.release();
    console.log(`| ${label} | ${layers.length - keep.size} | ${errs.map((e) => (100 * e).toFixed(2)).join(' / ')} | ${ps.psnr.toFixed(1)} | ${bytes.length} | ${ms.map((m, i) => `${m.toFixed(1)} (${(times[opts.batches[i]] / m).toFixed(2)}x)`).join(' | ')} |`);
  }
  await fp32.release();
}

function toNchw(pixels: Uint8Array, count: number, S: number, C: number, start: number, step: number): Float32Array {
  const out = new Float32Array(count * C * S * S);
  for (let i = 0; i < count; i++) {
    const k = start + i * step;
    for (let p = 0; p < S * S; p++) for (let c = 0; c < C; c++) out[(i * C + c) * S * S + p] = pixels[(k * S * S + p) * C + c] / 127.5 - 1;
  }
  return out;
}

await new Command()
  .name('export:study')
  .description('int8 keep-float study: per-layer sensitivity, policies, sample PSNR and speed')
  .option('--run <dir>', 'training run (default: random weights of the default architecture)')
  .option('--no-sensitivity', 'skip the per-layer table')
  .option('--images <n>', 'calibration images (evaluation uses half as many others)', '128')
  .action(async (o: { run?: string; sensitivity: boolean; images: string }) => {
    const count = Number(o.images);
    const batches = [1, 4, 16];
    if (o.run === undefined) {
      const config: DiffusionModelConfig = { unet: DEFAULT_UNET, schedule: { kind: 'linear', T: 1000 }, prediction: 'epsilon' };
      const s = DEFAULT_UNET.imageSize;
      await study(config, randomParams(5), syntheticImages(count, s, 1), syntheticImages(count / 2, s, 2), { sensitivity: o.sensitivity, batches });
      return;
    }
    const ck = await loadCheckpoint(o.run);
    const c = ddpmRun(ck.config, 'npm run export:study');
    const u = c.unet;
    const lo = { size: u.imageSize, channels: u.channels, fit: c.data.fit, limit: 0 };
    const ds = c.data.kind === 'idx' ? await loadIdxDataset(c.data.images, c.data.labels, lo) : await loadImageFolder(c.data.images, lo);
    const step = Math.max(1, Math.floor(ds.count / (2 * count)));
    const calib = toNchw(ds.pixels, count, u.imageSize, u.channels, 0, step);
    const evalImgs = toNchw(ds.pixels, count / 2, u.imageSize, u.channels, Math.floor(step / 2), 2 * step);
    console.log(`run ${o.run}: step ${ck.step}`);
    await study({ unet: u, schedule: c.schedule, prediction: c.prediction }, weightsSource(ck.ema), calib, evalImgs, { sensitivity: o.sensitivity, batches });
  })
  .parseAsync();
