// Fused masked scaled-dot-product attention for a block of query rows of one (batch, head)
// slice: O = softmax(scale·Q·Kᵀ + masks)·V without materialising the seqQ×seqK matrix.
//
// Query rows go in chunks of ATTENTION_QUERY_CHUNK, split into tiles of ATTENTION_QUERY_TILE;
// the keys are streamed in blocks of ATTENTION_KEY_BLOCK (outer loop, so a block is reused by
// every tile of the chunk while it is in L1) with an online softmax: per row a running max m and
// sum l;
// a new block with max m' rescales the accumulated O row and l by e^(m - m'), then adds
// P·V with P = e^(S - m'). O itself is the accumulator (no scratch copy), normalised by 1/l
// at the end. Key blocks past every row's causal / validLens limit are never computed.
//
// Memory contract (pointers are byte addresses, strides in ELEMENTS, no alignment required):
//   q  f32 [seqQ, headDim]  row stride ldq    k  f32 [seqK, headDim]  row stride ldk
//   v  f32 [seqK, headDimV] row stride ldv    o  f32 [seqQ, headDimV] row stride ldo
//   Each points at row 0 of the slice; rows q0..q1 and keys k0..k1 are used, so one head of a
//   [batch, seq, embed] tensor is a strided view (pointer + h·headDim, stride embed).
//   Masks: see mask.ts. weights f32 [seqQ, ldw] or 0: when given, row i receives the
//   normalised probabilities for keys k0..k1 (zeros where masked). scratch: one slot of
//   ATTENTION_SCRATCH_BYTES owned by this call. o and weights must not overlap any input.
//   A query row with every key masked gets zeros in o and weights.
//   stats f32 [seqQ, 2] or 0: when given (weights must then be 0), o receives the UNNORMALISED
//   Σ e^(s - m)·v over keys k0..k1 and stats row i receives (m, l) — one part of a key-split
//   attention, merged by f32_attention_combine.
import {
  ATTENTION_QUERY_TILE as QT, ATTENTION_KEY_BLOCK as KB, ATTENTION_QUERY_CHUNK as QC,
  ATTENTION_SCRATCH_P, ATTENTION_SCRATCH_S, ATTENTION_SCRATCH_M, ATTENTION_SCRATCH_L,
} from "../layout";
import { gemmNN, gemmNT } from "../f32-gemm/f32-gemm";
import { rowMax, expShiftSum, rowScale, rowZero } from "../f32-softmax/f32-softmax-simd";
import { expNonPositiveScalar } from "../common/exp";
import { applyMasks, keyEnd } from "./mask";

