// GPT2LMHeadModel forward (modeling_gpt2.py, eval mode) step by step, from a state dict with the
// table's keys (no prefix; Conv1D weights [in, out]; lm_head tied to wte unless given), batch 1,
// causal, no mask. Everything is float64 except, with `int8`, each projection: its input rows
// are rounded to f32 and quantized per row, its weight per output channel, and the product is
// the int8 GEMM reference's (test/reference/i8-gemm.ts: exact integer sum, f32 rescale, bias),
// so it follows the engine's quantization math step for step.
import { geluTanh } from './activation.js';
import { referenceLayerNorm } from './layer-norm.js';
import { i8Gemm, quantizeRows, quantizeWeight, type QuantizedWeight } from './i8-gemm.js';

export interface RefGpt2Config {
  embd: number; heads: number; layers: number; vocab: number; inner: number; eps: number;
  /** HF's scale_attn_weights (default true) and scale_attn_by_inverse_layer_idx (default false). */
  scaleAttnWeights?: boolean; scaleAttnByInverseLayerIdx?: boolean;
  /** The MLP's activation (HF's activation_function), default gelu_new (geluTanh). */
  act?: (x: number) => number;
}

/** logits [L, vocab] for ids [L]; `hiddenStates`, when given, receives HF's output_hidden_states:
 * each block's input, then ln_f of the last block's output. */
export function referenceGpt2(
  c: RefGpt2Config, w: Record<string, Float32Array>, ids: ArrayLike<number>, int8?: { aMax: number },
  hiddenStates?: Float64Array[],
): Float64Array {
  const E = c.embd, L = ids.length, H = c.heads, d = E / H;
  const weights = new Map<string, QuantizedWeight>();
  /** y[L, n] = x[L, k]·W + b for W [k, n] (`transposed`: W [n, k], nn.Linear's). */
  const linear = (x: Float64Array, key: string, k: number, n: number, bias?: Float32Array, transposed = false): Float64Array => {
    const W = w[key];
    if (!int8) {
      const y = new Float64Array(L * n);
      for (let i = 0; i < L; i++) {
        for (let j = 0; j < n; j++) {
          let s = bias ? bias[j] : 0;
          for (let kk = 0; kk < k; kk++) s += x[i * k + kk] * (transposed ? W[j * k + kk] : W[kk * n + j]);
          y[i * n + j] = s;
        }
      }
      return y;
    }
    let q = weights.get(key);
    if (!q) {
      const wt = transposed ? W : new Float32Array(n * k); // [n, k]
      if (!transposed) for (let j = 0; j < n; j++) for (let kk = 0; kk < k; kk++) wt[j * k + kk] = W[kk * n + j];
      q = quantizeWeight(wt, n, k);
      weights.set(key, q);
    }
    return Float64Array.from(i8Gemm(quantizeRows(Float32Array.from(x), L, k, int8.aMax), q, bias));
  };
  const ln = (x: Float64Array, p: string): Float64Array => referenceLayerNorm(L, E, x, E, undefined, 0, w[`${p}.weight`], w[`${p}.bias`], c.eps);
  // x = wte[ids] + wpe[0..L-1] (in f32, as the engine's gather)
  let x = new Float64Array(L * E);
  for (let t = 0; t < L; t++) for (let e = 0; e < E; e++) x[t * E + e] = Math.fround(w['wte.weight'][ids[t] * E + e] + w['wpe.weight'][t * E + e]);
  for (let l = 0; l < c.layers; l++) {
    hiddenStates?.push(x.slice());
    const p = `h.${l}.`;
    // q, k, v = ln_1(x)·c_attn; causal softmax(q·kᵀ/√d)·v per head; x += ctx·c_proj
    const qkv = linear(ln(x, `${p}ln_1`), `${p}attn.c_attn.weight`, E, 3 * E, w[`${p}attn.c_attn.bias`]);
    const ctx = new Float64Array(L * E);
    for (let h = 0; h < H; h++) {
      for (let i = 0; i < L; i++) {
        const s = new Float64Array(i + 1);
        let max = -Infinity;
        for (let j = 0; j <= i; j++) {
          let dot = 0;
          for (let e = 0; e < d; e++) dot += qkv[i * 3 * E + h * d + e] * qkv[j * 3 * E + E + h * d + e];
          // HF's GPT2Attention: / √head_dim when scale_attn_weights, then / (layer_idx + 1).
          s[j] = (c.scaleAttnWeights === false ? dot : dot / Math.sqrt(d)) / (c.scaleAttnByInverseLayerIdx ? l + 1 : 1);
          max = Math.max(max, s[j]);
        }
        let sum = 0;
        for (let j = 0; j <= i; j++) sum += (s[j] = Math.exp(s[j] - max));
        for (let e = 0; e < d; e++) {
          let o = 0;
          for (let j = 0; j <= i; j++) o += s[j] * qkv[j * 3 * E + 2 * E + h * d + e];
          ctx[i * E + h * d + e] = o / sum;
        }
      }
    }
    const a = linear(ctx, `${p}attn.c_proj.weight`, E, E, w[`${p}attn.c_proj.bias`]);
    x = x.map((v, i) => v + a[i]);
    // x += act(ln_2(x)·c_fc)·c_proj (gelu_new unless c.act)
    const hdn = linear(ln(x, `${p}ln_2`), `${p}mlp.c_fc.weight`, E, c.inner, w[`${p}mlp.c_fc.bias`]).map(c.act ?? geluTanh);
    const m = linear(hdn, `${p}mlp.c_proj.weight`, c.inner, E, w[`${p}mlp.c_proj.bias`]);
    x = x.map((v, i) => v + m[i]);
  }
  // logits = ln_f(x)·lm_headᵀ
  const final = ln(x, 'ln_f');
  hiddenStates?.push(final);
  return linear(final, w['lm_head.weight'] ? 'lm_head.weight' : 'wte.weight', E, c.vocab, undefined, true);
}
