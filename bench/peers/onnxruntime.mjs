// The onnxruntime-web peer: ORT's WebAssembly CPU backend (MLAS SIMD kernels, pthreads via
// worker_threads in Node), driven in the same process as our library so both see the same
// machine state. Graphs are built in memory with ./onnx-proto.mjs; weights are initializers,
// so ORT can pre-pack them once per session, as it would for a real exported model.
//
// What a caller must know:
// - Thread count is fixed per process. ORT reads `env.wasm.numThreads` once, when the wasm
//   module is instantiated by the first session; later changes are silently ignored (checked
//   with 1.30.0: asking 2 after 1 still runs on one thread, and vice versa). createOrtPeer
//   therefore initialises ORT eagerly and throws if asked for a different count later. To
//   compare 1 and 2 threads, run one process per thread count.
// - `threads: 2` means the calling thread plus one pthread worker (ORT's global intra-op pool).
//   After a run, that worker spins for a few tens of ms before sleeping, so leave a short pause
//   (~50 ms) before timing anything else in the same process.
// - Timed calls include ORT's copy of inputs into the wasm heap and of the output back out,
//   as any JS caller of ORT pays; no layout work happens in JS.
// - The first run() of a session is slower (allocation, kernel pre-packing): warm up.

import { checkLength, checkMhaWeights } from './inputs.mjs';
import { encodeModel, floatAttr, intAttr } from './onnx-proto.mjs';
import { bertGraph, bertLayerGraph, gpt2WithPastGraph } from './onnx-models.mjs';
import { quantizeDynamic } from './onnx-quantize.mjs';

/** ORT module and the thread count it was initialised with (process-wide, see above). */
let ortModule = null;
let initThreads = null;

async function initOrt(threads) {
  if (!Number.isInteger(threads) || threads < 1) {
    throw new Error(`createOrtPeer: threads must be a positive integer, got ${threads}`);
  }
  if (initThreads !== null) {
    if (threads !== initThreads) {
      throw new Error(
        `createOrtPeer: onnxruntime-web was already initialised with ${initThreads} thread(s) in ` +
          `this process; its thread count cannot change (asked for ${threads}). ` +
          'Use one process per thread count.',
      );
    }
    return ortModule;
  }
  // Lazy import: loading ORT means compiling a 14 MB wasm and spawning its workers (~0.2 s),
  // which benches that never touch this peer should not pay.
  const ort = await import('onnxruntime-web');
  const preset = ort.env.wasm.numThreads;
  if (typeof preset === 'number' && preset !== threads) {
    // Someone else in this process configured ORT; if they already created a session, our
    // setting would be ignored without any error, so refuse rather than measure the wrong thing.
    throw new Error(
      `createOrtPeer: ort.env.wasm.numThreads is already ${preset} in this process (asked for ${threads}).`,
    );
  }
  ort.env.wasm.numThreads = threads;
  // Main-thread execution: the proxy worker would add a postMessage round trip per run.
  ort.env.wasm.proxy = false;
  ort.env.logLevel = 'error';
  // Instantiate the wasm module and spawn the pthread pool now, with a trivial session, so the
  // thread count is locked in here and that one-off cost never lands in a peer's first run.
  const probe = await ort.InferenceSession.create(
    encodeModel({
      graph: {
        nodes: [{ opType: 'Identity', inputs: ['x'], outputs: ['y'] }],
        inputs: [{ name: 'x', shape: [1] }],
        outputs: [{ name: 'y', shape: [1] }],
      },
    }),
    { executionProviders: ['wasm'] },
  );
  await probe.release();
  ortModule = ort;
  initThreads = threads;
  return ort;
}

/** Transpose a row-major [rows, cols] matrix. */
function transpose(m, rows, cols) {
  const t = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) t[c * rows + r] = m[r * cols + c];
  }
  return t;
}

