// The PyTorch peer of bench:train (scripts/train/peer.ts): its pure parts, and PeerServer against a stand-in. The peer
// itself (torch) never runs here; with torch, the last block checks that it builds the same parameter count.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createUNet } from '../../scripts/train/model.ts';
import { DEFAULT_UNET, PRESETS } from '../../scripts/train/options.ts';
import {
  findTorchPython,
  formatInterleaveTable,
  formatPeerSummary,
  formatPeerTable,
  oursFirstInRound,
  peerParamCount,
  parsePeerOutput,
  parseProbe,
  PEER_SKIPPED,
  PeerServer,
  pythonCandidates,
  speedRatio,
  summarizeInterleave,
  type InterleaveRound,
} from '../../scripts/train/peer.ts';

describe('PyTorch peer helpers', () => {
  it('probes $DDPM_PYTORCH_PYTHON, then Debian python3, then python3 on PATH, without duplicates', () => {
    expect(pythonCandidates({})).toEqual(['/usr/bin/python3', 'python3']);
    expect(pythonCandidates({ DDPM_PYTORCH_PYTHON: '/opt/venv/bin/python' })).toEqual(['/opt/venv/bin/python', '/usr/bin/python3', 'python3']);
    expect(pythonCandidates({ DDPM_PYTORCH_PYTHON: '/usr/bin/python3' })).toEqual(['/usr/bin/python3', 'python3']);
    expect(pythonCandidates({ DDPM_PYTORCH_PYTHON: ' ' })).toEqual(['/usr/bin/python3', 'python3']);
  });

  it('accepts a probe only when it exited 0 and printed a version', () => {
    expect(parseProbe(0, '1.13.0a0\n')).toBe('1.13.0a0');
    expect(parseProbe(0, 'warning: something\n2.3.1+cpu\n')).toBe('2.3.1+cpu');
    expect(parseProbe(1, '')).toBeNull();
    expect(parseProbe(null, '1.13.0')).toBeNull();
    expect(parseProbe(0, 'ModuleNotFoundError')).toBeNull();
  });

  it('reads the last JSON result line and rejects output without one', () => {
    const line = JSON.stringify({ params: 280177, msPerStep: 500, imagesPerSec: 128, threads: 2, torch: '1.13.0a0', batch: 64, steps: 10 });
    expect(parsePeerOutput(`some log\n${line}\n`)).toEqual({ params: 280177, msPerStep: 500, imagesPerSec: 128, threads: 2, torch: '1.13.0a0' });
    expect(() => parsePeerOutput('Traceback ...\n')).toThrow(/no result line/);
    expect(() => parsePeerOutput('{"params": 1, "msPerStep": 0}')).toThrow(/no result line/);
  });

  it('formats ours / torch, flags a parameter mismatch, and names the install in the skip line', () => {
    expect(speedRatio(64, 128)).toBe(0.5);
    expect(speedRatio(1, 0)).toBeNaN();
    const row = { backend: 'wasm', model: 'tiny', batch: 64, params: 280177, peerParams: 280177, imagesPerSec: 64, peerImagesPerSec: 128 };
    const t = formatPeerTable([row, { ...row, peerParams: 1 }], 2, '1.13.0a0');
    expect(t).toContain('PyTorch 1.13.0a0 peer');
    const [, , same, other] = t.split('\n');
    expect(same).toMatch(/280177\s+280177\s+64\.0\s+128\.0\s+0\.50$/);
    expect(other).toMatch(/PARAM MISMATCH$/);
    expect(PEER_SKIPPED).toMatch(/python3-torch.*DDPM_PYTORCH_PYTHON/);
  });

  it('summarises alternating pairs per cell: median ratio and its range', () => {
    const pair = (ours: number, torch: number, model = 'tiny') => ({ backend: 'wasm', model, batch: 64, params: 1, peerParams: 1, imagesPerSec: ours, peerImagesPerSec: torch });
    const t = formatPeerSummary([pair(40, 100), pair(60, 100), pair(45, 90), pair(30, 100, 'small')]).split('\n');
    expect(t).toHaveLength(4);
    expect(t[2]).toMatch(/^wasm\s+tiny\s+64\s+3\s+45\.0\s+100\.0\s+0\.50 \[0\.40, 0\.60\]$/);
    expect(t[3]).toMatch(/small\s+64\s+1\s+30\.0\s+100\.0\s+0\.30 \[0\.30, 0\.30\]$/);
  });
});

