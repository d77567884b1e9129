// Fused masked scaled-dot-product attention for a block of query rows of one (batch, head)
// slice: O = softmax(scale·Q·Kᵀ + masks)·V without materialising the seqQ×seqK matrix.
//
// Query rows go in chunks of ATTENTION_QUERY_CHUNK, split into tiles of ATTENTION_QUERY_TILE;
// the keys are streamed in blocks of ATTENTION_KEY_BLOCK (outer loop, so a block is reused by
// every tile of the chunk while it is in L1) with an online softmax: per row a running max m and
// sum l; a new block whose max m' passes m by more than RESCALE_STEP rescales the accumulated
// O row and l by e^(m - m') and takes m', and P = e^(S - m) for the block's keys, then O += P·V.
// O itself is the accumulator (no scratch copy), normalised by 1/l at the end. Why a step: each
// rescale rounds e^(m - m') once, and where the max rises by the same small amount from block to
// block (logits growing linearly along the keys) every such rounding leans the same way, so the
// early keys' weights drift against the late ones': 2.7e-3 off float64 at 65536 keys with a
// slope of 3e-5 per key, where torch's math path is 6.6e-6 off (found by a numerical review).
// With the step a row rescales only when its max has risen by more than 1 since the last
// rescale (4e-5 there: the f32 sum of O is what is left); the first block with an unmasked key
// always sets m to its exact max, so a single key's weight is exactly 1, as in torch; weights
// stay at most e^RESCALE_STEP (the step is taken on the difference, exact where the two are
// close, so no rounding of m + 1 lets it reach 2). Key blocks past every row's causal /
// validLens limit are never computed, unless the slice holds a non-finite K or V value
// (`allKeys`, set by f32-attention-nonfinite-simd.ts):
// then every block is, masked, so the NaN reaches the rows as in torch's math path.
//
// Both products run on the 4×8 broadcast register tile with every operand read through one
// pointer at constant offsets (see f32-gemm-packed-4x8-simd.ts for why):
//   S = Q·Kᵀ  the query chunk is packed once per chunk as 4-row strips [d][4], each key block
//             once per chunk as 8-key panels of Kᵀ [d][8] (headDim <= ATTENTION_PACKED_DIM and
//             chunks of >= PACK_MIN_ROWS rows; otherwise — large head dims, and decoding, where
//             packing a key block would cost as much as using it — S comes from the unpacked
//             dot-product tile).
//   steps     a chunk of one query row (decoding) steps ATTENTION_ROW_KEY_BLOCK keys at a time
//             instead, S and P in the scratch it does not pack with (see layout.ts).
//   softmax   the four rows of a tile at once, lane r = row r: the 4×64 logit tile is read
//             row-major, transposed in registers and P is written key-major [key][4], which
//             is the packed A operand of the next product. Tiles of 1..3 rows (decoding, a
//             chunk's last tile) go row by row instead, P row-major, so no exp is spent on the
//             lanes of absent rows.
//   O += P·V  P from scratch, V rows in place; the e^(m - m') rescale of O is folded into the
//             loads of the accumulators (single rows: 32-column passes, pvRow).
//
// Memory contract (pointers are byte addresses, strides in ELEMENTS, no alignment required):
//   q  f32 [seqQ, headDim]  row stride ldq    k  f32 [seqK, headDim]  row stride ldk
//   v  f32 [seqK, headDimV] row stride ldv    o  f32 [seqQ, headDimV] row stride ldo
//   Each points at row 0 of the slice; rows q0..q1 and keys k0..k1 are used, so one head of a
//   [batch, seq, embed] tensor is a strided view (pointer + h·headDim, stride embed).
//   Masks: see mask.ts. weights f32 [seqQ, ldw] or 0: when given, row i receives the
//   normalised probabilities for keys k0..k1 (zeros where masked). scratch: one slot of
//   ATTENTION_SCRATCH_BYTES owned by this call. o and weights must not overlap any input.
//   A query row with every key masked gets zeros in o and weights (torch: NaN), unless a NaN
//   or inf reaches it; non-finite values propagate as in torch's math path (masks are added).
//   allKeys: 0, or the address of an i32 that, when non-zero, makes every key block of k0..k1
//   computed (masked) instead of skipping blocks past the causal / validLens limits.
//   stats f32 [seqQ, 2] or 0: when given (weights must then be 0), o receives the UNNORMALISED
//   Σ e^(s - m)·v over keys k0..k1 and stats row i receives (m, l) — one part of a key-split
//   attention, merged by f32_attention_combine.
import {
  ATTENTION_QUERY_TILE as QT, ATTENTION_KEY_BLOCK as KB, ATTENTION_QUERY_CHUNK as QC,
  ATTENTION_PACKED_DIM, ATTENTION_SCRATCH_P, ATTENTION_SCRATCH_S, ATTENTION_SCRATCH_M,
  ATTENTION_SCRATCH_L, ATTENTION_SCRATCH_QP, ATTENTION_SCRATCH_KP, ATTENTION_ROW_KEY_BLOCK as ROW_KB,
} from "../layout";
import { gemmNT } from "../f32-gemm/f32-gemm";
import { gemmNT1x1, gemmNT1x4 } from "../f32-gemm/f32-gemm-nt-2x4-simd";
import { packRows, packPanelsNT } from "../f32-gemm/f32-gemm-packed-4x8-simd";
import { expShiftSum, rowMax, rowScale, rowZero } from "../f32-softmax/f32-softmax-simd";
import { expNonPositive, expNonPositiveScalar } from "../common/exp";
import { madd } from "../common/simd";
import { applyMasks, keyEnd } from "./mask";

