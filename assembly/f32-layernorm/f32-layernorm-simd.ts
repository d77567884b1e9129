// Layer normalisation of rows, with the residual add of a transformer block fused in front
// (F.layer_norm over the last dimension, biased variance):
//
//   s = x[r, :] + residual[r, :]          (residual optional)
//   y[r, :] = (s − mean(s)) / sqrt(var(s) + eps) · weight + bias   (weight, bias optional)
//
// Memory contract: pointers are byte addresses of f32 data, no alignment required; strides
// ldx, ldr, ldy are in ELEMENTS; weight and bias are f32 [dim] or 0 (absent: 1 and 0).
// y may equal x or residual exactly (same address and stride: in place), never partially
// overlap either. NaN and ±inf propagate through the arithmetic (no special cases).
//
// Mean and variance are computed in f32 in two passes over the row: the sum, then the sums of
// the deviations from that first mean and of their squares. Not Welford's running update, and
// not Σs² − n·mean², which cancels catastrophically when |mean| ≫ std (a residual stream
// drifts far from 0). The second pass is the corrected two-pass algorithm (Chan, Golub and
// LeVeque): with d = s − m₁ and c = Σd/n, the mean is m₁ + c and the variance Σd²/n − c².
// The first sum's rounding (up to 128 terms' worth of |mean|: on rows whose rounding errors
// all lean one way, 1e6 + (j mod 7), it put the mean 3 units off, an output error of 0.28)
// no longer reaches the result: the deviations are small, their sum is accurate, and the
// output is centred on (s − m₁) − c, where s − m₁ is exact when s and m₁ are within a factor
// two of each other (Sterbenz), as they are on such rows. The row sits in L1 (768 floats =
// 3 KiB), so the second pass costs one more read of it where Welford needs a division per
// element (or per-lane merges). Each pass keeps eight partial sums (two vectors) over blocks of
// 1024 elements, whose sums add up in f64 (SUM_BLOCK below), so its rounding error grows like
// 128 terms' in the worst case whatever the row's length. test/kernels/f32-layernorm.test.ts
// bounds y against a float64 reference, on rows 1e6 + (j mod 7) to the error of a row centred
// at 0 (torch's Welford is 0.005–0.01 off there).
// With a residual, the first pass stores s into y (y[j] is written only after x[j] and
// residual[j] are read, so in place is safe) and the later passes read s from y.
import { hsum, madd } from "../common/simd";

/** Σ x[0..n) with eight partial sums (n <= SUM_BLOCK). */
// @ts-ignore: decorator
@inline function blockSum(x: usize, n: i32): f32 {
  const nb = <usize>n << 2, n8 = nb & ~31, n4 = nb & ~15;
  let vacc0123 = f32x4.splat(0), vacc4567 = f32x4.splat(0);
  let off: usize = 0;
  for (; off < n8; off += 32) {
    vacc0123 = f32x4.add(vacc0123, v128.load(x + off));
    vacc4567 = f32x4.add(vacc4567, v128.load(x + off, 16));
  }
  if (off < n4) {
    vacc0123 = f32x4.add(vacc0123, v128.load(x + off));
    off += 16;
  }
  let sum = hsum(f32x4.add(vacc0123, vacc4567));
  for (; off < nb; off += 4) sum += load<f32>(x + off);
  return sum;
}

/** y[j] = x[j] + r[j] for j < n; returns Σ y[j] (eight partial sums; n <= SUM_BLOCK). */
// @ts-ignore: decorator
@inline function blockAddSum(x: usize, r: usize, y: usize, n: i32): f32 {
  const nb = <usize>n << 2, n8 = nb & ~31, n4 = nb & ~15;
  let vacc0123 = f32x4.splat(0), vacc4567 = f32x4.splat(0);
  let off: usize = 0;
  for (; off < n8; off += 32) {
    const vs0123 = f32x4.add(v128.load(x + off), v128.load(r + off));
    const vs4567 = f32x4.add(v128.load(x + off, 16), v128.load(r + off, 16));
    v128.store(y + off, vs0123);
    v128.store(y + off, vs4567, 16);
    vacc0123 = f32x4.add(vacc0123, vs0123);
    vacc4567 = f32x4.add(vacc4567, vs4567);
  }
  if (off < n4) {
    const vs0123 = f32x4.add(v128.load(x + off), v128.load(r + off));
    v128.store(y + off, vs0123);
    vacc0123 = f32x4.add(vacc0123, vs0123);
    off += 16;
  }
  let sum = hsum(f32x4.add(vacc0123, vacc4567));
  for (; off < nb; off += 4) {
    const s = load<f32>(x + off) + load<f32>(r + off);
    store<f32>(y + off, s);
    sum += s;
  }
  return sum;
}

