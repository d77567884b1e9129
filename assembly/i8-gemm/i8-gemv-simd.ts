// Int8 GEMV (and GEMM of a few rows): C[m, n] = act(dequant(Aq·Wqᵀ) + bias) + residual for
// m = 1..4 (decoding: one row per sequence), from the very A strips (i8-quantize-rows-simd.ts)
// and B panels (i8-pack-panels.ts) the int8 GEMM reads; math, layouts and memory contract are
// i8GemmPacked's (i8-gemm.ts), with ap the strip holding row 0 of this C.
//
// Why: with one row, the GEMM's 4×8 tile does 4× the arithmetic (3 of its strip rows are
// padding), and int8 decoding is meant to run at the speed of the weight stream, where each
// byte of B now carries 4× the arithmetic of an f32 weight. Here the tile is 1 or 2 rows × one
// 8-column panel; 3 and 4 rows run the GEMM's own tile, which for one strip already is this
// kernel's loop (16 dot products per 16 weight bytes: arithmetic-bound either way). As the
// f32 GEMV (f32-gemm/f32-gemv-packed-simd.ts says why), B is read once per call, panel after
// panel, header then codes, each whole before the next: ONE sequential stream.
// Per 16 bytes of B (2 k × 8 columns) one row costs two v128.load8x8_s, each 8 codes
// sign-extended to i16x8 as they load (x64: vpmovsxbw from memory; one load widened by
// pmovsxbw, punpckhbw + psraw took 3 ALU operations, the bulk of the one-row
// work: GPT-2's int8 lm_head 1.39-1.75 → 1.31-1.53 ms, 768-wide projections 5-10% faster, in
// alternation), 1 load32_splat of the row's i16 pair (a load, no ALU), 2 i32x4.dot_i16x8_s and
// 2 adds. The loop takes two k pairs
// (32 bytes) a pass: the codes are 8·kp bytes with kp a multiple of 4, so there is no tail,
// and the two pairs' dot products are summed before the accumulator (integer adds: the chains
// are 1 cycle an add, never the limit).
// Same bits as the GEMM: the sum is exact in i32 whatever the order, the epilogue is the
// GEMM's finishRow, and no split of the columns over threads changes a bit either.
// With the relaxed dot on (i8-relaxed-dot.ts: quad strips), gemvQuads1x8 / gemvQuads2x8 and the
// GEMM's quad tile take the place of these loops, for the same sums: GPT-2 small's int8 decode
// step in Deno 2.9 went 6.94 → 5.19 ms (docs/PERFORMANCE.md, fifth session).
import { GEMM_STRIP_ROWS as MR, GEMM_PANEL_COLS as NR, I8_GEMM_STRIP_HEADER, I8_GEMM_PANEL_HEADER } from "../layout";
import { biasVector } from "../f32-gemm/f32-gemm-packed-4x8-simd";
import { paddedK, panelBytes, stripBytes } from "./i8-gemm";
import { finishRow, i8GemmPacked, quads0123, quads4567 } from "./i8-gemm-4x8-simd";
import { dotQuads, i8RelaxedDotOn } from "./i8-relaxed-dot";

/** C = act(dequant(A·B) + bias) + residual for few rows; contract of i8GemmPacked (i8-gemm.ts).
 * m > 4 runs 4 rows (one strip) at a time: B is then read once per strip (use the GEMM).
 * `compact` (m <= 2): ap is the compact strip i8QuantizeRows wrote with `compact`. */
export function i8Gemv(
  m: i32, n: i32, k: i32, ap: usize, bp: usize, bias: usize, c: usize, ldc: i32,
  activation: i32, residual: usize, ldr: i32, compact: i32,
): void {
  const ldcB = <usize>ldc << 2, ldrB = <usize>ldr << 2, sB = stripBytes(k);
  // Bytes between a row's consecutive k pairs (or quads): 4 per row of the strip (m rows when compact).
  const pairB: usize = compact != 0 && m <= 2 ? <usize>m << 2 : <usize>MR << 2;
  const quads = i8RelaxedDotOn();
  for (let i = 0; i < m; i += MR) {
    const rows = min(MR, m - i);
    const strip = ap + <usize>(i / MR) * sB, ci = c + <usize>i * ldcB;
    const ri = residual != 0 ? residual + <usize>i * ldrB : 0;
    if (rows >= 3) {
      i8GemmPacked(rows, n, k, strip, bp, bias, ci, ldc, activation, ri, ldr, 0, quads);
      continue;
    }
    // `quads` a constant in each inlined copy (always false in the baseline build).
    if (quads) {
      if (rows == 2) gemv2x8(n, k, strip, pairB, bp, bias, ci, ldcB, activation, ri, ldrB, true);
      else gemv1x8(n, k, strip, pairB, bp, bias, ci, activation, ri, true);
    } else if (rows == 2) gemv2x8(n, k, strip, pairB, bp, bias, ci, ldcB, activation, ri, ldrB, false);
    else gemv1x8(n, k, strip, pairB, bp, bias, ci, activation, ri, false);
  }
}

