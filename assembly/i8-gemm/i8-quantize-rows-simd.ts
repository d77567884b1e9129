// On-the-fly activation quantization of the int8 GEMM: rows of A[m, k] f32 into the GEMM's
// A strips (codes stored as i16 pairs, or as bytes in quads for the relaxed dot), each row with
// its own scale and zero point (math and layouts: i8-gemm.ts). Under the relaxed dot's signed
// mode the quad codes and the zero points are stored less 128 (i8-relaxed-dot.ts).
//
// Why asymmetric per row (not symmetric): the GEMM multiplies i16 codes, so unsigned codes
// cost nothing more than signed ones, and with the offset chosen per row from the row's own
// min and max a one-sided row (the GELU output that feeds an FFN's down projection: min about
// −0.17) spends all 256 levels on its range instead of half of them. The price is the
// correction za·Σwq, one i32 multiply per output in the epilogue. Per row (not per tensor), so
// one row's outlier does not coarsen the others: a row is one token.
// Rounding: t + 1.5·2²³ puts round-to-nearest-even(t) in the low mantissa bits for |t| < 2²²
// (here |t| <= 255), so the code is the float's bits minus a constant: no convert, no nearest.
// A whole strip is coded four rows at a time, its two k pairs stored as two vectors (two
// shuffles) instead of eight 4-byte stores, and the min/max pass runs two chains: 512×3072
// 2.28 → 1.22 ms, 512×768 0.57 → 0.30 ms (bench/i8-gemm.mjs, same bits). The min/max pass then
// took pmin/pmax and a NaN test instead of f32x4.min/max (rowRange): 1024×384 0.32 → 0.13 ms,
// 512×3072 1.26 → 0.60 ms, the same bytes (the two builds alternated in one process), and the
// int8 MiniLM-geometry encoder (8 × 128, one thread) 308.4 → 302.9 ms.
import { GEMM_STRIP_ROWS as MR, I8_GEMM_STRIP_HEADER, I8_GEMM_A_MAX as QMAX } from "../layout";
import { paddedK, quadCodeOffset, stripBytes, stripCodeOffset } from "./i8-gemm";
import { i8RelaxedDotOn, i8RelaxedDotSigned } from "./i8-relaxed-dot";

/** 1.5·2²³ (bits 0x4B400000): adding it rounds an f32 below 2²² to an integer. */
const ROUND_MAGIC: f32 = 12582912;
const ROUND_MAGIC_BITS: i32 = 0x4B400000;

/** The codes of four consecutive values: clamp(rne(x·inv) + zp, 0, QMAX) as i32 lanes. */
// @ts-ignore: decorator
@inline function codes4(x: v128, vinv: v128, vbias: v128, vmax: v128): v128 {
  const t = f32x4.add(f32x4.mul(x, vinv), f32x4.splat(ROUND_MAGIC));
  return i32x4.min_s(i32x4.max_s(i32x4.sub(t, vbias), i32x4.splat(0)), vmax);
}

/** min(0, row) and max(0, row) of k values at `row`, NaN where the row holds a NaN. The vector
 * pass takes pmin/pmax (one minps/maxps each on x64; f32x4.min/max, which propagate NaN, are a
 * sequence of about seven) and finds NaN apart, as x != x; min and max are exact, and a −0 met
 * instead of +0 changes no parameter (rowParams), so the result is the same bits as with
 * f32x4.min/max. */
// @ts-ignore: decorator
@inline function rowRange(row: usize, k: i32): v128 {
  const k8 = k & ~7;
  let vlo0 = f32x4.splat(0), vhi0 = f32x4.splat(0), vlo1 = f32x4.splat(0), vhi1 = f32x4.splat(0);
  let vnan = i32x4.splat(0);
  let kk = 0;
  for (; kk < k8; kk += 8) { // two chains: the min/max latency, not the loads, bounded one
    const x0 = v128.load(row + (<usize>kk << 2)), x1 = v128.load(row + (<usize>kk << 2), 16);
    vlo0 = f32x4.pmin(vlo0, x0);
    vhi0 = f32x4.pmax(vhi0, x0);
    vlo1 = f32x4.pmin(vlo1, x1);
    vhi1 = f32x4.pmax(vhi1, x1);
    vnan = v128.or(vnan, v128.or(f32x4.ne(x0, x0), f32x4.ne(x1, x1)));
  }
  const vlo = f32x4.pmin(vlo0, vlo1), vhi = f32x4.pmax(vhi0, vhi1);
  let lo = min(min(f32x4.extract_lane(vlo, 0), f32x4.extract_lane(vlo, 1)), min(f32x4.extract_lane(vlo, 2), f32x4.extract_lane(vlo, 3)));
  let hi = max(max(f32x4.extract_lane(vhi, 0), f32x4.extract_lane(vhi, 1)), max(f32x4.extract_lane(vhi, 2), f32x4.extract_lane(vhi, 3)));
  if (v128.any_true(vnan)) lo = NaN;
  for (; kk < k; kk++) {
    const x = load<f32>(row + (<usize>kk << 2));
    lo = min(lo, x);
    hi = max(hi, x);
  }
  return f32x4.replace_lane(f32x4.splat(lo), 1, hi);
}

