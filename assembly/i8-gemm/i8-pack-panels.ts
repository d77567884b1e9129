// Weight packing of the int8 GEMM, run once when a layer is created: each output channel
// (row of an nn.Linear weight W[n, k]) is quantized symmetrically with its own scale and its
// codes are laid out as the GEMM's B panels (contract and layouts: i8-gemm.ts).
//
// Why per output channel and not block-wise along k (llama.cpp's Q8_0, 32 per block): the
// channel scale sw[j] is constant along the reduction, so it factors out of Σ_kk and is
// applied once per output, in the epilogue, to an exact i32 sum. A block scale varies along
// k, so every 32-k partial sum would have to be converted to f32 and scaled inside the hot
// loop (an extra convert + multiply-add per 32 k per output, and the sum is no longer exact),
// for an error gain that is small on weights: trained and random transformer weights are
// close to Gaussian within a row, max/rms about 4 at k = 768, so a channel step of max/127
// gives a relative RMS error near 0.9% per weight, which the k-sum averages down.
import { GEMM_PANEL_COLS as NR, I8_GEMM_PANEL_HEADER } from "../layout";
import { paddedK, panelBytes, panelCodeOffset } from "./i8-gemm";

/** Panels p0..p1 of B = Wᵀ for W[n, k] f32 (row stride ldw, ELEMENTS) quantized into bp
 * (panel 0's address). W must be finite (the host checks). */
export function i8PackPanelsNT(n: i32, k: i32, w: usize, ldw: i32, bp: usize, p0: i32, p1: i32): void {
  packPanels(n, k, w, <usize>ldw << 2, 4, bp, p0, p1);
}

/** Panels p0..p1 of B[k, n] f32 (row stride ldb, ELEMENTS: a Conv1D weight [in, out]) quantized
 * into bp, bit for bit the panels i8PackPanelsNT gives for W = Bᵀ. B must be finite. */
export function i8PackPanelsNN(k: i32, n: i32, b: usize, ldb: i32, bp: usize, p0: i32, p1: i32): void {
  packPanels(n, k, b, 4, <usize>ldb << 2, bp, p0, p1);
}

/** Output channel j's weights are at w + j·jStride + kk·kStride (BYTES): both layouts run the
 * same scan and the same rounding, so they give the same bits. */
// @ts-ignore: decorator
@inline function packPanels(n: i32, k: i32, w: usize, jStride: usize, kStride: usize, bp: usize, p0: i32, p1: i32): void {
  const kp = <i32>paddedK(k);
  for (let p = p0; p < p1; p++) {
    const panel = bp + <usize>p * panelBytes(k), codes = panel + I8_GEMM_PANEL_HEADER;
    for (let c = 0; c < NR; c++) {
      const j = p * NR + c;
      let scale: f32 = 0, inv: f32 = 0, sum: i32 = 0;
      const row = w + <usize>j * jStride;
      if (j < n) {
        let amax: f32 = 0;
        for (let kk = 0; kk < k; kk++) amax = max(amax, abs(load<f32>(row + <usize>kk * kStride)));
        // A channel so small that 127 / amax overflows f32 (amax below about 3.7e-37) counts
        // as all zero, as an all-zero one does: scale 0, codes 0.
        if (amax > 0 && <f32>127 / amax <= f32.MAX_VALUE) {
          scale = amax / 127;
          // amax at f32's largest: 127·scale may round to +inf; one ulp less keeps every
          // code·scale finite, as quantizeInt8 (src/io/quantize.ts) writes it to a file.
          if (<f32>127 * scale > f32.MAX_VALUE) scale = reinterpret<f32>(reinterpret<u32>(scale) - 1);
          inv = <f32>127 / amax;
        }
      }
      for (let kk = 0; kk < kp; kk++) {
        let q: i32 = 0;
        if (j < n && kk < k) {
          q = <i32>nearest<f32>(load<f32>(row + <usize>kk * kStride) * inv);
          q = min(127, max(-127, q));
        }
        store<i8>(codes + panelCodeOffset(c, kk), <i8>q);
        sum += q;
      }
      store<f32>(panel + (<usize>c << 2), scale);
      store<i32>(panel + (<usize>(NR + c) << 2), sum);
    }
  }
}

