// nn.MultiheadAttention(batch_first=True) forward in float64, step by step.
import { referenceAttention, referenceLinear, type MaskFn, type BiasFn } from './attention.js';

export interface RefMha {
  E: number; H: number; kdim: number; vdim: number;
  wq: Float32Array; wk: Float32Array; wv: Float32Array; wo: Float32Array;
  bq?: Float32Array; bk?: Float32Array; bv?: Float32Array; bo?: Float32Array;
}

export function referenceMha(
  p: RefMha, query: Float32Array, key: Float32Array, value: Float32Array,
  B: number, Lq: number, Lk: number, attend?: MaskFn, bias?: BiasFn,
): { output: Float64Array; headWeights: Float64Array; averaged: Float64Array } {
  const { E, H } = p;
  const d = E / H;
  // project: [B·L, E]
  const Q = referenceLinear(query, B * Lq, E, p.wq, E, p.bq);
  const K = referenceLinear(key, B * Lk, p.kdim, p.wk, E, p.bk);
  const V = referenceLinear(value, B * Lk, p.vdim, p.wv, E, p.bv);
  // split heads: [B, L, H, d] -> [B, H, L, d]
  const split = (x: Float64Array, L: number) => {
    const out = new Float64Array(B * H * L * d);
    for (let b = 0; b < B; b++) for (let l = 0; l < L; l++) for (let h = 0; h < H; h++) for (let c = 0; c < d; c++) {
      out[((b * H + h) * L + l) * d + c] = x[(b * L + l) * E + h * d + c];
    }
    return out;
  };
  const att = referenceAttention(split(Q, Lq), split(K, Lk), split(V, Lk), {
    batch: B, heads: H, seqQ: Lq, seqK: Lk, headDim: d, headDimV: d, scale: 1 / Math.sqrt(d), attend, bias,
  });
  // concat heads: [B, H, Lq, d] -> [B, Lq, E]
  const ctx = new Float64Array(B * Lq * E);
  for (let b = 0; b < B; b++) for (let l = 0; l < Lq; l++) for (let h = 0; h < H; h++) for (let c = 0; c < d; c++) {
    ctx[(b * Lq + l) * E + h * d + c] = att.output[((b * H + h) * Lq + l) * d + c];
  }
  const output = referenceLinear(ctx, B * Lq, E, p.wo, E, p.bo);
  const averaged = new Float64Array(B * Lq * Lk);
  for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) for (let i = 0; i < Lq * Lk; i++) {
    averaged[b * Lq * Lk + i] += att.weights[(b * H + h) * Lq * Lk + i] / H;
  }
  return { output, headWeights: att.weights, averaged };
}
