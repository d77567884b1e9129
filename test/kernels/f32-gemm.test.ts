// f32_gemm_nn / f32_gemm_nt / the packed GEMM (f32_pack_rows, f32_pack_panels_nt|nn,
// f32_gemm_packed) against the float64 reference, on sizes that straddle every tile edge (4×8
// tiles, 2×4 NT tile, 4-wide k steps, strips of 4 rows, panels of 8 columns), with strided
// views, bias and alpha.
import { describe, expect, it } from 'vitest';
import { kernelVariants, loadKernels } from '../helpers/kernels.js';
import { randomF32 } from '../helpers/random.js';
import { referenceGemm } from '../reference/attention.js';
import { dotTolerance, expectClose } from '../helpers/compare.js';
import { gelu, geluTanh, relu } from '../reference/activation.js';
import { ACTIVATION } from '../../src/parallel/phases.js';

const EDGES = [1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 33];

describe.each(kernelVariants())('f32-gemm (%s)', (variant) => {
  const h = loadKernels(variant);

  function check(transB: boolean, m: number, n: number, k: number, pad = 0, withBias = false, alpha = 1): void {
    h.reset();
    const lda = k + pad, ldb = (transB ? k : n) + pad, ldc = n + pad;
    const a = randomF32(m * lda, m * 1000 + n * 10 + k);
    const b = randomF32((transB ? n : k) * ldb, k * 1000 + n + 7);
    const bias = withBias ? randomF32(n, n + 99) : undefined;
    const c0 = randomF32(m * ldc, 5); // garbage the kernel must overwrite, padding it must keep
    const pa = h.f32(a), pb = h.f32(b), pc = h.f32(c0), pbias = bias ? h.f32(bias) : 0;
    if (transB) h.wasm.f32_gemm_nt(m, n, k, pa, lda, pb, ldb, pbias, pc, ldc, alpha);
    else h.wasm.f32_gemm_nn(m, n, k, pa, lda, pb, ldb, pbias, pc, ldc);
    const c = h.read(pc, m * ldc);
    const expected = referenceGemm(m, n, k, a, lda, b, ldb, transB, alpha, bias);
    const got = new Float64Array(m * n);
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) got[i * n + j] = c[i * ldc + j];
      for (let j = n; j < ldc; j++) expect(c[i * ldc + j], `padding of row ${i}`).toBe(c0[i * ldc + j]);
    }
    expectClose(got, expected, dotTolerance(k, Math.abs(alpha)), 1e-6, `${transB ? 'nt' : 'nn'} ${m}x${n}x${k}`);
    expect(h.read(pa, a.length)).toEqual(a);
    expect(h.read(pb, b.length)).toEqual(b);
  }

  for (const transB of [false, true]) {
    const name = transB ? 'A·Bᵀ' : 'A·B';
    it(`${name}: every m, n across the tile edges`, () => {
      for (const m of EDGES) for (const n of EDGES) check(transB, m, n, 13);
    });
    it(`${name}: every k across the vector edges`, () => {
      for (const k of [...EDGES, 64, 67, 128]) check(transB, 5, 11, k);
    });
    it(`${name}: strided rows, bias`, () => {
      for (const [m, n, k] of [[4, 8, 4], [7, 9, 13], [17, 33, 31], [1, 1, 1]]) {
        check(transB, m, n, k, 3, true);
        check(transB, m, n, k, 5, false);
      }
    });
    it(`${name}: a real shape (BERT head: 37×64×64)`, () => check(transB, 37, 64, 64, 0, true));
  }

  /** Packs A and B (B given as [k, n], or as W = Bᵀ [n, k] when transB), runs the packed GEMM
   * over the whole C, or over one sub-tile (r0, c0) the way a phase item addresses it. */
  function checkPacked(transB: boolean, m: number, n: number, k: number, pad = 0, withBias = false): void {
    h.reset();
    const lda = k + pad, ldb = (transB ? k : n) + pad, ldc = n + pad;
    const a = randomF32(m * lda, m * 1000 + n * 10 + k + 1);
    const b = randomF32((transB ? n : k) * ldb, k * 1000 + n + 8);
    const bias = withBias ? randomF32(n, n + 98) : undefined;
    const c0 = randomF32(m * ldc, 6);
    const strips = Math.ceil(m / 4), panels = Math.ceil(n / 8);
    const pa = h.f32(a), pb = h.f32(b), pc = h.f32(c0), pbias = bias ? h.f32(bias) : 0;
    const ap = h.f32(new Float32Array(strips * 4 * k).fill(Number.NaN)); // every slot must be written
    const bp = h.f32(new Float32Array(panels * 8 * k).fill(Number.NaN));
    // Packing in two ranges checks that s0..s1 / p0..p1 address the right strips and panels.
    const sMid = strips >> 1, pMid = panels >> 1;
    h.wasm.f32_pack_rows(m, k, pa, lda, ap, 0, sMid);
    h.wasm.f32_pack_rows(m, k, pa, lda, ap, sMid, strips);
    const pack = transB ? h.wasm.f32_pack_panels_nt : h.wasm.f32_pack_panels_nn;
    pack(transB ? n : k, transB ? k : n, pb, ldb, bp, 0, pMid);
    pack(transB ? n : k, transB ? k : n, pb, ldb, bp, pMid, panels);
    expect(h.read(ap, strips * 4 * k).some(Number.isNaN), 'A strips fully written').toBe(false);
    expect(h.read(bp, panels * 8 * k).some(Number.isNaN), 'B panels fully written').toBe(false);
    // C in two row blocks × two column blocks, as phase items cut it (blocks of 4 rows, 8 columns).
    const rCut = Math.min(m, 4 * Math.max(1, sMid)), cCut = Math.min(n, 8 * Math.max(1, pMid));
    for (const [r0, r1] of [[0, rCut], [rCut, m]]) {
      for (const [j0, j1] of [[0, cCut], [cCut, n]]) {
        if (r1 <= r0 || j1 <= j0) continue;
        h.wasm.f32_gemm_packed(r1 - r0, j1 - j0, k, ap + r0 * k * 4, bp + j0 * k * 4, bias ? pbias + j0 * 4 : 0,
          pc + (r0 * ldc + j0) * 4, ldc, 0, 0, 0);
      }
    }
    const c = h.read(pc, m * ldc);
    const expected = referenceGemm(m, n, k, a, lda, b, ldb, transB, 1, bias);
    const got = new Float64Array(m * n);
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) got[i * n + j] = c[i * ldc + j];
      for (let j = n; j < ldc; j++) expect(c[i * ldc + j], `padding of row ${i}`).toBe(c0[i * ldc + j]);
    }
    expectClose(got, expected, dotTolerance(k, 1), 1e-6, `packed ${transB ? 'nt' : 'nn'} ${m}x${n}x${k}`);
    expect(h.read(pa, a.length)).toEqual(a);
    expect(h.read(pb, b.length)).toEqual(b);
  }

  for (const transB of [false, true]) {
    const name = transB ? 'packed A·Wᵀ' : 'packed A·B';
    it(`${name}: every m, n across the strip and panel edges`, () => {
      for (const m of EDGES) for (const n of EDGES) checkPacked(transB, m, n, 13);
    });
    it(`${name}: every k across the vector edges, strided rows, bias`, () => {
      for (const k of [...EDGES, 64, 67, 128]) checkPacked(transB, 5, 11, k, 3, true);
      for (const [m, n, k] of [[4, 8, 4], [17, 33, 31], [1, 1, 1], [64, 128, 96]]) checkPacked(transB, m, n, k, 5, true);
    });
  }

  it('A·Bᵀ: alpha scales the product, not the bias', () => {
    check(true, 6, 10, 12, 0, true, 0.125);
    check(true, 3, 5, 7, 2, true, -2);
  });

  /** The packed GEMM with its epilogue, C = act(A·Wᵀ + bias) + residual, against the reference:
   * C in 4-row × 8-column blocks as phase items cut it; residual separate, or C itself (in place). */
  function checkEpilogue(m: number, n: number, k: number, activation: number, residual: 'none' | 'separate' | 'inplace',
    pad = 0, withBias = true): void {
    h.reset();
    const lda = k + pad, ldw = k, ldc = n + pad, ldr = residual === 'inplace' ? ldc : n + 2 * pad + 1;
    const a = randomF32(m * lda, m * 977 + n * 13 + k + activation, 1);
    const w = randomF32(n * ldw, k * 991 + n + 3);
    const bias = withBias ? randomF32(n, n + 97) : undefined;
    const res = residual === 'none' ? undefined : randomF32(m * (residual === 'inplace' ? ldc : ldr), m + n + k, 2);
    const c0 = residual === 'inplace' ? res! : randomF32(m * ldc, 7);
    const strips = Math.ceil(m / 4), panels = Math.ceil(n / 8);
    const pa = h.f32(a), pw = h.f32(w), pc = h.f32(c0), pbias = bias ? h.f32(bias) : 0;
    const pr = residual === 'separate' ? h.f32(res!) : residual === 'inplace' ? pc : 0;
    const ap = h.f32(strips * 4 * k), bp = h.f32(panels * 8 * k);
    h.wasm.f32_pack_rows(m, k, pa, lda, ap, 0, strips);
    h.wasm.f32_pack_panels_nt(n, k, pw, ldw, bp, 0, panels);
    const rCut = Math.min(m, 4 * Math.max(1, strips >> 1)), cCut = Math.min(n, 8 * Math.max(1, panels >> 1));
    for (const [r0, r1] of [[0, rCut], [rCut, m]]) {
      for (const [j0, j1] of [[0, cCut], [cCut, n]]) {
        if (r1 <= r0 || j1 <= j0) continue;
        h.wasm.f32_gemm_packed(r1 - r0, j1 - j0, k, ap + r0 * k * 4, bp + j0 * k * 4, bias ? pbias + j0 * 4 : 0,
          pc + (r0 * ldc + j0) * 4, ldc, activation, pr === 0 ? 0 : pr + (r0 * ldr + j0) * 4, ldr);
      }
    }
    const act = [(v: number) => v, relu, gelu, geluTanh][activation];
    const z = referenceGemm(m, n, k, a, lda, w, ldw, true, 1, bias);
    const expected = new Float64Array(m * n), got = new Float64Array(m * n);
    const c = h.read(pc, m * ldc);
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        expected[i * n + j] = act(z[i * n + j]) + (res ? res[i * ldr + j] : 0);
        got[i * n + j] = c[i * ldc + j];
      }
      for (let j = n; j < ldc; j++) expect(c[i * ldc + j], `padding of row ${i}`).toBe(c0[i * ldc + j]);
    }
    // The product's error passes through the activation (slope <= 1.13) and the residual add
    // rounds once more; the activation's own error is <= 2e-7·max(1, |z|).
    expectClose(got, expected, 1.13 * dotTolerance(k, 1) + 4e-7, 1e-6,
      `epilogue act ${activation} residual ${residual} ${m}x${n}x${k}`);
    if (residual === 'separate') expect(h.read(pr, res!.length)).toEqual(res);
  }

  const ACTIVATIONS = [ACTIVATION.none, ACTIVATION.relu, ACTIVATION.gelu, ACTIVATION.geluTanh];
  it('packed epilogue: every activation × residual (none, separate, in place on C) across strip and panel edges', () => {
    for (const activation of ACTIVATIONS) {
      for (const residual of ['none', 'separate', 'inplace'] as const) {
        for (const m of [1, 3, 4, 5, 9, 17]) for (const n of [1, 7, 8, 9, 17, 33]) checkEpilogue(m, n, 13, activation, residual, 2);
      }
    }
  });

  it('packed epilogue: every k across the vector edges, no bias, a BERT FFN slice', () => {
    for (const activation of ACTIVATIONS) {
      for (const k of [1, 3, 4, 5, 8, 9, 16, 17, 31, 33]) checkEpilogue(5, 11, k, activation, 'inplace', 1, k % 2 === 0);
      checkEpilogue(33, 40, 768, activation, 'separate', 0);
    }
  });
});
