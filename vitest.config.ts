import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['gateway/test/**/*.test.ts', 'web/test/**/*.test.ts'],
    globalSetup: ['gateway/test/support/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Two cores: real processes (gateway, simulator, FerretDB, sipp) per file; keep files from starving each other.
    fileParallelism: true,
    maxWorkers: 2,
  },
});
