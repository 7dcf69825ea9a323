// onnxruntime's start apart from any model (src/inference/onnx.ts startWebRuntime, src/inference/runtime.ts):
// the embedded one-node graph, the ORT_START setting. The start inside workerd: test/worker/runtime-start.test.ts.
import { describe, expect, it } from 'vitest';
import { decodeModel, encodeModel, GraphBuilder } from '../../scripts/model/onnx-graph.ts';
import { RUNTIME_START_GRAPH_BASE64, startWebRuntime } from '../../src/inference/onnx.ts';
import { runtimeStartBreakdown, runtimeStartSetting, startRuntimeWithIsolate } from '../../src/inference/runtime.ts';

const bytes = (): Uint8Array => Uint8Array.from(atob(RUNTIME_START_GRAPH_BASE64), (c) => c.charCodeAt(0));

describe('the runtime-start graph', () => {
  it('is the one-node Identity graph encodeModel writes (regenerate the constant if the encoder changes)', () => {
    const g = new GraphBuilder('runtime-start');
    g.graph.nodes.push({ name: 'identity', op: 'Identity', inputs: ['x'], outputs: ['y'], attrs: [] });
    g.graph.inputs.push({ name: 'x', type: 'float32', dims: [1] });
    g.graph.outputs.push({ name: 'y', type: 'float32', dims: [1] });
    const expected = encodeModel(g.graph);
    expect(Buffer.from(bytes()).toString('base64')).toBe(Buffer.from(expected).toString('base64'));
    const model = decodeModel(bytes());
    expect(model.graph?.node?.map((n) => n.opType)).toEqual(['Identity']);
    expect(model.graph?.initializer ?? []).toHaveLength(0);
  });

  it('opens in onnxruntime-web: the session takes x and gives it back as y', async () => {
    const session = await startWebRuntime();
    expect(session.inputNames).toEqual(['x']);
    expect(session.outputNames).toEqual(['y']);
  });
});

describe('ORT_START', () => {
  it('defaults to starting with the isolate', () => {
    expect(runtimeStartSetting(undefined)).toBe('isolate');
    expect(runtimeStartSetting('')).toBe('isolate');
    expect(runtimeStartSetting('isolate')).toBe('isolate');
    expect(runtimeStartSetting('first-use')).toBe('first-use');
  });

  it('refuses anything else, naming the allowed values', () => {
    expect(() => runtimeStartSetting('lazy')).toThrow('ORT_START must be "isolate" or "first-use", got "lazy"');
    expect(() => startRuntimeWithIsolate({ ORT_START: 'Isolate', ORT_WASM_ENTRY: '/x.mjs' })).toThrow('got "Isolate"');
  });

  it('"first-use" starts nothing with the isolate (the first model load does)', async () => {
    startRuntimeWithIsolate({ ORT_START: 'first-use', ORT_WASM_ENTRY: '/x.mjs' });
    await new Promise((r) => setTimeout(r, 50));
    expect(runtimeStartBreakdown()).toBeUndefined();
  });
});
