// f32_gemv_packed (the decoding GEMV over the packed GEMM's panels) against the float64
// reference and, bit for bit, against f32_gemm_packed on the same panels: every tile (1×8,
// 2×8, 4×8 and its 3-row form) over partial panels, k across the vector edges, strided rows,
// bias, every activation, residual separate or in place on C, and C cut into column items at
// random panel boundaries (how a phase splits it over threads: no cut may change a bit).
// In the relaxed build the 1- and 2-row tiles multiply and add unfused while the GEMM fuses
// (f32-gemv-packed-simd.ts says why): their rows are checked bit for bit against a plain-JS
// f32 emulation of that order where the epilogue is exact in JS (no activation, ReLU), and
// against the reference always; the 3- and 4-row tiles keep the GEMM's bits in both builds.
import { describe, expect, it } from 'vitest';
import { kernelVariants, loadKernels } from '../helpers/kernels.js';
import { randomF32, rng } from '../helpers/random.js';
import { referenceGemm } from '../reference/attention.js';
import { dotTolerance, expectClose, expectSameBits } from '../helpers/compare.js';
import { gelu, geluTanh, relu } from '../reference/activation.js';
import { ACTIVATION } from '../../src/parallel/phases.js';

/** The seed of the random sweep: WASM_ATTENTION_SEED=n reproduces a printed failure. */
const SEED = Number(process.env.WASM_ATTENTION_SEED ?? 20261203);

interface Case {
  m: number; n: number; k: number; pad: number; bias: boolean; activation: number;
  residual: 'none' | 'separate' | 'inplace';
  cuts: number[]; // column boundaries of the items, multiples of 8, ascending, inside (0, n)
}

/** Whether row i of an m-row call runs on a 3- or 4-row tile (the GEMM's madd, so its bits in
 * both builds): rows go four at a time while at least three are left, then two or one. */
const wideTile = (m: number, i: number): boolean => m - (i - (i % 4)) >= 3;

