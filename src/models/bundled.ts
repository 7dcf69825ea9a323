// The models shipped inside the worker bundle: one import pair per model folder (models/<name>/), its card and
// its int8 ONNX file (wrangler rule Data: an ArrayBuffer). Which of them are served, in which order and with
// which limits and defaults is data: served.json. To serve another model, add its pair here and its entry there.
import fmnistSmallCard from '../../models/fmnist-small/model.json';
import fmnistSmallInt8 from '../../models/fmnist-small/unet.int8.onnx';
import fmnistTinyCard from '../../models/fmnist-tiny/model.json';
import fmnistTinyInt8 from '../../models/fmnist-tiny/unet.int8.onnx';
import fixtureTinyCard from '../../models/fixture-tiny/model.json';
import fixtureTinyInt8 from '../../models/fixture-tiny/unet.int8.onnx';
import { isColdCard, parseColdCard, type ColdEntry } from './cold.ts';
import { createRegistry, parseModelCard, type ModelEntry, type ModelRegistry } from './registry.ts';
import { SERVED_MODELS } from './served.ts';

const FILES: Record<string, { card: unknown; bytes: ArrayBuffer }> = {
  'fmnist-small': { card: fmnistSmallCard, bytes: fmnistSmallInt8 },
  'fmnist-tiny': { card: fmnistTinyCard, bytes: fmnistTinyInt8 },
  'fixture-tiny': { card: fixtureTinyCard, bytes: fixtureTinyInt8 },
};

/** The served models: DDPM cards into the registry's list, Cold Diffusion cards (their `kind`) into its `cold` part. */
export function bundledModels(): ModelRegistry {
  const ddpm: ModelEntry[] = [];
  const cold: ColdEntry[] = [];
  for (const m of SERVED_MODELS) {
    const files = FILES[m.name];
    if (files === undefined) throw new TypeError(`served.json names model ${m.name}, which src/models/bundled.ts does not bundle`);
    if (isColdCard(files.card)) cold.push({ card: parseColdCard(files.card), bytes: files.bytes, limits: m.limits });
    else ddpm.push({ card: parseModelCard(files.card), bytes: files.bytes, limits: m.limits, ...(m.defaults ? { defaults: m.defaults } : {}) });
  }
  return createRegistry(ddpm, undefined, cold);
}