// Query rows a chunk needs for packing its key blocks to pay: with one tile (decode: one row)
// the packing costs about what the 4×8 products save (decode, 1 × 1024 keys: 0.20 ms unpacked,
// 0.38 ms packed).
// @ts-ignore: decorator
@inline const PACK_MIN_ROWS = 8;

// Byte stride of the S rows in scratch.
// @ts-ignore: decorator
@inline const LDS: usize = <usize>KB << 2;

// The lowest finite f32, the running max of a row before any unmasked key.
// @ts-ignore: decorator
@inline const LOWEST: f32 = -3.4028234663852886e38;
/** A row's running max m moves to a block's max only when that exceeds m by more than this
 * (file header: why). Against LOWEST the difference overflows to +inf, so a row's first
 * unmasked block always moves it; a block max of -inf or NaN never does. */
// @ts-ignore: decorator
@inline const RESCALE_STEP: f32 = 1;

/** S[0..4, 8 keys] = scale·(4-row query strip)·(8-key panel of Kᵀ) over d, both packed: the
 * strip at pa as [d][4], the panel at pb as [d][8]. Stores into the S tile at s (stride LDS). */
// @ts-ignore: decorator
@inline function qkTile(d: i32, pa: usize, pb: usize, s: usize, vscale: v128): void {
  let vacc0x0123 = f32x4.splat(0), vacc0x4567 = f32x4.splat(0), vacc1x0123 = f32x4.splat(0), vacc1x4567 = f32x4.splat(0);
  let vacc2x0123 = f32x4.splat(0), vacc2x4567 = f32x4.splat(0), vacc3x0123 = f32x4.splat(0), vacc3x4567 = f32x4.splat(0);
  const bEnd = pb + (<usize>d << 5);
  for (; pb < bEnd; pb += 32) {
    const vb0123 = v128.load(pb);
    const vb4567 = v128.load(pb, 16);
    const va0 = v128.load_splat<f32>(pa);
    vacc0x0123 = madd(va0, vb0123, vacc0x0123);
    vacc0x4567 = madd(va0, vb4567, vacc0x4567);
    const va1 = v128.load_splat<f32>(pa, 4);
    vacc1x0123 = madd(va1, vb0123, vacc1x0123);
    vacc1x4567 = madd(va1, vb4567, vacc1x4567);
    const va2 = v128.load_splat<f32>(pa, 8);
    vacc2x0123 = madd(va2, vb0123, vacc2x0123);
    vacc2x4567 = madd(va2, vb4567, vacc2x4567);
    const va3 = v128.load_splat<f32>(pa, 12);
    vacc3x0123 = madd(va3, vb0123, vacc3x0123);
    vacc3x4567 = madd(va3, vb4567, vacc3x4567);
    pa += 16;
  }
  v128.store(s, f32x4.mul(vacc0x0123, vscale)); v128.store(s, f32x4.mul(vacc0x4567, vscale), 16);
  v128.store(s + LDS, f32x4.mul(vacc1x0123, vscale)); v128.store(s + LDS, f32x4.mul(vacc1x4567, vscale), 16);
  v128.store(s + 2 * LDS, f32x4.mul(vacc2x0123, vscale)); v128.store(s + 2 * LDS, f32x4.mul(vacc2x4567, vscale), 16);
  v128.store(s + 3 * LDS, f32x4.mul(vacc3x0123, vscale)); v128.store(s + 3 * LDS, f32x4.mul(vacc3x4567, vscale), 16);
}

