// The only export surface of the kernel module. Every export takes and returns numbers only
// (i32 / f32; pointers are usize byte addresses into the host's imported memory); the host
// side of this ABI, with one comment per argument, is src/wasm/abi.ts.
import { gemmNN, gemmNT } from "./f32-gemm/f32-gemm";
import { softmaxRows, softmaxScaledRows } from "./f32-softmax/f32-softmax-simd";
import { layerNormRows } from "./f32-layernorm/f32-layernorm-simd";
import { geluRows } from "./f32-activation/f32-gelu-simd";
import { attention } from "./f32-attention/f32-attention-4x64-simd";
import { packRows, packPanelsNT, packPanelsNN, gemmPacked } from "./f32-gemm/f32-gemm-packed-4x8-simd";
import { gemvPacked } from "./f32-gemm/f32-gemv-packed-simd";
import { meanRows } from "./f32-reduce/f32-mean-simd";
import { scale } from "./f32-reduce/f32-scale-simd";
import { attentionCombine } from "./f32-attention/f32-attention-combine-simd";
import { attentionDecode } from "./f32-attention/f32-attention-decode-simd";
import { attentionNonFinite } from "./f32-attention/f32-attention-nonfinite-simd";
import { i8PackPanelsNN, i8PackPanelsNT, i8PackPanelsCodes } from "./i8-gemm/i8-pack-panels";
import { i8QuantizeRows } from "./i8-gemm/i8-quantize-rows-simd";
import { i8GemmPacked } from "./i8-gemm/i8-gemm-4x8-simd";
import { i8RelaxedDotExact, i8RelaxedDotOn, i8SetRelaxedDot } from "./i8-gemm/i8-relaxed-dot";
import { i8Gemv } from "./i8-gemm/i8-gemv-simd";

export {
  ALIGN, GEMM_STRIP_ROWS, GEMM_PANEL_COLS, ATTENTION_QUERY_TILE, ATTENTION_QUERY_CHUNK, ATTENTION_KEY_BLOCK, ATTENTION_ROW_KEY_BLOCK, ATTENTION_SCRATCH_BYTES,
  KERNEL_RELAXED_SIMD, KERNEL_SHARED_MEMORY, I8_GEMM_K_ALIGN, I8_GEMM_STRIP_HEADER, I8_GEMM_PANEL_HEADER, I8_GEMM_A_MAX,
} from "./layout";

/** C[m, n] = A[m, k]·B[k, n] (+ bias[n]); see f32-gemm/f32-gemm.ts for the memory contract. */
export function f32_gemm_nn(
  m: i32, n: i32, k: i32, a: usize, lda: i32, b: usize, ldb: i32, bias: usize, c: usize, ldc: i32,
): void {
  gemmNN(m, n, k, a, lda, b, ldb, bias, c, ldc, false);
}

/** C[m, n] = alpha·A[m, k]·B[n, k]ᵀ (+ bias[n]); nn.Linear is alpha = 1, B = W[out, in]. */
export function f32_gemm_nt(
  m: i32, n: i32, k: i32, a: usize, lda: i32, b: usize, ldb: i32, bias: usize, c: usize, ldc: i32,
  alpha: f32,
): void {
  gemmNT(m, n, k, a, lda, b, ldb, bias, c, ldc, alpha);
}

/** Strips s0..s1 of A[m, k] (row stride lda) packed as [strip, k, GEMM_STRIP_ROWS] at ap
 * (strip 0's address); see f32-gemm/f32-gemm-packed-4x8-simd.ts. */
export function f32_pack_rows(m: i32, k: i32, a: usize, lda: i32, ap: usize, s0: i32, s1: i32): void {
  packRows(m, k, a, lda, ap, s0, s1);
}

/** Panels p0..p1 of B = Wᵀ for W[n, k] (row stride ldw) packed as [panel, k, GEMM_PANEL_COLS]. */
export function f32_pack_panels_nt(n: i32, k: i32, w: usize, ldw: i32, bp: usize, p0: i32, p1: i32): void {
  packPanelsNT(n, k, w, ldw, bp, p0, p1);
}

/** Panels p0..p1 of B[k, n] (row stride ldb) packed as [panel, k, GEMM_PANEL_COLS]. */
export function f32_pack_panels_nn(k: i32, n: i32, b: usize, ldb: i32, bp: usize, p0: i32, p1: i32): void {
  packPanelsNN(k, n, b, ldb, bp, p0, p1);
}

/** C[m, n] = act(A·B + bias[n]) + residual[m, n] from packed A strips and B panels; activation
 * 0 none, 1 ReLU, 2 GELU (erf), 3 GELU (tanh); see f32-gemm/f32-gemm-packed-4x8-simd.ts. */
export function f32_gemm_packed(
  m: i32, n: i32, k: i32, ap: usize, bp: usize, bias: usize, c: usize, ldc: i32,
  activation: i32, residual: usize, ldr: i32,
): void {
  gemmPacked(m, n, k, ap, bp, bias, c, ldc, activation, residual, ldr);
}

