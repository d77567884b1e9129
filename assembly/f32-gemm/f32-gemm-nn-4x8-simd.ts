// C[m, n] (+)= A[m, k] · B[k, n] microkernels: a 4×8 register tile (8 accumulators, two B
// vectors and one broadcast A value live per step: 11 of x86's 16 XMM registers) and the
// 1-row and 4-column variants that cover the tails. Each call computes one whole tile over
// the full k; all strides are in BYTES here (the driver converts), all pointers are byte
// addresses into linear memory, no alignment is required.
//
// Tile initialisation, shared by every variant: accumulate != 0 starts from C (C += A·B),
// otherwise from the bias row (bias != 0) or zero.
import { madd } from "../common/simd";

// @ts-ignore: decorator
@inline function initAcc(accumulate: bool, c: usize, offset: usize, bias: usize): v128 {
  if (accumulate) return v128.load(c + offset);
  if (bias != 0) return v128.load(bias + offset);
  return f32x4.splat(0);
}

/** 4×8 tile: rows a..a+3·lda of A, columns b..b+7 of B, into C rows c..c+3·ldc. */
// @ts-ignore: decorator
@inline export function gemmNN4x8(
  k: i32, a: usize, lda: usize, b: usize, ldb: usize, c: usize, ldc: usize,
  bias: usize, accumulate: bool,
): void {
  const c0 = c, c1 = c + ldc, c2 = c1 + ldc, c3 = c2 + ldc;
  let vacc0x0123 = initAcc(accumulate, c0, 0, bias), vacc0x4567 = initAcc(accumulate, c0, 16, bias);
  let vacc1x0123 = initAcc(accumulate, c1, 0, bias), vacc1x4567 = initAcc(accumulate, c1, 16, bias);
  let vacc2x0123 = initAcc(accumulate, c2, 0, bias), vacc2x4567 = initAcc(accumulate, c2, 16, bias);
  let vacc3x0123 = initAcc(accumulate, c3, 0, bias), vacc3x4567 = initAcc(accumulate, c3, 16, bias);
  let a0 = a, a1 = a + lda, a2 = a1 + lda, a3 = a2 + lda;
  let pb = b;
  for (let p = 0; p < k; p++) {
    const vb0123 = v128.load(pb);
    const vb4567 = v128.load(pb, 16);
    const va0 = v128.load_splat<f32>(a0);
    vacc0x0123 = madd(va0, vb0123, vacc0x0123);
    vacc0x4567 = madd(va0, vb4567, vacc0x4567);
    const va1 = v128.load_splat<f32>(a1);
    vacc1x0123 = madd(va1, vb0123, vacc1x0123);
    vacc1x4567 = madd(va1, vb4567, vacc1x4567);
    const va2 = v128.load_splat<f32>(a2);
    vacc2x0123 = madd(va2, vb0123, vacc2x0123);
    vacc2x4567 = madd(va2, vb4567, vacc2x4567);
    const va3 = v128.load_splat<f32>(a3);
    vacc3x0123 = madd(va3, vb0123, vacc3x0123);
    vacc3x4567 = madd(va3, vb4567, vacc3x4567);
    a0 += 4; a1 += 4; a2 += 4; a3 += 4;
    pb += ldb;
  }
  v128.store(c0, vacc0x0123); v128.store(c0, vacc0x4567, 16);
  v128.store(c1, vacc1x0123); v128.store(c1, vacc1x4567, 16);
  v128.store(c2, vacc2x0123); v128.store(c2, vacc2x4567, 16);
  v128.store(c3, vacc3x0123); v128.store(c3, vacc3x4567, 16);
}

/** 4×4 tile (column tail of 4..7). */
// @ts-ignore: decorator
@inline export function gemmNN4x4(
  k: i32, a: usize, lda: usize, b: usize, ldb: usize, c: usize, ldc: usize,
  bias: usize, accumulate: bool,
): void {
  const c0 = c, c1 = c + ldc, c2 = c1 + ldc, c3 = c2 + ldc;
  let vacc0 = initAcc(accumulate, c0, 0, bias), vacc1 = initAcc(accumulate, c1, 0, bias);
  let vacc2 = initAcc(accumulate, c2, 0, bias), vacc3 = initAcc(accumulate, c3, 0, bias);
  let a0 = a, a1 = a + lda, a2 = a1 + lda, a3 = a2 + lda;
  let pb = b;
  for (let p = 0; p < k; p++) {
    const vb = v128.load(pb);
    vacc0 = madd(v128.load_splat<f32>(a0), vb, vacc0);
    vacc1 = madd(v128.load_splat<f32>(a1), vb, vacc1);
    vacc2 = madd(v128.load_splat<f32>(a2), vb, vacc2);
    vacc3 = madd(v128.load_splat<f32>(a3), vb, vacc3);
    a0 += 4; a1 += 4; a2 += 4; a3 += 4;
    pb += ldb;
  }
  v128.store(c0, vacc0); v128.store(c1, vacc1); v128.store(c2, vacc2); v128.store(c3, vacc3);
}

/** 1×8 tile (row tail). */
// @ts-ignore: decorator
@inline export function gemmNN1x8(
  k: i32, a: usize, b: usize, ldb: usize, c: usize, bias: usize, accumulate: bool,
): void {
  let vacc0123 = initAcc(accumulate, c, 0, bias), vacc4567 = initAcc(accumulate, c, 16, bias);
  let pa = a, pb = b;
  for (let p = 0; p < k; p++) {
    const va = v128.load_splat<f32>(pa);
    vacc0123 = madd(va, v128.load(pb), vacc0123);
    vacc4567 = madd(va, v128.load(pb, 16), vacc4567);
    pa += 4;
    pb += ldb;
  }
  v128.store(c, vacc0123); v128.store(c, vacc4567, 16);
}

/** 1×4 tile (row and column tail). */
// @ts-ignore: decorator
@inline export function gemmNN1x4(
  k: i32, a: usize, b: usize, ldb: usize, c: usize, bias: usize, accumulate: bool,
): void {
  let vacc = initAcc(accumulate, c, 0, bias);
  let pa = a, pb = b;
  for (let p = 0; p < k; p++) {
    vacc = madd(v128.load_splat<f32>(pa), v128.load(pb), vacc);
    pa += 4;
    pb += ldb;
  }
  v128.store(c, vacc);
}

/** One output element (last 1..3 columns): scalar dot of a row of A with a column of B. */
// @ts-ignore: decorator
@inline export function gemmNN1x1(
  k: i32, a: usize, b: usize, ldb: usize, c: usize, bias: usize, accumulate: bool,
): void {
  let acc: f32 = accumulate ? load<f32>(c) : bias != 0 ? load<f32>(bias) : 0;
  let pa = a, pb = b;
  for (let p = 0; p < k; p++) {
    acc += load<f32>(pa) * load<f32>(pb);
    pa += 4;
    pb += ldb;
  }
  store<f32>(c, acc);
}
