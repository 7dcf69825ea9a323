/**
 * The U-Net as an ONNX graph: the shared definition (scripts/model/unet.ts) run over the ONNX emitter.
 * Inputs x [batch, C, H, W] float32, t [batch] int64, class [batch] int64 (conditional models only),
 * self_cond [batch, C, H, W] float32 (self-conditioned models only); output `out` [batch, C, H, W] float32.
 */
import type { DiffusionModelConfig } from '../model/config.ts';
import { GraphBuilder, type Graph } from '../model/onnx-graph.ts';
import { DEFAULT_EMIT, ExportError, OnnxOps, type EmitOptions, type ParamSource } from '../model/ops-onnx.ts';
import { unet, validateUNetConfig } from '../model/unet.ts';
import type { ModelIo } from '../../src/model-card.ts';
import type { GraphSpec } from '../../src/inference/onnx.ts';

/** The exporter's graph I/O names (a model card's `io` lists those its graph takes). */
export const DEFAULT_IO: Required<ModelIo> = { x: 'x', t: 't', class: 'class', selfCond: 'self_cond', output: 'out' };

export interface BuiltGraph {
  graph: Graph;
  io: ModelIo;
  /** What a session of this graph needs to know (src/inference/onnx.ts). */
  spec: GraphSpec;
  /** Canonical parameter names and shapes, as the definition declared them. */
  params: { name: string; shape: number[] }[];
  parameterCount: number;
}

/** Builds the fp32 graph; every parameter comes from `source` (ExportError when the architecture cannot be expressed). */
export function buildUNetGraph(config: Pick<DiffusionModelConfig, 'unet'>, source: ParamSource, name = 'ddpm_unet', emit: EmitOptions = DEFAULT_EMIT): BuiltGraph {
  const u = config.unet;
  try {
    validateUNetConfig(u);
  } catch (e) {
    throw new ExportError(`the architecture cannot be exported: ${(e as Error).message}`, { cause: e });
  }
  const b = new GraphBuilder(name);
  const io: ModelIo = {
    x: DEFAULT_IO.x,
    t: DEFAULT_IO.t,
    ...(u.numClasses > 0 ? { class: DEFAULT_IO.class } : {}),
    ...(u.selfCondition === true ? { selfCond: DEFAULT_IO.selfCond } : {}),
    output: DEFAULT_IO.output,
  };
  const image = ['batch', u.channels, u.imageSize, u.imageSize];
  b.graph.inputs.push({ name: io.x, type: 'float32', dims: image });
  b.graph.inputs.push({ name: io.t, type: 'int64', dims: ['batch'] });
  if (io.class !== undefined) b.graph.inputs.push({ name: io.class, type: 'int64', dims: ['batch'] });
  if (io.selfCond !== undefined) b.graph.inputs.push({ name: io.selfCond, type: 'float32', dims: image });
  const ops = new OnnxOps(b, source, emit);
  let out;
  try {
    out = unet(ops, u, {
      x: { name: io.x, dims: [u.channels, u.imageSize, u.imageSize] },
      t: { name: io.t, dims: [] },
      y: io.class === undefined ? undefined : { name: io.class, dims: [] },
      selfCond: io.selfCond === undefined ? undefined : { name: io.selfCond, dims: [u.channels, u.imageSize, u.imageSize] },
    });
  } catch (e) {
    if (e instanceof ExportError) throw e;
    throw new ExportError(`the architecture cannot be exported: ${(e as Error).message}`, { cause: e });
  }
  if (out.dims.join() !== [u.channels, u.imageSize, u.imageSize].join()) {
    throw new ExportError(`the network's output [B, ${out.dims.join(', ')}] does not match its input`);
  }
  // Name the last node's output as the graph output.
  const last = b.graph.nodes.find((n) => n.outputs.includes(out.name));
  if (last === undefined) throw new ExportError('the network output is not produced by any node');
  last.outputs = last.outputs.map((o) => (o === out.name ? io.output : o));
  b.graph.outputs.push({ name: io.output, type: 'float32', dims: ['batch', u.channels, u.imageSize, u.imageSize] });
  const parameterCount = ops.params.reduce((s, p) => s + p.shape.reduce((a, c) => a * c, 1), 0);
  return { graph: b.graph, io, spec: { name, io, dims: [u.channels, u.imageSize, u.imageSize] }, params: ops.params, parameterCount };
}

/** A ParamSource over a checkpoint's weights; `unused()` lists the weights the graph never asked for. */
export function weightsSource(weights: ReadonlyMap<string, { shape: readonly number[]; data: Float32Array }>): ParamSource & {
  unused(): string[];
} {
  const used = new Set<string>();
  const source = (name: string, shape: readonly number[]): Float32Array => {
    const w = weights.get(name);
    if (w === undefined) throw new ExportError(`the checkpoint has no parameter ${name} [${shape.join(', ')}]`);
    if (w.shape.join() !== shape.join()) {
      throw new ExportError(`parameter ${name}: the checkpoint has [${w.shape.join(', ')}], the architecture needs [${shape.join(', ')}]`);
    }
    used.add(name);
    return w.data;
  };
  return Object.assign(source, { unused: () => [...weights.keys()].filter((k) => !used.has(k)) });
}
