import type { NetworkEntry } from '../models/registry.ts';
import { sha256Hex } from '../shared/sha256.ts';

/** The bundled model bytes do not match the sha256 of its model card: nothing of that model is served. */
export class ModelIntegrityError extends Error {
  override readonly name = 'ModelIntegrityError';
  constructor(
    readonly model: string,
    readonly expected: string,
    readonly actual: string,
  ) {
    super(`model ${model}: int8 file sha256 ${actual} does not match model.json (${expected})`);
  }
}


const verified = new WeakMap<NetworkEntry, Promise<void>>();

/**
 * Checks the bundled int8 bytes against `card.files.int8.sha256`, once per isolate and entry. Every route
 * that serves something of a model (including cache hits and 304s) awaits this first.
 */
export function verifyModel(entry: NetworkEntry): Promise<void> {
  let check = verified.get(entry);
  if (!check) {
    check = (async function checkModelHash() {
      const expected = entry.card.files.int8.sha256.toLowerCase();
      const actual = await sha256Hex(entry.bytes);
      if (actual !== expected) throw new ModelIntegrityError(entry.card.name, expected, actual);
    })();
    verified.set(entry, check);
  }
  return check;
}
