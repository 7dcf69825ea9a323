// Signs our own callbacks the Standard Webhooks way, with the library (never hand-written HMAC).
import { Webhook } from 'standardwebhooks';

export interface SignedHeaders {
  'webhook-id': string;
  'webhook-timestamp': string;
  'webhook-signature': string;
}

/**
 * Headers for one delivery attempt of message `id` with `body` (the exact bytes sent). The id stays the
 * same on retries (receivers deduplicate on it); the timestamp is the attempt's, so the receiver's
 * tolerance window applies to each attempt.
 */
export function signWebhook(secret: string, id: string, body: string, at: Date = new Date()): SignedHeaders {
  const seconds = Math.floor(at.getTime() / 1000);
  const signature = new Webhook(secret).sign(id, new Date(seconds * 1000), body);
  return { 'webhook-id': id, 'webhook-timestamp': String(seconds), 'webhook-signature': signature };
}
