// Whether any K or V value of one (batch, head) slice is non-finite. torch's math path
// multiplies every key, masked or not: a NaN or ±inf in a key that a causal mask, validLens or
// trailing key padding excludes still makes the rows that exclude it NaN (NaN + -inf is NaN in
// the logits, 0·NaN and 0·inf are NaN in P·V). The attention kernel skips such keys wholesale,
// so this scan runs first and sends a slice that holds one down the path that skips nothing
// (f32-attention-4x64-simd.ts, `allKeys`). Only keys that some row may skip are read: those
// at or past the smallest causal / validLens limit of the slice's rows (all but key 0 under a
// causal mask; none of a full-length batch entry under validLens or key padding).
//
// Memory contract (byte addresses, strides in elements, no alignment required):
//   k f32 [seqK, headDim] row stride ldk, v f32 [seqK, headDimV] row stride ldv (row 0 of
//   the slice); causal, validLens, ldValid as for f32_attention (validLens at the slice's
//   batch entry); flag: one i32, set to 1 if a value of a skippable key is NaN or ±inf, else 0.

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

export function attentionNonFinite(
  k: usize, ldk: i32, headDim: i32, v: usize, ldv: i32, headDimV: i32, seqQ: i32, seqK: i32,
  causal: i32, validLens: usize, ldValid: i32, flag: usize,
): void {
  let first = seqK;
  for (let i = 0; i < seqQ && first > 0; i++) first = min(first, keyLimit(i, causal, validLens, ldValid));
  const n = seqK - max(first, 0);
  const kf = k + <usize>(seqK - n) * (<usize>ldk << 2), vf = v + <usize>(seqK - n) * (<usize>ldv << 2);
  store<i32>(flag, rowsNonFinite(n, headDim, kf, ldk) || rowsNonFinite(n, headDimV, vf, ldv) ? 1 : 0);
}
