// On-the-fly activation quantization of the int8 GEMM: rows of A[m, k] f32 into the GEMM's
// A strips (codes stored as i16), each row with its own scale and zero point (math and
// layouts: i8-gemm.ts).
//
// Why asymmetric per row (not symmetric): the GEMM multiplies i16 codes, so unsigned codes
// cost nothing more than signed ones, and with the offset chosen per row from the row's own
// min and max a one-sided row (the GELU output that feeds an FFN's down projection: min about
// −0.17) spends all 256 levels on its range instead of half of them. The price is the
// correction za·Σwq, one i32 multiply per output in the epilogue. Per row (not per tensor), so
// one row's outlier does not coarsen the others: a row is one token.
// Rounding: t + 1.5·2²³ puts round-to-nearest-even(t) in the low mantissa bits for |t| < 2²²
// (here |t| <= 255), so the code is the float's bits minus a constant: no convert, no nearest.
import { GEMM_STRIP_ROWS as MR, I8_GEMM_STRIP_HEADER, I8_GEMM_A_MAX as QMAX } from "../layout";
import { paddedK, stripBytes, stripCodeOffset } from "./i8-gemm";

/** 1.5·2²³ (bits 0x4B400000): adding it rounds an f32 below 2²² to an integer. */
const ROUND_MAGIC: f32 = 12582912;
const ROUND_MAGIC_BITS: i32 = 0x4B400000;

/** The codes of four consecutive values: clamp(rne(x·inv) + zp, 0, QMAX) as i32 lanes. */
// @ts-ignore: decorator
@inline function codes4(x: v128, vinv: v128, vbias: v128, vmax: v128): v128 {
  const t = f32x4.add(f32x4.mul(x, vinv), f32x4.splat(ROUND_MAGIC));
  return i32x4.min_s(i32x4.max_s(i32x4.sub(t, vbias), i32x4.splat(0)), vmax);
}

/** Strips s0..s1 of A[m, k] (row stride lda, ELEMENTS) into ap (strip 0's address); with
 * `compact` and m <= 2, the one compact strip of m rows instead (i8-gemm.ts). */
export function i8QuantizeRows(m: i32, k: i32, a: usize, lda: i32, ap: usize, s0: i32, s1: i32, compact: i32): void {
  const kp = <i32>paddedK(k), k4 = k & ~3, ldaB = <usize>lda << 2;
  const vmax = i32x4.splat(QMAX);
  // Rows per k pair in the codes: MR, or m for a compact strip (whose header still has MR slots).
  const rows = compact != 0 && m <= 2 ? m : MR;
  for (let s = s0; s < s1; s++) {
    const strip = ap + <usize>s * stripBytes(k), codes = strip + I8_GEMM_STRIP_HEADER;
    for (let r = 0; r < MR; r++) {
      const i = s * MR + r;
      let scale: f32 = 0, inv: f32 = 0, zp: i32 = 0;
      const row = a + <usize>i * ldaB;
      if (i < m) {
        // min and max with 0, NaN-propagating (f32x4.min/max, not pmin/pmax).
        let vlo = f32x4.splat(0), vhi = f32x4.splat(0);
        let kk = 0;
        for (; kk < k4; kk += 4) {
          const x = v128.load(row + (<usize>kk << 2));
          vlo = f32x4.min(vlo, x);
          vhi = f32x4.max(vhi, x);
        }
        let lo = min(min(f32x4.extract_lane(vlo, 0), f32x4.extract_lane(vlo, 1)), min(f32x4.extract_lane(vlo, 2), f32x4.extract_lane(vlo, 3)));
        let hi = max(max(f32x4.extract_lane(vhi, 0), f32x4.extract_lane(vhi, 1)), max(f32x4.extract_lane(vhi, 2), f32x4.extract_lane(vhi, 3)));
        for (; kk < k; kk++) {
          const x = load<f32>(row + (<usize>kk << 2));
          lo = min(lo, x);
          hi = max(hi, x);
        }
        const range = hi - lo;
        if (!(range <= f32.MAX_VALUE)) {
          scale = NaN; // NaN or ±inf in the row, or a range past f32: the row's output is NaN
        } else if (range > 0) {
          scale = range / <f32>QMAX;
          inv = <f32>QMAX / range;
          zp = min(QMAX, max(0, <i32>nearest<f32>(-lo * inv)));
        }
      }
      store<f32>(strip + (<usize>r << 2), scale);
      store<i32>(strip + (<usize>(MR + r) << 2), zp);
      if (r >= rows) continue; // a compact strip has no codes for the padding rows
      const vinv = f32x4.splat(inv), vbias = i32x4.splat(ROUND_MAGIC_BITS - zp);
      let kk = 0;
      if (i < m) {
        for (; kk < k4; kk += 4) {
          const q = codes4(v128.load(row + (<usize>kk << 2)), vinv, vbias, vmax);
          const q16 = i16x8.narrow_i32x4_s(q, q); // q0..q3 as i16: the pairs (q0, q1), (q2, q3)
          store<u32>(codes + stripCodeOffset(r, kk, rows), i32x4.extract_lane(q16, 0));
          store<u32>(codes + stripCodeOffset(r, kk + 2, rows), i32x4.extract_lane(q16, 1));
        }
        for (; kk < k; kk++) {
          const q = codes4(v128.load_splat<f32>(row + (<usize>kk << 2)), vinv, vbias, vmax);
          store<u16>(codes + stripCodeOffset(r, kk, rows), <u16>i32x4.extract_lane(q, 0));
        }
      }
      // Padding rows and the k padding: code 0 (the padded weights are 0, so any value would do).
      for (; kk < kp; kk++) store<u16>(codes + stripCodeOffset(r, kk, rows), 0);
    }
  }
}