/** Panels p0..p1 of B from weights already quantized as above (an int8 safetensors file):
 * codes wq [n, k] i8 with wq[j, kk] at q + j·qsn + kk·qsk (strides in ELEMENTS = bytes: an
 * nn.Linear [out, in] has qsn = k, qsk = 1; a Conv1D [in, out] has qsn = 1, qsk = n) and
 * scales sw f32 [n] at s. Same panels, bit for bit, as i8PackPanelsNT on the W they came from
 * when they were made with its math; the codes must be in -127..127 (the host checks). */
export function i8PackPanelsCodes(n: i32, k: i32, q: usize, qsn: i32, qsk: i32, s: usize, bp: usize, p0: i32, p1: i32): void {
  const kp = <i32>paddedK(k);
  for (let p = p0; p < p1; p++) {
    const panel = bp + <usize>p * panelBytes(k), codes = panel + I8_GEMM_PANEL_HEADER;
    // Whole panels in either layout move 16 bytes at a time (loading a GPT-2 small int8 file:
    // 124M codes, 345 ms → see docs/PERFORMANCE.md); the others, byte by byte below.
    if (p * NR + NR <= n && (qsn == 1 || (qsk == 1 && (k & 15) == 0))) {
      if (qsn == 1) packCodesRows(k, kp, q + <usize>(p * NR), <usize>qsk, codes);
      else packCodesColumns(k, q + <usize>(p * NR) * <usize>qsn, <usize>qsn, codes);
      v128.store(panel, v128.load(s + (<usize>(p * NR) << 2)));
      v128.store(panel, v128.load(s + (<usize>(p * NR) << 2), 16), 16);
      panelSums(kp, codes, panel + (<usize>NR << 2));
      continue;
    }
    for (let c = 0; c < NR; c++) {
      const j = p * NR + c;
      let scale: f32 = 0, sum: i32 = 0;
      if (j < n) scale = load<f32>(s + (<usize>j << 2));
      const row = q + <usize>j * <usize>qsn;
      for (let kk = 0; kk < kp; kk++) {
        let v: i32 = 0;
        if (j < n && kk < k) v = <i32>load<i8>(row + <usize>kk * <usize>qsk);
        store<i8>(codes + panelCodeOffset(c, kk), <i8>v);
        sum += v;
      }
      store<f32>(panel + (<usize>c << 2), scale);
      store<i32>(panel + (<usize>(NR + c) << 2), sum);
    }
  }
}

/** A whole panel's codes from a layout whose 8 columns are adjacent bytes of a k row (a Conv1D
 * [in, out] file: row kk at q + kk·qsk): two rows interleaved into one 16-byte k pair, zeros
 * past k. */
// @ts-ignore: decorator
@inline function packCodesRows(k: i32, kp: i32, q: usize, qsk: usize, codes: usize): void {
  const zero = i32x4.splat(0);
  for (let kk = 0; kk < kp; kk += 2) {
    const lo = kk < k ? v128.load64_zero(q + <usize>kk * qsk) : zero;
    const hi = kk + 1 < k ? v128.load64_zero(q + <usize>(kk + 1) * qsk) : zero;
    v128.store(codes + (<usize>(kk >> 1) << 4), i8x16.shuffle(lo, hi, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23));
  }
}

/** A whole panel's codes from a layout whose k runs along each column's bytes (an nn.Linear
 * [out, in] file: column c at q + c·qsn), k a multiple of 16: per 16 k, the 8 columns' k pairs
 * (i16 lanes) transposed 8 × 8, so each output vector holds one k pair of every column. */
