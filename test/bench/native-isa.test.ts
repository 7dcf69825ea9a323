// The native peer with AVX-512 hidden (scripts/bench/native-isa.ts, cpuid-mask.py): the parsers, the refusals that
// keep a row labelled AVX2 from being the unmasked one, and, where gdb and objdump are installed, a real masked run.
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { avx2PeerUnavailable, parseCpuidSites, parseMaskedRun, parseTextVma, timeNativeAvx2 } from '../../scripts/bench/native-isa.ts';

const ROOT = join(import.meta.dirname, '../..');

describe('native peer with AVX-512 hidden: parsers', () => {
  it('finds the cpuid instructions in a disassembly, and nothing that merely names cpuid', () => {
    const text = [
      '0000000000b8d5c0 <.text+0xa4f9c0>:',
      '  b8d5e5:\txor    %ecx,%ecx',
      '  b8d5ea:\tcpuid',
      '  b8d5ec:\tmov    %ebx,%esi',
      ' 16aba0e:\tcpuid  ',
      '  b8d600:\tcall   1cc59a0 <cpuid_info>',
      '  b8d605:\tlea    0x10(%rip),%rdi        # cpuid',
    ].join('\n');
    expect(parseCpuidSites(text)).toEqual([0xb8d5ea, 0x16aba0e]);
  });

  it("reads .text's address from objdump -h and refuses headers without one", () => {
    const headers = [
      'Idx Name          Size      VMA               LMA               File off  Algn',
      ' 10 .plt.got      00000008  000000000013dbf0  000000000013dbf0  0013dbf0  2**3',
      ' 11 .text         0228a7b4  000000000013dc00  000000000013dc00  0013dc00  2**6',
      '                  CONTENTS, ALLOC, LOAD, READONLY, CODE',
    ].join('\n');
    expect(parseTextVma(headers)).toBe(0x13dc00);
    expect(() => parseTextVma(' 12 .data 0010 0000000000001000 0000000000001000 00001000 2**3')).toThrow(/no \.text/);
  });

  const rows = JSON.stringify([{ runtime: 'native', precision: 'int8', batch: 1, timing: { medianMs: 1.5, minMs: 1.4, runs: 90, blocks: 9 } }]);
  const report = (r: object): string => `cpuid-mask: ${JSON.stringify({ libraries: ['/x/libonnxruntime.so.1'], leaf7_0: 3, leaf7_1: 3, other: 27, ...r })}`;

  it("relabels the child's rows as the AVX2 peer and keeps the mask's counts", () => {
    const out = parseMaskedRun(`noise\nrows: ${rows}\n${report({})}\n`);
    expect(out.rows).toEqual([{ runtime: 'native-avx2', precision: 'int8', batch: 1, timing: { medianMs: 1.5, minMs: 1.4, runs: 90, blocks: 9 } }]);
    expect(out.mask).toEqual({ libraries: ['/x/libonnxruntime.so.1'], leaf7_0: 3, leaf7_1: 3, other: 27 });
  });

  it('refuses a run the mask did not reach, or that gave no timings', () => {
    expect(() => parseMaskedRun(`rows: ${rows}\n`)).toThrow(/did not report/);
    expect(() => parseMaskedRun(`rows: ${rows}\n${report({ libraries: [] })}`)).toThrow(/did not reach libonnxruntime/);
    expect(() => parseMaskedRun(`rows: ${rows}\n${report({ leaf7_0: 0 })}`)).toThrow(/no leaf-7 answer/);
    expect(() => parseMaskedRun(report({}))).toThrow(/no timings/);
  });
});

const unavailable = avx2PeerUnavailable();
describe.skipIf(unavailable !== undefined)(`native peer with AVX-512 hidden: a real run under gdb${unavailable ? ` (skipped: ${unavailable})` : ''}`, () => {
  it("masks onnxruntime-node's leaf-7 cpuid answers and times its forwards", () => {
    const { rows, mask } = timeNativeAvx2(join(ROOT, 'models/fmnist-tiny'), 'int8', [1], { warmupMs: 20, measureMs: 50, minBlockMs: 5, minBlocks: 3 });
    expect(mask.libraries).toHaveLength(1);
    expect(mask.libraries[0]).toMatch(/libonnxruntime\.so/);
    expect(mask.leaf7_0).toBeGreaterThan(0);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ runtime: 'native-avx2', precision: 'int8', batch: 1 });
    expect(rows[0].timing.minMs).toBeGreaterThan(0);
    expect(rows[0].timing.blocks).toBeGreaterThanOrEqual(3);
  });
});
