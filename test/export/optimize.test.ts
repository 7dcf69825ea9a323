// Graphs saved already optimized by onnxruntime-node (scripts/export/optimize.ts): the exporter's step, the
// in-place tool (`npm run export -- --optimize <dir>`), the card's `optimized` flag and how sessions load it.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { cp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createModelSession, fileSessionOptions, graphSpec } from '../../src/inference/onnx.ts';
import { parseModelCard, type ModelCard } from '../../src/model-card.ts';
import { decodeModel } from '../../scripts/model/onnx-graph.ts';
import { OPTIMIZED_MAX_ABS, OptimizeError, optimizedDifference, optimizeModelFolder } from '../../scripts/export/optimize.ts';
import { FIXTURE_NAME } from '../../scripts/export/fixture.ts';
import { SERVED_MODELS } from '../../src/models/served.ts';
import { tempDir } from './helpers.ts';

const ROOT = path.join(import.meta.dirname, '..', '..');
const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
const ops = (bytes: Uint8Array): string[] => decodeModel(bytes).graph!.node!.map((n) => n.opType!);

async function fixtureCopy(): Promise<string> {
  const dir = path.join(await tempDir('optimize'), FIXTURE_NAME);
  await cp(path.join(ROOT, 'models', FIXTURE_NAME), dir, { recursive: true });
  return dir;
}

describe('optimized int8 graphs', () => {
  it('--optimize <dir> rewrites the int8 file and its card entry; the outputs stay within the bound; a second run changes nothing', async () => {
    const dir = await fixtureCopy();
    const before = new Uint8Array(await readFile(path.join(dir, 'unet.int8.onnx')));
    const lines: string[] = [];
    const { maxAbs } = await optimizeModelFolder(dir, (l) => lines.push(l));
    const card = parseModelCard(JSON.parse(await readFile(path.join(dir, 'model.json'), 'utf8')));
    const after = new Uint8Array(await readFile(path.join(dir, 'unet.int8.onnx')));
    expect(card.files.int8).toEqual({ path: 'unet.int8.onnx', bytes: after.length, sha256: sha256(after), optimized: 'extended' });
    expect(card.exportErrors?.['int8.optimizedMaxAbs']).toBeLessThanOrEqual(OPTIMIZED_MAX_ABS);
    expect(maxAbs).not.toBeNull();
    expect(lines.join('\n')).toMatch(/optimized \(\d+ -> \d+ bytes\), outputs within/);
    // the QDQ pairs are fused already: the file holds QLinearConv, which the quantized graph does not
    expect(ops(before)).not.toContain('QLinearConv');
    expect(ops(after)).toContain('QLinearConv');
    // independently of the tool's own check: the two graphs as each is loaded agree
    expect(await optimizedDifference(before, after, graphSpec(card), 1000)).toBeLessThanOrEqual(OPTIMIZED_MAX_ABS);
    // and the web runtime runs it as the card says (optimizers off)
    const s = await createModelSession(after, graphSpec(card), fileSessionOptions(card.files.int8));
    const out = await s.run({ x: new Float32Array(card.imageSize ** 2 * card.channels), t: Int32Array.of(500), classes: Int32Array.of(3) });
    expect(out.every(Number.isFinite)).toBe(true);
    await s.release();

    const again = await optimizeModelFolder(dir, (l) => lines.push(l));
    expect(again.maxAbs).toBeNull();
    expect(lines.at(-1)).toMatch(/already optimized/);
    expect(sha256(new Uint8Array(await readFile(path.join(dir, 'unet.int8.onnx'))))).toBe(card.files.int8.sha256);
    expect((await readdir(dir)).sort()).toEqual(['model.json', 'unet.int8.onnx', 'unet.onnx']); // no temp files left
    await rm(path.dirname(dir), { recursive: true });
  });

  it('refuses an int8 file that is not the card\'s, and leaves the folder as it was', async () => {
    const dir = await fixtureCopy();
    const file = path.join(dir, 'unet.int8.onnx');
    const bytes = await readFile(file);
    bytes[bytes.length - 1] ^= 1;
    await writeFile(file, bytes);
    const card = await readFile(path.join(dir, 'model.json'), 'utf8');
    await expect(optimizeModelFolder(dir, () => {})).rejects.toThrow(OptimizeError);
    await expect(optimizeModelFolder(dir, () => {})).rejects.toThrow(/sha256 [0-9a-f]{64} differs from model.json's/);
    expect(await readFile(path.join(dir, 'model.json'), 'utf8')).toBe(card);
    expect(Buffer.compare(await readFile(file), bytes)).toBe(0);
    await rm(path.dirname(dir), { recursive: true });
  });

  it('the card accepts only the level the exporter writes', () => {
    const card = parseModelCard(JSON.parse(readFileSync(path.join(ROOT, 'models', FIXTURE_NAME, 'model.json'), 'utf8')));
    expect(() => parseModelCard({ ...card, files: { ...card.files, int8: { ...card.files.int8, optimized: 'all' } } })).toThrow(/files\.int8\.optimized/);
    expect(parseModelCard({ ...card, files: { ...card.files, int8: { ...card.files.int8, optimized: 'extended' } } }).files.int8.optimized).toBe('extended');
    expect(fileSessionOptions(card.files.int8)).toEqual({});
    expect(fileSessionOptions({ optimized: 'extended' })).toEqual({ preOptimized: true });
  });

  it('every served model ships its int8 graph optimized (the cold-start figure rests on it)', async () => {
    const served = SERVED_MODELS.map((m) => m.name).filter((n) => n !== FIXTURE_NAME);
    expect(served.length).toBeGreaterThan(1);
    for (const name of served) {
      const card = JSON.parse(await readFile(path.join(ROOT, 'models', name, 'model.json'), 'utf8')) as ModelCard;
      expect(card.files.int8.optimized, name).toBe('extended');
      expect(card.exportErrors?.['int8.optimizedMaxAbs'], name).toBeLessThanOrEqual(OPTIMIZED_MAX_ABS);
    }
  });
});