/**
 * Create an ORT peer. All peers in one process share the same thread count.
 *
 * `q8` (gpt2, bert, bertLayer): the graph as onnxruntime's quantize_dynamic rewrites it with these
 * settings ({ perChannel, reduceRange }; TRANSFORMERS_JS_Q8 of ./onnx-quantize.mjs holds the ones
 * transformers.js ships), instead of fp32.
 *
 * @param {{ threads: number }} options
 * @returns {Promise<{
 *   threads: number,
 *   version: string,
 *   mha(o: { batch: number, seq: number, embed: number, heads: number, causal?: boolean,
 *            weights: { inProjWeight: Float32Array, inProjBias: Float32Array,
 *                       outProjWeight: Float32Array, outProjBias: Float32Array } })
 *     : Promise<{ run(x: Float32Array): Promise<Float32Array> }>,
 *   attentionCore(o: { batch: number, heads: number, seqQ: number, seqK: number,
 *                      headDim: number, causal?: boolean, validLens?: ArrayLike<number> })
 *     : Promise<{ run(q: Float32Array, k: Float32Array, v: Float32Array): Promise<Float32Array> }>,
 *   encoderLayer(o: { batch: number, seq: number, dModel: number, nhead: number, ff: number,
 *                     activation: 'relu' | 'gelu', eps: number, weights: Record<string, Float32Array> })
 *     : Promise<{ run(x: Float32Array): Promise<Float32Array> }>,
 *   gemm(o: { m: number, n: number, k: number, weight: Float32Array })
 *     : Promise<{ run(a: Float32Array): Promise<Float32Array> }>,
 *   gpt2(o: { config: object, weights: Record<string, Float32Array>, q8?: Q8 })
 *     : Promise<{ run(ids: Int32Array, past?: object): Promise<{ logits: Float32Array, present: object }> }>,
 *   bert(o: { config: object, weights: Record<string, Float32Array>, q8?: Q8 })
 *     : Promise<{ run(ids: Int32Array, o: { batch: number, seq: number }): Promise<Float32Array> }>,
 *   bertLayer(o: { batch: number, seq: number, dModel: number, nhead: number, ff: number, eps: number,
 *                  weights: Record<string, Float32Array>, q8?: Q8 })
 *     : Promise<{ run(x: Float32Array): Promise<Float32Array> }>,
 *   dispose(): Promise<void>,
 * }>}
 */
