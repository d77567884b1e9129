// Decoding attention: ONE query row of one batch entry against keys k0..k1, for every head at
// once, when the heads of a key (and value) row sit side by side in it — the K/V cache of
// multi-head attention and GPT-2, [seq, heads·headDim] rows.
//
// Why a kernel of its own: the one-row path of f32-attention-4x64-simd.ts works head by head,
// so each head reads 256 of every 3072 bytes of a GPT-2 cache row, the cache twelve times
// over; one core streams that pattern at half the rate of whole rows (a read-only loop over
// 1.5 MB, cold, one thread: 18-21 against 37-46 GB/s). Here each product reads the rows
// front to back, each row whole and one row at a time: ONE sequential stream. Reading two or
// four rows side by side (to share the query loads, or O's loads and stores) was slower cold
// on this VM: GPT-2 small's 12 layers at 513 keys took 1.98-2.8 ms that way against 1.52-1.66
// one row at a time (the per-head path: 1.74-1.92 in the same runs). bench/decode-attention.mjs
// runs this kernel against the per-head one: 1.70-1.76 against 1.81-1.86 ms (baseline build),
// 1.75 against 1.77 (relaxed); the GPT-2 decode steps gain more (docs/PERFORMANCE.md).
//   S = scale·q·Kᵀ  key row after key row, four heads a tile (scoresHeads4: each logit is
//                   computed as lane c of gemmNT's 1×4 tile computes it, so it has its bits),
//                   the heads past the last four with gemmNT1x1;
//   softmax        per head over the part's keys in one block: m = max(LOWEST, max S),
//                   P = e^(S - m) in place, l = ΣP;
//   O = P·V        value row after value row: every head's O row (scratch, L1) gets one
//                   madd per column, so each column is 0 + Σ p·v summed in key order, as the
//                   4×64 kernel's pvRow sums it.
//   pages          before S, one byte of every 4 KiB page of the part's K rows and V rows is
//                   read (common/memory.ts touchPages): in a decode step the cache comes cold
//                   after ~10 MB of weights per layer, and the V pass otherwise meets each page
//                   only as it reaches it. GPT-2 small at 512 keys of context, one thread, the
//                   two builds' steps alternated in one process (both orders): int8 steps
//                   2.3-6.3% faster, f32 steps 0.7-1.1% (docs/PERFORMANCE.md).
// So over the same key range (at most ATTENTION_ROW_KEY_BLOCK keys: one softmax step of the
// per-head path) and with headDim a multiple of 4 (where gemmNT1x1 and the 1×4 tile's lanes
// agree: no d % 4 tail), the two kernels give the same bits; a test holds them to it. Nothing
// else depends on it: the engine splits the keys differently for each kernel.
//
// Memory contract (pointers are byte addresses, strides in ELEMENTS, no alignment required):
//   q  f32: head h's query row at q + h·qHead            (headDim values)
//   k  f32: key j of head h at k + j·ldk + h·kHead        (headDim values), j = k0..k1-1
//   v  f32: value j of head h at v + j·ldv + h·vHead      (headDimV values)
//   o  f32: head h's output row at o + h·oHead            (headDimV values); overlaps no input
//   addMask f32 [k1] or 0: added to every head's logit of key j (a key-padding bias, HF's
//     extended mask); keyMask u8 [k1] or 0: key j is masked for every head iff
//     (byte != 0) == (keyInvert != 0). Both are indexed by the absolute key j.
//   scratch: heads·(ceil4(k1 - k0) + headDimV + 1) f32 (the S/P rows, the O rows, l per
//     head), at most ATTENTION_SCRATCH_BYTES.
//   stats f32 or 0: when given, o receives the UNNORMALISED Σ e^(s - m)·v and head h's (m, l)
//     go to stats + h·statsHead — one part of a key-split attention, merged by
//     f32_attention_combine; otherwise o receives the normalised row (zeros when every key is
//     masked; NaN when a NaN reaches the row, as in torch's math path).
import { hsum4x4, madd } from "../common/simd";
import { touchPages } from "../common/memory";
import { gemmNT1x1 } from "../f32-gemm/f32-gemm-nt-2x4-simd";
import { expShiftSum, rowMax, rowScale, rowZero } from "../f32-softmax/f32-softmax-simd";

