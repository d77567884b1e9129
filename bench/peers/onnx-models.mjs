// Whole models as ONNX graphs, node for node as torch.onnx.export (torch 1.13, opset 17) writes
// Hugging Face's modeling_gpt2.py / modeling_bert.py (the versions of test/fixtures/
// make_{gpt2,bert}_fixtures.py) and with the inputs and outputs Optimum gives the files that
// transformers.js loads: unfused ops (Gemm for GPT-2's Conv1D, MatMul + Add for nn.Linear,
// LayerNormalization, the tanh or erf GELU spelled out, the causal mask as a Where over a slice
// of the `attn.bias` buffer, the padding mask as (1 - mask)·finfo.min), so that onnxruntime-web
// does to them what it does to an exported model: its own graph optimizations at level 'all'.
// Built in memory with ./onnx-proto.mjs, so the bench needs no PyTorch; bench/models/
// export_onnx.py exports the same models with torch.onnx.export for a check against these graphs.
//
// GPT-2 is the decoder with a KV cache (Optimum's `decoder_with_past` contract, one graph that
// also takes an empty past for the prompt, as transformers.js v3 feeds it):
//   inputs   input_ids [batch, seq] int64, attention_mask [batch, past + seq] int64,
//            position_ids [batch, seq] int64, past_key_values.{i}.key / .value [batch, n_head, past, d]
//   outputs  logits [batch, seq, vocab], present.{i}.key / .value [batch, n_head, past + seq, d]
// BERT is Optimum's feature-extraction export of BertModel:
//   inputs   input_ids, attention_mask, token_type_ids [batch, seq] int64
//   outputs  last_hidden_state [batch, seq, hidden]
import { DataType, encodeModel, floatAttr, intAttr, intsAttr } from './onnx-proto.mjs';

/** finfo(float32).min, HF's mask value. */
const F32_MIN = -3.4028234663852886e38;

/** A graph under construction: nodes get generated output names, constants become initializers. */
class GraphBuilder {
  constructor() {
    this.nodes = [];
    this.initializers = [];
    this.count = 0;
  }

  /** Adds a node; returns its output name (or names, when `outputs` is a number > 1 or names). */
  op(opType, inputs, { attributes, outputs = 1, domain } = {}) {
    const names = typeof outputs === 'number'
      ? Array.from({ length: outputs }, (_, i) => `${opType}_${this.count}${outputs > 1 ? `_${i}` : ''}`)
      : outputs;
    this.count++;
    this.nodes.push({ opType, inputs, outputs: names, attributes, domain });
    return names.length === 1 ? names[0] : names;
  }

  /** An initializer; returns its name. */
  init(name, dims, data) {
    this.initializers.push({ name, dims, data });
    return name;
  }

  /** A float scalar or int64 vector constant (as torch.onnx.export leaves them: initializers). */
  scalar(value) {
    return this.init(`const_${this.count++}`, [], Float32Array.of(value));
  }
  ints(values) {
    return this.init(`const_${this.count++}`, [values.length], BigInt64Array.from(values, BigInt));
  }
}

/** Row-major [rows, cols] → [cols, rows]. */
function transpose(m, rows, cols) {
  const t = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = m[r * cols + c];
  return t;
}

const int64 = (name, shape) => ({ name, shape, elemType: DataType.INT64 });
const layerNorm = (g, x, weight, bias, eps) => g.op('LayerNormalization', [x, weight, bias],
  { attributes: [intAttr('axis', -1), floatAttr('epsilon', eps)] });

/**
 * GPT2LMHeadModel with past, as an ONNX model.
 *
 * Per block (modeling_gpt2.py → torch.onnx.export): LayerNormalization; Conv1D as Reshape
 * [-1, E] → Gemm(x, W [in, out], b) → Reshape [B, L, out] (torch.addmm); Split Q|K|V; heads by
 * Reshape [B, L, H, d] + Transpose; K and V Concat'ed after the past → present; MatMul(Q, Kᵀ),
 * Div √d, Where(causal slice of the [1, 1, n_positions, n_positions] bool buffer, ·, finfo.min),
 * Add the padding mask, Softmax, MatMul V, heads merged; c_proj; residual Add; LayerNormalization;
 * c_fc; gelu_new spelled out (Pow 3, Tanh); c_proj; residual. Then ln_f and lm_head as MatMul
 * with wteᵀ [E, vocab], a second copy of wte (constant folding of the tied weight's transpose,
 * as in the exported files: their size is about 650 MB, not 500).
 *
 * @param {Record<string, unknown>} config  config.json (n_embd, n_head, n_layer, vocab_size, n_positions, layer_norm_epsilon)
 * @param {Record<string, Float32Array>} w  HF state dict, keys without `transformer.`, lm_head tied
 * @returns {Uint8Array} the serialized model
 */
