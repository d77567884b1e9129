// The int8 GEMM's 4×8 register tile: exact i32 accumulation of A strip codes (i16, 0..255) against B
// panel codes (i8), then the epilogue C = act(f32(acc − za·colsum)·(sa·sw) + bias) + residual
// applied to the accumulators at the tile's store (math and layouts: i8-gemm.ts).
//
// One k step of the tile is 2 k: 16 weight codes (8 columns × 2 k) read as two i16x8 — with
// a scratch slot (the engine always gives one up to k = 4256), from the panel's codes widened
// into it once per panel by plain loads; without, by v128.load8x8_s (x64: vpmovsxbw from
// memory, which issues on the ports the multiplies use: widening once instead took
// 512×768×3072 from 27.99 to 25.96 ms, 128×768×3072 7.10 → 6.66, in alternation; a 16-byte
// load widened by pmovsxbw + punpckhbw/psraw cost 2 ops more than load8x8_s), 4
// load32_splat of a row's i16 activation pair (widened when quantized: in the loop it would
// cost 4 of its 23 vector operations), 8 i32x4.dot_i16x8_s + 8 adds (8 multiply-adds
// each, as llama.cpp's and candle's wasm paths): 8 accumulators, 2 B vectors and the A pairs,
// within V8's 15 XMM registers. Products are at most 255·127, pairs 2·255·127: the sum is exact.
// Both builds run this loop, except where the relaxed build's probe found the relaxed integer
// dot exact (x64 AVX-VNNI; in its signed mode Arm and x64 AVX-VNNI-INT8: i8-relaxed-dot.ts):
// there the loop below runs it on byte quads, 16 multiply-adds an instruction, for the same i32
// sums. So the builds give identical bits, on
// every engine.
// The epilogue uses f32 mul and add (never relaxed_madd), and the threads split C only (never
// k): every bit is reproducible.
import { GEMM_STRIP_ROWS as MR, GEMM_PANEL_COLS as NR, I8_GEMM_STRIP_HEADER, I8_GEMM_PANEL_HEADER } from "../layout";
import { ACTIVATION_RELU, ACTIVATION_GELU, ACTIVATION_GELU_TANH, relu, geluErf, geluTanh } from "../f32-activation/f32-gelu-simd";
import { paddedK, panelBytes, stripBytes } from "./i8-gemm";
import { biasVector, storeRow } from "../f32-gemm/f32-gemm-packed-4x8-simd";
import { I8_QUAD_BUILD, dotQuads } from "./i8-relaxed-dot";

/** f32(acc − za·colsum)·(sa·sw) + bias for four columns of one row. */
// @ts-ignore: decorator
@inline function dequantize(acc: v128, vza: v128, vcolsum: v128, vsa: v128, vsw: v128, vbias: v128): v128 {
  const exact = i32x4.sub(acc, i32x4.mul(vza, vcolsum));
  return f32x4.add(f32x4.mul(f32x4.convert_i32x4_s(exact), f32x4.mul(vsa, vsw)), vbias);
}

/** The activation chosen by `activation` (ACTIVATION_*; 0 = none). */
// @ts-ignore: decorator
@inline function activate(x: v128, activation: i32): v128 {
  if (activation == ACTIVATION_RELU) return relu(x);
  if (activation == ACTIVATION_GELU) return geluErf(x);
  if (activation == ACTIVATION_GELU_TANH) return geluTanh(x);
  return x;
}

/** One tile row: dequantize, activate, add the residual, store (the GEMV's epilogue too). */
// @ts-ignore: decorator
@inline export function finishRow(
  strip: usize, r: i32, lo: v128, hi: v128, vcolsum0: v128, vcolsum1: v128, vsw0: v128, vsw1: v128,
  vbias0: v128, vbias1: v128, activation: i32, residual: usize, c: usize, cols: i32,
): void {
  const vsa = v128.load32_splat(strip + (<usize>r << 2));
  const vza = v128.load32_splat(strip + (<usize>(MR + r) << 2));
  let y0 = activate(dequantize(lo, vza, vcolsum0, vsa, vsw0, vbias0), activation);
  let y1 = activate(dequantize(hi, vza, vcolsum1, vsa, vsw1, vbias1), activation);
  if (residual != 0) {
    y0 = f32x4.add(y0, biasVector(residual, 0, cols));
    y1 = f32x4.add(y1, biasVector(residual, 4, cols));
  }
  storeRow(c, y0, y1, cols);
}

