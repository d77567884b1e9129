// Elementwise activations: y[i] = act(x[i]) for i < n, as torch.nn.functional computes them,
// and the four-lane helpers that the packed GEMM's epilogue applies to its accumulators.
// Memory contract: x and y are byte addresses of f32 [n], no alignment required; y may equal
// x (in place), never partially overlap.
//
// GELU, exact (approximate = 'none'): x·Φ(x), Φ(x) = (1 + erf(x/√2))/2 the normal CDF, computed
// as Φ itself rather than 1 + erf, so the negative tail (where 1 + erf cancels) keeps its
// relative accuracy. Two paths, chosen per lane:
//   central, x in [−1.5, 2]:   Φ(x) = 1/2 + x·C(x²)                  C: odd terms x .. x^15
//   full, any other x or NaN:  Φ(−a) = e^(−a²/2) · t·P(t),  t = 1/(1 + a/2),  a = |x|
//                             Φ(x) = 1 − Φ(−a) for x > 0             P: t .. t^8
// A lane's path depends on its own x only. The central path is a third of the full one's work
// (no division, no exp), and a vector runs only the paths its lanes need: on x ~ N(0, 1) 69% of
// the vectors are all central. 1/2 + x·C cancels for x < 0, and −1.5 bounds what that costs
// (Φ(−1.5) = 0.067).
// C minimises the error relative to Φ(−min(x, 1.5)) on [0, 2], P the relative error on
// [1.5, 14], the only |x| that take the full path (scripts/gelu-coefficients.py: 1.5e-8 and
// 4.2e-9 in exact arithmetic). e^(−a²/2) takes its
// argument in two parts, −ah²/2 (exact, ah = a cut to 12 significant bits) + −(a − ah)(a + ah)/2,
// because rounding a² alone would cost 2·(a²/2)·2^-24 relative (6e-6 at a = 13).
// GELU, tanh form (approximate = 'tanh'): x/2·(1 + tanh u), u = √(2/π)(x + 0.044715x³), through
// the identity (1 + tanh u)/2 = σ(2u) = 1/(1 + e^(−2u)): with E = e^(−2|u|) (<= 1),
//   σ(2u) = 1/(1 + E) for u >= 0,  E/(1 + E) for u < 0,
// which neither cancels for u < 0 (1 + tanh u would) nor needs a separate polynomial near 0
// (E ≈ 1 there, and 1/(1 + E) is as accurate as E).
// Measured in wasm against float64 (scripts/gelu-error.mjs: every 256th f32 in [-16, 16], 8.6M
// values, a 1e-4 grid, and every f32 of [1, 2) and [-2, -1); both builds) — worst error:
//   exact: abs 1.6e-7·max(1, |x|); rel 1.08e-6 (15 ulp, at x ≈ -1.491, where 1/2 + x·C cancels
//          most; relaxed build 8.2e-7), <= 4.0e-7 everywhere in the tail down to x = -13
//          (|gelu| >= 1e-35)
//   tanh:  abs 1.6e-7·max(1, |x|); rel 1.9e-7 on x >= 0, 5.7e-7 on [-2, 0), then growing with
//          |2u| to 2.0e-6 at x = -5 and 1.2e-5 at x = -9.6: the f32 rounding of the argument 2u
//          (about |2u|·3·2^-24 relative through e^(−2|u|)), not the approximation (torch's
//          1 + tanh u loses everything there: it returns 0 or an error of ~1e-7·|x|).
// Special values as torch: NaN → NaN, +inf → +inf, −inf → NaN (torch's −inf·Φ(−inf) = −inf·0;
// both forms set every bit of that lane, a NaN). Results below about 1e-37 in magnitude
// (x < −13.1 exact, x < −9.9 tanh) are flushed to −0 by the exp cutoff.
import { madd } from "../common/simd";
import { expNonPositive, expNonPositiveSplit } from "../common/exp";

/** Activation codes of f32_gemm_packed (mirrored in src/wasm/abi.ts). */
export const ACTIVATION_NONE: i32 = 0;
export const ACTIVATION_RELU: i32 = 1;
export const ACTIVATION_GELU: i32 = 2;
export const ACTIVATION_GELU_TANH: i32 = 3;

