// f32_softmax, f32_softmax_scaled (scale, additive and boolean masks) and the exp inside them.
import { describe, expect, it } from 'vitest';
import { kernelVariants, loadKernels } from '../helpers/kernels.js';
import { randomF32, randomMask } from '../helpers/random.js';
import { expectClose } from '../helpers/compare.js';
import { referenceSoftmax, referenceSoftmaxScaled } from '../reference/softmax.js';

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

  it('a row of 4M elements (and of 1025, 100k) sums to 1 within 1e-6: the sum runs in blocks', () => {
    // One running sum over 4M exps lost the terms below half its ulp: the row summed to 1.0018.
    for (const cols of [1025, 100_000, 1 << 22]) {
      h.reset();
      const x = randomF32(cols, cols, 3);
      const px = h.f32(x), py = h.f32(cols);
      h.wasm.f32_softmax(1, cols, px, cols, py, cols);
      let total = 0;
      for (const v of h.read(py, cols)) total += v;
      expect(Math.abs(total - 1), `${cols} columns`).toBeLessThan(1e-6);
      h.wasm.f32_softmax_scaled(1, cols, px, cols, 1, 0, 0, 0, 0, py, cols);
      total = 0;
      for (const v of h.read(py, cols)) total += v;
      expect(Math.abs(total - 1), `${cols} columns, scaled`).toBeLessThan(1e-6);
    }
  });

  it('one logit 17 above 4M others: the blocks\' sums add up in f64 (an f32 total rounded each the same way, 1.4e-4 off)', () => {
    h.reset();
    const cols = 1 << 22;
    const x = new Float32Array(cols).fill(-17);
    x[0] = 0;
    const px = h.f32(x), py = h.f32(cols);
    h.wasm.f32_softmax(1, cols, px, cols, py, cols);
    const y = h.read(py, cols);
    let total = 0;
    for (const v of y) total += v;
    // What is left (9e-6) is each block's four f32 lanes adding 256 equal terms; torch: 1.9e-2.
    expect(Math.abs(total - 1)).toBeLessThan(2e-5);
    const want = 1 / (1 + (cols - 1) * Math.exp(-17)); // x[0]'s probability in float64
    expect(Math.abs(y[0] - want) / want).toBeLessThan(2e-5);
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

  /** f32_softmax_scaled on rows × cols with the given masks against the reference. */
  function checkScaled(rows: number, cols: number, opts: { add?: 'rows' | 'broadcast'; bool?: 'rows' | 'broadcast';
    inPlace?: boolean; pad?: number; scale?: number; x?: Float32Array; keep?: Uint8Array } = {}): Float32Array {
    h.reset();
    const pad = opts.pad ?? 0, ldx = cols + pad, ldy = opts.inPlace ? ldx : cols + 2 * pad + 1, scale = opts.scale ?? 0.125;
    const x = opts.x ?? randomF32(rows * ldx, rows * 100 + cols, 20);
    const ldAdd = opts.add === 'rows' ? cols + pad : 0, ldBool = opts.bool === 'rows' ? (opts.keep ? cols : cols + 3) : 0;
    const add = opts.add ? randomF32(opts.add === 'rows' ? rows * ldAdd : cols, cols + 5, 3) : undefined;
    const keep = opts.keep ?? (opts.bool ? randomMask(opts.bool === 'rows' ? rows * ldBool : cols, cols + 6, 0.6) : undefined);
    const px = h.f32(x), padd = add ? h.f32(add) : 0, pkeep = keep ? h.u8(keep) : 0;
    const py = opts.inPlace ? px : h.f32(rows * ldy);
    h.wasm.f32_softmax_scaled(rows, cols, px, ldx, scale, padd, ldAdd, pkeep, ldBool, py, ldy);
    const y = h.read(py, rows * ldy);
    const expected = referenceSoftmaxScaled(rows, cols, x, ldx, scale, add, ldAdd, keep, ldBool);
    const got = new Float32Array(rows * cols);
    for (let r = 0; r < rows; r++) got.set(y.subarray(r * ldy, r * ldy + cols), r * cols);
    expectClose(got, expected, 1e-7, 1e-6, `softmax_scaled ${rows}x${cols} ${JSON.stringify({ ...opts, x: undefined, keep: undefined })}`);
    if (!opts.inPlace) expect(h.read(px, x.length)).toEqual(x);
    return got;
  }

  it('softmax_scaled: every length across the vector edges, each mask kind, broadcast rows, strided, in place', () => {
    for (const cols of [1, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 33, 768, 769]) {
      for (const add of [undefined, 'rows', 'broadcast'] as const) {
        for (const bool of [undefined, 'rows', 'broadcast'] as const) checkScaled(3, cols, { add, bool, pad: 2 });
      }
      checkScaled(2, cols, { add: 'rows', bool: 'rows', inPlace: true, pad: 1 });
      checkScaled(2, cols, { scale: 1, inPlace: true });
    }
  });

  it('softmax_scaled: fully masked rows give zeros, NaN or +inf in a row gives a NaN row', () => {
    const cols = 9, rows = 5;
    const x = randomF32(rows * cols, 77, 5);
    x[2 * cols + 4] = Number.NaN; // row 2: NaN logit (kept)
    x[3 * cols + 1] = Infinity;   // row 3: +inf logit (kept)
    const keep = new Uint8Array(rows * cols).fill(1);
    keep.fill(0, cols, 2 * cols); // row 1: every key masked
    keep[4 * cols + 2] = 0;       // row 4: one masked key
    x[4 * cols + 2] = Number.NaN; // ... holding NaN: NaN + -inf stays NaN (additive, as torch)
    const y = checkScaled(rows, cols, { x, keep, bool: 'rows' });
    expect(Array.from(y.subarray(cols, 2 * cols))).toEqual(new Array(cols).fill(0));
    for (const r of [2, 3, 4]) expect(Array.from(y.subarray(r * cols, (r + 1) * cols)).every(Number.isNaN), `row ${r}`).toBe(true);
    expect(Array.from(y.subarray(0, cols)).some(Number.isNaN)).toBe(false);
    // -inf in the additive mask (a causal mask) masks as well; a whole -inf row gives zeros
    h.reset();
    const add = new Float32Array(2 * cols).fill(-Infinity);
    add[3] = 0;
    const px = h.f32(randomF32(2 * cols, 78)), pa = h.f32(add);
    h.wasm.f32_softmax_scaled(2, cols, px, cols, 1, pa, cols, 0, 0, px, cols);
    const z = h.read(px, 2 * cols);
    expect(z[3]).toBe(1);
    expect(Array.from(z.subarray(cols))).toEqual(new Array(cols).fill(0));
  });
});