export const gpt2WithPastOnnx = (config, w) => encodeModel({ graph: gpt2WithPastGraph(config, w) });

/** The graph of gpt2WithPastOnnx, not yet encoded: { name, nodes, initializers, inputs, outputs }. */
export function gpt2WithPastGraph(config, w) {
  const E = config.n_embd, H = config.n_head, d = E / H, V = config.vocab_size, N = config.n_positions;
  const I = config.n_inner ?? 4 * E, eps = config.layer_norm_epsilon ?? 1e-5;
  const g = new GraphBuilder();
  const weight = (key, dims) => g.init(key, dims, w[key]);

  // Embeddings: wte[input_ids] + wpe[position_ids].
  const hidden0 = g.op('Add', [
    g.op('Gather', [weight('wte.weight', [V, E]), 'input_ids']),
    g.op('Gather', [weight('wpe.weight', [N, E]), 'position_ids']),
  ]);
  // [B, L] of the input, for Reshapes back to [B, L, n].
  const bl = g.op('Shape', ['input_ids']);
  const shape3 = (n) => g.op('Concat', [bl, g.ints([n])], { attributes: [intAttr('axis', 0)] });
  const shapeE = shape3(E), shape3E = shape3(3 * E), shapeI = shape3(I);
  const flat = g.ints([-1, E]), flatI = g.ints([-1, I]), headsShape = g.ints([0, 0, H, d]);
  const conv1d = (x, key, inDim, outDim, outShape) => g.op('Reshape', [
    g.op('Gemm', [g.op('Reshape', [x, inDim === E ? flat : flatI]), weight(`${key}.weight`, [inDim, outDim]), weight(`${key}.bias`, [outDim])]),
    outShape,
  ]);
  // Padding mask: (1 - attention_mask[:, None, None, :])·finfo.min, [B, 1, 1, past + L].
  const mask = g.op('Mul', [
    g.op('Sub', [g.scalar(1), g.op('Cast', [g.op('Unsqueeze', ['attention_mask', g.ints([1, 2])])], { attributes: [intAttr('to', DataType.FLOAT)] })]),
    g.scalar(F32_MIN),
  ]);
  const causalBuffer = new Uint8Array(N * N);
  for (let i = 0; i < N; i++) causalBuffer.fill(1, i * N, i * N + i + 1);
  const bias = g.init('h.attn.bias', [1, 1, N, N], causalBuffer);
  const minValue = g.scalar(F32_MIN), sqrtD = g.scalar(Math.sqrt(d));
  let causal; // bias[:, :, kl - ql : kl, :kl], made from the first layer's Q and K
  const headSplit = (x) => g.op('Transpose', [g.op('Reshape', [x, headsShape])], { attributes: [intsAttr('perm', [0, 2, 1, 3])] });

  let h = hidden0;
  for (let i = 0; i < config.n_layer; i++) {
    const p = `h.${i}.`;
    const x = layerNorm(g, h, weight(`${p}ln_1.weight`, [E]), weight(`${p}ln_1.bias`, [E]), eps);
    const qkv = conv1d(x, `${p}attn.c_attn`, E, 3 * E, shape3E);
    const [q0, k0, v0] = g.op('Split', [qkv, g.ints([E, E, E])], { attributes: [intAttr('axis', 2)], outputs: 3 });
    const q = headSplit(q0);
    const k = g.op('Concat', [`past_key_values.${i}.key`, headSplit(k0)], { attributes: [intAttr('axis', -2)], outputs: [`present.${i}.key`] });
    const v = g.op('Concat', [`past_key_values.${i}.value`, headSplit(v0)], { attributes: [intAttr('axis', -2)], outputs: [`present.${i}.value`] });
    if (!causal) {
      const len = (t) => g.op('Gather', [g.op('Shape', [t]), g.ints([2])], { attributes: [intAttr('axis', 0)] });
      const ql = len(q), kl = len(k);
      const start = g.op('Sub', [kl, ql]);
      causal = g.op('Slice', [bias,
        g.op('Concat', [start, g.ints([0])], { attributes: [intAttr('axis', 0)] }),
        g.op('Concat', [kl, kl], { attributes: [intAttr('axis', 0)] }),
        g.ints([2, 3])]);
    }
    const kt = g.op('Transpose', [k], { attributes: [intsAttr('perm', [0, 1, 3, 2])] });
    let s = g.op('Div', [g.op('MatMul', [q, kt]), sqrtD]);
    s = g.op('Add', [g.op('Where', [causal, s, minValue]), mask]);
    const probs = g.op('Softmax', [s], { attributes: [intAttr('axis', -1)] });
    const ctx = g.op('Reshape', [
      g.op('Transpose', [g.op('MatMul', [probs, v])], { attributes: [intsAttr('perm', [0, 2, 1, 3])] }), shapeE]);
    h = g.op('Add', [conv1d(ctx, `${p}attn.c_proj`, E, E, shapeE), h]);
    const x2 = layerNorm(g, h, weight(`${p}ln_2.weight`, [E]), weight(`${p}ln_2.bias`, [E]), eps);
    // gelu_new: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), in the order HF writes it.
    const f = conv1d(x2, `${p}mlp.c_fc`, E, I, shapeI);
    const inner = g.op('Mul', [g.op('Add', [f, g.op('Mul', [g.op('Pow', [f, g.scalar(3)]), g.scalar(0.044715)])]), g.scalar(Math.sqrt(2 / Math.PI))]);
    const act = g.op('Mul', [g.op('Mul', [f, g.scalar(0.5)]), g.op('Add', [g.op('Tanh', [inner]), g.scalar(1)])]);
    h = g.op('Add', [h, conv1d(act, `${p}mlp.c_proj`, I, E, shapeE)]);
  }
  const out = layerNorm(g, h, weight('ln_f.weight', [E]), weight('ln_f.bias', [E]), eps);
  g.op('MatMul', [out, g.init('lm_head.weight.T', [E, V], transpose(w['lm_head.weight'] ?? w['wte.weight'], V, E))], { outputs: ['logits'] });

  const past = (i, kind) => ({ name: `past_key_values.${i}.${kind}`, shape: ['batch_size', H, 'past_sequence_length', d] });
  const present = (i, kind) => ({ name: `present.${i}.${kind}`, shape: ['batch_size', H, 'past_sequence_length + sequence_length', d] });
  const layers = Array.from({ length: config.n_layer }, (_, i) => i);
  return {
    name: 'gpt2_decoder_with_past',
    nodes: g.nodes,
    initializers: g.initializers,
    inputs: [
      int64('input_ids', ['batch_size', 'sequence_length']),
      int64('attention_mask', ['batch_size', 'past_sequence_length + sequence_length']),
      int64('position_ids', ['batch_size', 'sequence_length']),
      ...layers.flatMap((i) => [past(i, 'key'), past(i, 'value')]),
    ],
    outputs: [
      { name: 'logits', shape: ['batch_size', 'sequence_length', V] },
      ...layers.flatMap((i) => [present(i, 'key'), present(i, 'value')]),
    ],
  };
}

