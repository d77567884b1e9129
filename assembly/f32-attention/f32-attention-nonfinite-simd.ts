// Whether one (batch, head) slice holds a value that makes torch's math path give NaN through
// a key the attention kernel would skip. That path multiplies every key, masked or not, and
// adds every mask: a NaN or ±inf in a key that a causal mask, validLens or trailing key
// padding excludes still makes the rows that exclude it NaN (NaN + -inf is NaN in the logits,
// 0·NaN and 0·inf are NaN in P·V), and so does a NaN or ±inf in a query row (its logits with
// the excluded keys: ±inf + -inf, or NaN) and a NaN or +inf that a float mask adds at an
// excluded key (+inf + -inf). The attention kernel skips such keys wholesale, so this scan runs
// first and sends a slice that holds one down the path that skips nothing
// (f32-attention-4x64-simd.ts, `allKeys`). Only what a skip can hide is read: K and V rows at or
// past the smallest causal / validLens limit of the slice's rows (all but key 0 under a causal
// mask; none of a full-length batch entry under validLens or key padding), the query rows whose
// own limit is below seqK, and each such row's float mask past its limit.
//
// Memory contract (byte addresses, strides in elements, no alignment required):
//   q f32 [seqQ, headDim] row stride ldq, k f32 [seqK, headDim] row stride ldk, v f32
//   [seqK, headDimV] row stride ldv (row 0 of the slice); causal, validLens, ldValid, addMask,
//   ldAdd as for f32_attention (validLens at the slice's batch entry, addMask at its slice);
//   flag: one i32, set to 1 if the slice holds such a value, else 0.

import { keyLimit } from "./mask";

/** x - x is 0 for a finite x and NaN for NaN and ±inf: the sum of it over the rows is NaN iff
 * some value is non-finite. */
function rowsNonFinite(rows: i32, cols: i32, x: usize, ld: i32): bool {
  const ldB = <usize>ld << 2, nb = <usize>cols << 2, n16 = nb & ~15;
  let vacc = f32x4.splat(0);
  let acc: f32 = 0;
  for (let r = 0; r < rows; r++) {
    const row = x + <usize>r * ldB;
    let off: usize = 0;
    for (; off < n16; off += 16) {
      const vx = v128.load(row + off);
      vacc = f32x4.add(vacc, f32x4.sub(vx, vx));
    }
    for (; off < nb; off += 4) {
      const s = load<f32>(row + off);
      acc += s - s;
    }
  }
  return v128.any_true(f32x4.ne(vacc, vacc)) || acc != acc;
}

/** Whether any of x[0..n) is NaN or +inf (-inf, a masked key, is not). */
function nanOrPlusInf(n: i32, x: usize): bool {
  const nb = <usize>n << 2, n16 = nb & ~15;
  const vmax = f32x4.splat(f32.MAX_VALUE);
  let vbad = i32x4.splat(0);
  let off: usize = 0;
  for (; off < n16; off += 16) {
    const vx = v128.load(x + off);
    vbad = v128.or(vbad, v128.or(f32x4.ne(vx, vx), f32x4.gt(vx, vmax)));
  }
  let bad = v128.any_true(vbad);
  for (; off < nb; off += 4) {
    const s = load<f32>(x + off);
    bad = bad || s != s || s > f32.MAX_VALUE;
  }
  return bad;
}

export function attentionNonFinite(
  q: usize, ldq: i32, k: usize, ldk: i32, headDim: i32, v: usize, ldv: i32, headDimV: i32, seqQ: i32, seqK: i32,
  causal: i32, validLens: usize, ldValid: i32, addMask: usize, ldAdd: i32, flag: usize,
): void {
  let first = seqK;
  let bad = false;
  for (let i = 0; i < seqQ && !bad; i++) {
    const limit = max(keyLimit(i, causal, validLens, ldValid), 0);
    if (limit >= seqK) continue;
    first = min(first, limit);
    bad = rowsNonFinite(1, headDim, q + <usize>i * (<usize>ldq << 2), ldq)
      || (addMask != 0 && nanOrPlusInf(seqK - limit, addMask + ((<usize>i * <usize>ldAdd + <usize>limit) << 2)));
  }
  const n = seqK - first;
  const kf = k + <usize>(seqK - n) * (<usize>ldk << 2), vf = v + <usize>(seqK - n) * (<usize>ldv << 2);
  store<i32>(flag, bad || rowsNonFinite(n, headDim, kf, ldk) || rowsNonFinite(n, headDimV, vf, ldv) ? 1 : 0);
}
