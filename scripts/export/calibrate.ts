/**
 * Calibration: runs the fp32 graph (onnxruntime-web) on batches of noised images and records, for every
 * activation a QDQ pass quantizes, the min and max seen.
 */
import type { ModelInputs } from '../../src/diffusion/types.ts';
import { createModelSession, type GraphSpec } from '../../src/inference/onnx.ts';
import { encodeModel, type Graph } from '../model/onnx-graph.ts';
import { activationTensors, withExtraOutputs, type Range } from './quantize.ts';

export async function calibrate(graph: Graph, spec: GraphSpec, batches: readonly ModelInputs[]): Promise<Map<string, Range>> {
  const names = activationTensors(graph);
  const session = await createModelSession(encodeModel(withExtraOutputs(graph, names)), spec);
  const ranges = new Map<string, Range>(names.map((n) => [n, { min: Infinity, max: -Infinity }]));
  try {
    for (const batch of batches) {
      const out = await session.runFeeds(session.feeds(batch), names);
      for (const [name, data] of out) {
        const r = ranges.get(name);
        if (r === undefined) continue;
        for (let i = 0; i < data.length; i++) {
          const v = data[i];
          if (v < r.min) r.min = v;
          if (v > r.max) r.max = v;
        }
      }
    }
  } finally {
    await session.release();
  }
  for (const [name, r] of ranges) {
    if (!Number.isFinite(r.min) || !Number.isFinite(r.max)) throw new Error(`calibration saw no finite values for ${name}`);
  }
  return ranges;
}