/** Row 0 of a strip over every panel, one panel at a time (8 columns); the row's k pairs (or
 * quads) pairB bytes apart (16 in a 4-row strip, 4 in a compact one).
 * quads (the relaxed dot on, i8-relaxed-dot.ts): per 32 bytes of B (4 k × 8 columns) two loads,
 * two shuffles into column quads and two relaxed dots against the row's splat quad, instead of
 * four widening loads, four dots and four adds; two 32-byte steps a pass into four
 * accumulators, as one relaxed dot's latency (its result is its accumulator) per step would
 * bound the stream. */
// @ts-ignore: decorator
@inline function gemv1x8(
  n: i32, k: i32, strip: usize, pairB: usize, bp: usize, bias: usize, c: usize, activation: i32, residual: usize,
  quads: bool,
): void {
  const pB = panelBytes(k), codesB = paddedK(k) * NR, a0 = strip + I8_GEMM_STRIP_HEADER;
  for (let j = 0; j < n; j += NR) {
    const panel = bp + <usize>(j / NR) * pB;
    const b0 = panel + I8_GEMM_PANEL_HEADER, bEnd = b0 + codesB;
    let vacc0x0123 = i32x4.splat(0), vacc0x4567 = i32x4.splat(0);
    let pa = a0, pb = b0;
    if (quads) {
      let vacc1x0123 = i32x4.splat(0), vacc1x4567 = i32x4.splat(0);
      for (; pb + 64 <= bEnd; pb += 64) {
        const lo0 = v128.load(pb), hi0 = v128.load(pb, 16), lo1 = v128.load(pb, 32), hi1 = v128.load(pb, 48);
        const va0 = v128.load32_splat(pa), va1 = v128.load32_splat(pa + pairB);
        vacc0x0123 = dotQuads(quads0123(lo0, hi0), va0, vacc0x0123);
        vacc0x4567 = dotQuads(quads4567(lo0, hi0), va0, vacc0x4567);
        vacc1x0123 = dotQuads(quads0123(lo1, hi1), va1, vacc1x0123);
        vacc1x4567 = dotQuads(quads4567(lo1, hi1), va1, vacc1x4567);
        pa += pairB << 1;
      }
      if (pb < bEnd) { // kp ≡ 4 (mod 8): one 32-byte step left
        const lo = v128.load(pb), hi = v128.load(pb, 16), va = v128.load32_splat(pa);
        vacc0x0123 = dotQuads(quads0123(lo, hi), va, vacc0x0123);
        vacc0x4567 = dotQuads(quads4567(lo, hi), va, vacc0x4567);
      }
      vacc0x0123 = i32x4.add(vacc0x0123, vacc1x0123);
      vacc0x4567 = i32x4.add(vacc0x4567, vacc1x4567);
    } else {
      for (; pb < bEnd; pb += 32) {
        // Two k pairs: 8 columns × (k, k+1) each, widened; the row's pair of each, splat.
        const vak01 = v128.load32_splat(pa), vak23 = v128.load32_splat(pa + pairB);
        vacc0x0123 = i32x4.add(vacc0x0123, i32x4.add(
          i32x4.dot_i16x8_s(vak01, v128.load8x8_s(pb)), i32x4.dot_i16x8_s(vak23, v128.load8x8_s(pb, 16))));
        vacc0x4567 = i32x4.add(vacc0x4567, i32x4.add(
          i32x4.dot_i16x8_s(vak01, v128.load8x8_s(pb, 8)), i32x4.dot_i16x8_s(vak23, v128.load8x8_s(pb, 24))));
        pa += pairB << 1;
      }
    }
    finishPanel(strip, 0, panel, vacc0x0123, vacc0x4567, bias, j, n, activation, residual, c);
  }
}

