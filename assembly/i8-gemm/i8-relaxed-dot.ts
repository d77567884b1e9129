// The relaxed integer dot of the int8 GEMM and GEMV (relaxed build only), and how this engine
// computes it.
//
// i32x4.relaxed_dot_i8x16_i7x16_add_s(a, b, c): lane j = c[j] + Σ_t a[4j+t]·b[4j+t] with a
// signed bytes. The relaxed-SIMD proposal fixes the result only for b in 0..127; past 127 it is
// the engine's choice, which follows its lowering:
//   x64 with AVX-VNNI   vpdpbusd: b unsigned (0..255), the four products summed exactly in i32.
//                       That is the GEMM's sum of activation codes (0..255) times weight codes
//                       (−127..127), 16 multiply-adds in one instruction instead of 8.
//   x64 without         pmaddubsw + pmaddwd + paddd: b unsigned, but each pair of products
//                       saturates at i16 (2·255·127 > 32767).
//   x64 AVX-VNNI-INT8   vpdpbssd, which V8 prefers there, and Arm with the dot-product
//                       extension (sdot, in V8's optimising tier): b signed, 255 reads as −1;
//                       exact in i32.
//   Arm otherwise       smull into i16 products, pairs added in i16 (wrapping), then widened:
//                       V8's Liftoff on every Arm core, and its optimising tier on cores without
//                       the dot-product extension. b signed; exact as long as no pair of
//                       products passes 32767, which holds for the GEMM's operands: a is always
//                       a weight code (−127..127), so a pair is at most 2·127·128 = 32512.
//   V8 11.3 Liftoff     (Node 20, with --experimental-wasm-relaxed-simd) loses c: 2·dot.
// The probe (i8RelaxedDotExact) tells the first behaviour (DOT_UNSIGNED) and the signed ones
// (DOT_SIGNED) apart from the others, on operands the GEMM can give: a in −127..127. Under
// DOT_SIGNED the quad strips hold each activation code minus 128 (aq ^ 0x80, in −128..127) and
// their zero points minus 128 too, so that
//   Σ (aq − 128)·wq − (za − 128)·Σ wq  =  Σ aq·wq − za·Σ wq
// in exact i32 arithmetic: the products and the epilogue are unchanged, and every mode gives the
// very i32 sums of the i32x4.dot_i16x8_s loops, so the same bits on every engine. The host runs
// the probe once per engine (on the calling thread's instance) and sets the same mode on every
// instance of the engine with i8SetRelaxedDot: quantization and products may run on different
// threads, and must agree on the strip layout.
//
// Test builds (scripts/build.mjs, never shipped): asc --use I8_DOT_EMULATION=1..4 builds the
// baseline kernels with the relaxed dot replaced by an emulation, from baseline instructions,
// of the unsigned (1) or the signed (2) behaviour, of Arm's smull sequence with its i16 pair
// sums (3, which the probe must find DOT_SIGNED), or of x64's pmaddubsw sequence with its
// saturating pair sums (4, which the probe must refuse). The probe answers 1, 2, 2 and 0 there,
// so an engine on builds 1 to 3 runs the quad strips and its mode's encoding end to end on any
// host, in every runtime; only the real instruction is not exercised.

// @ts-ignore: asc --use I8_DOT_EMULATION=1|2|3|4 in the test builds only
const EMULATION: i32 = isDefined(I8_DOT_EMULATION) ? I8_DOT_EMULATION : 0;
/** Whether this build can run quad strips: the relaxed build, or an emulating test build. */
export const I8_QUAD_BUILD: bool = ASC_FEATURE_RELAXED_SIMD || EMULATION != 0;

/** The modes (i8SetRelaxedDot, the probe's answer): off (i16 pairs), quads with b unsigned,
 * quads with b signed (codes and zero points less 128). */
export const DOT_OFF: i32 = 0;
export const DOT_UNSIGNED: i32 = 1;
export const DOT_SIGNED: i32 = 2;

/** This instance's int8 mode (DOT_*). A module global: per instance, not in the shared memory,
 * and DOT_OFF when instantiated. */
let relaxedDot: i32 = DOT_OFF;

/** Sets the mode of this instance (DOT_*; anything else, or a build without quads, turns it
 * off). Returns the mode in effect. The host sets the mode the probe found, and only that. */
export function i8SetRelaxedDot(mode: i32): i32 {
  relaxedDot = I8_QUAD_BUILD && (mode == DOT_UNSIGNED || mode == DOT_SIGNED) ? mode : DOT_OFF;
  return relaxedDot;
}

/** Whether strips are quantized as quads and the int8 GEMM and GEMV run the relaxed dot. */
// @ts-ignore: decorator
@inline export function i8RelaxedDotOn(): bool {
  return I8_QUAD_BUILD && relaxedDot != DOT_OFF;
}

/** Whether quad codes and zero points are stored less 128 (DOT_SIGNED). */
// @ts-ignore: decorator
@inline export function i8RelaxedDotSigned(): bool {
  return I8_QUAD_BUILD && relaxedDot == DOT_SIGNED;
}