describe.each(kernelVariants())('f32-gemv (%s)', (variant) => {
  const h = loadKernels(variant);

  /** Runs one case through the GEMV (cut into items) and the packed GEMM (one call); checks
   * identical bits, the reference within the dot-product tolerance, untouched padding and inputs. */
  function check(t: Case, seed: number): void {
    const { m, n, k, pad, activation, residual } = t;
    const what = `seed ${seed}: ${JSON.stringify(t)}`;
    h.reset();
    const lda = k + pad, ldc = n + pad, ldr = residual === 'inplace' ? ldc : n + 2 * pad + 1;
    const a = randomF32(m * lda, seed + 1);
    const w = randomF32(n * k, seed + 2, 1 / Math.sqrt(k)); // nn.Linear [out, in] at its init scale: B = Wᵀ
    const bias = t.bias ? randomF32(n, seed + 3) : undefined;
    const res = residual === 'none' ? undefined : randomF32(m * (residual === 'inplace' ? ldc : ldr), seed + 4, 2);
    const c0 = residual === 'inplace' ? res! : randomF32(m * ldc, seed + 5); // garbage to overwrite; padding to keep
    const panels = Math.ceil(n / 8), strips = Math.ceil(m / 4);
    const pa = h.f32(a), pw = h.f32(w), pbias = bias ? h.f32(bias) : 0;
    const bp = h.f32(panels * 8 * k), ap = h.f32(strips * 4 * k);
    h.wasm.f32_pack_panels_nt(n, k, pw, k, bp, 0, panels);
    h.wasm.f32_pack_rows(m, k, pa, lda, ap, 0, strips);
    const pc = h.f32(c0), pcGemm = h.f32(c0);
    const pr = residual === 'separate' ? h.f32(res!) : residual === 'inplace' ? pc : 0;
    const prGemm = residual === 'inplace' ? pcGemm : pr;

    const edges = [0, ...t.cuts, n];
    for (let i = 0; i + 1 < edges.length; i++) {
      const j0 = edges[i], j1 = edges[i + 1];
      h.wasm.f32_gemv_packed(m, j1 - j0, k, pa, lda, bp + j0 * k * 4, bias ? pbias + j0 * 4 : 0, pc + j0 * 4, ldc,
        activation, pr === 0 ? 0 : pr + j0 * 4, ldr);
    }
    h.wasm.f32_gemm_packed(m, n, k, ap, bp, pbias, pcGemm, ldc, activation, prGemm, ldr);

    const c = h.read(pc, m * ldc), cGemm = h.read(pcGemm, m * ldc);
    for (let i = 0; i < m; i++) {
      const row = c.subarray(i * ldc, (i + 1) * ldc);
      if (variant === 'simd' || wideTile(m, i)) {
        expectSameBits(row, cGemm.subarray(i * ldc, (i + 1) * ldc), `gemv vs packed gemm, row ${i}, ${what}`);
      } else if (activation === ACTIVATION.none || activation === ACTIVATION.relu) {
        const want = new Float32Array(n);
        for (let j = 0; j < n; j++) {
          let acc = Math.fround(bias ? bias[j] : 0);
          for (let kk = 0; kk < k; kk++) acc = Math.fround(acc + Math.fround(a[i * lda + kk] * w[j * k + kk]));
          if (activation === ACTIVATION.relu) acc = Math.max(acc, 0);
          want[j] = res ? Math.fround(acc + res[i * ldr + j]) : acc;
        }
        expectSameBits(row.subarray(0, n), want, `gemv row ${i} (unfused) vs its f32 emulation, ${what}`);
      }
    }
    const act = [(v: number) => v, relu, gelu, geluTanh][activation];
    const z = referenceGemm(m, n, k, a, lda, w, k, true, 1, bias);
    const expected = new Float64Array(m * n), got = new Float64Array(m * n);
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        expected[i * n + j] = act(z[i * n + j]) + (res ? res[i * ldr + j] : 0);
        got[i * n + j] = c[i * ldc + j];
      }
      for (let j = n; j < ldc; j++) expect(c[i * ldc + j], `padding of row ${i}, ${what}`).toBe(c0[i * ldc + j]);
    }
    // As the packed GEMM's epilogue test: the activation's slope (<= 1.13), its own error, one
    // more rounding for the residual.
    expectClose(got, expected, 1.13 * dotTolerance(k, 1) + 4e-7, 1e-6, what);
    expect(h.read(pa, a.length), `A untouched, ${what}`).toEqual(a);
    if (residual === 'separate') expect(h.read(pr, res!.length), `residual untouched, ${what}`).toEqual(res);
  }

  it('every row count (1..4, and 5..9 four rows a pass) across the panel edges', () => {
    const ns = [1, 3, 7, 8, 9, 15, 16, 17, 23, 24, 25, 31, 32, 33, 39, 40, 41, 63, 64, 65, 97];
    for (const m of [1, 2, 3, 4, 5, 6, 7, 9]) {
      for (const n of ns) check({ m, n, k: 13, pad: 0, bias: true, activation: 0, residual: 'none', cuts: [] }, m * 1000 + n);
    }
  });

  it('every k across the vector edges, strided rows, with and without bias', () => {
    for (const m of [1, 2, 3, 4]) {
      for (const k of [1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 33, 67, 128]) {
        check({ m, n: 37, k, pad: 3, bias: k % 2 === 1, activation: 0, residual: 'none', cuts: [] }, m * 7 + k);
      }
    }
  });

  it('every activation × residual (none, separate, in place on C)', () => {
    for (const activation of [ACTIVATION.none, ACTIVATION.relu, ACTIVATION.gelu, ACTIVATION.geluTanh]) {
      for (const residual of ['none', 'separate', 'inplace'] as const) {
        for (const m of [1, 2, 3, 4, 5]) {
          for (const n of [5, 8, 29, 40, 71]) check({ m, n, k: 19, pad: 2, bias: true, activation, residual, cuts: [] }, m + n);
        }
      }
    }
  });

  it(`random shapes and column cuts (seed ${SEED}): same bits as the packed GEMM, close to the reference`, () => {
    const next = rng(SEED);
    const pick = (lo: number, hi: number): number => lo + Math.floor(next() * (hi - lo + 1));
    for (let trial = 0; trial < 300; trial++) {
      const n = pick(1, 200) | (trial % 2), k = pick(1, 90), panels = Math.ceil(n / 8);
      const cuts = [...new Set(Array.from({ length: pick(0, 4) }, () => 8 * pick(1, Math.max(1, panels - 1))))]
        .filter((c) => c < n).sort((x, y) => x - y);
      const t: Case = {
        m: pick(1, 4), n, k, pad: pick(0, 5), bias: next() < 0.7, activation: pick(0, 3),
        residual: (['none', 'separate', 'inplace'] as const)[pick(0, 2)], cuts,
      };
      check(t, SEED + trial);
    }
  });

  it('a GPT-2 small shape: the MLP down-projection row (k 3072, n 768) and 1..4 rows', () => {
    for (const m of [1, 2, 3, 4]) {
      check({ m, n: 768, k: 3072, pad: 0, bias: true, activation: 0, residual: 'separate', cuts: [64, 384, 704] }, m);
    }
  });

  // The GEMV reads a byte of every 4 KiB page of its panels before the rows (common/memory.ts
  // touchPages): with the last panel's last byte on the memory's last byte, any byte read past
  // the panels would trap. Same bits as the same call on panels placed with room after them.
  it('panels ending at the last byte of the memory: no read past them, the same bits', () => {
    const next = rng(SEED + 1);
    const pick = (lo: number, hi: number): number => lo + Math.floor(next() * (hi - lo + 1));
    for (let trial = 0; trial < 24; trial++) {
      const g = loadKernels(variant);
      const m = pick(1, 4), n = pick(1, 300), k = pick(1, 400), panels = Math.ceil(n / 8);
      const what = `trial ${trial} (seed ${SEED + 1}): m ${m}, n ${n}, k ${k}`;
      const a = randomF32(m * k, SEED + trial), w = randomF32(n * k, SEED + 100 + trial, 1 / Math.sqrt(k));
      const pa = g.f32(a), pw = g.f32(w), bp = g.f32(panels * 8 * k);
      g.wasm.f32_pack_panels_nt(n, k, pw, k, bp, 0, panels);
      const packed = g.read(bp, panels * 8 * k);
      const run = (at: number): Float32Array => {
        const pc = g.f32(m * n);
        g.wasm.f32_gemv_packed(m, n, k, pa, k, at, 0, pc, n, 0, 0, 0);
        return g.read(pc, m * n);
      };
      const roomy = run(bp);
      g.memory.grow(Math.ceil(packed.length * 4 / 65536) + 1);
      const end = g.memory.buffer.byteLength, flush = end - packed.length * 4;
      new Float32Array(g.memory.buffer, flush, packed.length).set(packed);
      expect(run(flush), what).toEqual(roomy);
    }
  });
});
