/**
 * TensorFlow.js backend selection: @tensorflow/tfjs-node-gpu if it loads, else @tensorflow/tfjs-node,
 * else @tensorflow/tfjs-backend-wasm (SIMD), else the pure-JS cpu backend. The native packages are never
 * dependencies of the project (their install downloads libtensorflow); they are loaded by name inside
 * try/catch, so a missing or broken install only costs a line in the log.
 */
import * as tf from '@tensorflow/tfjs';
import '../lib/tfjs-quiet.ts';
import { prepareWasmGemm } from '../model/wasm-kernel-grad.ts';

export type BackendRequest = 'auto' | 'tfjs-node-gpu' | 'tfjs-node' | 'wasm' | 'cpu';
export const BACKEND_REQUESTS: readonly BackendRequest[] = ['auto', 'tfjs-node-gpu', 'tfjs-node', 'wasm', 'cpu'];

export interface BackendChoice {
  /** What was picked. */
  name: Exclude<BackendRequest, 'auto'>;
  /** The tfjs backend name (tf.getBackend()). */
  tfBackend: string;
  /** Native TensorFlow: multithreaded, every gradient kernel present. */
  native: boolean;
  /** wasm only: SIMD available. */
  simd?: boolean;
  /** One line per candidate tried, in order, e.g. "tfjs-node: not installed (Cannot find package ...)". */
  log: string[];
}

function firstLine(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.split('\n')[0].slice(0, 200);
}

/** Load a package by a name the bundler and type checker do not see (it may be absent). */
async function importOptional(name: string): Promise<unknown> {
  return import(/* @vite-ignore */ name);
}

async function tryNative(pkg: 'tfjs-node-gpu' | 'tfjs-node', log: string[]): Promise<BackendChoice | null> {
  try {
    await importOptional(`@tensorflow/${pkg}`);
  } catch (e) {
    log.push(`${pkg}: does not load (${firstLine(e)})`);
    return null;
  }
  try {
    if (!(await tf.setBackend('tensorflow'))) throw new Error('tf.setBackend("tensorflow") returned false');
    await tf.ready();
    log.push(`${pkg}: loaded, using backend "tensorflow"`);
    return { name: pkg, tfBackend: tf.getBackend(), native: true, log };
  } catch (e) {
    log.push(`${pkg}: loaded but the backend failed to start (${firstLine(e)})`);
    return null;
  }
}

interface RefCountingBackend {
  incRef(dataId: tf.DataId): void;
}

/** tfjs-wasm's own Identity kernel, kept so that the zero-copy one can be switched off again. */
let wasmIdentity: tf.KernelConfig | undefined;

/**
 * tfjs-wasm's Identity kernel copies the tensor; the engine runs it for every tensor a gradient saves
 * (tf.clone in saveTensorsForBackwardMode and customGrad's save), i.e. several full-size copies per layer
 * and step. Tensors are immutable, so a clone may share the data (what the cpu backend's Identity does, and
 * what wasm's own Reshape does): one more reference on the same buffer.
 */
export function useZeroCopyIdentity(on = true): void {
  wasmIdentity ??= tf.getKernel('Identity', 'wasm');
  if (wasmIdentity === undefined) throw new Error('the wasm backend has no Identity kernel to replace');
  tf.unregisterKernel('Identity', 'wasm');
  if (!on) {
    tf.registerKernel(wasmIdentity);
    return;
  }
  tf.registerKernel({
    kernelName: 'Identity',
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend }) => {
      const x = inputs.x as tf.TensorInfo;
      (backend as unknown as RefCountingBackend).incRef(x.dataId);
      return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
    },
  });
}

async function tryWasm(log: string[]): Promise<BackendChoice | null> {
  try {
    await import('@tensorflow/tfjs-backend-wasm');
    if (!(await tf.setBackend('wasm'))) throw new Error('tf.setBackend("wasm") returned false');
    await tf.ready();
    useZeroCopyIdentity();
    const simd = Boolean(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'));
    log.push(`wasm: started (SIMD ${simd ? 'on' : 'off'}; one thread per instance)`);
    try {
      log.push(`wasm: ${await prepareWasmGemm()}`);
    } catch (e) {
      log.push(`wasm: weight gradients on XNNPACK per-tap GEMMs (the SIMD kernel did not start: ${firstLine(e)})`);
    }
    return { name: 'wasm', tfBackend: tf.getBackend(), native: false, simd, log };
  } catch (e) {
    log.push(`wasm: failed to start (${firstLine(e)})`);
    return null;
  }
}

async function useCpu(log: string[]): Promise<BackendChoice> {
  await tf.setBackend('cpu');
  await tf.ready();
  log.push('cpu: pure-JS backend (slow; a last resort)');
  return { name: 'cpu', tfBackend: tf.getBackend(), native: false, log };
}

/**
 * Pick and activate a backend. 'auto' walks the fallback chain; a specific request uses that backend or
 * throws with the reason it failed.
 */
export async function selectBackend(request: BackendRequest = 'auto'): Promise<BackendChoice> {
  const log: string[] = [];
  if (request === 'cpu') return useCpu(log);
  const order: Exclude<BackendRequest, 'auto' | 'cpu'>[] = request === 'auto' ? ['tfjs-node-gpu', 'tfjs-node', 'wasm'] : [request];
  for (const name of order) {
    const choice = name === 'wasm' ? await tryWasm(log) : await tryNative(name, log);
    if (choice !== null) return choice;
  }
  if (request !== 'auto') throw new Error(`backend ${request} is not available: ${log.join('; ')}`);
  return useCpu(log);
}

/** One line for the run log: "backend wasm (SIMD on) — tfjs-node-gpu: does not load (...); ...". */
export function describeBackend(c: BackendChoice): string {
  const simd = c.simd === undefined ? '' : ` (SIMD ${c.simd ? 'on' : 'off'})`;
  return `backend ${c.name}${simd}; tried: ${c.log.join('; ')}`;
}