/** The exact u8·s8 sum of each lane's four byte pairs plus c, from baseline instructions only:
 * the bytes widened to i16 (b unsigned), pairs by i32x4.dot_i16x8_s, then adjacent pairs. */
// @ts-ignore: decorator
@inline function exactDot(a: v128, b: v128, c: v128): v128 {
  const lo = i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_s(a), i16x8.extend_low_i8x16_u(b));
  const hi = i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_s(a), i16x8.extend_high_i8x16_u(b));
  return i32x4.add(c, i32x4.add(i32x4.shuffle(lo, hi, 0, 2, 4, 6), i32x4.shuffle(lo, hi, 1, 3, 5, 7)));
}

/** The exact s8·s8 sum of each lane's four byte pairs plus c (b signed), from baseline
 * instructions: DOT_SIGNED's behaviour. */
// @ts-ignore: decorator
@inline function exactSignedDot(a: v128, b: v128, c: v128): v128 {
  const lo = i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_s(a), i16x8.extend_low_i8x16_s(b));
  const hi = i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_s(a), i16x8.extend_high_i8x16_s(b));
  return i32x4.add(c, i32x4.add(i32x4.shuffle(lo, hi, 0, 2, 4, 6), i32x4.shuffle(lo, hi, 1, 3, 5, 7)));
}

/** Arm's lowering without `sdot` (V8's Liftoff there): i16 products (smull), adjacent pairs
 * added in i16, wrapping (addp), then widened and added (saddlp, add). EMULATION 3's behaviour. */
// @ts-ignore: decorator
@inline function armSmullDot(a: v128, b: v128, c: v128): v128 {
  const lo = i16x8.extmul_low_i8x16_s(a, b), hi = i16x8.extmul_high_i8x16_s(a, b);
  const even = i8x16.shuffle(lo, hi, 0, 1, 4, 5, 8, 9, 12, 13, 16, 17, 20, 21, 24, 25, 28, 29);
  const odd = i8x16.shuffle(lo, hi, 2, 3, 6, 7, 10, 11, 14, 15, 18, 19, 22, 23, 26, 27, 30, 31);
  return i32x4.add(c, i32x4.extadd_pairwise_i16x8_s(i16x8.add(even, odd)));
}

/** x64's lowering without AVX-VNNI: pmaddubsw (b unsigned × a signed, adjacent pairs added
 * with i16 saturation), pmaddwd by ones, paddd. EMULATION 4's behaviour. */
// @ts-ignore: decorator
@inline function x64SaturatingDot(a: v128, b: v128, c: v128): v128 {
  const lo = i16x8.mul(i16x8.extend_low_i8x16_s(a), i16x8.extend_low_i8x16_u(b));
  const hi = i16x8.mul(i16x8.extend_high_i8x16_s(a), i16x8.extend_high_i8x16_u(b));
  const even = i8x16.shuffle(lo, hi, 0, 1, 4, 5, 8, 9, 12, 13, 16, 17, 20, 21, 24, 25, 28, 29);
  const odd = i8x16.shuffle(lo, hi, 2, 3, 6, 7, 10, 11, 14, 15, 18, 19, 22, 23, 26, 27, 30, 31);
  return i32x4.add(c, i32x4.extadd_pairwise_i16x8_s(i16x8.add_sat_s(even, odd)));
}

/** relaxed_dot_i8x16_i7x16_add_s(a, b, c) in the relaxed build; its emulation in a test build;
 * in the baseline build, which never turns the mode on, exactDot (the same sums), so that code
 * shared by the builds compiles in each. a is always weight codes (−127..127): the probe checks
 * the instruction on such operands only. */
// @ts-ignore: decorator
@inline export function dotQuads(a: v128, b: v128, c: v128): v128 {
  if (EMULATION == DOT_UNSIGNED) return exactDot(a, b, c);
  if (EMULATION == DOT_SIGNED) return exactSignedDot(a, b, c);
  if (EMULATION == 3) return armSmullDot(a, b, c);
  if (EMULATION == 4) return x64SaturatingDot(a, b, c);
  if (ASC_FEATURE_RELAXED_SIMD) return i32x4.relaxed_dot_i8x16_i7x16_add_s(a, b, c);
  return exactDot(a, b, c);
}

/** How relaxed_dot_i8x16_i7x16_add_s computes here, for a in −127..127 (the GEMM's weight
 * codes; with −128 there, Arm's i16 pair sums would overflow where the GEMM's never do):
 * DOT_UNSIGNED when it equals exactDot (b's bytes past 127 unsigned, no saturation, the
 * accumulator kept), DOT_SIGNED when it equals exactSignedDot, else DOT_OFF. Eight accumulators over `x + 3` rounds (x = 0 from the host:
 * the operands stay unknown to the optimiser), as the GEMM tile keeps eight: V8 11.3's Liftoff
 * bug showed under such register pressure. Always DOT_OFF in the baseline build. */
export function i8RelaxedDotExact(x: i32): i32 {
  if (I8_QUAD_BUILD) return relaxedDotMode(x); // compiled where quads can run only
  return DOT_OFF;
}

