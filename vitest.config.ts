import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts', 'test/support/generate-validators.ts', 'test/support/build-web.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Integration tests each start their own broker on a free port; two workers keep a 2-core box responsive.
    pool: 'forks',
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
  },
});
