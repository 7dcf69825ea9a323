// Who may start a batch: an API client with a bearer key (BATCH_API_KEYS), or a webhook sender signing
// with Standard Webhooks (WEBHOOK_SECRETS). Both lists hold several entries for key rotation.
import { ProblemError } from '../api/problem.ts';
import type { Env } from '../env.ts';
import { sha256Hex } from '../shared/sha256.ts';
import { parseSecrets, verifyWebhook, WebhookAuthError } from '../webhooks/index.ts';
import type { BatchAuth } from './types.ts';

export interface Caller {
  auth: BatchAuth;
  /** webhook-id, or the Idempotency-Key header of an API client; null when none was given. */
  idempotencyKey: string | null;
  /** Scope of the idempotency key: one namespace per API key, one for all webhook senders. */
  scope: string;
}

/** 401 with the reason; the route adds WWW-Authenticate. */
export function unauthorized(reason: string, detail: string): ProblemError {
  return new ProblemError(401, 'Unauthorized', detail, { reason });
}

async function timingSafeEqualText(a: string, b: string): Promise<boolean> {
  // Equal-length digests, compared without an early exit.
  const [x, y] = await Promise.all([a, b].map(async (s) => new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(s)))));
  let diff = 0;
  for (let i = 0; i < x.length; i++) diff |= x[i] ^ y[i];
  return diff === 0;
}

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

/**
 * Authenticates POST /v1/batches. An Authorization header selects the API-key mode; otherwise the
 * request must carry the three Standard Webhooks headers. Throws a 401 ProblemError (503 when the mode's
 * secrets are not configured).
 */
export async function authenticate(headers: Headers, body: string, env: Env): Promise<Caller> {
  const authorization = headers.get('authorization');
  if (authorization !== null) {
    const keys = parseSecrets(env.BATCH_API_KEYS);
    if (keys.length === 0) throw new ProblemError(503, 'Not configured', 'API keys are not configured (BATCH_API_KEYS)');
    const m = /^Bearer\s+(\S+)$/i.exec(authorization.trim());
    if (!m) throw unauthorized('bad-authorization', 'Authorization must be "Bearer <key>"');
    const presented = m[1];
    let match = false;
    for (const key of keys) match = (await timingSafeEqualText(presented, key)) || match;
    if (!match) throw unauthorized('wrong-key', 'the bearer key is not valid');
    const idempotencyKey = headers.get('idempotency-key');
    if (idempotencyKey !== null && !IDEMPOTENCY_KEY.test(idempotencyKey)) {
      throw new ProblemError(400, 'Invalid parameter', 'Idempotency-Key must be 1 to 255 visible ASCII characters', { param: 'Idempotency-Key' });
    }
    return { auth: 'api-key', idempotencyKey, scope: `api:${(await sha256Hex(presented)).slice(0, 16)}` };
  }
  const secrets = parseSecrets(env.WEBHOOK_SECRETS);
  if (secrets.length === 0 && ['webhook-id', 'webhook-timestamp', 'webhook-signature'].some((h) => headers.has(h))) {
    throw new ProblemError(503, 'Not configured', 'webhook secrets are not configured (WEBHOOK_SECRETS)');
  }
  try {
    const delivery = verifyWebhook(body, headers, secrets);
    return { auth: 'webhook', idempotencyKey: delivery.id, scope: 'webhook' };
  } catch (error) {
    if (error instanceof WebhookAuthError) {
      const detail =
        error.reason === 'missing-headers' || error.reason === 'not-configured'
          ? `send "Authorization: Bearer <key>" or sign with Standard Webhooks (webhook-id, webhook-timestamp, webhook-signature): ${error.message}`
          : error.message;
      throw unauthorized(error.reason, detail);
    }
    throw error;
  }
}

async function hmacHex(secret: string, text: string): Promise<string> {
  const encoder = new TextEncoder();
  const key = await crypto.subtle.importKey('raw', encoder.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const mac = new Uint8Array(await crypto.subtle.sign('HMAC', key, encoder.encode(text)));
  return Array.from(mac, (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * The job id: random, or, with an idempotency key, HMAC-SHA256 of (scope, key) under a server secret
 * (BATCH_ID_SECRET, else CALLBACK_SIGNING_SECRET), so that every replay of a delivery lands on the same job (the
 * same Durable Object) while nobody who only saw a webhook-id can compute the id. 32 hex characters.
 */
export async function jobIdFor(caller: Caller, env: Pick<Env, 'BATCH_ID_SECRET' | 'CALLBACK_SIGNING_SECRET'>): Promise<string> {
  if (caller.idempotencyKey === null) return crypto.randomUUID().replaceAll('-', '');
  const secret = env.BATCH_ID_SECRET || env.CALLBACK_SIGNING_SECRET;
  if (!secret) throw new ProblemError(503, 'Not configured', 'job ids of idempotent requests need BATCH_ID_SECRET (or CALLBACK_SIGNING_SECRET), which is not configured');
  return (await hmacHex(secret, `ddpm-edge/batch/v2\n${caller.scope}\n${caller.idempotencyKey}`)).slice(0, 32);
}
