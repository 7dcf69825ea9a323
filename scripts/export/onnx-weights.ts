/**
 * Weights back out of an exported fp32 graph (models/<name>/unet.onnx), in the canonical layouts the
 * shared U-Net definition asks for: a re-export (a cheaper graph, a new quantization) needs no training
 * checkpoint. Conv kernels are stored [cout, cin, kh, kw] in ONNX and canonical [kh, kw, cin, cout].
 */
import { decodeModel } from '../model/onnx-graph.ts';
import { ExportError } from '../model/ops-onnx.ts';

export interface CanonicalWeight {
  shape: number[];
  data: Float32Array;
}

function floats(t: { name?: string | null; rawData?: Uint8Array | null; floatData?: number[] | null; dataType?: number | null }): Float32Array {
  if (t.dataType !== 1) throw new ExportError(`initializer ${t.name}: not float32 (data type ${t.dataType}); re-export reads an fp32 unet.onnx`);
  if (t.rawData && t.rawData.length > 0) {
    const copy = new Uint8Array(t.rawData); // aligned copy
    return new Float32Array(copy.buffer, 0, copy.length / 4);
  }
  return Float32Array.from(t.floatData ?? []);
}

function kernelToCanonical(k: Float32Array, cout: number, cin: number, kh: number, kw: number): Float32Array {
  // [cout, cin, kh, kw] -> [kh, kw, cin, cout]
  const out = new Float32Array(k.length);
  for (let o = 0; o < cout; o++)
    for (let c = 0; c < cin; c++)
      for (let i = 0; i < kh; i++)
        for (let j = 0; j < kw; j++) out[((i * kw + j) * cin + c) * cout + o] = k[((o * cin + c) * kh + i) * kw + j];
  return out;
}

/** The named parameters of an fp32 graph written by this exporter (constants and quantized graphs refused). */
export function weightsFromOnnx(bytes: Uint8Array): Map<string, CanonicalWeight> {
  const model = decodeModel(bytes);
  const convWeights = new Set(model.graph?.node?.filter((n) => n.opType === 'Conv').map((n) => n.input?.[1]) ?? []);
  if ((model.graph?.node ?? []).some((n) => n.opType === 'QuantizeLinear' || n.opType === 'DequantizeLinear')) {
    throw new ExportError('the graph is quantized: re-export reads the fp32 unet.onnx');
  }
  const weights = new Map<string, CanonicalWeight>();
  for (const t of model.graph?.initializer ?? []) {
    const name = t.name ?? '';
    if (name.startsWith('const_')) continue; // shapes, scalars and tables the emitter makes itself
    const dims = (t.dims ?? []).map(Number);
    const data = floats(t);
    if (convWeights.has(name)) {
      const [cout, cin, kh, kw] = dims;
      weights.set(name, { shape: [kh, kw, cin, cout], data: kernelToCanonical(data, cout, cin, kh, kw) });
    } else if (/\/(gamma|beta)$/.test(name)) {
      weights.set(name, { shape: [data.length], data }); // [C] canonical; the lowered GroupNorm stores [C, 1, 1]
    } else {
      weights.set(name, { shape: dims, data });
    }
  }
  return weights;
}
