import { decode } from 'fast-png';
import { describe, expect, it } from 'vitest';
import { lossCurvePng } from '../../scripts/train/plot.ts';

/** Mean row (y) of the pixels of one colour within a column band, or NaN when there are none. */
function meanRow(png: ReturnType<typeof decode>, rgb: readonly number[], x0: number, x1: number): number {
  let sum = 0;
  let n = 0;
  for (let y = 0; y < png.height; y++) {
    for (let x = x0; x < x1; x++) {
      const i = (y * png.width + x) * png.channels;
      if (png.data[i] === rgb[0] && png.data[i + 1] === rgb[1] && png.data[i + 2] === rgb[2]) {
        sum += y;
        n++;
      }
    }
  }
  return n ? sum / n : NaN;
}

describe('loss curve', () => {
  it('draws the raw loss and its moving average, falling left to right, on a titled log plot', () => {
    const steps = Array.from({ length: 1000 }, (_, i) => i + 1);
    // a loss falling from 1 to about 0.03, with noise
    const losses = steps.map((s) => (0.03 + Math.exp(-s / 60)) * (1 + 0.3 * Math.sin(s * 12.9898)));
    const png = decode(lossCurvePng(steps, losses));
    expect([png.width, png.height, png.channels]).toEqual([720, 400, 3]);
    const dark = [20, 60, 160];
    const light = [170, 200, 235];
    // inside the plot: left band (early steps) vs right band (late steps); y grows downwards
    const earlyDark = meanRow(png, dark, 90, 130);
    const lateDark = meanRow(png, dark, 600, 680);
    expect(lateDark).toBeGreaterThan(earlyDark + 100);
    expect(meanRow(png, light, 600, 680)).not.toBeNaN();
    // the title is drawn in black above the plot area (which starts at y = 40)
    let titlePixels = 0;
    for (let y = 0; y < 36; y++) for (let x = 0; x < png.width; x++) if (png.data[(y * png.width + x) * 3] === 0) titlePixels++;
    expect(titlePixels).toBeGreaterThan(100);
  });
});
