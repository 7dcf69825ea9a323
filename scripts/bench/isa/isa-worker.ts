/**
 * The workerd side of `npm run bench isa`: instantiates the kernel modules (handed over as compiled wasm modules, as
 * the app gets onnxruntime's) and times them with the isolate's clock. GET /?rounds=&roundMs= answers
 * { runs: KernelRun[], relaxed: boolean | string }.
 */
/// <reference path="../../../src/types/modules.d.ts" />
import simd from './simd.wasm';
import relaxed from './relaxed.wasm';
import { runKernels, WASM_KERNELS, type KernelRun } from './kernels.ts';

export default {
  async fetch(request: Request): Promise<Response> {
    const q = new URL(request.url).searchParams;
    const rounds = Number(q.get('rounds') ?? 5);
    const roundMs = Number(q.get('roundMs') ?? 200);
    const runs: KernelRun[] = [];
    const plain = await WebAssembly.instantiate(simd);
    runs.push(...runKernels(plain.exports, WASM_KERNELS.filter((k) => !k.relaxed), rounds, roundMs, () => Date.now()));
    let relaxedState: boolean | string = true;
    try {
      const r = await WebAssembly.instantiate(relaxed);
      runs.push(...runKernels(r.exports, WASM_KERNELS.filter((k) => k.relaxed), rounds, roundMs, () => Date.now()));
    } catch (e) {
      relaxedState = (e as Error).message;
    }
    return Response.json({ runs, relaxed: relaxedState });
  },
};
