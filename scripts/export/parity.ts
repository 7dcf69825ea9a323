/**
 * Parity: the tfjs model (training's emitter, scripts/model/ops-tfjs.ts) and the exported fp32 ONNX graph
 * (onnxruntime-web) on the same weights and inputs. Both come from scripts/model/unet.ts.
 */
import type { ModelInputs } from '../../src/diffusion/types.ts';
import type { ModelSession } from '../../src/inference/onnx.ts';
import type { UNetConfig } from '../model/config.ts';
import type { ParamSource } from '../model/ops-onnx.ts';
import { createUNet, setWeights, toEpsModel } from '../train/model.ts';
import { errorStats, type ErrorStats } from './measure.ts';

/** The tfjs forward of `inputs` with the given weights, NCHW. */
export async function tfjsForward(cfg: UNetConfig, params: ParamSource, inputs: readonly ModelInputs[]): Promise<Float32Array[]> {
  const model = createUNet(cfg, 0);
  const flat = new Float32Array(model.layout.total);
  for (const e of model.layout.entries) flat.set(params(e.name, e.shape), e.offset);
  setWeights(model, flat);
  const eps = toEpsModel(model);
  const out: Float32Array[] = [];
  try {
    for (const input of inputs) {
      out.push(await eps(input));
    }
  } finally {
    for (const v of model.params.values()) v.dispose();
  }
  return out;
}

/** Max-abs (and rms) difference between tfjs and onnxruntime-web over the inputs. */
export async function tfjsOrtParity(
  cfg: UNetConfig,
  params: ParamSource,
  session: ModelSession,
  inputs: readonly ModelInputs[],
): Promise<ErrorStats> {
  const ref = await tfjsForward(cfg, params, inputs);
  const a: number[] = [];
  const b: number[] = [];
  for (const [i, input] of inputs.entries()) {
    a.push(...(await session.run(input)));
    b.push(...ref[i]);
  }
  return errorStats(Float32Array.from(a), Float32Array.from(b));
}
