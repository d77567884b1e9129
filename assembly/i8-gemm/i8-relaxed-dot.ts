// The relaxed integer dot of the int8 GEMM and GEMV (relaxed build only), and whether this engine
// computes it exactly as they need.
//
// i32x4.relaxed_dot_i8x16_i7x16_add_s(a, b, c): lane j = c[j] + Σ_t a[4j+t]·b[4j+t] with a
// signed bytes. The relaxed-SIMD proposal fixes the result only for b in 0..127; past 127 it is
// the engine's choice, which follows its lowering:
//   x64 with AVX-VNNI   vpdpbusd: b unsigned (0..255), the four products summed exactly in i32.
//                       That is the GEMM's sum of activation codes (0..255) times weight codes
//                       (−127..127), 16 multiply-adds in one instruction instead of 8.
//   x64 without         pmaddubsw + pmaddwd + paddd: b unsigned, but each pair of products
//                       saturates at i16 (2·255·127 > 32767).
//   x64 AVX-VNNI-INT8   vpdpbssd, which V8 prefers there, and Arm (sdot): b signed, 255 reads as −1.
//   V8 11.3 Liftoff     (Node 20, with --experimental-wasm-relaxed-simd) loses c: 2·dot.
// So the GEMM and GEMV use it only where i8RelaxedDotExact finds the first behaviour, and get the
// very i32 sums of their i32x4.dot_i16x8_s loops: the same bits on every engine either way. The host
// runs the probe once per engine (on the calling thread's instance) and sets the same mode on
// every instance of the engine with i8SetRelaxedDot: quantization and products may run on
// different threads, and must agree on the strip layout.

/** Whether this instance's int8 strips are quads and its products run the relaxed dot (i8-gemm.ts).
 * A module global: per instance, not in the shared memory, and 0 when instantiated. */
let relaxedDot: bool = false;

/** Turns the relaxed dot on or off for this instance; the baseline build stays off. Returns the
 * mode in effect. The host turns it on only after i8RelaxedDotExact returned true. */
export function i8SetRelaxedDot(on: bool): bool {
  relaxedDot = ASC_FEATURE_RELAXED_SIMD ? on : false;
  return relaxedDot;
}

/** Whether strips are quantized as quads and the int8 GEMM and GEMV run the relaxed dot. */
// @ts-ignore: decorator
@inline export function i8RelaxedDotOn(): bool {
  return ASC_FEATURE_RELAXED_SIMD && relaxedDot;
}

/** The exact u8·s8 sum of each lane's four byte pairs plus c, from baseline instructions only:
 * the bytes widened to i16 (b unsigned), pairs by i32x4.dot_i16x8_s, then adjacent pairs. */
// @ts-ignore: decorator
@inline function exactDot(a: v128, b: v128, c: v128): v128 {
  const lo = i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_s(a), i16x8.extend_low_i8x16_u(b));
  const hi = i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_s(a), i16x8.extend_high_i8x16_u(b));
  return i32x4.add(c, i32x4.add(i32x4.shuffle(lo, hi, 0, 2, 4, 6), i32x4.shuffle(lo, hi, 1, 3, 5, 7)));
}

/** relaxed_dot_i8x16_i7x16_add_s(a, b, c) in the relaxed build; in the baseline build, which
 * never turns the mode on, exactDot (the same sums), so that code shared by both builds compiles
 * in both. */
// @ts-ignore: decorator
@inline export function dotQuads(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return i32x4.relaxed_dot_i8x16_i7x16_add_s(a, b, c);
  return exactDot(a, b, c);
}

/** Whether relaxed_dot_i8x16_i7x16_add_s computes exactDot here: b's bytes past 127 unsigned,
 * no saturation, the accumulator kept. Eight accumulators over `x + 3` rounds (x = 0 from the
 * host: the operands stay unknown to the optimiser), as the GEMM tile keeps eight: V8 11.3's
 * Liftoff bug showed under such register pressure. Always false in the baseline build. */
export function i8RelaxedDotExact(x: i32): bool {
  if (ASC_FEATURE_RELAXED_SIMD) return relaxedDotExact(x); // compiled in the relaxed build only
  return false;
}

// @ts-ignore: decorator
@inline function relaxedDotExact(x: i32): bool {
  const vx = i32x4.splat(x);
  // a: the signed extremes and mixed signs; b: as unsigned 255 ×8, 128, 129, 255, 0, 200, 201, 3, 4.
  const a = v128.xor(i8x16(127, 127, 127, 127, -128, -128, -128, -128, 127, -128, 1, -1, 100, -100, 50, -50), vx);
  const b = v128.xor(i8x16(-1, -1, -1, -1, -1, -1, -1, -1, -128, -127, -1, 0, -56, -55, 3, 4), vx);
  const b1 = v128.xor(b, i32x4.splat(0x01010101)), b2 = v128.xor(b, i32x4.splat(0x40404040));
  const b3 = v128.xor(b, i32x4.splat(0x7f7f7f7f)), b4 = v128.xor(b, i32x4.splat(0x80808080));
  const c0 = i32x4.add(vx, i32x4(1, -2, 3, 1 << 20)), c1 = i32x4.add(c0, i32x4.splat(12345));
  let r0 = c0, r1 = c1, r2 = c0, r3 = c1, r4 = c0, r5 = c1, r6 = c0, r7 = c1;
  let e0 = c0, e1 = c1, e2 = c0, e3 = c1, e4 = c0, e5 = c1, e6 = c0, e7 = c1;
  for (let i = 0; i < x + 3; i++) {
    r0 = i32x4.relaxed_dot_i8x16_i7x16_add_s(a, b, r0);
    r1 = i32x4.relaxed_dot_i8x16_i7x16_add_s(a, b1, r1);
    r2 = i32x4.relaxed_dot_i8x16_i7x16_add_s(a, b2, r2);
    r3 = i32x4.relaxed_dot_i8x16_i7x16_add_s(a, b3, r3);
    r4 = i32x4.relaxed_dot_i8x16_i7x16_add_s(a, b4, r4);
    r5 = i32x4.relaxed_dot_i8x16_i7x16_add_s(b4, b, r5);
    r6 = i32x4.relaxed_dot_i8x16_i7x16_add_s(b, b3, r6);
    r7 = i32x4.relaxed_dot_i8x16_i7x16_add_s(b1, b2, r7);
    e0 = exactDot(a, b, e0);
    e1 = exactDot(a, b1, e1);
    e2 = exactDot(a, b2, e2);
    e3 = exactDot(a, b3, e3);
    e4 = exactDot(a, b4, e4);
    e5 = exactDot(b4, b, e5);
    e6 = exactDot(b, b3, e6);
    e7 = exactDot(b1, b2, e7);
  }
  const same = v128.and(v128.and(v128.and(i32x4.eq(r0, e0), i32x4.eq(r1, e1)), v128.and(i32x4.eq(r2, e2), i32x4.eq(r3, e3))),
    v128.and(v128.and(i32x4.eq(r4, e4), i32x4.eq(r5, e5)), v128.and(i32x4.eq(r6, e6), i32x4.eq(r7, e7))));
  return i32x4.all_true(same);
}