// @ts-ignore: decorator
@inline function packCodesColumns(k: i32, q: usize, qsn: usize, codes: usize): void {
  for (let kk = 0; kk < k; kk += 16) {
    const src = q + <usize>kk;
    const r0 = v128.load(src), r1 = v128.load(src + qsn), r2 = v128.load(src + 2 * qsn), r3 = v128.load(src + 3 * qsn);
    const r4 = v128.load(src + 4 * qsn), r5 = v128.load(src + 5 * qsn), r6 = v128.load(src + 6 * qsn), r7 = v128.load(src + 7 * qsn);
    // pairs of columns (i16 lanes interleaved), then quads (i32), then all 8 (i64)
    const a0 = i16x8.shuffle(r0, r1, 0, 8, 1, 9, 2, 10, 3, 11), a1 = i16x8.shuffle(r0, r1, 4, 12, 5, 13, 6, 14, 7, 15);
    const a2 = i16x8.shuffle(r2, r3, 0, 8, 1, 9, 2, 10, 3, 11), a3 = i16x8.shuffle(r2, r3, 4, 12, 5, 13, 6, 14, 7, 15);
    const a4 = i16x8.shuffle(r4, r5, 0, 8, 1, 9, 2, 10, 3, 11), a5 = i16x8.shuffle(r4, r5, 4, 12, 5, 13, 6, 14, 7, 15);
    const a6 = i16x8.shuffle(r6, r7, 0, 8, 1, 9, 2, 10, 3, 11), a7 = i16x8.shuffle(r6, r7, 4, 12, 5, 13, 6, 14, 7, 15);
    const b0 = i32x4.shuffle(a0, a2, 0, 4, 1, 5), b1 = i32x4.shuffle(a0, a2, 2, 6, 3, 7);
    const b2 = i32x4.shuffle(a1, a3, 0, 4, 1, 5), b3 = i32x4.shuffle(a1, a3, 2, 6, 3, 7);
    const b4 = i32x4.shuffle(a4, a6, 0, 4, 1, 5), b5 = i32x4.shuffle(a4, a6, 2, 6, 3, 7);
    const b6 = i32x4.shuffle(a5, a7, 0, 4, 1, 5), b7 = i32x4.shuffle(a5, a7, 2, 6, 3, 7);
    const dst = codes + (<usize>(kk >> 1) << 4);
    v128.store(dst, i64x2.shuffle(b0, b4, 0, 2), 0);
    v128.store(dst, i64x2.shuffle(b0, b4, 1, 3), 16);
    v128.store(dst, i64x2.shuffle(b1, b5, 0, 2), 32);
    v128.store(dst, i64x2.shuffle(b1, b5, 1, 3), 48);
    v128.store(dst, i64x2.shuffle(b2, b6, 0, 2), 64);
    v128.store(dst, i64x2.shuffle(b2, b6, 1, 3), 80);
    v128.store(dst, i64x2.shuffle(b3, b7, 0, 2), 96);
    v128.store(dst, i64x2.shuffle(b3, b7, 1, 3), 112);
  }
}

/** Each column's Σ of its kp codes (padding zeros) into sums[8] (i32): the k pairs of a column
 * added in i16 (at most 254 each, flushed every 128 pairs), then widened. */
// @ts-ignore: decorator
@inline function panelSums(kp: i32, codes: usize, sums: usize): void {
  let lo = i32x4.splat(0), hi = i32x4.splat(0);
  for (let t0 = 0; t0 < kp >> 1; t0 += 128) {
    let acc = i16x8.splat(0);
    const t1 = min(kp >> 1, t0 + 128);
    for (let t = t0; t < t1; t++) acc = i16x8.add(acc, i16x8.extadd_pairwise_i8x16_s(v128.load(codes + (<usize>t << 4))));
    lo = i32x4.add(lo, i32x4.extend_low_i16x8_s(acc));
    hi = i32x4.add(hi, i32x4.extend_high_i16x8_s(acc));
  }
  v128.store(sums, lo);
  v128.store(sums, hi, 16);
}