// @ts-ignore: decorator
@inline function relaxedDotMode(x: i32): i32 {
  const vx = i32x4.splat(x);
  // a: the weight codes' extremes and mixed signs; b: as unsigned 255 ×8, 128, 129, 255, 0, 200, 201, 3, 4.
  const a = v128.xor(i8x16(127, 127, 127, 127, -127, -127, -127, -127, 127, -127, 1, -1, 100, -100, 50, -50), vx);
  const b = v128.xor(i8x16(-1, -1, -1, -1, -1, -1, -1, -1, -128, -127, -1, 0, -56, -55, 3, 4), vx);
  const b1 = v128.xor(b, i32x4.splat(0x01010101)), b2 = v128.xor(b, i32x4.splat(0x40404040));
  const b3 = v128.xor(b, i32x4.splat(0x7f7f7f7f)), b4 = v128.xor(b, i32x4.splat(0x80808080));
  // More first operands, from b's bytes, kept to the weight codes' range.
  const wmin = i8x16.splat(-127);
  const a5 = i8x16.max_s(b4, wmin), a6 = i8x16.max_s(b, wmin), a7 = i8x16.max_s(b1, wmin);
  const c0 = i32x4.add(vx, i32x4(1, -2, 3, 1 << 20)), c1 = i32x4.add(c0, i32x4.splat(12345));
  let r0 = c0, r1 = c1, r2 = c0, r3 = c1, r4 = c0, r5 = c1, r6 = c0, r7 = c1;
  for (let i = 0; i < x + 3; i++) {
    r0 = dotQuads(a, b, r0);
    r1 = dotQuads(a, b1, r1);
    r2 = dotQuads(a, b2, r2);
    r3 = dotQuads(a, b3, r3);
    r4 = dotQuads(a, b4, r4);
    r5 = dotQuads(a5, b, r5);
    r6 = dotQuads(a6, b3, r6);
    r7 = dotQuads(a7, b2, r7);
  }
  if (sameRounds(false, x, a, a5, a6, a7, b, b1, b2, b3, b4, c0, c1, r0, r1, r2, r3, r4, r5, r6, r7)) return DOT_UNSIGNED;
  if (sameRounds(true, x, a, a5, a6, a7, b, b1, b2, b3, b4, c0, c1, r0, r1, r2, r3, r4, r5, r6, r7)) return DOT_SIGNED;
  return DOT_OFF;
}

/** Whether r0..r7 are the probe's `x + 3` rounds (relaxedDotMode) as the exact dot computes
 * them, b's bytes read signed or unsigned (`signed`, a constant at each call). */
// @ts-ignore: decorator
@inline function sameRounds(
  signed: bool, x: i32, a: v128, a5: v128, a6: v128, a7: v128, b: v128, b1: v128, b2: v128, b3: v128, b4: v128,
  c0: v128, c1: v128, r0: v128, r1: v128, r2: v128, r3: v128, r4: v128, r5: v128, r6: v128, r7: v128,
): bool {
  let e0 = c0, e1 = c1, e2 = c0, e3 = c1, e4 = c0, e5 = c1, e6 = c0, e7 = c1;
  for (let i = 0; i < x + 3; i++) {
    e0 = signed ? exactSignedDot(a, b, e0) : exactDot(a, b, e0);
    e1 = signed ? exactSignedDot(a, b1, e1) : exactDot(a, b1, e1);
    e2 = signed ? exactSignedDot(a, b2, e2) : exactDot(a, b2, e2);
    e3 = signed ? exactSignedDot(a, b3, e3) : exactDot(a, b3, e3);
    e4 = signed ? exactSignedDot(a, b4, e4) : exactDot(a, b4, e4);
    e5 = signed ? exactSignedDot(a5, b, e5) : exactDot(a5, b, e5);
    e6 = signed ? exactSignedDot(a6, b3, e6) : exactDot(a6, b3, e6);
    e7 = signed ? exactSignedDot(a7, b2, e7) : exactDot(a7, b2, e7);
  }
  return same8(r0, r1, r2, r3, r4, r5, r6, r7, e0, e1, e2, e3, e4, e5, e6, e7);
}

/** Whether r0..r7 equal e0..e7 in every lane. */
// @ts-ignore: decorator
@inline function same8(
  r0: v128, r1: v128, r2: v128, r3: v128, r4: v128, r5: v128, r6: v128, r7: v128,
  e0: v128, e1: v128, e2: v128, e3: v128, e4: v128, e5: v128, e6: v128, e7: v128,
): bool {
  const same = v128.and(v128.and(v128.and(i32x4.eq(r0, e0), i32x4.eq(r1, e1)), v128.and(i32x4.eq(r2, e2), i32x4.eq(r3, e3))),
    v128.and(v128.and(i32x4.eq(r4, e4), i32x4.eq(r5, e5)), v128.and(i32x4.eq(r6, e6), i32x4.eq(r7, e7))));
  return i32x4.all_true(same);
}
