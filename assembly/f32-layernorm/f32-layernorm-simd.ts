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
// Mean and variance are computed in f32 in two passes over the row — the sum, then the sum of
// squared deviations from the mean — not Welford's running update and not Σs² − n·mean².
// Why: the one-pass Σs² − n·mean² cancels catastrophically when |mean| ≫ std (a residual
// stream drifts far from 0); two passes are as accurate as Welford's update in the error
// bound (the variance's error is that of the mean's, squared, plus the sum's), though on a
// given row where |mean| ≫ std either may land an ulp of the mean closer to float64; and
// Welford needs a division per element (or per-lane merges) where the second pass costs one
// more read of a row that sits in L1 (768 floats = 3 KiB). Each pass keeps eight partial sums
// (two vectors) over blocks of 1024 elements, whose sums add up in f64 (SUM_BLOCK below), so
// its rounding error grows like 128 terms' in the worst case whatever the row's length;
// test/kernels/f32-layernorm.test.ts bounds y against a float64 reference.
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

/** Σ (x[j] − mean)² for j < n (eight partial sums; n <= SUM_BLOCK). */
// @ts-ignore: decorator
@inline function blockSquaredDeviation(x: usize, n: i32, mean: f32): f32 {
  const nb = <usize>n << 2, n8 = nb & ~31, n4 = nb & ~15;
  const vmean = f32x4.splat(mean);
  let vacc0123 = f32x4.splat(0), vacc4567 = f32x4.splat(0);
  let off: usize = 0;
  for (; off < n8; off += 32) {
    const vd0123 = f32x4.sub(v128.load(x + off), vmean);
    const vd4567 = f32x4.sub(v128.load(x + off, 16), vmean);
    vacc0123 = madd(vd0123, vd0123, vacc0123);
    vacc4567 = madd(vd4567, vd4567, vacc4567);
  }
  if (off < n4) {
    const vd0123 = f32x4.sub(v128.load(x + off), vmean);
    vacc0123 = madd(vd0123, vd0123, vacc0123);
    off += 16;
  }
  let sum = hsum(f32x4.add(vacc0123, vacc4567));
  for (; off < nb; off += 4) {
    const d = load<f32>(x + off) - mean;
    sum += d * d;
  }
  return sum;
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

/** Σ (x[j] − mean)² for j < n, blocked (above). */
// @ts-ignore: decorator
@inline function rowSquaredDeviation(x: usize, n: i32, mean: f32): f32 {
  if (n <= SUM_BLOCK) return blockSquaredDeviation(x, n, mean);
  let sum: f64 = 0;
  for (let j = 0; j < n; j += SUM_BLOCK) sum += <f64>blockSquaredDeviation(x + (<usize>j << 2), min(n - j, SUM_BLOCK), mean);
  return <f32>sum;
}

/** y[j] = (s[j] − mean)·rstd·weight[j] + bias[j] for j < n; hasWeight and hasBias are
 * constants at every call, so each of the four loops is specialised after inlining. */
// @ts-ignore: decorator
@inline function rowNormalize(
  s: usize, y: usize, n: i32, mean: f32, rstd: f32, weight: usize, bias: usize, hasWeight: bool, hasBias: bool,
): void {
  const nb = <usize>n << 2, n4 = nb & ~15;
  const vmean = f32x4.splat(mean), vrstd = f32x4.splat(rstd);
  let off: usize = 0;
  for (; off < n4; off += 16) {
    let vy = f32x4.mul(f32x4.sub(v128.load(s + off), vmean), vrstd);
    if (hasWeight && hasBias) vy = madd(vy, v128.load(weight + off), v128.load(bias + off));
    else if (hasWeight) vy = f32x4.mul(vy, v128.load(weight + off));
    else if (hasBias) vy = f32x4.add(vy, v128.load(bias + off));
    v128.store(y + off, vy);
  }
  for (; off < nb; off += 4) {
    let v = (load<f32>(s + off) - mean) * rstd;
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
    const variance = rowSquaredDeviation(ps, dim, mean) / fdim;
    const rstd: f32 = 1 / Mathf.sqrt(variance + eps);
    if (weight != 0 && bias != 0) rowNormalize(ps, py, dim, mean, rstd, weight, bias, true, true);
    else if (weight != 0) rowNormalize(ps, py, dim, mean, rstd, weight, 0, true, false);
    else if (bias != 0) rowNormalize(ps, py, dim, mean, rstd, 0, bias, false, true);
    else rowNormalize(ps, py, dim, mean, rstd, 0, 0, false, false);
  }
}
