/**
 * A small line plot rendered to RGB pixels (and PNG via src/image): axes with ticks and labels, one
 * polyline with point markers per series, a legend, linear or log10 x and y. No fonts needed: text uses a
 * built-in 5x7 bitmap font (ASCII letters, digits and common punctuation; lowercase drawn as capitals).
 * Shared by the evaluation (distance vs steps) and usable for training curves (loss vs step).
 */
import { encodePng, type Image8 } from '../../src/image/index.ts';

export interface Series {
  name: string;
  /** [x, y] points; drawn in the order given (sort by x for a line plot). Non-finite y values are skipped. */
  points: readonly (readonly [number, number])[];
  /** RGB; defaults to a palette colour. */
  color?: readonly [number, number, number];
  /** Dashed line (e.g. a second variant of the same series). */
  dashed?: boolean;
  /** Line width in pixels (default 2). */
  width?: number;
  /** Draw a marker at every point (default true; turn off for long curves such as a loss per step). */
  markers?: boolean;
}

export interface LinePlotOptions {
  title?: string;
  xLabel?: string;
  yLabel?: string;
  width?: number;
  height?: number;
  logX?: boolean;
  logY?: boolean;
  /** Tick positions on x (data units); default: "nice" ticks (linear) or powers of ten (log). */
  xTicks?: readonly number[];
  /** Include y = 0 in the range (linear y only). */
  yZero?: boolean;
}

export const PALETTE: readonly (readonly [number, number, number])[] = [
  [31, 119, 180],
  [214, 39, 40],
  [44, 160, 44],
  [255, 127, 14],
  [148, 103, 189],
  [140, 86, 75],
  [227, 119, 194],
  [127, 127, 127],
];

// 5x7 glyphs, one string of 7 rows of 5 bits (as hex digits 0-1f) per character.
const GLYPHS: Record<string, readonly number[]> = {
  ' ': [0, 0, 0, 0, 0, 0, 0],
  '0': [0x0e, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0e],
  '1': [0x04, 0x0c, 0x04, 0x04, 0x04, 0x04, 0x0e],
  '2': [0x0e, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1f],
  '3': [0x1f, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0e],
  '4': [0x02, 0x06, 0x0a, 0x12, 0x1f, 0x02, 0x02],
  '5': [0x1f, 0x10, 0x1e, 0x01, 0x01, 0x11, 0x0e],
  '6': [0x06, 0x08, 0x10, 0x1e, 0x11, 0x11, 0x0e],
  '7': [0x1f, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08],
  '8': [0x0e, 0x11, 0x11, 0x0e, 0x11, 0x11, 0x0e],
  '9': [0x0e, 0x11, 0x11, 0x0f, 0x01, 0x02, 0x0c],
  A: [0x0e, 0x11, 0x11, 0x1f, 0x11, 0x11, 0x11],
  B: [0x1e, 0x11, 0x11, 0x1e, 0x11, 0x11, 0x1e],
  C: [0x0e, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0e],
  D: [0x1c, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1c],
  E: [0x1f, 0x10, 0x10, 0x1e, 0x10, 0x10, 0x1f],
  F: [0x1f, 0x10, 0x10, 0x1e, 0x10, 0x10, 0x10],
  G: [0x0e, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0f],
  H: [0x11, 0x11, 0x11, 0x1f, 0x11, 0x11, 0x11],
  I: [0x0e, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0e],
  J: [0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0c],
  K: [0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11],
  L: [0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1f],
  M: [0x11, 0x1b, 0x15, 0x15, 0x11, 0x11, 0x11],
  N: [0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11],
  O: [0x0e, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0e],
  P: [0x1e, 0x11, 0x11, 0x1e, 0x10, 0x10, 0x10],
  Q: [0x0e, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0d],
  R: [0x1e, 0x11, 0x11, 0x1e, 0x14, 0x12, 0x11],
  S: [0x0f, 0x10, 0x10, 0x0e, 0x01, 0x01, 0x1e],
  T: [0x1f, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04],
  U: [0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0e],
  V: [0x11, 0x11, 0x11, 0x11, 0x11, 0x0a, 0x04],
  W: [0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0a],
  X: [0x11, 0x11, 0x0a, 0x04, 0x0a, 0x11, 0x11],
  Y: [0x11, 0x11, 0x11, 0x0a, 0x04, 0x04, 0x04],
  Z: [0x1f, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1f],
  '.': [0, 0, 0, 0, 0, 0x0c, 0x0c],
  ',': [0, 0, 0, 0, 0x0c, 0x04, 0x08],
  ':': [0, 0x0c, 0x0c, 0, 0x0c, 0x0c, 0],
  '-': [0, 0, 0, 0x1f, 0, 0, 0],
  '+': [0, 0x04, 0x04, 0x1f, 0x04, 0x04, 0],
  '=': [0, 0, 0x1f, 0, 0x1f, 0, 0],
  '/': [0, 0x01, 0x02, 0x04, 0x08, 0x10, 0],
  '(': [0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02],
  ')': [0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08],
  '%': [0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03],
  _: [0, 0, 0, 0, 0, 0, 0x1f],
  '^': [0x04, 0x0a, 0x11, 0, 0, 0, 0],
  '[': [0x0e, 0x08, 0x08, 0x08, 0x08, 0x08, 0x0e],
  ']': [0x0e, 0x02, 0x02, 0x02, 0x02, 0x02, 0x0e],
  '?': [0x0e, 0x11, 0x01, 0x02, 0x04, 0, 0x04],
};

