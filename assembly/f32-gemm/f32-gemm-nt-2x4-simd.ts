// C[m, n] = alpha · A[m, k] · B[n, k]ᵀ (+ bias[n]) microkernels: dot products along k, where
// both operands are contiguous (B is nn.Linear's [out, in] weight, or the keys of attention).
// A 2×4 tile keeps 8 vector accumulators, 2 A vectors and 1 B vector live (12 XMM registers);
// k advances four lanes at a time, the accumulators are reduced with hsum4x4 and the last
// k % 4 products are added in scalar. Strides are in BYTES, pointers are byte addresses, no
// alignment is required.
import { madd, hsum4x4, hsum } from "../common/simd";

/** Output vector of a tile row: alpha · (vector dot + scalar k-tail) + bias. */
// @ts-ignore: decorator
@inline function finish(vdot: v128, vtail: v128, alpha: f32, bias: usize): v128 {
  const v = f32x4.mul(f32x4.add(vdot, vtail), f32x4.splat(alpha));
  return bias != 0 ? f32x4.add(v, v128.load(bias)) : v;
}

/** 2×4 tile: rows a, a+lda of A against rows b..b+3·ldb of B, into c and c+ldc. */
// @ts-ignore: decorator
@inline export function gemmNT2x4(
  k: i32, a: usize, lda: usize, b: usize, ldb: usize, c: usize, ldc: usize,
  alpha: f32, bias: usize,
): void {
  const a0 = a, a1 = a + lda;
  const b0 = b, b1 = b + ldb, b2 = b1 + ldb, b3 = b2 + ldb;
  let vacc0x0 = f32x4.splat(0), vacc0x1 = f32x4.splat(0), vacc0x2 = f32x4.splat(0), vacc0x3 = f32x4.splat(0);
  let vacc1x0 = f32x4.splat(0), vacc1x1 = f32x4.splat(0), vacc1x2 = f32x4.splat(0), vacc1x3 = f32x4.splat(0);
  const k4 = <usize>(k & ~3) << 2;
  let off: usize = 0;
  for (; off < k4; off += 16) {
    const va0 = v128.load(a0 + off);
    const va1 = v128.load(a1 + off);
    let vb = v128.load(b0 + off);
    vacc0x0 = madd(va0, vb, vacc0x0);
    vacc1x0 = madd(va1, vb, vacc1x0);
    vb = v128.load(b1 + off);
    vacc0x1 = madd(va0, vb, vacc0x1);
    vacc1x1 = madd(va1, vb, vacc1x1);
    vb = v128.load(b2 + off);
    vacc0x2 = madd(va0, vb, vacc0x2);
    vacc1x2 = madd(va1, vb, vacc1x2);
    vb = v128.load(b3 + off);
    vacc0x3 = madd(va0, vb, vacc0x3);
    vacc1x3 = madd(va1, vb, vacc1x3);
  }
  let vtail0 = f32x4.splat(0), vtail1 = f32x4.splat(0);
  const kb = <usize>k << 2;
  for (; off < kb; off += 4) {
    const vb = f32x4(load<f32>(b0 + off), load<f32>(b1 + off), load<f32>(b2 + off), load<f32>(b3 + off));
    vtail0 = madd(v128.load_splat<f32>(a0 + off), vb, vtail0);
    vtail1 = madd(v128.load_splat<f32>(a1 + off), vb, vtail1);
  }
  v128.store(c, finish(hsum4x4(vacc0x0, vacc0x1, vacc0x2, vacc0x3), vtail0, alpha, bias));
  v128.store(c + ldc, finish(hsum4x4(vacc1x0, vacc1x1, vacc1x2, vacc1x3), vtail1, alpha, bias));
}

/** 1×4 tile (row tail). */
// @ts-ignore: decorator
@inline export function gemmNT1x4(
  k: i32, a: usize, b: usize, ldb: usize, c: usize, alpha: f32, bias: usize,
): void {
  const b0 = b, b1 = b + ldb, b2 = b1 + ldb, b3 = b2 + ldb;
  let vacc0 = f32x4.splat(0), vacc1 = f32x4.splat(0), vacc2 = f32x4.splat(0), vacc3 = f32x4.splat(0);
  const k4 = <usize>(k & ~3) << 2;
  let off: usize = 0;
  for (; off < k4; off += 16) {
    const va = v128.load(a + off);
    vacc0 = madd(va, v128.load(b0 + off), vacc0);
    vacc1 = madd(va, v128.load(b1 + off), vacc1);
    vacc2 = madd(va, v128.load(b2 + off), vacc2);
    vacc3 = madd(va, v128.load(b3 + off), vacc3);
  }
  let vtail = f32x4.splat(0);
  const kb = <usize>k << 2;
  for (; off < kb; off += 4) {
    const vb = f32x4(load<f32>(b0 + off), load<f32>(b1 + off), load<f32>(b2 + off), load<f32>(b3 + off));
    vtail = madd(v128.load_splat<f32>(a + off), vb, vtail);
  }
  v128.store(c, finish(hsum4x4(vacc0, vacc1, vacc2, vacc3), vtail, alpha, bias));
}

/** One output element (last 1..3 columns): alpha · dot(a, b) (+ bias). */
// @ts-ignore: decorator
@inline export function gemmNT1x1(k: i32, a: usize, b: usize, c: usize, alpha: f32, bias: usize): void {
  let vacc = f32x4.splat(0);
  const k4 = <usize>(k & ~3) << 2;
  let off: usize = 0;
  for (; off < k4; off += 16) {
    vacc = madd(v128.load(a + off), v128.load(b + off), vacc);
  }
  let acc = hsum(vacc);
  const kb = <usize>k << 2;
  for (; off < kb; off += 4) {
    acc += load<f32>(a + off) * load<f32>(b + off);
  }
  acc *= alpha;
  store<f32>(c, bias != 0 ? acc + load<f32>(bias) : acc);
}
