import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The developer's environment and `.env` must not configure the code under test.
    setupFiles: ['test/setup.ts'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    // Network tests only ever talk to 127.0.0.1; keep workers few on 2 cores.
    pool: 'forks',
    maxWorkers: 2,
  },
});
