// f32_softmax and the exp inside it.
import { describe, expect, it } from 'vitest';
import { kernelVariants, loadKernels } from '../helpers/kernels.js';
import { randomF32 } from '../helpers/random.js';
import { expectClose } from '../helpers/compare.js';

function referenceSoftmax(x: ArrayLike<number>): Float64Array {
  const max = Math.max(...Array.from(x));
  const out = new Float64Array(x.length);
  if (max === -Infinity) return out;
  let sum = 0;
  for (let i = 0; i < x.length; i++) sum += (out[i] = Math.exp(x[i] - max));
  for (let i = 0; i < x.length; i++) out[i] /= sum;
  return out;
}

describe.each(kernelVariants())('f32-softmax (%s)', (variant) => {
  const h = loadKernels(variant);

  it('matches the reference on every length across the vector edges, strided', () => {
    for (const cols of [1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 33, 64, 100]) {
      h.reset();
      const rows = 3, ldx = cols + 2, ldy = cols + 1;
      const x = randomF32(rows * ldx, cols, 8);
      const px = h.f32(x), py = h.f32(rows * ldy);
      h.wasm.f32_softmax(rows, cols, px, ldx, py, ldy);
      const y = h.read(py, rows * ldy);
      for (let r = 0; r < rows; r++) {
        const expected = referenceSoftmax(x.subarray(r * ldx, r * ldx + cols));
        expectClose(y.subarray(r * ldy, r * ldy + cols), expected, 1e-7, 1e-6, `softmax ${cols}`);
      }
      expect(h.read(px, x.length)).toEqual(x);
    }
  });

  it('works in place, handles ±1e3 logits, -inf entries and fully masked rows', () => {
    h.reset();
    const cols = 9;
    const x = new Float32Array([
      1000, 999, -1000, 998.5, 0, 1000, -Infinity, 12, 999.9,
      -Infinity, -Infinity, -Infinity, -Infinity, -Infinity, -Infinity, -Infinity, -Infinity, -Infinity,
      -1000, -1001, -Infinity, -999, -1000.5, -Infinity, -1002, -1003, -1000,
    ]);
    const px = h.f32(x);
    h.wasm.f32_softmax(3, cols, px, cols, px, cols);
    const y = h.read(px, x.length);
    for (let r = 0; r < 3; r++) {
      expectClose(y.subarray(r * cols, (r + 1) * cols), referenceSoftmax(x.subarray(r * cols, (r + 1) * cols)),
        1e-7, 1e-6, `row ${r}`);
    }
    expect(Array.from(y.subarray(cols, 2 * cols))).toEqual(new Array(cols).fill(0));
    expect(y[6]).toBe(0); // -inf gives an exact zero
  });

  it('exp error: within 4e-7 relative of e^x on [-86, 0], 0 below', () => {
    // Row [0, x]: y1 / y0 = e^x up to the two roundings of the final scaling.
    h.reset();
    const n = 20000;
    const rows = new Float32Array(2 * n);
    for (let i = 0; i < n; i++) rows[2 * i + 1] = -86 * (i / (n - 1));
    const p = h.f32(rows);
    h.wasm.f32_softmax(n, 2, p, 2, p, 2);
    const y = h.read(p, 2 * n);
    let worst = 0;
    for (let i = 0; i < n; i++) {
      const exact = Math.exp(rows[2 * i + 1]);
      worst = Math.max(worst, Math.abs(y[2 * i + 1] / y[2 * i] - exact) / exact);
    }
    expect(worst).toBeLessThan(4e-7);
    h.reset();
    const below = h.f32([0, -86.5, 0, -1e30]);
    h.wasm.f32_softmax(2, 2, below, 2, below, 2);
    expect(Array.from(h.read(below, 4))).toEqual([1, 0, 1, 0]);
  });
});
