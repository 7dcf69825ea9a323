import { SAMPLER_NAMES } from '../diffusion/index.ts';
import { DEFAULTS, LIMITS } from '../render/limits.ts';
import { servingDefaults, type ModelEntry, type ModelRegistry } from '../models/registry.ts';
import type { Assets } from './assets.ts';
import { escapeHtml, scriptJson } from './html.ts';

/** The seed of the page's first image (/v1/samples/42.png?class=2 for a 10-class model), a cache hit once generated. */
export const DEMO_SEED = 42;

export interface DemoModel {
  name: string;
  numClasses: number;
  classNames: string[] | null;
  /** Steps one unguided sample may use: the request limit, the model's T and its work limit. */
  maxSteps: number;
  /** The model's work limit (images x steps, x 2 with guidance, as /v1/models reports it): the form keeps within it. */
  maxImageSteps: number;
  /**
   * The model's defaults (servingDefaults): the form starts from them and omits them from URLs. `guidance` is the
   * scale a request with a class gets (1: none), which doubles the work the limit counts.
   */
  defaults: { sampler: string; steps: number; guidance: number };
  /**
   * The class the form starts with (on load and when this model is picked): DEMO_SEED mod numClasses, so the
   * first image of a class-conditional model is sampled with its default guidance (without a class it samples
   * unconditionally, at guidance 1: often a shapeless blob). Null for an unconditional model.
   */
  initialClass: number | null;
}

/** A Cold Diffusion model of the page's restoration section. */
export interface DemoColdModel {
  name: string;
  kind: string;
  /** Levels 1..T of the slider. */
  T: number;
  imageSize: number;
  channels: number;
}

export interface DemoConfig {
  defaultModel: string;
  /** Images of the grid button when the model's work limit allows them (fewer when it does not). */
  gridImages: number;
  models: DemoModel[];
  /** Cold Diffusion models (restoration section; absent from the page when there are none). */
  cold: DemoColdModel[];
}

function demoModel(entry: ModelEntry): DemoModel {
  const { card, limits } = entry;
  const defaults = servingDefaults(entry);
  return {
    name: card.name,
    numClasses: card.architecture.numClasses,
    classNames: card.classNames,
    maxSteps: Math.min(LIMITS.maxSteps, card.schedule.T, limits.maxImageSteps),
    maxImageSteps: limits.maxImageSteps,
    defaults: { sampler: defaults.sampler, steps: defaults.steps, guidance: defaults.guidance },
    initialClass: card.architecture.numClasses > 0 ? DEMO_SEED % card.architecture.numClasses : null,
  };
}

export function demoConfig(registry: ModelRegistry): DemoConfig {
  const cold = registry.cold.list().map(({ card }) => ({ name: card.name, kind: card.kind, T: card.process.T, imageSize: card.imageSize, channels: card.channels }));
  return { defaultModel: registry.defaultName, gridImages: DEFAULTS.gridImages, models: registry.list().map(demoModel), cold };
}

/**
 * The restoration section (Cold Diffusion models only): an image (the one shown above, or an upload) is drawn
 * at the model's size, degraded to t by the worker and restored step by step (POST /v1/restore/stream).
 */
function coldSection(cold: readonly DemoColdModel[]): string {
  const first = cold[0];
  if (!first) return '';
  const half = Math.max(1, Math.round(first.T / 2));
  return `<section class="card cold" aria-label="restore">
<h2>Restore a degraded image (Cold Diffusion)</h2>
<p class="lede">Cold Diffusion (Bansal et al. 2022) inverts a degradation other than noise. The worker blurs or masks the image to level
<i>t</i>, then walks back to level 0 with the restoration network, one step per level (the paper's Algorithm 2).</p>
<form id="cold-controls">
<label for="cold-model">Model</label><select id="cold-model">${options(
    cold.map((m) => ({ value: m.name, label: `${m.name} (${m.kind}, T = ${m.T})` })),
    first.name,
  )}</select>
<label for="cold-source">Image</label><select id="cold-source"><option value="shown" selected>the image shown above</option><option value="upload">a file of yours</option></select>
<label for="cold-file" class="upload" hidden>File</label><input id="cold-file" class="upload" type="file" accept="image/*" hidden>
<label for="cold-t">Level t</label><span class="seed"><input id="cold-t" type="range" min="1" max="${first.T}" value="${half}"><output id="cold-t-value" for="cold-t">${half}</output></span>
<label class="check"><input id="cold-naive" type="checkbox"> the naive Algorithm 1 instead (for comparison)</label>
<div class="actions"><button class="primary" id="restore" type="submit">Degrade and restore</button></div>
</form>
<div class="strip">
<figure><img id="cold-clean" class="pixels" alt="the image to degrade" width="128" height="128"><figcaption>clean</figcaption></figure>
<figure><img id="cold-degraded" class="pixels" alt="the degraded image" width="128" height="128"><figcaption>degraded to t</figcaption></figure>
<figure><img id="cold-result" class="pixels" alt="the restoration" width="128" height="128" data-state="idle"><figcaption id="cold-caption">restored</figcaption></figure>
</div>
<progress id="cold-progress" max="${half}" value="0"></progress>
<span id="cold-status" role="status" aria-live="polite">pick an image and a level</span>
</section>`;
}

