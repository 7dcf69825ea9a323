/**
 * The ONNX emitter: implements Ops over graph tensors (NCHW, batch dimension symbolic). Parameters are
 * looked up by their canonical names/layouts (ops.ts) through a ParamSource and written as initializers in
 * ONNX layouts (conv kernels transposed [kh, kw, cin, cout] -> [cout, cin, kh, kw]).
 */
import { GROUPNORM_EPS, timestepFrequencies, type Ops } from './ops.ts';
import { attr, GraphBuilder } from './onnx-graph.ts';

/** A symbolic tensor: its graph name and its shape without the batch dimension. */
export interface OnnxTensor {
  readonly name: string;
  /** [C, H, W] for images, [F] for vectors, [] for per-image scalars (t, class). */
  readonly dims: readonly number[];
}

/** Returns the parameter `name` in its canonical layout `shape`; throws when missing or mis-shaped. */
export type ParamSource = (name: string, shape: readonly number[]) => Float32Array;

export class ExportError extends Error {
  override readonly name = 'ExportError';
}

function transposeKernel(k: Float32Array, kh: number, kw: number, cin: number, cout: number): Float32Array {
  // [kh, kw, cin, cout] -> [cout, cin, kh, kw]
  const out = new Float32Array(k.length);
  for (let i = 0; i < kh; i++)
    for (let j = 0; j < kw; j++)
      for (let c = 0; c < cin; c++)
        for (let o = 0; o < cout; o++) out[((o * cin + c) * kh + i) * kw + j] = k[((i * kw + j) * cin + c) * cout + o];
  return out;
}

/**
 * How GroupNorm is written:
 *   - 'instance-norm' (default): Reshape [B, G, C/G*H*W] -> InstanceNormalization (scale 1, bias 0) ->
 *     Reshape [B, C, H, W] -> Mul gamma [C,1,1] -> Add beta [C,1,1]: five kernels, and onnxruntime has a
 *     kernel for each (docs/export.md, "Graph");
 *   - 'opset': one opset-21 GroupNormalization node, which onnxruntime-web 1.30 has no kernel for: it expands
 *     the node's function body into about 25-30 small kernels and builds sessions 2.5-5x slower.
 */
export type GroupNormForm = 'instance-norm' | 'opset';
export const GROUP_NORM_FORMS: readonly GroupNormForm[] = ['instance-norm', 'opset'];

export interface EmitOptions {
  groupNorm: GroupNormForm;
}

export const DEFAULT_EMIT: EmitOptions = { groupNorm: 'instance-norm' };

export class OnnxOps implements Ops<OnnxTensor> {
  /** Canonical parameter names and shapes, in the order the definition declared them. */
  readonly params: { name: string; shape: number[] }[] = [];

  constructor(
    readonly b: GraphBuilder,
    private readonly source: ParamSource,
    private readonly emit: EmitOptions = DEFAULT_EMIT,
  ) {}

  private param(name: string, shape: number[]): Float32Array {
    const data = this.source(name, shape);
    const size = shape.reduce((a, c) => a * c, 1);
    if (data.length !== size) {
      throw new ExportError(`parameter ${name}: expected [${shape.join(', ')}] (${size} values), got ${data.length}`);
    }
    this.params.push({ name, shape });
    return data;
  }

  private image(x: OnnxTensor, what: string): [number, number, number] {
    if (x.dims.length !== 3) throw new ExportError(`${what}: expected an image [B, C, H, W], got [B, ${x.dims.join(', ')}]`);
    return [x.dims[0], x.dims[1], x.dims[2]];
  }

  conv2d(x: OnnxTensor, name: string, outChannels: number, kernel: 1 | 3, stride: 1 | 2 = 1): OnnxTensor {
    const [cin, h, w] = this.image(x, `conv2d ${name}`);
    if (stride === 2 && kernel !== 3) throw new ExportError(`conv2d ${name}: stride 2 needs kernel 3`);
    if (stride === 2 && (h % 2 !== 0 || w % 2 !== 0)) throw new ExportError(`conv2d ${name}: stride 2 on odd size ${h}x${w}`);
    const k = this.param(`${name}/kernel`, [kernel, kernel, cin, outChannels]);
    const bias = this.param(`${name}/bias`, [outChannels]);
    const wName = this.b.initializer(`${name}/kernel`, 'float32', [outChannels, cin, kernel, kernel], transposeKernel(k, kernel, kernel, cin, outChannels));
    const bName = this.b.initializer(`${name}/bias`, 'float32', [outChannels], bias);
    const pad = kernel === 3 ? 1 : 0;
    const out = this.b.node(
      'Conv',
      [x.name, wName, bName],
      [attr.ints('kernel_shape', [kernel, kernel]), attr.ints('pads', [pad, pad, pad, pad]), attr.ints('strides', [stride, stride])],
      name,
    );
    return { name: out, dims: [outChannels, h / stride, w / stride] };
  }

