// e^x on four lanes for x <= 1: softmax needs x = logit − row max <= 0, and the attention kernel's
// running max may stay up to 1 below a row's max (f32-attention-4x64-simd.ts, RESCALE_STEP).
//
//   x = n·ln2 + r,  n = round(x·log2 e),  |r| <= ln2/2      (Cody–Waite: ln2 = hi + lo)
//   2^n is built in the exponent field (n >= -124 above the cutoff, so it is a normal float)
//   e^x = 2^n · p(r),  p(r) = 1 + r·(c1 + r·(c2 + r·(c3 + r·(c4 + r·c5))))
//
// c1..c5 minimise the relative error of p on [-ln2/2, ln2/2] (Lawson-weighted least squares,
// scripts/exp-coefficients.py): 9.2e-8 in exact arithmetic; evaluated in f32 the kernel is
// within 1.9e-7 relative (about 3 ulp) of e^x on [-86, 0] (emulated), bounded at 4e-7 by
// test/kernels/f32-softmax.test.ts; on (0, 1] n is 0 or 1 and r the same range (1.7e-7
// measured over 4M points), bounded at 4e-7 through the attention weights by
// test/ops/attention.test.ts.
// Below EXP_CUTOFF the result is exactly 0: e^-86 ≈ 4e-38 sits at the bottom of f32's normal
// range, where 2^n could no longer be built in the exponent field, and -inf (a masked logit)
// must give an exact 0. A NaN stays NaN (torch propagates it: a NaN logit is a bug signal).

// @ts-ignore: decorator
@inline const LOG2E: f32 = 1.44269504;
// @ts-ignore: decorator
@inline const LN2_HI: f32 = 0.693145751953125; // 0x1.62E400p-1: ln2 rounded to 16 bits, so n·LN2_HI is exact
// @ts-ignore: decorator
@inline const LN2_LO: f32 = 1.42860677e-6;     // ln2 - LN2_HI
// @ts-ignore: decorator
@inline const C1: f32 = 0.99999970;
// @ts-ignore: decorator
@inline const C2: f32 = 0.49999151;
// @ts-ignore: decorator
@inline const C3: f32 = 0.16667636;
// @ts-ignore: decorator
@inline const C4: f32 = 0.041897912;
// @ts-ignore: decorator
@inline const C5: f32 = 0.0082902974;
// @ts-ignore: decorator
@inline export const EXP_CUTOFF: f32 = -86.0;
// @ts-ignore: decorator
@inline const MAGIC_BIAS: f32 = 12583039.0; // 0x1.8p23 + 127: rounds to an integer, carries the exponent bias

import { madd } from "./simd";

/** e^x for each lane with x <= 1 (x = -inf gives 0, NaN gives NaN): the attention kernel's
 * weights reach e^1 (f32-attention-4x64-simd.ts, RESCALE_STEP), where n is 0 or 1 and r the same
 * range, so the same error bound holds; larger x is outside the contract. */
// @ts-ignore: decorator
@inline export function expNonPositive(x: v128): v128 {
  const vcutoff = f32x4.splat(EXP_CUTOFF);
  const zero = f32x4.lt(x, vcutoff); // false for NaN
  // pmax is one maxps on x86 (max needs a NaN/-0 fix-up sequence). pmax(a, b) = a < b ? b : a
  // returns a when either is NaN, so a NaN x passes through the polynomial and stays NaN.
  const vx = f32x4.pmax(x, vcutoff);
  // n = round(x·log2 e) by the magic-bias trick: adding 1.5·2^23 + 127 leaves n + 127 in the
  // low mantissa bits (round-to-nearest by the add itself), so a shift by 23 makes 2^n directly;
  // this avoids nearest and trunc_sat, which V8 lowers to long sequences on x86.
  const vbiased = madd(vx, f32x4.splat(LOG2E), f32x4.splat(MAGIC_BIAS));
  const vn = f32x4.sub(vbiased, f32x4.splat(MAGIC_BIAS));
  const vscale = i32x4.shl(vbiased, 23);
  let vr = madd(vn, f32x4.splat(-LN2_HI), vx);
  vr = madd(vn, f32x4.splat(-LN2_LO), vr);
  return v128.andnot(f32x4.mul(expPolynomial(vr), vscale), zero);
}

/** p(r) ≈ e^r on |r| <= ln2/2 (the c1..c5 fit above). */
// @ts-ignore: decorator
@inline function expPolynomial(vr: v128): v128 {
  let vp = madd(f32x4.splat(C5), vr, f32x4.splat(C4));
  vp = madd(vp, vr, f32x4.splat(C3));
  vp = madd(vp, vr, f32x4.splat(C2));
  vp = madd(vp, vr, f32x4.splat(C1));
  return madd(vp, vr, f32x4.splat(1.0));
}

/** e^(hi + lo) for each lane with hi + lo <= 0 and |lo| small beside |hi| (an argument carried
 * in two parts, e.g. −x²/2 whose rounding alone would cost 2x²·2^-24 relative: 1e-5 at x = 13).
 * n comes from hi + lo; r = (hi − n·LN2_HI) + lo − n·LN2_LO, whose first difference is exact
 * when hi lies on a grid of 2^-23 or coarser within 2^23 steps of n·LN2_HI (LN2_HI is a
 * multiple of 2^-15). NaN propagates; hi + lo below EXP_CUTOFF (or -inf) gives 0. */
// @ts-ignore: decorator
@inline export function expNonPositiveSplit(hi: v128, lo: v128): v128 {
  const vcutoff = f32x4.splat(EXP_CUTOFF);
  const vx = f32x4.add(hi, lo);
  const zero = f32x4.lt(vx, vcutoff); // false for NaN
  const vbiased = madd(f32x4.pmax(vx, vcutoff), f32x4.splat(LOG2E), f32x4.splat(MAGIC_BIAS));
  const vn = f32x4.sub(vbiased, f32x4.splat(MAGIC_BIAS));
  const vscale = i32x4.shl(vbiased, 23);
  let vr = madd(vn, f32x4.splat(-LN2_HI), hi);
  vr = f32x4.add(vr, lo);
  vr = madd(vn, f32x4.splat(-LN2_LO), vr);
  return v128.andnot(f32x4.mul(expPolynomial(vr), vscale), zero);
}

/** Scalar e^x for x <= 1 through the same polynomial, so scalar and vector paths agree. */
// @ts-ignore: decorator
@inline export function expNonPositiveScalar(x: f32): f32 {
  return f32x4.extract_lane(expNonPositive(f32x4.splat(x)), 0);
}
