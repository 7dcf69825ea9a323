import { multistepGrid } from './multistep-grid.ts';
import { checkInt, checkOneOf, DiffusionOptionError } from './errors.ts';
import { toX0AndEps } from './forward.ts';
import { checkStepInputs, resolveCommon, stepIndexOf, type ResolvedCommon } from './options.ts';
import type { NoiseSchedule } from './schedule.ts';
import type { CommonSchedulerOptions, Scheduler, StepExtras } from './scheduler.ts';
import { processX0 } from './threshold.ts';
import { inferenceTimesteps } from './timesteps.ts';
import type { StepResult } from './types.ts';

export interface UniPcOptions extends CommonSchedulerOptions {
  /** Order p of the predictor UniP-p, 1..3 (diffusers `solver_order`, default 2; the corrector adds one order). */
  solverOrder?: 1 | 2 | 3;
  /** Multistep over the data prediction x0 (default true, as diffusers' `predict_x0`) or over the noise eps (false). */
  predictX0?: boolean;
  /** B(h) of the update: 'bh1' (B(h) = h) or 'bh2' (B(h) = e^h - 1, default). */
  solverType?: 'bh1' | 'bh2';
  /** Use lower orders for the last steps (diffusers `lower_order_final`, default true; unlike DPM-Solver++ for any N). */
  lowerOrderFinal?: boolean;
  /** Step indices i whose following step skips the corrector (diffusers `disable_corrector`, default []). */
  disableCorrector?: readonly number[];
  /** Sigma after the last step: 'zero' (default, the last step returns x0) or 'sigma_min' (that of t = 0). */
  finalSigmasType?: 'zero' | 'sigma_min';
}

/** Solves the small dense system A x = b (Gaussian elimination, partial pivoting; A is n x n, row-major). */
function solve(A: number[][], b: number[]): number[] {
  const n = b.length;
  const M = A.map((row, i) => [...row.slice(0, n), b[i]]);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(M[r][c]) > Math.abs(M[p][c])) p = r;
    [M[c], M[p]] = [M[p], M[c]];
    for (let r = c + 1; r < n; r++) {
      const f = M[r][c] / M[c][c];
      for (let k = c; k <= n; k++) M[r][k] -= f * M[c][k];
    }
  }
  const x = new Array<number>(n).fill(0);
  for (let r = n - 1; r >= 0; r--) {
    let s = M[r][n];
    for (let k = r + 1; k < n; k++) s -= M[r][k] * x[k];
    x[r] = s / M[r][r];
  }
  return x;
}

/**
 * UniPC (Zhao et al. 2023, "UniPC: A Unified Predictor-Corrector Framework for Fast Sampling of Diffusion
 * Models"), as diffusers' UniPCMultistepScheduler: a multistep predictor UniP-p (Algorithm 2) and, before
 * each predictor step, the corrector UniC-p (Algorithm 1) that reuses the model output at the new point, so
 * the order rises by one at no extra model call. With lambda_t = log(alpha_t / sigma_t), h = lambda_t -
 * lambda_s0, hh = -h (data prediction) and B(h) = e^{hh} - 1 (bh2) or hh (bh1):
 *   x_t = (sigma_t / sigma_s0) x_s0 - alpha_t (e^{hh} - 1) m0 - alpha_t B(h) sum_k a_k D_k  (eq. 8, data form)
 * with D_k = (m_k - m0) / r_k, r_k = (lambda_{s_k} - lambda_s0) / h and the a_k from R_p(h) a = phi_p(h) / B(h)
 * (the linear system of Theorem 3.1); order-2 predictor and order-1 corrector use a = 1/2 as diffusers.
 * Defaults as diffusers: linspace spacing (N + 1 points, last dropped), order 2, bh2, predictX0,
 * lowerOrderFinal, no disabled corrector steps, final sigma zero, no thresholding; clipSample (false) is this
 * project's shared x0 clipping (diffusers' UniPC has none).
 */