// Φ(x) − 1/2 = x·C(x²) on [−C_LO, C_HI], every lane of a vector (scripts/gelu-coefficients.py)
// @ts-ignore: decorator
@inline const C_LO: f32 = 1.5;
// @ts-ignore: decorator
@inline const C_HI: f32 = 2.0;
// @ts-ignore: decorator
@inline const C1: f32 = 3.989422321e-01;
// @ts-ignore: decorator
@inline const C3: f32 = -6.648998708e-02;
// @ts-ignore: decorator
@inline const C5: f32 = 9.972400032e-03;
// @ts-ignore: decorator
@inline const C7: f32 = -1.185716479e-03;
// @ts-ignore: decorator
@inline const C9: f32 = 1.141889152e-04;
// @ts-ignore: decorator
@inline const C11: f32 = -8.874499144e-06;
// @ts-ignore: decorator
@inline const C13: f32 = 5.090017225e-07;
// @ts-ignore: decorator
@inline const C15: f32 = -1.584812637e-08;
// Φ(−a)·e^(a²/2) = t·P(t), t = 1/(1 + P_T·a), on C_LO <= a <= 14: the full path's result is
// used only for lanes outside [−C_LO, C_HI] (scripts/gelu-coefficients.py)
// @ts-ignore: decorator
@inline const P_T: f32 = 0.5;
// @ts-ignore: decorator
@inline const P1: f32 = 1.994763762e-01;
// @ts-ignore: decorator
@inline const P2: f32 = 1.992946267e-01;
// @ts-ignore: decorator
@inline const P3: f32 = 1.521311104e-01;
// @ts-ignore: decorator
@inline const P4: f32 = 2.981613018e-02;
// @ts-ignore: decorator
@inline const P5: f32 = 3.362737969e-02;
// @ts-ignore: decorator
@inline const P6: f32 = -3.916397393e-01;
// @ts-ignore: decorator
@inline const P7: f32 = 4.228950143e-01;
// @ts-ignore: decorator
@inline const P8: f32 = -1.472232342e-01;
// |x| beyond which Φ(−|x|)·|x| is below f32's range (e^(−14²/2) < e^−86, the exp cutoff):
// clamping there keeps −inf·0 (NaN) out of −inf's result.
// @ts-ignore: decorator
@inline const GELU_CLAMP: f32 = 14.0;
// @ts-ignore: decorator
@inline const CUT_12_BITS: i32 = 0xFFFFF000; // keeps sign, exponent and 11 mantissa bits
// 2u = x·(TANH_2K + TANH_2K·0.044715·x²), TANH_2K = 2·√(2/π) (torch's kBeta·2, kKappa)
// @ts-ignore: decorator
@inline const TANH_2K: f32 = 1.5957691216057308;
// @ts-ignore: decorator
@inline const TANH_2K_KAPPA: f32 = 0.07135481627159279; // 2·√(2/π)·0.044715
// x below which e^(−2|u|) is under the exp cutoff (2|u(−10)| = 87.3 > 86): −inf is clamped here.
// @ts-ignore: decorator
@inline const GELU_TANH_CLAMP: f32 = 10.0;

/** max(x, 0) on four lanes (NaN stays NaN: pmax returns its first operand when unordered). */
// @ts-ignore: decorator
@inline export function relu(vx: v128): v128 {
  return f32x4.pmax(vx, f32x4.splat(0));
}

/** x·Φ(x) on four lanes (F.gelu, approximate = 'none'); error in the file comment. A lane in
 * [−C_LO, C_HI] gets the central polynomial, any other lane (NaN included) the full form, so
 * each lane's result depends on its own x only — never on the other lanes of its vector (the
 * tile's tail lanes, a thread's split): only the work skipped depends on them. */
// @ts-ignore: decorator
@inline export function geluErf(vx: v128): v128 {
  const vcentral = v128.and(f32x4.ge(vx, f32x4.splat(-C_LO)), f32x4.le(vx, f32x4.splat(C_HI)));
  if (i32x4.all_true(vcentral)) return geluErfCentral(vx);
  const vfull = geluErfFull(vx);
  if (!v128.any_true(vcentral)) return vfull;
  return v128.bitselect(geluErfCentral(vx), vfull, vcentral);
}

/** x·(1/2 + x·C(x²)) on four lanes, for lanes in [−C_LO, C_HI] only. */
// @ts-ignore: decorator
@inline function geluErfCentral(vx: v128): v128 {
  const vs = f32x4.mul(vx, vx);
  let vc = madd(f32x4.splat(C15), vs, f32x4.splat(C13));
  vc = madd(vc, vs, f32x4.splat(C11));
  vc = madd(vc, vs, f32x4.splat(C9));
  vc = madd(vc, vs, f32x4.splat(C7));
  vc = madd(vc, vs, f32x4.splat(C5));
  vc = madd(vc, vs, f32x4.splat(C3));
  vc = madd(vc, vs, f32x4.splat(C1));
  return f32x4.mul(vx, madd(vx, vc, f32x4.splat(0.5)));
}

