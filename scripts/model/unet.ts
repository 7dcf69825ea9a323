/**
 * The DDPM U-Net (Ho et al. 2020, appendix B; the layout of the original TF code and of diffusers'
 * UNet2DModel), defined once over `Ops<T>`: ops-tfjs.ts turns it into tensors for training, ops-onnx.ts
 * into an ONNX graph for export. Both emitters see the same calls with the same parameter names, so a
 * checkpoint written by training is exactly what the exporter looks up.
 *
 * Structure (C = baseChannels, E = 4C the embedding width, L = channelMults.length levels):
 *   emb   = dense(silu(dense(sinusoid(t, C)))) [+ classEmbedding(y)]                    [B, E]
 *   h     = conv3(x) -> C
 *   down  level i: numResBlocks x (ResBlock -> mults[i]*C [+ attention]), then a stride-2 conv (not on the last level)
 *   mid   ResBlock, attention, ResBlock
 *   up    level i (reversed): (numResBlocks + 1) x (concat skip -> ResBlock [+ attention]), then nearest 2x + conv3
 *   out   conv3(silu(groupNorm(h))) -> channels
 * ResBlock(x): h = conv3(silu(norm1(x))) + dense(silu(emb)); h = conv3(dropout(silu(norm2(h)))) (zero-init);
 *              return skip(x) + h, skip a 1x1 conv when the width changes.
 * Attention(x): x + proj(attn(q(n), k(n), v(n))), n = groupNorm(x), q/k/v/proj 1x1 convs (proj zero-init).
 *
 * Parameter names (each gets the suffixes of ops.ts: /kernel, /bias, /gamma, /beta, /table):
 *   time/dense0, time/dense1, class/embed, in/conv,
 *   down.{i}.res.{j}/{norm1,conv1,temb,norm2,conv2,skip}, down.{i}.attn.{j}/{norm,q,k,v,proj}, down.{i}.downsample,
 *   mid.res.0/..., mid.attn/..., mid.res.1/...,
 *   up.{i}.res.{j}/..., up.{i}.attn.{j}/..., up.{i}.upsample, out/norm, out/conv.
 */
import type { Ops } from './ops.ts';
import type { UNetConfig } from './config.ts';

/** Inputs of the network, in the emitter's tensor type. */
export interface UNetInputs<T> {
  /** Noisy images x_t: [B, C, H, W] (layout per emitter). */
  x: T;
  /** Integer timesteps, 0-based: [B]. */
  t: T;
  /** Class ids [B] (numClasses = the null class); required when numClasses > 0, ignored otherwise. */
  y?: T;
  /** Self-condition, an x0 estimate shaped like x (zeros when there is none); required when cfg.selfCondition. */
  selfCond?: T;
}

/** Throws a RangeError naming the first invalid field of an architecture. */
export function validateUNetConfig(cfg: UNetConfig): UNetConfig {
  const int = (name: string, v: number, min: number, max: number): void => {
    if (!Number.isInteger(v) || v < min || v > max) {
      throw new RangeError(`unet.${name} must be an integer in [${min}, ${max}] (got ${v})`);
    }
  };
  int('imageSize', cfg.imageSize, 4, 1024);
  int('channels', cfg.channels, 1, 4);
  int('baseChannels', cfg.baseChannels, 2, 1024);
  int('numResBlocks', cfg.numResBlocks, 1, 8);
  int('groups', cfg.groups, 1, 1024);
  int('numClasses', cfg.numClasses, 0, 100_000);
  if (cfg.selfCondition !== undefined && typeof cfg.selfCondition !== 'boolean') {
    throw new RangeError(`unet.selfCondition must be true or false (got ${JSON.stringify(cfg.selfCondition)})`);
  }
  if (!Array.isArray(cfg.channelMults) || cfg.channelMults.length < 1 || cfg.channelMults.length > 8) {
    throw new RangeError(`unet.channelMults must list 1 to 8 multipliers (got ${JSON.stringify(cfg.channelMults)})`);
  }
  cfg.channelMults.forEach((m, i) => int(`channelMults[${i}]`, m, 1, 64));
  const downs = cfg.channelMults.length - 1;
  if (cfg.imageSize % 2 ** downs !== 0) {
    throw new RangeError(
      `unet.imageSize ${cfg.imageSize} must be divisible by 2^${downs} (${cfg.channelMults.length} levels halve it ${downs} times)`,
    );
  }
  if (!(cfg.dropout >= 0 && cfg.dropout < 1)) throw new RangeError(`unet.dropout must be in [0, 1) (got ${cfg.dropout})`);
  for (const w of [cfg.baseChannels, ...cfg.channelMults.map((m) => m * cfg.baseChannels)]) {
    if (w % cfg.groups !== 0) throw new RangeError(`unet.groups ${cfg.groups} must divide every width (${w} is not divisible)`);
  }
  const resolutions = cfg.channelMults.map((_, i) => cfg.imageSize / 2 ** i);
  for (const r of cfg.attentionResolutions) {
    if (!resolutions.includes(r)) {
      throw new RangeError(`unet.attentionResolutions: ${r} is not one of the model's resolutions ${resolutions.join(', ')}`);
    }
  }
  return cfg;
}

