// The whole-model benchmark rows (GPT-2 small, an all-MiniLM-L6-v2-sized BERT): their configs as
// Hugging Face writes config.json, random state dicts under HF's keys (the same arrays go to
// engine.gpt2 / engine.bert and, as initializers, into the ONNX graphs of ./peers/onnx-models.mjs),
// token ids, FLOP counts and the bytes a decode step must stream.
import { randomF32 } from './harness.mjs';

/** GPT-2 small (the `gpt2` checkpoint's config.json, the keys engine.gpt2 reads). */
export const GPT2_SMALL = Object.freeze({
  model_type: 'gpt2', vocab_size: 50257, n_positions: 1024, n_embd: 768, n_layer: 12, n_head: 12,
  layer_norm_epsilon: 1e-5, activation_function: 'gelu_new', n_inner: null, tie_word_embeddings: true,
});

/** sentence-transformers/all-MiniLM-L6-v2's config.json (the keys engine.bert reads). */
export const MINILM_L6 = Object.freeze({
  model_type: 'bert', vocab_size: 30522, hidden_size: 384, num_hidden_layers: 6, num_attention_heads: 12,
  intermediate_size: 1536, max_position_embeddings: 512, type_vocab_size: 2, layer_norm_eps: 1e-12,
  hidden_act: 'gelu', position_embedding_type: 'absolute',
});

/** WASM_ATTENTION_BENCH_FFN_SCALE (default 1) scales the first feed-forward weight of the BERT
 * and encoder-layer shapes (linear1, intermediate.dense), for both sides alike. At 1 the GELU's
 * inputs have the spread of a freshly initialised layer (std about 0.58 in the encoder layer,
 * 0.40 in MiniLM), which keeps nearly every vector on the GELU's central path (a third of the
 * full path's work, assembly/f32-activation/f32-gelu-simd.ts); ORT's Erf has no such path.
 * Trained models spread wider: 3 (std about 1.7) shows what that costs. GPT-2's tanh GELU has
 * one path whatever its input. */
export const FFN_SCALE = (() => {
  const text = globalThis.process?.env?.WASM_ATTENTION_BENCH_FFN_SCALE; // Node, Deno, Bun; a page: 1
  const k = text === undefined ? 1 : Number(text);
  if (!(k > 0 && Number.isFinite(k))) throw new RangeError(`WASM_ATTENTION_BENCH_FFN_SCALE must be a positive number, got ${text}`);
  return k;
})();

/** Seeds: one per tensor, from its position in the state dict, so both sides build the same. */
const seeded = (seed0) => {
  let seed = seed0;
  return (n, scale) => randomF32(n, seed++, scale);
};
const near1 = (a) => a.map((v) => 1 + v);

/** GPT2LMHeadModel's state dict (no `transformer.` prefix, no lm_head: tied to wte), uniform
 * random weights at about HF's init scale (std 0.02 → ±0.035), LayerNorm near identity. */
export function gpt2Weights(c, seed = 1000) {
  const r = seeded(seed), E = c.n_embd, I = c.n_inner ?? 4 * E;
  const w = { 'wte.weight': r(c.vocab_size * E, 0.05), 'wpe.weight': r(c.n_positions * E, 0.02) };
  for (let i = 0; i < c.n_layer; i++) {
    const p = `h.${i}.`;
    Object.assign(w, {
      [`${p}ln_1.weight`]: near1(r(E, 0.1)), [`${p}ln_1.bias`]: r(E, 0.02),
      [`${p}attn.c_attn.weight`]: r(E * 3 * E, 0.035), [`${p}attn.c_attn.bias`]: r(3 * E, 0.02),
      [`${p}attn.c_proj.weight`]: r(E * E, 0.035), [`${p}attn.c_proj.bias`]: r(E, 0.02),
      [`${p}ln_2.weight`]: near1(r(E, 0.1)), [`${p}ln_2.bias`]: r(E, 0.02),
      [`${p}mlp.c_fc.weight`]: r(E * I, 0.035), [`${p}mlp.c_fc.bias`]: r(I, 0.02),
      [`${p}mlp.c_proj.weight`]: r(I * E, 0.035), [`${p}mlp.c_proj.bias`]: r(E, 0.02),
    });
  }
  w['ln_f.weight'] = near1(r(E, 0.1));
  w['ln_f.bias'] = r(E, 0.02);
  return w;
}

/** BertModel's state dict (no `bert.` prefix, no pooler: transformers.js's feature extraction
 * reads last_hidden_state only), uniform random weights at about HF's init scale. */
