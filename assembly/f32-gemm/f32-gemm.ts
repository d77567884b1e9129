// GEMM drivers: walk C in register tiles, hand the edges to the tail microkernels.
//
// Memory contract (both drivers):
//   a: f32 [m, k] with row stride lda;  c: f32 [m, n] with row stride ldc;  bias: f32 [n] or 0.
//   gemmNN  b: f32 [k, n] with row stride ldb        C (+)= A·B (+ bias)
//   gemmNT  b: f32 [n, k] with row stride ldb        C = alpha·A·Bᵀ (+ bias)   (nn.Linear: B = W[out, in])
//   Pointers are byte addresses, strides are in ELEMENTS (f32), every dimension is >= 1, strides
//   are >= the row length. C must not overlap A, B or bias. No alignment is required (16-byte
//   aligned rows are faster). Row strides let one head of a [seq, embed] matrix be used in place.
import { gemmNN4x8, gemmNN4x4, gemmNN1x8, gemmNN1x4, gemmNN1x1 } from "./f32-gemm-nn-4x8-simd";
import { gemmNT2x4, gemmNT1x4, gemmNT1x1 } from "./f32-gemm-nt-2x4-simd";

/** C[m, n] = A·B + bias, or C += A·B when accumulate (bias is then ignored). */
export function gemmNN(
  m: i32, n: i32, k: i32, a: usize, lda: i32, b: usize, ldb: i32, bias: usize, c: usize, ldc: i32,
  accumulate: bool,
): void {
  const ldaB = <usize>lda << 2, ldbB = <usize>ldb << 2, ldcB = <usize>ldc << 2;
  let i = 0;
  for (; i + 4 <= m; i += 4) {
    const pa = a + <usize>i * ldaB, pc = c + <usize>i * ldcB;
    let j = 0;
    for (; j + 8 <= n; j += 8) {
      const jb = <usize>j << 2;
      gemmNN4x8(k, pa, ldaB, b + jb, ldbB, pc + jb, ldcB, bias != 0 ? bias + jb : 0, accumulate);
    }
    if (j + 4 <= n) {
      const jb = <usize>j << 2;
      gemmNN4x4(k, pa, ldaB, b + jb, ldbB, pc + jb, ldcB, bias != 0 ? bias + jb : 0, accumulate);
      j += 4;
    }
    for (; j < n; j++) {
      const jb = <usize>j << 2;
      for (let r = 0; r < 4; r++) {
        gemmNN1x1(k, pa + <usize>r * ldaB, b + jb, ldbB, pc + <usize>r * ldcB + jb,
          bias != 0 ? bias + jb : 0, accumulate);
      }
    }
  }
  for (; i < m; i++) {
    const pa = a + <usize>i * ldaB, pc = c + <usize>i * ldcB;
    let j = 0;
    for (; j + 8 <= n; j += 8) {
      const jb = <usize>j << 2;
      gemmNN1x8(k, pa, b + jb, ldbB, pc + jb, bias != 0 ? bias + jb : 0, accumulate);
    }
    if (j + 4 <= n) {
      const jb = <usize>j << 2;
      gemmNN1x4(k, pa, b + jb, ldbB, pc + jb, bias != 0 ? bias + jb : 0, accumulate);
      j += 4;
    }
    for (; j < n; j++) {
      const jb = <usize>j << 2;
      gemmNN1x1(k, pa, b + jb, ldbB, pc + jb, bias != 0 ? bias + jb : 0, accumulate);
    }
  }
}

/** C[m, n] = alpha·A·Bᵀ + bias. */
export function gemmNT(
  m: i32, n: i32, k: i32, a: usize, lda: i32, b: usize, ldb: i32, bias: usize, c: usize, ldc: i32,
  alpha: f32,
): void {
  const ldaB = <usize>lda << 2, ldbB = <usize>ldb << 2, ldcB = <usize>ldc << 2;
  let i = 0;
  for (; i + 2 <= m; i += 2) {
    const pa = a + <usize>i * ldaB, pc = c + <usize>i * ldcB;
    let j = 0;
    for (; j + 4 <= n; j += 4) {
      const jb = <usize>j << 2;
      gemmNT2x4(k, pa, ldaB, b + <usize>j * ldbB, ldbB, pc + jb, ldcB, alpha, bias != 0 ? bias + jb : 0);
    }
    for (; j < n; j++) {
      const jb = <usize>j << 2, pb = b + <usize>j * ldbB, pbias = bias != 0 ? bias + jb : 0;
      gemmNT1x1(k, pa, pb, pc + jb, alpha, pbias);
      gemmNT1x1(k, pa + ldaB, pb, pc + ldcB + jb, alpha, pbias);
    }
  }
  if (i < m) {
    const pa = a + <usize>i * ldaB, pc = c + <usize>i * ldcB;
    let j = 0;
    for (; j + 4 <= n; j += 4) {
      const jb = <usize>j << 2;
      gemmNT1x4(k, pa, b + <usize>j * ldbB, ldbB, pc + jb, alpha, bias != 0 ? bias + jb : 0);
    }
    for (; j < n; j++) {
      const jb = <usize>j << 2;
      gemmNT1x1(k, pa, b + <usize>j * ldbB, pc + jb, alpha, bias != 0 ? bias + jb : 0);
    }
  }
}
