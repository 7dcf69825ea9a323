import { DiffusionOptionError } from './errors.ts';

/**
 * Seeded, counter-based Gaussian noise: Philox4x32-10 (Salmon et al. 2011) keyed by the seed, with the
 * counter (element block, stream), then Box-Muller. Value i of stream s of seed k is a pure function of
 * (k, s, i): no state, so the noise of image k never depends on the batch, and Node and workerd (same
 * V8 Math.log/cos/sin, from fdlibm) give bit-identical values.
 *
 * Streams used by the sampling loop: 0 for x_T, 1 + step index for the noise a stochastic step adds.
 */

const PHILOX_M0 = 0xd2511f53;
const PHILOX_M1 = 0xcd9e8d57;
const PHILOX_W0 = 0x9e3779b9;
const PHILOX_W1 = 0xbb67ae85;
const TWO_POW_32 = 4294967296;

export const MAX_SEED = Number.MAX_SAFE_INTEGER;

/** High 32 bits of the 64-bit product of two uint32. */
function mulhi(a: number, b: number): number {
  const aH = a >>> 16;
  const aL = a & 0xffff;
  const bH = b >>> 16;
  const bL = b & 0xffff;
  const lh = aL * bH;
  const hl = aH * bL;
  const mid = ((aL * bL) >>> 16) + (lh & 0xffff) + (hl & 0xffff);
  return (aH * bH + (lh >>> 16) + (hl >>> 16) + (mid >>> 16)) >>> 0;
}

/** Philox4x32-10 of counter (c0..c3) and key (k0, k1), written into out[0..3]. */
export function philox4x32(c0: number, c1: number, c2: number, c3: number, k0: number, k1: number, out: Uint32Array): void {
  for (let r = 0; r < 10; r++) {
    const hi0 = mulhi(PHILOX_M0, c0);
    const lo0 = Math.imul(PHILOX_M0, c0) >>> 0;
    const hi1 = mulhi(PHILOX_M1, c2);
    const lo1 = Math.imul(PHILOX_M1, c2) >>> 0;
    c0 = (hi1 ^ c1 ^ k0) >>> 0;
    c1 = lo1;
    c2 = (hi0 ^ c3 ^ k1) >>> 0;
    c3 = lo0;
    k0 = (k0 + PHILOX_W0) >>> 0;
    k1 = (k1 + PHILOX_W1) >>> 0;
  }
  out[0] = c0;
  out[1] = c1;
  out[2] = c2;
  out[3] = c3;
}

export function checkSeed(seed: number, option = 'seed'): number {
  if (!Number.isSafeInteger(seed) || seed < 0) {
    throw new DiffusionOptionError(option, `must be an integer in [0, ${MAX_SEED}] (got ${seed})`);
  }
  return seed;
}

function seedWords(seed: number): [number, number] {
  return [seed % TWO_POW_32 >>> 0, Math.floor(seed / TWO_POW_32) >>> 0];
}

/**
 * Fills `out` with standard normal values number offset.. offset+out.length-1 of stream `stream` of `seed`.
 * Values come in blocks of four (one Philox call, two Box-Muller pairs).
 */
export function gaussianNoise(seed: number, stream: number, out: Float32Array, offset = 0): Float32Array {
  checkSeed(seed);
  if (!Number.isInteger(stream) || stream < 0 || stream >= TWO_POW_32) {
    throw new DiffusionOptionError('stream', `must be an integer in [0, ${TWO_POW_32 - 1}] (got ${stream})`);
  }
  const [k0, k1] = seedWords(seed);
  const words = new Uint32Array(4);
  const n = out.length;
  let i = 0;
  while (i < n) {
    const index = offset + i;
    const block = Math.floor(index / 4);
    philox4x32(block % TWO_POW_32 >>> 0, Math.floor(block / TWO_POW_32) >>> 0, stream, 0, k0, k1, words);
    // uniforms in (0, 1): never 0, so log is finite
    const u0 = (words[0] + 0.5) / TWO_POW_32;
    const u1 = (words[1] + 0.5) / TWO_POW_32;
    const u2 = (words[2] + 0.5) / TWO_POW_32;
    const u3 = (words[3] + 0.5) / TWO_POW_32;
    const r0 = Math.sqrt(-2 * Math.log(u0));
    const r1 = Math.sqrt(-2 * Math.log(u2));
    const a0 = 2 * Math.PI * u1;
    const a1 = 2 * Math.PI * u3;
    const z0 = r0 * Math.cos(a0);
    const z1 = r0 * Math.sin(a0);
    const z2 = r1 * Math.cos(a1);
    const z3 = r1 * Math.sin(a1);
    for (let j = index % 4; j < 4 && i < n; j++, i++) {
      out[i] = j === 0 ? z0 : j === 1 ? z1 : j === 2 ? z2 : z3;
    }
  }
  return out;
}

/** The per-image seed of image k of a grid or batch with seed `seed`: a Philox hash into [0, 2^53). */
export function deriveSeed(seed: number, k: number): number {
  checkSeed(seed);
  if (!Number.isInteger(k) || k < 0 || k >= TWO_POW_32) {
    throw new DiffusionOptionError('k', `must be an integer in [0, ${TWO_POW_32 - 1}] (got ${k})`);
  }
  const [k0, k1] = seedWords(seed);
  const words = new Uint32Array(4);
  // a counter no noise stream uses (c3 = 1; noise streams use c3 = 0)
  philox4x32(k, 0, 0, 1, k0, k1, words);
  return (words[0] & 0x1fffff) * TWO_POW_32 + words[1];
}