/** Σd and Σd² of d = x[j] − mean for j < n (eight partial sums each; n <= SUM_BLOCK), in
 * lanes 0 and 1. */
// @ts-ignore: decorator
@inline function blockDeviations(x: usize, n: i32, mean: f32): v128 {
  const nb = <usize>n << 2, n8 = nb & ~31, n4 = nb & ~15;
  const vmean = f32x4.splat(mean);
  let vsum0123 = f32x4.splat(0), vsum4567 = f32x4.splat(0);
  let vsq0123 = f32x4.splat(0), vsq4567 = f32x4.splat(0);
  let off: usize = 0;
  for (; off < n8; off += 32) {
    const vd0123 = f32x4.sub(v128.load(x + off), vmean);
    const vd4567 = f32x4.sub(v128.load(x + off, 16), vmean);
    vsum0123 = f32x4.add(vsum0123, vd0123);
    vsum4567 = f32x4.add(vsum4567, vd4567);
    vsq0123 = madd(vd0123, vd0123, vsq0123);
    vsq4567 = madd(vd4567, vd4567, vsq4567);
  }
  if (off < n4) {
    const vd0123 = f32x4.sub(v128.load(x + off), vmean);
    vsum0123 = f32x4.add(vsum0123, vd0123);
    vsq0123 = madd(vd0123, vd0123, vsq0123);
    off += 16;
  }
  let sum = hsum(f32x4.add(vsum0123, vsum4567));
  let sq = hsum(f32x4.add(vsq0123, vsq4567));
  for (; off < nb; off += 4) {
    const d = load<f32>(x + off) - mean;
    sum += d;
    sq += d * d;
  }
  return f32x4(sum, sq, 0, 0);
}

// Rows longer than SUM_BLOCK elements are summed block by block, the block sums in f64: one
// running f32 sum per partial over a long row loses accuracy with its length (a row of 1e6
// elements with mean 1e4 put the mean 1 off), and with at most SUM_BLOCK/8 = 128 terms per
// partial the f32 error stays that of a 1024-element row. A row of at most SUM_BLOCK elements
// is one block: the same operations, hence the same bits, as one f32 pass.
// @ts-ignore: decorator
@inline const SUM_BLOCK: i32 = 1024;

/** Σ x[0..n), blocked (above). */
// @ts-ignore: decorator
@inline function rowSum(x: usize, n: i32): f32 {
  if (n <= SUM_BLOCK) return blockSum(x, n);
  let sum: f64 = 0;
  for (let j = 0; j < n; j += SUM_BLOCK) sum += <f64>blockSum(x + (<usize>j << 2), min(n - j, SUM_BLOCK));
  return <f32>sum;
}

/** y[j] = x[j] + r[j] for j < n; returns Σ y[j], blocked (above). */
// @ts-ignore: decorator
@inline function rowAddSum(x: usize, r: usize, y: usize, n: i32): f32 {
  if (n <= SUM_BLOCK) return blockAddSum(x, r, y, n);
  let sum: f64 = 0;
  for (let j = 0; j < n; j += SUM_BLOCK) {
    const off = <usize>j << 2;
    sum += <f64>blockAddSum(x + off, r + off, y + off, min(n - j, SUM_BLOCK));
  }
  return <f32>sum;
}

