/**
 * A small in-memory ONNX graph (nodes, initializers, I/O) that the emitter (ops-onnx.ts) builds, the
 * quantizer (scripts/export/quantize.ts) rewrites, and `encodeModel` serializes with onnx-proto
 * (protobufjs static module): no hand-written protobuf bytes.
 */
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

/** Opset 21: GroupNormalization with per-channel scale/bias; QDQ with per-axis int8 weights. */
export const OPSET = 21;
/** IR version 10 goes with opset 21. */
export const IR_VERSION = 10;

export type ElemType = 'float32' | 'int8' | 'uint8' | 'int32' | 'int64';
export type TensorData = Float32Array | Int8Array | Uint8Array | Int32Array | BigInt64Array;

export interface Initializer {
  name: string;
  type: ElemType;
  dims: number[];
  data: TensorData;
}

export type Attribute =
  | { name: string; kind: 'int'; value: number }
  | { name: string; kind: 'float'; value: number }
  | { name: string; kind: 'ints'; value: number[] }
  | { name: string; kind: 'string'; value: string };

export interface GraphNode {
  name: string;
  op: string;
  inputs: string[];
  outputs: string[];
  attrs: Attribute[];
}

/** A graph input or output: dims are numbers or symbolic names (e.g. 'batch'); null: shape unknown. */
export interface ValueInfo {
  name: string;
  type: ElemType;
  dims: (number | string)[] | null;
}

export interface Graph {
  name: string;
  nodes: GraphNode[];
  initializers: Map<string, Initializer>;
  inputs: ValueInfo[];
  outputs: ValueInfo[];
  /** Free-form metadata written into the model (metadata_props). */
  metadata: Record<string, string>;
}

export const attr = {
  int: (name: string, value: number): Attribute => ({ name, kind: 'int', value }),
  float: (name: string, value: number): Attribute => ({ name, kind: 'float', value }),
  ints: (name: string, value: number[]): Attribute => ({ name, kind: 'ints', value }),
  string: (name: string, value: string): Attribute => ({ name, kind: 'string', value }),
};

const DATA_TYPE: Record<ElemType, number> = {
  float32: onnx.TensorProto.DataType.FLOAT,
  int8: onnx.TensorProto.DataType.INT8,
  uint8: onnx.TensorProto.DataType.UINT8,
  int32: onnx.TensorProto.DataType.INT32,
  int64: onnx.TensorProto.DataType.INT64,
};

/** Creates nodes and initializers with unique, deterministic names. */
export class GraphBuilder {
  readonly graph: Graph;
  private counter = 0;

  constructor(name: string) {
    this.graph = { name, nodes: [], initializers: new Map(), inputs: [], outputs: [], metadata: {} };
  }

  /** A fresh tensor name with a readable prefix. */
  fresh(prefix: string): string {
    this.counter += 1;
    return `${prefix}:${this.counter}`;
  }

  /** Adds one node with one output; returns the output name. */
  node(op: string, inputs: string[], attrs: Attribute[] = [], label?: string): string {
    const out = this.fresh(label ?? op);
    this.graph.nodes.push({ name: `n_${out}`, op, inputs, outputs: [out], attrs });
    return out;
  }

  initializer(name: string, type: ElemType, dims: number[], data: TensorData): string {
    if (this.graph.initializers.has(name)) throw new Error(`duplicate initializer ${name}`);
    const size = dims.reduce((a, b) => a * b, 1);
    if (data.length !== size) throw new Error(`initializer ${name}: ${data.length} values for dims [${dims.join(', ')}]`);
    this.graph.initializers.set(name, { name, type, dims, data });
    return name;
  }

  /** An int64 constant (shapes, axes), shared by value. */
  int64s(values: number[]): string {
    const name = `const_i64[${values.join(',')}]`;
    if (!this.graph.initializers.has(name)) {
      this.initializer(name, 'int64', [values.length], BigInt64Array.from(values.map((v) => BigInt(v))));
    }
    return name;
  }

  /** A float32 constant, given an explicit unique name. */
  floats(name: string, dims: number[], values: Float32Array): string {
    if (!this.graph.initializers.has(name)) this.initializer(name, 'float32', dims, values);
    return name;
  }

  /** A float32 scalar constant, shared by value. */
  scalar(value: number): string {
    const f = Math.fround(value);
    const name = `const_f32(${f})`;
    if (!this.graph.initializers.has(name)) this.initializer(name, 'float32', [], Float32Array.of(f));
    return name;
  }
}

function tensorBytes(data: TensorData): Uint8Array {
  // Little-endian raw_data (all supported hosts are little-endian; checked below).
  return new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
}

const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

function valueInfo(v: ValueInfo): onnxProto.onnx.IValueInfoProto {
  return {
    name: v.name,
    type: {
      tensorType: {
        elemType: DATA_TYPE[v.type],
        ...(v.dims === null
          ? {}
          : { shape: { dim: v.dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } }),
      },
    },
  };
}

function attribute(a: Attribute): onnxProto.onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  switch (a.kind) {
    case 'int':
      return { name: a.name, type: T.INT, i: a.value };
    case 'float':
      return { name: a.name, type: T.FLOAT, f: a.value };
    case 'ints':
      return { name: a.name, type: T.INTS, ints: a.value };
    case 'string':
      return { name: a.name, type: T.STRING, s: new TextEncoder().encode(a.value) };
  }
}

/** Serializes a graph as an ONNX ModelProto (deterministic: same graph, same bytes). */
export function encodeModel(graph: Graph, producerVersion = '0.1.0'): Uint8Array {
  if (!LITTLE_ENDIAN) throw new Error('encodeModel needs a little-endian host (raw_data is little-endian)');
  const model = onnx.ModelProto.create({
    irVersion: IR_VERSION,
    opsetImport: [{ domain: '', version: OPSET }],
    producerName: 'ddpm-edge',
    producerVersion,
    graph: {
      name: graph.name,
      node: graph.nodes.map((n) => ({
        name: n.name,
        opType: n.op,
        input: n.inputs,
        output: n.outputs,
        attribute: n.attrs.map(attribute),
      })),
      initializer: [...graph.initializers.values()].map((t) => ({
        name: t.name,
        dataType: DATA_TYPE[t.type],
        dims: t.dims,
        rawData: tensorBytes(t.data),
      })),
      input: graph.inputs.map(valueInfo),
      output: graph.outputs.map(valueInfo),
    },
    metadataProps: Object.entries(graph.metadata)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([key, value]) => ({ key, value })),
  });
  return onnx.ModelProto.encode(model).finish();
}

/** Parses an ONNX file back into a protobuf object (tests and inspection). */
export function decodeModel(bytes: Uint8Array): onnxProto.onnx.ModelProto {
  return onnx.ModelProto.decode(bytes);
}

/** A shallow copy whose node list and initializer map can be changed without touching the original. */
export function cloneGraph(graph: Graph): Graph {
  return {
    name: graph.name,
    nodes: graph.nodes.map((n) => ({ ...n, inputs: [...n.inputs], outputs: [...n.outputs], attrs: [...n.attrs] })),
    initializers: new Map(graph.initializers),
    inputs: [...graph.inputs],
    outputs: [...graph.outputs],
    metadata: { ...graph.metadata },
  };
}
