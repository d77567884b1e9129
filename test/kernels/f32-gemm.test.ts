// f32_gemm_nn / f32_gemm_nt against the float64 reference, on sizes that straddle every tile
// edge (4×8 NN tile, 2×4 NT tile, 4-wide k steps), with strided views, bias and alpha.
import { describe, expect, it } from 'vitest';
import { kernelVariants, loadKernels } from '../helpers/kernels.js';
import { randomF32 } from '../helpers/random.js';
import { referenceGemm } from '../reference/attention.js';
import { dotTolerance, expectClose } from '../helpers/compare.js';

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

  it('A·Bᵀ: alpha scales the product, not the bias', () => {
    check(true, 6, 10, 12, 0, true, 0.125);
    check(true, 3, 5, 7, 2, true, -2);
  });
});
