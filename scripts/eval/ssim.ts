/**
 * Image quality against a reference, per image: PSNR and SSIM (Wang et al. 2004) as pytorch_msssim computes it
 * (the Cold Diffusion paper's evaluation imports `from pytorch_msssim import ssim`): an 11-tap Gaussian window of
 * std 1.5, applied separably without padding (only windows inside the image), K1 = 0.01, K2 = 0.03, data range 1
 * on images mapped from [-1, 1] to [0, 1], the mean over the valid map and the channels.
 */

export const SSIM_WINDOW = 11;
const SSIM_SIGMA = 1.5;
const C1 = 0.01 ** 2;
const C2 = 0.03 ** 2;

const gauss = ((): Float64Array => {
  const g = new Float64Array(SSIM_WINDOW);
  const mid = (SSIM_WINDOW - 1) / 2;
  let sum = 0;
  for (let k = 0; k < SSIM_WINDOW; k++) sum += g[k] = Math.exp(-((k - mid) ** 2) / (2 * SSIM_SIGMA * SSIM_SIGMA));
  return g.map((v) => v / sum);
})();

/** Valid (no padding) separable Gaussian filtering of an S x S plane: (S - 10) x (S - 10). */
function filterValid(p: Float64Array, S: number): Float64Array {
  const V = S - SSIM_WINDOW + 1;
  const rows = new Float64Array(S * V);
  for (let r = 0; r < S; r++) for (let c = 0; c < V; c++) {
    let acc = 0;
    for (let k = 0; k < SSIM_WINDOW; k++) acc += gauss[k] * p[r * S + c + k];
    rows[r * V + c] = acc;
  }
  const out = new Float64Array(V * V);
  for (let r = 0; r < V; r++) for (let c = 0; c < V; c++) {
    let acc = 0;
    for (let k = 0; k < SSIM_WINDOW; k++) acc += gauss[k] * rows[(r + k) * V + c];
    out[r * V + c] = acc;
  }
  return out;
}

const unit = (v: number): number => (Math.max(-1, Math.min(1, v)) + 1) / 2;

/** SSIM of image a against b, both [C, S, S] in [-1, 1] (clipped); S must be at least the 11-pixel window. */
export function ssim(a: ArrayLike<number>, b: ArrayLike<number>, channels: number, size: number): number {
  if (size < SSIM_WINDOW) throw new RangeError(`SSIM needs images of at least ${SSIM_WINDOW}x${SSIM_WINDOW} (got ${size})`);
  const n = size * size;
  if (a.length !== channels * n || b.length !== channels * n) throw new RangeError(`SSIM: images must hold ${channels} x ${size} x ${size} values`);
  let total = 0;
  for (let c = 0; c < channels; c++) {
    const x = new Float64Array(n);
    const y = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      x[i] = unit(a[c * n + i]);
      y[i] = unit(b[c * n + i]);
    }
    const mx = filterValid(x, size);
    const my = filterValid(y, size);
    const xx = filterValid(x.map((v) => v * v), size);
    const yy = filterValid(y.map((v) => v * v), size);
    const xy = filterValid(x.map((v, i) => v * y[i]), size);
    let sum = 0;
    for (let i = 0; i < mx.length; i++) {
      const sx = xx[i] - mx[i] * mx[i];
      const sy = yy[i] - my[i] * my[i];
      const sxy = xy[i] - mx[i] * my[i];
      sum += ((2 * mx[i] * my[i] + C1) * (2 * sxy + C2)) / ((mx[i] * mx[i] + my[i] * my[i] + C1) * (sx + sy + C2));
    }
    total += sum / mx.length;
  }
  return total / channels;
}

/** PSNR in dB of image a against b in [-1, 1] (both clipped), peak-to-peak 2; capped at 100 dB (identical images). */
export function psnrDb(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let se = 0;
  for (let i = 0; i < a.length; i++) se += (Math.max(-1, Math.min(1, a[i])) - Math.max(-1, Math.min(1, b[i]))) ** 2;
  const mse = se / a.length;
  return mse === 0 ? 100 : Math.min(100, 10 * Math.log10(4 / mse));
}
