/** PNG output of a run: image grids of samples and a loss curve (log scale), encoded with fast-png. */
import { encode } from 'fast-png';
import { linePlotPng } from '../lib/plot.ts';

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

/**
 * Loss curve: the raw loss per logged step (light) and its moving average over about 2% of the points (dark)
 * against the step, log-scaled y, with a title and axis labels (drawn by the shared line plot).
 */
export function lossCurvePng(steps: number[], losses: number[], width = 720, height = 400): Uint8Array {
  const pts = steps.map((s, i) => [s, losses[i]] as const).filter(([, l]) => Number.isFinite(l) && l > 0);
  const k = Math.max(1, Math.round(pts.length / 50));
  const avg: [number, number][] = [];
  let acc = 0;
  for (let i = 0; i < pts.length; i++) {
    acc += Math.log(pts[i][1]);
    if (i >= k) acc -= Math.log(pts[i - k][1]);
    avg.push([pts[i][0], Math.exp(acc / Math.min(i + 1, k))]);
  }
  return linePlotPng(
    [
      { name: 'loss per step', points: pts, color: [170, 200, 235], width: 1, markers: false },
      { name: `moving average (window ${k})`, points: avg, color: [20, 60, 160], markers: false },
    ],
    { title: 'Training loss', xLabel: 'training step', yLabel: 'loss (MSE on eps), log scale', logY: true, width, height },
  );
}
