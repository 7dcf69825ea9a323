/** The worker's bindings (wrangler.toml). */
export interface Env {
  /** Generated PNGs, content-addressed (src/storage/keys.ts). */
  GRIDS: R2Bucket;
  /**
   * Module specifier of src/inference/wasm/ort-entry.mjs as the runtime resolves it: relative to wrangler's
   * base_dir ("/inference/...") when deployed or under `wrangler dev`, "/src/inference/..." in the tests.
   */
  ORT_WASM_ENTRY: string;
}
