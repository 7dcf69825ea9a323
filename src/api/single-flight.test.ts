import { describe, expect, it } from 'vitest';
import { createSingleFlight } from './single-flight.ts';

describe('single flight', () => {
  it('runs concurrent work for one key once, and again after it settles', async () => {
    const flight = createSingleFlight<number>();
    let calls = 0;
    const work = async () => {
      calls++;
      await new Promise((r) => setTimeout(r, 10));
      return calls;
    };
    const a = flight('k', work);
    const b = flight('k', work);
    const c = flight('other', work);
    expect([a.shared, b.shared, c.shared]).toEqual([false, true, false]);
    expect(await a.result).toBe(await b.result);
    await c.result;
    expect(calls).toBe(2);
    await flight('k', work).result;
    expect(calls).toBe(3);
  });

  it('shares failures and forgets them', async () => {
    const flight = createSingleFlight<number>();
    const failing = flight('k', () => Promise.reject(new Error('boom')));
    const joined = flight('k', () => Promise.resolve(1));
    await expect(failing.result).rejects.toThrow('boom');
    await expect(joined.result).rejects.toThrow('boom');
    expect(await flight('k', () => Promise.resolve(2)).result).toBe(2);
  });
});