/** [scale, 1/scale, zero point (i32 lane), 0] of a row (all 0 for a padding row, `live` false).
 * scale = range / QMAX and inv = QMAX / range in f32, range = max(0, row) − min(0, row); two
 * edges keep every finite row finite: a range past f32's largest (finite extremes of opposite
 * signs) takes the same math on half the range and half QMAX, and a range so small that
 * QMAX / range overflows (below about 7.5e-37) counts as an all-zero row. */
// @ts-ignore: decorator
@inline function rowParams(row: usize, k: i32, live: bool): v128 {
  let scale: f32 = 0, inv: f32 = 0, zp: i32 = 0;
  if (live) {
    const range2 = rowRange(row, k);
    const lo = f32x4.extract_lane(range2, 0), hi = f32x4.extract_lane(range2, 1);
    let range = hi - lo, levels = <f32>QMAX;
    if (!(range <= f32.MAX_VALUE) && lo >= -f32.MAX_VALUE && hi <= f32.MAX_VALUE) {
      range = hi * 0.5 - lo * 0.5; // exact halves, one rounding: finite
      levels = <f32>QMAX * 0.5;
    }
    if (!(range <= f32.MAX_VALUE)) {
      scale = NaN; // NaN or ±inf in the row: the row's output is NaN
    } else if (range > 0 && levels / range <= f32.MAX_VALUE) {
      scale = range / levels;
      inv = levels / range;
      zp = min(QMAX, max(0, <i32>nearest<f32>(-lo * inv)));
    }
  }
  return i32x4.replace_lane(f32x4.replace_lane(f32x4.splat(scale), 1, inv), 2, zp);
}

/** The codes of one row r of a strip of `rows` rows (the strip's last rows, compact strips), 4 k
 * a step, then code 0 up to kp: as i16 pairs, or as bytes in quads (`quads`, the relaxed dot's),
 * each XORed with `flip` (0x80 in the signed mode: the code less 128; else 0). */
// @ts-ignore: decorator
@inline function rowCodes(
  row: usize, k: i32, kk: i32, params: v128, codes: usize, r: i32, rows: i32, live: bool, quads: bool, flip: u32,
): void {
  const kp = <i32>paddedK(k), k4 = k & ~3;
  const vinv = f32x4.splat(f32x4.extract_lane(params, 1)), vmax = i32x4.splat(QMAX);
  const vbias = i32x4.splat(ROUND_MAGIC_BITS - i32x4.extract_lane(params, 2));
  if (live) {
    for (; kk < k4; kk += 4) {
      const q = codes4(v128.load(row + (<usize>kk << 2)), vinv, vbias, vmax);
      const q16 = i16x8.narrow_i32x4_s(q, q); // q0..q3 as i16: the pairs (q0, q1), (q2, q3)
      if (quads) {
        store<u32>(codes + quadCodeOffset(r, kk, rows), <u32>i32x4.extract_lane(i8x16.narrow_i16x8_u(q16, q16), 0) ^ flip);
      } else {
        store<u32>(codes + stripCodeOffset(r, kk, rows), i32x4.extract_lane(q16, 0));
        store<u32>(codes + stripCodeOffset(r, kk + 2, rows), i32x4.extract_lane(q16, 1));
      }
    }
    for (; kk < k; kk++) {
      const q = <u16>i32x4.extract_lane(codes4(v128.load_splat<f32>(row + (<usize>kk << 2)), vinv, vbias, vmax), 0);
      if (quads) store<u8>(codes + quadCodeOffset(r, kk, rows), <u8>(q ^ <u16>flip));
      else store<u16>(codes + stripCodeOffset(r, kk, rows), q);
    }
  }
  // Padding rows and the k padding: code 0 (the padded weights are 0, so any value would do).
  for (; kk < kp; kk++) {
    if (quads) store<u8>(codes + quadCodeOffset(r, kk, rows), <u8>flip);
    else store<u16>(codes + stripCodeOffset(r, kk, rows), 0);
  }
}

/** Strips s0..s1 of A[m, k] (row stride lda, ELEMENTS) into ap (strip 0's address); with
 * `compact` and m <= 2, the one compact strip of m rows instead; codes as quads where this
 * instance has the relaxed dot on, else as i16 pairs (i8-gemm.ts). */
