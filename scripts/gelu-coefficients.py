"""Derives the polynomials of the exact GELU in assembly/f32-activation/f32-gelu-simd.ts.

GELU(x) = x·Φ(x), Φ the standard normal CDF = (1 + erf(x/√2))/2. Two paths:
  central, x in [−C_LO, C_HI] (every lane of a vector):
             Φ(x) = 1/2 + x·C(x²)                      C of degree 7 in x² (x .. x^15)
  full, any x, in two pieces:
    |x| <= 1:  Φ(x) = 1/2 + x·R(x²)                       R of degree 5 in x² (x .. x^11)
    |x| >  1:  Φ(−a) = e^(−a²/2) · t·P(t),  t = 1/(1 + p·a)  P of degree 8 (t .. t^9), a = |x|
               (Φ(x) = 1 − Φ(−a) for x > 1), fitted on a in [1, 14] (Φ(−14) underflows f32)
R and P minimise the RELATIVE error (Lawson's iteratively re-weighted least squares, which
converges to the minimax fit), so the negative tail of GELU keeps its relative accuracy where
0.5·x·(1 + erf) would cancel. C is fitted on [0, C_HI] for the error relative to Φ(−min(x, C_LO)):
that is what 1/2 + x·C costs GELU's relative accuracy on x in [−C_LO, 0], where 1/2 + x·C cancels;
C_LO bounds that cancellation (Φ(−1.5) = 0.067), and vectors with a lane outside go the full path.
The kernel's error is then measured in wasm, not here (scripts/gelu-error.mjs). A rerun can move
the last printed digit of a coefficient (the solver's rounding); what the kernel holds is what is measured.
Run: /usr/bin/python3 scripts/gelu-coefficients.py   (numpy; Φ from math.erfc in float64)
"""
import math

import numpy as np

A0, AMAX, P_T = 1.0, 14.0, 0.3
C_LO, C_HI = 1.5, 2.0


def ndtr(x):
    return np.array([0.5 * math.erfc(-v / math.sqrt(2)) for v in x])


def lawson(basis, target, weight, iters=80):
    """Coefficients minimising max |basis·c − target|·weight; columns are scaled to unit max
    for the solve (the powers of x span many decades on [0, C_HI])."""
    scale = np.abs(basis).max(0)
    b = basis / scale
    w = np.ones(len(target))
    for _ in range(iters):
        s = w * weight
        c, *_ = np.linalg.lstsq(b * s[:, None], target * s, rcond=None)
        err = np.abs((b @ c - target) * weight)
        w = w * err**0.5
        w /= w.sum()
    return c / scale, err.max()


x = np.linspace(1e-6, A0, 4001)
small = ndtr(x) - 0.5
c, e = lawson(np.stack([x ** (2 * k + 1) for k in range(6)], 1), small, 1 / small)
print("R (x, x^3, ..., x^11):", ["%.9e" % np.float32(v) for v in c], "rel err %.2e" % e)

a = np.linspace(A0, AMAX, 6001)
q = np.array([0.5 * math.exp(v * v / 2) * math.erfc(v / math.sqrt(2)) for v in a])  # Φ(−a)·e^(a²/2)
t = 1 / (1 + P_T * a)
c, e = lawson(np.stack([t ** (k + 1) for k in range(9)], 1), q, 1 / q)
print("P (t, t^2, ..., t^9), p = %g:" % P_T, ["%.9e" % np.float32(v) for v in c], "rel err %.2e" % e)

x = np.linspace(1e-6, C_HI, 8001)
central = ndtr(x) - 0.5
c, e = lawson(np.stack([x ** (2 * k + 1) for k in range(8)], 1), central, 1 / ndtr(-np.minimum(x, C_LO)))
print("C (x, x^3, ..., x^15) on [-%g, %g]:" % (C_LO, C_HI), ["%.9e" % np.float32(v) for v in c],
      "err relative to Φ(−min(x, %g)) %.2e" % (C_LO, e))