describe('--interleave: rounds, their ratio and its verdict', () => {
  it('alternates who goes first as ours, peer, peer, ours', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 7].map(oursFirstInRound)).toEqual([true, false, false, true, true, false, false, true]);
  });

  // a round where ours takes `ours` ms per step and the peer `peer` ms: ratio = peer / ours
  const round = (ours: number, peer: number, r = 0): InterleaveRound => ({ oursFirst: oursFirstInRound(r), oursMs: [ours, ours], peerMs: [peer * 0.9, peer * 1.1] });

  it('reads the median ratio over rounds with its order-statistic interval, and calls 0.5 met only above the interval', () => {
    const ratios = [0.52, 0.55, 0.6, 0.53, 0.58, 0.54, 0.56, 0.57, 0.59, 0.51, 0.61, 0.62];
    const met = summarizeInterleave(ratios.map((q, r) => round(1000, 1000 * q, r)), 64);
    expect(met.rounds).toBe(12);
    expect(met.stepsPerBlock).toBe(2);
    expect(met.ratio).toBeCloseTo(0.565, 10);
    expect(met.interval[0]).toBeCloseTo(0.53, 10); // 3rd of 12 sorted
    expect(met.interval[1]).toBeCloseTo(0.6, 10); // 10th
    expect(met.verdict).toMatch(/^met/);
    expect(met.oursImagesPerSec).toBeCloseTo(64, 10);
    const under = summarizeInterleave(ratios.map((q, r) => round(1000, 800 * q, r)), 64);
    expect(under.verdict).toMatch(/^not met/);
    const straddles = summarizeInterleave([0.45, 0.47, 0.49, 0.5, 0.51, 0.53, 0.55, 0.48].map((q, r) => round(1000, 1000 * q, r)), 64);
    expect(straddles.verdict).toMatch(/^not resolved/);
    const t = formatInterleaveTable([{ backend: 'wasm', model: 'tiny', batch: 64, summary: met }], 2, '1.13.0a0').split('\n');
    expect(t[3]).toMatch(/^wasm\s+tiny\s+64\s+12 x 2\s+64\.0\s+\d+\.\d\s+0\.565 \[0\.530, 0\.600\]\s+-\s+met/);
    expect(met.oursCpuInPeerBlocks).toBeNull();
    // our process's CPU while the peer ran, over the peer blocks' wall time: 2 x 20 ms over 2 x 2,000 ms = 1%
    const cpu = summarizeInterleave([0, 1, 2, 3, 4, 5].map((r) => ({ ...round(1000, 1000, r), oursCpuDuringPeerMs: r < 2 ? 20 : 0 })), 64);
    expect(cpu.oursCpuInPeerBlocks).toBeCloseTo(40 / 12_000, 12);
    expect(formatInterleaveTable([{ backend: 'wasm', model: 'tiny', batch: 64, summary: cpu }], 2, '1').split('\n')[3]).toContain('0.3% of a core');
    expect(() => summarizeInterleave(ratios.slice(0, 5).map((q) => round(1000, q)), 64)).toThrow(/at least 6/);
  });
});

