import { checkRange } from './errors.ts';

/** x0 clipping and dynamic thresholding, applied to the predicted x0 of every sampler. */
export interface X0Processing {
  clipSample: boolean;
  clipSampleRange: number;
  thresholding: boolean;
  dynamicThresholdingRatio: number;
  sampleMaxValue: number;
}

export function x0Processing(
  options: Partial<X0Processing>,
  defaults: Pick<X0Processing, 'clipSample'>,
): X0Processing {
  return {
    clipSample: options.clipSample ?? defaults.clipSample,
    clipSampleRange: checkRange('clipSampleRange', options.clipSampleRange ?? 1, 1e-6, 1e6),
    thresholding: options.thresholding ?? false,
    dynamicThresholdingRatio: checkRange('dynamicThresholdingRatio', options.dynamicThresholdingRatio ?? 0.995, 0, 1),
    sampleMaxValue: checkRange('sampleMaxValue', options.sampleMaxValue ?? 1, 1, 1e6),
  };
}

/**
 * Dynamic thresholding (Saharia et al. 2022, diffusers `_threshold_sample`): per image, s = the
 * `ratio`-quantile of |x0| (linear interpolation, as torch.quantile), clamped to [1, sampleMaxValue];
 * x0 = clamp(x0, -s, s) / s. In place; `batch` images.
 */
export function dynamicThreshold(x0: Float32Array, batch: number, ratio: number, maxValue: number): void {
  const n = x0.length / batch;
  const abs = new Float64Array(n);
  for (let b = 0; b < batch; b++) {
    const img = x0.subarray(b * n, (b + 1) * n);
    for (let i = 0; i < n; i++) abs[i] = Math.abs(img[i]);
    abs.sort();
    const pos = ratio * (n - 1);
    const lo = Math.floor(pos);
    const hi = Math.min(lo + 1, n - 1);
    let s = abs[lo] + (abs[hi] - abs[lo]) * (pos - lo);
    s = Math.min(Math.max(s, 1), maxValue);
    for (let i = 0; i < n; i++) img[i] = Math.min(Math.max(img[i], -s), s) / s;
  }
}

/** Applies the configured processing to x0 in place: thresholding wins over clipping, as in diffusers. */
export function processX0(x0: Float32Array, batch: number, p: X0Processing): void {
  if (p.thresholding) {
    dynamicThreshold(x0, batch, p.dynamicThresholdingRatio, p.sampleMaxValue);
  } else if (p.clipSample) {
    const r = p.clipSampleRange;
    for (let i = 0; i < x0.length; i++) x0[i] = Math.min(Math.max(x0[i], -r), r);
  }
}
