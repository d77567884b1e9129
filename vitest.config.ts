import { defineConfig } from 'vitest/config';

// Two projects: every test on the default Node engine (baseline SIMD build), and the kernel and
// op tests and the three differential suites again under --experimental-wasm-relaxed-simd, where
// the engine picks the relaxed build (test/features.test.ts fails if the flag did not take effect).
export default defineConfig({
  test: {
    pool: 'forks',
    testTimeout: 60_000,
    projects: [
      {
        extends: true,
        test: { name: 'baseline', include: ['test/**/*.test.ts'] },
      },
      {
        extends: true,
        test: {
          name: 'relaxed',
          include: ['test/kernels/**/*.test.ts', 'test/ops/**/*.test.ts', 'test/features.test.ts', 'test/parallel/*differential.test.ts'],
          execArgv: ['--experimental-wasm-relaxed-simd'],
          env: { WASM_ATTENTION_EXPECT_RELAXED: '1' },
        },
      },
    ],
  },
});
