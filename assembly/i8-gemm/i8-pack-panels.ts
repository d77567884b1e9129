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
        if (amax > 0) {
          scale = amax / 127;
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
