/**
 * Static int8 QDQ quantization of the Conv layers, in the form onnxruntime fuses into QLinearConv:
 *   activation -> QuantizeLinear -> DequantizeLinear -> Conv(x, DQ(W int8, per-channel), DQ(b int32)) ->
 *   QuantizeLinear -> DequantizeLinear -> consumers.
 * Weights: symmetric int8 per output channel (scale = max|w| / 127). Bias: int32 with scale
 * x_scale * w_scale[c] (zero point 0). Activations: per-tensor, asymmetric uint8 (the U8S8 form
 * onnxruntime's MLAS kernels take; int8 activations fail session creation in onnxruntime-web 1.30), ranges
 * from calibration (min/max over real noised images across t).
 */
import { attr, cloneGraph, type Graph, type GraphNode, type Initializer } from '../model/onnx-graph.ts';

export interface Range {
  min: number;
  max: number;
}

export interface QuantizeOptions {
  /** Conv layer names (canonical, e.g. 'out') kept in float. */
  keepFloat: ReadonlySet<string>;
}

/** The canonical layer name of a Conv node (its weight initializer is `${layer}/kernel`). */
export function convLayerName(node: GraphNode): string | undefined {
  if (node.op !== 'Conv') return undefined;
  const w = node.inputs[1];
  return w.endsWith('/kernel') ? w.slice(0, -'/kernel'.length) : undefined;
}

/** Conv layer names in graph order. */
export function convLayers(graph: Graph): string[] {
  return graph.nodes.map(convLayerName).filter((n): n is string => n !== undefined);
}

/** Activation tensors a QDQ pass touches: the inputs and outputs of every Conv not kept in float. */
export function activationTensors(graph: Graph, keepFloat: ReadonlySet<string> = new Set()): string[] {
  const graphOutputs = new Set(graph.outputs.map((o) => o.name));
  const names = new Set<string>();
  for (const n of graph.nodes) {
    const layer = convLayerName(n);
    if (layer === undefined || keepFloat.has(layer)) continue;
    names.add(n.inputs[0]);
    if (!graphOutputs.has(n.outputs[0])) names.add(n.outputs[0]);
  }
  return [...names];
}

/** Scale and zero point for a calibrated range (the range always contains 0, so 0 is exact). */
export function activationParams(range: Range): { scale: number; zeroPoint: number } {
  const lo = Math.min(range.min, 0);
  const hi = Math.max(range.max, 0);
  const scale = hi > lo ? (hi - lo) / 255 : 1;
  const zeroPoint = Math.max(0, Math.min(255, Math.round(-lo / scale)));
  return { scale: Math.fround(scale), zeroPoint };
}

function float32Initializer(graph: Graph, name: string): Initializer {
  const t = graph.initializers.get(name);
  if (t === undefined || !(t.data instanceof Float32Array)) throw new Error(`float initializer ${name} not found`);
  return t;
}

/** Returns a new graph with QDQ around every Conv not kept in float. `ranges` covers activationTensors(). */
export function quantizeGraph(source: Graph, ranges: ReadonlyMap<string, Range>, options: QuantizeOptions): Graph {
  const g = cloneGraph(source);
  const targets = activationTensors(source, options.keepFloat);
  const qdqName = new Map<string, string>(); // activation -> its dequantized twin
  const actScale = new Map<string, number>();
  const pending = new Map<string, GraphNode[]>(); // producer output -> Q/DQ nodes to emit after it

  for (const name of targets) {
    const range = ranges.get(name);
    if (range === undefined) throw new Error(`no calibration range for ${name}`);
    const { scale, zeroPoint } = activationParams(range);
    const s = `${name}/act_scale`;
    const z = `${name}/act_zero_point`;
    g.initializers.set(s, { name: s, type: 'float32', dims: [], data: Float32Array.of(scale) });
    g.initializers.set(z, { name: z, type: 'uint8', dims: [], data: Uint8Array.of(zeroPoint) });
    const q = `${name}/q`;
    const dq = `${name}/dq`;
    pending.set(name, [
      { name: `n_${q}`, op: 'QuantizeLinear', inputs: [name, s, z], outputs: [q], attrs: [] },
      { name: `n_${dq}`, op: 'DequantizeLinear', inputs: [q, s, z], outputs: [dq], attrs: [] },
    ]);
    qdqName.set(name, dq);
    actScale.set(name, scale);
  }

  const nodes: GraphNode[] = [];
  for (const input of g.inputs) nodes.push(...(pending.get(input.name) ?? []));
  for (const [index, node] of g.nodes.entries()) {
    // Every consumer reads the dequantized twin (the Q node itself reads the original).
    node.inputs = node.inputs.map((i) => qdqName.get(i) ?? i);
    const layer = convLayerName(node);
    if (layer !== undefined && !options.keepFloat.has(layer)) {
      const xName = source.nodes[index].inputs[0];
      const xScale = actScale.get(xName);
      if (xScale === undefined) throw new Error(`conv ${layer}: input ${xName} not quantized`);
      nodes.push(...quantizeConvParams(g, node, layer, xScale));
    }
    nodes.push(node);
    for (const out of node.outputs) nodes.push(...(pending.get(out) ?? []));
  }
  g.nodes = nodes;
  return g;
}

