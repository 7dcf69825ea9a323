// Requests whose PNGs the worker tests compare with the same sampler run in Node (global-setup.ts), and the
// type of what Node hands over (vitest provide/inject).
import type { RenderKind, RenderParams } from '../../src/render/params.ts';

export interface ReferenceCase {
  kind: RenderKind;
  seed: number;
  /** The query string the worker is asked with... */
  query: string;
  /** ...and the parameters it must resolve to (written out, so query parsing is checked too). */
  params: RenderParams;
}

export const REFERENCE_CASES: readonly ReferenceCase[] = [
  {
    kind: 'sample',
    seed: 42,
    query: 'sampler=ddim&steps=12&eta=0.5&class=3&guidance=2.5&scale=2',
    params: { sampler: 'ddim', steps: 12, eta: 0.5, clip: true, classId: 3, guidance: 2.5, scale: 2, n: 1 },
  },
  {
    kind: 'grid',
    seed: 7,
    query: 'n=6&sampler=dpmpp2m&steps=10',
    params: { sampler: 'dpmpp2m', steps: 10, eta: 0, clip: true, classId: null, guidance: 1, scale: 1, n: 6 },
  },
  {
    kind: 'sample',
    seed: 9007199254740991,
    query: 'sampler=ddpm&steps=15&clip=false&class=class-9',
    params: { sampler: 'ddpm', steps: 15, eta: 0, clip: false, classId: 9, guidance: 1, scale: 1, n: 1 },
  },
  {
    kind: 'grid',
    seed: 11,
    query: 'n=3&sampler=unipc&steps=8&class=4&guidance=3&guidance_interval=300,800',
    params: { sampler: 'unipc', steps: 8, eta: 0, clip: true, classId: 4, guidance: 3, guidanceInterval: { tLow: 300, tHigh: 800 }, scale: 1, n: 3 },
  },
];

export interface NodeReference {
  model: string;
  /** base64 PNG per REFERENCE_CASES entry, rendered in Node with onnxruntime-web. */
  pngs: string[];
}

declare module 'vitest' {
  export interface ProvidedContext {
    nodeReference: NodeReference;
  }
}
