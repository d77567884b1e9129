// f32_gelu (both forms) against the float64 reference on a dense grid (every 1e-3 on
// [-10, 10] and on [-16, -10]), special values, subnormals, every length across the vector
// edge, in place. The bounds are the measured errors of scripts/gelu-error.mjs with margin.
import { describe, expect, it } from 'vitest';
import { kernelVariants, loadKernels } from '../helpers/kernels.js';
import { randomF32 } from '../helpers/random.js';
import { gelu, geluTanh } from '../reference/activation.js';

const EDGES = [1, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 33, 768, 769];
const K2 = 2 * Math.sqrt(2 / Math.PI);

/** Worst relative error allowed where |gelu(x)| >= 1e-35: exact form 1.08e-6 measured; tanh
 * form 5.7e-7 on [-2, ∞), then the rounding of 2u dominates (1.2e-5 at 2u = -87). */
function relBound(approximate: number, x: number): number {
  if (approximate === 0) return 1.1e-6;
  const twoU = Math.abs(K2 * (x + 0.044715 * x ** 3));
  return 6e-7 + 1.6e-7 * twoU;
}

describe.each(kernelVariants())('f32-activation (%s)', (variant) => {
  const h = loadKernels(variant);

  for (const [approximate, name, ref] of [[0, 'exact', gelu], [1, 'tanh', geluTanh]] as const) {
    it(`gelu ${name}: dense grid on [-16, 10], abs <= 2e-7·max(1, |x|) and the measured relative bound`, () => {
      h.reset();
      const grid: number[] = [];
      for (let i = -16000; i <= 10000; i++) grid.push(i * 1e-3);
      for (const v of [1e4, -1e4, 1e30, -1e30, 3.4e38, -3.4e38, 1e-3, -1e-3, 1e-20, -1e-20]) grid.push(v);
      const x = Float32Array.from(grid), n = x.length;
      const px = h.f32(x), py = h.f32(n);
      h.wasm.f32_gelu(n, px, py, approximate);
      const y = h.read(py, n);
      let worstAbs = 0, worstRel = 0;
      for (let i = 0; i < n; i++) {
        const e = ref(x[i]), d = Math.abs(y[i] - e);
        const abs = d / Math.max(1, Math.abs(x[i]));
        worstAbs = Math.max(worstAbs, abs);
        if (abs > 2e-7) throw new Error(`gelu ${name}(${x[i]}) = ${y[i]}, expected ${e} (abs ${abs.toExponential(2)})`);
        if (Math.abs(e) >= 1e-35) {
          const rel = d / Math.abs(e);
          worstRel = Math.max(worstRel, rel);
          if (rel > relBound(approximate, x[i])) {
            throw new Error(`gelu ${name}(${x[i]}) = ${y[i]}, expected ${e} (rel ${rel.toExponential(2)})`);
          }
        }
      }
      console.log(`f32_gelu ${name} (${variant}) on the test grid: abs ${worstAbs.toExponential(2)}·max(1,|x|), rel ${worstRel.toExponential(2)}`);
      expect(h.read(px, n)).toEqual(x);
    });

    it(`gelu ${name}: NaN, ±inf, ±0, subnormals, overflow-free large inputs`, () => {
      h.reset();
      const special = [Number.NaN, Infinity, -Infinity, 0, -0, 1e-40, -1e-40, 1.4e-45, -1.4e-45, 1e20, -1e20, 14, -14, 10, -10];
      const px = h.f32(special), py = h.f32(special.length);
      h.wasm.f32_gelu(special.length, px, py, approximate);
      const y = h.read(py, special.length), x = h.read(px, special.length);
      expect(Number.isNaN(y[0])).toBe(true);
      expect(y[1]).toBe(Infinity);
      expect(Number.isNaN(y[2]), 'gelu(-inf) is NaN, as torch (-inf·0)').toBe(true);
      expect(y[3] === 0 && y[4] === 0).toBe(true);
      for (let i = 5; i < 9; i++) expect(y[i]).toBe(Math.fround(x[i] * 0.5)); // x·Φ(0)
      expect(y[9]).toBe(x[9]);
      expect(y[10] === 0).toBe(true);
      expect(y[11]).toBe(14);
      expect(Math.abs(y[12])).toBeLessThan(1e-30);
      expect(y[13]).toBe(10);
      expect(Math.abs(y[14])).toBeLessThan(1e-20);
    });

    it(`gelu ${name}: every length across the vector edge, in place, same bits as out of place`, () => {
      for (const n of EDGES) {
        h.reset();
        const x = randomF32(n, n, 4);
        const px = h.f32(x), py = h.f32(n + 1);
        h.wasm.f32_gelu(n, px, py, approximate);
        const y = h.read(py, n + 1);
        expect(y[n], 'nothing written past n').toBe(0);
        for (let i = 0; i < n; i++) {
          const e = ref(x[i]);
          expect(Math.abs(y[i] - e), `gelu ${name}(${x[i]})`).toBeLessThanOrEqual(2e-7 * Math.max(1, Math.abs(x[i])));
        }
        h.wasm.f32_gelu(n, px, px, approximate);
        expect(h.read(px, n)).toEqual(y.subarray(0, n));
      }
    });

    it(`gelu ${name}: a lane's bits depend on its own x only, never on the other lanes of its vector`, () => {
      // Vectors that mix the exact form's central and full paths (x in [−1.5, 2] and outside),
      // against each value alone (the scalar tail: a vector of four copies of it).
      h.reset();
      const n = 4096;
      const x = randomF32(n, 77, 4);
      for (let i = 0; i < n; i += 7) x[i] = Number.NaN;
      const px = h.f32(x), py = h.f32(n), q1 = h.f32(1);
      h.wasm.f32_gelu(n, px, py, approximate);
      const y = h.read(py, n);
      for (let i = 0; i < n; i++) {
        h.wasm.f32_gelu(1, px + 4 * i, q1, approximate);
        expect(Object.is(h.read(q1, 1)[0], y[i]), `gelu ${name}(${x[i]}) alone vs at lane ${i % 4}`).toBe(true);
      }
    });
  }
});
