/**
 * Calibration: runs the fp32 graph (onnxruntime-web) on batches of noised images and records, for every
 * activation a QDQ pass quantizes, the min and max seen.
 */
import { encodeModel, type Graph } from '../model/onnx-graph.ts';
import { activationTensors, withExtraOutputs, type Range } from './quantize.ts';
import { createSession, run, type ForwardInput, type ModelIo } from './runtime.ts';

export async function calibrate(graph: Graph, io: ModelIo, batches: readonly ForwardInput[]): Promise<Map<string, Range>> {
  const names = activationTensors(graph);
  const session = await createSession(encodeModel(withExtraOutputs(graph, names)));
  const ranges = new Map<string, Range>(names.map((n) => [n, { min: Infinity, max: -Infinity }]));
  try {
    for (const batch of batches) {
      const out = await run(session, io, batch, names);
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
