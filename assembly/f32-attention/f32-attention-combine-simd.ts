// Merge of key-split attention: part p covers one key range and left, per query row i, an
// unnormalised O_p[i] = Σ e^(s - m_p)·v and its (m_p, l_p). The exact softmax over all keys is
//   M = max_p m_p,  O[i] = Σ_p e^(m_p - M)·O_p[i] / Σ_p e^(m_p - M)·l_p
// with parts taken in index order (the same bits however the parts were scheduled).
//
// Memory contract (byte addresses, strides in elements): part p's O is the f32 matrix at
// partO + p·partStride·4 with row stride ldPartO; its stats are f32 (m, l) pairs at
// stats + p·statsStride·4 + i·8. o: f32 [seqQ, headDimV] with row stride ldo; rows q0..q1.
// A row with every key masked in every part (Σ l = 0) gets zeros; a NaN l (a NaN reached the
// row in some part) makes the row NaN.
import { expNonPositiveScalar } from "../common/exp";
import { rowScale, rowZero } from "../f32-softmax/f32-softmax-simd";

export function attentionCombine(
  parts: i32, q0: i32, q1: i32, headDimV: i32, partO: usize, ldPartO: i32, partStride: i32,
  stats: usize, statsStride: i32, o: usize, ldo: i32,
): void {
  const partB = <usize>partStride << 2, statsB = <usize>statsStride << 2;
  const nb = <usize>headDimV << 2, n16 = nb & ~15;
  for (let i = q0; i < q1; i++) {
    const orow = o + ((<usize>i * <usize>ldo) << 2);
    const srow = stats + (<usize>i << 3);
    let mMax: f32 = -Infinity;
    for (let p = 0; p < parts; p++) mMax = max(mMax, load<f32>(srow + <usize>p * statsB));
    rowZero(orow, headDimV);
    if (mMax == -Infinity) continue;
    let l: f32 = 0;
    for (let p = 0; p < parts; p++) {
      const at = srow + <usize>p * statsB;
      const mp = load<f32>(at);
      if (mp == -Infinity) continue;
      const alpha = expNonPositiveScalar(mp - mMax);
      l += load<f32>(at, 4) * alpha;
      const prow = partO + <usize>p * partB + ((<usize>i * <usize>ldPartO) << 2);
      const valpha = f32x4.splat(alpha);
      let off: usize = 0;
      for (; off < n16; off += 16) {
        v128.store(orow + off, f32x4.add(v128.load(orow + off), f32x4.mul(v128.load(prow + off), valpha)));
      }
      for (; off < nb; off += 4) store<f32>(orow + off, load<f32>(orow + off) + load<f32>(prow + off) * alpha);
    }
    if (l != 0) rowScale(orow, orow, headDimV, 1 / l); // l = NaN: a NaN reached the row
  }
}