/** S[0, 0..n) = scale·q·Kᵀ for one query row (decoding): the 1×4 dot-product tile of gemmNT,
 * inlined here. The same arithmetic as gemmNT(1, n, ...), so the same bits; through the gemmNT
 * call, a one-row decode over 12 heads × 513 keys × 12 layers ran at 0.6× this speed (3.2 →
 * 1.9 ms per token, one thread, row-major cache, in alternation). */
// @ts-ignore: decorator
@inline function scoresRow(n: i32, d: i32, q: usize, k: usize, ldkB: usize, s: usize, scale: f32): void {
  let j = 0;
  for (; j + 4 <= n; j += 4) gemmNT1x4(d, q, k + <usize>j * ldkB, ldkB, s + (<usize>j << 2), scale, 0);
  for (; j < n; j++) gemmNT1x1(d, q, k + <usize>j * ldkB, s + (<usize>j << 2), scale, 0);
}

/** Lane c: the maximum of the lanes of x_c. */
// @ts-ignore: decorator
@inline function hmax4x4(x0: v128, x1: v128, x2: v128, x3: v128): v128 {
  const s01 = f32x4.pmax(v128.shuffle<f32>(x0, x1, 0, 4, 1, 5), v128.shuffle<f32>(x0, x1, 2, 6, 3, 7));
  const s23 = f32x4.pmax(v128.shuffle<f32>(x2, x3, 0, 4, 1, 5), v128.shuffle<f32>(x2, x3, 2, 6, 3, 7));
  return f32x4.pmax(v128.shuffle<f32>(s01, s23, 0, 1, 4, 5), v128.shuffle<f32>(s01, s23, 2, 3, 6, 7));
}

/** O rows (+)= P·V for a full tile: o_r = o_r·alpha_r + Σ_key P[key][r]·V[key] for r < 4,
 * P key-major at p ([nb][4]), V rows from v (stride ldvB bytes), O rows from o (stride ldoB). */
