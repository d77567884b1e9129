// Packed GEMV (and GEMM of a few rows): C[m, n] = act(A[m, k]·B[k, n] + bias[n]) + residual[m, n]
// for m = 1..4 (decoding: one row per sequence), reading B from the very panels the packed GEMM
// reads (f32-gemm-packed-4x8-simd.ts) and A in place, unpacked.
//
// Why: with one row, the packed GEMM computes a 4-row tile of which one row is live (4× the
// arithmetic) after packing A. Here the tile is 1, 2 or 4 rows (3 runs as 4) × one 8-column
// panel, A is read in place, and B is streamed once per call, front to back: panel after
// panel, each read whole before the next, so the weights are ONE sequential stream. That
// matters more than registers: the weights are nearly all of a decoding step's memory traffic,
// and a one-row tile reading four panels side by side (8 accumulators, four streams k·32 bytes
// apart) ran at 0.6-0.75 of the read-bandwidth probe (two panels: 0.45), this one-panel tile
// at 0.84-0.96 (one thread, the GPT-2 lm_head, in alternation with the probe as bench/gemv.mjs
// runs them). Its two accumulator chains are not the limit as long as the add is the chain:
// 32 bytes per add latency is more than one core's share of the memory bus.
// So the 1- and 2-row tiles multiply and add UNFUSED in both builds (mulAdd). A fused madd (the
// relaxed build's, where the engine fuses it) puts the 4-cycle FMA latency on the chain: 32
// bytes per 4 cycles, 27-29 GB/s on one core against 40 unfused. A GPT-2 small decode step
// with the relaxed build, in separate processes alternated: 23.1-25.2 ms fused, 19.6-21.8
// unfused, the baseline build's speed.
// Pages first: before any row, the call reads one byte of every 4 KiB page of its panels
// (common/memory.ts touchPages), so every page's translation and first line are under way
// before the stream reaches them (prefetchers stop at page boundaries; no huge pages here).
// GPT-2 small f32 decode steps, one thread, two engines alternated step by step in both
// orders: 2.5-13% faster in four runs (20.72 -> 19.83, 22.61 -> 21.45, 21.39 -> 18.61,
// 21.10 -> 20.58 ms). The int8 GEMV measured 5% slower with the same touches, so it has none.
// Bits: every element of C is bias, then acc += a·b for kk = 0..k-1 in order, then the packed
// GEMM's epilogue; only the grouping of independent elements into registers differs from the
// GEMM. In the baseline build the GEMM's madd is this same mul and add, so all tiles give the
// packed GEMM's bits. In the relaxed build the 3-4-row tile keeps the GEMM's madd (its bits),
// and the 1- and 2-row tiles differ from the GEMM only in the rounding of each fused product
// (each row alone gives the same bits as in a 2-row call). No split of the columns over threads
// changes a bit in either build.
//
// Memory contract (pointers are byte addresses, no alignment required, 16 bytes is faster):
//   a: f32 [m, k] with row stride lda (ELEMENTS), read in place
//   B panels bp: f32 [ceil(n/8), k, 8]   panel p, row kk holds B[kk, 8p .. 8p+7] (zero past n):
//     f32_pack_panels_nt / _nn output; bp points at the panel holding column 0 of this C
//   bias: f32 [n] or 0;  c: f32 [m, n] with row stride ldc (ELEMENTS); C overlaps neither A nor B
//   activation: ACTIVATION_NONE | _RELU | _GELU (erf) | _GELU_TANH, after the bias
//   residual: f32 [m, n] with row stride ldr (ELEMENTS) or 0, added last; it may equal c with
//     ldr = ldc (each element is read before it is written), never overlap it partly.
// m > 4 is computed 4 rows at a time (B is then read once per 4 rows: use the packed GEMM).
import { GEMM_PANEL_COLS as NR } from "../layout";
import { madd } from "../common/simd";
import { touchPages } from "../common/memory";
import { ACTIVATION_RELU, ACTIVATION_GELU, ACTIVATION_GELU_TANH, relu, geluErf, geluTanh } from "../f32-activation/f32-gelu-simd";
import { biasVector, storeRow } from "./f32-gemm-packed-4x8-simd";

/** acc + a·b as a mul and an add (rounded twice), in both builds: the 1- and 2-row tiles' step. */
// @ts-ignore: decorator
@inline function mulAdd(a: v128, b: v128, acc: v128): v128 {
  return f32x4.add(f32x4.mul(a, b), acc);
}

/** One row × one panel of C from its accumulators: the epilogue (when `epilogue`, a constant),
 * then the store of the live columns. c and r point at the row's first column of the panel. */
