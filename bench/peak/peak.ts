// Peak probe: what this machine's WebAssembly engine can do at best, for the "% of peak"
// columns. Built by bench/peak.mjs with the same asc flags as the kernels.
//   peak_madd: 10 independent accumulators acc += a·b (the GEMM form: the multiply is off the
//              accumulator chain), operands from registers and L1 (FLOP/s ceiling)
//   peak_stream: Σ of a buffer, four independent f32x4 sums (read bandwidth ceiling)
// Ten accumulators, not twelve: V8 gives wasm 15 XMM registers and issues an iteration's loads
// first, so 10 accumulators + 2 B vectors + 1 broadcast + 1 temporary is the most that runs
// without spilling (twelve spill and measure the spills, not the arithmetic units).

// @ts-ignore: decorator
@inline function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(f32x4.mul(a, b), c);
}

/** `iterations` × 10 independent acc += a·b on f32x4 (10 × 4 lanes × 2 FLOPs each); a is
 * broadcast from three floats at p (in L1), b is two vectors at p + 16 held in registers. */
export function peak_madd(iterations: i32, p: usize): f32 {
  const b0 = v128.load(p, 16), b1 = v128.load(p, 32);
  let x0 = f32x4.splat(0), x1 = x0, x2 = x0, x3 = x0, x4 = x0, x5 = x0, x6 = x0, x7 = x0, x8 = x0, x9 = x0;
  for (let i = 0; i < iterations; i++) {
    const va = v128.load_splat<f32>(p);
    x0 = madd(va, b0, x0); x1 = madd(va, b1, x1); x2 = madd(va, b0, x2); x3 = madd(va, b1, x3);
    const vb = v128.load_splat<f32>(p, 4);
    x4 = madd(vb, b0, x4); x5 = madd(vb, b1, x5); x6 = madd(vb, b0, x6); x7 = madd(vb, b1, x7);
    const vc = v128.load_splat<f32>(p, 8);
    x8 = madd(vc, b0, x8); x9 = madd(vc, b1, x9);
  }
  const s = f32x4.add(f32x4.add(f32x4.add(x0, x1), f32x4.add(x2, x3)), f32x4.add(f32x4.add(x4, x5), f32x4.add(x6, x7)));
  return f32x4.extract_lane(f32x4.add(s, f32x4.add(x8, x9)), 0);
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
