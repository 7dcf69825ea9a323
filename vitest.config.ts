import { cloudflareTest } from '@cloudflare/vitest-pool-workers';
import { defineConfig } from 'vitest/config';

// Batches (issue 6): test-only secrets (dummies, never used anywhere else) and fast schedules; see .dev.vars.example.
const BATCH_TEST_BINDINGS = {
  BATCH_API_KEYS: 'test-api-key-old test-api-key-new',
  WEBHOOK_SECRETS: 'whsec_uwBetQ9gSySmsbr+NTjW4IH/odb4TSBL,whsec_lP5m7NzxZQ7J9QZdXW0faxNICKsRs3Gg',
  CALLBACK_SIGNING_SECRET: 'whsec_9KHGUKwVAtpogyakVLOw0ys1aN2eVeK7',
  CALLBACK_RETRY_SCHEDULE: '0,1,1',
  BATCH_RETRY_BASE_SECONDS: '0',
  BATCH_CHUNK_IMAGES: '2',
  // Leases long enough that no alarm fires by itself during a test; the lease tests drive the alarm.
  BATCH_LEASE_SECONDS: '120',
  BATCH_MAX_SENDS: '3',
  BATCH_ID_SECRET: 'test-batch-id-secret',
  BATCH_TEST_FAULTS: 'enabled',
  // Set explicitly: a developer's .dev.vars (read by the pool through wrangler.toml) must not change the tests.
  CALLBACK_ALLOW_HTTP: 'false',
};

// Two projects: plain Node (math, training, export) and, added by the worker, workerd (workers pool).
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'node',
          include: ['test/**/*.test.ts', 'src/**/*.test.ts', 'scripts/**/*.test.ts'],
          exclude: ['test/worker/**', 'test/browser/**', 'node_modules/**'],
          environment: 'node',
          testTimeout: 120_000,
        },
      },
      {
        // The worker (src/index.ts, wrangler.toml) inside workerd, with real onnxruntime-web and R2 simulated.
        plugins: [
          cloudflareTest({
            wrangler: { configPath: './wrangler.toml' },
            // module names resolve from the project root here, from wrangler's base_dir (src/) when deployed
            miniflare: { bindings: { ORT_WASM_ENTRY: '/src/inference/wasm/ort-entry.mjs', ...BATCH_TEST_BINDINGS } },
          }),
        ],
        test: {
          name: 'worker',
          include: ['test/worker/**/*.test.ts'],
          globalSetup: ['test/worker/global-setup.ts'],
          testTimeout: 120_000,
        },
      },
      {
        // The demo page in Debian's Chromium (playwright-core) against `wrangler dev --local` (issue 7).
        test: {
          name: 'browser',
          include: ['test/browser/**/*.test.ts'],
          environment: 'node',
          testTimeout: 120_000,
          hookTimeout: 240_000,
          // A failed test runs once more (each starts from the page as the previous attempt left it): wrangler
          // dev's local proxy now and then holds one of the page's requests without passing it on, which no
          // page can retry. Every failed attempt prints the page's requests and wrangler's log.
          retry: 1,
        },
      },
    ],
  },
});
