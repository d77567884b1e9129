// The int8 GEMM's relaxed dot (assembly/i8-gemm/i8-relaxed-dot.ts): the probe, the per-instance
// mode, and the quad strips i8_quantize_rows writes for the GEMM when the mode is on. The GEMM's
// relaxed tile itself needs an engine that computes relaxed_dot_i8x16_i7x16_add_s exactly (x64
// AVX-VNNI in V8 12+); Node 20 does not (its Liftoff drops the accumulator), so that tile is
// checked bit for bit against the baseline build in Deno and Chromium by the runtime suite
// (test/runtimes/suite.mjs, "int8 linear").
import { afterEach, describe, expect, it } from 'vitest';
import { createEngine } from '../../dist/index.js';
import { kernelVariants, loadKernels } from '../helpers/kernels.js';
import { randomF32, rng } from '../helpers/random.js';
import { I8_STRIP_LAYOUT, i8GemmPhase, i8StripBytes, i8StripLayout } from '../../src/parallel/phases.js';

describe.each(kernelVariants())('i8 relaxed dot (%s)', (variant) => {
  const h = loadKernels(variant);
  afterEach(() => {
    h.wasm.i8_set_relaxed_dot(0);
    h.reset();
  });

  it('the probe and the mode: never in the baseline build; the engine reports what the probe found', async () => {
    const exact = h.wasm.i8_relaxed_dot_exact(0);
    expect(h.wasm.i8_set_relaxed_dot(1)).toBe(variant === 'relaxed' ? 1 : 0);
    expect(h.wasm.i8_set_relaxed_dot(0)).toBe(0);
    if (variant === 'simd') expect(exact).toBe(0);
    const engine = await createEngine({ threads: 1, kernels: variant });
    try {
      expect(engine.int8Dot).toBe(exact === 1 ? 'relaxed_dot_i8x16_i7x16' : 'dot_i16x8');
    } finally {
      await engine.dispose();
    }
  });

  it('GEMM strips: i16 pairs with the mode off; with it on (relaxed build), the same codes as u8 quads', () => {
    const random = rng(0x51ab);
    const stripCode = (r: number, kk: number): number => (kk >> 1) * 16 + r * 4 + (kk & 1) * 2;
    const quadCode = (r: number, kk: number): number => (kk >> 2) * 16 + r * 4 + (kk & 3);
    for (let trial = 0; trial < 60; trial++) {
      const m = 5 + Math.floor(random() * 30), k = 1 + Math.floor(random() * (trial < 50 ? 70 : 800));
      const where = `m ${m}, k ${k} (seed 0x51ab, trial ${trial})`;
      const a = randomF32(m * k, 1000 + trial).map((x, i) => (i % 7 === 0 ? x * 40 : x) + (trial % 3 === 0 ? 3 : 0));
      const strips = Math.ceil(m / 4), size = i8StripBytes(k), kp = Math.ceil(k / 4) * 4;
      const pa = h.f32(a);
      const quantize = (layout: number, on: number): Uint8Array => {
        h.wasm.i8_set_relaxed_dot(on);
        const ap = h.u8(new Uint8Array(strips * size).fill(0xab));
        h.wasm.i8_quantize_rows(m, k, pa, k, ap, 0, 1, layout); // two items, as a phase splits it
        h.wasm.i8_quantize_rows(m, k, pa, k, ap, 1, strips, layout);
        return new Uint8Array(h.memory.buffer.slice(ap, ap + strips * size));
      };
      const pairs = quantize(I8_STRIP_LAYOUT.pairs, 0);
      expect(quantize(I8_STRIP_LAYOUT.gemm, 0), `${where}: layout gemm, mode off`).toEqual(pairs);
      const quads = quantize(I8_STRIP_LAYOUT.gemm, 1);
      if (variant === 'simd') {
        expect(quads, `${where}: the baseline build has no quads`).toEqual(pairs);
        continue;
      }
      expect(quantize(I8_STRIP_LAYOUT.pairs, 1), `${where}: layout pairs, mode on`).toEqual(pairs);
      const vp = new DataView(pairs.buffer), vq = new DataView(quads.buffer);
      for (let s = 0; s < strips; s++) {
        const base = s * size;
        expect(quads.subarray(base, base + 32), `${where}: strip ${s} header`).toEqual(pairs.subarray(base, base + 32));
        for (let r = 0; r < 4; r++) {
          for (let kk = 0; kk < kp; kk++) {
            const code = vp.getUint16(base + 32 + stripCode(r, kk), true);
            if (vq.getUint8(base + 32 + quadCode(r, kk)) !== code) {
              expect.fail(`${where}: strip ${s} row ${r} k ${kk}: quad code ${vq.getUint8(base + 32 + quadCode(r, kk))}, pair code ${code}`);
            }
          }
        }
      }
    }
  });
});

describe('int8 strip layouts by rows', () => {
  it('compact up to 2 rows, pairs for the GEMV of 3..4, GEMM strips beyond; the GEMM phase refuses GEMV rows', () => {
    expect([1, 2, 3, 4, 5, 300].map(i8StripLayout)).toEqual([
      I8_STRIP_LAYOUT.compact, I8_STRIP_LAYOUT.compact, I8_STRIP_LAYOUT.pairs, I8_STRIP_LAYOUT.pairs,
      I8_STRIP_LAYOUT.gemm, I8_STRIP_LAYOUT.gemm]);
    for (const m of [1, 3, 4]) expect(() => i8GemmPhase(m, 8, 768, 64, 128, 0, 256, 8)).toThrow(/quantized for the GEMV/);
    expect(i8GemmPhase(5, 8, 768, 64, 128, 0, 256, 8).m).toBe(5);
  });
});
