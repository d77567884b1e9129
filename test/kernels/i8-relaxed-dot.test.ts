// The int8 relaxed dot (assembly/i8-gemm/i8-relaxed-dot.ts): the probe, the per-instance mode,
// and the quad strips i8_quantize_rows writes when the mode is on. The relaxed GEMM tile and
// GEMV themselves need an engine that computes relaxed_dot_i8x16_i7x16_add_s exactly (x64
// AVX-VNNI: V8 15 in Deno 2.9 and Chromium 156); Node 20 does not (its Liftoff drops the
// accumulator), so they are checked bit for bit against the baseline build in Deno and Chromium
// by the runtime suite (test/runtimes/suite.mjs, "int8 linear").
import { afterEach, describe, expect, it } from 'vitest';
import { createEngine } from '../../dist/index.js';
import { kernelVariants, loadKernels } from '../helpers/kernels.js';
import { randomF32, rng } from '../helpers/random.js';
import { i8StripBytes } from '../../src/parallel/phases.js';

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

  it('strips: i16 pairs with the mode off; with it on (relaxed build), the same codes as u8 quads, compact ones too', () => {
    const random = rng(0x51ab);
    // Offsets of a code in a strip of `rows` rows (4, or m when compact): assembly/i8-gemm/i8-gemm.ts.
    const pairCode = (r: number, kk: number, rows: number): number => (kk >> 1) * rows * 4 + r * 4 + (kk & 1) * 2;
    const quadCode = (r: number, kk: number, rows: number): number => (kk >> 2) * rows * 4 + r * 4 + (kk & 3);
    for (let trial = 0; trial < 80; trial++) {
      const m = trial < 20 ? 1 + (trial % 2) : 1 + Math.floor(random() * 34), k = 1 + Math.floor(random() * (trial % 8 === 0 ? 800 : 70));
      const compact = m <= 2 && trial % 4 !== 3 ? 1 : 0;
      const where = `m ${m}, k ${k}, compact ${compact} (seed 0x51ab, trial ${trial})`;
      const a = randomF32(m * k, 1000 + trial).map((x, i) => (i % 7 === 0 ? x * 40 : x) + (trial % 3 === 0 ? 3 : 0));
      const strips = Math.ceil(m / 4), size = i8StripBytes(k), kp = Math.ceil(k / 4) * 4;
      const rows = compact ? m : 4;
      const pa = h.f32(a);
      const quantize = (on: number): Uint8Array => {
        h.wasm.i8_set_relaxed_dot(on);
        const ap = h.u8(new Uint8Array(strips * size).fill(0xab));
        h.wasm.i8_quantize_rows(m, k, pa, k, ap, 0, 1, compact); // two items, as a phase splits it
        h.wasm.i8_quantize_rows(m, k, pa, k, ap, 1, strips, compact);
        return new Uint8Array(h.memory.buffer.slice(ap, ap + strips * size));
      };
      const pairs = quantize(0), quads = quantize(1);
      if (variant === 'simd') {
        expect(quads, `${where}: the baseline build has no quads`).toEqual(pairs);
        continue;
      }
      const vp = new DataView(pairs.buffer), vq = new DataView(quads.buffer);
      for (let s = 0; s < strips; s++) {
        const base = s * size;
        expect(quads.subarray(base, base + 32), `${where}: strip ${s} header`).toEqual(pairs.subarray(base, base + 32));
        for (let r = 0; r < rows; r++) {
          for (let kk = 0; kk < kp; kk++) {
            const code = vp.getUint16(base + 32 + pairCode(r, kk, rows), true), quad = vq.getUint8(base + 32 + quadCode(r, kk, rows));
            if (quad !== code) expect.fail(`${where}: strip ${s} row ${r} k ${kk}: quad code ${quad}, pair code ${code}`);
          }
        }
      }
    }
  });
});
