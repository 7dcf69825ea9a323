import { ProblemError } from '../api/problem.ts';

function tooLarge(max: number): ProblemError {
  return new ProblemError(413, 'Payload too large', `the body may be at most ${max} bytes`);
}

/**
 * The request body as UTF-8 text, refused with 413 past `maxBytes` bytes (bytes, not characters: 16 KiB of
 * emoji is 4 KiB of characters) without reading further, and with 400 when it is not UTF-8.
 */
export async function readBodyText(request: Request, maxBytes: number): Promise<string> {
  const declared = request.headers.get('content-length');
  if (declared !== null && Number(declared) > maxBytes) throw tooLarge(maxBytes);
  const bytes = new Uint8Array(maxBytes);
  let length = 0;
  if (request.body) {
    const reader = request.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (length + value.byteLength > maxBytes) {
        await reader.cancel();
        throw tooLarge(maxBytes);
      }
      bytes.set(value, length);
      length += value.byteLength;
    }
  }
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes.subarray(0, length));
  } catch {
    throw new ProblemError(400, 'Invalid body', 'the body must be UTF-8 text');
  }
}