/** C[m, n] = act(A·B + bias[n]) + residual[m, n] for a few rows (m <= 4: decoding) from A in
 * place and the packed GEMM's B panels: the same bits as f32_gemm_packed in the baseline
 * build; the relaxed build's 1- and 2-row tiles multiply and add unfused, so they differ from
 * its fused GEMM in each product's rounding; see f32-gemm/f32-gemv-packed-simd.ts. */
export function f32_gemv_packed(
  m: i32, n: i32, k: i32, a: usize, lda: i32, bp: usize, bias: usize, c: usize, ldc: i32,
  activation: i32, residual: usize, ldr: i32,
): void {
  gemvPacked(m, n, k, a, lda, bp, bias, c, ldc, activation, residual, ldr);
}

/** Panels p0..p1 of B = Wᵀ for W[n, k] f32 (row stride ldw) quantized per output channel to
 * int8 and packed for i8_gemm_packed; see i8-gemm/i8-gemm.ts. */
export function i8_pack_panels_nt(n: i32, k: i32, w: usize, ldw: i32, bp: usize, p0: i32, p1: i32): void {
  i8PackPanelsNT(n, k, w, ldw, bp, p0, p1);
}

/** Panels p0..p1 of B[k, n] f32 (row stride ldb; a Conv1D weight [in, out]) quantized per
 * output channel (column) to int8: the bits i8_pack_panels_nt gives for Bᵀ. */
export function i8_pack_panels_nn(k: i32, n: i32, b: usize, ldb: i32, bp: usize, p0: i32, p1: i32): void {
  i8PackPanelsNN(k, n, b, ldb, bp, p0, p1);
}

/** Panels p0..p1 of B from int8 codes (channel stride qsn, reduction stride qsk, ELEMENTS) and
 * per-channel scales f32 [n] already quantized (an int8 file); see i8-gemm/i8-pack-panels.ts. */
export function i8_pack_panels_codes(
  n: i32, k: i32, q: usize, qsn: i32, qsk: i32, s: usize, bp: usize, p0: i32, p1: i32,
): void {
  i8PackPanelsCodes(n, k, q, qsn, qsk, s, bp, p0, p1);
}

/** Strips s0..s1 of A[m, k] f32 (row stride lda) quantized per row into int8 strips (compact 1
 * with m <= 2: the one compact strip); codes as quads where i8_set_relaxed_dot turned the
 * relaxed dot on; see i8-gemm/i8-gemm.ts. */
export function i8_quantize_rows(m: i32, k: i32, a: usize, lda: i32, ap: usize, s0: i32, s1: i32, compact: i32): void {
  i8QuantizeRows(m, k, a, lda, ap, s0, s1, compact);
}

/** How this engine computes i32x4.relaxed_dot_i8x16_i7x16_add_s, as the int8 GEMM can use it:
 * 1 exact with b unsigned (x64 AVX-VNNI), 2 exact with b signed (Arm, x64 AVX-VNNI-INT8), else
 * 0 (and always 0 in the baseline build); x = 0. See i8-gemm/i8-relaxed-dot.ts. */
export function i8_relaxed_dot_exact(x: i32): i32 {
  return i8RelaxedDotExact(x);
}

/** Sets this instance's int8 mode: 0 i16 pairs, 1 or 2 quads for the relaxed dot (the probe's
 * answer); returns the mode in effect (0 in the baseline build). Every instance on one memory
 * must be given the same mode. */
export function i8_set_relaxed_dot(mode: i32): i32 {
  return i8SetRelaxedDot(mode);
}

/** C[m, n] = act(dequant(A·B) + bias[n]) + residual[m, n] from int8 strips (4-row strips:
 * i8_quantize_rows with compact 0) and panels (exact i32 accumulation); activation as
 * f32_gemm_packed; scratch 0 or 16·kp bytes of this call's own, where each panel's codes are
 * widened (or reordered) once (same bits, faster); see i8-gemm/i8-gemm.ts. */
export function i8_gemm_packed(
  m: i32, n: i32, k: i32, ap: usize, bp: usize, bias: usize, c: usize, ldc: i32,
  activation: i32, residual: usize, ldr: i32, scratch: usize,
): void {
  i8GemmPacked(m, n, k, ap, bp, bias, c, ldc, activation, residual, ldr, scratch, i8RelaxedDotOn());
}

/** C[m, n] = act(dequant(A·B) + bias[n]) + residual[m, n] for a few rows (m <= 4: decoding)
 * from the same int8 strips and panels as i8_gemm_packed, same bits, B read once per call;
 * see i8-gemm/i8-gemv-simd.ts. */
export function i8_gemv(
  m: i32, n: i32, k: i32, ap: usize, bp: usize, bias: usize, c: usize, ldc: i32,
  activation: i32, residual: usize, ldr: i32, compact: i32,
): void {
  i8Gemv(m, n, k, ap, bp, bias, c, ldc, activation, residual, ldr, compact);
}

/** Row softmax of x[rows, cols] (row stride ldx) into y (row stride ldy); y may be x. */
export function f32_softmax(rows: i32, cols: i32, x: usize, ldx: i32, y: usize, ldy: i32): void {
  softmaxRows(rows, cols, x, ldx, y, ldy);
}

