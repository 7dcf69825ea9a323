// Helpers shared by several src/ folders (storage keys, batch auth, web assets, model integrity); this folder
// imports nothing from the others, so imports run one way: from a feature folder into src/shared/.

/** Lowercase hex sha256 of bytes or of a string's UTF-8 (Web Crypto: the same in Node and workerd). */
export async function sha256Hex(data: ArrayBuffer | Uint8Array<ArrayBuffer> | string): Promise<string> {
  const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
  const digest = await crypto.subtle.digest('SHA-256', bytes);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}
