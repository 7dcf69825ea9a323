import { signWebhook } from './sign.ts';

export interface DeliveryResult {
  ok: boolean;
  /** HTTP status of the response, absent when the request failed (network, timeout). */
  status?: number;
  error?: string;
}

export interface Delivery {
  url: string;
  /** Standard Webhooks message id, stable across retries. */
  id: string;
  /** The JSON text to send (signed as is). */
  body: string;
  secret: string;
}

/** Seconds one attempt may take before it counts as failed. */
export const CALLBACK_TIMEOUT_MS = 10_000;

/**
 * One signed POST of a callback. 2xx is success; anything else (redirects included: they are not
 * followed), a network error or a timeout is a failure to retry.
 */
export async function deliverOnce(delivery: Delivery, fetcher: typeof fetch = fetch): Promise<DeliveryResult> {
  const headers = {
    ...signWebhook(delivery.secret, delivery.id, delivery.body),
    'content-type': 'application/json',
    'user-agent': 'ddpm-edge-callbacks/1',
  };
  try {
    const response = await fetcher(delivery.url, {
      method: 'POST',
      headers,
      body: delivery.body,
      redirect: 'manual',
      signal: AbortSignal.timeout(CALLBACK_TIMEOUT_MS),
    });
    await response.body?.cancel();
    if (response.status >= 200 && response.status < 300) return { ok: true, status: response.status };
    return { ok: false, status: response.status, error: `HTTP ${response.status}` };
  } catch (error) {
    return { ok: false, error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) };
  }
}