export class UniPcMultistepScheduler implements Scheduler {
  readonly name = 'unipc' as const;
  readonly needsNoise = false;
  timesteps: Int32Array = new Int32Array(0);
  private readonly o: ResolvedCommon;
  private readonly order: number;
  private readonly predictX0: boolean;
  private readonly solverType: 'bh1' | 'bh2';
  private readonly lowerOrderFinal: boolean;
  private readonly disableCorrector: ReadonlySet<number>;
  private readonly finalSigmasType: 'zero' | 'sigma_min';
  // alpha, sigma, lambda at timesteps[0..N-1] and after the last step (index N)
  private alpha = new Float64Array(0);
  private sigma = new Float64Array(0);
  private lambda = new Float64Array(0);
  private outputs: Float32Array[] = []; // previous converted outputs (x0 or eps), newest last
  private lastSample: Float32Array | undefined; // the (corrected) sample the last predictor started from
  private thisOrder = 0;
  private lowerOrderNums = 0;
  private nextIndex = 0;

  constructor(
    private readonly schedule: NoiseSchedule,
    options: UniPcOptions = {},
  ) {
    this.o = resolveCommon(options, schedule.T, { clipSample: false, timestepSpacing: 'linspace' });
    this.order = checkInt('solverOrder', options.solverOrder ?? 2, 1, 3);
    this.predictX0 = options.predictX0 ?? true;
    this.solverType = checkOneOf('solverType', options.solverType ?? 'bh2', ['bh1', 'bh2']);
    this.lowerOrderFinal = options.lowerOrderFinal ?? true;
    this.finalSigmasType = checkOneOf('finalSigmasType', options.finalSigmasType ?? 'zero', ['zero', 'sigma_min']);
    const disabled = options.disableCorrector ?? [];
    if (!Array.isArray(disabled)) throw new DiffusionOptionError('disableCorrector', 'must be an array of step indices');
    disabled.forEach((i, k) => checkInt(`disableCorrector[${k}]`, i, 0, schedule.T - 1));
    this.disableCorrector = new Set(disabled);
    // diffusers divides by the infinite last step h (lambda = +inf at sigma 0) in these two cases and returns NaN
    if (this.finalSigmasType === 'zero' && !this.predictX0) {
      throw new DiffusionOptionError('predictX0', "false needs finalSigmasType 'sigma_min' (the noise form is undefined at sigma 0)");
    }
    if (this.finalSigmasType === 'zero' && !this.lowerOrderFinal && this.order > 1) {
      throw new DiffusionOptionError('lowerOrderFinal', "false with solverOrder > 1 needs finalSigmasType 'sigma_min' (a multistep last step to sigma 0 is undefined)");
    }
  }

  get numTrainTimesteps(): number {
    return this.schedule.T;
  }

  setTimesteps(n: number): void {
    const T = this.schedule.T;
    this.timesteps = inferenceTimesteps(T, n, this.o.timestepSpacing, this.o.stepsOffset, this.o.timestepSpacing === 'trailing' ? 0 : 1);
    ({ alpha: this.alpha, sigma: this.sigma, lambda: this.lambda } = multistepGrid(this.schedule, this.timesteps, this.finalSigmasType));
    this.outputs = [];
    this.lastSample = undefined;
    this.thisOrder = 0;
    this.lowerOrderNums = 0;
    this.nextIndex = 0;
  }

