// Peak probe: what this machine's WebAssembly engine can do at best, for the "% of peak"
// columns. Built by bench/peak.mjs with the same asc flags as the kernels.
//   peak_madd: 12 independent f32x4 chains x = x·m + a, no memory traffic (FLOP/s ceiling of a
//              dependent multiply-add; a GEMM, whose multiplies are off the chain, can exceed it)
//   peak_stream: Σ of a buffer, four independent f32x4 sums (read bandwidth ceiling)

// @ts-ignore: decorator
@inline function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(f32x4.mul(a, b), c);
}

/** 12 independent chains x = x·m + a (mul then add, or one relaxed madd): 12 × 4 lanes × 2 FLOPs
 * per iteration, no memory traffic. */
export function peak_madd(iterations: i32, seed: f32): f32 {
  const m = f32x4.splat(0.9999999), a = f32x4.splat(1e-7);
  let x0 = f32x4.splat(seed), x1 = f32x4.splat(seed + 1), x2 = f32x4.splat(seed + 2), x3 = f32x4.splat(seed + 3);
  let x4 = f32x4.splat(seed + 4), x5 = f32x4.splat(seed + 5), x6 = f32x4.splat(seed + 6), x7 = f32x4.splat(seed + 7);
  let x8 = f32x4.splat(seed + 8), x9 = f32x4.splat(seed + 9), x10 = f32x4.splat(seed + 10), x11 = f32x4.splat(seed + 11);
  for (let i = 0; i < iterations; i++) {
    x0 = madd(x0, m, a); x1 = madd(x1, m, a); x2 = madd(x2, m, a); x3 = madd(x3, m, a);
    x4 = madd(x4, m, a); x5 = madd(x5, m, a); x6 = madd(x6, m, a); x7 = madd(x7, m, a);
    x8 = madd(x8, m, a); x9 = madd(x9, m, a); x10 = madd(x10, m, a); x11 = madd(x11, m, a);
  }
  const s = f32x4.add(f32x4.add(f32x4.add(x0, x1), f32x4.add(x2, x3)), f32x4.add(f32x4.add(x4, x5), f32x4.add(x6, x7)));
  return f32x4.extract_lane(f32x4.add(s, f32x4.add(f32x4.add(x8, x9), f32x4.add(x10, x11))), 0);
}

/** Reads `bytes` (a multiple of 64) from `ptr`. */
export function peak_stream(ptr: usize, bytes: usize): f32 {
  let s0 = f32x4.splat(0), s1 = f32x4.splat(0), s2 = f32x4.splat(0), s3 = f32x4.splat(0);
  for (let p = ptr, end = ptr + bytes; p < end; p += 64) {
    s0 = f32x4.add(s0, v128.load(p)); s1 = f32x4.add(s1, v128.load(p, 16));
    s2 = f32x4.add(s2, v128.load(p, 32)); s3 = f32x4.add(s3, v128.load(p, 48));
  }
  return f32x4.extract_lane(f32x4.add(f32x4.add(s0, s1), f32x4.add(s2, s3)), 0);
}