// @ts-ignore: decorator
@inline function pvTile(
  n: i32, nb: i32, p: usize, v: usize, ldvB: usize, o: usize, ldoB: usize, valpha: v128,
): void {
  const pEnd = p + (<usize>nb << 4);
  let j = 0;
  const c0 = o, c1 = o + ldoB, c2 = c1 + ldoB, c3 = c2 + ldoB;
  const va0 = v128.shuffle<f32>(valpha, valpha, 0, 0, 0, 0), va1 = v128.shuffle<f32>(valpha, valpha, 1, 1, 1, 1);
  const va2 = v128.shuffle<f32>(valpha, valpha, 2, 2, 2, 2), va3 = v128.shuffle<f32>(valpha, valpha, 3, 3, 3, 3);
  for (; j + 8 <= n; j += 8) {
    const jb = <usize>j << 2;
    let vacc0x0123 = f32x4.mul(v128.load(c0 + jb), va0), vacc0x4567 = f32x4.mul(v128.load(c0 + jb, 16), va0);
    let vacc1x0123 = f32x4.mul(v128.load(c1 + jb), va1), vacc1x4567 = f32x4.mul(v128.load(c1 + jb, 16), va1);
    let vacc2x0123 = f32x4.mul(v128.load(c2 + jb), va2), vacc2x4567 = f32x4.mul(v128.load(c2 + jb, 16), va2);
    let vacc3x0123 = f32x4.mul(v128.load(c3 + jb), va3), vacc3x4567 = f32x4.mul(v128.load(c3 + jb, 16), va3);
    let pv = v + jb;
    for (let pp = p; pp < pEnd; pp += 16) {
      const vb0123 = v128.load(pv);
      const vb4567 = v128.load(pv, 16);
      const vp0 = v128.load_splat<f32>(pp);
      vacc0x0123 = madd(vp0, vb0123, vacc0x0123);
      vacc0x4567 = madd(vp0, vb4567, vacc0x4567);
      const vp1 = v128.load_splat<f32>(pp, 4);
      vacc1x0123 = madd(vp1, vb0123, vacc1x0123);
      vacc1x4567 = madd(vp1, vb4567, vacc1x4567);
      const vp2 = v128.load_splat<f32>(pp, 8);
      vacc2x0123 = madd(vp2, vb0123, vacc2x0123);
      vacc2x4567 = madd(vp2, vb4567, vacc2x4567);
      const vp3 = v128.load_splat<f32>(pp, 12);
      vacc3x0123 = madd(vp3, vb0123, vacc3x0123);
      vacc3x4567 = madd(vp3, vb4567, vacc3x4567);
      pv += ldvB;
    }
    v128.store(c0 + jb, vacc0x0123); v128.store(c0 + jb, vacc0x4567, 16);
    v128.store(c1 + jb, vacc1x0123); v128.store(c1 + jb, vacc1x4567, 16);
    v128.store(c2 + jb, vacc2x0123); v128.store(c2 + jb, vacc2x4567, 16);
    v128.store(c3 + jb, vacc3x0123); v128.store(c3 + jb, vacc3x4567, 16);
  }
  if (j + 4 <= n) {
    const jb = <usize>j << 2;
    let vacc0 = f32x4.mul(v128.load(c0 + jb), va0), vacc1 = f32x4.mul(v128.load(c1 + jb), va1);
    let vacc2 = f32x4.mul(v128.load(c2 + jb), va2), vacc3 = f32x4.mul(v128.load(c3 + jb), va3);
    let pv = v + jb;
    for (let pp = p; pp < pEnd; pp += 16) {
      const vb = v128.load(pv);
      vacc0 = madd(v128.load_splat<f32>(pp), vb, vacc0);
      vacc1 = madd(v128.load_splat<f32>(pp, 4), vb, vacc1);
      vacc2 = madd(v128.load_splat<f32>(pp, 8), vb, vacc2);
      vacc3 = madd(v128.load_splat<f32>(pp, 12), vb, vacc3);
      pv += ldvB;
    }
    v128.store(c0 + jb, vacc0); v128.store(c1 + jb, vacc1); v128.store(c2 + jb, vacc2); v128.store(c3 + jb, vacc3);
    j += 4;
  }
  // Last 1..3 columns: all four rows at once, lanes = rows.
  for (; j < n; j++) {
    const jb = <usize>j << 2;
    let vacc = f32x4.mul(f32x4(load<f32>(c0 + jb), load<f32>(c1 + jb), load<f32>(c2 + jb), load<f32>(c3 + jb)), valpha);
    let pv = v + jb;
    for (let pp = p; pp < pEnd; pp += 16) {
      vacc = madd(v128.load(pp), v128.load_splat<f32>(pv), vacc);
      pv += ldvB;
    }
    store<f32>(c0 + jb, f32x4.extract_lane(vacc, 0)); store<f32>(c1 + jb, f32x4.extract_lane(vacc, 1));
    store<f32>(c2 + jb, f32x4.extract_lane(vacc, 2)); store<f32>(c3 + jb, f32x4.extract_lane(vacc, 3));
  }
}

/** One O row (+)= P·V: o = o·alpha + Σ_key p[key]·V[key], p contiguous ([nb]), V rows from v
 * (stride ldvB bytes), n columns. 32 columns per pass (eight accumulators), then 16, 4, 1: each
 * pass reads 128 bytes of every V row, two adjacent cache lines, where 16-column passes read
 * one line of each row per pass, four passes apart (a one-row decode over a cold row-major
 * cache, 12 heads × 513 keys × 12 layers: 3.2 → 2.8 ms per token). Every column is computed
 * alone in key order, so the pass width changes no bit. */
