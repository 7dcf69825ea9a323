// The Emscripten module factory that onnxruntime-web loads through `env.wasm.wasmPaths.mjs`.
//
// workerd refuses to compile WebAssembly from bytes at run time, so the runtime's .wasm is imported as a
// module (wrangler rule CompiledWasm: a WebAssembly.Module compiled at upload) and handed to the glue
// through Emscripten's `instantiateWasm` hook. No global is patched.
//
// The two imports below are copies of onnxruntime-web/dist/ort-wasm-simd-threaded.{mjs,wasm} made by
// vendor.mjs (npm run dev and the worker tests run it); they are not committed.
import ortWasmFactory from './ort-wasm-simd-threaded.mjs';
import ortWasmModule from './ort-wasm-simd-threaded.wasm';

/** The wasm linear memory of the last instance (for heap measurements); see ../runtime.ts wasmHeapBytes. */
let memory;
/** Milliseconds WebAssembly.instantiate took for the last instance (cold-start breakdown, npm run bench). */
let instantiateMs;

export function wasmMemory() {
  return memory;
}

export function wasmInstantiateMs() {
  return instantiateMs;
}

function findMemory(instance, imports) {
  for (const value of Object.values(instance.exports)) {
    if (value instanceof WebAssembly.Memory) return value;
  }
  for (const group of Object.values(imports)) {
    for (const value of Object.values(group)) {
      if (value instanceof WebAssembly.Memory) return value;
    }
  }
  return undefined;
}

export default function createOrtWasmModule(config) {
  return ortWasmFactory({
    ...config,
    instantiateWasm(imports, receiveInstance) {
      const started = performance.now();
      WebAssembly.instantiate(ortWasmModule, imports).then(
        (instance) => {
          instantiateMs = performance.now() - started;
          memory = findMemory(instance, imports);
          receiveInstance(instance, ortWasmModule);
        },
        (error) => {
          console.error('onnxruntime-web: wasm instantiation failed', error);
          throw error;
        },
      );
      return {}; // asynchronous instantiation (Emscripten convention)
    },
  });
}
