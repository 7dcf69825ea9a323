/**
 * The native peer as an AVX2-only x86-64 machine runs it, on this machine: onnxruntime-node (MLAS) picks its
 * kernels from cpuid once, when the library starts, and on a CPU with AVX-512 VNNI its int8 convolutions run
 * `vpdpbusds` on 512-bit registers, 64 multiply-adds per instruction, where wasm SIMD has 128-bit vectors and no
 * 8-bit dot product. To tell that part of the gap from the rest, the bench can also time onnxruntime-node under gdb
 * with AVX-512 and VNNI hidden from its cpuid answers (scripts/bench/cpuid-mask.py): the same library, graph and
 * CPU, with the kernels of an AVX2 machine. x86-64 Linux only; needs gdb and objdump (Debian: gdb, binutils).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { ForwardRow, Precision } from './forward-node.ts';
import type { TimingOptions } from './timing.ts';

const HERE = import.meta.dirname;

/** What the gdb script reports at exit: the libraries it masked and how many cpuid answers it changed. */
export interface CpuidMaskReport {
  libraries: string[];
  leaf7_0: number;
  leaf7_1: number;
  other: number;
}

/** Offsets of the `cpuid` instructions in `objdump -d --no-show-raw-insn` output. */
export function parseCpuidSites(disassembly: string): number[] {
  const sites: number[] = [];
  for (const m of disassembly.matchAll(/^\s*([0-9a-f]+):\s+cpuid\s*$/gm)) sites.push(parseInt(m[1], 16));
  return sites;
}

/** The address of .text in `objdump -h` output (the library's load base is its runtime address minus this). */
export function parseTextVma(headers: string): number {
  const m = /^\s*\d+\s+\.text\s+[0-9a-f]+\s+([0-9a-f]+)\s/m.exec(headers);
  if (!m) throw new Error('objdump -h: no .text section');
  return parseInt(m[1], 16);
}

/** The child's stdout: its rows and the mask's report, or an error that says which is missing. */
export function parseMaskedRun(stdout: string): { rows: ForwardRow[]; mask: CpuidMaskReport } {
  const rows = /^rows: (.*)$/m.exec(stdout);
  const mask = /^cpuid-mask: (.*)$/m.exec(stdout);
  if (!mask) throw new Error('the gdb mask script did not report (did gdb run it?)');
  const report = JSON.parse(mask[1]) as CpuidMaskReport;
  if (report.libraries.length === 0) throw new Error('the cpuid mask did not reach libonnxruntime (not loaded under gdb?)');
  if (report.leaf7_0 === 0) throw new Error("the cpuid mask changed no leaf-7 answer: onnxruntime's feature checks ran unmasked");
  if (!rows) throw new Error('the native child printed no timings');
  const parsed = (JSON.parse(rows[1]) as ForwardRow[]).map((r) => ({ ...r, runtime: 'native-avx2' as const }));
  return { rows: parsed, mask: { libraries: report.libraries, leaf7_0: report.leaf7_0, leaf7_1: report.leaf7_1, other: report.other } };
}

/** onnxruntime-node's shared library for this platform. */
export function nativeLibrary(): string {
  const pkg = dirname(createRequire(import.meta.url).resolve('onnxruntime-node/package.json'));
  return join(pkg, 'bin', 'napi-v6', process.platform, process.arch, 'libonnxruntime.so.1');
}

/** Why the AVX2 peer cannot run here, or undefined when it can. */
export function avx2PeerUnavailable(): string | undefined {
  if (process.platform !== 'linux' || process.arch !== 'x64') return `x86-64 Linux only (this is ${process.platform}/${process.arch})`;
  for (const tool of ['gdb', 'objdump']) {
    try {
      execFileSync(tool, ['--version'], { stdio: 'ignore' });
    } catch {
      return `${tool} not found (Debian: apt-get install -y gdb binutils)`;
    }
  }
  // a container without ptrace lets gdb start but not run a program under it
  const probe = spawnSync('gdb', ['-q', '-nx', '-batch', '-ex', 'run', '--args', process.execPath, '-e', 'process.stdout.write("ran")'], { encoding: 'utf8', timeout: 60_000 });
  if (!probe.stdout?.includes('ran')) return `gdb cannot run a program here (${(probe.stderr ?? '').trim().split('\n')[0] || `exit ${probe.status}`})`;
  return undefined;
}

/**
 * Times onnxruntime-node's forwards of `modelDir`'s graph with AVX-512 and VNNI hidden, in a child process under gdb.
 * Throws when the mask did not take (no leaf-7 answer changed), so a row labelled AVX2 is never the native one.
 */
export function timeNativeAvx2(modelDir: string, precision: Precision, batches: readonly number[], timing: TimingOptions, timeoutMs = 300_000): { rows: ForwardRow[]; mask: CpuidMaskReport } {
  const lib = nativeLibrary();
  const sites = parseCpuidSites(execFileSync('objdump', ['-d', '--no-show-raw-insn', lib], { maxBuffer: 1 << 30 }).toString());
  const textVma = parseTextVma(execFileSync('objdump', ['-h', lib]).toString());
  if (sites.length === 0) throw new Error(`no cpuid instruction found in ${lib}`);
  const dir = mkdtempSync(join(tmpdir(), 'ddpm-cpuid-'));
  const sitesFile = join(dir, 'sites.txt');
  writeFileSync(sitesFile, sites.map((s) => s.toString(16)).join('\n'));
  const args = ['-q', '-nx', '-batch', '-x', join(HERE, 'cpuid-mask.py'), '-ex', 'handle all nostop noprint pass', '-ex', 'run', '--args',
    process.execPath, '--import', 'tsx', join(HERE, 'native-child.ts'), modelDir, precision, batches.join(','), JSON.stringify(timing)];
  try {
    // one child at a time, nothing else running meanwhile: waiting for it synchronously is all the bench needs
    const child = spawnSync('gdb', args, { env: { ...process.env, DDPM_CPUID_SITES: sitesFile, DDPM_TEXT_VMA: textVma.toString(16) }, encoding: 'utf8', timeout: timeoutMs, maxBuffer: 1 << 26 });
    const stdout = child.stdout ?? '';
    const stderr = child.stderr ?? '';
    try {
      return parseMaskedRun(stdout);
    } catch (e) {
      const tail = (stderr + stdout).trim().split('\n').slice(-6).join('\n');
      throw new Error(`native peer with AVX-512 hidden (gdb ${child.error ? child.error.message : `exit ${child.status}`}): ${(e as Error).message}\n${tail}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