// @ts-ignore: decorator
@inline function pvRow(n: i32, nb: i32, p: usize, v: usize, ldvB: usize, o: usize, alpha: f32): void {
  const pEnd = p + (<usize>nb << 2);
  const va = f32x4.splat(alpha);
  let j = 0;
  for (; j + 32 <= n; j += 32) {
    const jb = <usize>j << 2;
    let vacc0 = f32x4.mul(v128.load(o + jb), va), vacc1 = f32x4.mul(v128.load(o + jb, 16), va);
    let vacc2 = f32x4.mul(v128.load(o + jb, 32), va), vacc3 = f32x4.mul(v128.load(o + jb, 48), va);
    let vacc4 = f32x4.mul(v128.load(o + jb, 64), va), vacc5 = f32x4.mul(v128.load(o + jb, 80), va);
    let vacc6 = f32x4.mul(v128.load(o + jb, 96), va), vacc7 = f32x4.mul(v128.load(o + jb, 112), va);
    let pv = v + jb;
    for (let pp = p; pp < pEnd; pp += 4) {
      const vp = v128.load_splat<f32>(pp);
      vacc0 = madd(vp, v128.load(pv), vacc0);
      vacc1 = madd(vp, v128.load(pv, 16), vacc1);
      vacc2 = madd(vp, v128.load(pv, 32), vacc2);
      vacc3 = madd(vp, v128.load(pv, 48), vacc3);
      vacc4 = madd(vp, v128.load(pv, 64), vacc4);
      vacc5 = madd(vp, v128.load(pv, 80), vacc5);
      vacc6 = madd(vp, v128.load(pv, 96), vacc6);
      vacc7 = madd(vp, v128.load(pv, 112), vacc7);
      pv += ldvB;
    }
    v128.store(o + jb, vacc0); v128.store(o + jb, vacc1, 16); v128.store(o + jb, vacc2, 32); v128.store(o + jb, vacc3, 48);
    v128.store(o + jb, vacc4, 64); v128.store(o + jb, vacc5, 80); v128.store(o + jb, vacc6, 96); v128.store(o + jb, vacc7, 112);
  }
  for (; j + 16 <= n; j += 16) {
    const jb = <usize>j << 2;
    let vacc0 = f32x4.mul(v128.load(o + jb), va), vacc1 = f32x4.mul(v128.load(o + jb, 16), va);
    let vacc2 = f32x4.mul(v128.load(o + jb, 32), va), vacc3 = f32x4.mul(v128.load(o + jb, 48), va);
    let pv = v + jb;
    for (let pp = p; pp < pEnd; pp += 4) {
      const vp = v128.load_splat<f32>(pp);
      vacc0 = madd(vp, v128.load(pv), vacc0);
      vacc1 = madd(vp, v128.load(pv, 16), vacc1);
      vacc2 = madd(vp, v128.load(pv, 32), vacc2);
      vacc3 = madd(vp, v128.load(pv, 48), vacc3);
      pv += ldvB;
    }
    v128.store(o + jb, vacc0); v128.store(o + jb, vacc1, 16); v128.store(o + jb, vacc2, 32); v128.store(o + jb, vacc3, 48);
  }
  for (; j + 4 <= n; j += 4) {
    const jb = <usize>j << 2;
    let vacc = f32x4.mul(v128.load(o + jb), va);
    let pv = v + jb;
    for (let pp = p; pp < pEnd; pp += 4) {
      vacc = madd(v128.load_splat<f32>(pp), v128.load(pv), vacc);
      pv += ldvB;
    }
    v128.store(o + jb, vacc);
  }
  for (; j < n; j++) {
    const jb = <usize>j << 2;
    let acc = load<f32>(o + jb) * alpha;
    let pv = v + jb;
    for (let pp = p; pp < pEnd; pp += 4) {
      acc += load<f32>(pp) * load<f32>(pv);
      pv += ldvB;
    }
    store<f32>(o + jb, acc);
  }
}

/** Full 8-key panels of Kᵀ: keys 0..8·panels of k (row stride ldkB bytes) into kp as
 * [panel][d][8]; d % 4 trailing values in scalar. */
