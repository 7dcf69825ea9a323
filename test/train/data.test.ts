import { describe, expect, it, beforeAll } from 'vitest';
import { promises as fsp, existsSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import { encode as encodePng } from 'fast-png';
import jpeg from 'jpeg-js';
import { idxBytes } from './fixtures.ts';
import { DatasetError, fashionMnistPaths, loadIdxDataset, loadImageFolder, parseIdx } from '../../scripts/train/data.ts';

let dir = '';
beforeAll(async () => {
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'ddpm-data-'));
});

describe('IDX reader', () => {
  it('reads raw and gzip-compressed IDX files and pads 4x4 images to 8x8', async () => {
    const pixels = Uint8Array.from({ length: 3 * 16 }, (_, i) => (i * 17) % 256);
    pixels[0] = 0;
    pixels[16] = 0;
    pixels[32] = 0;
    await fsp.writeFile(path.join(dir, 'img.idx'), idxBytes([3, 4, 4], pixels));
    await fsp.writeFile(path.join(dir, 'img.idx.gz'), gzipSync(idxBytes([3, 4, 4], pixels)));
    await fsp.writeFile(path.join(dir, 'lab.idx'), idxBytes([3], new Uint8Array([2, 0, 1])));
    for (const f of ['img.idx', 'img.idx.gz']) {
      const ds = await loadIdxDataset(path.join(dir, f), path.join(dir, 'lab.idx'), { size: 8, channels: 1, fit: 'pad' });
      expect(ds.count).toBe(3);
      expect(Array.from(ds.labels ?? [])).toEqual([2, 0, 1]);
      expect(ds.classNames).toEqual(['0', '1', '2']);
      // image 1, source pixel (0, 1) lands at (2, 3)
      expect(ds.pixels[64 + 2 * 8 + 3]).toBe(pixels[16 + 1]);
      expect(ds.pixels[64]).toBe(0);
    }
    const rgb = await loadIdxDataset(path.join(dir, 'img.idx'), undefined, { size: 2, channels: 3, fit: 'resize' });
    expect(rgb.pixels.length).toBe(3 * 2 * 2 * 3);
    expect(rgb.labels).toBeNull();
  });

  it('rejects malformed files with the path, what was expected and what was found', async () => {
    const f1 = path.join(dir, 'magic.idx');
    await fsp.writeFile(f1, new Uint8Array([0x12, 0x34, 0x08, 0x03, 0, 0, 0, 1]));
    await expect(loadIdxDataset(f1, undefined, { size: 8, channels: 1, fit: 'pad' })).rejects.toThrow(/magic\.idx: expected an IDX magic number 0x0000TTNN, found 0x12340803/);
    const f2 = path.join(dir, 'float.idx');
    await fsp.writeFile(f2, new Uint8Array([0, 0, 0x0d, 3, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0]));
    await expect(loadIdxDataset(f2, undefined, { size: 8, channels: 1, fit: 'pad' })).rejects.toThrow(/float\.idx: expected unsigned-byte IDX data \(type 0x08\), found type 0x0d/);
    const f3 = path.join(dir, 'short.idx');
    await fsp.writeFile(f3, idxBytes([2, 4, 4], new Uint8Array(20)));
    await expect(loadIdxDataset(f3, undefined, { size: 8, channels: 1, fit: 'pad' })).rejects.toThrow(/short\.idx: header dimensions \[2, 4, 4\] need 32 data bytes, found 20/);
    const f4 = path.join(dir, 'labels-as-images.idx');
    await fsp.writeFile(f4, idxBytes([3], new Uint8Array(3)));
    await expect(loadIdxDataset(f4, undefined, { size: 8, channels: 1, fit: 'pad' })).rejects.toThrow(/expected 3 dimension\(s\).*found 1/);
    await fsp.writeFile(path.join(dir, 'ok.idx'), idxBytes([3, 4, 4], new Uint8Array(48)));
    await fsp.writeFile(path.join(dir, 'lab2.idx'), idxBytes([2], new Uint8Array(2)));
    await expect(loadIdxDataset(path.join(dir, 'ok.idx'), path.join(dir, 'lab2.idx'), { size: 8, channels: 1, fit: 'pad' })).rejects.toThrow(/lab2\.idx: expected 3 labels .* found 2/);
    const gz = path.join(dir, 'broken.gz');
    await fsp.writeFile(gz, gzipSync(idxBytes([1, 2, 2], new Uint8Array(4))).subarray(0, 15));
    await expect(loadIdxDataset(gz, undefined, { size: 8, channels: 1, fit: 'pad' })).rejects.toThrow(/broken\.gz: gzip data is corrupt/);
    await expect(loadIdxDataset(path.join(dir, 'nope.idx'), undefined, { size: 8, channels: 1, fit: 'pad' })).rejects.toThrow(/nope\.idx: cannot read IDX images \(ENOENT\)/);
    expect(() => parseIdx(new Uint8Array([0, 0]), 'x.idx')).toThrow(DatasetError);
  });

  it.runIf(existsSync(fashionMnistPaths().images))('reads the Fashion-MNIST training set (Debian dataset-fashion-mnist)', async () => {
    const p = fashionMnistPaths();
    const ds = await loadIdxDataset(p.images, p.labels, { size: 32, channels: 1, fit: 'pad', limit: 500 });
    expect(ds.count).toBe(500);
    expect(ds.classNames?.[9]).toBe('Ankle boot');
    expect(Math.max(...Array.from(ds.labels ?? []))).toBeLessThan(10);
    expect(ds.pixels[0]).toBe(0); // padding
  });
});