/** Rows 0 and 1 of a strip over every panel, one panel at a time (8 columns, 4 accumulators);
 * quads (the relaxed dot on): per 32 bytes of B two loads, two shuffles and four relaxed dots. */
// @ts-ignore: decorator
@inline function gemv2x8(
  n: i32, k: i32, strip: usize, pairB: usize, bp: usize, bias: usize, c: usize, ldcB: usize,
  activation: i32, residual: usize, ldrB: usize, quads: bool,
): void {
  const pB = panelBytes(k), codesB = paddedK(k) * NR, a0 = strip + I8_GEMM_STRIP_HEADER;
  for (let j = 0; j < n; j += NR) {
    const panel = bp + <usize>(j / NR) * pB;
    const b0 = panel + I8_GEMM_PANEL_HEADER, bEnd = b0 + codesB;
    let vacc0x0123 = i32x4.splat(0), vacc0x4567 = i32x4.splat(0), vacc1x0123 = i32x4.splat(0), vacc1x4567 = i32x4.splat(0);
    let pa = a0;
    for (let pb = b0; pb < bEnd; pb += 32) {
      if (quads) {
        const lo = v128.load(pb), hi = v128.load(pb, 16);
        const vb0123 = quads0123(lo, hi), vb4567 = quads4567(lo, hi);
        const va0 = v128.load32_splat(pa), va1 = v128.load32_splat(pa, 4);
        vacc0x0123 = dotQuads(vb0123, va0, vacc0x0123);
        vacc0x4567 = dotQuads(vb4567, va0, vacc0x4567);
        vacc1x0123 = dotQuads(vb0123, va1, vacc1x0123);
        vacc1x4567 = dotQuads(vb4567, va1, vacc1x4567);
        pa += pairB;
        continue;
      }
      const vbk01x0123 = v128.load8x8_s(pb), vbk01x4567 = v128.load8x8_s(pb, 8);
      const vbk23x0123 = v128.load8x8_s(pb, 16), vbk23x4567 = v128.load8x8_s(pb, 24);
      const pa23 = pa + pairB;
      const va0k01 = v128.load32_splat(pa), va0k23 = v128.load32_splat(pa23);
      vacc0x0123 = i32x4.add(vacc0x0123, i32x4.add(i32x4.dot_i16x8_s(va0k01, vbk01x0123), i32x4.dot_i16x8_s(va0k23, vbk23x0123)));
      vacc0x4567 = i32x4.add(vacc0x4567, i32x4.add(i32x4.dot_i16x8_s(va0k01, vbk01x4567), i32x4.dot_i16x8_s(va0k23, vbk23x4567)));
      const va1k01 = v128.load32_splat(pa, 4), va1k23 = v128.load32_splat(pa23, 4);
      vacc1x0123 = i32x4.add(vacc1x0123, i32x4.add(i32x4.dot_i16x8_s(va1k01, vbk01x0123), i32x4.dot_i16x8_s(va1k23, vbk23x0123)));
      vacc1x4567 = i32x4.add(vacc1x4567, i32x4.add(i32x4.dot_i16x8_s(va1k01, vbk01x4567), i32x4.dot_i16x8_s(va1k23, vbk23x4567)));
      pa += pairB << 1;
    }
    finishPanel(strip, 0, panel, vacc0x0123, vacc0x4567, bias, j, n, activation, residual, c);
    finishPanel(strip, 1, panel, vacc1x0123, vacc1x4567, bias, j, n, activation, residual != 0 ? residual + ldrB : 0, c + ldcB);
  }
}

/** Row r of the panel at column j: the GEMM's epilogue with the panel's scales and column sums,
 * read from its header after the codes (8·kp bytes back in the stream: in L1 or L2, and no
 * registers held across the loop). c and residual point at the row's column 0. */
// @ts-ignore: decorator
@inline function finishPanel(
  strip: usize, r: i32, panel: usize, lo: v128, hi: v128, bias: usize, j: i32, n: i32, activation: i32,
  residual: usize, c: usize,
): void {
  const cols = min(NR, n - j), jB = <usize>j << 2;
  const pbias = bias != 0 ? bias + jB : 0;
  finishRow(strip, r, lo, hi, v128.load(panel, 32), v128.load(panel, 48), v128.load(panel), v128.load(panel, 16),
    biasVector(pbias, 0, cols), biasVector(pbias, 4, cols), activation, residual != 0 ? residual + jB : 0, c + jB, cols);
}
