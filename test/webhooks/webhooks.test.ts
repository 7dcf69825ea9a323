// Standard Webhooks pieces in Node: verification (rotation, several signatures, tolerance), signing,
// callback URL rules, retry schedules. The end-to-end paths are in test/worker/batches.test.ts.
import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { chunkRetryDelay } from '../../src/batches/limits.ts';
import {
  CALLBACK_SCHEDULE_SECONDS,
  callbackSchedule,
  nextCallbackDelay,
  parseSecrets,
  signWebhook,
  validateCallbackUrl,
  verifyWebhook,
  WebhookAuthError,
} from '../../src/webhooks/index.ts';

const OLD = 'whsec_' + Buffer.from('old-secret-old-secret-old-secret').toString('base64');
const NEW = 'whsec_' + Buffer.from('new-secret-new-secret-new-secret').toString('base64');

function headersFor(body: string, secret: string, id = 'msg_1', at = Math.floor(Date.now() / 1000)): Headers {
  const signature = new Webhook(secret).sign(id, new Date(at * 1000), body);
  return new Headers({ 'webhook-id': id, 'webhook-timestamp': String(at), 'webhook-signature': signature });
}

function reason(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    if (error instanceof WebhookAuthError) return error.reason;
    throw error;
  }
  return 'accepted';
}

describe('verifyWebhook', () => {
  const body = '{"count":2}';

  it('accepts a signature by any configured secret, and a header with several signatures', () => {
    expect(verifyWebhook(body, headersFor(body, OLD), [OLD, NEW])).toEqual({ id: 'msg_1', timestamp: expect.any(Number) });
    expect(verifyWebhook(body, headersFor(body, NEW), [OLD, NEW]).id).toBe('msg_1');
    const h = headersFor(body, NEW);
    h.set('webhook-signature', `v1,${btoa('x'.repeat(32))} ${h.get('webhook-signature')}`);
    expect(verifyWebhook(body, h, [NEW]).id).toBe('msg_1');
  });

  it('refuses other bodies, other secrets, stale or future timestamps and missing headers', () => {
    const now = Math.floor(Date.now() / 1000);
    expect(reason(() => verifyWebhook(body + ' ', headersFor(body, OLD), [OLD]))).toBe('bad-signature');
    expect(reason(() => verifyWebhook(body, headersFor(body, NEW), [OLD]))).toBe('bad-signature');
    expect(reason(() => verifyWebhook(body, headersFor(body, OLD, 'msg_1', now - 310), [OLD]))).toBe('stale-timestamp');
    expect(reason(() => verifyWebhook(body, headersFor(body, OLD, 'msg_1', now + 310), [OLD]))).toBe('stale-timestamp');
    expect(reason(() => verifyWebhook(body, headersFor(body, OLD, 'msg_1', now - 290), [OLD]))).toBe('accepted');
    const h = headersFor(body, OLD);
    h.set('webhook-timestamp', '12e3');
    expect(reason(() => verifyWebhook(body, h, [OLD]))).toBe('bad-timestamp');
    for (const name of ['webhook-id', 'webhook-timestamp', 'webhook-signature']) {
      const missing = headersFor(body, OLD);
      missing.delete(name);
      expect(reason(() => verifyWebhook(body, missing, [OLD]))).toBe('missing-headers');
    }
    expect(reason(() => verifyWebhook(body, headersFor(body, OLD), []))).toBe('not-configured');
  });

  it('parses secret lists (comma or whitespace separated)', () => {
    expect(parseSecrets(` ${OLD}, ${NEW}\n`)).toEqual([OLD, NEW]);
    expect(parseSecrets(undefined)).toEqual([]);
  });
});

describe('signWebhook', () => {
  it('makes headers the standardwebhooks library verifies', () => {
    const body = JSON.stringify({ type: 'batch.succeeded', data: { id: 'x' } });
    const headers = signWebhook(NEW, 'msg_cb', body);
    expect(new Webhook(NEW).verify(body, { ...headers })).toEqual(JSON.parse(body));
    expect(() => new Webhook(OLD).verify(body, { ...headers })).toThrow();
  });
});

describe('validateCallbackUrl', () => {
  const prod = { allowHttp: false };
  it('accepts public https URLs', () => {
    expect(validateCallbackUrl('https://hooks.example.com/ddpm?x=1', prod)).toBe('https://hooks.example.com/ddpm?x=1');
  });
  it.each([
    ['http://hooks.example.com/cb'],
    ['ftp://hooks.example.com/cb'],
    ['https://user:pw@hooks.example.com/cb'],
    ['https://hooks.example.com/cb#frag'],
    ['https://localhost/cb'],
    ['https://127.0.0.1/cb'],
    ['https://192.168.1.2/cb'],
    ['https://169.254.169.254/latest'],
    ['https://[::1]/cb'],
    ['not a url'],
    ['https://example.com/' + 'a'.repeat(2048)],
  ])('refuses %s outside local development', (url) => {
    expect(() => validateCallbackUrl(url, prod)).toThrow();
  });
  it('accepts http and localhost in local development', () => {
    expect(validateCallbackUrl('http://127.0.0.1:9000/hook', { allowHttp: true })).toBe('http://127.0.0.1:9000/hook');
  });
});

describe('retry schedules', () => {
  it('callbacks: 8 attempts over about 27.6 hours, every delay within a Queues delaySeconds', () => {
    expect(CALLBACK_SCHEDULE_SECONDS).toHaveLength(8);
    expect(CALLBACK_SCHEDULE_SECONDS.reduce((a, b) => a + b, 0) / 3600).toBeCloseTo(27.58, 1);
    expect(Math.max(...CALLBACK_SCHEDULE_SECONDS)).toBeLessThanOrEqual(43200);
    const s = callbackSchedule(undefined);
    expect([1, 2, 7, 8].map((attempt) => nextCallbackDelay(s, attempt))).toEqual([5, 300, 36000, null]);
    expect(callbackSchedule('0,1,1')).toEqual([0, 1, 1]);
    expect(() => callbackSchedule('0,-1')).toThrow(RangeError);
  });
  it('chunks: 10 s doubling, capped at 5 minutes; the base is configurable', () => {
    expect([1, 2, 3, 4, 5, 6].map((a) => chunkRetryDelay(a, undefined))).toEqual([10, 20, 40, 80, 160, 300]);
    expect(chunkRetryDelay(3, '0')).toBe(0);
  });
});
