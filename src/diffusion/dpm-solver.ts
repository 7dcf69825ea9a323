import { multistepGrid } from './multistep-grid.ts';
import { checkInt, checkOneOf } from './errors.ts';
import { toX0AndEps } from './forward.ts';
import { checkStepInputs, resolveCommon, stepIndexOf, type ResolvedCommon } from './options.ts';
import type { NoiseSchedule } from './schedule.ts';
import type { CommonSchedulerOptions, Scheduler, StepExtras } from './scheduler.ts';
import { processX0 } from './threshold.ts';
import { inferenceTimesteps } from './timesteps.ts';
import type { StepResult } from './types.ts';

export interface DpmSolverOptions extends CommonSchedulerOptions {
  /** 1, 2 (DPM-Solver++(2M), default) or 3 (3M). */
  solverOrder?: 1 | 2 | 3;
  /** Use lower orders for the last steps when fewer than 15 steps (diffusers `lower_order_final`, default true). */
  lowerOrderFinal?: boolean;
  /** Sigma after the last step: 'zero' (default, the last step returns x0) or 'sigma_min' (that of t = 0). */
  finalSigmasType?: 'zero' | 'sigma_min';
}

/**
 * DPM-Solver++ multistep in data-prediction form (Lu et al. 2022, "DPM-Solver++", Algorithm 2), as
 * diffusers' DPMSolverMultistepScheduler with algorithm_type 'dpmsolver++' and solver_type 'midpoint'.
 * With alpha_t = sqrt(abar_t), sigma_t = sqrt(1 - abar_t), lambda_t = log(alpha_t / sigma_t), h = lambda_t - lambda_s:
 *   order 1: x_t = (sigma_t / sigma_s) x_s - alpha_t (e^{-h} - 1) D0
 *   order 2: ... - 0.5 alpha_t (e^{-h} - 1) D1,  D1 = (m0 - m1) / r0,  r0 = h_0 / h
 *   order 3: Taylor terms with D1, D2 from three previous x0 predictions.
 * Defaults as diffusers: linspace spacing, no clipping, order 2, lowerOrderFinal true, final sigma zero.
 */
export class DpmSolverMultistepScheduler implements Scheduler {
  readonly name: 'dpmpp2m' | 'dpmpp3m';
  readonly needsNoise = false;
  timesteps: Int32Array = new Int32Array(0);
  private readonly o: ResolvedCommon;
  private readonly order: 1 | 2 | 3;
  private readonly lowerOrderFinal: boolean;
  private readonly finalSigmasType: 'zero' | 'sigma_min';
  // alpha, sigma, lambda at timesteps[0..N-1] and after the last step (index N)
  private alpha = new Float64Array(0);
  private sigma = new Float64Array(0);
  private lambda = new Float64Array(0);
  private outputs: Float32Array[] = []; // previous x0 predictions, newest last
  private lowerOrderNums = 0;
  private nextIndex = 0;

  constructor(
    private readonly schedule: NoiseSchedule,
    options: DpmSolverOptions = {},
  ) {
    this.o = resolveCommon(options, schedule.T, { clipSample: false, timestepSpacing: 'linspace' });
    this.order = checkInt('solverOrder', options.solverOrder ?? 2, 1, 3) as 1 | 2 | 3;
    this.name = this.order === 3 ? 'dpmpp3m' : 'dpmpp2m';
    this.lowerOrderFinal = options.lowerOrderFinal ?? true;
    this.finalSigmasType = checkOneOf('finalSigmasType', options.finalSigmasType ?? 'zero', ['zero', 'sigma_min']);
  }

  get numTrainTimesteps(): number {
    return this.schedule.T;
  }

  setTimesteps(n: number): void {
    const T = this.schedule.T;
    this.timesteps = inferenceTimesteps(T, n, this.o.timestepSpacing, this.o.stepsOffset, this.o.timestepSpacing === 'trailing' ? 0 : 1);
    ({ alpha: this.alpha, sigma: this.sigma, lambda: this.lambda } = multistepGrid(this.schedule, this.timesteps, this.finalSigmasType));
    this.outputs = [];
    this.lowerOrderNums = 0;
    this.nextIndex = 0;
  }

