// Benchmark shapes, named after the models they come from, with their FLOP counts.
import { GPT2_SMALL, MINILM_L6, bertFlops, gpt2Flops } from './models.mjs';

export const SHAPES = {
  'mha-bert-128': { kind: 'mha', title: 'BERT-base MHA + projections, seq 128', batch: 1, seq: 128, embed: 768, heads: 12 },
  'mha-bert-512': { kind: 'mha', title: 'BERT-base MHA + projections, seq 512', batch: 1, seq: 512, embed: 768, heads: 12 },
  // One BERT-base encoder layer (nn.TransformerEncoderLayer, post-norm, exact erf GELU, BERT's
  // LayerNorm eps 1e-12), batch 1.
  'bert-layer-128': { kind: 'encoder-layer', title: 'BERT-base encoder layer, seq 128', batch: 1, seq: 128, dModel: 768, nhead: 12, ff: 3072, activation: 'gelu', eps: 1e-12 },
  'bert-layer-512': { kind: 'encoder-layer', title: 'BERT-base encoder layer, seq 512', batch: 1, seq: 512, dModel: 768, nhead: 12, ff: 3072, activation: 'gelu', eps: 1e-12 },
  'causal-2048': { kind: 'attention', title: 'causal attention 1×8×2048×2048, d 64', batch: 1, heads: 8, seqQ: 2048, seqK: 2048, headDim: 64, causal: true },
  'padded-512': { kind: 'attention', title: 'padded attention 4×12×512×512, d 64', batch: 4, heads: 12, seqQ: 512, seqK: 512, headDim: 64, validLens: [512, 412, 312, 212] },
  'gemm-512x768x768': { kind: 'gemm', title: 'GEMM A·Bᵀ 512×768×768 (nn.Linear)', m: 512, n: 768, k: 768 },
  'gemm-128x3072x768': { kind: 'gemm', title: 'GEMM A·Bᵀ 128×3072×768 (BERT FFN up)', m: 128, n: 3072, k: 768 },
  // Whole models (bench/model-rows.mjs), random weights, against onnxruntime-web running the same
  // model as an ONNX graph with Optimum's inputs and outputs, as transformers.js runs it.
  'gpt2-prefill-128': { kind: 'gpt2-prefill', title: 'GPT-2 small (124M), prefill 128 tokens', batch: 1, seq: 128 },
  'gpt2-decode-512': { kind: 'gpt2-decode', title: 'GPT-2 small, decode at 512 tokens of context, ms per token', context: 512, warmupSteps: 4, timedSteps: 12 },
  'minilm-8x128': { kind: 'bert-model', title: 'all-MiniLM-L6-v2 geometry (BERT 6×384), batch 8 × seq 128', batch: 8, seq: 128 },
  // The same four shapes with 8-bit weights: onnxruntime-web running the graph as transformers.js's
  // q8 files hold it (bench/peers/onnx-quantize.mjs: quantize_dynamic with transformers.js's
  // settings) against ours with quantize: 'int8'. The BERT layer on the ORT side is the unfused
  // layer of an exported BertModel (peer.bertLayer), not the fused Attention of bert-layer-512.
  'bert-layer-512-q8': { kind: 'encoder-layer', q8: 'bert', title: 'BERT-base encoder layer, seq 512, 8-bit weights', batch: 1, seq: 512, dModel: 768, nhead: 12, ff: 3072, activation: 'gelu', eps: 1e-12 },
  'minilm-8x128-q8': { kind: 'bert-model', q8: 'bert', title: 'all-MiniLM-L6-v2 geometry, batch 8 × seq 128, 8-bit weights', batch: 8, seq: 128 },
  'gpt2-prefill-128-q8': { kind: 'gpt2-prefill', q8: 'gpt2', title: 'GPT-2 small, prefill 128 tokens, 8-bit weights', batch: 1, seq: 128 },
  'gpt2-decode-512-q8': { kind: 'gpt2-decode', q8: 'gpt2', title: 'GPT-2 small, decode at 512 tokens of context, 8-bit weights, ms per token', context: 512, warmupSteps: 4, timedSteps: 12 },
  'decode-1024': { kind: 'attention', title: 'decode: 1 query × 1024 keys, 12 heads, d 64', batch: 1, heads: 12, seqQ: 1, seqK: 1024, headDim: 64, residentKV: true },
};

/** Label of the GEMM rows that time the kernel alone (no copies in or out): % of peak, no peer ratio. */
export const KERNEL_ONLY = ' (kernel only: A resident, packed per run)';

/** Label of the GEMM rows that time the kernel alone in alternation with the peak probe
 * (bench/gemm-tiles.mjs gemmShareOfProbe): their % of peak is the median of the per-round shares. */
export const KERNEL_VS_PROBE = ' (kernel only, alternating with the probe)';

/** The GEMMs of an encoder layer, as nn.Linear shapes (m rows, n outputs, k inputs): QKV
 * projection, output projection, FFN up, FFN down. The attention's own products (Q·Kᵀ, P·V) are
 * inside the fused attention kernel and not listed. */
export function encoderLayerGemms({ batch, seq, dModel: d, ff }) {
  const m = batch * seq;
  return [{ m, n: 3 * d, k: d }, { m, n: d, k: d }, { m, n: ff, k: d }, { m, n: d, k: ff }];
}

/** Label of the encoder-layer rows that time the layer's GEMMs (encoderLayerGemms), each alone and in
 * alternation with the probe, summed: their % of peak is the FLOP-weighted share of the four. */
export const LAYER_GEMMS_VS_PROBE = ' (layer GEMMs, kernel only, alternating with the probe)';

/** Useful FLOPs (masked work not counted): projections 4·2·B·L·E², attention 2·2·(attended pairs)·d;
 * an encoder layer adds its FFN, 2·2·B·L·d·ff (norms, GELU and residuals not counted). */
export function flops(s) {
  if (s.kind === 'gemm') return 2 * s.m * s.n * s.k;
  // GPT-2's prefill counts lm_head over every position, as both sides compute all the logits (our
  // generate-prefill row carries its own count: lm_head over the last position only).
  if (s.kind === 'gpt2-prefill') return gpt2Flops(GPT2_SMALL, { seq: s.seq });
  // One decode step at the middle of the timed steps' context.
  if (s.kind === 'gpt2-decode') return gpt2Flops(GPT2_SMALL, { seq: 1, past: s.context + s.warmupSteps + (s.timedSteps >> 1) });
  if (s.kind === 'bert-model') return bertFlops(MINILM_L6, s);
  if (s.kind === 'encoder-layer') {
    const rows = s.batch * s.seq;
    return 4 * 2 * rows * s.dModel ** 2 + 2 * 2 * rows * s.dModel * s.ff + 4 * s.batch * s.seq * s.seq * s.dModel;
  }
  if (s.kind === 'mha') return 4 * 2 * s.batch * s.seq * s.embed * s.embed + 4 * s.batch * s.seq * s.seq * s.embed;
  let pairs = 0;
  for (let b = 0; b < s.batch; b++) {
    const len = s.validLens ? s.validLens[b] : s.seqK;
    for (let i = 0; i < s.seqQ; i++) pairs += Math.min(len, s.causal ? i + 1 : s.seqK);
  }
  return 4 * s.heads * pairs * s.headDim;
}