function packKeyPanels(panels: i32, d: i32, k: usize, ldkB: usize, kp: usize): void {
  const d4 = <usize>(d & ~3) << 2, dB = <usize>d << 2;
  for (let p = 0; p < panels; p++) {
    const w0 = k + <usize>(p << 3) * ldkB, w1 = w0 + ldkB, w2 = w1 + ldkB, w3 = w2 + ldkB;
    const w4 = w3 + ldkB, w5 = w4 + ldkB, w6 = w5 + ldkB, w7 = w6 + ldkB;
    const dst = kp + <usize>p * (dB << 3);
    let off: usize = 0;
    for (; off < d4; off += 16) {
      const at = dst + (off << 3);
      let x0 = v128.load(w0 + off), x1 = v128.load(w1 + off), x2 = v128.load(w2 + off), x3 = v128.load(w3 + off);
      let t0 = v128.shuffle<f32>(x0, x1, 0, 4, 1, 5), t1 = v128.shuffle<f32>(x0, x1, 2, 6, 3, 7);
      let t2 = v128.shuffle<f32>(x2, x3, 0, 4, 1, 5), t3 = v128.shuffle<f32>(x2, x3, 2, 6, 3, 7);
      v128.store(at, v128.shuffle<f32>(t0, t2, 0, 1, 4, 5));
      v128.store(at, v128.shuffle<f32>(t0, t2, 2, 3, 6, 7), 32);
      v128.store(at, v128.shuffle<f32>(t1, t3, 0, 1, 4, 5), 64);
      v128.store(at, v128.shuffle<f32>(t1, t3, 2, 3, 6, 7), 96);
      x0 = v128.load(w4 + off); x1 = v128.load(w5 + off); x2 = v128.load(w6 + off); x3 = v128.load(w7 + off);
      t0 = v128.shuffle<f32>(x0, x1, 0, 4, 1, 5); t1 = v128.shuffle<f32>(x0, x1, 2, 6, 3, 7);
      t2 = v128.shuffle<f32>(x2, x3, 0, 4, 1, 5); t3 = v128.shuffle<f32>(x2, x3, 2, 6, 3, 7);
      v128.store(at, v128.shuffle<f32>(t0, t2, 0, 1, 4, 5), 16);
      v128.store(at, v128.shuffle<f32>(t0, t2, 2, 3, 6, 7), 48);
      v128.store(at, v128.shuffle<f32>(t1, t3, 0, 1, 4, 5), 80);
      v128.store(at, v128.shuffle<f32>(t1, t3, 2, 3, 6, 7), 112);
    }
    for (; off < dB; off += 4) {
      const at = dst + (off << 3);
      v128.store(at, f32x4(load<f32>(w0 + off), load<f32>(w1 + off), load<f32>(w2 + off), load<f32>(w3 + off)));
      v128.store(at, f32x4(load<f32>(w4 + off), load<f32>(w5 + off), load<f32>(w6 + off), load<f32>(w7 + off)), 16);
    }
  }
}

