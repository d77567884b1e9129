// Packed GEMM: C[m, n] = act(A[m, k]·B[k, n] + bias[n]) + residual[m, n] with both operands
// rearranged so that the 4×8 register tile reads each of them through ONE pointer at constant
// offsets; bias, activation and residual are optional: the bias is the accumulators' starting
// value (as torch's addmm / F.linear: products below half an ulp of a large bias are lost, as
// there), the activation and residual are applied at the tile's store (the epilogue), so C is
// written once.
//
// Why: V8 hoists every load of a loop iteration to its top and keeps 15 XMM registers, so a
// 4×8 broadcast tile (8 accumulators, 2 B vectors, 4 A splats, 1 temporary) is the largest
// that does not spill; what is left to cut is the address arithmetic. Strided rows cost an
// add (or lea) per load and per row pointer; packed, the loop is 6 loads, 16 mul/add and two
// pointer bumps (44–45 vs 37–38 GFLOP/s for the strided tile, one thread, baseline SIMD).
//
// Memory contract (pointers are byte addresses, no alignment required, 16 bytes is faster):
//   A strips  ap: f32 [ceil(m/4), k, 4]   strip s, row kk holds A[4s .. 4s+3, kk] (zero past m)
//   B panels  bp: f32 [ceil(n/8), k, 8]   panel p, row kk holds B[kk, 8p .. 8p+7] (zero past n)
//   bias: f32 [n] or 0;  c: f32 [m, n] with row stride ldc (ELEMENTS); C overlaps no operand
//   activation: ACTIVATION_NONE | _RELU | _GELU (erf) | _GELU_TANH (f32-activation/f32-gelu-simd.ts)
//   residual: f32 [m, n] with row stride ldr (ELEMENTS) or 0; it may equal c with ldr = ldc
//     (C += act(A·B + bias): each element is read before it is written), never overlap partly.
// The epilogue costs nothing when absent: the driver picks one of two copies of the loop nest
// (one template, a compile-time flag), so the plain GEMM runs the same code as before it
// existed; with an epilogue, the activation is chosen by one branch per tile, after the k loop.
// f32_pack_rows builds A strips from any strided A; f32_pack_panels_nt builds B panels from an
// nn.Linear weight W[n, k] (B = Wᵀ), f32_pack_panels_nn from a strided B[k, n].
import { GEMM_STRIP_ROWS as MR, GEMM_PANEL_COLS as NR } from "../layout";
import { madd } from "../common/simd";
import { ACTIVATION_RELU, ACTIVATION_GELU, ACTIVATION_GELU_TANH, relu, geluErf, geluTanh } from "../f32-activation/f32-gelu-simd";

// @ts-ignore: decorator
@inline function transpose0(x0: v128, x1: v128): v128 { return v128.shuffle<f32>(x0, x1, 0, 4, 1, 5); }
// @ts-ignore: decorator
@inline function transpose1(x0: v128, x1: v128): v128 { return v128.shuffle<f32>(x0, x1, 2, 6, 3, 7); }
// @ts-ignore: decorator
@inline function low(x0: v128, x1: v128): v128 { return v128.shuffle<f32>(x0, x1, 0, 1, 4, 5); }
// @ts-ignore: decorator
@inline function high(x0: v128, x1: v128): v128 { return v128.shuffle<f32>(x0, x1, 2, 3, 6, 7); }

/** Stores the 4×4 transpose of rows x0..x3 (four k values each) as four consecutive vectors
 * `step` bytes apart: vector j holds element j of every row. */
// @ts-ignore: decorator
@inline function storeTransposed(dst: usize, step: usize, x0: v128, x1: v128, x2: v128, x3: v128): void {
  const t0 = transpose0(x0, x1), t1 = transpose1(x0, x1);
  const t2 = transpose0(x2, x3), t3 = transpose1(x2, x3);
  v128.store(dst, low(t0, t2));
  v128.store(dst + step, high(t0, t2));
  v128.store(dst + 2 * step, low(t1, t3));
  v128.store(dst + 3 * step, high(t1, t3));
}

/** Row r of a strided matrix, or 0 (a row of zeros) past its end. */
// @ts-ignore: decorator
@inline function rowOrZero(base: usize, r: i32, rows: i32, ld: usize): usize {
  return r < rows ? base + <usize>r * ld : 0;
}