  groupNorm(x: OnnxTensor, name: string, groups: number): OnnxTensor {
    const [c] = this.image(x, `groupNorm ${name}`);
    if (c % groups !== 0) throw new ExportError(`groupNorm ${name}: ${groups} groups do not divide ${c} channels`);
    if (this.emit.groupNorm === 'instance-norm') return this.groupNormLowered(x, name, groups);
    const gamma = this.b.initializer(`${name}/gamma`, 'float32', [c], this.param(`${name}/gamma`, [c]));
    const beta = this.b.initializer(`${name}/beta`, 'float32', [c], this.param(`${name}/beta`, [c]));
    // Opset 21 GroupNormalization: scale and bias per channel.
    const out = this.b.node(
      'GroupNormalization',
      [x.name, gamma, beta],
      [attr.float('epsilon', GROUPNORM_EPS), attr.int('num_groups', groups)],
      name,
    );
    return { name: out, dims: x.dims };
  }

  /** GroupNorm as InstanceNormalization over [B, G, C/G * H * W], then the per-channel affine. */
  private groupNormLowered(x: OnnxTensor, name: string, groups: number): OnnxTensor {
    const [c, h, w] = this.image(x, `groupNorm ${name}`);
    // gamma and beta keep their canonical names, shaped [C, 1, 1] to broadcast over [B, C, H, W]
    const gamma = this.b.initializer(`${name}/gamma`, 'float32', [c, 1, 1], this.param(`${name}/gamma`, [c]));
    const beta = this.b.initializer(`${name}/beta`, 'float32', [c, 1, 1], this.param(`${name}/beta`, [c]));
    const ones = this.b.floats(`const_ones_${groups}`, [groups], new Float32Array(groups).fill(1));
    const zeros = this.b.floats(`const_zeros_${groups}`, [groups], new Float32Array(groups));
    const grouped = this.b.node('Reshape', [x.name, this.b.int64s([0, groups, -1])]); // [B, G, C/G*H*W]
    const normed = this.b.node('InstanceNormalization', [grouped, ones, zeros], [attr.float('epsilon', GROUPNORM_EPS)]);
    const back = this.b.node('Reshape', [normed, this.b.int64s([0, c, h, w])]); // [B, C, H, W]
    const scaled = this.b.node('Mul', [back, gamma]);
    return { name: this.b.node('Add', [scaled, beta], [], name), dims: x.dims };
  }

  silu(x: OnnxTensor): OnnxTensor {
    const s = this.b.node('Sigmoid', [x.name]);
    return { name: this.b.node('Mul', [x.name, s], [], 'silu'), dims: x.dims };
  }

  dense(x: OnnxTensor, name: string, outFeatures: number): OnnxTensor {
    if (x.dims.length !== 1) throw new ExportError(`dense ${name}: expected [B, F], got [B, ${x.dims.join(', ')}]`);
    const inF = x.dims[0];
    const k = this.b.initializer(`${name}/kernel`, 'float32', [inF, outFeatures], this.param(`${name}/kernel`, [inF, outFeatures]));
    const bias = this.b.initializer(`${name}/bias`, 'float32', [outFeatures], this.param(`${name}/bias`, [outFeatures]));
    // Gemm: [B, in] x [in, out] + [out]
    return { name: this.b.node('Gemm', [x.name, k, bias], [], name), dims: [outFeatures] };
  }

  add(a: OnnxTensor, b: OnnxTensor): OnnxTensor {
    if (a.dims.join() !== b.dims.join()) throw new ExportError(`add: shapes [${a.dims.join(', ')}] and [${b.dims.join(', ')}] differ`);
    return { name: this.b.node('Add', [a.name, b.name]), dims: a.dims };
  }