/** C[m, n] = act(dequant(A·B) + bias) + residual from the A strips at ap (strip 0 = rows 0..3
 * of this C) and the B panels at bp (panel 0 = columns 0..7 of this C); bias, residual and C
 * start at the same row and column. Panels outside, strips inside, as the f32 packed GEMM:
 * a panel (8·kp bytes) stays in L1 while the strips stream past it.
 * scratch: 0, or 16·kp bytes owned by this call (the host's i8WideScratchBytes): each panel's codes
 * are then widened to i16 there once, and the tile reads them with plain loads instead of
 * widening them on every strip (x64: a vpmovsxbw per 8 codes, on the ports the multiplies
 * use; 512×768×3072 27.99 → 25.96 ms in alternation). The same products, so the same bits.
 * quads (relaxed build, the relaxed dot on): ap holds quad strips, and the panels are reordered
 * into quads in scratch, or on every strip without it (i8GemmPanels); the baseline build
 * ignores it (except an emulating test build: i8-relaxed-dot.ts). */
export function i8GemmPacked(
  m: i32, n: i32, k: i32, ap: usize, bp: usize, bias: usize, c: usize, ldc: i32,
  activation: i32, residual: usize, ldr: i32, scratch: usize, quads: bool,
): void {
  if (I8_QUAD_BUILD && quads) { // folded away in the baseline build
    if (scratch != 0) i8GemmPanels(m, n, k, ap, bp, bias, c, ldc, activation, residual, ldr, scratch, true, true);
    else i8GemmPanels(m, n, k, ap, bp, bias, c, ldc, activation, residual, ldr, 0, false, true);
  } else if (scratch != 0) i8GemmPanels(m, n, k, ap, bp, bias, c, ldc, activation, residual, ldr, scratch, true, false);
  else i8GemmPanels(m, n, k, ap, bp, bias, c, ldc, activation, residual, ldr, 0, false, false);
}

/** The tile's epilogue: rows 0..rows-1 of C at c (row stride ldcB bytes) and of the residual at
 * residual (0: none; stride ldrB); rows past m are neither read (residual) nor stored. */
// @ts-ignore: decorator
@inline function finishTile(
  strip: usize, rows: i32, v0lo: v128, v0hi: v128, v1lo: v128, v1hi: v128, v2lo: v128, v2hi: v128, v3lo: v128, v3hi: v128,
  vcolsum0: v128, vcolsum1: v128, vsw0: v128, vsw1: v128, vbias0: v128, vbias1: v128, activation: i32,
  residual: usize, ldrB: usize, c: usize, ldcB: usize, cols: i32,
): void {
  finishRow(strip, 0, v0lo, v0hi, vcolsum0, vcolsum1, vsw0, vsw1, vbias0, vbias1, activation, residual, c, cols);
  if (rows > 1) finishRow(strip, 1, v1lo, v1hi, vcolsum0, vcolsum1, vsw0, vsw1, vbias0, vbias1, activation, residual != 0 ? residual + ldrB : 0, c + ldcB, cols);
  if (rows > 2) finishRow(strip, 2, v2lo, v2hi, vcolsum0, vcolsum1, vsw0, vsw1, vbias0, vbias1, activation, residual != 0 ? residual + 2 * ldrB : 0, c + 2 * ldcB, cols);
  if (rows > 3) finishRow(strip, 3, v3lo, v3hi, vcolsum0, vcolsum1, vsw0, vsw1, vbias0, vbias1, activation, residual != 0 ? residual + 3 * ldrB : 0, c + 3 * ldcB, cols);
}