// @ts-ignore: decorator
@inline function load4(row: usize, offset: usize): v128 {
  return row != 0 ? v128.load(row + offset) : f32x4.splat(0);
}

// @ts-ignore: decorator
@inline function load1(row: usize, offset: usize): f32 {
  return row != 0 ? load<f32>(row + offset) : 0;
}

/** Strips s0..s1 of A[m, k] (row stride lda, ELEMENTS) into ap, which points at strip 0. */
export function packRows(m: i32, k: i32, a: usize, lda: i32, ap: usize, s0: i32, s1: i32): void {
  const ldaB = <usize>lda << 2, stripB = <usize>k * (MR << 2);
  const k4 = <usize>(k & ~3) << 2, kB = <usize>k << 2;
  for (let s = s0; s < s1; s++) {
    const r0 = s * MR;
    const x0 = a + <usize>r0 * ldaB;
    const x1 = rowOrZero(a, r0 + 1, m, ldaB), x2 = rowOrZero(a, r0 + 2, m, ldaB), x3 = rowOrZero(a, r0 + 3, m, ldaB);
    const dst = ap + <usize>s * stripB;
    let off: usize = 0;
    for (; off < k4; off += 16) {
      storeTransposed(dst + (off << 2), 16, v128.load(x0 + off), load4(x1, off), load4(x2, off), load4(x3, off));
    }
    for (; off < kB; off += 4) {
      v128.store(dst + (off << 2), f32x4(load<f32>(x0 + off), load1(x1, off), load1(x2, off), load1(x3, off)));
    }
  }
}

/** Panels p0..p1 of B = Wᵀ for W[n, k] (row stride ldw, ELEMENTS) into bp (panel 0). */
export function packPanelsNT(n: i32, k: i32, w: usize, ldw: i32, bp: usize, p0: i32, p1: i32): void {
  const ldwB = <usize>ldw << 2, panelB = <usize>k * (NR << 2);
  const k4 = <usize>(k & ~3) << 2, kB = <usize>k << 2;
  for (let p = p0; p < p1; p++) {
    const c0 = p * NR;
    const w0 = w + <usize>c0 * ldwB;
    const w1 = rowOrZero(w, c0 + 1, n, ldwB), w2 = rowOrZero(w, c0 + 2, n, ldwB), w3 = rowOrZero(w, c0 + 3, n, ldwB);
    const w4 = rowOrZero(w, c0 + 4, n, ldwB), w5 = rowOrZero(w, c0 + 5, n, ldwB);
    const w6 = rowOrZero(w, c0 + 6, n, ldwB), w7 = rowOrZero(w, c0 + 7, n, ldwB);
    const dst = bp + <usize>p * panelB;
    let off: usize = 0;
    for (; off < k4; off += 16) {
      // Four k values of eight rows: two 4×4 transposes, columns 0..3 then 4..7 of each row kk.
      const at = dst + (off << 3);
      storeTransposed(at, 32, v128.load(w0 + off), load4(w1, off), load4(w2, off), load4(w3, off));
      storeTransposed(at + 16, 32, load4(w4, off), load4(w5, off), load4(w6, off), load4(w7, off));
    }
    for (; off < kB; off += 4) {
      const at = dst + (off << 3);
      v128.store(at, f32x4(load<f32>(w0 + off), load1(w1, off), load1(w2, off), load1(w3, off)));
      v128.store(at, f32x4(load1(w4, off), load1(w5, off), load1(w6, off), load1(w7, off)), 16);
    }
  }
}

/** Panels p0..p1 of B[k, n] (row stride ldb, ELEMENTS) into bp (panel 0). */
export function packPanelsNN(k: i32, n: i32, b: usize, ldb: i32, bp: usize, p0: i32, p1: i32): void {
  const ldbB = <usize>ldb << 2, panelB = <usize>k * (NR << 2);
  for (let p = p0; p < p1; p++) {
    const c0 = p * NR, cols = min(NR, n - c0);
    let src = b + (<usize>c0 << 2), dst = bp + <usize>p * panelB;
    for (let kk = 0; kk < k; kk++, src += ldbB, dst += NR << 2) {
      if (cols == NR) {
        v128.store(dst, v128.load(src));
        v128.store(dst, v128.load(src, 16), 16);
      } else {
        for (let j = 0; j < NR; j++) store<f32>(dst + (<usize>j << 2), j < cols ? load<f32>(src + (<usize>j << 2)) : 0);
      }
    }
  }
}