/**
 * BertModel (feature extraction: last_hidden_state) as an ONNX model.
 *
 * Embeddings: Gather word, token type and position (a Slice of the position_ids buffer), Add,
 * LayerNormalization. Mask (1 - mask)·finfo.min. Per layer (modeling_bert.py's eager attention):
 * query/key/value as MatMul(x, Wᵀ) + Add b; heads by Reshape + Transpose (K straight to Kᵀ, perm
 * [0, 2, 3, 1], as torch folds the two); MatMul(Q, Kᵀ), Div √d,
 * Add mask, Softmax, MatMul V, heads merged; dense, residual Add, LayerNormalization; intermediate
 * with the exact GELU as torch exports it, 0.5·x·(1 + Erf(x/√2)); output dense, residual,
 * LayerNormalization.
 *
 * @param {Record<string, unknown>} config  config.json (hidden_size, num_attention_heads, …)
 * @param {Record<string, Float32Array>} w  HF state dict, keys without `bert.`
 * @returns {Uint8Array}
 */
export const bertOnnx = (config, w) => encodeModel({ graph: bertGraph(config, w) });

/** The graph of bertOnnx, not yet encoded. */
export function bertGraph(config, w) {
  const d = config.hidden_size, H = config.num_attention_heads, ff = config.intermediate_size;
  const P = config.max_position_embeddings, eps = config.layer_norm_eps;
  const g = new GraphBuilder();
  const weight = (key, dims) => g.init(key, dims, w[key]);
  // nn.Linear on [B, L, in]: MatMul with the transposed weight (an initializer after constant folding) + Add.
  const linear = (x, key, out, inp) => g.op('Add', [
    g.op('MatMul', [x, g.init(`${key}.weight.T`, [inp, out], transpose(w[`${key}.weight`], out, inp))]),
    weight(`${key}.bias`, [out]),
  ]);
  const norm = (x, key) => layerNorm(g, x, weight(`${key}.weight`, [d]), weight(`${key}.bias`, [d]), eps);

  const seqLen = g.op('Gather', [g.op('Shape', ['input_ids']), g.ints([1])], { attributes: [intAttr('axis', 0)] });
  const positionIds = g.op('Slice', [
    g.init('embeddings.position_ids', [1, P], BigInt64Array.from({ length: P }, (_, i) => BigInt(i))),
    g.ints([0]), seqLen, g.ints([1])]);
  const embedded = g.op('Add', [
    g.op('Add', [
      g.op('Gather', [weight('embeddings.word_embeddings.weight', [config.vocab_size, d]), 'input_ids']),
      g.op('Gather', [weight('embeddings.token_type_embeddings.weight', [config.type_vocab_size, d]), 'token_type_ids']),
    ]),
    g.op('Gather', [weight('embeddings.position_embeddings.weight', [P, d]), positionIds]),
  ]);
  let x = norm(embedded, 'embeddings.LayerNorm');
  const mask = g.op('Mul', [
    g.op('Sub', [g.scalar(1), g.op('Cast', [g.op('Unsqueeze', ['attention_mask', g.ints([1, 2])])], { attributes: [intAttr('to', DataType.FLOAT)] })]),
    g.scalar(F32_MIN),
  ]);
  const layer = bertLayerEmitter(g, { d, H, ff, linear, norm, mergedShape: g.op('Concat', [g.op('Shape', ['input_ids']), g.ints([d])], { attributes: [intAttr('axis', 0)] }) });
  for (let n = 0; n < config.num_hidden_layers; n++) x = layer(x, `encoder.layer.${n}.`, mask);
  g.nodes.push({ opType: 'Identity', inputs: [x], outputs: ['last_hidden_state'] });
  return {
    name: 'bert_feature_extraction',
    nodes: g.nodes,
    initializers: g.initializers,
    inputs: ['input_ids', 'attention_mask', 'token_type_ids'].map((n) => int64(n, ['batch_size', 'sequence_length'])),
    outputs: [{ name: 'last_hidden_state', shape: ['batch_size', 'sequence_length', d] }],
  };
}