export async function createOrtPeer({ threads }) {
  const ort = await initOrt(threads);
  const sessions = new Set();

  async function open(model) {
    const session = await ort.InferenceSession.create(model, {
      executionProviders: ['wasm'],
      graphOptimizationLevel: 'all',
    });
    sessions.add(session);
    return session;
  }

  return {
    threads,
    version: ort.env.versions.web,

    /**
     * nn.MultiheadAttention(batch_first=True) self-attention with in/out projections.
     *
     * Graph: com.microsoft Attention (fused QKV projection + per-head SDPA; its weight is
     * [E, 3E] — in-features first, Q|K|V blocks along the columns — i.e. torch's
     * in_proj_weight transposed) → MatMul(outProjWeightᵀ) → Add(outProjBias).
     * `unidirectional=1` is causal; without past state that is top-left (query i sees keys
     * j <= i), which is torch's is_causal for self-attention.
     */
    async mha({ batch, seq, embed, heads, weights, causal = false }) {
      checkMhaWeights(embed, heads, weights);
      const { inProjWeight, inProjBias, outProjWeight, outProjBias } = weights;

      const shape = [batch, seq, embed];
      const session = await open(
        encodeModel({
          graph: {
            name: 'mha',
            nodes: [
              {
                opType: 'Attention',
                domain: 'com.microsoft',
                inputs: ['x', 'qkv_weight', 'qkv_bias'],
                outputs: ['ctx'],
                attributes: [intAttr('num_heads', heads), intAttr('unidirectional', causal ? 1 : 0)],
              },
              { opType: 'MatMul', inputs: ['ctx', 'out_weight_t'], outputs: ['proj'] },
              { opType: 'Add', inputs: ['proj', 'out_bias'], outputs: ['y'] },
            ],
            initializers: [
              { name: 'qkv_weight', dims: [embed, 3 * embed], data: transpose(inProjWeight, 3 * embed, embed) },
              { name: 'qkv_bias', dims: [3 * embed], data: inProjBias },
              { name: 'out_weight_t', dims: [embed, embed], data: transpose(outProjWeight, embed, embed) },
              { name: 'out_bias', dims: [embed], data: outProjBias },
            ],
            inputs: [{ name: 'x', shape }],
            outputs: [{ name: 'y', shape }],
          },
        }),
      );
      const n = batch * seq * embed;
      return {
        async run(x) {
          checkLength('x', x, n);
          const out = await session.run({ x: new ort.Tensor('float32', x, shape) });
          return out.y.data;
        },
      };
    },

    /**
     * Scaled dot-product attention, scale 1/sqrt(headDim), on torch SDPA layout
     * [batch, heads, seq, headDim] for q, k, v and the output.
     *
     * Op choice: the standard ONNX `Attention` (opset 23), which ORT's CPU/wasm build
     * implements and which takes 4-D [B, H, S, D] inputs as they are — no Transpose in the
     * graph and none in JS. Its `is_causal` is top-left aligned, also when seqQ != seqK
     * (checked against a float64 reference). The alternative, com.microsoft
     * MultiHeadAttention, needs Q as [B, S, H*D] (an in-graph Transpose each way) and its
     * `unidirectional` mask is bottom-right aligned when seqQ < seqK (it treats the extra keys
     * as past state), so it is not torch's is_causal there; it was also ~3% slower at
     * 8×2048×2048×64 causal.
     *
     * For reading results: ORT 1.30's CPU kernel materialises the whole seqQ×seqK score matrix
     * and masks it, so causal costs about as much as non-causal (no skipping of masked
     * blocks), and the first run at large sizes is slow while the wasm heap grows to hold it.
     *
     * `validLens` (one length per batch; keys at index >= len are masked, as torch's key
     * padding), built once per session as a constant initializer:
     * - not causal: opset 24's `nonpad_kv_seqlen` input, int64 [batch]. ORT's kernel still
     *   computes the full Q·Kᵀ per head, then fills the padded columns with the lowest float
     *   before the softmax: no skipping, but no mask tensor to copy either.
     * - causal: ORT 1.30 combines is_causal with nonpad_kv_seqlen bottom-right aligned to each
     *   batch's valid length (query i sees keys j <= i - (seqQ - len); checked: max diff 1.1
     *   against torch semantics), so there the mask is a float `attn_mask` [batch, 1, seqQ,
     *   seqK] holding 0 / -Infinity for padding and causality together, with is_causal = 0
     *   (with is_causal = 1 the kernel would copy the mask and overlay causality every run).
     * Why not the other forms: this build rejects a broadcast [batch, 1, 1, seqK] attn_mask
     * ("attn_mask must be broadcastable ... q_sequence_length": dim -2 must equal seqQ); a
     * full float mask is memcpy'd into every head's score matrix (4 MB at 4×512×512; within
     * noise of nonpad_kv_seqlen on one thread: 168 vs 155 ms median at 4×12×512×512); a bool
     * mask is converted to float on every run. Lengths must be in 1..seqK (a row with no
     * valid key gets a uniform softmax in ORT but zeros in torch).
     */
    async attentionCore({ batch, heads, seqQ, seqK, headDim, causal = false, validLens }) {
      const qShape = [batch, heads, seqQ, headDim];
      const kvShape = [batch, heads, seqK, headDim];
      const attentionInputs = ['q', 'k', 'v'];
      const initializers = [];
      if (validLens != null) {
        if (validLens.length !== batch) {
          throw new RangeError(`validLens has ${validLens.length} entries, expected batch = ${batch}`);
        }
        for (const len of validLens) {
          if (!Number.isInteger(len) || len < 1 || len > seqK) {
            throw new RangeError(`validLens entries must be integers in 1..${seqK}, got ${len}`);
          }
        }
        if (causal) {
          const mask = new Float32Array(batch * seqQ * seqK);
          for (let b = 0; b < batch; b++) {
            for (let i = 0; i < seqQ; i++) {
              const row = mask.subarray((b * seqQ + i) * seqK, (b * seqQ + i + 1) * seqK);
              row.fill(-Infinity, Math.min(validLens[b], i + 1));
            }
          }
          attentionInputs.push('attn_mask');
          initializers.push({ name: 'attn_mask', dims: [batch, 1, seqQ, seqK], data: mask });
        } else {
          // Inputs 3..5 (attn_mask, past_key, past_value) are absent; 6 is nonpad_kv_seqlen.
          attentionInputs.push('', '', '', 'nonpad_kv_seqlen');
          initializers.push({ name: 'nonpad_kv_seqlen', dims: [batch], data: BigInt64Array.from(validLens, (n) => BigInt(n)) });
        }
      }
      const causalAttr = causal && validLens == null;
      const session = await open(
        encodeModel({
          // Attention entered the default domain in opset 23 (IR version 10); nonpad_kv_seqlen
          // came with opset 24 (IR version 11).
          irVersion: validLens != null && !causal ? 11 : 10,
          opsets: [{ domain: '', version: validLens != null && !causal ? 24 : 23 }],
          graph: {
            name: 'sdpa',
            nodes: [
              {
                opType: 'Attention',
                inputs: attentionInputs,
                outputs: ['y'],
                attributes: [intAttr('is_causal', causalAttr ? 1 : 0), floatAttr('scale', 1 / Math.sqrt(headDim))],
              },
            ],
            initializers,
            inputs: [
              { name: 'q', shape: qShape },
              { name: 'k', shape: kvShape },
              { name: 'v', shape: kvShape },
            ],
            outputs: [{ name: 'y', shape: qShape }],
          },
        }),
      );
      const nq = batch * heads * seqQ * headDim;
      const nkv = batch * heads * seqK * headDim;
      return {
        async run(q, k, v) {
          checkLength('q', q, nq);
          checkLength('k', k, nkv);
          checkLength('v', v, nkv);
          const out = await session.run({
            q: new ort.Tensor('float32', q, qShape),
            k: new ort.Tensor('float32', k, kvShape),
            v: new ort.Tensor('float32', v, kvShape),
          });
          return out.y.data;
        },
      };
    },

    /**
     * nn.TransformerEncoderLayer(batch_first=True), post-norm, eval, weights keyed by torch's
     * state-dict names. The graph is the one a PyTorch export becomes once ORT has optimised it,
     * built here so the bench needs no PyTorch:
     *   x → com.microsoft Attention (fused QKV projection + SDPA, as in `mha`) → MatMul + Add
     *   (out_proj) → Add x → LayerNormalization (norm1) → MatMul + Add (linear1) → GELU as
     *   0.5·h·(1 + Erf(h/√2)) (torch's exact GELU, as torch.onnx exports it) or Relu → MatMul +
     *   Add (linear2) → Add → LayerNormalization (norm2).
     * LayerNormalization is the ai.onnx op of opset 17. Sessions open at graphOptimizationLevel
     * 'all', where ORT has fusions for the Erf pattern (Gelu, BiasGelu) and for a residual Add +
     * LayerNormalization (SkipLayerNormalization), as for an exported BERT; which of them fire in
     * the wasm build was not checked. Checked once against torch 1.13's layer (seq 128, the
     * bench's weights): max abs diff 1.7e-6 (ours 2.2e-6, plain JS 7.2e-7).
     */
    async encoderLayer({ batch, seq, dModel: d, nhead, ff, activation, eps, weights: w }) {
      const want = {
        'self_attn.in_proj_weight': 3 * d * d, 'self_attn.in_proj_bias': 3 * d,
        'self_attn.out_proj.weight': d * d, 'self_attn.out_proj.bias': d,
        'linear1.weight': ff * d, 'linear1.bias': ff, 'linear2.weight': d * ff, 'linear2.bias': d,
        'norm1.weight': d, 'norm1.bias': d, 'norm2.weight': d, 'norm2.bias': d,
      };
      for (const [key, n] of Object.entries(want)) checkLength(`weights['${key}']`, w[key], n);
      if (d % nhead !== 0) throw new RangeError(`dModel ${d} not divisible by nhead ${nhead}`);
      if (activation !== 'gelu' && activation !== 'relu') throw new RangeError(`activation must be 'relu' or 'gelu', got ${JSON.stringify(activation)}`);
      const act = activation === 'gelu'
        ? [
            { opType: 'Div', inputs: ['h', 'sqrt2'], outputs: ['h_scaled'] },
            { opType: 'Erf', inputs: ['h_scaled'], outputs: ['h_erf'] },
            { opType: 'Add', inputs: ['h_erf', 'one'], outputs: ['h_erf1'] },
            { opType: 'Mul', inputs: ['h', 'h_erf1'], outputs: ['h_prod'] },
            { opType: 'Mul', inputs: ['h_prod', 'half'], outputs: ['a'] },
          ]
        : [{ opType: 'Relu', inputs: ['h'], outputs: ['a'] }];
      const scalar = (name, value) => ({ name, dims: [], data: Float32Array.of(value) });
      const norm = (i, input, output) => ({
        opType: 'LayerNormalization', inputs: [input, `norm${i}_weight`, `norm${i}_bias`], outputs: [output],
        attributes: [intAttr('axis', -1), floatAttr('epsilon', eps)],
      });
      const shape = [batch, seq, d];
      const session = await open(
        encodeModel({
          graph: {
            name: 'encoder_layer',
            nodes: [
              { opType: 'Attention', domain: 'com.microsoft', inputs: ['x', 'qkv_weight', 'qkv_bias'], outputs: ['ctx'],
                attributes: [intAttr('num_heads', nhead)] },
              { opType: 'MatMul', inputs: ['ctx', 'out_weight_t'], outputs: ['proj'] },
              { opType: 'Add', inputs: ['proj', 'out_bias'], outputs: ['sa'] },
              { opType: 'Add', inputs: ['x', 'sa'], outputs: ['res1'] },
              norm(1, 'res1', 'x1'),
              { opType: 'MatMul', inputs: ['x1', 'linear1_weight_t'], outputs: ['h0'] },
              { opType: 'Add', inputs: ['h0', 'linear1_bias'], outputs: ['h'] },
              ...act,
              { opType: 'MatMul', inputs: ['a', 'linear2_weight_t'], outputs: ['f0'] },
              { opType: 'Add', inputs: ['f0', 'linear2_bias'], outputs: ['f'] },
              { opType: 'Add', inputs: ['x1', 'f'], outputs: ['res2'] },
              norm(2, 'res2', 'y'),
            ],
            initializers: [
              { name: 'qkv_weight', dims: [d, 3 * d], data: transpose(w['self_attn.in_proj_weight'], 3 * d, d) },
              { name: 'qkv_bias', dims: [3 * d], data: w['self_attn.in_proj_bias'] },
              { name: 'out_weight_t', dims: [d, d], data: transpose(w['self_attn.out_proj.weight'], d, d) },
              { name: 'out_bias', dims: [d], data: w['self_attn.out_proj.bias'] },
              { name: 'linear1_weight_t', dims: [d, ff], data: transpose(w['linear1.weight'], ff, d) },
              { name: 'linear1_bias', dims: [ff], data: w['linear1.bias'] },
              { name: 'linear2_weight_t', dims: [ff, d], data: transpose(w['linear2.weight'], d, ff) },
              { name: 'linear2_bias', dims: [d], data: w['linear2.bias'] },
              ...[1, 2].flatMap((i) => [
                { name: `norm${i}_weight`, dims: [d], data: w[`norm${i}.weight`] },
                { name: `norm${i}_bias`, dims: [d], data: w[`norm${i}.bias`] },
              ]),
              ...(activation === 'gelu' ? [scalar('sqrt2', Math.SQRT2), scalar('one', 1), scalar('half', 0.5)] : []),
            ],
            inputs: [{ name: 'x', shape }],
            outputs: [{ name: 'y', shape }],
          },
        }),
      );
      const n = batch * seq * d;
      return {
        async run(x) {
          checkLength('x', x, n);
          const out = await session.run({ x: new ort.Tensor('float32', x, shape) });
          return out.y.data;
        },
      };
    },

    /**
     * nn.Linear without bias: C [m, n] = A [m, k] · Wᵀ, W [n, k] (torch's [out, in]). Graph: one
     * ONNX Gemm with transB = 1 and W as an initializer, so ORT packs it once per session (as
     * our layers pack their weights once); A is an input, copied in on every run.
     */
    async gemm({ m, n, k, weight }) {
      checkLength('weight', weight, n * k);
      const session = await open(
        encodeModel({
          graph: {
            name: 'gemm',
            nodes: [{ opType: 'Gemm', inputs: ['a', 'w'], outputs: ['c'], attributes: [intAttr('transB', 1)] }],
            initializers: [{ name: 'w', dims: [n, k], data: weight }],
            inputs: [{ name: 'a', shape: [m, k] }],
            outputs: [{ name: 'c', shape: [m, n] }],
          },
        }),
      );
      return {
        async run(a) {
          checkLength('a', a, m * k);
          const out = await session.run({ a: new ort.Tensor('float32', a, [m, k]) });
          return out.c.data;
        },
      };
    },

    /**
     * GPT2LMHeadModel with a KV cache, as transformers.js runs it: the graph of
     * ./onnx-models.mjs (gpt2WithPastOnnx), batch 1. `run(ids, past)` feeds input_ids, an
     * attention_mask of ones over past + new tokens, position_ids past…past + L - 1 and the past
     * K/V (the `present` of the previous call; empty [1, n_head, 0, d] tensors for the prompt),
     * and returns ORT's outputs: logits [1, L, vocab] for every position and `present`, every
     * layer's K/V, read back into JavaScript to be fed in again on the next call, as
     * transformers.js does on the wasm backend.
     */
    async gpt2({ config, weights, q8 }) {
      const H = config.n_head, d = config.n_embd / config.n_head, layers = config.n_layer;
      const graph = gpt2WithPastGraph(config, weights);
      const session = await open(encodeModel({ graph: q8 ? quantizeDynamic(graph, q8) : graph }));
      const empty = new ort.Tensor('float32', new Float32Array(0), [1, H, 0, d]);
      const int64 = (values, dims) => new ort.Tensor('int64', BigInt64Array.from(values, BigInt), dims);
      return {
        async run(ids, past) {
          if (!(ids instanceof Int32Array) || ids.length === 0) throw new TypeError('ids must be a non-empty Int32Array');
          const L = ids.length, pastLength = past ? past['present.0.key'].dims[2] : 0;
          if (pastLength + L > config.n_positions) throw new RangeError(`past ${pastLength} + ${L} tokens > n_positions ${config.n_positions}`);
          const feeds = {
            input_ids: int64(ids, [1, L]),
            attention_mask: int64(new Array(pastLength + L).fill(1), [1, pastLength + L]),
            position_ids: int64(Array.from({ length: L }, (_, i) => pastLength + i), [1, L]),
          };
          for (let i = 0; i < layers; i++) {
            for (const kind of ['key', 'value']) feeds[`past_key_values.${i}.${kind}`] = past ? past[`present.${i}.${kind}`] : empty;
          }
          const out = await session.run(feeds);
          return { logits: out.logits.data, present: out };
        },
      };
    },

    /**
     * BertModel (last_hidden_state), as transformers.js's feature extraction runs it: the graph
     * of ./onnx-models.mjs (bertOnnx) fed input_ids, an attention_mask of ones and token_type_ids
     * of zeros, int64 [batch, seq].
     */
    async bert({ config, weights, q8 }) {
      const graph = bertGraph(config, weights);
      const session = await open(encodeModel({ graph: q8 ? quantizeDynamic(graph, q8) : graph }));
      return {
        async run(ids, { batch, seq }) {
          if (!(ids instanceof Int32Array) || ids.length !== batch * seq) throw new RangeError(`ids must be an Int32Array of batch·seq = ${batch * seq}`);
          const dims = [batch, seq];
          const out = await session.run({
            input_ids: new ort.Tensor('int64', BigInt64Array.from(ids, BigInt), dims),
            attention_mask: new ort.Tensor('int64', new BigInt64Array(batch * seq).fill(1n), dims),
            token_type_ids: new ort.Tensor('int64', new BigInt64Array(batch * seq), dims),
          });
          return out.last_hidden_state.data;
        },
      };
    },

    /**
     * One BERT encoder layer on hidden states [batch, seq, dModel], the layer of the exported
     * BertModel (./onnx-models.mjs bertLayerGraph: Q, K, V as three MatMul + Add, attention
     * unfused, as Optimum exports it and transformers.js runs it; not the fused com.microsoft
     * Attention of `encoderLayer`), fp32 or q8. Weights are nn.TransformerEncoderLayer's.
     */
    async bertLayer({ batch, seq, dModel, nhead, ff, eps, weights, q8 }) {
      const graph = bertLayerGraph({ dModel, nhead, ff, eps }, weights);
      const session = await open(encodeModel({ graph: q8 ? quantizeDynamic(graph, q8) : graph }));
      const shape = [batch, seq, dModel];
      return {
        async run(x) {
          checkLength('x', x, batch * seq * dModel);
          const out = await session.run({ x: new ort.Tensor('float32', x, shape) });
          return out.y.data;
        },
      };
    },

    /** Release this peer's sessions. ORT itself (and its thread count) stays for the process. */
    async dispose() {
      const all = [...sessions];
      sessions.clear();
      await Promise.all(all.map((s) => s.release()));
    },
  };
}
