// i8_gemv (the decoding GEMV over the int8 GEMM's strips and panels) against the plain-JS
// integer reference (test/reference/i8-gemm.ts) and, bit for bit, against i8_gemm_packed on the
// same strips and panels: every tile (1×8, 2×8, and the GEMM's 4×8 for 3 and 4 rows; 5..9 rows
// one strip a pass) over partial panels, k odd and off the 4-step (padding), strided A, bias,
// every activation, residual separate or in place on C, and C cut into column items at random
// panel boundaries (how a phase splits it over threads: no cut may change a bit).
import { describe, expect, it } from 'vitest';
import { kernelVariants, loadKernels } from '../helpers/kernels.js';
import { randomF32, rng } from '../helpers/random.js';
import { expectClose, expectSameBits } from '../helpers/compare.js';
import { gelu, geluTanh, relu } from '../reference/activation.js';
import { i8Gemm, quantizeRows, quantizeWeight } from '../reference/i8-gemm.js';
import { ACTIVATION, i8PanelBytes, i8StripBytes } from '../../src/parallel/phases.js';
import { I8_GEMM_A_MAX } from '../../src/wasm/layout.js';

/** The seed of the random sweep: WASM_ATTENTION_SEED=n reproduces a printed failure. */
const SEED = Number(process.env.WASM_ATTENTION_SEED ?? 20261203);

interface Case {
  m: number; n: number; k: number; pad: number; bias: boolean; activation: number;
  residual: 'none' | 'separate' | 'inplace';
  cuts: number[]; // column boundaries of the items, multiples of 8, ascending, inside (0, n)
}

