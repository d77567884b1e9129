// SIMD building blocks shared by every kernel family. Everything here is @inline: the
// compile-time feature constants fold away, so a baseline and a relaxed build come from
// one source with no run-time branch in any hot loop.

/** acc + a·b on four lanes: one fused (or unfused, engine's choice) relaxed_madd in the
 * relaxed build, a mul and an add in the baseline build. */
// @ts-ignore: decorator
@inline export function madd(a: v128, b: v128, acc: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) {
    return f32x4.relaxed_madd(a, b, acc);
  } else {
    return f32x4.add(f32x4.mul(a, b), acc);
  }
}

/** Lane c of the result is the horizontal sum of x_c: four dot-product accumulators
 * reduced to four adjacent outputs with two transposing shuffle rounds. */
// @ts-ignore: decorator
@inline export function hsum4x4(x0: v128, x1: v128, x2: v128, x3: v128): v128 {
  // [x0.0 x1.0 x0.1 x1.1] + [x0.2 x1.2 x0.3 x1.3]
  const s01 = f32x4.add(
    v128.shuffle<f32>(x0, x1, 0, 4, 1, 5),
    v128.shuffle<f32>(x0, x1, 2, 6, 3, 7),
  );
  const s23 = f32x4.add(
    v128.shuffle<f32>(x2, x3, 0, 4, 1, 5),
    v128.shuffle<f32>(x2, x3, 2, 6, 3, 7),
  );
  // [x0.02 x1.02 x2.02 x3.02] + [x0.13 x1.13 x2.13 x3.13]
  return f32x4.add(
    v128.shuffle<f32>(s01, s23, 0, 1, 4, 5),
    v128.shuffle<f32>(s01, s23, 2, 3, 6, 7),
  );
}

/** Horizontal sum of the four lanes of x. */
// @ts-ignore: decorator
@inline export function hsum(x: v128): f32 {
  const s = f32x4.add(x, v128.shuffle<f32>(x, x, 2, 3, 0, 1));
  return f32x4.extract_lane(s, 0) + f32x4.extract_lane(s, 1);
}

/** Horizontal maximum of the four lanes of x (pmax: one maxps on x86). */
// @ts-ignore: decorator
@inline export function hmax(x: v128): f32 {
  const s = f32x4.pmax(x, v128.shuffle<f32>(x, x, 2, 3, 0, 1));
  return max(f32x4.extract_lane(s, 0), f32x4.extract_lane(s, 1));
}
