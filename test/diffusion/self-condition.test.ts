// The sampling loop feeds a self-conditioned model its previous x0 prediction (Chen et al. 2022; lucidrains'
// samplers): zeros at the first step, then the scheduler's predX0 of the step before, clipped to [-1, 1];
// with classifier-free guidance both halves of the doubled batch get the same estimate.
import { describe, expect, it } from 'vitest';
import { createScheduler, makeSchedule, sample, SAMPLER_NAMES, type EpsModel, type ModelInputs } from '../../src/diffusion/index.ts';
import { gaussianEps } from './analytic.ts';

const schedule = makeSchedule();
const exact = gaussianEps(schedule, 0.1, 0.5);
const B = 2;
const n = 16;

/** A self-conditioned fake: the exact eps plus a bias (x0 estimates far outside [-1, 1] at large t) and a pull from the estimate. */
function recordingModel() {
  const calls: ModelInputs[] = [];
  const model: EpsModel = Object.assign(
    async (inputs: ModelInputs) => {
      calls.push({ ...inputs, t: inputs.t.slice(), ...(inputs.classes ? { classes: inputs.classes.slice() } : {}), ...(inputs.selfCond ? { selfCond: inputs.selfCond.slice() } : {}) });
      const out = await exact(inputs);
      return out.map((v, i) => v + 0.05 + 0.01 * (inputs.selfCond?.[i] ?? 0) + (inputs.classes ? 0.02 * inputs.classes[Math.floor(i / n)] : 0));
    },
    { selfCondition: true },
  );
  return { calls, model };
}

describe('self-conditioned sampling', () => {
  for (const sampler of SAMPLER_NAMES) {
    for (const guided of [false, true]) {
      it(`${sampler}${guided ? ', guided (2B rows, interval)' : ''}: each call gets the previous step's x0 prediction, clipped; zeros first`, async () => {
        const { calls, model } = recordingModel();
        const predX0: Float32Array[] = [];
        await sample({
          model,
          scheduler: createScheduler(sampler, schedule, { clipSample: false }),
          steps: 6,
          shape: [B, 1, 4, 4],
          seeds: [3, 4],
          ...(guided ? { classes: new Int32Array([1, 2]), guidanceScale: 2, nullClass: 10, guidanceInterval: [0, 600] as const } : {}),
          onStep: (s) => void predX0.push(s.predX0.slice()),
        });
        expect(calls).toHaveLength(6);
        let clipped = 0;
        calls.forEach((c, i) => {
          const rows = c.t.length;
          expect(c.selfCond).toHaveLength(rows * n);
          const want = i === 0 ? new Float32Array(B * n) : predX0[i - 1].map((v) => Math.min(1, Math.max(-1, v)));
          for (let r = 0; r < rows / B; r++) expect(Array.from(c.selfCond!.subarray(r * B * n, (r + 1) * B * n))).toEqual(Array.from(want));
          if (i > 0) clipped += predX0[i - 1].filter((v) => Math.abs(v) > 1).length;
        });
        expect(clipped).toBeGreaterThan(0); // the clip was exercised
        if (guided) {
          const rows = calls.map((c) => c.t.length);
          expect(rows).toContain(2 * B);
          expect(rows).toContain(B);
        }
      });
    }
  }

  it('a model without self-conditioning gets no selfCond, and the same samples as before', async () => {
    const seen: (Float32Array | undefined)[] = [];
    const plain: EpsModel = async (inputs) => {
      seen.push(inputs.selfCond);
      return exact(inputs);
    };
    const a = await sample({ model: plain, scheduler: createScheduler('dpmpp2m', schedule), steps: 4, shape: [B, 1, 4, 4], seeds: [3, 4] });
    const b = await sample({ model: exact, scheduler: createScheduler('dpmpp2m', schedule), steps: 4, shape: [B, 1, 4, 4], seeds: [3, 4] });
    expect(seen).toEqual([undefined, undefined, undefined, undefined]);
    expect(a).toEqual(b);
  });
});
