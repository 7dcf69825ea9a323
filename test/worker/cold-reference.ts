// Cold Diffusion cases the worker tests compare with Node (global-setup.ts computes them there): degradations
// (the same bits in Node and workerd) and the cold fixture's PNGs (a sample and a restoration).
import { DEFAULT_BLUR, DEFAULT_MASK, type ColdProcess } from '../../src/cold/index.ts';
import { encodePng } from '../../src/image/index.ts';
import type { ColdSampleParams, RestoreParams } from '../../src/render/cold.ts';

export const COLD_SIZE = 16;

export interface DegradationCase {
  process: ColdProcess;
  levels: number[];
  centres?: number[];
}

export const DEGRADATION_CASES: readonly DegradationCase[] = [
  { process: DEFAULT_BLUR, levels: [0, 1, 10, 20] },
  { process: { ...DEFAULT_BLUR, routine: 'incremental', std: 0.4, padding: 'reflect', kernelSize: 7 }, levels: [3, 20, 0, 7] },
  { process: DEFAULT_MASK, levels: [1, 25, 50, 0], centres: [7, 7, -1, 3, 15, 15, 0, 9] },
];

/** Four deterministic 16x16 gray images in [-1, 1], [4, 1, 16, 16]. */
export function degradationInput(): Float32Array {
  return Float32Array.from({ length: 4 * COLD_SIZE * COLD_SIZE }, (_, i) => Math.sin(i * 0.21) * 0.7 + Math.cos(i * 0.037) * 0.25);
}

export const COLD_SAMPLE = { seed: 3, query: 'algorithm=2&scale=2', params: { algorithm: 2, noise: 0.002, scale: 2 } satisfies ColdSampleParams };

export const COLD_RESTORE = { query: 't=7&input=clean&scale=2', params: { t: 7, algorithm: 2, input: 'clean', centre: null, scale: 2 } satisfies RestoreParams };

/** The restoration's input: a 16x16 gray PNG of a bright bar on a dark ground. */
export function restoreInputPng(): Uint8Array<ArrayBuffer> {
  const data = new Uint8Array(COLD_SIZE * COLD_SIZE);
  for (let r = 0; r < COLD_SIZE; r++) for (let c = 0; c < COLD_SIZE; c++) data[r * COLD_SIZE + c] = c >= 6 && c <= 9 && r >= 2 && r <= 13 ? 230 : 20 + r;
  return encodePng({ width: COLD_SIZE, height: COLD_SIZE, channels: 1, data });
}

export interface ColdNodeReference {
  /** base64 of the Float32Array bytes of D(x, levels) per DEGRADATION_CASES entry, computed in Node. */
  degradations: string[];
  /** base64 PNGs of the cold fixture, rendered in Node with onnxruntime-web. */
  sample: string;
  restore: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    coldNodeReference: ColdNodeReference;
  }
}
