/**
 * onnxruntime's graph optimizations, applied once by the exporter instead of at every session creation.
 *
 * onnxruntime-node optimizes the int8 graph up to level "extended" (QDQ pairs fused into QLinearConv, constant
 * folding, other fusions) and saves what it would run; the card marks the file `optimized: 'extended'`, and
 * onnxruntime-web (the worker) loads it with its own optimizers off. The outputs are those of the graph the
 * web runtime built before (checked here on every run, at several t and batch sizes), and creating the session
 * skips the optimizer passes, whose code is compiled lazily on a cold start (docs/edge-latency.md, "Cold start").
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createModelSession, graphSpec, saveOptimizedGraph, type GraphSpec } from '../../src/inference/onnx.ts';
import { parseModelCard, type NetworkCard } from '../../src/model-card.ts';
import { isColdCard, parseColdCard } from '../../src/models/cold.ts';
import { inputsFor } from '../bench/inputs.ts';
import { ExportError } from '../model/ops-onnx.ts';

/** Largest |difference| allowed between the optimized and the original graph's outputs (the int8 error is ~1e-2). */
export const OPTIMIZED_MAX_ABS = 1e-3;

/** An export error (the CLI prints its message): the optimized graph does not match, or a file is not the card's. */
export class OptimizeError extends ExportError {}

/** The graph as onnxruntime-node's "extended" optimizations leave it (through a temporary file). */
export async function optimizedBytes(bytes: Uint8Array): Promise<Uint8Array> {
  const dir = await mkdtemp(join(tmpdir(), 'ddpm-edge-optimize-'));
  try {
    const file = join(dir, 'optimized.onnx');
    await saveOptimizedGraph(bytes, file);
    return new Uint8Array(await readFile(file));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Largest |difference| between two graphs' outputs in onnxruntime-web, `original` loaded as before (all
 * optimizations at load) and `optimized` loaded as the worker will load it (none): batches 1 and 3, five t.
 */
export async function optimizedDifference(original: Uint8Array, optimized: Uint8Array, spec: GraphSpec, T: number): Promise<number> {
  const a = await createModelSession(original, spec);
  const b = await createModelSession(optimized, spec, { preOptimized: true });
  try {
    let maxAbs = 0;
    for (const batch of [1, 3])
      for (const t of [0, Math.floor(T / 4), Math.floor(T / 2), Math.floor((3 * T) / 4), T - 1]) {
        const inputs = inputsFor(spec, batch, t);
        if (inputs.classes) inputs.classes.forEach((_, i, c) => (c[i] = i % 10));
        const [ya, yb] = [await a.run(inputs), await b.run(inputs)];
        for (let i = 0; i < ya.length; i++) {
          const d = Math.abs(ya[i] - yb[i]);
          if (!(d <= maxAbs)) maxAbs = Number.isNaN(d) ? Infinity : d;
        }
      }
    return maxAbs;
  } finally {
    await a.release();
    await b.release();
  }
}

/** Optimized bytes checked against the original; throws OptimizeError when they differ by more than OPTIMIZED_MAX_ABS. */
export async function optimizeChecked(bytes: Uint8Array, spec: GraphSpec, T: number): Promise<{ bytes: Uint8Array; maxAbs: number }> {
  const optimized = await optimizedBytes(bytes);
  const maxAbs = await optimizedDifference(bytes, optimized, spec, T);
  if (!(maxAbs <= OPTIMIZED_MAX_ABS)) throw new OptimizeError(`the optimized graph's outputs differ from the original's by up to ${maxAbs} (allowed ${OPTIMIZED_MAX_ABS})`);
  return { bytes: optimized, maxAbs };
}

/**
 * An exported model folder's int8 file, optimized in place: the file and the card (bytes, sha256, `optimized`,
 * exportErrors['int8.optimizedMaxAbs']) are rewritten, the card last. A file already optimized is left alone.
 */
export async function optimizeModelFolder(dir: string, log: (line: string) => void = console.log): Promise<{ card: NetworkCard; maxAbs: number | null }> {
  const cardFile = join(dir, 'model.json');
  const json = JSON.parse(await readFile(cardFile, 'utf8')) as { kind?: string };
  // DDPM and Cold Diffusion cards, each through its own validator
  const [card, T] = isColdCard(json) ? ((c) => [c, c.process.T] as const)(parseColdCard(json)) : ((c) => [c, c.schedule.T] as const)(parseModelCard(json));
  const file = card.files.int8;
  if (file.optimized !== undefined) {
    log(`${dir}: ${file.path} is already optimized (${file.optimized}); nothing to do`);
    return { card, maxAbs: null };
  }
  const path = join(dir, file.path);
  const bytes = new Uint8Array(await readFile(path));
  const sha = createHash('sha256').update(bytes).digest('hex');
  if (sha !== file.sha256) throw new OptimizeError(`${path}: sha256 ${sha} differs from model.json's ${file.sha256}`);
  const { bytes: optimized, maxAbs } = await optimizeChecked(bytes, graphSpec(card), T);
  const next = {
    ...json,
    files: { ...card.files, int8: { path: file.path, bytes: optimized.length, sha256: createHash('sha256').update(optimized).digest('hex'), optimized: 'extended' } },
    exportErrors: { ...(json as { exportErrors?: Record<string, number> }).exportErrors, 'int8.optimizedMaxAbs': Number(maxAbs.toPrecision(3)) },
  };
  await writeFile(`${path}.tmp`, optimized);
  await writeFile(`${cardFile}.tmp`, `${JSON.stringify(next, null, 2)}\n`);
  await rename(`${path}.tmp`, path);
  await rename(`${cardFile}.tmp`, cardFile);
  log(`${dir}: ${file.path} optimized (${bytes.length} -> ${optimized.length} bytes), outputs within ${maxAbs.toExponential(2)} of the original's`);
  return { card: isColdCard(json) ? parseColdCard(next) : parseModelCard(next), maxAbs };
}
