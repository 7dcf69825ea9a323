// Standard Webhooks verification (https://www.standardwebhooks.com) with the maintained `standardwebhooks`
// library: HMAC-SHA256 over `${webhook-id}.${webhook-timestamp}.${body}`, several `v1,<base64>` signatures
// per header (the sender's key rotation), and a 5-minute timestamp tolerance (the library's).
import { Webhook, WebhookVerificationError } from 'standardwebhooks';

/** Why a delivery was refused; every reason is a 401 (the message says which). */
export type WebhookRefusal = 'missing-headers' | 'bad-timestamp' | 'stale-timestamp' | 'bad-signature' | 'not-configured';

export class WebhookAuthError extends Error {
  override readonly name = 'WebhookAuthError';
  constructor(
    readonly reason: WebhookRefusal,
    message: string,
  ) {
    super(message);
  }
}

export interface VerifiedDelivery {
  /** webhook-id: the sender's message id, the same on its retries (our idempotency key). */
  id: string;
  /** webhook-timestamp, seconds since the epoch. */
  timestamp: number;
}

/** `whsec_...` secrets from a comma- or whitespace-separated list (several: our side of key rotation). */
export function parseSecrets(list: string | undefined): string[] {
  return (list ?? '')
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

const HEADERS = ['webhook-id', 'webhook-timestamp', 'webhook-signature'] as const;

/**
 * Verifies a delivery against any of `secrets` (each `whsec_<base64>`). `body` must be the raw request
 * text, byte for byte. Throws WebhookAuthError naming the reason; returns the delivery's id and timestamp.
 */
export function verifyWebhook(body: string, headers: Headers, secrets: readonly string[]): VerifiedDelivery {
  if (secrets.length === 0) throw new WebhookAuthError('not-configured', 'no webhook secret is configured (WEBHOOK_SECRETS)');
  const missing = HEADERS.filter((name) => !headers.get(name));
  if (missing.length > 0) throw new WebhookAuthError('missing-headers', `missing Standard Webhooks header(s): ${missing.join(', ')}`);
  const values: Record<(typeof HEADERS)[number], string> = {
    'webhook-id': headers.get('webhook-id') ?? '',
    'webhook-timestamp': headers.get('webhook-timestamp') ?? '',
    'webhook-signature': headers.get('webhook-signature') ?? '',
  };
  if (!/^[0-9]{1,12}$/.test(values['webhook-timestamp'])) {
    throw new WebhookAuthError('bad-timestamp', 'webhook-timestamp must be an integer number of seconds since the epoch');
  }
  if (values['webhook-id'].length > 256) throw new WebhookAuthError('missing-headers', 'webhook-id is longer than 256 characters');
  let lastError: unknown;
  for (const secret of secrets) {
    try {
      new Webhook(secret).verify(body, values, { jsonParse: false });
      return { id: values['webhook-id'], timestamp: Number(values['webhook-timestamp']) };
    } catch (error) {
      lastError = error;
      // The timestamp check comes first and does not depend on the secret: no other secret can pass.
      if (error instanceof WebhookVerificationError && /timestamp/i.test(error.message)) break;
    }
  }
  if (lastError instanceof WebhookVerificationError && /timestamp/i.test(lastError.message)) {
    throw new WebhookAuthError('stale-timestamp', `webhook-timestamp is outside the 5-minute tolerance (${lastError.message})`);
  }
  throw new WebhookAuthError('bad-signature', 'no webhook-signature matches a configured secret');
}