  step(modelOutput: Float32Array, t: number, x: Float32Array, extras?: StepExtras): StepResult {
    const batch = checkStepInputs(modelOutput, x, extras, false);
    const i = stepIndexOf(this.timesteps, t);
    if (i !== this.nextIndex) {
      throw new Error(`DPM-Solver++ is multistep: expected timestep ${this.timesteps[this.nextIndex]} next, got ${t} (call setTimesteps to restart)`);
    }
    const N = this.timesteps.length;
    const lowerOrderFinal = i === N - 1 && ((this.lowerOrderFinal && N < 15) || this.finalSigmasType === 'zero');
    const lowerOrderSecond = i === N - 2 && this.lowerOrderFinal && N < 15;

    // data prediction D = x0 (thresholded / clipped), the "++" of DPM-Solver++
    const { x0 } = toX0AndEps(this.schedule, this.o.predictionType, modelOutput, t, x);
    processX0(x0, batch, this.o.x0);
    this.outputs.push(x0);
    if (this.outputs.length > this.order) this.outputs.shift();

    let order: 1 | 2 | 3;
    if (this.order === 1 || this.lowerOrderNums < 1 || lowerOrderFinal) order = 1;
    else if (this.order === 2 || this.lowerOrderNums < 2 || lowerOrderSecond) order = 2;
    else order = 3;

    const prev = this.update(order, i, x);
    if (this.lowerOrderNums < this.order) this.lowerOrderNums++;
    this.nextIndex++;
    return { prev, predX0: x0 };
  }

  private update(order: 1 | 2 | 3, i: number, x: Float32Array): Float32Array {
    const alphaT = this.alpha[i + 1];
    const sigmaT = this.sigma[i + 1];
    const sigmaS0 = this.sigma[i];
    const h = this.lambda[i + 1] - this.lambda[i];
    const expm1 = Math.exp(-h) - 1; // e^{-h} - 1
    const cx = sigmaT / sigmaS0;
    const out = new Float32Array(x.length);
    const k = this.outputs.length;
    const m0 = this.outputs[k - 1];
    if (order === 1) {
      const c0 = -alphaT * expm1;
      for (let j = 0; j < x.length; j++) out[j] = cx * x[j] + c0 * m0[j];
      return out;
    }
    const m1 = this.outputs[k - 2];
    const h0 = this.lambda[i] - this.lambda[i - 1];
    const r0 = h0 / h;
    if (order === 2) {
      // midpoint: x_t = cx x - alpha_t (e^-h - 1) D0 - 0.5 alpha_t (e^-h - 1) D1, D1 = (m0 - m1) / r0
      const c0 = -alphaT * expm1;
      const c1 = (-0.5 * alphaT * expm1) / r0;
      for (let j = 0; j < x.length; j++) out[j] = cx * x[j] + c0 * m0[j] + c1 * (m0[j] - m1[j]);
      return out;
    }
    const m2 = this.outputs[k - 3];
    const h1 = this.lambda[i - 1] - this.lambda[i - 2];
    const r1 = h1 / h;
    const c0 = -alphaT * expm1;
    const cD1 = alphaT * (expm1 / h + 1);
    const cD2 = -alphaT * ((expm1 + h) / (h * h) - 0.5);
    for (let j = 0; j < x.length; j++) {
      const d10 = (m0[j] - m1[j]) / r0;
      const d11 = (m1[j] - m2[j]) / r1;
      const d1 = d10 + (r0 / (r0 + r1)) * (d10 - d11);
      const d2 = (d10 - d11) / (r0 + r1);
      out[j] = cx * x[j] + c0 * m0[j] + cD1 * d1 + cD2 * d2;
    }
    return out;
  }
}