export function bertWeights(c, seed = 2000) {
  const r = seeded(seed), d = c.hidden_size, ff = c.intermediate_size;
  const norm = (name) => ({ [`${name}.weight`]: near1(r(d, 0.1)), [`${name}.bias`]: r(d, 0.02) });
  const linear = (name, out, inp, k = 1) => ({ [`${name}.weight`]: r(out * inp, 0.035 * k), [`${name}.bias`]: r(out, 0.02) });
  const w = {
    'embeddings.word_embeddings.weight': r(c.vocab_size * d, 0.05),
    'embeddings.position_embeddings.weight': r(c.max_position_embeddings * d, 0.02),
    'embeddings.token_type_embeddings.weight': r(c.type_vocab_size * d, 0.02),
    ...norm('embeddings.LayerNorm'),
  };
  for (let n = 0; n < c.num_hidden_layers; n++) {
    const p = `encoder.layer.${n}.`;
    Object.assign(w,
      linear(`${p}attention.self.query`, d, d), linear(`${p}attention.self.key`, d, d), linear(`${p}attention.self.value`, d, d),
      linear(`${p}attention.output.dense`, d, d), norm(`${p}attention.output.LayerNorm`),
      linear(`${p}intermediate.dense`, ff, d, FFN_SCALE), linear(`${p}output.dense`, d, ff), norm(`${p}output.LayerNorm`));
  }
  return w;
}

/** nn.TransformerEncoderLayer's state dict for the encoder-layer shapes (bench/shapes.mjs): weights
 * at nn.Linear's init scale (1/√fan_in), small biases, norms near identity. */
export function encoderLayerWeights({ dModel: d, ff }) {
  const w = (n, seed, scale) => randomF32(n, seed, scale);
  const near1 = (n, seed) => w(n, seed, 0.1).map((v) => 1 + v);
  return {
    'self_attn.in_proj_weight': w(3 * d * d, 1, 1 / Math.sqrt(d)), 'self_attn.in_proj_bias': w(3 * d, 2, 0.1),
    'self_attn.out_proj.weight': w(d * d, 3, 1 / Math.sqrt(d)), 'self_attn.out_proj.bias': w(d, 4, 0.1),
    'linear1.weight': w(ff * d, 6, FFN_SCALE / Math.sqrt(d)), 'linear1.bias': w(ff, 7, 0.1),
    'linear2.weight': w(d * ff, 8, 1 / Math.sqrt(ff)), 'linear2.bias': w(d, 9, 0.1),
    'norm1.weight': near1(d, 10), 'norm1.bias': w(d, 11, 0.1), 'norm2.weight': near1(d, 12), 'norm2.bias': w(d, 13, 0.1),
  };
}

/** `length` token ids in 0..vocab-1, deterministic. */
export function tokenIds(length, vocab, seed) {
  return Int32Array.from(randomF32(length, seed), (u) => Math.min(vocab - 1, Math.floor((u + 1) / 2 * vocab)));
}

/** Weights a GPT-2 decode step must read from memory, fp32: every Conv1D weight and bias, the
 * LayerNorms, and lm_head (wte, [vocab, n_embd]) in full; of wte and wpe as embeddings, one row
 * each (counted). The KV cache (2·n_layer·ctx·n_embd floats) is not a weight and not counted. */
export function gpt2DecodeWeightBytes(c) {
  const E = c.n_embd, I = c.n_inner ?? 4 * E;
  const perLayer = E * 3 * E + 3 * E + E * E + E + E * I + I + I * E + E + 4 * E;
  return 4 * (c.n_layer * perLayer + 2 * E + c.vocab_size * E + 2 * E);
}

/** The same with 8-bit weights, as `quantize: 'int8'` holds them: every Conv1D weight and lm_head
 * one byte per element plus one f32 scale per output channel; biases, LayerNorms and the two
 * embedding rows f32. (ORT's q8 GPT-2 has one scale per tensor and a uint8 wte for the gathers:
 * the same to within 0.1%.) About 124 MB for GPT-2 small. */
export function gpt2DecodeWeightBytesInt8(c) {
  const E = c.n_embd, I = c.n_inner ?? 4 * E;
  const weights = E * 3 * E + E * E + E * I + I * E, channels = 3 * E + E + I + E;
  const perLayer = weights + 4 * channels + 4 * (3 * E + E + I + E + 4 * E);
  return c.n_layer * perLayer + 4 * 2 * E + (c.vocab_size * E + 4 * c.vocab_size) + 4 * 2 * E;
}

/** The time a decode step needs at least when its weights stream from memory once at `readGBps`
 * (GB/s = 1e9 bytes/s): the weight-streaming bound, in ms. */
export const weightStreamingBoundMs = (weightBytes, readGBps) => weightBytes / (readGBps * 1e6);

/** FLOPs of a GPT-2 call over `seq` new tokens after `past` cached ones, batch 1: the GEMMs
 * (2·params per token, lm_head over `logitRows` rows) and attention's two products over the
 * causally attended pairs (norms, GELU, softmax not counted). */
export function gpt2Flops(c, { seq, past = 0, logitRows = seq }) {
  const E = c.n_embd, I = c.n_inner ?? 4 * E;
  let pairs = 0;
  for (let i = 0; i < seq; i++) pairs += past + i + 1;
  return c.n_layer * (2 * seq * (3 * E * E + E * E + 2 * E * I) + 4 * pairs * E) + 2 * logitRows * E * c.vocab_size;
}

/** FLOPs of a BERT encoder forward, batch × seq, no padding (GEMMs and attention's products). */
export function bertFlops(c, { batch, seq }) {
  const d = c.hidden_size, rows = batch * seq;
  return c.num_hidden_layers * (2 * rows * (4 * d * d + 2 * d * c.intermediate_size) + 4 * batch * seq * seq * d);
}