describe.each(kernelVariants())('i8-gemv (%s)', (variant) => {
  const h = loadKernels(variant);

  /** Runs one case through the GEMV (cut into items) and the int8 GEMM (one call) on the same
   * strips and panels; checks identical bits, the integer reference bit for bit (GELU to its
   * polynomial), untouched C padding, strips, panels and residual. */
  function check(t: Case, seed: number): void {
    const { m, n, k, pad, activation, residual } = t;
    const what = `seed ${seed}: ${JSON.stringify(t)}`;
    h.reset();
    const lda = k + pad, ldc = n + pad, ldr = residual === 'inplace' ? ldc : n + 2 * pad + 1;
    const a = randomF32(m * lda, seed + 1, 2);
    const w = randomF32(n * k, seed + 2, 1 / Math.sqrt(k));
    const bias = t.bias ? randomF32(n, seed + 3) : undefined;
    const res = residual === 'none' ? undefined : randomF32(m * (residual === 'inplace' ? ldc : ldr), seed + 4, 2);
    const c0 = residual === 'inplace' ? res! : randomF32(m * ldc, seed + 5); // garbage to overwrite; padding to keep
    const panels = Math.ceil(n / 8), strips = Math.ceil(m / 4);
    const pbias = bias ? h.f32(bias) : 0;
    const bp = h.u8(new Uint8Array(panels * i8PanelBytes(k))), ap = h.u8(new Uint8Array(strips * i8StripBytes(k)));
    h.wasm.i8_pack_panels_nt(n, k, h.f32(w), k, bp, 0, panels);
    h.wasm.i8_quantize_rows(m, k, h.f32(a), lda, ap, 0, strips);
    const operands = (): Uint8Array[] => [[bp, panels * i8PanelBytes(k)], [ap, strips * i8StripBytes(k)]]
      .map(([at, length]) => new Uint8Array(h.memory.buffer.slice(at, at + length)));
    const codes = operands();
    const pc = h.f32(c0), pcGemm = h.f32(c0);
    const pr = residual === 'separate' ? h.f32(res!) : residual === 'inplace' ? pc : 0;
    const prGemm = residual === 'inplace' ? pcGemm : pr;

    const edges = [0, ...t.cuts, n];
    for (let i = 0; i + 1 < edges.length; i++) {
      const j0 = edges[i], j1 = edges[i + 1];
      h.wasm.i8_gemv(m, j1 - j0, k, ap, bp + (j0 / 8) * i8PanelBytes(k), bias ? pbias + j0 * 4 : 0, pc + j0 * 4, ldc,
        activation, pr === 0 ? 0 : pr + j0 * 4, ldr);
    }
    h.wasm.i8_gemm_packed(m, n, k, ap, bp, pbias, pcGemm, ldc, activation, prGemm, ldr, 0);
    // 1 and 2 rows again from a compact strip (rows side by side, 4·m bytes a k pair): same bits.
    let pcCompact = 0;
    if (m <= 2) {
      const apc = h.u8(new Uint8Array(i8StripBytes(k)));
      h.wasm.i8_quantize_rows(m, k, h.f32(a), lda, apc, 0, 1, 1);
      const header = (at: number): number[] => Array.from(new Uint32Array(h.memory.buffer.slice(at, at + 32)));
      expect(header(apc), `compact strip header, ${what}`).toEqual(header(ap));
      const resCompact = residual === 'inplace' ? res! : undefined;
      pcCompact = h.f32(residual === 'inplace' ? resCompact! : c0);
      const prCompact = residual === 'separate' ? pr : residual === 'inplace' ? pcCompact : 0;
      for (let i = 0; i + 1 < edges.length; i++) {
        const j0 = edges[i], j1 = edges[i + 1];
        h.wasm.i8_gemv(m, j1 - j0, k, apc, bp + (j0 / 8) * i8PanelBytes(k), bias ? pbias + j0 * 4 : 0, pcCompact + j0 * 4, ldc,
          activation, prCompact === 0 ? 0 : prCompact + j0 * 4, ldr, 1);
      }
    }

    const c = h.read(pc, m * ldc);
    expectSameBits(c, h.read(pcGemm, m * ldc), `gemv vs int8 gemm, ${what}`);
    if (pcCompact !== 0) expectSameBits(h.read(pcCompact, m * ldc), c, `compact-strip gemv vs gemv, ${what}`);
    const got = new Float32Array(m * n), dense = new Float32Array(m * k);
    for (let i = 0; i < m; i++) {
      got.set(c.subarray(i * ldc, i * ldc + n), i * n);
      dense.set(a.subarray(i * lda, i * lda + k), i * k);
      for (let j = n; j < ldc; j++) expect(c[i * ldc + j], `padding of row ${i}, ${what}`).toBe(c0[i * ldc + j]);
    }
    let resDense: Float32Array | undefined;
    if (res) {
      const ld = residual === 'inplace' ? ldc : ldr;
      resDense = new Float32Array(m * n);
      for (let i = 0; i < m; i++) resDense.set(res.subarray(i * ld, i * ld + n), i * n);
    }
    const act = [(v: number) => v, relu, gelu, geluTanh][activation];
    const want = i8Gemm(quantizeRows(dense, m, k, I8_GEMM_A_MAX), quantizeWeight(w, n, k), bias, act, resDense);
    if (activation === ACTIVATION.gelu || activation === ACTIVATION.geluTanh) expectClose(got, want, 2e-6, 2e-6, what);
    else expectSameBits(got, want, `reference, ${what}`);
    operands().forEach((bytes, i) => {
      const at = bytes.findIndex((b, j) => b !== codes[i][j]);
      expect(at, `${['panels', 'strips'][i]} untouched (first changed byte), ${what}`).toBe(-1);
    });
    if (residual === 'separate') expect(h.read(pr, res!.length), `residual untouched, ${what}`).toEqual(res);
  }

  it('every row count (1..4, and 5..9 one strip a pass) across the panel edges', () => {
    const ns = [1, 3, 7, 8, 9, 15, 16, 17, 23, 24, 25, 31, 32, 33, 63, 64, 65, 97, 127, 128, 129];
    for (const m of [1, 2, 3, 4, 5, 6, 7, 8, 9]) {
      for (const n of ns) check({ m, n, k: 13, pad: 0, bias: true, activation: 0, residual: 'none', cuts: [] }, m * 1000 + n);
    }
  });

  it('every k tail (odd, off the 4-step of the padding, past one 32-byte pass), strided rows', () => {
    for (const m of [1, 2, 3, 4]) {
      for (const k of [1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 15, 16, 17, 31, 33, 67, 128, 255, 769]) {
        check({ m, n: 37, k, pad: 3, bias: k % 2 === 1, activation: 0, residual: 'none', cuts: [] }, m * 7 + k);
      }
    }
  });

  it('every activation × residual (none, separate, in place on C)', () => {
    for (const activation of Object.values(ACTIVATION)) {
      for (const residual of ['none', 'separate', 'inplace'] as const) {
        for (const m of [1, 2, 3, 4, 5]) {
          for (const n of [5, 8, 29, 40, 71]) check({ m, n, k: 19, pad: 2, bias: true, activation, residual, cuts: [] }, m + n);
        }
      }
    }
  });

  it('the largest sums stay exact: k = 4096 with every code at its extreme, 1 and 2 rows', () => {
    for (const m of [1, 2]) {
      const n = 9, k = 4096;
      h.reset();
      const a = new Float32Array(m * k).fill(1);
      for (let kk = 0; kk < k; kk += 7) a[kk] = -1; // row 0 spans [-1, 1], zero point mid-range
      const w = new Float32Array(n * k).fill(-0.5);
      const bp = h.u8(new Uint8Array(2 * i8PanelBytes(k))), ap = h.u8(new Uint8Array(i8StripBytes(k)));
      h.wasm.i8_pack_panels_nt(n, k, h.f32(w), k, bp, 0, 2);
      h.wasm.i8_quantize_rows(m, k, h.f32(a), k, ap, 0, 1);
      const pc = h.f32(m * n);
      h.wasm.i8_gemv(m, n, k, ap, bp, 0, pc, n, ACTIVATION.none, 0, n);
      expectSameBits(h.read(pc, m * n), i8Gemm(quantizeRows(a, m, k, I8_GEMM_A_MAX), quantizeWeight(w, n, k)), `extreme codes, ${m} rows`);
    }
  });

  it('a row with NaN gives a NaN row; the other row of the tile is unaffected', () => {
    const m = 2, n = 11, k = 21;
    const a = randomF32(m * k, 5);
    a[k + 3] = Number.NaN;
    const w = randomF32(n * k, 6, 0.2);
    h.reset();
    const bp = h.u8(new Uint8Array(2 * i8PanelBytes(k))), ap = h.u8(new Uint8Array(i8StripBytes(k)));
    h.wasm.i8_pack_panels_nt(n, k, h.f32(w), k, bp, 0, 2);
    h.wasm.i8_quantize_rows(m, k, h.f32(a), k, ap, 0, 1);
    const pc = h.f32(m * n);
    h.wasm.i8_gemv(m, n, k, ap, bp, 0, pc, n, ACTIVATION.none, 0, n);
    const c = h.read(pc, m * n);
    expect(Array.from(c.subarray(n), Number.isNaN)).toEqual(new Array(n).fill(true));
    expectSameBits(c.subarray(0, n), i8Gemm(quantizeRows(a, 1, k, I8_GEMM_A_MAX), quantizeWeight(w, n, k)), 'row 0');
  });

  it(`random shapes and column cuts (seed ${SEED}): same bits as the int8 GEMM and the reference`, () => {
    const next = rng(SEED);
    const pick = (lo: number, hi: number): number => lo + Math.floor(next() * (hi - lo + 1));
    for (let trial = 0; trial < 200; trial++) {
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

  it('GPT-2 small shapes, 1..4 rows: the MLP down-projection (k 3072, n 768), c_fc with GELU (tanh)', () => {
    for (const m of [1, 2, 3, 4]) {
      check({ m, n: 768, k: 3072, pad: 0, bias: true, activation: 0, residual: 'separate', cuts: [128, 384, 640] }, m);
      check({ m, n: 3072, k: 768, pad: 0, bias: true, activation: ACTIVATION.geluTanh, residual: 'none', cuts: [1024, 2048] }, m + 10);
    }
  });
});
