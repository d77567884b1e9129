// HF BertModel forward in float64, step by step (modeling_bert.py, eval mode), from a state dict
// with the table's keys (no prefix). mask: [B, L], 1 = attend.
import { gelu } from './activation.js';
import { referenceLinear } from './attention.js';
import { referenceLayerNorm } from './layer-norm.js';
import { referenceMha } from './multi-head-attention.js';

export interface RefBertConfig {
  hidden: number; heads: number; layers: number; intermediate: number; eps: number;
  /** The intermediate dense's activation (HF's hidden_act), default gelu (erf). */
  act?: (x: number) => number;
}

export function referenceBert(
  c: RefBertConfig, w: Record<string, Float32Array>, ids: ArrayLike<number>, types: ArrayLike<number>,
  mask: ArrayLike<number>, B: number, L: number,
): { lastHiddenState: Float64Array; pooledOutput?: Float64Array } {
  const d = c.hidden, n = B * L;
  const ln = (x: ArrayLike<number>, residual: ArrayLike<number> | undefined, p: string): Float64Array =>
    referenceLayerNorm(n, d, x, d, residual, d, w[`${p}.weight`], w[`${p}.bias`], c.eps);
  // embeddings: word + token type + position, LayerNorm
  const e = new Float64Array(n * d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) {
    e[i * d + j] = w['embeddings.word_embeddings.weight'][ids[i] * d + j] +
      w['embeddings.token_type_embeddings.weight'][types[i] * d + j] + w['embeddings.position_embeddings.weight'][(i % L) * d + j];
  }
  let x = ln(e, undefined, 'embeddings.LayerNorm');
  for (let l = 0; l < c.layers; l++) {
    const p = `encoder.layer.${l}.`;
    const x32 = Float32Array.from(x);
    // self-attention over the attended keys, out dense, residual, LayerNorm
    const attn = referenceMha({
      E: d, H: c.heads, kdim: d, vdim: d,
      wq: w[`${p}attention.self.query.weight`], wk: w[`${p}attention.self.key.weight`], wv: w[`${p}attention.self.value.weight`],
      wo: w[`${p}attention.output.dense.weight`], bq: w[`${p}attention.self.query.bias`], bk: w[`${p}attention.self.key.bias`],
      bv: w[`${p}attention.self.value.bias`], bo: w[`${p}attention.output.dense.bias`],
    }, x32, x32, x32, B, L, L, (b, _h, _i, j) => mask[b * L + j] === 1);
    const a = ln(attn.output, x, `${p}attention.output.LayerNorm`);
    // intermediate dense + hidden_act (GELU, erf, unless c.act), output dense, residual, LayerNorm
    const inter = referenceLinear(a, n, d, w[`${p}intermediate.dense.weight`], c.intermediate, w[`${p}intermediate.dense.bias`]).map(c.act ?? gelu);
    const out = referenceLinear(inter, n, c.intermediate, w[`${p}output.dense.weight`], d, w[`${p}output.dense.bias`]);
    x = ln(out, a, `${p}output.LayerNorm`);
  }
  if (!w['pooler.dense.weight']) return { lastHiddenState: x };
  // pooler: tanh(dense(first token))
  const first = new Float64Array(B * d);
  for (let b = 0; b < B; b++) first.set(x.subarray(b * L * d, b * L * d + d), b * d);
  return { lastHiddenState: x, pooledOutput: referenceLinear(first, B, d, w['pooler.dense.weight'], d, w['pooler.dense.bias']).map(Math.tanh) };
}