  step(modelOutput: Float32Array, t: number, x: Float32Array, extras?: StepExtras): StepResult {
    const batch = checkStepInputs(modelOutput, x, extras, false);
    const i = stepIndexOf(this.timesteps, t);
    if (i !== this.nextIndex) {
      throw new Error(`UniPC is multistep: expected timestep ${this.timesteps[this.nextIndex]} next, got ${t} (call setTimesteps to restart)`);
    }
    const N = this.timesteps.length;

    const { x0, eps } = toX0AndEps(this.schedule, this.o.predictionType, modelOutput, t, x);
    let converted: Float32Array;
    if (this.predictX0) {
      processX0(x0, batch, this.o.x0);
      converted = x0;
    } else {
      converted = eps === modelOutput ? modelOutput.slice() : eps;
    }

    // UniC: correct the sample the model was just evaluated at, with that evaluation (Algorithm 1)
    let sample = x;
    if (i > 0 && !this.disableCorrector.has(i - 1) && this.lastSample) {
      sample = this.update(this.thisOrder, i - 1, this.lastSample, converted);
    }

    this.outputs.push(converted);
    if (this.outputs.length > this.order) this.outputs.shift();
    const order = this.lowerOrderFinal ? Math.min(this.order, N - i) : this.order;
    this.thisOrder = Math.min(order, this.lowerOrderNums + 1); // warm-up of the multistep history
    this.lastSample = sample;

    // UniP: predict the sample at the next grid point (Algorithm 2)
    const prev = this.update(this.thisOrder, i, sample, undefined);
    if (this.lowerOrderNums < this.order) this.lowerOrderNums++;
    this.nextIndex++;
    return { prev, predX0: x0 };
  }

  /**
   * One UniPC update of order p from grid point s0 = `i` to `i + 1`, starting at x. The history m0, m1, ...
   * is `outputs` (newest last, m0 the output at s0). Without `modelT` it is the predictor UniP-p; with the
   * model output at the new point it is the corrector UniC-p, which adds D_t = modelT - m0 with r = 1.
   */
  private update(p: number, i: number, x: Float32Array, modelT: Float32Array | undefined): Float32Array {
    const k = this.outputs.length;
    const m0 = this.outputs[k - 1];
    const alphaT = this.alpha[i + 1];
    const sigmaT = this.sigma[i + 1];
    const h = this.lambda[i + 1] - this.lambda[i];
    const corrector = modelT !== undefined;

    // r_k and D_k = (m_k - m0) / r_k from the earlier outputs
    const rks: number[] = [];
    const ms: Float32Array[] = [];
    for (let j = 1; j < p; j++) {
      rks.push((this.lambda[i - j] - this.lambda[i]) / h);
      ms.push(this.outputs[k - 1 - j]);
    }
    rks.push(1);

    const hh = this.predictX0 ? -h : h;
    const hPhi1 = Math.expm1(hh); // h phi_1(h) = e^h - 1
    const Bh = this.solverType === 'bh1' ? hh : Math.expm1(hh);
    // R[q][j] = r_j^q and b_q = q! h phi_{q+1}(h) / B(h) (Theorem 3.1)
    const R: number[][] = [];
    const b: number[] = [];
    let hPhiK = hPhi1 / hh - 1;
    let factorial = 1;
    for (let q = 1; q <= p; q++) {
      R.push(rks.map((r) => r ** (q - 1)));
      b.push((hPhiK * factorial) / Bh);
      factorial *= q + 1;
      hPhiK = hPhiK / hh - 1 / factorial;
    }

    let rhos: number[]; // weights of D_1..D_{p-1} (and of D_t for the corrector)
    if (corrector) rhos = p === 1 ? [0.5] : solve(R, b);
    else if (p === 1) rhos = [];
    else if (p === 2) rhos = [0.5];
    else rhos = solve(R.slice(0, -1), b.slice(0, -1));

    // x_t = cx x - cm m0 - cB (sum_k rho_k D_k [+ rho_t D_t])
    const cx = this.predictX0 ? sigmaT / this.sigma[i] : alphaT / this.alpha[i];
    const lead = this.predictX0 ? alphaT : sigmaT;
    const cm = lead * hPhi1;
    const cB = lead * Bh;
    const out = new Float32Array(x.length);
    const nD = ms.length;
    for (let j = 0; j < x.length; j++) {
      const mj = m0[j];
      let res = 0;
      for (let q = 0; q < nD; q++) res += (rhos[q] * (ms[q][j] - mj)) / rks[q];
      if (modelT) res += rhos[nD] * (modelT[j] - mj);
      // an order-1 predictor has no B(h) term: skipped, so bh1's B(h) = -inf at sigma 0 gives x0, not diffusers' NaN
      out[j] = nD === 0 && !modelT ? cx * x[j] - cm * mj : cx * x[j] - cm * mj - cB * res;
    }
    return out;
  }
}
