// The tiled attention kernel's masks are applied here, in one place, to a block of scaled
// logits S (the all-heads decode kernel, f32-attention-decode-simd.ts, applies its additive key
// bias and key-padding flags itself).
//
// Logits are indexed by absolute (query i, key j) of one (batch, head) slice. Every mask is
// additive, as in torch's math path (boolean masks become 0 / -inf and are added): a masked
// finite logit becomes -inf, which the online softmax turns into an exact zero probability,
// while a NaN or +inf logit becomes NaN and reaches the row's output, as it does in torch.
//   addMask   f32 [.., ldAdd]   added (may hold -inf); ldAdd = 0 broadcasts one row
//   boolMask  u8  [.., ldBool]  attend iff (byte != 0) XOR boolInvert (SDPA: 1 = attend;
//                               MultiheadAttention: 1 = masked, passed with boolInvert = 1)
//   keyMask   u8  [seqK]        the same test with keyInvert, one flag per key (key padding)
//   limit     keys j >= limit(i) are masked: causal (j > i) and validLens together

/** S[r, 0..nb) for query i = i0 + r, keys kb..kb+nb; S row stride ldS elements. */
export function applyMasks(
  s: usize, ldS: i32, i0: i32, rows: i32, kb: i32, nb: i32,
  causal: i32, addMask: usize, ldAdd: i32, boolMask: usize, ldBool: i32, boolInvert: i32,
  keyMask: usize, keyInvert: i32, validLens: usize, ldValid: i32,
): void {
  const nbB = <usize>nb << 2, nb16 = nbB & ~15;
  for (let r = 0; r < rows; r++) {
    const i = i0 + r;
    const srow = s + ((<usize>r * <usize>ldS) << 2);
    if (addMask != 0) {
      const mrow = addMask + ((<usize>i * <usize>ldAdd + <usize>kb) << 2);
      let off: usize = 0;
      for (; off < nb16; off += 16) {
        v128.store(srow + off, f32x4.add(v128.load(srow + off), v128.load(mrow + off)));
      }
      for (; off < nbB; off += 4) store<f32>(srow + off, load<f32>(srow + off) + load<f32>(mrow + off));
    }
    if (boolMask != 0) {
      const brow = boolMask + <usize>i * <usize>ldBool + <usize>kb;
      const maskedWhenSet = boolInvert != 0;
      for (let j = 0; j < nb; j++) {
        if ((load<u8>(brow + j) != 0) == maskedWhenSet) maskOne(srow + (<usize>j << 2));
      }
    }
    if (keyMask != 0) {
      const krow = keyMask + <usize>kb;
      const maskedWhenSet = keyInvert != 0;
      for (let j = 0; j < nb; j++) {
        if ((load<u8>(krow + j) != 0) == maskedWhenSet) maskOne(srow + (<usize>j << 2));
      }
    }
    const limit = keyLimit(i, causal, validLens, ldValid);
    for (let j = max(limit - kb, 0); j < nb; j++) maskOne(srow + (<usize>j << 2));
  }
}

/** Masks the logit at s: s + -inf (-inf for a finite logit, NaN for NaN or +inf). */
// @ts-ignore: decorator
@inline function maskOne(s: usize): void {
  store<f32>(s, load<f32>(s) + <f32>-Infinity);
}

/** First key index that query i may not see because of causal (j > i) or validLens. */
// @ts-ignore: decorator
@inline export function keyLimit(i: i32, causal: i32, validLens: usize, ldValid: i32): i32 {
  let limit = i32.MAX_VALUE;
  if (causal != 0) limit = i + 1;
  if (validLens != 0) limit = min(limit, load<i32>(validLens + ((<usize>i * <usize>ldValid) << 2)));
  return limit;
}

/** One past the last key any of queries i0..i0+rows may see (bounds the key loop so that
 * blocks masked for every row are never computed). */
export function keyEnd(i0: i32, rows: i32, k1: i32, causal: i32, validLens: usize, ldValid: i32): i32 {
  let end = 0;
  for (let r = 0; r < rows; r++) end = max(end, keyLimit(i0 + r, causal, validLens, ldValid));
  return min(end, k1);
}

