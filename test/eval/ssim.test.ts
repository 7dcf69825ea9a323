// PSNR and SSIM of the restoration evaluation (scripts/eval/ssim.ts): SSIM as pytorch_msssim computes it
// (golden values from torch, re-typed from pytorch_msssim: 11-tap Gaussian, std 1.5, valid windows).
import { describe, expect, it } from 'vitest';
import { psnrDb, ssim } from '../../scripts/eval/ssim.ts';

const S = 16;
const a = Float64Array.from({ length: S * S }, (_, i) => Math.sin(0.37 * i) * 0.8);
const b = a.map((v, i) => v + 0.3 * Math.cos(0.11 * i));

describe('SSIM', () => {
  it("matches pytorch_msssim's ssim (torch, float64) to 1e-9", () => {
    expect(ssim(a, b, 1, S)).toBeCloseTo(0.8600099975049216, 9);
    expect(ssim(a, a.map((v) => v * 0.5), 1, S)).toBeCloseTo(0.7823884642323224, 9);
  });

  it('is 1 for identical images, symmetric, and (2xy + C1) / (x^2 + y^2 + C1) for flat images', () => {
    expect(ssim(a, a, 1, S)).toBeCloseTo(1, 12);
    expect(ssim(a, b, 1, S)).toBeCloseTo(ssim(b, a, 1, S), 12);
    const [x, y] = [0.2, 0.7]; // in [0, 1] after the map from [-1, 1]
    const flat = (v: number): Float64Array => new Float64Array(S * S).fill(2 * v - 1);
    expect(ssim(flat(x), flat(y), 1, S)).toBeCloseTo((2 * x * y + 1e-4) / (x * x + y * y + 1e-4), 12);
    // channels are averaged
    const two = (p: Float64Array, q: Float64Array): Float64Array => Float64Array.from([...p, ...q]);
    expect(ssim(two(a, a), two(b, a), 2, S)).toBeCloseTo((ssim(a, b, 1, S) + 1) / 2, 12);
  });

  it('refuses images smaller than its window', () => {
    expect(() => ssim(new Float64Array(64), new Float64Array(64), 1, 8)).toThrow(/at least 11x11/);
  });
});

describe('PSNR', () => {
  it('is 10 log10(4 / mse) on clipped [-1, 1] images, capped at 100 dB', () => {
    expect(psnrDb([0, 0.5, 1.5], [0.1, 0.5, 1])).toBeCloseTo(10 * Math.log10(4 / (0.01 / 3)), 12);
    expect(psnrDb(a, a)).toBe(100);
  });
});
