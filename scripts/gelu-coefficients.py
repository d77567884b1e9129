"""Derives the polynomials of the exact GELU in assembly/f32-activation/f32-gelu-simd.ts.

GELU(x) = x·Φ(x), Φ the standard normal CDF = (1 + erf(x/√2))/2, in two pieces:
  |x| <= 1:  Φ(x) = 1/2 + x·R(x²)                       R of degree 5 in x² (x .. x^11)
  |x| >  1:  Φ(−a) = e^(−a²/2) · t·P(t),  t = 1/(1 + p·a)  P of degree 8 (t .. t^9), a = |x|
             (Φ(x) = 1 − Φ(−a) for x > 1), fitted on a in [1, 14] (Φ(−14) underflows f32)
Each fit minimises the RELATIVE error (Lawson's iteratively re-weighted least squares, which
converges to the minimax fit), so the negative tail of GELU keeps its relative accuracy where
0.5·x·(1 + erf) would cancel. The kernel's error is then measured in wasm, not here
(scripts/gelu-error.mjs).
Run: python3 scripts/gelu-coefficients.py   (numpy and scipy)
"""
import numpy as np
from scipy.special import erfcx, ndtr

A0, AMAX, P_T = 1.0, 14.0, 0.3


def lawson(basis, target, iters=80):
    w = np.ones(len(target))
    for _ in range(iters):
        s = w / np.abs(target)
        c, *_ = np.linalg.lstsq(basis * s[:, None], target * s, rcond=None)
        err = np.abs((basis @ c - target) / target)
        w = w * err**0.5
        w /= w.sum()
    return c, err.max()


x = np.linspace(1e-6, A0, 4001)
small = ndtr(x) - 0.5
c, e = lawson(np.stack([x ** (2 * k + 1) for k in range(6)], 1), small)
print("R (x, x^3, ..., x^11):", ["%.9e" % np.float32(v) for v in c], "rel err %.2e" % e)

a = np.linspace(A0, AMAX, 6001)
q = 0.5 * erfcx(a / np.sqrt(2))  # Φ(−a)·e^(a²/2)
t = 1 / (1 + P_T * a)
c, e = lawson(np.stack([t ** (k + 1) for k in range(9)], 1), q)
print("P (t, t^2, ..., t^9), p = %g:" % P_T, ["%.9e" % np.float32(v) for v in c], "rel err %.2e" % e)