/** Σd and Σd² of d = x[j] − mean (lanes 0 and 1), blocked (above). */
// @ts-ignore: decorator
@inline function rowDeviations(x: usize, n: i32, mean: f32): v128 {
  if (n <= SUM_BLOCK) return blockDeviations(x, n, mean);
  let sum: f64 = 0, sq: f64 = 0;
  for (let j = 0; j < n; j += SUM_BLOCK) {
    const block = blockDeviations(x + (<usize>j << 2), min(n - j, SUM_BLOCK), mean);
    sum += <f64>f32x4.extract_lane(block, 0);
    sq += <f64>f32x4.extract_lane(block, 1);
  }
  return f32x4(<f32>sum, <f32>sq, 0, 0);
}

/** y[j] = ((s[j] − mean) − shift)·rstd·weight[j] + bias[j] for j < n (the row's mean is
 * mean + shift, carried in two parts); hasWeight and hasBias are constants at every call, so
 * each of the four loops is specialised after inlining. */
// @ts-ignore: decorator
@inline function rowNormalize(
  s: usize, y: usize, n: i32, mean: f32, shift: f32, rstd: f32, weight: usize, bias: usize, hasWeight: bool, hasBias: bool,
): void {
  const nb = <usize>n << 2, n4 = nb & ~15;
  const vmean = f32x4.splat(mean), vshift = f32x4.splat(shift), vrstd = f32x4.splat(rstd);
  let off: usize = 0;
  for (; off < n4; off += 16) {
    let vy = f32x4.mul(f32x4.sub(f32x4.sub(v128.load(s + off), vmean), vshift), vrstd);
    if (hasWeight && hasBias) vy = madd(vy, v128.load(weight + off), v128.load(bias + off));
    else if (hasWeight) vy = f32x4.mul(vy, v128.load(weight + off));
    else if (hasBias) vy = f32x4.add(vy, v128.load(bias + off));
    v128.store(y + off, vy);
  }
  for (; off < nb; off += 4) {
    let v = (load<f32>(s + off) - mean - shift) * rstd;
    if (hasWeight) v *= load<f32>(weight + off);
    if (hasBias) v += load<f32>(bias + off);
    store<f32>(y + off, v);
  }
}

/** Layer norm of `rows` rows of `dim` elements; see the contract at the top of the file. */
export function layerNormRows(
  rows: i32, dim: i32, x: usize, ldx: i32, residual: usize, ldr: i32,
  weight: usize, bias: usize, eps: f32, y: usize, ldy: i32,
): void {
  const ldxB = <usize>ldx << 2, ldrB = <usize>ldr << 2, ldyB = <usize>ldy << 2;
  const fdim = <f32>dim;
  for (let r = 0; r < rows; r++) {
    const px = x + <usize>r * ldxB, py = y + <usize>r * ldyB;
    let ps = px, sum: f32;
    if (residual != 0) {
      sum = rowAddSum(px, residual + <usize>r * ldrB, py, dim);
      ps = py;
    } else {
      sum = rowSum(px, dim);
    }
    const mean = sum / fdim;
    // The corrected second pass (file header): the mean is mean + shift, the variance
    // Σd²/n − shift² (≥ 0 in exact arithmetic; clamped at 0 against rounding). Where Σd²/n
    // overflows f32 the variance is +inf, not inf − shift² (NaN once shift² overflows too),
    // and the shift is dropped: rstd is 0 and the row gives the bias, as before the shift.
    const deviations = rowDeviations(ps, dim, mean);
    const meanSquare = f32x4.extract_lane(deviations, 1) / fdim;
    let shift = f32x4.extract_lane(deviations, 0) / fdim;
    let variance = meanSquare;
    if (meanSquare == Infinity) shift = 0;
    else variance = max<f32>(meanSquare - shift * shift, 0);
    const rstd: f32 = 1 / Mathf.sqrt(variance + eps);
    if (weight != 0 && bias != 0) rowNormalize(ps, py, dim, mean, shift, rstd, weight, bias, true, true);
    else if (weight != 0) rowNormalize(ps, py, dim, mean, shift, rstd, weight, 0, true, false);
    else if (bias != 0) rowNormalize(ps, py, dim, mean, shift, rstd, 0, bias, false, true);
    else rowNormalize(ps, py, dim, mean, shift, rstd, 0, 0, false, false);
  }
}
