// Feature detection and kernel choice.
import { describe, expect, it } from 'vitest';
import { createEngine } from '../dist/index.js';
import { detectFeatures, PROBES } from '../src/features.js';

const expectRelaxed = process.env.WASM_ATTENTION_EXPECT_RELAXED === '1';

describe('features', () => {
  it('detects SIMD, shared memory, and relaxed SIMD exactly when V8 has it enabled', () => {
    const f = detectFeatures();
    expect(f.simd).toBe(true);
    expect(f.sharedMemory).toBe(typeof SharedArrayBuffer !== 'undefined');
    expect(f.relaxedSimd).toBe(expectRelaxed);
    expect(WebAssembly.validate(PROBES.simd)).toBe(true);
  });

  it("'auto' picks the relaxed build where it validates, and an explicit build is honoured", async () => {
    const auto = await createEngine();
    expect(auto.kernels).toBe(expectRelaxed ? 'relaxed' : 'simd');
    expect(auto.threads).toBe(1);
    expect(auto.features).toEqual(detectFeatures());
    await auto.dispose();
    const simd = await createEngine({ kernels: 'simd' });
    expect(simd.kernels).toBe('simd');
    await simd.dispose();
    if (!expectRelaxed) {
      await expect(createEngine({ kernels: 'relaxed' })).rejects.toThrow(/does not validate relaxed SIMD/);
    }
  });

  it("threads: 'auto' takes the available cores; an explicit count is honoured", async () => {
    const { availableParallelism } = await import('node:os');
    const auto = await createEngine({ threads: 'auto' });
    expect(auto.threads).toBe(availableParallelism());
    await auto.dispose();
    const three = await createEngine({ threads: 3 });
    expect(three.threads).toBe(3);
    await three.dispose();
  });
});