// @ts-ignore: decorator
@inline function finish(
  c: usize, r: usize, lo: v128, hi: v128, cols: i32, activation: i32, epilogue: bool,
): void {
  if (epilogue) {
    if (activation == ACTIVATION_RELU) {
      lo = relu(lo); hi = relu(hi);
    } else if (activation == ACTIVATION_GELU) {
      lo = geluErf(lo); hi = geluErf(hi);
    } else if (activation == ACTIVATION_GELU_TANH) {
      lo = geluTanh(lo); hi = geluTanh(hi);
    }
    if (r != 0) {
      lo = f32x4.add(lo, biasVector(r, 0, cols));
      hi = f32x4.add(hi, biasVector(r, 4, cols));
    }
  }
  storeRow(c, lo, hi, cols);
}

/** Row of a residual (byte address), or 0 when there is none. */
// @ts-ignore: decorator
@inline function rowAt(base: usize, r: i32, ldB: usize, colB: usize): usize {
  return base != 0 ? base + <usize>r * ldB + colB : 0;
}

/** C[m, n] = act(A·B + bias) + residual; see the memory contract above. */
export function gemvPacked(
  m: i32, n: i32, k: i32, a: usize, lda: i32, bp: usize, bias: usize, c: usize, ldc: i32,
  activation: i32, residual: usize, ldr: i32,
): void {
  // Every page of the panels first (the header says why): exactly the bytes the rows read.
  const pEnd = bp + <usize>((n + NR - 1) / NR) * (<usize>k * (NR << 2));
  if (touchPages(bp, pEnd) < 0) return; // never: the sum is not negative
  if (activation == 0 && residual == 0) gemvRows(m, n, k, a, lda, bp, bias, c, ldc, 0, 0, 0, false);
  else gemvRows(m, n, k, a, lda, bp, bias, c, ldc, activation, residual, ldr, true);
}

/** The row loop of gemvPacked: 4 (or 3), 2 or 1 rows a pass; `epilogue` is a constant at both
 * calls. */
// @ts-ignore: decorator
@inline function gemvRows(
  m: i32, n: i32, k: i32, a: usize, lda: i32, bp: usize, bias: usize, c: usize, ldc: i32,
  activation: i32, residual: usize, ldr: i32, epilogue: bool,
): void {
  const ldaB = <usize>lda << 2, ldcB = <usize>ldc << 2, ldrB = <usize>ldr << 2;
  for (let i = 0; i < m;) {
    const rows = m - i;
    const ai = a + <usize>i * ldaB, ci = c + <usize>i * ldcB, ri = rowAt(residual, i, ldrB, 0);
    if (rows >= 3) {
      gemv4x8(min(rows, 4), n, k, ai, ldaB, bp, bias, ci, ldcB, activation, ri, ldrB, epilogue);
      i += 4;
    } else if (rows == 2) {
      gemv2x8(n, k, ai, ldaB, bp, bias, ci, ldcB, activation, ri, ldrB, epilogue);
      i += 2;
    } else {
      gemv1x8(n, k, ai, bp, bias, ci, activation, ri, epilogue);
      i += 1;
    }
  }
}

/** One row over every panel, one panel at a time (8 columns, 2 accumulators). */
// @ts-ignore: decorator
@inline function gemv1x8(
  n: i32, k: i32, a: usize, bp: usize, bias: usize, c: usize, activation: i32, residual: usize, epilogue: bool,
): void {
  const panelB = <usize>k * (NR << 2), kB = <usize>k << 2;
  for (let j = 0; j < n; j += NR) {
    const b0 = bp + <usize>(j / NR) * panelB, jB = <usize>j << 2;
    const pbias = bias != 0 ? bias + jB : 0, cols = min(NR, n - j);
    let vacc0x0123 = biasVector(pbias, 0, cols), vacc0x4567 = biasVector(pbias, 4, cols);
    let pa = a;
    const aEnd = a + kB;
    for (let pb = b0; pa < aEnd; pb += NR << 2) {
      const va = v128.load_splat<f32>(pa);
      vacc0x0123 = mulAdd(va, v128.load(pb), vacc0x0123);
      vacc0x4567 = mulAdd(va, v128.load(pb, 16), vacc0x4567);
      pa += 4;
    }
    finish(c + jB, rowAt(residual, 0, 0, jB), vacc0x0123, vacc0x4567, cols, activation, epilogue);
  }
}

