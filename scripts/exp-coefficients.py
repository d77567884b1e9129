"""Derives the e^r polynomial of assembly/common/exp.ts and measures its f32 error.

p(r) = 1 + c1 r + ... + c5 r^5 on [-ln2/2, ln2/2], relative error minimised by Lawson's
iteratively re-weighted least squares (converges to the minimax fit). The f32 evaluation of
the whole kernel (range reduction included) is then emulated on x in [-86, 0].
Run: python3 scripts/exp-coefficients.py   (numpy only)
"""
import numpy as np

half = np.log(2) / 2
r = np.linspace(-half, half, 20001)
basis = np.stack([r**k for k in range(1, 6)], 1)
target = np.exp(r) - 1
w = np.ones_like(r)
for _ in range(200):
    scale = w / np.exp(r)
    c, *_ = np.linalg.lstsq(basis * scale[:, None], target * scale, rcond=None)
    err = np.abs((basis @ c - target) / np.exp(r))
    w = w * err**0.5
    w /= w.sum()
c32 = [np.float32(x) for x in c]
print("c1..c5 =", [float(x) for x in c32], "max rel err (exact arithmetic):", err.max())

f = np.float32
xs = f(-np.linspace(0, 86, 2_000_001))
n = np.rint(xs * f(1.44269504)).astype(f)
red = (xs - n * f(0.693145751953125)).astype(f)
red = (red - n * f(1.42860677e-6)).astype(f)
p = c32[4]
for k in (3, 2, 1, 0):
    p = (p * red + c32[k]).astype(f)
p = (p * red + f(1)).astype(f)
res = (p * np.exp2(n.astype(np.float64))).astype(f)
ref = np.exp(xs.astype(np.float64))
print("max rel err of the f32 kernel on [-86, 0]:", (np.abs(res - ref) / ref).max())