/** Lanes c..c+3 of a bias (or residual) row of a panel with `cols` live columns (the rest 0,
 * never read past n). */
// @ts-ignore: decorator
@inline export function biasVector(bias: usize, c: i32, cols: i32): v128 {
  if (bias == 0) return f32x4.splat(0);
  if (c + 4 <= cols) return v128.load(bias + (<usize>c << 2));
  let v = f32x4.splat(0);
  if (c < cols) v = f32x4.replace_lane(v, 0, load<f32>(bias + (<usize>c << 2)));
  if (c + 1 < cols) v = f32x4.replace_lane(v, 1, load<f32>(bias + (<usize>(c + 1) << 2)));
  if (c + 2 < cols) v = f32x4.replace_lane(v, 2, load<f32>(bias + (<usize>(c + 2) << 2)));
  return v;
}

/** Stores the live columns (< 8) of one tile row. */
// @ts-ignore: decorator
@inline function storePartial(c: usize, lo: v128, hi: v128, cols: i32): void {
  let v = lo;
  let j = 0;
  if (cols >= 4) {
    v128.store(c, lo);
    v = hi;
    j = 4;
  }
  if (j < cols) store<f32>(c + (<usize>j << 2), f32x4.extract_lane(v, 0));
  if (j + 1 < cols) store<f32>(c + (<usize>(j + 1) << 2), f32x4.extract_lane(v, 1));
  if (j + 2 < cols) store<f32>(c + (<usize>(j + 2) << 2), f32x4.extract_lane(v, 2));
}

// @ts-ignore: decorator
@inline export function storeRow(c: usize, lo: v128, hi: v128, cols: i32): void {
  if (cols == NR) {
    v128.store(c, lo);
    v128.store(c, hi, 16);
  } else {
    storePartial(c, lo, hi, cols);
  }
}

/** C[m, n] = act(A·B + bias) + residual from A strips at ap (strip 0 = rows 0..3 of this C)
 * and B panels at bp (panel 0 = columns 0..7 of this C); bias, residual and C start at the
 * same row and column. Panels outside, strips inside: a panel (k·32 bytes) stays in L1 while
 * the strips stream past it. */
export function gemmPacked(
  m: i32, n: i32, k: i32, ap: usize, bp: usize, bias: usize, c: usize, ldc: i32,
  activation: i32, residual: usize, ldr: i32,
): void {
  if (activation == 0 && residual == 0) gemmPackedTiles(m, n, k, ap, bp, bias, c, ldc, 0, 0, 0, false);
  else gemmPackedTiles(m, n, k, ap, bp, bias, c, ldc, activation, residual, ldr, true);
}

/** The loop nest of gemmPacked; `epilogue` is a constant at both calls, so the plain copy has
 * no trace of the activation or residual. */