/** Width of the timestep (and class) embedding. */
export function embeddingDim(cfg: UNetConfig): number {
  return cfg.baseChannels * 4;
}

/** The network: returns the model output (eps, x0 or v per the model's prediction type), shaped like x. */
export function unet<T>(ops: Ops<T>, cfg: UNetConfig, inputs: UNetInputs<T>): T {
  validateUNetConfig(cfg);
  const C = cfg.baseChannels;
  const E = embeddingDim(cfg);
  const levels = cfg.channelMults.length;

  // Timestep embedding MLP (+ class embedding, guided-diffusion style: added after the MLP).  [B, E]
  let emb = ops.timestepEmbedding(inputs.t, C);
  emb = ops.dense(emb, 'time/dense0', E);
  emb = ops.dense(ops.silu(emb), 'time/dense1', E);
  if (cfg.numClasses > 0) {
    if (inputs.y === undefined) throw new Error('unet: class ids y are required for a class-conditional model');
    emb = ops.add(emb, ops.embedding(inputs.y, 'class/embed', cfg.numClasses + 1, E));
  }
  const embAct = ops.silu(emb); // shared by every ResBlock's projection

  const resBlock = (x: T, name: string, cin: number, cout: number): T => {
    let h = ops.silu(ops.groupNorm(x, `${name}/norm1`, cfg.groups));
    h = ops.conv2d(h, `${name}/conv1`, cout, 3);
    h = ops.addPerChannel(h, ops.dense(embAct, `${name}/temb`, cout));
    h = ops.silu(ops.groupNorm(h, `${name}/norm2`, cfg.groups));
    h = ops.dropout(h, cfg.dropout);
    h = ops.conv2d(h, `${name}/conv2`, cout, 3, 1, 'zero');
    const skip = cin === cout ? x : ops.conv2d(x, `${name}/skip`, cout, 1);
    return ops.add(skip, h);
  };
  const attention = (x: T, name: string, c: number): T => {
    const n = ops.groupNorm(x, `${name}/norm`, cfg.groups);
    const q = ops.conv2d(n, `${name}/q`, c, 1);
    const k = ops.conv2d(n, `${name}/k`, c, 1);
    const v = ops.conv2d(n, `${name}/v`, c, 1);
    const a = ops.spatialAttention(q, k, v);
    return ops.add(x, ops.conv2d(a, `${name}/proj`, c, 1, 1, 'zero'));
  };

  // Self-conditioning: [selfCond | x] along channels (lucidrains' order), so in/conv sees 2 x channels.
  let input = inputs.x;
  if (cfg.selfCondition === true) {
    if (inputs.selfCond === undefined) throw new Error('unet: the self-condition input is required for a self-conditioned model');
    input = ops.concatChannels(inputs.selfCond, inputs.x);
  }

  // Down path; `skips` holds every activation the up path concatenates, with its width.
  let h = ops.conv2d(input, 'in/conv', C, 3);
  let ch = C;
  const skips: { h: T; ch: number }[] = [{ h, ch }];
  for (let i = 0; i < levels; i++) {
    const res = cfg.imageSize / 2 ** i;
    const cout = cfg.channelMults[i] * C;
    for (let j = 0; j < cfg.numResBlocks; j++) {
      h = resBlock(h, `down.${i}.res.${j}`, ch, cout);
      ch = cout;
      if (cfg.attentionResolutions.includes(res)) h = attention(h, `down.${i}.attn.${j}`, ch);
      skips.push({ h, ch });
    }
    if (i !== levels - 1) {
      h = ops.conv2d(h, `down.${i}.downsample`, ch, 3, 2);
      skips.push({ h, ch });
    }
  }

  // Middle: ResBlock, attention, ResBlock (attention always, as in DDPM).
  h = resBlock(h, 'mid.res.0', ch, ch);
  h = attention(h, 'mid.attn', ch);
  h = resBlock(h, 'mid.res.1', ch, ch);

  // Up path.
  for (let i = levels - 1; i >= 0; i--) {
    const res = cfg.imageSize / 2 ** i;
    const cout = cfg.channelMults[i] * C;
    for (let j = 0; j < cfg.numResBlocks + 1; j++) {
      const skip = skips.pop();
      if (skip === undefined) throw new Error('unet: skip stack underflow (internal error)');
      h = resBlock(ops.concatChannels(h, skip.h), `up.${i}.res.${j}`, ch + skip.ch, cout);
      ch = cout;
      if (cfg.attentionResolutions.includes(res)) h = attention(h, `up.${i}.attn.${j}`, ch);
    }
    if (i !== 0) {
      h = ops.upsampleConv(h, `up.${i}.upsample`, ch);
    }
  }
  if (skips.length !== 0) throw new Error(`unet: ${skips.length} skip connections left unused (internal error)`);

  h = ops.silu(ops.groupNorm(h, 'out/norm', cfg.groups));
  return ops.conv2d(h, 'out/conv', cfg.channels, 3, 1, 'zero');
}
