/** Copies (and patches) onnxruntime-web's glue and wasm next to ort-entry.mjs. */
export function vendorOrtWasm(): void;