/** Two rows over every panel, one panel at a time (8 columns, 4 accumulators). */
// @ts-ignore: decorator
@inline function gemv2x8(
  n: i32, k: i32, a: usize, ldaB: usize, bp: usize, bias: usize, c: usize, ldcB: usize,
  activation: i32, residual: usize, ldrB: usize, epilogue: bool,
): void {
  const panelB = <usize>k * (NR << 2), kB = <usize>k << 2;
  for (let j = 0; j < n; j += NR) {
    const b0 = bp + <usize>(j / NR) * panelB, jB = <usize>j << 2;
    const pbias = bias != 0 ? bias + jB : 0, cols = min(NR, n - j);
    const vb0 = biasVector(pbias, 0, cols), vb1 = biasVector(pbias, 4, cols);
    let vacc0x0123 = vb0, vacc0x4567 = vb1, vacc1x0123 = vb0, vacc1x4567 = vb1;
    let pa = a;
    const aEnd = a + kB;
    for (let pb = b0; pa < aEnd; pb += NR << 2) {
      const vb0123 = v128.load(pb), vb4567 = v128.load(pb, 16);
      const va0 = v128.load_splat<f32>(pa);
      vacc0x0123 = mulAdd(va0, vb0123, vacc0x0123);
      vacc0x4567 = mulAdd(va0, vb4567, vacc0x4567);
      const va1 = v128.load_splat<f32>(pa + ldaB);
      vacc1x0123 = mulAdd(va1, vb0123, vacc1x0123);
      vacc1x4567 = mulAdd(va1, vb4567, vacc1x4567);
      pa += 4;
    }
    finish(c + jB, rowAt(residual, 0, ldrB, jB), vacc0x0123, vacc0x4567, cols, activation, epilogue);
    finish(c + ldcB + jB, rowAt(residual, 1, ldrB, jB), vacc1x0123, vacc1x4567, cols, activation, epilogue);
  }
}

/** Three or four rows (`rows`) over every panel, one panel at a time (8 columns, 8
 * accumulators): the packed GEMM's tile with A read in place. A third row stands in for a
 * missing fourth (computed, never stored). */
// @ts-ignore: decorator
@inline function gemv4x8(
  rows: i32, n: i32, k: i32, a: usize, ldaB: usize, bp: usize, bias: usize, c: usize, ldcB: usize,
  activation: i32, residual: usize, ldrB: usize, epilogue: bool,
): void {
  const panelB = <usize>k * (NR << 2), kB = <usize>k << 2;
  const a3B: usize = <usize>(rows > 3 ? 3 : 2) * ldaB;
  for (let j = 0; j < n; j += NR) {
    const b0 = bp + <usize>(j / NR) * panelB, jB = <usize>j << 2;
    const pbias = bias != 0 ? bias + jB : 0, cols = min(NR, n - j);
    const vb0 = biasVector(pbias, 0, cols), vb1 = biasVector(pbias, 4, cols);
    let vacc0x0123 = vb0, vacc0x4567 = vb1, vacc1x0123 = vb0, vacc1x4567 = vb1;
    let vacc2x0123 = vb0, vacc2x4567 = vb1, vacc3x0123 = vb0, vacc3x4567 = vb1;
    let pa = a;
    const aEnd = a + kB;
    for (let pb = b0; pa < aEnd; pb += NR << 2) {
      const vb0123 = v128.load(pb), vb4567 = v128.load(pb, 16);
      const va0 = v128.load_splat<f32>(pa);
      vacc0x0123 = madd(va0, vb0123, vacc0x0123);
      vacc0x4567 = madd(va0, vb4567, vacc0x4567);
      const va1 = v128.load_splat<f32>(pa + ldaB);
      vacc1x0123 = madd(va1, vb0123, vacc1x0123);
      vacc1x4567 = madd(va1, vb4567, vacc1x4567);
      const va2 = v128.load_splat<f32>(pa + 2 * ldaB);
      vacc2x0123 = madd(va2, vb0123, vacc2x0123);
      vacc2x4567 = madd(va2, vb4567, vacc2x4567);
      const va3 = v128.load_splat<f32>(pa + a3B);
      vacc3x0123 = madd(va3, vb0123, vacc3x0123);
      vacc3x4567 = madd(va3, vb4567, vacc3x4567);
      pa += 4;
    }
    const c0 = c + jB;
    finish(c0, rowAt(residual, 0, ldrB, jB), vacc0x0123, vacc0x4567, cols, activation, epilogue);
    finish(c0 + ldcB, rowAt(residual, 1, ldrB, jB), vacc1x0123, vacc1x4567, cols, activation, epilogue);
    finish(c0 + 2 * ldcB, rowAt(residual, 2, ldrB, jB), vacc2x0123, vacc2x4567, cols, activation, epilogue);
    if (rows > 3) finish(c0 + 3 * ldcB, rowAt(residual, 3, ldrB, jB), vacc3x0123, vacc3x4567, cols, activation, epilogue);
  }
}
