// Row softmax, y = exp(x - max x) / Σ exp(x - max x), its scaled and masked form (f32_softmax_scaled),
// and the row primitives that the fused attention reuses for its online softmax. Pointers are byte addresses of f32 rows, lengths
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

/** y[j] = exp(x[j] - m) for j < n (m finite and >= every x[j] − 1: a -inf x[j] gives 0, a
 * NaN gives NaN); returns Σ y[j]. */
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

/** Bytes of a row summed into one partial sum before it joins the row's total: 1024 elements. */
// @ts-ignore: decorator
@inline const SUM_BLOCK_BYTES: i32 = 4096;

/** expShiftSum over blocks of 1024 elements, the blocks' sums added up in f64: the softmax
 * ops' rows, which may hold millions of elements, where one running sum loses the terms below
 * half its ulp (a 4M-element row summed 0.2% low), and an f32 total of the blocks still rounds
 * each block's sum the same way once the total dwarfs it (one logit 17 above 4M others: 1.4e-4
 * off, now 9e-6; found by a numerical review). A row of up to 1024 elements is one block: the same bits
 * as expShiftSum. (The attention kernels call expShiftSum on key blocks.) */
// @ts-ignore: decorator
@inline function expShiftSumBlocked(x: usize, y: usize, n: i32, m: f32): f32 {
  let sum: f64 = 0;
  for (let j = 0; j < n; j += SUM_BLOCK_BYTES >> 2) {
    const off = <usize>j << 2;
    sum += <f64>expShiftSum(x + off, y + off, min(n - j, SUM_BLOCK_BYTES >> 2), m); // the first: 0 + s, exact
  }
  return <f32>sum;
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

/** y[j] = NaN (the positive quiet NaN, 0x7fc00000) for j < n: a row that holds a NaN or +inf.
 * Its NaNs would otherwise carry whatever sign the engine's f32.max and arithmetic give them,
 * which wasm leaves open and V8's tiers choose differently (a warm calling thread and fresh
 * workers disagreed): this way every thread count writes the same bits. */
// @ts-ignore: decorator
@inline function rowNaN(y: usize, n: i32): void {
  const nb = <usize>n << 2, n16 = nb & ~15;
  const vnan = i32x4.splat(0x7fc00000);
  let off: usize = 0;
  for (; off < n16; off += 16) v128.store(y + off, vnan);
  for (; off < nb; off += 4) store<i32>(y + off, 0x7fc00000);
}

/** The end of a softmax row whose exps (y) sum to `sum`: zeros when every logit was -inf, the
 * canonical NaN when one was NaN or +inf (the sum is then NaN), else y / sum. */
// @ts-ignore: decorator
@inline function rowFinish(y: usize, n: i32, sum: f32): void {
  if (sum == 0) rowZero(y, n);
  else if (sum != sum) rowNaN(y, n);
  else rowScale(y, y, n, 1 / sum);
}

// The lowest finite f32: the shift of a row whose elements are all -inf (or NaN), so that
// exp(-inf - shift) is an exact 0 and no -inf - -inf (NaN) arises.
// @ts-ignore: decorator
@inline const LOWEST: f32 = -3.4028234663852886e38;

/** Softmax of `rows` rows of `cols` elements: x row stride ldx, y row stride ldy (elements).
 * A row whose elements are all -inf (fully masked) gives zeros; a NaN or +inf in a row makes
 * it NaN, as in torch (the positive quiet NaN, whatever the thread). */
export function softmaxRows(rows: i32, cols: i32, x: usize, ldx: i32, y: usize, ldy: i32): void {
  const ldxB = <usize>ldx << 2, ldyB = <usize>ldy << 2;
  for (let r = 0; r < rows; r++) {
    const px = x + <usize>r * ldxB, py = y + <usize>r * ldyB;
    rowFinish(py, cols, expShiftSumBlocked(px, py, cols, max(rowMax(px, cols), LOWEST)));
  }
}

/** Lanes of four mask bytes at p as f32: -inf where the byte is 0 (masked), +0 where it is not. */
// @ts-ignore: decorator
@inline function boolMaskVector(p: usize): v128 {
  const vbytes = v128.load32_zero(p);
  const vwide = i32x4.extend_low_i16x8_u(i16x8.extend_low_i8x16_u(vbytes));
  return v128.and(i32x4.eq(vwide, i32x4.splat(0)), f32x4.splat(-Infinity));
}

/** y[j] = x[j]·scale (+ add[j]) (+ -inf where keep[j] == 0) for j < n; hasAdd and hasBool are
 * constants at every call, so each of the four loops is specialised after inlining. */
// @ts-ignore: decorator
@inline function rowScaleMask(
  x: usize, y: usize, n: i32, scale: f32, add: usize, keep: usize, hasAdd: bool, hasBool: bool,
): void {
  const nb = <usize>n << 2, n16 = nb & ~15;
  const vscale = f32x4.splat(scale);
  let off: usize = 0;
  for (; off < n16; off += 16) {
    let vz = f32x4.mul(v128.load(x + off), vscale); // rounded as torch's x * scale
    if (hasAdd) vz = f32x4.add(vz, v128.load(add + off));
    if (hasBool) vz = f32x4.add(vz, boolMaskVector(keep + (off >> 2)));
    v128.store(y + off, vz);
  }
  for (; off < nb; off += 4) {
    let z = load<f32>(x + off) * scale;
    if (hasAdd) z += load<f32>(add + off);
    if (hasBool && load<u8>(keep + (off >> 2)) == 0) z += -Infinity;
    store<f32>(y + off, z);
  }
}

/** y[r] = softmax(x[r]·scale + addMask[r] + boolMask[r]) along each row (torch.softmax(x*scale +
 * mask, -1)); addMask f32 [rows, ldAdd] or 0, boolMask u8 [rows, ldBool] or 0 (byte 0 = masked:
 * its logit gets + -inf, so a NaN stays NaN); ldAdd / ldBool 0 broadcast one row to all. Row
 * strides in ELEMENTS; y may equal x (in place), the masks overlap nothing written. A row whose
 * logits are all -inf gives zeros; a NaN or +inf in a row makes it NaN (0x7fc00000). The scaled, masked
 * logits are written to y first (x[j] is read before y[j] is written), then softmaxed there. */
export function softmaxScaledRows(
  rows: i32, cols: i32, x: usize, ldx: i32, scale: f32, addMask: usize, ldAdd: i32,
  boolMask: usize, ldBool: i32, y: usize, ldy: i32,
): void {
  const ldxB = <usize>ldx << 2, ldyB = <usize>ldy << 2, ldAddB = <usize>ldAdd << 2, ldBoolB = <usize>ldBool;
  for (let r = 0; r < rows; r++) {
    const px = x + <usize>r * ldxB, py = y + <usize>r * ldyB;
    const padd = addMask + <usize>r * ldAddB, pkeep = boolMask + <usize>r * ldBoolB;
    if (addMask != 0 && boolMask != 0) rowScaleMask(px, py, cols, scale, padd, pkeep, true, true);
    else if (addMask != 0) rowScaleMask(px, py, cols, scale, padd, 0, true, false);
    else if (boolMask != 0) rowScaleMask(px, py, cols, scale, 0, pkeep, false, true);
    else rowScaleMask(px, py, cols, scale, 0, 0, false, false);
    rowFinish(py, cols, expShiftSumBlocked(py, py, cols, max(rowMax(py, cols), LOWEST)));
  }
}