// The lowest finite f32: a part's running max before any unmasked key (as in the 4×64 kernel:
// e^(-inf - LOWEST) is an exact 0, with no -inf - -inf).
// @ts-ignore: decorator
@inline const LOWEST: f32 = -3.4028234663852886e38;

/** o[0..n) += p·v, each column one madd (a mul and an add per scalar column). */
// @ts-ignore: decorator
@inline function pv1Key(n: i32, p: f32, v: usize, o: usize): void {
  const vp = f32x4.splat(p);
  const nb = <usize>n << 2, n16 = nb & ~15;
  let off: usize = 0;
  for (; off < n16; off += 16) v128.store(o + off, madd(vp, v128.load(v + off), v128.load(o + off)));
  for (; off < nb; off += 4) store<f32>(o + off, load<f32>(o + off) + p * load<f32>(v + off));
}

/** Logits of key row kRow for heads h..h+3: s_c = scale·q_{h+c}·k_{h+c}, stored at
 * s + c·ldSB. Lane c is computed as gemmNT1x4 computes its lane c (four-lane partial sums
 * over d, hsum4x4, the d % 4 tail, then the scale), so each logit has the tile's bits. */
// @ts-ignore: decorator
@inline function scoresHeads4(
  d: i32, q: usize, qHeadB: usize, kRow: usize, kHeadB: usize, s: usize, ldSB: usize, scale: f32,
): void {
  const q0 = q, q1 = q0 + qHeadB, q2 = q1 + qHeadB, q3 = q2 + qHeadB;
  const b0 = kRow, b1 = b0 + kHeadB, b2 = b1 + kHeadB, b3 = b2 + kHeadB;
  let vacc0 = f32x4.splat(0), vacc1 = f32x4.splat(0), vacc2 = f32x4.splat(0), vacc3 = f32x4.splat(0);
  const d4 = <usize>(d & ~3) << 2;
  let off: usize = 0;
  for (; off < d4; off += 16) {
    vacc0 = madd(v128.load(q0 + off), v128.load(b0 + off), vacc0);
    vacc1 = madd(v128.load(q1 + off), v128.load(b1 + off), vacc1);
    vacc2 = madd(v128.load(q2 + off), v128.load(b2 + off), vacc2);
    vacc3 = madd(v128.load(q3 + off), v128.load(b3 + off), vacc3);
  }
  let vtail = f32x4.splat(0);
  const dB = <usize>d << 2;
  for (; off < dB; off += 4) {
    const va = f32x4(load<f32>(q0 + off), load<f32>(q1 + off), load<f32>(q2 + off), load<f32>(q3 + off));
    const vb = f32x4(load<f32>(b0 + off), load<f32>(b1 + off), load<f32>(b2 + off), load<f32>(b3 + off));
    vtail = madd(va, vb, vtail);
  }
  const vs = f32x4.mul(f32x4.add(hsum4x4(vacc0, vacc1, vacc2, vacc3), vtail), f32x4.splat(scale));
  store<f32>(s, f32x4.extract_lane(vs, 0));
  store<f32>(s + ldSB, f32x4.extract_lane(vs, 1));
  store<f32>(s + 2 * ldSB, f32x4.extract_lane(vs, 2));
  store<f32>(s + 3 * ldSB, f32x4.extract_lane(vs, 3));
}

/** Masks the logit at s: s + -inf (-inf for a finite logit, NaN for NaN or +inf). */
// @ts-ignore: decorator
@inline function maskOne(s: usize): void {
  store<f32>(s, load<f32>(s) + <f32>-Infinity);
}

