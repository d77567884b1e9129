// The plain-JavaScript peer: nn.MultiheadAttention(batch_first=True) with Float32Array loops in
// cache-friendly order (i-k-j for the projections, one row of scores at a time). What a careful
// developer writes without SIMD or wasm; also the numbers every other peer is checked against.

/** y[rows, out] = x[rows, in] · Wᵀ + b, W [out, in]. */
function linear(x, rows, inDim, w, outDim, b) {
  const y = new Float32Array(rows * outDim);
  for (let r = 0; r < rows; r++) {
    const xo = r * inDim, yo = r * outDim;
    for (let o = 0; o < outDim; o++) {
      const wo = o * inDim;
      let acc = b ? b[o] : 0;
      for (let i = 0; i < inDim; i++) acc += x[xo + i] * w[wo + i];
      y[yo + o] = acc;
    }
  }
  return y;
}

/** Multi-head self- or cross-attention; weights as torch's in_proj_weight [3E, E] etc. */
export function plainMultiHeadAttention(query, key, value, B, Lq, Lk, E, H, w, causal = false) {
  const d = E / H, scale = 1 / Math.sqrt(d);
  const wq = w.inProjWeight.subarray(0, E * E), wk = w.inProjWeight.subarray(E * E, 2 * E * E);
  const wv = w.inProjWeight.subarray(2 * E * E);
  const bq = w.inProjBias?.subarray(0, E), bk = w.inProjBias?.subarray(E, 2 * E), bv = w.inProjBias?.subarray(2 * E);
  const Q = linear(query, B * Lq, E, wq, E, bq);
  const K = linear(key, B * Lk, E, wk, E, bk);
  const V = linear(value, B * Lk, E, wv, E, bv);
  const ctx = new Float32Array(B * Lq * E);
  const s = new Float32Array(Lk);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      for (let i = 0; i < Lq; i++) {
        const qo = (b * Lq + i) * E + h * d;
        const end = causal ? Math.min(i + 1, Lk) : Lk;
        let max = -Infinity;
        for (let j = 0; j < end; j++) {
          const ko = (b * Lk + j) * E + h * d;
          let dot = 0;
          for (let c = 0; c < d; c++) dot += Q[qo + c] * K[ko + c];
          s[j] = dot * scale;
          if (s[j] > max) max = s[j];
        }
        let sum = 0;
        for (let j = 0; j < end; j++) sum += (s[j] = Math.exp(s[j] - max));
        const co = (b * Lq + i) * E + h * d;
        for (let j = 0; j < end; j++) {
          const p = s[j] / sum, vo = (b * Lk + j) * E + h * d;
          for (let c = 0; c < d; c++) ctx[co + c] += p * V[vo + c];
        }
      }
    }
  }
  return linear(ctx, B * Lq, E, w.outProjWeight, E, w.outProjBias);
}
