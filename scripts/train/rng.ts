/**
 * Seeded, counter-based randomness for training. Every random quantity of step s is drawn from a stream
 * keyed by (seed, purpose, step, ...), so a step's randomness is a pure function of (seed, step): a resumed
 * run draws exactly what the uninterrupted run would have, with no generator state to save.
 */

/** 32-bit integer hash (murmur3 finalizer over a combined key). */
function mix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Hash a list of integers (or strings) into one 32-bit key. */
export function hashKey(...parts: (number | string)[]): number {
  let h = 0x9e3779b9;
  for (const p of parts) {
    if (typeof p === 'string') {
      for (let i = 0; i < p.length; i++) h = mix32(h ^ Math.imul(p.charCodeAt(i) + 1, 0x27d4eb2f));
      h = mix32(h ^ 0xabcdef);
    } else {
      // numbers up to 2^53: fold the high and low words
      const lo = p >>> 0;
      const hi = Math.floor(p / 4294967296) >>> 0;
      h = mix32(h ^ lo);
      h = mix32((h + Math.imul(hi, 0x165667b1)) >>> 0);
    }
  }
  return h;
}

/** sfc32: a fast 32-bit generator with good statistical quality; seeded from a key. */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  private spare: number | null = null;

  constructor(key: number) {
    this.a = mix32(key ^ 0x243f6a88);
    this.b = mix32(key ^ 0x85a308d3);
    this.c = mix32(key ^ 0x13198a2e);
    this.d = 1;
    for (let i = 0; i < 12; i++) this.nextU32();
  }

  static of(...parts: (number | string)[]): Rng {
    return new Rng(hashKey(...parts));
  }

  nextU32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /**
   * Dropout mask: out[i] = scale where the next u32 >= threshold, else 0 (the same draws as nextU32 in a
   * loop; the generator state lives in locals here, several times faster for millions of values).
   */
  fillMask(out: Float32Array, threshold: number, scale: number): Float32Array {
    let a = this.a;
    let b = this.b;
    let c = this.c;
    let d = this.d;
    for (let i = 0; i < out.length; i++) {
      const t = (((a + b) | 0) + d) | 0;
      d = (d + 1) | 0;
      a = b ^ (b >>> 9);
      b = (c + (c << 3)) | 0;
      c = (c << 21) | (c >>> 11);
      c = (c + t) | 0;
      out[i] = t >>> 0 >= threshold ? scale : 0;
    }
    this.a = a;
    this.b = b;
    this.c = c;
    this.d = d;
    return out;
  }

  /** Uniform in [0, 1). */
  uniform(): number {
    return this.nextU32() / 4294967296;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }

  /** Standard normal (Box-Muller, both values used). */
  normal(): number {
    if (this.spare !== null) {
      const s = this.spare;
      this.spare = null;
      return s;
    }
    let u = this.uniform();
    if (u < 1e-300) u = 1e-300;
    const v = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  fillNormal(out: Float32Array, std = 1): Float32Array {
    for (let i = 0; i < out.length; i++) out[i] = this.normal() * std;
    return out;
  }

  /** A random permutation of 0..n-1 (Fisher-Yates). */
  permutation(n: number): Uint32Array {
    const p = new Uint32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = p[i];
      p[i] = p[j];
      p[j] = t;
    }
    return p;
  }
}
