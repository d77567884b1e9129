// The plain-JavaScript peer: what a careful developer writes without SIMD or wasm, in
// cache-friendly loop order; also the numbers every other implementation is checked against.

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

/** One head: rows of q, k, v at the given offsets and row strides; writes ctx rows. */
function head(q, qo, ldq, k, ko, ldk, v, vo, ldv, ctx, co, ldc, Lq, Lk, d, scale, causal, len) {
  const s = new Float32Array(Lk);
  for (let i = 0; i < Lq; i++) {
    const end = Math.min(len, causal ? i + 1 : Lk);
    let max = -Infinity;
    for (let j = 0; j < end; j++) {
      let dot = 0;
      for (let c = 0; c < d; c++) dot += q[qo + i * ldq + c] * k[ko + j * ldk + c];
      s[j] = dot * scale;
      if (s[j] > max) max = s[j];
    }
    let sum = 0;
    for (let j = 0; j < end; j++) sum += (s[j] = Math.exp(s[j] - max));
    for (let j = 0; j < end; j++) {
      const p = s[j] / sum;
      for (let c = 0; c < d; c++) ctx[co + i * ldc + c] += p * v[vo + j * ldv + c];
    }
  }
}

/** nn.MultiheadAttention(batch_first=True) forward; torch weight names and layouts. */
export function plainMultiHeadAttention(query, key, value, B, Lq, Lk, E, H, w, causal = false) {
  const d = E / H, scale = 1 / Math.sqrt(d);
  const wi = w.inProjWeight, bi = w.inProjBias;
  const Q = linear(query, B * Lq, E, wi.subarray(0, E * E), E, bi?.subarray(0, E));
  const K = linear(key, B * Lk, E, wi.subarray(E * E, 2 * E * E), E, bi?.subarray(E, 2 * E));
  const V = linear(value, B * Lk, E, wi.subarray(2 * E * E), E, bi?.subarray(2 * E));
  const ctx = new Float32Array(B * Lq * E);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      head(Q, b * Lq * E + h * d, E, K, b * Lk * E + h * d, E, V, b * Lk * E + h * d, E,
        ctx, b * Lq * E + h * d, E, Lq, Lk, d, scale, causal, Lk);
    }
  }
  return linear(ctx, B * Lq, E, w.outProjWeight, E, w.outProjBias);
}

/** F.scaled_dot_product_attention on [batch, heads, seq, d] with optional causal / validLens. */
export function plainAttention(q, k, v, { batch, heads, seqQ, seqK, headDim: d, causal = false, validLens }) {
  const out = new Float32Array(batch * heads * seqQ * d);
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < heads; h++) {
      const slice = b * heads + h;
      head(q, slice * seqQ * d, d, k, slice * seqK * d, d, v, slice * seqK * d, d, out, slice * seqQ * d, d,
        seqQ, seqK, d, 1 / Math.sqrt(d), causal, validLens ? validLens[b] : seqK);
    }
  }
  return out;
}

/** erf by Abramowitz & Stegun 7.1.26 (|error| <= 1.5e-7: far inside the bench's 1e-4). */
function erf(x) {
  const t = 1 / (1 + 0.3275911 * Math.abs(x));
  const y = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-x * x);
  return x < 0 ? -y : y;
}

/** In place: rows of x [rows, d] := layer_norm(x) · gamma + beta (mean and variance in float64). */
function layerNormRows(x, rows, d, gamma, beta, eps) {
  for (let r = 0; r < rows; r++) {
    const o = r * d;
    let mean = 0, variance = 0;
    for (let i = 0; i < d; i++) mean += x[o + i];
    mean /= d;
    for (let i = 0; i < d; i++) variance += (x[o + i] - mean) ** 2;
    const inv = 1 / Math.sqrt(variance / d + eps);
    for (let i = 0; i < d; i++) x[o + i] = (x[o + i] - mean) * inv * gamma[i] + beta[i];
  }
}

/** nn.TransformerEncoderLayer(batch_first=True) forward in eval mode, weights keyed by torch's
 * state-dict names: post-norm x = norm1(x + SA(x)); x = norm2(x + linear2(act(linear1(x))));
 * pre-norm (normFirst) x = x + SA(norm1(x)); x = x + FFN(norm2(x)). act: 'relu' or exact-erf 'gelu'. */
export function plainEncoderLayer(src, B, L, { dModel: d, nhead, ff, activation, eps, normFirst = false }, w) {
  const rows = B * L;
  const mha = { inProjWeight: w['self_attn.in_proj_weight'], inProjBias: w['self_attn.in_proj_bias'],
    outProjWeight: w['self_attn.out_proj.weight'], outProjBias: w['self_attn.out_proj.bias'] };
  const act = activation === 'gelu' ? (v) => 0.5 * v * (1 + erf(v / Math.SQRT2)) : (v) => Math.max(v, 0);
  const normed = (x, i) => { const y = x.slice(); layerNormRows(y, rows, d, w[`norm${i}.weight`], w[`norm${i}.bias`], eps); return y; };
  const ffn = (x) => {
    const h = linear(x, rows, d, w['linear1.weight'], ff, w['linear1.bias']);
    for (let i = 0; i < h.length; i++) h[i] = act(h[i]);
    return linear(h, rows, ff, w['linear2.weight'], d, w['linear2.bias']);
  };
  const sa = (x) => plainMultiHeadAttention(x, x, x, B, L, L, d, nhead, mha);
  const add = (a, b) => a.map((v, i) => v + b[i]);
  if (normFirst) {
    const x = add(src, sa(normed(src, 1)));
    return add(x, ffn(normed(x, 2)));
  }
  const x = add(src, sa(src));
  layerNormRows(x, rows, d, w['norm1.weight'], w['norm1.bias'], eps);
  const y = add(x, ffn(x));
  layerNormRows(y, rows, d, w['norm2.weight'], w['norm2.bias'], eps);
  return y;
}
