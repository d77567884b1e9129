"""Derives the polynomials of the exact GELU in assembly/f32-activation/f32-gelu-simd.ts.

GELU(x) = x·Φ(x), Φ the standard normal CDF = (1 + erf(x/√2))/2. Two paths, chosen per lane:
  central, x in [−C_LO, C_HI]:
             Φ(x) = 1/2 + x·C(x²)                      C of degree 7 in x² (x .. x^15)
  full, every other x (so |x| >= C_LO):
             Φ(−a) = e^(−a²/2) · t·P(t),  t = 1/(1 + P_T·a),  a = |x|,  P of degree 7 (t .. t^8)
             (Φ(x) = 1 − Φ(−a) for x > 0), fitted on a in [C_LO, 14] (Φ(−14) underflows f32)
P minimises the RELATIVE error (Lawson's iteratively re-weighted least squares, which converges
to the minimax fit), so the negative tail of GELU keeps its relative accuracy where
0.5·x·(1 + erf) would cancel. C is fitted on [0, C_HI] for the error relative to Φ(−min(x, C_LO)):
that is what 1/2 + x·C costs GELU's relative accuracy on x in [−C_LO, 0], where 1/2 + x·C cancels;
C_LO bounds that cancellation (Φ(−1.5) = 0.067), and lanes outside take the full path. Since
only lanes with |x| >= C_LO take the full path, P needs no accuracy below C_LO.
The kernel's error is then measured in wasm, not here (scripts/gelu-error.mjs). A rerun can move
the last printed digit of a coefficient (the solver's rounding); what the kernel holds is what is
measured. Prints the constants as the kernel declares them.
Run: /usr/bin/python3 scripts/gelu-coefficients.py   (numpy; Φ from math.erfc in float64)
"""
import math

import numpy as np

C_LO, C_HI = 1.5, 2.0
AMAX, P_T, P_TERMS = 14.0, 0.5, 8


def ndtr(x):
    return np.array([0.5 * math.erfc(-v / math.sqrt(2)) for v in x])


def lawson(basis, target, weight, iters=200):
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


x = np.linspace(1e-6, C_HI, 8001)
central = ndtr(x) - 0.5
c, e = lawson(np.stack([x ** (2 * k + 1) for k in range(8)], 1), central, 1 / ndtr(-np.minimum(x, C_LO)), iters=80)
print("// C (x, x^3, ..., x^15) on [-%g, %g]: error relative to Φ(−min(x, %g)) %.2e" % (C_LO, C_HI, C_LO, e))
for k, v in enumerate(c):
    print("@inline const C%d: f32 = %.9e;" % (2 * k + 1, np.float32(v)))

a = np.linspace(C_LO, AMAX, 8001)
q = np.array([0.5 * math.exp(v * v / 2) * math.erfc(v / math.sqrt(2)) for v in a])  # Φ(−a)·e^(a²/2)
t = 1 / (1 + P_T * a)
c, e = lawson(np.stack([t ** (k + 1) for k in range(P_TERMS)], 1), q, 1 / q)
print("// P (t, t^2, ..., t^%d), t = 1/(1 + %g·a), a in [%g, %g]: relative error %.2e" % (P_TERMS, P_T, C_LO, AMAX, e))
for k, v in enumerate(c):
    print("@inline const P%d: f32 = %.9e;" % (k + 1, np.float32(v)))