  addPerChannel(x: OnnxTensor, v: OnnxTensor): OnnxTensor {
    const [c] = this.image(x, 'addPerChannel');
    if (v.dims.length !== 1 || v.dims[0] !== c) throw new ExportError(`addPerChannel: vector [B, ${v.dims.join(', ')}] for ${c} channels`);
    const v4 = this.b.node('Unsqueeze', [v.name, this.b.int64s([2, 3])]); // [B, C] -> [B, C, 1, 1]
    return { name: this.b.node('Add', [x.name, v4]), dims: x.dims };
  }

  concatChannels(a: OnnxTensor, b: OnnxTensor): OnnxTensor {
    const [ca, h, w] = this.image(a, 'concatChannels');
    const [cb, h2, w2] = this.image(b, 'concatChannels');
    if (h !== h2 || w !== w2) throw new ExportError(`concatChannels: ${h}x${w} and ${h2}x${w2} differ`);
    return { name: this.b.node('Concat', [a.name, b.name], [attr.int('axis', 1)]), dims: [ca + cb, h, w] };
  }

  upsampleNearest2x(x: OnnxTensor): OnnxTensor {
    const [c, h, w] = this.image(x, 'upsampleNearest2x');
    const scales = this.b.floats('const_upsample_scales', [4], Float32Array.of(1, 1, 2, 2));
    const out = this.b.node(
      'Resize',
      [x.name, '', scales],
      [attr.string('mode', 'nearest'), attr.string('coordinate_transformation_mode', 'asymmetric'), attr.string('nearest_mode', 'floor')],
      'upsample',
    );
    return { name: out, dims: [c, 2 * h, 2 * w] };
  }

  upsampleConv(x: OnnxTensor, name: string, outChannels: number): OnnxTensor {
    return this.conv2d(this.upsampleNearest2x(x), name, outChannels, 3);
  }

  dropout(x: OnnxTensor): OnnxTensor {
    return x; // identity at inference
  }

  spatialAttention(q: OnnxTensor, k: OnnxTensor, v: OnnxTensor): OnnxTensor {
    const [c, h, w] = this.image(q, 'spatialAttention');
    const flat = this.b.int64s([0, c, h * w]);
    const qf = this.b.node('Reshape', [q.name, flat]); // [B, C, N]
    const kf = this.b.node('Reshape', [k.name, flat]);
    const vf = this.b.node('Reshape', [v.name, flat]);
    const qt = this.b.node('Transpose', [qf], [attr.ints('perm', [0, 2, 1])]); // [B, N, C]
    const logits = this.b.node('MatMul', [qt, kf]); // [B, N, N]: q_i . k_j
    const scaled = this.b.node('Mul', [logits, this.b.scalar(1 / Math.sqrt(c))]);
    const weights = this.b.node('Softmax', [scaled], [attr.int('axis', -1)]); // over j
    const wt = this.b.node('Transpose', [weights], [attr.ints('perm', [0, 2, 1])]); // [B, N(j), N(i)]
    const out = this.b.node('MatMul', [vf, wt]); // [B, C, N]: sum_j v_j w_ij
    return { name: this.b.node('Reshape', [out, this.b.int64s([0, c, h, w])], [], 'attention'), dims: [c, h, w] };
  }

  timestepEmbedding(t: OnnxTensor, dim: number): OnnxTensor {
    if (t.dims.length !== 0) throw new ExportError('timestepEmbedding: expected t [B]');
    const freqs = timestepFrequencies(dim);
    const tf = this.b.node('Cast', [t.name], [attr.int('to', 1)]); // int64 -> float
    const t2 = this.b.node('Unsqueeze', [tf, this.b.int64s([1])]); // [B, 1]
    const args = this.b.node('Mul', [t2, this.b.floats(`const_timestep_freqs_${dim}`, [1, freqs.length], freqs)]); // [B, half]
    const parts = [this.b.node('Sin', [args]), this.b.node('Cos', [args])]; // [sin | cos]
    return { name: this.b.node('Concat', parts, [attr.int('axis', 1)], 'temb'), dims: [dim] };
  }

  embedding(y: OnnxTensor, name: string, rows: number, dim: number): OnnxTensor {
    if (y.dims.length !== 0) throw new ExportError(`embedding ${name}: expected class ids [B]`);
    const table = this.b.initializer(`${name}/table`, 'float32', [rows, dim], this.param(`${name}/table`, [rows, dim]));
    return { name: this.b.node('Gather', [table, y.name], [attr.int('axis', 0)], name), dims: [dim] };
  }
}