/** y[r] = softmax(x[r]·scale + addMask[r] + boolMask[r]) per row; contract in
 * f32-softmax/f32-softmax-simd.ts. */
export function f32_softmax_scaled(
  rows: i32, cols: i32, x: usize, ldx: i32, scale: f32, addMask: usize, ldAdd: i32,
  boolMask: usize, ldBool: i32, y: usize, ldy: i32,
): void {
  softmaxScaledRows(rows, cols, x, ldx, scale, addMask, ldAdd, boolMask, ldBool, y, ldy);
}

/** y[r] = layer_norm(x[r] + residual[r])·weight + bias per row (F.layer_norm, biased variance);
 * contract in f32-layernorm/f32-layernorm-simd.ts. */
export function f32_layer_norm(
  rows: i32, dim: i32, x: usize, ldx: i32, residual: usize, ldr: i32,
  weight: usize, bias: usize, eps: f32, y: usize, ldy: i32,
): void {
  layerNormRows(rows, dim, x, ldx, residual, ldr, weight, bias, eps, y, ldy);
}

/** y[i] = F.gelu(x[i]) for i < n, approximate 0 = exact (erf), 1 = tanh; y may be x; contract
 * and measured error in f32-activation/f32-gelu-simd.ts. */
export function f32_gelu(n: i32, x: usize, y: usize, approximate: i32): void {
  geluRows(n, x, y, approximate);
}

/** Fused masked attention of query rows q0..q1 of one (batch, head) slice; contract in
 * f32-attention/f32-attention-4x64-simd.ts. */
export function f32_attention(
  q: usize, ldq: i32, k: usize, ldk: i32, v: usize, ldv: i32, o: usize, ldo: i32,
  headDim: i32, headDimV: i32, q0: i32, q1: i32, k0: i32, k1: i32, scale: f32,
  causal: i32, addMask: usize, ldAdd: i32, boolMask: usize, ldBool: i32, boolInvert: i32,
  keyMask: usize, keyInvert: i32, validLens: usize, ldValid: i32,
  weights: usize, ldw: i32, scratch: usize, stats: usize, allKeys: usize,
): void {
  attention(q, ldq, k, ldk, v, ldv, o, ldo, headDim, headDimV, q0, q1, k0, k1, scale,
    causal, addMask, ldAdd, boolMask, ldBool, boolInvert, keyMask, keyInvert, validLens, ldValid,
    weights, ldw, scratch, stats, allKeys);
}

/** One query row against keys k0..k1 for every head at once, the heads side by side in each
 * K/V row (decoding over a [seq, heads·headDim] cache); see
 * f32-attention/f32-attention-decode-simd.ts. */
export function f32_attention_decode(
  heads: i32, q: usize, qHead: i32, k: usize, ldk: i32, kHead: i32, v: usize, ldv: i32, vHead: i32,
  o: usize, oHead: i32, headDim: i32, headDimV: i32, k0: i32, k1: i32, scale: f32,
  addMask: usize, keyMask: usize, keyInvert: i32, scratch: usize, stats: usize, statsHead: i32,
): void {
  attentionDecode(heads, q, qHead, k, ldk, kHead, v, ldv, vHead, o, oHead, headDim, headDimV, k0, k1, scale,
    addMask, keyMask, keyInvert, scratch, stats, statsHead);
}

/** flag (i32) = 1 if one slice holds a value that makes torch's math path NaN through a key the
 * attention kernel would skip (a NaN or ±inf in such a key's K or V, in a query row that skips
 * keys, or a NaN or +inf its float mask adds there), else 0; see
 * f32-attention/f32-attention-nonfinite-simd.ts. */
export function f32_attention_nonfinite(
  q: usize, ldq: i32, k: usize, ldk: i32, headDim: i32, v: usize, ldv: i32, headDimV: i32, seqQ: i32, seqK: i32,
  causal: i32, validLens: usize, ldValid: i32, addMask: usize, ldAdd: i32, flag: usize,
): void {
  attentionNonFinite(q, ldq, k, ldk, headDim, v, ldv, headDimV, seqQ, seqK, causal, validLens, ldValid, addMask, ldAdd, flag);
}

/** Merges `parts` partial attentions (key-split) of query rows q0..q1; see
 * f32-attention/f32-attention-combine-simd.ts. */
export function f32_attention_combine(
  parts: i32, q0: i32, q1: i32, headDimV: i32, partO: usize, ldPartO: i32, partStride: i32,
  stats: usize, statsStride: i32, o: usize, ldo: i32,
): void {
  attentionCombine(parts, q0, q1, headDimV, partO, ldPartO, partStride, stats, statsStride, o, ldo);
}

/** y[n] = mean of `count` rows x[i·stride .. i·stride + n); see f32-reduce/f32-mean-simd.ts. */
export function f32_mean_rows(count: i32, n: i32, x: usize, stride: i32, y: usize): void {
  meanRows(count, n, x, stride, y);
}

/** y[n] = x[n]·s; see f32-reduce/f32-scale-simd.ts. */
export function f32_scale(n: i32, x: usize, y: usize, s: f32): void {
  scale(n, x, y, s);
}
