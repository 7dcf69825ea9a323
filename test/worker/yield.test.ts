// Issue 15: a long render yields to the event loop between sampler steps, so a cheap request in the same isolate
// is answered while it runs, not after it (a 999-step stream once held a 400 for 7.5 s).
import { SELF } from 'cloudflare:test';
import { beforeAll, expect, it } from 'vitest';

const BASE = 'https://worker.test';

beforeAll(async () => {
  const res = await SELF.fetch(`${BASE}/v1/samples/1.png?model=fixture-tiny&steps=1`);
  await res.arrayBuffer();
}, 180_000);

for (const [name, path] of [
  ['a 1000-step sample', '/v1/samples/9.png?model=fixture-tiny&sampler=ddim&steps=1000'],
  ['a 1000-step stream', '/v1/samples/9/stream?model=fixture-tiny&sampler=ddim&steps=1000'],
] as const) {
  it(`answers a cheap request while ${name} renders`, async () => {
    let longDone = false;
    const long = SELF.fetch(BASE + path).then(async (res) => {
      await res.arrayBuffer();
      longDone = true;
      return res.status;
    });
    // the long render has started once its first steps have run
    await new Promise((resolve) => setTimeout(resolve, 50));
    const cheap = await SELF.fetch(`${BASE}/v1/samples/1.png?steps=0`);
    expect(cheap.status).toBe(400);
    await cheap.arrayBuffer();
    expect(longDone).toBe(false);
    expect(await long).toBe(200);
  });
}
