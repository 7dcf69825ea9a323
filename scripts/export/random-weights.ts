/**
 * Deterministic random parameters for fixtures and tests: each parameter is a pure function of
 * (seed, name), drawn from the diffusion core's counter-based Gaussian generator.
 */
import { gaussianNoise } from '../../src/diffusion/noise.ts';
import type { ParamSource } from '../model/ops-onnx.ts';

/** FNV-1a over the name: the generator stream of one parameter. */
function nameStream(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/**
 * Random weights in the canonical layouts: fan-in scaled kernels (so activations stay O(1)), small
 * biases, gamma around 1 (zero-initialised layers get random weights too, so every path matters).
 */
export function randomParams(seed: number): ParamSource {
  return (name, shape) => {
    const size = shape.reduce((a, c) => a * c, 1);
    const z = gaussianNoise(seed, nameStream(name), new Float32Array(size));
    const suffix = name.slice(name.lastIndexOf('/') + 1);
    const fanIn = shape.length > 1 ? size / shape[shape.length - 1] : 1;
    const scale: Record<string, [number, number]> = {
      kernel: [1 / Math.sqrt(fanIn), 0],
      bias: [0.05, 0],
      gamma: [0.1, 1],
      beta: [0.1, 0],
      table: [0.5, 0],
    };
    const [s, m] = scale[suffix] ?? [0.1, 0];
    return z.map((v) => m + s * v);
  };
}

/** All parameters of a definition, materialised (e.g. to write a checkpoint-like weights map). */
export function materialise(
  params: readonly { name: string; shape: number[] }[],
  source: ParamSource,
): Map<string, { shape: number[]; data: Float32Array }> {
  return new Map(params.map((p) => [p.name, { shape: p.shape, data: source(p.name, p.shape) }]));
}