export function attention(
  q: usize, ldq: i32, k: usize, ldk: i32, v: usize, ldv: i32, o: usize, ldo: i32,
  headDim: i32, headDimV: i32, q0: i32, q1: i32, k0: i32, k1: i32, scale: f32,
  causal: i32, addMask: usize, ldAdd: i32, boolMask: usize, ldBool: i32, boolInvert: i32,
  keyMask: usize, keyInvert: i32, validLens: usize, ldValid: i32,
  weights: usize, ldw: i32, scratch: usize, stats: usize,
): void {
  const sp = scratch + (<usize>ATTENTION_SCRATCH_P << 2);
  const ss = scratch + (<usize>ATTENTION_SCRATCH_S << 2);
  const ldoB = <usize>ldo << 2, ldwB = <usize>ldw << 2;

  for (let c0 = q0; c0 < q1; c0 += QC) {
    const c1 = min(q1, c0 + QC);
    // Running max and sum of chunk row i live at M[i - c0], L[i - c0].
    const sm = scratch + (<usize>ATTENTION_SCRATCH_M << 2) - (<usize>c0 << 2);
    const sl = scratch + (<usize>ATTENTION_SCRATCH_L << 2) - (<usize>c0 << 2);
    for (let i = c0; i < c1; i++) {
      store<f32>(sm + (<usize>i << 2), -Infinity);
      store<f32>(sl + (<usize>i << 2), 0);
      rowZero(o + <usize>i * ldoB, headDimV);
    }
    const chunkEnd = keyEnd(c0, c1 - c0, k1, causal, validLens, ldValid);

    // Key blocks outside, query tiles inside: each K and V block is read from memory once per
    // chunk and then served from L1 to all of the chunk's tiles.
    for (let kb = k0; kb < chunkEnd; kb += KB) {
      for (let i0 = c0; i0 < c1; i0 += QT) {
        const rows = min(QT, c1 - i0);
        const tileEnd = keyEnd(i0, rows, k1, causal, validLens, ldValid);
        if (kb >= tileEnd) continue; // every key of this block is masked for this tile
        const nb = min(KB, tileEnd - kb);
        const oTile = o + <usize>i0 * ldoB;
        // S = scale·Q·Kᵀ (+ masks), written straight into the weights when they are wanted.
        const s = weights != 0 ? weights + <usize>i0 * ldwB + (<usize>kb << 2) : ss;
        const ldS = weights != 0 ? ldw : KB;
        gemmNT(rows, nb, headDim, q + ((<usize>i0 * <usize>ldq) << 2), ldq,
          k + ((<usize>kb * <usize>ldk) << 2), ldk, 0, s, ldS, scale);
        applyMasks(s, ldS, i0, rows, kb, nb, causal, addMask, ldAdd, boolMask, ldBool, boolInvert,
          keyMask, keyInvert, validLens, ldValid);

        // Online softmax: P = e^(S - m'), l = l·e^(m - m') + ΣP, O = O·e^(m - m').
        for (let r = 0; r < rows; r++) {
          const at = <usize>(i0 + r) << 2;
          const srow = s + ((<usize>r * <usize>ldS) << 2);
          const prow = sp + ((<usize>r * <usize>KB) << 2);
          const mOld = load<f32>(sm + at);
          const mNew = max(mOld, rowMax(srow, nb));
          if (mNew == -Infinity) {
            rowZero(prow, nb); // every key so far is masked for this row
            continue;
          }
          const sum = expShiftSum(srow, prow, nb, mNew);
          let l = load<f32>(sl + at);
          if (mOld != mNew && mOld != -Infinity) {
            const alpha = expNonPositiveScalar(mOld - mNew);
            l *= alpha;
            const orow = oTile + <usize>r * ldoB;
            rowScale(orow, orow, headDimV, alpha);
          }
          store<f32>(sl + at, l + sum);
          store<f32>(sm + at, mNew);
        }
        // O += P·V
        gemmNN(rows, headDimV, nb, sp, KB, v + ((<usize>kb * <usize>ldv) << 2), ldv, 0, oTile, ldo, true);
      }
    }

    for (let i0 = c0; i0 < c1; i0 += QT) {
      const rows = min(QT, c1 - i0);
      const tileEnd = keyEnd(i0, rows, k1, causal, validLens, ldValid);
      for (let r = 0; r < rows; r++) {
        const i = i0 + r;
        const l = load<f32>(sl + (<usize>i << 2));
        const orow = o + <usize>i * ldoB;
        if (stats != 0) {
          // Partial result over keys k0..k1: O stays unnormalised, (m, l) go out for the combine.
          const at = stats + (<usize>i << 3);
          store<f32>(at, load<f32>(sm + (<usize>i << 2)));
          store<f32>(at, l, 4);
          continue;
        }
        if (l > 0) rowScale(orow, orow, headDimV, 1 / l);
        if (weights == 0) continue;
        // Weights: e^(S - m) / l from the logits left in place, zeros past the tile's key limit.
        const wrow = weights + <usize>i * ldwB;
        const from = wrow + (<usize>k0 << 2);
        const live = tileEnd > k0 ? tileEnd - k0 : 0;
        if (l > 0) {
          expShiftSum(from, from, live, load<f32>(sm + (<usize>i << 2)));
          rowScale(from, from, live, 1 / l);
        } else {
          rowZero(from, live);
        }
        rowZero(from + (<usize>live << 2), k1 - k0 - live);
      }
    }
  }
}