/** x·Φ(x) on four lanes with |x| >= C_LO (or NaN, ±inf): Φ(−|x|) = e^(−x²/2)·t·P(t), mirrored
 * for x > 0. P is fitted on |x| in [C_LO, 14] only: below C_LO this is not accurate (3e-3
 * relative at 0), and geluErf never asks it there. */
// @ts-ignore: decorator
@inline function geluErfFull(vx: v128): v128 {
  const vclamp = f32x4.splat(GELU_CLAMP);
  const va = f32x4.pmin(f32x4.abs(vx), vclamp); // NaN stays NaN (pmin returns its first operand)
  const vt = f32x4.div(f32x4.splat(1), madd(va, f32x4.splat(P_T), f32x4.splat(1)));
  let vp = madd(f32x4.splat(P8), vt, f32x4.splat(P7));
  vp = madd(vp, vt, f32x4.splat(P6));
  vp = madd(vp, vt, f32x4.splat(P5));
  vp = madd(vp, vt, f32x4.splat(P4));
  vp = madd(vp, vt, f32x4.splat(P3));
  vp = madd(vp, vt, f32x4.splat(P2));
  vp = madd(vp, vt, f32x4.splat(P1));
  const vah = v128.and(va, i32x4.splat(CUT_12_BITS));
  const vhi = f32x4.mul(f32x4.mul(vah, vah), f32x4.splat(-0.5));
  const vlo = f32x4.mul(f32x4.mul(f32x4.sub(va, vah), f32x4.add(va, vah)), f32x4.splat(-0.5));
  const vtail = f32x4.mul(f32x4.mul(vt, vp), expNonPositiveSplit(vhi, vlo)); // Φ(−a)
  const vphi = v128.bitselect(vtail, f32x4.sub(f32x4.splat(1), vtail), f32x4.lt(vx, f32x4.splat(0)));
  return negInfToNaN(vx, f32x4.mul(f32x4.pmax(vx, f32x4.neg(vclamp)), vphi));
}

/** vy, with every lane where vx is −inf set to all ones (a NaN), as torch's −inf·0 gives. */
// @ts-ignore: decorator
@inline function negInfToNaN(vx: v128, vy: v128): v128 {
  return v128.or(vy, f32x4.eq(vx, f32x4.splat(-Infinity)));
}

/** x·σ(2u), u = √(2/π)(x + 0.044715x³), on four lanes (F.gelu, approximate = 'tanh'). */
// @ts-ignore: decorator
@inline export function geluTanh(vx: v128): v128 {
  const vxc = f32x4.pmax(vx, f32x4.splat(-GELU_TANH_CLAMP)); // NaN stays NaN
  const v2u = f32x4.mul(vxc, madd(f32x4.mul(vxc, vxc), f32x4.splat(TANH_2K_KAPPA), f32x4.splat(TANH_2K)));
  const ve = expNonPositive(v128.or(v2u, f32x4.splat(-0.0))); // e^(−2|u|)
  const vnum = v128.bitselect(f32x4.splat(1), ve, f32x4.ge(v2u, f32x4.splat(0)));
  return negInfToNaN(vx, f32x4.mul(vxc, f32x4.div(vnum, f32x4.add(f32x4.splat(1), ve))));
}

/** y[i] = gelu(x[i]) for i < n, exact (approximate 0) or tanh form (1). */
export function geluRows(n: i32, x: usize, y: usize, approximate: i32): void {
  const nb = <usize>n << 2, n4 = nb & ~15;
  if (approximate != 0) {
    let off: usize = 0;
    for (; off < n4; off += 16) v128.store(y + off, geluTanh(v128.load(x + off)));
    for (; off < nb; off += 4) {
      store<f32>(y + off, f32x4.extract_lane(geluTanh(f32x4.splat(load<f32>(x + off))), 0));
    }
  } else {
    let off: usize = 0;
    for (; off < n4; off += 16) v128.store(y + off, geluErf(v128.load(x + off)));
    for (; off < nb; off += 4) {
      store<f32>(y + off, f32x4.extract_lane(geluErf(f32x4.splat(load<f32>(x + off))), 0));
    }
  }
}
