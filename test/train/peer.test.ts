// The pure parts of the PyTorch peer of bench:train (scripts/train/peer.ts). The peer itself (torch) never runs here.
import { describe, expect, it } from 'vitest';
import { createUNet } from '../../scripts/train/model.ts';
import { DEFAULT_UNET, PRESETS } from '../../scripts/train/options.ts';
import { findTorchPython, formatPeerSummary, formatPeerTable, peerParamCount, parsePeerOutput, parseProbe, PEER_SKIPPED, pythonCandidates, speedRatio } from '../../scripts/train/peer.ts';

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
