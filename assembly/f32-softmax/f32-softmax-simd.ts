// Row softmax, y = exp(x - max x) / Σ exp(x - max x), and the row primitives that the fused
// attention reuses for its online softmax. Pointers are byte addresses of f32 rows, lengths
// are in elements, no alignment is required; y may equal x (in place), never partially overlap.
import { hmax, hsum } from "../common/simd";
import { expNonPositive, expNonPositiveScalar } from "../common/exp";

/** max over x[0..n) (-inf when n == 0 or every element is -inf). */
// @ts-ignore: decorator
@inline export function rowMax(x: usize, n: i32): f32 {
  const nb = <usize>n << 2, n16 = nb & ~15;
  let vmax = f32x4.splat(-Infinity);
  let off: usize = 0;
  for (; off < n16; off += 16) vmax = f32x4.pmax(vmax, v128.load(x + off)); // one maxps
  let m = hmax(vmax);
  for (; off < nb; off += 4) m = max(m, load<f32>(x + off));
  return m;
}

/** y[j] = exp(x[j] - m) for j < n (m finite and >= every x[j]: a -inf x[j] gives 0, a NaN
 * gives NaN); returns Σ y[j]. */
// @ts-ignore: decorator
@inline export function expShiftSum(x: usize, y: usize, n: i32, m: f32): f32 {
  const nb = <usize>n << 2, n16 = nb & ~15;
  const vm = f32x4.splat(m);
  let vsum = f32x4.splat(0);
  let off: usize = 0;
  for (; off < n16; off += 16) {
    const ve = expNonPositive(f32x4.sub(v128.load(x + off), vm));
    v128.store(y + off, ve);
    vsum = f32x4.add(vsum, ve);
  }
  let sum = hsum(vsum);
  for (; off < nb; off += 4) {
    const e = expNonPositiveScalar(load<f32>(x + off) - m);
    store<f32>(y + off, e);
    sum += e;
  }
  return sum;
}

/** y[j] = x[j] · s for j < n. */
// @ts-ignore: decorator
@inline export function rowScale(x: usize, y: usize, n: i32, s: f32): void {
  const nb = <usize>n << 2, n16 = nb & ~15;
  const vs = f32x4.splat(s);
  let off: usize = 0;
  for (; off < n16; off += 16) v128.store(y + off, f32x4.mul(v128.load(x + off), vs));
  for (; off < nb; off += 4) store<f32>(y + off, load<f32>(x + off) * s);
}

/** y[j] = 0 for j < n. */
// @ts-ignore: decorator
@inline export function rowZero(y: usize, n: i32): void {
  memory.fill(y, 0, <usize>n << 2);
}

// The lowest finite f32: the shift of a row whose elements are all -inf (or NaN), so that
// exp(-inf - shift) is an exact 0 and no -inf - -inf (NaN) arises.
// @ts-ignore: decorator
@inline const LOWEST: f32 = -3.4028234663852886e38;

/** Softmax of `rows` rows of `cols` elements: x row stride ldx, y row stride ldy (elements).
 * A row whose elements are all -inf (fully masked) gives zeros; a NaN or +inf in a row makes
 * it NaN, as in torch. */
export function softmaxRows(rows: i32, cols: i32, x: usize, ldx: i32, y: usize, ldy: i32): void {
  const ldxB = <usize>ldx << 2, ldyB = <usize>ldy << 2;
  for (let r = 0; r < rows; r++) {
    const px = x + <usize>r * ldxB, py = y + <usize>r * ldyB;
    const sum = expShiftSum(px, py, cols, max(rowMax(px, cols), LOWEST));
    if (sum == 0) rowZero(py, cols);
    else rowScale(py, py, cols, 1 / sum);
  }
}