// PeerServer's requests and failures, against a stand-in for python that speaks the --serve protocol (the real
// peer needs torch and never runs in npm test; every --interleave run exercises it). The stand-in ignores the
// script and its arguments.
describe('PeerServer (the --serve protocol)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'peer-serve-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const standIn = (name: string, body: string): string => {
    const js = join(dir, `${name}.cjs`);
    writeFileSync(js, body);
    const sh = join(dir, name);
    writeFileSync(sh, `#!/bin/sh\nexec "${process.execPath}" "${js}"\n`);
    chmodSync(sh, 0o755);
    return sh;
  };
  const cfg = { ...DEFAULT_UNET, ...PRESETS.tiny, imageSize: 32, numClasses: 0 };
  const serving = standIn(
    'serving',
    `process.stdout.write('torch log line\\n' + JSON.stringify({ ready: true, params: 7, threads: 2, torch: '9.9' }) + '\\n');
     require('node:readline').createInterface({ input: process.stdin }).on('line', (l) => {
       if (l === 'quit') process.exit(0);
       const m = /^run (\\d+)$/.exec(l);
       if (m) console.log(JSON.stringify({ stepMs: Array.from({ length: Number(m[1]) }, (_, i) => 10 + i) }));
       else if (l === 'run 0') console.log('{}');
       else if (l.startsWith('die')) { console.error('RuntimeError: out of memory'); process.exit(3); }
       else console.log(JSON.stringify({ error: 'unknown request ' + l }));
     });`,
  );

  it('starts, answers blocks of steps, and quits', async () => {
    const { server, params, threads, torch } = await PeerServer.start(serving, cfg, { batch: 2, warmup: 1, threads: 2, timeoutMs: 10_000 });
    try {
      expect({ params, threads, torch }).toEqual({ params: 7, threads: 2, torch: '9.9' });
      expect(await server.run(3)).toEqual([10, 11, 12]);
      expect(await server.run(1)).toEqual([10]);
    } finally {
      server.close();
    }
  });

  it('rejects a request after the peer died between blocks, with its stderr', async () => {
    const { server } = await PeerServer.start(serving, cfg, { batch: 2, warmup: 1, threads: 2, timeoutMs: 10_000 });
    await expect(server.run(2)).resolves.toHaveLength(2);
    (server as unknown as { child: { stdin: { write(s: string): void } } }).child.stdin.write('die\n');
    await new Promise((resolve) => setTimeout(resolve, 300));
    await expect(server.run(1)).rejects.toThrow(/exited with 3: RuntimeError: out of memory/);
  });

  it('rejects a peer that exits, with its last stderr lines', async () => {
    const dying = standIn('dying', `console.error('Traceback ...'); console.error('ModuleNotFoundError: No module named torch'); process.exit(1);`);
    await expect(PeerServer.start(dying, cfg, { batch: 2, warmup: 1, threads: 2, timeoutMs: 10_000 })).rejects.toThrow(/exited with 1: .*No module named torch/);
  });

  it('rejects a peer that stays silent past the timeout (and kills it)', async () => {
    const silent = standIn('silent', `setTimeout(() => {}, 60_000);`);
    await expect(PeerServer.start(silent, cfg, { batch: 2, warmup: 1, threads: 2, timeoutMs: 300 })).rejects.toThrow(/silent for 0 s/);
  });

  it('rejects a reply without the requested steps', async () => {
    const short = standIn(
      'short',
      `console.log(JSON.stringify({ ready: true, params: 7, threads: 2, torch: '9.9' }));
       require('node:readline').createInterface({ input: process.stdin }).on('line', (l) => l === 'quit' ? process.exit(0) : console.log(JSON.stringify({ stepMs: [5] })));`,
    );
    const { server } = await PeerServer.start(short, cfg, { batch: 2, warmup: 1, threads: 2, timeoutMs: 10_000 });
    try {
      await expect(server.run(2)).rejects.toThrow(/answered "run 2" with \{"stepMs":\[5\]\}/);
    } finally {
      server.close();
    }
  });
});

// Needs a python with torch (Debian python3-torch); skipped cleanly without one. Builds the models only, times nothing.
const torchPython = findTorchPython();
describe.skipIf(!torchPython)('PyTorch peer parity (python with torch)', () => {
  it.each([
    ['tiny', 0],
    ['small', 0],
    ['tiny', 10],
  ] as const)('builds %s (numClasses %d) with the tfjs model\'s parameter count', (size, numClasses) => {
    const cfg = { ...DEFAULT_UNET, ...PRESETS[size], imageSize: 32, numClasses };
    expect(peerParamCount(torchPython!.python, cfg)).toBe(createUNet(cfg, 1).layout.total);
  });
});