/** The panel loop of i8GemmPacked; `wide` (a scratch slot given) and `quads` (the relaxed dot
 * on) are constants at each call. With quads, per 4 k: 2 B loads, 4 load32_splat of a row's four
 * byte codes and 8 relaxed_dot_i8x16_i7x16_add_s (the weights the signed operand, the
 * activations the other: 0..255, or less 128 in the signed mode; exact where i8RelaxedDotExact
 * found the mode), against 4 B loads, 8 splats, 16
 * dot_i16x8_s and 16 adds for the same 4 k with i16 codes; each panel's codes reordered into
 * quads in the scratch slot once (8·kp of its 16·kp bytes), or on every strip without one. The
 * same i32 sums, so the same epilogue and the same bits. */
// @ts-ignore: decorator
@inline function i8GemmPanels(
  m: i32, n: i32, k: i32, ap: usize, bp: usize, bias: usize, c: usize, ldc: i32,
  activation: i32, residual: usize, ldr: i32, scratch: usize, wide: bool, quads: bool,
): void {
  const ldcB = <usize>ldc << 2, ldrB = <usize>ldr << 2;
  const sB = stripBytes(k), pB = panelBytes(k), codesB = paddedK(k) * NR;
  for (let j = 0; j < n; j += NR) {
    const cols = min(NR, n - j);
    const panel = bp + <usize>(j / NR) * pB;
    let b0 = panel + I8_GEMM_PANEL_HEADER, bEnd = b0 + codesB;
    if (wide) {
      if (quads) {
        for (let off: usize = 0; off < codesB; off += 32) {
          const lo = v128.load(b0 + off), hi = v128.load(b0 + off, 16);
          v128.store(scratch + off, quads0123(lo, hi));
          v128.store(scratch + off, quads4567(lo, hi), 16);
        }
        bEnd = scratch + codesB;
      } else {
        for (let off: usize = 0; off < codesB; off += 8) v128.store(scratch + (off << 1), v128.load8x8_s(b0 + off));
        bEnd = scratch + (codesB << 1);
      }
      b0 = scratch;
    }
    const pbias = bias != 0 ? bias + (<usize>j << 2) : 0;
    // The i16 tile holds the panel's epilogue vectors across its k loop; the quad tile loads them
    // after it, per tile: held across the loop, those six vectors made V8 spill the accumulators,
    // which relaxed_dot overwrites (512×768×3072 in Deno: 33.3 → 12.7 ms), while the i16 tile got
    // slower with the loads moved (27.6 → 29.9 ms).
    let vbias0 = quads ? i32x4.splat(0) : biasVector(pbias, 0, cols), vbias1 = quads ? i32x4.splat(0) : biasVector(pbias, 4, cols);
    let vsw0 = quads ? i32x4.splat(0) : v128.load(panel), vsw1 = quads ? i32x4.splat(0) : v128.load(panel, 16);
    let vcolsum0 = quads ? i32x4.splat(0) : v128.load(panel, 32), vcolsum1 = quads ? i32x4.splat(0) : v128.load(panel, 48);
    for (let i = 0; i < m; i += MR) {
      let vacc0x0123 = i32x4.splat(0), vacc0x4567 = i32x4.splat(0), vacc1x0123 = i32x4.splat(0), vacc1x4567 = i32x4.splat(0);
      let vacc2x0123 = i32x4.splat(0), vacc2x4567 = i32x4.splat(0), vacc3x0123 = i32x4.splat(0), vacc3x4567 = i32x4.splat(0);
      const strip = ap + <usize>(i / MR) * sB;
      let pa = strip + I8_GEMM_STRIP_HEADER;
      for (let pb = b0; pb < bEnd; pb += quads || wide ? 32 : 16) {
        if (quads) { // 4 k: 8 columns' quads, each row's quad splat
          let vb0123: v128, vb4567: v128;
          if (wide) {
            vb0123 = v128.load(pb);
            vb4567 = v128.load(pb, 16);
          } else {
            const lo = v128.load(pb), hi = v128.load(pb, 16);
            vb0123 = quads0123(lo, hi);
            vb4567 = quads4567(lo, hi);
          }
          const va0 = v128.load32_splat(pa);
          vacc0x0123 = dotQuads(vb0123, va0, vacc0x0123);
          vacc0x4567 = dotQuads(vb4567, va0, vacc0x4567);
          const va1 = v128.load32_splat(pa, 4);
          vacc1x0123 = dotQuads(vb0123, va1, vacc1x0123);
          vacc1x4567 = dotQuads(vb4567, va1, vacc1x4567);
          const va2 = v128.load32_splat(pa, 8);
          vacc2x0123 = dotQuads(vb0123, va2, vacc2x0123);
          vacc2x4567 = dotQuads(vb4567, va2, vacc2x4567);
          const va3 = v128.load32_splat(pa, 12);
          vacc3x0123 = dotQuads(vb0123, va3, vacc3x0123);
          vacc3x4567 = dotQuads(vb4567, va3, vacc3x4567);
          pa += 16;
          continue;
        }
        // 2 k: 8 columns' i16 pairs, each row's pair splat.
        const vb0123 = wide ? v128.load(pb) : v128.load8x8_s(pb);
        const vb4567 = wide ? v128.load(pb, 16) : v128.load8x8_s(pb, 8);
        const va0 = v128.load32_splat(pa);
        vacc0x0123 = i32x4.add(vacc0x0123, i32x4.dot_i16x8_s(va0, vb0123));
        vacc0x4567 = i32x4.add(vacc0x4567, i32x4.dot_i16x8_s(va0, vb4567));
        const va1 = v128.load32_splat(pa, 4);
        vacc1x0123 = i32x4.add(vacc1x0123, i32x4.dot_i16x8_s(va1, vb0123));
        vacc1x4567 = i32x4.add(vacc1x4567, i32x4.dot_i16x8_s(va1, vb4567));
        const va2 = v128.load32_splat(pa, 8);
        vacc2x0123 = i32x4.add(vacc2x0123, i32x4.dot_i16x8_s(va2, vb0123));
        vacc2x4567 = i32x4.add(vacc2x4567, i32x4.dot_i16x8_s(va2, vb4567));
        const va3 = v128.load32_splat(pa, 12);
        vacc3x0123 = i32x4.add(vacc3x0123, i32x4.dot_i16x8_s(va3, vb0123));
        vacc3x4567 = i32x4.add(vacc3x4567, i32x4.dot_i16x8_s(va3, vb4567));
        pa += 16;
      }
      if (quads) {
        vbias0 = biasVector(pbias, 0, cols);
        vbias1 = biasVector(pbias, 4, cols);
        vsw0 = v128.load(panel);
        vsw1 = v128.load(panel, 16);
        vcolsum0 = v128.load(panel, 32);
        vcolsum1 = v128.load(panel, 48);
      }
      finishTile(strip, min(MR, m - i), vacc0x0123, vacc0x4567, vacc1x0123, vacc1x4567, vacc2x0123, vacc2x4567,
        vacc3x0123, vacc3x4567, vcolsum0, vcolsum1, vsw0, vsw1, vbias0, vbias1, activation,
        residual != 0 ? residual + <usize>i * ldrB + (<usize>j << 2) : 0, ldrB, c + <usize>i * ldcB + (<usize>j << 2), ldcB, cols);
    }
  }
}

/** The 16 codes of columns 0..3 (quads 0) or 4..7 (quads 1) × 4 k, one column's four k per
 * i32 lane, from a panel's two consecutive k pairs lo (k 0, 1) and hi (k 2, 3), each 8 columns
 * × 2 k: the i16 pairs of lo and hi interleaved (x64: punpcklwd / punpckhwd). */
// @ts-ignore: decorator
@inline export function quads0123(lo: v128, hi: v128): v128 {
  return i8x16.shuffle(lo, hi, 0, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23);
}
// @ts-ignore: decorator
@inline export function quads4567(lo: v128, hi: v128): v128 {
  return i8x16.shuffle(lo, hi, 8, 9, 24, 25, 10, 11, 26, 27, 12, 13, 28, 29, 14, 15, 30, 31);
}