const GLYPH_W = 6; // 5 pixels and 1 of spacing
const GLYPH_H = 7;

/** An RGB canvas with the few primitives a plot needs. */
export class Canvas {
  readonly data: Uint8Array;
  constructor(
    readonly width: number,
    readonly height: number,
    background: readonly [number, number, number] = [255, 255, 255],
  ) {
    this.data = new Uint8Array(width * height * 3);
    for (let i = 0; i < width * height; i++) this.data.set(background, i * 3);
  }

  set(x: number, y: number, c: readonly [number, number, number]): void {
    const xi = Math.round(x);
    const yi = Math.round(y);
    if (xi < 0 || yi < 0 || xi >= this.width || yi >= this.height) return;
    this.data.set(c, (yi * this.width + xi) * 3);
  }

  rect(x0: number, y0: number, w: number, h: number, c: readonly [number, number, number]): void {
    for (let y = y0; y < y0 + h; y++) for (let x = x0; x < x0 + w; x++) this.set(x, y, c);
  }

  /** A line `thickness` pixels wide (Bresenham-like stepping on the longer axis). */
  line(x0: number, y0: number, x1: number, y1: number, c: readonly [number, number, number], thickness = 1, dash = 0): void {
    const n = Math.max(1, Math.ceil(Math.max(Math.abs(x1 - x0), Math.abs(y1 - y0))));
    const r = (thickness - 1) / 2;
    for (let i = 0; i <= n; i++) {
      if (dash > 0 && Math.floor(i / dash) % 2 === 1) continue;
      const x = x0 + ((x1 - x0) * i) / n;
      const y = y0 + ((y1 - y0) * i) / n;
      for (let dy = -Math.floor(r); dy <= Math.ceil(r); dy++) for (let dx = -Math.floor(r); dx <= Math.ceil(r); dx++) this.set(x + dx, y + dy, c);
    }
  }

  /** Text with its top-left corner at (x, y); `scale` magnifies the 5x7 glyphs. Returns the width drawn. */
  text(s: string, x: number, y: number, c: readonly [number, number, number], scale = 1, vertical = false): number {
    let pen = 0;
    for (const ch0 of s) {
      const g = GLYPHS[ch0] ?? GLYPHS[ch0.toUpperCase()] ?? GLYPHS['?'];
      for (let row = 0; row < GLYPH_H; row++) {
        for (let col = 0; col < 5; col++) {
          if (((g[row] >> (4 - col)) & 1) === 0) continue;
          for (let sy = 0; sy < scale; sy++)
            for (let sx = 0; sx < scale; sx++) {
              const u = pen + col * scale + sx;
              const v = row * scale + sy;
              // vertical: rotated 90 degrees counter-clockwise, reading bottom to top
              if (vertical) this.set(x + v, y - u, c);
              else this.set(x + u, y + v, c);
            }
        }
      }
      pen += GLYPH_W * scale;
    }
    return pen;
  }

  toImage(): Image8 {
    return { width: this.width, height: this.height, channels: 3, data: this.data };
  }
}

export function textWidth(s: string, scale = 1): number {
  return [...s].length * GLYPH_W * scale;
}

/** Ticks at 1, 2 or 5 x 10^k covering [lo, hi], about `target` of them. */
export function niceTicks(lo: number, hi: number, target = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / target;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

/** Short tick label: 0.05, 12, 1.5k, 2e-4. */
export function formatTick(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e4 || a < 1e-3) return v.toExponential(0).replace('e+', 'e');
  if (a >= 1000 && Number.isInteger(v / 100)) return `${v / 1000}k`;
  return String(Number(v.toPrecision(3)));
}

