import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // scripts/test-relaxed.mjs: Node 20's workers need V8's flag to run the relaxed-SIMD build (not allowed in NODE_OPTIONS).
    poolOptions: { forks: { execArgv: process.env.CLOUDLESS_WASM_RELAXED_FLAG === '1' ? ['--experimental-wasm-relaxed-simd'] : [] } },
    globalSetup: ['test/setup/global.ts'],
    setupFiles: ['test/setup/fast-check.ts'],
  },
});
