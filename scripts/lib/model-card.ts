/** Reading a model folder's model.json in Node: the one validator (src/model-card.ts parseModelCard) over the file. */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { parseModelCard, type ModelCard } from '../../src/model-card.ts';

/** The card of `dir`/model.json, validated; an Error naming the file and what is wrong. */
export function readModelCard(dir: string): ModelCard {
  const file = path.join(dir, 'model.json');
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`${file}: cannot read the model card (${(e as Error).message})`, { cause: e });
  }
  try {
    return parseModelCard(json);
  } catch (e) {
    throw new Error(`${file}: ${(e as Error).message}`, { cause: e });
  }
}