/** Render a line plot to RGB pixels. */
export function linePlot(series: readonly Series[], o: LinePlotOptions = {}): Image8 {
  const W = o.width ?? 720;
  const H = o.height ?? 480;
  const cv = new Canvas(W, H);
  const black: [number, number, number] = [0, 0, 0];
  const grey: [number, number, number] = [225, 225, 225];
  const fx = (v: number): number => (o.logX ? Math.log10(v) : v);
  const fy = (v: number): number => (o.logY ? Math.log10(v) : v);
  const pts = series.flatMap((s) => s.points).filter(([x, y]) => Number.isFinite(fx(x)) && Number.isFinite(fy(y)));
  let xlo = Math.min(...pts.map((p) => fx(p[0])));
  let xhi = Math.max(...pts.map((p) => fx(p[0])));
  let ylo = Math.min(...pts.map((p) => fy(p[1])));
  let yhi = Math.max(...pts.map((p) => fy(p[1])));
  if (pts.length === 0) [xlo, xhi, ylo, yhi] = [0, 1, 0, 1];
  if (o.yZero && !o.logY) ylo = Math.min(0, ylo);
  if (xhi === xlo) [xlo, xhi] = [xlo - 0.5, xhi + 0.5];
  if (yhi === ylo) [ylo, yhi] = [ylo - 0.5 * (Math.abs(ylo) || 1), yhi + 0.5 * (Math.abs(yhi) || 1)];
  const ypad = 0.06 * (yhi - ylo);
  ylo = o.yZero && !o.logY && ylo === 0 ? 0 : ylo - ypad;
  yhi += ypad;
  const xpad = 0.04 * (xhi - xlo);
  xlo -= xpad;
  xhi += xpad;

  const left = 70;
  const right = 20;
  const top = o.title ? 40 : 20;
  const legendRows = series.length;
  const bottom = 50 + 14 * Math.ceil(legendRows / 3);
  const pw = W - left - right;
  const ph = H - top - bottom;
  const px = (v: number): number => left + ((fx(v) - xlo) / (xhi - xlo)) * pw;
  const py = (v: number): number => top + ph - ((fy(v) - ylo) / (yhi - ylo)) * ph;

  // ticks and grid
  const xt = o.xTicks ?? (o.logX ? niceLogTicks(xlo, xhi) : niceTicks(xlo, xhi));
  for (const v of xt) {
    const x = px(v);
    if (x < left - 0.5 || x > left + pw + 0.5) continue;
    cv.line(x, top, x, top + ph, grey);
    cv.line(x, top + ph, x, top + ph + 4, black);
    const label = formatTick(v);
    cv.text(label, x - textWidth(label) / 2, top + ph + 8, black);
  }
  const yt = o.logY ? niceLogTicks(ylo, yhi) : niceTicks(ylo, yhi);
  for (const v of yt) {
    const y = py(v);
    if (y < top - 0.5 || y > top + ph + 0.5) continue;
    cv.line(left, y, left + pw, y, grey);
    cv.line(left - 4, y, left, y, black);
    const label = formatTick(v);
    cv.text(label, left - 8 - textWidth(label), y - 3, black);
  }
  cv.line(left, top, left, top + ph, black);
  cv.line(left, top + ph, left + pw, top + ph, black);
  if (o.title) cv.text(o.title, (W - textWidth(o.title, 2)) / 2, 10, black, 2);
  if (o.xLabel) cv.text(o.xLabel, left + (pw - textWidth(o.xLabel)) / 2, top + ph + 22, black);
  if (o.yLabel) cv.text(o.yLabel, 8, top + (ph + textWidth(o.yLabel)) / 2, black, 1, true);

  // series
  series.forEach((s, k) => {
    const c = s.color ?? PALETTE[k % PALETTE.length];
    const ok = s.points.filter(([x, y]) => Number.isFinite(fx(x)) && Number.isFinite(fy(y)));
    for (let i = 1; i < ok.length; i++) cv.line(px(ok[i - 1][0]), py(ok[i - 1][1]), px(ok[i][0]), py(ok[i][1]), c, s.width ?? 2, s.dashed ? 6 : 0);
    if (s.markers !== false) for (const [x, y] of ok) cv.rect(Math.round(px(x)) - 2, Math.round(py(y)) - 2, 5, 5, c);
    // legend: three entries per row under the x label
    const col = k % 3;
    const row = Math.floor(k / 3);
    const lx = left + col * Math.floor(pw / 3);
    const ly = top + ph + 38 + row * 14;
    if (s.dashed) {
      cv.rect(lx, ly + 2, 5, 3, c);
      cv.rect(lx + 9, ly + 2, 5, 3, c);
    } else cv.rect(lx, ly + 2, 14, 3, c);
    cv.text(s.name, lx + 20, ly, black);
  });
  return cv.toImage();
}

/** Log-scale ticks (data units): 1, 2, 5 x 10^k within [10^lo, 10^hi]. */
function niceLogTicks(lo: number, hi: number): number[] {
  const out: number[] = [];
  for (let e = Math.floor(lo); e <= Math.ceil(hi); e++) {
    for (const m of hi - lo > 3 ? [1] : [1, 2, 5]) {
      const v = m * 10 ** e;
      if (Math.log10(v) >= lo - 1e-9 && Math.log10(v) <= hi + 1e-9) out.push(Number(v.toPrecision(6)));
    }
  }
  return out;
}

/** linePlot encoded as PNG bytes. */
export function linePlotPng(series: readonly Series[], o: LinePlotOptions = {}): Uint8Array {
  return encodePng(linePlot(series, o));
}