export function i8QuantizeRows(m: i32, k: i32, a: usize, lda: i32, ap: usize, s0: i32, s1: i32, compact: i32): void {
  const k4 = k & ~3, ldaB = <usize>lda << 2;
  const vmax = i32x4.splat(QMAX);
  // Rows per k pair in the codes: MR, or m for a compact strip (whose header still has MR slots).
  const rows = compact != 0 && m <= 2 ? m : MR;
  const quads = i8RelaxedDotOn();
  // The signed mode's offset: codes XOR 0x80 (aq − 128 as a byte), zero points − 128.
  const flip: u32 = i8RelaxedDotSigned() ? 0x80808080 : 0, vflip = i32x4.splat(flip);
  const vzshift = i32x4.splat(i8RelaxedDotSigned() ? 128 : 0);
  for (let s = s0; s < s1; s++) {
    const strip = ap + <usize>s * stripBytes(k), codes = strip + I8_GEMM_STRIP_HEADER;
    const i0 = s * MR, row0 = a + <usize>i0 * ldaB;
    const p0 = rowParams(row0, k, i0 < m), p1 = rowParams(row0 + ldaB, k, i0 + 1 < m);
    const p2 = rowParams(row0 + 2 * ldaB, k, i0 + 2 < m), p3 = rowParams(row0 + 3 * ldaB, k, i0 + 3 < m);
    // Header: the four scales, then the four zero points.
    v128.store(strip, i32x4.shuffle(i32x4.shuffle(p0, p1, 0, 4, 2, 6), i32x4.shuffle(p2, p3, 0, 4, 2, 6), 0, 1, 4, 5));
    v128.store(strip, i32x4.sub(i32x4.shuffle(i32x4.shuffle(p0, p1, 0, 4, 2, 6), i32x4.shuffle(p2, p3, 0, 4, 2, 6), 2, 3, 6, 7), vzshift), 16);
    let kk = 0;
    if (rows == MR && i0 + MR <= m) {
      // A whole strip: four rows at once, 4 k a step, stored as the strip's two 16-byte k pairs,
      // or as one 16-byte group of the four rows' quads.
      const vinv0 = f32x4.splat(f32x4.extract_lane(p0, 1)), vinv1 = f32x4.splat(f32x4.extract_lane(p1, 1));
      const vinv2 = f32x4.splat(f32x4.extract_lane(p2, 1)), vinv3 = f32x4.splat(f32x4.extract_lane(p3, 1));
      const vb0 = i32x4.splat(ROUND_MAGIC_BITS - i32x4.extract_lane(p0, 2)), vb1 = i32x4.splat(ROUND_MAGIC_BITS - i32x4.extract_lane(p1, 2));
      const vb2 = i32x4.splat(ROUND_MAGIC_BITS - i32x4.extract_lane(p2, 2)), vb3 = i32x4.splat(ROUND_MAGIC_BITS - i32x4.extract_lane(p3, 2));
      for (; kk < k4; kk += 4) {
        const off = <usize>kk << 2;
        // As i32 lanes (a lane = one row's k pair): r01 = [r0 p0, r0 p1, r1 p0, r1 p1], r23 alike.
        const r01 = i16x8.narrow_i32x4_s(codes4(v128.load(row0 + off), vinv0, vb0, vmax), codes4(v128.load(row0 + ldaB + off), vinv1, vb1, vmax));
        const r23 = i16x8.narrow_i32x4_s(codes4(v128.load(row0 + 2 * ldaB + off), vinv2, vb2, vmax), codes4(v128.load(row0 + 3 * ldaB + off), vinv3, vb3, vmax));
        if (quads) {
          v128.store(codes + quadCodeOffset(0, kk), v128.xor(i8x16.narrow_i16x8_u(r01, r23), vflip));
        } else {
          const at = codes + stripCodeOffset(0, kk);
          v128.store(at, i32x4.shuffle(r01, r23, 0, 2, 4, 6));
          v128.store(at, i32x4.shuffle(r01, r23, 1, 3, 5, 7), 16);
        }
      }
    }
    // The k tail of a whole strip, or every code of the rows of a partial or compact strip (a
    // compact strip has no codes for its padding rows).
    rowCodes(row0, k, kk, p0, codes, 0, rows, i0 < m, quads, flip);
    if (rows > 1) rowCodes(row0 + ldaB, k, kk, p1, codes, 1, rows, i0 + 1 < m, quads, flip);
    if (rows > 2) rowCodes(row0 + 2 * ldaB, k, kk, p2, codes, 2, rows, i0 + 2 < m, quads, flip);
    if (rows > 3) rowCodes(row0 + 3 * ldaB, k, kk, p3, codes, 3, rows, i0 + 3 < m, quads, flip);
  }
}
