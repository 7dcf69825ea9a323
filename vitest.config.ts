import { cloudflareTest } from '@cloudflare/vitest-pool-workers';
import { defineConfig } from 'vitest/config';

// Two projects: plain Node (math, training, export) and, added by the worker, workerd (workers pool).
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'node',
          include: ['test/**/*.test.ts', 'src/**/*.test.ts', 'scripts/**/*.test.ts'],
          exclude: ['test/worker/**', 'node_modules/**'],
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
            miniflare: { bindings: { ORT_WASM_ENTRY: '/src/inference/wasm/ort-entry.mjs' } },
          }),
        ],
        test: {
          name: 'worker',
          include: ['test/worker/**/*.test.ts'],
          globalSetup: ['test/worker/global-setup.ts'],
          testTimeout: 120_000,
        },
      },
    ],
  },
});