export function attention(
  q: usize, ldq: i32, k: usize, ldk: i32, v: usize, ldv: i32, o: usize, ldo: i32,
  headDim: i32, headDimV: i32, q0: i32, q1: i32, k0: i32, k1: i32, scale: f32,
  causal: i32, addMask: usize, ldAdd: i32, boolMask: usize, ldBool: i32, boolInvert: i32,
  keyMask: usize, keyInvert: i32, validLens: usize, ldValid: i32,
  weights: usize, ldw: i32, scratch: usize, stats: usize, allKeys: usize,
): void {
  const sp = scratch + (<usize>ATTENTION_SCRATCH_P << 2);
  const ss = scratch + (<usize>ATTENTION_SCRATCH_S << 2);
  const sqp = scratch + (<usize>ATTENTION_SCRATCH_QP << 2);
  const skp = scratch + (<usize>ATTENTION_SCRATCH_KP << 2);
  const ldoB = <usize>ldo << 2, ldwB = <usize>ldw << 2, ldvB = <usize>ldv << 2;
  const ldqB = <usize>ldq << 2, ldkB = <usize>ldk << 2;
  const packable = headDim <= ATTENTION_PACKED_DIM;
  const stripB = <usize>headDim << 4, panelB = <usize>headDim << 5;
  const vscale = f32x4.splat(scale);
  const ninf = f32x4.splat(-Infinity);
  // Rows start at the lowest finite max, not -inf: while every key so far is masked,
  // e^(S - m) = e^(-inf - LOWEST) is an exact 0 and e^(m - m') = 1, with no -inf - -inf (NaN),
  // which the exp now propagates.
  const vlowest = f32x4.splat(LOWEST);
  // Skip nothing when the slice holds a non-finite K or V value (see the memory contract).
  const dense = allKeys != 0 && load<i32>(allKeys) != 0;

  for (let c0 = q0; c0 < q1; c0 += QC) {
    const c1 = min(q1, c0 + QC);
    // Running max and sum of chunk row i live at M[i - c0], L[i - c0] (all QC lanes initialised:
    // the tile steps read and write them four at a time).
    const sm = scratch + (<usize>ATTENTION_SCRATCH_M << 2) - (<usize>c0 << 2);
    const sl = scratch + (<usize>ATTENTION_SCRATCH_L << 2) - (<usize>c0 << 2);
    for (let i = 0; i < QC; i += 4) {
      v128.store(scratch + (<usize>(ATTENTION_SCRATCH_M + i) << 2), vlowest);
      v128.store(scratch + (<usize>(ATTENTION_SCRATCH_L + i) << 2), f32x4.splat(0));
    }
    for (let i = c0; i < c1; i++) rowZero(o + <usize>i * ldoB, headDimV);
    const chunkEnd = dense ? k1 : keyEnd(c0, c1 - c0, k1, causal, validLens, ldValid);
    const packed = packable && c1 - c0 >= PACK_MIN_ROWS;
    if (packed) packRows(c1 - c0, headDim, q + <usize>c0 * ldqB, ldq, sqp, 0, (c1 - c0 + 3) >> 2);

    // Key blocks outside, query tiles inside: each K and V block is read from memory once per
    // chunk and then served from L1 to all of the chunk's tiles.
    // A chunk of one row (decoding) takes ROW_KB keys a step, its S row (and P, in place) in
    // the QP/KP regions it never packs: 16× fewer steps, each reading a longer run of K and
    // then of V (a one-row decode, 12 heads × 3 key parts of <= 256 keys × 12 layers, as the
    // engine splits 513 keys: 2.06-2.49 → 1.69-1.85 ms per token, one thread, in alternation).
    const oneRow = c1 - c0 == 1, step = oneRow ? ROW_KB : KB;
    const st = oneRow ? sqp : ss;
    for (let kb = k0; kb < chunkEnd; kb += step) {
      const kbk = k + <usize>kb * ldkB;
      if (packed) {
        const nbChunk = min(KB, chunkEnd - kb);
        const full = nbChunk >> 3;
        packKeyPanels(full, headDim, kbk, ldkB, skp);
        if (full << 3 < nbChunk) packPanelsNT(nbChunk, headDim, kbk, ldk, skp, full, full + 1);
      }
      const vb = v + <usize>kb * ldvB;
      for (let i0 = c0; i0 < c1; i0 += QT) {
        const rows = min(QT, c1 - i0);
        const tileEnd = dense ? k1 : keyEnd(i0, rows, k1, causal, validLens, ldValid);
        if (kb >= tileEnd) continue; // every key of this block is masked for this tile
        const nb = min(step, tileEnd - kb);
        const oTile = o + <usize>i0 * ldoB;
        // S = scale·Q·Kᵀ for 4 rows × ceil(nb/8)·8 keys (rows past `rows` are never used).
        if (packed) {
          const pa = sqp + <usize>((i0 - c0) >> 2) * stripB;
          for (let jp = 0; jp < nb; jp += 8) {
            qkTile(headDim, pa, skp + <usize>(jp >> 3) * panelB, st + (<usize>jp << 2), vscale);
          }
        } else if (rows == 1) {
          scoresRow(nb, headDim, q + <usize>i0 * ldqB, kbk, ldkB, st, scale);
        } else {
          gemmNT(rows, nb, headDim, q + <usize>i0 * ldqB, ldq, kbk, ldk, 0, st, KB, scale);
        }
        applyMasks(st, KB, i0, rows, kb, nb, causal, addMask, ldAdd, boolMask, ldBool, boolInvert,
          keyMask, keyInvert, validLens, ldValid);
        // Keys nb..ceil(nb/4)·4 take no part: -inf gives them P = 0.
        const ng = (nb + 3) >> 2, ngB = <usize>ng << 4;
        for (let j = nb; j < (ng << 2); j++) {
          for (let r = 0; r < rows; r++) store<f32>(st + <usize>r * LDS + (<usize>j << 2), -Infinity);
        }
        if (weights != 0) {
          for (let r = 0; r < rows; r++) {
            memory.copy(weights + <usize>(i0 + r) * ldwB + (<usize>kb << 2), st + <usize>r * LDS, <usize>nb << 2);
          }
        }

        if (rows < QT) {
          // 1..3 rows (decoding, a chunk's last tile): each row on its own, P row-major, so no
          // exp is spent on the lanes of absent rows.
          for (let r = 0; r < rows; r++) {
            const srow = st + <usize>r * LDS, prow = oneRow ? srow : sp + <usize>r * LDS;
            const at = <usize>(i0 + r) << 2;
            const mOld = load<f32>(sm + at), mBlock = rowMax(srow, ng << 2);
            const mNew = mBlock - mOld > RESCALE_STEP ? mBlock : mOld;
            const alpha = expNonPositiveScalar(mOld - mNew);
            const sum = expShiftSum(srow, prow, ng << 2, mNew);
            store<f32>(sl + at, load<f32>(sl + at) * alpha + sum);
            store<f32>(sm + at, mNew);
            pvRow(headDimV, nb, prow, vb, ldvB, oTile + <usize>r * ldoB, alpha);
          }
          continue;
        }

        // Online softmax for the four rows at once (lane r = row i0 + r): m' = max S where it
        // passes m + RESCALE_STEP, else m; P = e^(S - m'), l = l·e^(m - m') + ΣP, O = O·e^(m - m') + P·V.
        let vmax0 = ninf, vmax1 = ninf, vmax2 = ninf, vmax3 = ninf;
        for (let off: usize = 0; off < ngB; off += 16) {
          vmax0 = f32x4.pmax(vmax0, v128.load(ss + off));
          vmax1 = f32x4.pmax(vmax1, v128.load(ss + LDS + off));
          vmax2 = f32x4.pmax(vmax2, v128.load(ss + 2 * LDS + off));
          vmax3 = f32x4.pmax(vmax3, v128.load(ss + 3 * LDS + off));
        }
        const at = <usize>i0 << 2;
        const vmOld = v128.load(sm + at);
        const vmBlock = hmax4x4(vmax0, vmax1, vmax2, vmax3);
        const vmNew = v128.bitselect(vmBlock, vmOld, f32x4.gt(f32x4.sub(vmBlock, vmOld), f32x4.splat(RESCALE_STEP)));
        const valpha = expNonPositive(f32x4.sub(vmOld, vmNew));
        let vsum = f32x4.splat(0);
        for (let off: usize = 0; off < ngB; off += 16) {
          const x0 = v128.load(ss + off), x1 = v128.load(ss + LDS + off);
          const x2 = v128.load(ss + 2 * LDS + off), x3 = v128.load(ss + 3 * LDS + off);
          const t0 = v128.shuffle<f32>(x0, x1, 0, 4, 1, 5), t1 = v128.shuffle<f32>(x0, x1, 2, 6, 3, 7);
          const t2 = v128.shuffle<f32>(x2, x3, 0, 4, 1, 5), t3 = v128.shuffle<f32>(x2, x3, 2, 6, 3, 7);
          const e0 = expNonPositive(f32x4.sub(v128.shuffle<f32>(t0, t2, 0, 1, 4, 5), vmNew));
          const e1 = expNonPositive(f32x4.sub(v128.shuffle<f32>(t0, t2, 2, 3, 6, 7), vmNew));
          const e2 = expNonPositive(f32x4.sub(v128.shuffle<f32>(t1, t3, 0, 1, 4, 5), vmNew));
          const e3 = expNonPositive(f32x4.sub(v128.shuffle<f32>(t1, t3, 2, 3, 6, 7), vmNew));
          const pp = sp + (off << 2);
          v128.store(pp, e0); v128.store(pp, e1, 16); v128.store(pp, e2, 32); v128.store(pp, e3, 48);
          vsum = f32x4.add(vsum, f32x4.add(f32x4.add(e0, e1), f32x4.add(e2, e3)));
        }
        v128.store(sl + at, madd(v128.load(sl + at), valpha, vsum));
        v128.store(sm + at, vmNew);
        pvTile(headDimV, nb, sp, vb, ldvB, oTile, ldoB, valpha);
      }
    }

    for (let i0 = c0; i0 < c1; i0 += QT) {
      const rows = min(QT, c1 - i0);
      const tileEnd = dense ? k1 : keyEnd(i0, rows, k1, causal, validLens, ldValid);
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
        // l = 0: every key masked (zeros); l = NaN: a NaN reached the row (NaN, as in torch).
        if (l != 0) rowScale(orow, orow, headDimV, 1 / l);
        if (weights == 0) continue;
        // Weights: e^(S - m) / l from the logits left in place, zeros past the tile's key limit.
        const wrow = weights + <usize>i * ldwB;
        const from = wrow + (<usize>k0 << 2);
        const live = tileEnd > k0 ? tileEnd - k0 : 0;
        if (l != 0) {
          expShiftSum(from, from, live, load<f32>(sm + (<usize>i << 2)));
          rowScale(from, from, live, 1 / l);
        } else {
          rowZero(from, live);
        }
        // Keys past the limit: zeros, or NaN when a NaN reached the row (torch: the whole row).
        rowZero(from + (<usize>live << 2), k1 - k0 - live);
        if (l != l) rowScale(from + (<usize>live << 2), from + (<usize>live << 2), k1 - k0 - live, l);
      }
    }
  }
}