// @ts-ignore: decorator
@inline function gemmPackedTiles(
  m: i32, n: i32, k: i32, ap: usize, bp: usize, bias: usize, c: usize, ldc: i32,
  activation: i32, residual: usize, ldr: i32, epilogue: bool,
): void {
  const ldcB = <usize>ldc << 2, ldrB = <usize>ldr << 2;
  const stripB = <usize>k * (MR << 2), panelB = <usize>k * (NR << 2);
  for (let j = 0; j < n; j += NR) {
    const cols = min(NR, n - j);
    const b0 = bp + <usize>(j / NR) * panelB, bEnd = b0 + panelB;
    const pbias = bias != 0 ? bias + (<usize>j << 2) : 0;
    const vbias0 = biasVector(pbias, 0, cols), vbias1 = biasVector(pbias, 4, cols);
    for (let i = 0; i < m; i += MR) {
      let vacc0x0123 = vbias0, vacc0x4567 = vbias1, vacc1x0123 = vbias0, vacc1x4567 = vbias1;
      let vacc2x0123 = vbias0, vacc2x4567 = vbias1, vacc3x0123 = vbias0, vacc3x4567 = vbias1;
      let pa = ap + <usize>(i / MR) * stripB;
      for (let pb = b0; pb < bEnd; pb += NR << 2) {
        const vb0123 = v128.load(pb);
        const vb4567 = v128.load(pb, 16);
        const va0 = v128.load_splat<f32>(pa);
        vacc0x0123 = madd(va0, vb0123, vacc0x0123);
        vacc0x4567 = madd(va0, vb4567, vacc0x4567);
        const va1 = v128.load_splat<f32>(pa, 4);
        vacc1x0123 = madd(va1, vb0123, vacc1x0123);
        vacc1x4567 = madd(va1, vb4567, vacc1x4567);
        const va2 = v128.load_splat<f32>(pa, 8);
        vacc2x0123 = madd(va2, vb0123, vacc2x0123);
        vacc2x4567 = madd(va2, vb4567, vacc2x4567);
        const va3 = v128.load_splat<f32>(pa, 12);
        vacc3x0123 = madd(va3, vb0123, vacc3x0123);
        vacc3x4567 = madd(va3, vb4567, vacc3x4567);
        pa += MR << 2;
      }
      const rows = min(MR, m - i);
      const c0 = c + <usize>i * ldcB + (<usize>j << 2);
      if (epilogue) {
        if (activation == ACTIVATION_RELU) {
          vacc0x0123 = relu(vacc0x0123); vacc0x4567 = relu(vacc0x4567);
          vacc1x0123 = relu(vacc1x0123); vacc1x4567 = relu(vacc1x4567);
          vacc2x0123 = relu(vacc2x0123); vacc2x4567 = relu(vacc2x4567);
          vacc3x0123 = relu(vacc3x0123); vacc3x4567 = relu(vacc3x4567);
        } else if (activation == ACTIVATION_GELU) {
          vacc0x0123 = geluErf(vacc0x0123); vacc0x4567 = geluErf(vacc0x4567);
          vacc1x0123 = geluErf(vacc1x0123); vacc1x4567 = geluErf(vacc1x4567);
          vacc2x0123 = geluErf(vacc2x0123); vacc2x4567 = geluErf(vacc2x4567);
          vacc3x0123 = geluErf(vacc3x0123); vacc3x4567 = geluErf(vacc3x4567);
        } else if (activation == ACTIVATION_GELU_TANH) {
          vacc0x0123 = geluTanh(vacc0x0123); vacc0x4567 = geluTanh(vacc0x4567);
          vacc1x0123 = geluTanh(vacc1x0123); vacc1x4567 = geluTanh(vacc1x4567);
          vacc2x0123 = geluTanh(vacc2x0123); vacc2x4567 = geluTanh(vacc2x4567);
          vacc3x0123 = geluTanh(vacc3x0123); vacc3x4567 = geluTanh(vacc3x4567);
        }
        if (residual != 0) {
          // Rows past m are never read (their C rows are not stored either).
          const r0 = residual + <usize>i * ldrB + (<usize>j << 2);
          vacc0x0123 = f32x4.add(vacc0x0123, biasVector(r0, 0, cols));
          vacc0x4567 = f32x4.add(vacc0x4567, biasVector(r0, 4, cols));
          if (rows > 1) {
            vacc1x0123 = f32x4.add(vacc1x0123, biasVector(r0 + ldrB, 0, cols));
            vacc1x4567 = f32x4.add(vacc1x4567, biasVector(r0 + ldrB, 4, cols));
          }
          if (rows > 2) {
            vacc2x0123 = f32x4.add(vacc2x0123, biasVector(r0 + 2 * ldrB, 0, cols));
            vacc2x4567 = f32x4.add(vacc2x4567, biasVector(r0 + 2 * ldrB, 4, cols));
          }
          if (rows > 3) {
            vacc3x0123 = f32x4.add(vacc3x0123, biasVector(r0 + 3 * ldrB, 0, cols));
            vacc3x4567 = f32x4.add(vacc3x4567, biasVector(r0 + 3 * ldrB, 4, cols));
          }
        }
      }
      storeRow(c0, vacc0x0123, vacc0x4567, cols);
      if (rows > 1) storeRow(c0 + ldcB, vacc1x0123, vacc1x4567, cols);
      if (rows > 2) storeRow(c0 + 2 * ldcB, vacc2x0123, vacc2x4567, cols);
      if (rows > 3) storeRow(c0 + 3 * ldcB, vacc3x0123, vacc3x4567, cols);
    }
  }
}
