// Float64 references of the activations, written like the math (torch.nn.functional.gelu).
// JavaScript has no erf, so Φ, the standard normal CDF, is computed here to ~1e-15 relative:
//   erf(z)  = 2/√π · e^(−z²) · Σ 2ⁿ z^(2n+1) / (1·3·5···(2n+1))   (all terms positive, z < 3)
//   erfc(z) = e^(−z²)/√π · 1/(z + (1/2)/(z + 1/(z + (3/2)/(z + …))))  (continued fraction, z ≥ 3)

const SQRT_PI = Math.sqrt(Math.PI);

/** erf(z) for 0 <= z < 3 by the positive series (no cancellation). */
function erfSeries(z: number): number {
  let term = z, sum = z;
  for (let n = 1; term > 1e-18 * sum; n++) {
    term *= (2 * z * z) / (2 * n + 1);
    sum += term;
  }
  return (2 / SQRT_PI) * Math.exp(-z * z) * sum;
}

/** erfc(z) for z >= 3 by the continued fraction, evaluated bottom-up. */
function erfcFraction(z: number): number {
  let f = z;
  for (let n = 200; n >= 1; n--) f = z + (n / 2) / f;
  return Math.exp(-z * z) / SQRT_PI / f;
}

/** erf(z) in float64. */
export function erf(z: number): number {
  if (Number.isNaN(z)) return z;
  const a = Math.abs(z);
  const e = a < 3 ? erfSeries(a) : 1 - erfcFraction(a);
  return z < 0 ? -e : e;
}

/** Φ(x) = P(N(0, 1) <= x) = (1 + erf(x/√2))/2, accurate in both tails. */
export function normalCdf(x: number): number {
  if (Number.isNaN(x)) return x;
  const z = Math.abs(x) / Math.SQRT2;
  const tail = z < 3 ? (1 - erfSeries(z)) / 2 : erfcFraction(z) / 2; // Φ(−|x|)
  return x < 0 ? tail : 1 - tail;
}

/** F.gelu(x): x·Φ(x) (approximate = 'none'). */
export function gelu(x: number): number {
  if (x === -Infinity) return 0;
  return x === Infinity ? x : x * normalCdf(x);
}

/** F.gelu(x, approximate='tanh'): x/2·(1 + tanh(√(2/π)(x + 0.044715x³))). */
export function geluTanh(x: number): number {
  if (x === -Infinity) return 0;
  if (x === Infinity) return x;
  const u = Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x);
  // 1 + tanh(u) = 2/(1 + e^(−2u)): no cancellation for u < 0
  return x / (1 + Math.exp(-2 * u));
}

/** F.relu(x). */
export function relu(x: number): number {
  return Number.isNaN(x) ? x : Math.max(x, 0);
}
