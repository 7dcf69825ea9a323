/** PNG output of a run: image grids of samples and a loss curve (log scale), encoded with fast-png. */
import { encode } from 'fast-png';

/** images: [N, C, S, S] in [-1, 1] (NCHW, as the core's sampler returns them) -> a rows x cols grid PNG. */
export function gridPng(images: Float32Array, n: number, channels: number, size: number, cols: number, pad = 2, scale = 2): Uint8Array {
  const rows = Math.ceil(n / cols);
  const cell = size * scale + pad;
  const W = cols * cell + pad;
  const H = rows * cell + pad;
  const outC = channels === 1 ? 1 : 3;
  const data = new Uint8Array(W * H * outC).fill(255);
  const per = channels * size * size;
  for (let k = 0; k < n; k++) {
    const r0 = pad + Math.floor(k / cols) * cell;
    const c0 = pad + (k % cols) * cell;
    for (let y = 0; y < size * scale; y++) {
      for (let x = 0; x < size * scale; x++) {
        const sy = Math.floor(y / scale);
        const sx = Math.floor(x / scale);
        for (let ch = 0; ch < outC; ch++) {
          const v = images[k * per + ch * size * size + sy * size + sx];
          data[((r0 + y) * W + c0 + x) * outC + ch] = Math.max(0, Math.min(255, Math.round((v + 1) * 127.5)));
        }
      }
    }
  }
  return encode({ width: W, height: H, data, channels: outC, depth: 8 });
}

// 3x5 bitmap digits (and . e - k M) for axis labels
const GLYPHS: Record<string, string> = {
  '0': '111101101101111', '1': '010110010010111', '2': '111001111100111', '3': '111001111001111',
  '4': '101101111001001', '5': '111100111001111', '6': '111100111101111', '7': '111001001010010',
  '8': '111101111101111', '9': '111101111001111', '.': '000000000000010', '-': '000000111000000',
  'e': '000111101110011', 'k': '100101110101101', 'M': '101111111101101',
};

class Canvas {
  readonly data: Uint8Array;
  constructor(readonly w: number, readonly h: number) {
    this.data = new Uint8Array(w * h * 3).fill(255);
  }
  set(x: number, y: number, rgb: [number, number, number]): void {
    x = Math.round(x);
    y = Math.round(y);
    if (x < 0 || y < 0 || x >= this.w || y >= this.h) return;
    const i = (y * this.w + x) * 3;
    this.data[i] = rgb[0];
    this.data[i + 1] = rgb[1];
    this.data[i + 2] = rgb[2];
  }
  line(x0: number, y0: number, x1: number, y1: number, rgb: [number, number, number]): void {
    const n = Math.max(1, Math.ceil(Math.max(Math.abs(x1 - x0), Math.abs(y1 - y0))));
    for (let i = 0; i <= n; i++) this.set(x0 + ((x1 - x0) * i) / n, y0 + ((y1 - y0) * i) / n, rgb);
  }
  text(s: string, x: number, y: number, rgb: [number, number, number], scale = 2): void {
    for (let k = 0; k < s.length; k++) {
      const g = GLYPHS[s[k]];
      if (!g) continue;
      for (let r = 0; r < 5; r++) for (let c = 0; c < 3; c++) if (g[r * 3 + c] === '1') for (let dy = 0; dy < scale; dy++) for (let dx = 0; dx < scale; dx++) this.set(x + (k * 4 + c) * scale + dx, y + r * scale + dy, rgb);
    }
  }
}

function fmtTick(v: number): string {
  if (v >= 1e6) return `${+(v / 1e6).toFixed(1)}M`;
  if (v >= 1e3) return `${+(v / 1e3).toFixed(1)}k`;
  if (v >= 0.01) return String(+v.toPrecision(2));
  return v.toExponential(0).replace('e-', 'e-');
}

/** Loss curve: raw loss (light) and its moving average (dark) against step, log-scaled y. */
export function lossCurvePng(steps: number[], losses: number[], width = 720, height = 360): Uint8Array {
  const cv = new Canvas(width, height);
  const L = 70;
  const R = 20;
  const T = 20;
  const B = 40;
  const pw = width - L - R;
  const ph = height - T - B;
  const axis: [number, number, number] = [0, 0, 0];
  cv.line(L, T, L, T + ph, axis);
  cv.line(L, T + ph, L + pw, T + ph, axis);
  const pts = steps.map((s, i) => [s, losses[i]] as const).filter(([, l]) => Number.isFinite(l) && l > 0);
  if (pts.length >= 2) {
    const s0 = pts[0][0];
    const s1 = Math.max(pts[pts.length - 1][0], s0 + 1);
    const lmin = Math.log10(Math.min(...pts.map((p) => p[1])));
    const lmax = Math.log10(Math.max(...pts.map((p) => p[1])));
    const lo = Math.floor(lmin * 4) / 4;
    const hi = Math.max(Math.ceil(lmax * 4) / 4, lo + 0.25);
    const X = (s: number): number => L + ((s - s0) / (s1 - s0)) * pw;
    const Y = (l: number): number => T + ph - ((Math.log10(l) - lo) / (hi - lo)) * ph;
    // y ticks at quarter decades, x ticks at 5 positions
    for (let e = lo; e <= hi + 1e-9; e += 0.25) {
      const y = T + ph - ((e - lo) / (hi - lo)) * ph;
      for (let x = L; x < L + pw; x += 4) cv.set(x, y, [220, 220, 220]);
      cv.text(fmtTick(10 ** e), 4, y - 5, axis);
    }
    for (let i = 0; i <= 4; i++) {
      const s = s0 + ((s1 - s0) * i) / 4;
      cv.line(X(s), T + ph, X(s), T + ph + 4, axis);
      cv.text(fmtTick(Math.round(s)), X(s) - 10, T + ph + 10, axis);
    }
    for (let i = 1; i < pts.length; i++) cv.line(X(pts[i - 1][0]), Y(pts[i - 1][1]), X(pts[i][0]), Y(pts[i][1]), [170, 200, 235]);
    // moving average over ~2% of the points
    const k = Math.max(1, Math.round(pts.length / 50));
    let prev: [number, number] | null = null;
    let acc = 0;
    for (let i = 0; i < pts.length; i++) {
      acc += Math.log(pts[i][1]);
      if (i >= k) acc -= Math.log(pts[i - k][1]);
      const m = Math.exp(acc / Math.min(i + 1, k));
      const p: [number, number] = [X(pts[i][0]), Y(m)];
      if (prev) cv.line(prev[0], prev[1], p[0], p[1], [20, 60, 160]);
      prev = p;
    }
  }
  return encode({ width, height, data: cv.data, channels: 3, depth: 8 });
}
