/** Why a callback URL is refused (the message is shown to the caller). */
export class CallbackUrlError extends Error {
  override readonly name = 'CallbackUrlError';
}

export interface CallbackUrlPolicy {
  /** Local development only (`CALLBACK_ALLOW_HTTP=true` in .dev.vars): also http:, and loopback hosts. */
  allowHttp: boolean;
}

const MAX_LENGTH = 2048;

function isPrivateIpv4(host: string): boolean {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host);
  if (!m) return false;
  const [a, b] = [Number(m[1]), Number(m[2])];
  return a === 0 || a === 10 || a === 127 || (a === 169 && b === 254) || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || (a === 100 && b >= 64 && b <= 127);
}

function isLocalHost(host: string): boolean {
  const h = host.toLowerCase().replace(/\.$/, '');
  if (h === 'localhost' || h.endsWith('.localhost') || h.endsWith('.local') || h.endsWith('.internal')) return true;
  if (h.startsWith('[')) return true; // IPv6 literals: loopback, link-local and ULA are all refused, public ones are rare
  return isPrivateIpv4(h);
}

/**
 * Checks a caller's callback URL: absolute, https (http only in local development), no credentials,
 * no fragment, no loopback/private/link-local host (outside local development), at most 2048 characters.
 * Returns the normalized URL.
 */
export function validateCallbackUrl(raw: string, policy: CallbackUrlPolicy): string {
  if (raw.length > MAX_LENGTH) throw new CallbackUrlError(`must be at most ${MAX_LENGTH} characters`);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new CallbackUrlError('must be an absolute URL');
  }
  const httpOk = policy.allowHttp && url.protocol === 'http:';
  if (url.protocol !== 'https:' && !httpOk) {
    throw new CallbackUrlError(policy.allowHttp ? 'must use https: or http:' : 'must use https: (http: is accepted in local development only)');
  }
  if (url.username !== '' || url.password !== '') throw new CallbackUrlError('must not carry credentials');
  if (url.hash !== '') throw new CallbackUrlError('must not have a fragment');
  if (!policy.allowHttp && isLocalHost(url.hostname)) {
    throw new CallbackUrlError(`must not point at a local or private host (${url.hostname})`);
  }
  return url.toString();
}