/**
 * The nodes of one BertLayer (modeling_bert.py's eager attention, as bertGraph), keys under `p`:
 * query/key/value as MatMul + Add; heads by Reshape + Transpose (K straight to Kᵀ, perm
 * [0, 2, 3, 1], as torch folds the two); MatMul(Q, Kᵀ), Div √d, Add the mask (if any), Softmax,
 * MatMul V, heads merged; dense, residual Add, LayerNormalization; intermediate with the exact
 * GELU 0.5·x·(1 + Erf(x/√2)); output dense, residual, LayerNormalization.
 * @returns {(x: string, p: string, mask?: string) => string}
 */
function bertLayerEmitter(g, { d, H, ff, linear, norm, mergedShape }) {
  const hd = d / H;
  const headsShape = g.ints([0, 0, H, hd]);
  const heads = (t) => g.op('Transpose', [g.op('Reshape', [t, headsShape])], { attributes: [intsAttr('perm', [0, 2, 1, 3])] });
  const sqrtD = g.scalar(Math.sqrt(hd)), sqrt2 = g.scalar(Math.SQRT2), one = g.scalar(1), half = g.scalar(0.5);
  return (x, p, mask) => {
    const q = heads(linear(x, `${p}attention.self.query`, d, d));
    // Kᵀ straight from [B, L, H, d]: torch folds the heads' permute and the transpose into one.
    const kt = g.op('Transpose', [g.op('Reshape', [linear(x, `${p}attention.self.key`, d, d), headsShape])],
      { attributes: [intsAttr('perm', [0, 2, 3, 1])] });
    const v = heads(linear(x, `${p}attention.self.value`, d, d));
    const scaled = g.op('Div', [g.op('MatMul', [q, kt]), sqrtD]);
    const s = mask ? g.op('Add', [scaled, mask]) : scaled;
    const probs = g.op('Softmax', [s], { attributes: [intAttr('axis', -1)] });
    const ctx = g.op('Reshape', [g.op('Transpose', [g.op('MatMul', [probs, v])], { attributes: [intsAttr('perm', [0, 2, 1, 3])] }), mergedShape]);
    const a = norm(g.op('Add', [linear(ctx, `${p}attention.output.dense`, d, d), x]), `${p}attention.output.LayerNorm`);
    const i = linear(a, `${p}intermediate.dense`, ff, d);
    const act = g.op('Mul', [g.op('Mul', [i, g.op('Add', [g.op('Erf', [g.op('Div', [i, sqrt2])]), one])]), half]);
    return norm(g.op('Add', [linear(act, `${p}output.dense`, d, ff), a]), `${p}output.LayerNorm`);
  };
}

