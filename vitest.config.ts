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
    ],
  },
});
