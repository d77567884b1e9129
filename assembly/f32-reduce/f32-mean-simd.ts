// y[j] = (x[0·stride + j] + x[1·stride + j] + … + x[(count-1)·stride + j]) / count, j < n:
// the mean of `count` rows, summed in row order (the same bits however the columns are
// split). Used to average attention weights over heads. Pointers are byte addresses, n and
// stride in elements, y must not overlap x.
export function meanRows(count: i32, n: i32, x: usize, stride: i32, y: usize): void {
  const strideB = <usize>stride << 2;
  const nb = <usize>n << 2, n16 = nb & ~15;
  const inv: f32 = 1 / <f32>count;
  const vinv = f32x4.splat(inv);
  let off: usize = 0;
  for (; off < n16; off += 16) {
    let vacc = v128.load(x + off);
    let px = x + off;
    for (let i = 1; i < count; i++) {
      px += strideB;
      vacc = f32x4.add(vacc, v128.load(px));
    }
    v128.store(y + off, f32x4.mul(vacc, vinv));
  }
  for (; off < nb; off += 4) {
    let acc = load<f32>(x + off);
    let px = x + off;
    for (let i = 1; i < count; i++) {
      px += strideB;
      acc += load<f32>(px);
    }
    store<f32>(y + off, acc * inv);
  }
}
