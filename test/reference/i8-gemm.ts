// Plain-JS reference of the int8 GEMM family (assembly/i8-gemm/i8-gemm.ts), written like the
// math: per-channel symmetric weight codes, per-row asymmetric activation codes, an exact
// integer sum, then the same f32 rescale in the same order as the kernel. Every f32 operation
// is Math.fround of the exact result, which is what one f32 operation gives (for + − × ÷ the
// double-rounded f64 result equals the f32 one), so the reference reproduces the kernel's bits.

const f = Math.fround;
const F32_MAX = 3.4028234663852886e38;
const MAGIC = 12582912; // 1.5·2²³

/** Round half to even. */
export function rne(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

const clamp = (x: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, x));

export interface QuantizedWeight {
  n: number; k: number;
  codes: Int8Array;     // [n, k]
  scale: Float32Array;  // [n]
  colsum: Int32Array;   // [n], Σ codes of each output channel
}

/** W[n, k] (row stride ldw) → int8 codes, one symmetric scale per output channel. */
export function quantizeWeight(w: Float32Array, n: number, k: number, ldw = k): QuantizedWeight {
  const codes = new Int8Array(n * k), scale = new Float32Array(n), colsum = new Int32Array(n);
  for (let j = 0; j < n; j++) {
    let amax = 0;
    for (let kk = 0; kk < k; kk++) amax = Math.max(amax, Math.abs(w[j * ldw + kk]));
    const live = amax > 0 && f(127 / amax) <= F32_MAX; // a channel below ~3.7e-37 counts as zero
    const inv = live ? f(127 / amax) : 0;
    scale[j] = live ? f(amax / 127) : 0;
    for (let kk = 0; kk < k; kk++) {
      const q = live ? clamp(rne(f(w[j * ldw + kk] * inv)), -127, 127) : 0;
      codes[j * k + kk] = q;
      colsum[j] += q;
    }
  }
  return { n, k, codes, scale, colsum };
}

export interface QuantizedRows {
  m: number; k: number;
  codes: Uint8Array;   // [m, k]
  scale: Float32Array; // [m] (NaN: a non-finite row)
  zero: Int32Array;    // [m]
}

/** A[m, k] (row stride lda) → codes 0..aMax, one scale and zero point per row. */
export function quantizeRows(a: Float32Array, m: number, k: number, aMax: number, lda = k): QuantizedRows {
  const codes = new Uint8Array(m * k), scale = new Float32Array(m), zero = new Int32Array(m);
  for (let i = 0; i < m; i++) {
    let lo = 0, hi = 0, nan = false;
    for (let kk = 0; kk < k; kk++) {
      const x = a[i * lda + kk];
      if (Number.isNaN(x)) nan = true;
      lo = Math.min(lo, x);
      hi = Math.max(hi, x);
    }
    let range = f(hi - lo), levels = aMax;
    if (!nan && !(range <= F32_MAX) && lo >= -F32_MAX && hi <= F32_MAX) {
      range = f(hi * 0.5 - lo * 0.5); // finite extremes whose range overflows: halves
      levels = aMax / 2;
    }
    let inv = 0;
    if (nan || !(range <= F32_MAX)) scale[i] = Number.NaN;
    else if (range > 0 && f(levels / range) <= F32_MAX) { // else below ~7.5e-37: a zero row
      scale[i] = f(range / levels);
      inv = f(levels / range);
      zero[i] = clamp(rne(f(-lo * inv)), 0, aMax);
    }
    for (let kk = 0; kk < k; kk++) {
      const t = f(f(a[i * lda + kk] * inv) + MAGIC);
      codes[i * k + kk] = Number.isNaN(scale[i]) ? 0 : clamp(t - MAGIC + zero[i], 0, aMax);
    }
  }
  return { m, k, codes, scale, zero };
}

/** C[m, n] = act(f32(Σ aq·wq − za·colsum)·(sa·sw) + bias) + residual, C with row stride n. */
export function i8Gemm(
  a: QuantizedRows, w: QuantizedWeight, bias?: Float32Array, act: (x: number) => number = (x) => x,
  residual?: Float32Array,
): Float32Array {
  const { m, k } = a, n = w.n;
  const c = new Float32Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let acc = 0;
      for (let kk = 0; kk < k; kk++) acc += a.codes[i * k + kk] * w.codes[j * k + kk];
      acc -= a.zero[i] * w.colsum[j];
      let y = f(f(f(acc) * f(a.scale[i] * w.scale[j])) + (bias ? bias[j] : 0));
      y = f(act(y));
      if (residual) y = f(y + residual[i * n + j]);
      c[i * n + j] = y;
    }
  }
  return c;
}

/** Dequantized weight: sw[j]·wq[j, kk]. */
export function dequantizeWeight(q: QuantizedWeight): Float32Array {
  const out = new Float32Array(q.n * q.k);
  for (let j = 0; j < q.n; j++) for (let kk = 0; kk < q.k; kk++) out[j * q.k + kk] = q.scale[j] * q.codes[j * q.k + kk];
  return out;
}

/** Dequantized rows: sa[i]·(aq[i, kk] − za[i]). */
export function dequantizeRows(q: QuantizedRows): Float32Array {
  const out = new Float32Array(q.m * q.k);
  for (let i = 0; i < q.m; i++) for (let kk = 0; kk < q.k; kk++) out[i * q.k + kk] = q.scale[i] * (q.codes[i * q.k + kk] - q.zero[i]);
  return out;
}
