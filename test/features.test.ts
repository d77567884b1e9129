// Feature detection and kernel choice.
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
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

  it('Node 20: the relaxed-SIMD flag set at run time (v8.setFlagsFromString) before the first engine selects the relaxed build, workers included', () => {
    // A fresh process without the command-line flag, as the README describes it.
    const script = `
      import v8 from 'node:v8';
      v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
      const { createEngine } = await import(${JSON.stringify(new URL('../dist/index.js', import.meta.url).href)});
      const q = Float32Array.from({ length: 2 * 70 * 16 }, (_, i) => Math.sin(i));
      const o = { batch: 1, heads: 2, seqQ: 70, seqK: 70, headDim: 16, causal: true };
      const relaxed = await createEngine({ threads: 2 });
      const simd = await createEngine({ kernels: 'simd' });
      const a = (await relaxed.attention(q, q, q, o)).output, b = (await simd.attention(q, q, q, o)).output;
      let diff = 0;
      for (let i = 0; i < a.length; i++) diff = Math.max(diff, Math.abs(a[i] - b[i]));
      console.log(JSON.stringify({ kernels: relaxed.kernels, threads: relaxed.threads, relaxedSimd: relaxed.features.relaxedSimd, diff }));
      await relaxed.dispose(); await simd.dispose();`;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
    const r = JSON.parse(out.trim().split('\n').pop()!);
    expect(r).toMatchObject({ kernels: 'relaxed', threads: 2, relaxedSimd: true });
    expect(r.diff).toBeLessThan(1e-5);
  });
});
