// y[i] = x[i]·s for i < n (matmul's alpha, applied to the packed B panels of one call). Pointers
// are byte addresses, n in elements, no alignment required; y may equal x.
export function scale(n: i32, x: usize, y: usize, s: f32): void {
  const nb = <usize>n << 2, n16 = nb & ~15;
  const vs = f32x4.splat(s);
  let off: usize = 0;
  for (; off < n16; off += 16) v128.store(y + off, f32x4.mul(v128.load(x + off), vs));
  for (; off < nb; off += 4) store<f32>(y + off, load<f32>(x + off) * s);
}