export function attentionDecode(
  heads: i32, q: usize, qHead: i32, k: usize, ldk: i32, kHead: i32, v: usize, ldv: i32, vHead: i32,
  o: usize, oHead: i32, headDim: i32, headDimV: i32, k0: i32, k1: i32, scale: f32,
  addMask: usize, keyMask: usize, keyInvert: i32, scratch: usize, stats: usize, statsHead: i32,
): void {
  const nb = k1 - k0, ng = (nb + 3) >> 2, ldS = ng << 2, ldSB = <usize>ldS << 2;
  const qHeadB = <usize>qHead << 2, kHeadB = <usize>kHead << 2, vHeadB = <usize>vHead << 2;
  const oHeadB = <usize>oHead << 2, ldkB = <usize>ldk << 2, ldvB = <usize>ldv << 2;

  // Every page of the part's K and V rows first (the header says why). Each range ends at the
  // last byte the products read, so no byte past them is touched; the sum is never negative.
  if (nb > 0) {
    const kEnd = k + <usize>(k1 - 1) * ldkB + (<usize>((heads - 1) * kHead + headDim) << 2);
    const vEnd = v + <usize>(k1 - 1) * ldvB + (<usize>((heads - 1) * vHead + headDimV) << 2);
    if (touchPages(k + <usize>k0 * ldkB, kEnd) + touchPages(v + <usize>k0 * ldvB, vEnd) < 0) return;
  }

  // S[h][j - k0] = scale·q_h·k_j,h: key row after key row, each read whole, four heads a tile.
  const heads4 = heads & ~3;
  for (let j = k0; j < k1; j++) {
    const kj = k + <usize>j * ldkB, sj = scratch + (<usize>(j - k0) << 2);
    let h = 0;
    for (; h < heads4; h += 4) {
      scoresHeads4(headDim, q + <usize>h * qHeadB, qHeadB, kj + <usize>h * kHeadB, kHeadB, sj + <usize>h * ldSB, ldSB, scale);
    }
    for (; h < heads; h++) {
      gemmNT1x1(headDim, q + <usize>h * qHeadB, kj + <usize>h * kHeadB, sj + <usize>h * ldSB, scale, 0);
    }
  }

  // Masks (the same for every head), then -inf past nb so the padding keys get P = 0.
  for (let h = 0; h < heads; h++) {
    const srow = scratch + <usize>h * ldSB;
    if (addMask != 0) {
      for (let jj = 0; jj < nb; jj++) {
        const at = srow + (<usize>jj << 2);
        store<f32>(at, load<f32>(at) + load<f32>(addMask + (<usize>(k0 + jj) << 2)));
      }
    }
    if (keyMask != 0) {
      const maskedWhenSet = keyInvert != 0;
      for (let jj = 0; jj < nb; jj++) {
        if ((load<u8>(keyMask + <usize>(k0 + jj)) != 0) == maskedWhenSet) maskOne(srow + (<usize>jj << 2));
      }
    }
    for (let jj = nb; jj < ldS; jj++) store<f32>(srow + (<usize>jj << 2), -Infinity);
  }

  // Softmax of each head's logits over the part (P in place); its O row starts at zero in the
  // scratch, after the S/P rows (16-byte aligned when the slot is), then l per head: a row per
  // head that only this call writes, so two threads on parts of one head never store to a
  // shared cache line once per key.
  const acc = scratch + <usize>heads * ldSB, accB = <usize>headDimV << 2;
  const ls = acc + <usize>heads * accB;
  for (let h = 0; h < heads; h++) {
    const srow = scratch + <usize>h * ldSB;
    const m = max(LOWEST, rowMax(srow, ldS));
    const l = expShiftSum(srow, srow, ldS, m);
    if (stats != 0) {
      const at = stats + ((<usize>h * <usize>statsHead) << 2);
      store<f32>(at, m);
      store<f32>(at, l, 4);
    }
    store<f32>(ls + (<usize>h << 2), l);
  }
  rowZero(acc, heads * headDimV);

  // O_h += P_h·V_h: value row after value row, each read whole.
  for (let j = k0; j < k1; j++) {
    const vj = v + <usize>j * ldvB, pj = scratch + (<usize>(j - k0) << 2);
    for (let h = 0; h < heads; h++) {
      pv1Key(headDimV, load<f32>(pj + <usize>h * ldSB), vj + <usize>h * vHeadB, acc + <usize>h * accB);
    }
  }

  // Out: the part's unnormalised rows, or O / l (l = 0: every key masked, zeros; l = NaN: a NaN
  // reached the row, NaN as in torch).
  for (let h = 0; h < heads; h++) {
    const l = load<f32>(ls + (<usize>h << 2));
    const row = acc + <usize>h * accB, orow = o + <usize>h * oHeadB;
    if (stats == 0 && l != 0) rowScale(row, orow, headDimV, 1 / l);
    else memory.copy(orow, row, accB);
  }
}