describe('image folder reader', () => {
  it('reads PNG and JPEG images, class sub-folders as labels, resized and centre-cropped', async () => {
    const root = path.join(dir, 'folder');
    await fsp.mkdir(path.join(root, 'cats'), { recursive: true });
    await fsp.mkdir(path.join(root, 'dogs'), { recursive: true });
    const rgba = new Uint8Array(20 * 10 * 4).map((_, i) => (i % 4 === 3 ? 255 : 200));
    await fsp.writeFile(path.join(root, 'cats', 'a.png'), encodePng({ width: 20, height: 10, data: rgba, channels: 4, depth: 8 }));
    const gray = new Uint8Array(16 * 16).fill(50);
    await fsp.writeFile(path.join(root, 'cats', 'b.png'), encodePng({ width: 16, height: 16, data: gray, channels: 1, depth: 8 }));
    const j = jpeg.encode({ width: 12, height: 12, data: new Uint8Array(12 * 12 * 4).fill(128) }, 95);
    await fsp.writeFile(path.join(root, 'dogs', 'c.jpg'), j.data);
    const ds = await loadImageFolder(root, { size: 8, channels: 3, fit: 'resize' });
    expect(ds.count).toBe(3);
    expect(ds.classNames).toEqual(['cats', 'dogs']);
    expect(Array.from(ds.labels ?? [])).toEqual([0, 0, 1]);
    expect(ds.pixels[0]).toBe(200);
    expect(Math.abs(ds.pixels[2 * 192] - 128)).toBeLessThan(4);
    const g = await loadImageFolder(root, { size: 4, channels: 1, fit: 'resize' });
    expect(g.pixels[16]).toBe(50);
  });

  it('rejects empty folders and corrupt images with clear errors', async () => {
    const empty = path.join(dir, 'empty');
    await fsp.mkdir(empty);
    await fsp.writeFile(path.join(empty, 'notes.txt'), 'x');
    await expect(loadImageFolder(empty, { size: 8, channels: 1, fit: 'resize' })).rejects.toThrow(/empty: expected \.png\/\.jpg\/\.jpeg images .*found none \(entries: notes\.txt\)/);
    const bad = path.join(dir, 'bad');
    await fsp.mkdir(bad);
    await fsp.writeFile(path.join(bad, 'x.png'), new Uint8Array([1, 2, 3, 4]));
    await expect(loadImageFolder(bad, { size: 8, channels: 1, fit: 'resize' })).rejects.toThrow(/x\.png: not a valid PNG/);
    await fsp.writeFile(path.join(bad, 'x.png'), encodePng({ width: 2, height: 2, data: new Uint8Array(4), channels: 1, depth: 8 }));
    await fsp.writeFile(path.join(bad, 'y.jpg'), new Uint8Array([0xff, 0xd8, 0, 0]));
    await expect(loadImageFolder(bad, { size: 8, channels: 1, fit: 'resize' })).rejects.toThrow(/y\.jpg: not a valid JPEG/);
    await expect(loadImageFolder(path.join(dir, 'missing'), { size: 8, channels: 1, fit: 'resize' })).rejects.toThrow(/missing: cannot read the image folder \(ENOENT\)/);
  });
});