/**
 * One BERT encoder layer as the exported BertModel holds it (bertGraph's layer, no padding mask),
 * on hidden states: input `x` [batch, seq, dModel], output `y`. Weights are
 * nn.TransformerEncoderLayer's state dict (post-norm, exact GELU), the layer of the
 * `encoder-layer` bench shapes: in_proj_weight split into query, key and value.
 * @param {{ dModel: number, nhead: number, ff: number, eps: number }} shape
 * @param {Record<string, Float32Array>} w
 */
export function bertLayerGraph({ dModel: d, nhead: H, ff, eps }, w) {
  const g = new GraphBuilder();
  const inProj = w['self_attn.in_proj_weight'], inBias = w['self_attn.in_proj_bias'];
  const hf = {
    'attention.self.query': [inProj.subarray(0, d * d), inBias.subarray(0, d)],
    'attention.self.key': [inProj.subarray(d * d, 2 * d * d), inBias.subarray(d, 2 * d)],
    'attention.self.value': [inProj.subarray(2 * d * d), inBias.subarray(2 * d)],
    'attention.output.dense': [w['self_attn.out_proj.weight'], w['self_attn.out_proj.bias']],
    'intermediate.dense': [w['linear1.weight'], w['linear1.bias']],
    'output.dense': [w['linear2.weight'], w['linear2.bias']],
  };
  const norms = { 'attention.output.LayerNorm': 'norm1', 'output.LayerNorm': 'norm2' };
  const linear = (x, key, out, inp) => g.op('Add', [
    g.op('MatMul', [x, g.init(`${key}.weight.T`, [inp, out], transpose(hf[key][0], out, inp))]),
    g.init(`${key}.bias`, [out], Float32Array.from(hf[key][1])),
  ]);
  const norm = (x, key) => layerNorm(g, x, g.init(`${key}.weight`, [d], w[`${norms[key]}.weight`]), g.init(`${key}.bias`, [d], w[`${norms[key]}.bias`]), eps);
  const mergedShape = g.op('Concat', [g.op('Slice', [g.op('Shape', ['x']), g.ints([0]), g.ints([2])]), g.ints([d])], { attributes: [intAttr('axis', 0)] });
  const y = bertLayerEmitter(g, { d, H, ff, linear, norm, mergedShape })('x', '');
  g.nodes.push({ opType: 'Identity', inputs: [y], outputs: ['y'] });
  return {
    name: 'bert_layer',
    nodes: g.nodes,
    initializers: g.initializers,
    inputs: [{ name: 'x', shape: ['batch_size', 'sequence_length', d] }],
    outputs: [{ name: 'y', shape: ['batch_size', 'sequence_length', d] }],
  };
}
