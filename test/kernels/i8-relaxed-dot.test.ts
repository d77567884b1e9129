// The int8 relaxed dot (assembly/i8-gemm/i8-relaxed-dot.ts): the probe, the per-instance mode,
// the quad strips i8_quantize_rows writes in each mode, and the products on them. The relaxed
// GEMM tile and GEMV need an engine that computes relaxed_dot_i8x16_i7x16_add_s exactly (x64
// AVX-VNNI: V8 15 in Deno 2.9 and Chromium 156; Arm, signed); Node 20 does not (its Liftoff
// drops the accumulator), so on the relaxed build they are checked bit for bit against the
// baseline build in Deno and Chromium by the runtime suite (test/runtimes/suite.mjs, "int8
// linear"). Here the test builds that emulate the instruction's unsigned and signed behaviours,
// and Arm's smull lowering with its i16 pair sums (build/), run the same kernels in both modes on
// any host; the last must pass the probe, as the GEMM's operands never overflow it. A fourth
// emulates x64 without VNNI (pmaddubsw, whose pair sums saturate): the probe must refuse it.
import { afterEach, describe, expect, it } from 'vitest';
import { createEngine } from '../../dist/index.js';
import { DOT_EMULATIONS, REFUSED_EMULATION, emulationBytes, kernelVariants, loadKernels, type KernelBuild } from '../helpers/kernels.js';
import { randomF32, rng } from '../helpers/random.js';
import { i8StripBytes } from '../../src/parallel/phases.js';
import { checkInt8Kernels } from '../runtimes/int8-kernels.mjs';

const INT8_DOT = ['dot_i16x8', 'relaxed_dot_i8x16_i7x16', 'relaxed_dot_i8x16_i7x16_signed'];
/** The probe's answer each test build must give (the relaxed build's depends on the engine). */
const EMULATED_MODE: Record<string, number> = {
  'dot-emulation-unsigned': 1, 'dot-emulation-signed': 2, 'dot-emulation-arm-smull': 2, [REFUSED_EMULATION]: 0,
};
const BUILDS: KernelBuild[] = [...kernelVariants(), ...DOT_EMULATIONS, REFUSED_EMULATION];

describe.each(BUILDS)('i8 relaxed dot (%s)', (variant) => {
  const h = loadKernels(variant);
  const quadBuild = variant !== 'simd';
  afterEach(() => {
    h.wasm.i8_set_relaxed_dot(0);
    h.reset();
  });

  it('the probe and the mode: never in the baseline build; the engine reports what the probe found', async () => {
    const exact = h.wasm.i8_relaxed_dot_exact(0);
    for (const mode of [1, 2]) expect(h.wasm.i8_set_relaxed_dot(mode), `mode ${mode}`).toBe(quadBuild ? mode : 0);
    for (const mode of [3, -1, 0]) expect(h.wasm.i8_set_relaxed_dot(mode), `mode ${mode}`).toBe(0);
    if (variant === 'simd') expect(exact).toBe(0);
    else if (variant in EMULATED_MODE) expect(exact).toBe(EMULATED_MODE[variant]);
    else expect([0, 1, 2]).toContain(exact);
    const engine = await createEngine(variant in EMULATED_MODE
      ? { threads: 1, wasm: emulationBytes(variant as typeof DOT_EMULATIONS[number] | typeof REFUSED_EMULATION) }
      : { threads: 1, kernels: variant as 'simd' | 'relaxed' });
    try {
      expect(engine.int8Dot).toBe(INT8_DOT[exact]);
    } finally {
      await engine.dispose();
    }
  });

  it('products in the probe\'s mode: the int8 GEMM (with and without scratch) and GEMV give the bits of the i16 pairs', () => {
    // Meaningful where the probe finds a mode: the test builds here, the relaxed build on an
    // engine that computes the instruction exactly (the runtime suite runs it there).
    const { exact, mode, cases } = checkInt8Kernels(new WebAssembly.Module(h.bytes), true);
    if (variant in EMULATED_MODE && EMULATED_MODE[variant] !== 0) {
      expect(exact).toBe(true);
      expect(mode).toBe(EMULATED_MODE[variant]);
      expect(cases).toBeGreaterThan(1000);
    } else if (variant === 'simd' || variant === REFUSED_EMULATION) {
      expect(exact).toBe(false);
    }
  });

  it('strips: i16 pairs with the mode off; in each quad mode the same codes as bytes (signed: less 128, zero points too), compact ones too', () => {
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
      const quantize = (mode: number): Uint8Array => {
        h.wasm.i8_set_relaxed_dot(mode);
        const ap = h.u8(new Uint8Array(strips * size).fill(0xab));
        h.wasm.i8_quantize_rows(m, k, pa, k, ap, 0, 1, compact); // two items, as a phase splits it
        h.wasm.i8_quantize_rows(m, k, pa, k, ap, 1, strips, compact);
        return new Uint8Array(h.memory.buffer.slice(ap, ap + strips * size));
      };
      const pairs = quantize(0);
      for (const mode of [1, 2]) {
        const quads = quantize(mode);
        if (!quadBuild) {
          expect(quads, `${where}: the baseline build has no quads`).toEqual(pairs);
          continue;
        }
        const vp = new DataView(pairs.buffer), vq = new DataView(quads.buffer);
        const offset = mode === 2 ? 128 : 0;
        for (let s = 0; s < strips; s++) {
          const base = s * size;
          expect(quads.subarray(base, base + 16), `${where}: strip ${s} scales, mode ${mode}`).toEqual(pairs.subarray(base, base + 16));
          for (let r = 0; r < 4; r++) {
            expect(vq.getInt32(base + 16 + 4 * r, true), `${where}: strip ${s} row ${r} zero point, mode ${mode}`)
              .toBe(vp.getInt32(base + 16 + 4 * r, true) - offset);
          }
          for (let r = 0; r < rows; r++) {
            for (let kk = 0; kk < kp; kk++) {
              const code = vp.getUint16(base + 32 + pairCode(r, kk, rows), true), quad = vq.getUint8(base + 32 + quadCode(r, kk, rows));
              if (quad !== (code ^ offset)) expect.fail(`${where}: strip ${s} row ${r} k ${kk}, mode ${mode}: quad byte ${quad}, pair code ${code}`);
            }
          }
        }
      }
    }
  });
});
