// The int8 GEMM family: C[m, n] = act(dequant(Aq·Wqᵀ) + bias) + residual for an nn.Linear
// weight W[n, k] quantized once at load and an activation A[m, k] quantized per call.
//
// Quantization (the math of every kernel of the family):
//   weights      per output channel j, symmetric:  W[j, kk] ≈ sw[j]·wq[j, kk],  wq in -127..127,
//                sw[j] = max|W[j, :]| / 127 (0, with wq 0, for an all-zero row or one whose
//                127 / max|W| overflows f32: max|W| below about 3.7e-37)
//   activations  per row i, asymmetric:  A[i, kk] ≈ sa[i]·(aq[i, kk] − za[i]),  aq in 0..A_MAX,
//                sa[i] = range / A_MAX with range = max(0, A[i, :]) − min(0, A[i, :]),
//                za[i] = clamp(round(−min·inv[i]), 0, A_MAX) with inv[i] = A_MAX / range (f32)
//                (A_MAX = I8_GEMM_A_MAX = 255; 0 is exactly representable); a range past f32's
//                largest is taken as (max/2 − min/2) over A_MAX/2, and a row whose A_MAX / range
//                overflows (range below about 7.5e-37) gets sa = za = 0, aq 0 (a zero row)
//   product      acc[i, j] = Σ_kk aq[i, kk]·wq[j, kk] − za[i]·Σ_kk wq[j, kk]   (exact, in i32)
//                C[i, j] = act(f32(acc)·(sa[i]·sw[j]) + bias[j]) + residual[i, j]
// Rounding is to nearest even everywhere (f32 arithmetic, in this order), so a plain-JS
// reference reproduces every bit. |acc| <= 255·127·k needs k <= 66311; the host allows 65536.
// A row holding a NaN or ±inf gets sa = NaN: its C row is NaN before the activation (torch
// would give NaN or ±inf there).
//
// Memory contract (pointers are byte addresses; strides in ELEMENTS; kp = k rounded up to
// I8_GEMM_K_ALIGN; no alignment required, 16 bytes is faster):
//   A strips  ap: strip s (rows 4s..4s+3, the padding rows past m have sa = za = 0; za = −128
//             in the relaxed dot's signed mode) is
//             I8_GEMM_STRIP_HEADER + 8·kp bytes:  f32 sa[4], i32 za[4], then the codes
//             i16 [kp/2, 4 rows, 2 k]  (0..255, widened when quantized: a row's pair is one
//                                       load32_splat, with no widening in the GEMM's loop)
//             With the relaxed dot on (i8-relaxed-dot.ts: the instance's mode, which the GEMM and
//             GEMV follow too) the codes are QUADS instead, in the same bytes (half of them used):
//             u8 [kp/4, 4 rows, 4 k]  (a row's four k are one load32_splat, the operand of one
//                                      relaxed_dot_i8x16_i7x16_add_s; in the signed mode each
//                                      byte is aq ^ 0x80 = aq − 128 as i8, and the header's za
//                                      is za − 128: the same sums, i8-relaxed-dot.ts)
//             COMPACT strips (m <= 2, `compact` set when quantizing and in i8_gemv): one strip,
//             the same header, then i16 [kp/2, m rows, 2 k] (quads: u8 [kp/4, m rows, 4 k]):
//             the GEMV of one or two rows then reads 4 or 8 bytes of A per k pair (per 4 k
//             with quads) instead of 16 (a 1-row GEMV at k 3072 read
//             its 24 KiB strip through L1 once per panel, next to the weight stream: 19 GB/s,
//             against 27-29 at k 768 for the same weight bytes). Only i8_gemv reads them.
//   B panels  bp: panel p (columns 8p..8p+7, zero past n) is I8_GEMM_PANEL_HEADER + 8·kp
//             bytes:  f32 sw[8], i32 colsum[8] (Σ_kk wq), then the codes
//             i8 [kp/2, 8 columns, 2 k]   (widened: two i16x8 of 4 columns × 2 k, one
//                                           i32x4.dot_i16x8_s lane per column; with the relaxed
//                                           dot, reordered into quads [kp/4, 8 columns, 4 k],
//                                           one lane per column: once per GEMM item into its
//                                           scratch, or in registers as the GEMV streams them)
//   bias: f32 [n] or 0;  c: f32 [m, n] with row stride ldc, overlapping no operand;
//   residual: f32 [m, n] with row stride ldr or 0; it may equal c with ldr = ldc.
// Both builds share these layouts and give identical bits: the relaxed build's quads change the
// instruction (i8-relaxed-dot.ts), never the i32 sums. The host sizes the buffers with the
// formulas below only; the code layouts are private to the kernels.
import { GEMM_STRIP_ROWS as MR, GEMM_PANEL_COLS as NR, I8_GEMM_K_ALIGN, I8_GEMM_STRIP_HEADER, I8_GEMM_PANEL_HEADER } from "../layout";

/** k rounded up to the GEMM's k step. */
// @ts-ignore: decorator
@inline export function paddedK(k: i32): usize {
  return <usize>((k + I8_GEMM_K_ALIGN - 1) & ~(I8_GEMM_K_ALIGN - 1));
}

/** Bytes of one A strip for reduction length k. */
// @ts-ignore: decorator
@inline export function stripBytes(k: i32): usize {
  return <usize>I8_GEMM_STRIP_HEADER + paddedK(k) * MR * 2;
}

/** Bytes of one B panel for reduction length k. */
// @ts-ignore: decorator
@inline export function panelBytes(k: i32): usize {
  return <usize>I8_GEMM_PANEL_HEADER + paddedK(k) * NR;
}

/** Byte offset, from the start of a strip's codes, of row r (0..rows-1), reduction index kk
 * (i16), in a strip of `rows` rows per k pair (MR, or m for a compact strip). */
// @ts-ignore: decorator
@inline export function stripCodeOffset(r: i32, kk: i32, rows: i32 = MR): usize {
  return <usize>(kk >> 1) * (<usize>rows << 2) + (<usize>r << 2) + (<usize>(kk & 1) << 1);
}

/** Byte offset, from the start of a quad strip's codes, of row r (0..rows-1), reduction index kk
 * (u8), in a strip of `rows` rows per 4 k (MR, or m for a compact strip). */
// @ts-ignore: decorator
@inline export function quadCodeOffset(r: i32, kk: i32, rows: i32 = MR): usize {
  return <usize>(kk >> 2) * (<usize>rows << 2) + (<usize>r << 2) + <usize>(kk & 3);
}

/** Byte offset, from the start of a panel's codes, of column c (0..7), reduction index kk. */
// @ts-ignore: decorator
@inline export function panelCodeOffset(c: i32, kk: i32): usize {
  return (<usize>(kk >> 1) << 4) + (<usize>c << 1) + <usize>(kk & 1);
}