function options(values: readonly { value: string; label: string }[], selected: string): string {
  return values.map((v) => `<option value="${escapeHtml(v.value)}"${v.value === selected ? ' selected' : ''}>${escapeHtml(v.label)}</option>`).join('');
}

/** The head shared by the demo and reference pages. */
export function pageHead(title: string, description: string, assets: Assets): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<meta name="description" content="${escapeHtml(description)}">
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/assets/${assets.css.name}">
</head>`;
}

/** GET /: the form, the image (a cached URL on first view: no model run), the live preview, a gallery. */
export function renderDemoPage(registry: ModelRegistry, assets: Assets): string {
  const config = demoConfig(registry);
  const model = config.models.find((m) => m.name === config.defaultModel) ?? config.models[0];
  if (!model) throw new RangeError('no model to show');
  const classes = [{ value: '', label: 'any (unconditional)' }].concat(
    Array.from({ length: model.numClasses }, (_, k) => ({ value: String(k), label: `${k}: ${model.classNames?.[k] ?? k}` })),
  );
  // the URL the script builds for the form as rendered: its class, and no parameter that equals a default
  const initialClass = classes.find((c) => c.value === String(model.initialClass));
  const first = `/v1/samples/${DEMO_SEED}.png${initialClass ? `?class=${initialClass.value}` : ''}`;
  const modelField =
    config.models.length > 1
      ? `<label for="model">Model</label><select id="model" name="model">${options(
          config.models.map((m) => ({ value: m.name, label: m.name })),
          config.defaultModel,
        )}</select>`
      : '';
  // as the script's fitLimits: a guided request (a class, guidance != 1) counts each step twice against the work limit
  const guided = initialClass !== undefined && initialClass.value !== '' && model.defaults.guidance !== 1;
  const samplers = SAMPLER_NAMES.map((s) => ({ value: s, label: s }));
  return `${pageHead('ddpm-edge: diffusion at the edge', 'Generate images with a DDPM at the edge and watch the denoising live.', assets)}
<body>
<header>
<h1>ddpm-edge</h1>
<nav><a href="/docs">API reference</a><a href="/openapi.json">OpenAPI</a><a href="/v1/models">Models</a></nav>
</header>
<main>
<p class="lede">A denoising diffusion model (Ho et al. 2020) running in a Cloudflare Worker. Pick a seed and watch the model's
prediction of the final image sharpen step by step.</p>
<div class="studio">
<section class="card" aria-label="image">
<figure>
<img id="image" class="pixels" src="${first}" width="256" height="256" alt="a generated sample" data-state="idle" fetchpriority="high">
<progress id="progress" max="${model.defaults.steps}" value="${model.defaults.steps}"></progress>
<figcaption class="row"><span id="status" role="status" aria-live="polite">seed ${DEMO_SEED}${initialClass ? `, class ${escapeHtml(initialClass.label)}` : ''}, default parameters</span><a id="permalink" href="${first}">PNG</a></figcaption>
</figure>
</section>
<section class="card" aria-label="parameters">
<form id="controls">
${modelField}
<label for="class">Class</label><select id="class" name="class"${model.numClasses === 0 ? ' disabled' : ''}>${options(classes, initialClass?.value ?? '')}</select>
<label for="sampler">Sampler</label><select id="sampler" name="sampler">${options(samplers, model.defaults.sampler)}</select>
<label for="steps">Steps</label><input id="steps" name="steps" type="number" inputmode="numeric" min="1" max="${guided ? Math.max(1, Math.min(model.maxSteps, Math.floor(model.maxImageSteps / 2))) : model.maxSteps}" value="${model.defaults.steps}" required>
<label for="seed">Seed</label><span class="seed"><input id="seed" name="seed" inputmode="numeric" pattern="[0-9]{1,16}" value="${DEMO_SEED}" required><button type="button" id="random" title="random seed">Random</button></span>
<label class="check"><input id="live" type="checkbox" checked> live denoising preview (server-sent events)</label>
<div class="actions"><button class="primary" id="generate" type="submit">Generate</button><button type="button" id="show-grid">Grid of ${DEFAULTS.gridImages}</button></div>
</form>
</section>
</div>
${coldSection(config.cold)}
<section class="gallery card" aria-label="gallery">
<h2>Gallery</h2>
<div id="history" aria-label="generated this session"></div>
<img id="grid" class="pixels" hidden alt="">
</section>
</main>
<footer>Images are deterministic (model, parameters, seed) and cached at the edge. <a href="/docs">API reference</a></footer>
<script id="config" type="application/json">${scriptJson(config)}</script>
<script src="/assets/${assets.js.name}" defer></script>
</body>
</html>
`;
}