/** Replaces W and b of one Conv by int8/int32 initializers behind DequantizeLinear nodes; returns those nodes. */
function quantizeConvParams(g: Graph, conv: GraphNode, layer: string, xScale: number): GraphNode[] {
  const w = float32Initializer(g, conv.inputs[1]);
  const b = float32Initializer(g, conv.inputs[2]);
  const wData = w.data as Float32Array;
  const bData = b.data as Float32Array;
  const cout = w.dims[0];
  const per = wData.length / cout;
  const wScale = new Float32Array(cout);
  const wq = new Int8Array(wData.length);
  const bScale = new Float32Array(cout);
  const bq = new Int32Array(cout);
  for (let o = 0; o < cout; o++) {
    let m = 0;
    for (let i = o * per; i < (o + 1) * per; i++) m = Math.max(m, Math.abs(wData[i]));
    const s = Math.fround(m > 0 ? m / 127 : 1);
    wScale[o] = s;
    for (let i = o * per; i < (o + 1) * per; i++) wq[i] = Math.max(-127, Math.min(127, Math.round(wData[i] / s)));
    bScale[o] = Math.fround(xScale * s);
    bq[o] = Math.max(-(2 ** 31), Math.min(2 ** 31 - 1, Math.round(bData[o] / bScale[o])));
  }
  const names = {
    wq: `${layer}/kernel_int8`,
    ws: `${layer}/kernel_scale`,
    wz: `${layer}/kernel_zero_point`,
    bq: `${layer}/bias_int32`,
    bs: `${layer}/bias_scale`,
    bz: `${layer}/bias_zero_point`,
  };
  g.initializers.delete(w.name);
  g.initializers.delete(b.name);
  g.initializers.set(names.wq, { name: names.wq, type: 'int8', dims: w.dims, data: wq });
  g.initializers.set(names.ws, { name: names.ws, type: 'float32', dims: [cout], data: wScale });
  g.initializers.set(names.wz, { name: names.wz, type: 'int8', dims: [cout], data: new Int8Array(cout) });
  g.initializers.set(names.bq, { name: names.bq, type: 'int32', dims: [cout], data: bq });
  g.initializers.set(names.bs, { name: names.bs, type: 'float32', dims: [cout], data: bScale });
  g.initializers.set(names.bz, { name: names.bz, type: 'int32', dims: [cout], data: new Int32Array(cout) });
  const wdq = `${layer}/kernel_dq`;
  const bdq = `${layer}/bias_dq`;
  conv.inputs[1] = wdq;
  conv.inputs[2] = bdq;
  return [
    { name: `n_${wdq}`, op: 'DequantizeLinear', inputs: [names.wq, names.ws, names.wz], outputs: [wdq], attrs: [attr.int('axis', 0)] },
    { name: `n_${bdq}`, op: 'DequantizeLinear', inputs: [names.bq, names.bs, names.bz], outputs: [bdq], attrs: [attr.int('axis', 0)] },
  ];
}

/** A copy of the graph that also outputs the given intermediate float tensors (for calibration). */
export function withExtraOutputs(graph: Graph, names: readonly string[]): Graph {
  const g = cloneGraph(graph);
  const existing = new Set(g.outputs.map((o) => o.name));
  for (const name of names) {
    if (!existing.has(name)) g.outputs.push({ name, type: 'float32', dims: null });
  }
  return g;
}
