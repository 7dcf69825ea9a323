// onnxruntime starts with the isolate (src/index.ts at module scope, ORT_START unset = "isolate"): the first
// request for an image finds it started and creates only its model's session (src/inference/runtime.ts).
import { env } from 'cloudflare:test';
import { expect, it } from 'vitest';
import '../../src/index.ts';
import { coldStartBreakdown, runtimeStartBreakdown, startRuntime } from '../../src/inference/runtime.ts';
import { fetchSettled } from './settled.ts';

it('starts with the isolate, and the first image request creates only its model session', async () => {
  // the module scope of src/index.ts began the start; this call returns the same promise
  await startRuntime({ wasmEntry: env.ORT_WASM_ENTRY });
  expect(runtimeStartBreakdown()?.at).toBe('isolate');
  expect(coldStartBreakdown()).toBeUndefined();
  const res = await fetchSettled('http://worker.test/v1/samples/3.png?model=fixture-tiny&steps=2');
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('image/png');
  const cold = coldStartBreakdown();
  expect(cold?.runtimeStartedAt).toBe('isolate');
  expect(cold?.sessionMs).toBeGreaterThanOrEqual(0);
});
