// Public types. Every tensor is a row-major Float32Array (masks: Uint8Array / Float32Array,
// lengths: Int32Array); shapes are given in the comments as [dim, ...] in element counts.
// An array's kind is its real one (its [[TypedArrayName]], not its Symbol.toStringTag): arrays
// of other realms, subclasses, subarray views and SharedArrayBuffer-backed arrays are taken.
// Every options object, and every module's config and weights, takes exactly the keys listed
// here: any other own enumerable string key is a RangeError naming it (even when its value is
// undefined), with the intended name when it is close (`is_causal` → `causal`, `casual` →
// `causal`). Not so, as documented where they are specified: HF config.json objects and state
// dicts of GPT-2 and BERT (a model's state dict keys it does not use go to `unusedKeys`),
// `loadTokenizer`'s config, and `writeSafetensors`' tensors.

/** Which kernel build an engine runs. */
export type KernelVariant = 'simd' | 'relaxed';

/** The dot-product instruction of the int8 GEMM and GEMV (`quantize: 'int8'`):
 * - `'relaxed_dot_i8x16_i7x16'`: `i32x4.relaxed_dot_i8x16_i7x16_add_s` (16 multiply-adds each)
 *   on the activation codes 0..255, where the relaxed build runs on an engine that computes it
 *   exactly with that operand unsigned (x64 with AVX-VNNI and without AVX-VNNI-INT8, in V8 15:
 *   Deno 2.9, Chromium 156);
 * - `'relaxed_dot_i8x16_i7x16_signed'`: the same instruction on the codes less 128, where the
 *   engine reads that operand signed (V8 on Arm: `sdot`, or `smull` and i16 pair sums, both exact
 *   here; x64 with AVX-VNNI-INT8); the zero points are moved by 128 to match;
 * - `'dot_i16x8'`: `i32x4.dot_i16x8_s` on codes widened to 16 bits (8 multiply-adds each) elsewhere.
 * The integer sums are exact in each, so the results are the same bits. */
export type Int8Dot = 'relaxed_dot_i8x16_i7x16' | 'relaxed_dot_i8x16_i7x16_signed' | 'dot_i16x8';

declare global {
  // The two host types these declarations name (EngineOptions.wasm), for consumers that compile
  // with neither the DOM lib nor @types/node (lib ES2022 alone declares no WebAssembly namespace
  // and no URL; @types/node 20 declares URL but no WebAssembly). Each merges with the fuller
  // declaration where one is present (`href` as the DOM's and Node's own: a string).
  // eslint-disable-next-line @typescript-eslint/no-namespace, @typescript-eslint/no-empty-interface
  namespace WebAssembly {
    interface Module {} // eslint-disable-line @typescript-eslint/no-empty-object-type
  }
  interface URL {
    href: string;
  }
  // `await using` on the handles below: the symbol as TypeScript's esnext.disposable lib and
  // @types/node declare it (identical declarations merge), for consumers whose lib has neither.
  interface SymbolConstructor {
    readonly asyncDispose: unique symbol;
  }
}

/** What the host WebAssembly engine offers, detected once when an engine is created. */
export interface Features {
  /** Fixed-width 128-bit SIMD (required). */
  readonly simd: boolean;
  /** Relaxed SIMD (`f32x4.relaxed_madd`): Node 22+, Chrome 114+, Deno; Node 20 with a flag. */
  readonly relaxedSimd: boolean;
  /** A shared `WebAssembly.Memory` can be created here (needs `SharedArrayBuffer`, and in
   * browsers cross-origin isolation). The engine's memory is shared when this is true and it
   * runs more than one thread (or was handed a shared build as `options.wasm`). */
  readonly sharedMemory: boolean;
}

/** Options of `createEngine`; any other key is a RangeError. */
export interface EngineOptions {
  /** Threads to compute with (1..256). 1 runs on the calling thread; n > 1 starts n workers on
   * one shared memory; `'auto'` takes the available cores. Without SharedArrayBuffer (a page that
   * is not cross-origin isolated) or workers (workerd) the engine runs on 1 thread, and says so
   * on the console (once per engine) when a number above 1 was asked for; `'auto'` takes the one
   * thread of a runtime without SharedArrayBuffer silently (`engine.threads` gives the count).
   * Default 1. */
  threads?: number | 'auto' | undefined;
  /** Kernel build: `'auto'` (default) picks relaxed SIMD where the engine validates it. */
  kernels?: 'auto' | KernelVariant | undefined;
  /** The kernels themselves, instead of loading dist/kernels-*.wasm: a compiled
   * `WebAssembly.Module` (runtimes that forbid compiling from bytes, e.g. Cloudflare Workers:
   * `import kernels from 'wasm-attention/kernels-simd.wasm'`), its bytes, or its URL. The
   * module decides the build, so `kernels` cannot be given with it (a RangeError). */
  wasm?: WebAssembly.Module | ArrayBuffer | ArrayBufferView | URL | string | undefined;
}

/** Options of {@link Engine.attention}: `F.scaled_dot_product_attention` semantics. Any other
 * key (torch's `is_causal`, `attn_mask`, …) is a RangeError naming the key here. */
export interface AttentionOptions {
  batch: number;
  heads: number;
  seqQ: number;
  seqK: number;
  headDim: number;
  /** Head size of v and of the output; default headDim. */
  headDimV?: number | undefined;
  /** Logit scale; default 1/sqrt(headDim). Finite as an f32 (else a RangeError). */
  scale?: number | undefined;
  /** Top-left aligned causal mask, as torch's is_causal: query i sees keys j <= i. */
  causal?: boolean | undefined;
  /** [seqQ, seqK] or [batch, heads, seqQ, seqK]. Uint8Array: non-zero = attend.
   * Float32Array: added to the scaled logits (may hold -Infinity). */
  attnMask?: Uint8Array | Float32Array | undefined;
  /** [batch] or [batch, seqQ]: keys at index >= len are masked (len >= 0; len >= seqK masks none). */
  validLens?: Int32Array | undefined;
  /** Also return the normalised weights [batch, heads, seqQ, seqK]. */
  returnWeights?: boolean | undefined;
  /** Positions that k and v hold per (batch, head): k is [batch, heads, kvCapacity, headDim],
   * v [batch, heads, kvCapacity, headDimV], and the first seqK positions of each are used (a
   * KV cache that grows by one position per decoding step). Default seqK. */
  kvCapacity?: number | undefined;
}

/** An f32 tensor in the engine's memory ({@link Engine.createTensor}). Calls read it in place, so
 * data used by many calls (a KV cache) is copied in once instead of on every call. Writes, reads
 * and dispose run after every call queued before them. */
export interface EngineTensor {
  /** Elements. */
  readonly length: number;
  /** Copies `data` into elements offset .. offset + data.length (default offset 0), after the
   * calls queued before it. `data` is read when `write` is called (copied if the engine is busy),
   * so the caller may reuse its array at once. */
  write(data: Float32Array, offset?: number): Promise<void>;
  /** A copy of `length` elements from `offset` (default: from 0 to the end). */
  read(offset?: number, length?: number): Promise<Float32Array>;
  /** Frees the tensor's memory (also freed when the handle is garbage-collected); calls queued
   * before still see it, later uses reject. Idempotent. */
  dispose(): Promise<void>;
  /** dispose(), at the end of an `await using` block (present where the runtime defines
   * Symbol.asyncDispose: Node 20.4+, Deno, Bun, Chromium). */
  [Symbol.asyncDispose](): Promise<void>;
}

export interface AttentionResult {
  /** [batch, heads, seqQ, headDimV] (attention), [batch, seqQ, embedDim] (multi-head). */
  output: Float32Array;
  /** Normalised attention weights, when asked for. */
  weights?: Float32Array | undefined;
}

/** `nn.MultiheadAttention` parameters, torch's names in camelCase and layouts (`[out, in]`);
 * any other key (`in_proj_weight`, `out_proj.weight`, …) is a RangeError naming the key here. */
export interface MultiHeadAttentionWeights {
  /** [3·embedDim, embedDim]: q, k, v projections stacked (only when kdim = vdim = embedDim). */
  inProjWeight?: Float32Array | undefined;
  /** [embedDim, embedDim] */
  qProjWeight?: Float32Array | undefined;
  /** [embedDim, kdim] */
  kProjWeight?: Float32Array | undefined;
  /** [embedDim, vdim] */
  vProjWeight?: Float32Array | undefined;
  /** [3·embedDim]; required when bias is true. */
  inProjBias?: Float32Array | undefined;
  /** [embedDim, embedDim] */
  outProjWeight: Float32Array;
  /** [embedDim]; required when bias is true. */
  outProjBias?: Float32Array | undefined;
}

/** {@link Engine.multiHeadAttention}'s configuration; any other key is a RangeError. */
export interface MultiHeadAttentionConfig {
  embedDim: number;
  numHeads: number;
  /** Key feature size; default embedDim. */
  kdim?: number | undefined;
  /** Value feature size; default embedDim. */
  vdim?: number | undefined;
  /** Projections carry biases; default true. */
  bias?: boolean | undefined;
  /** Default none (f32). 'int8': the four projection weights are quantized at load (see
   * LinearConfig.quantize); the attention core stays f32. */
  quantize?: Quantize | undefined;
  weights: MultiHeadAttentionWeights;
}

/** Options of {@link MultiHeadAttention.forward}: `nn.MultiheadAttention(batch_first=True)`. Any
 * other key (`key_padding_mask`, `need_weights`, …) is a RangeError naming the key here. */
export interface MultiHeadAttentionForwardOptions {
  batch: number;
  seqQ: number;
  seqK: number;
  /** [batch, seqK]. Uint8Array: non-zero = ignore that key. Float32Array: added to that key's
   * logits (merged with attnMask as torch merges them, a bool attnMask as -inf). */
  keyPaddingMask?: Uint8Array | Float32Array | undefined;
  /** [seqQ, seqK] or [batch·numHeads, seqQ, seqK]. Uint8Array: non-zero = NOT allowed.
   * Float32Array: added to the scaled logits. */
  attnMask?: Uint8Array | Float32Array | undefined;
  /** Query i sees keys j <= i (applied together with any mask). */
  causal?: boolean | undefined;
  /** Return attention weights; default true, as torch. */
  needWeights?: boolean | undefined;
  /** Weights averaged over heads [batch, seqQ, seqK] (default true) or per head
   * [batch, numHeads, seqQ, seqK]. */
  averageWeights?: boolean | undefined;
}

export interface MultiHeadAttention {
  readonly embedDim: number;
  readonly numHeads: number;
  readonly kdim: number;
  readonly vdim: number;
  /** query [batch, seqQ, embedDim], key [batch, seqK, kdim], value [batch, seqK, vdim]
   * → output [batch, seqQ, embedDim]. */
  forward(
    query: Float32Array, key: Float32Array, value: Float32Array,
    options: MultiHeadAttentionForwardOptions,
  ): Promise<AttentionResult>;
  /** Frees the layer's weights in the engine's memory (they are also freed when the layer is
   * garbage-collected); later forward calls reject. Idempotent. */
  dispose(): Promise<void>;
  /** dispose(), at the end of an `await using` block (present where the runtime defines
   * Symbol.asyncDispose: Node 20.4+, Deno, Bun, Chromium). */
  [Symbol.asyncDispose](): Promise<void>;
}

/** An op's f32 input: an array (copied in by the call) or a tensor of the engine (read in place). */
export type TensorLike = Float32Array | EngineTensor;

/** Options of {@link Engine.matmul}: C = alpha·A·B (or A·Bᵀ) + bias, batched like `torch.bmm`. */
export interface MatmulOptions {
  /** Rows of A and C. */
  m: number;
  /** Columns of A; rows of B (columns of B with transB). */
  k: number;
  /** Columns of B and C (rows of B with transB). */
  n: number;
  /** Products: A [batch, m, k], C [batch, m, n], and B [batch, k, n] or one [k, n] for every
   * batch entry (a weight). Default 1. */
  batch?: number | undefined;
  /** B is given as [n, k] (nn.Linear's weight) and used transposed. Default false. */
  transB?: boolean | undefined;
  /** Multiplies A·B (before the bias). Default 1. Finite as an f32 (else a RangeError). */
  alpha?: number | undefined;
  /** [n], added to every row of C. */
  bias?: TensorLike | undefined;
  /** Write C into this tensor and resolve to it, instead of a new Float32Array. */
  out?: EngineTensor | undefined;
}

/** Options of {@link Engine.softmax}: `torch.softmax(x·scale + mask, -1)`. */
export interface SoftmaxOptions {
  rows: number;
  cols: number;
  /** Multiplies x before the mask. Default 1. Finite as an f32 (else a RangeError). */
  scale?: number | undefined;
  /** [rows, cols] or [cols] (one row for every row). Uint8Array: non-zero = keep, 0 = masked.
   * Float32Array: added (may hold -Infinity). A row with every entry masked, or whose logits
   * are all −inf for another reason, gives zeros (torch: NaN). */
  mask?: Uint8Array | Float32Array | undefined;
  /** Write the result into this tensor and resolve to it. */
  out?: EngineTensor | undefined;
}

/** Options of {@link Engine.layerNorm}: `F.layer_norm(x + residual, [dim], weight, bias, eps)`. */
export interface LayerNormOptions {
  rows: number;
  /** Elements normalised together (torch's normalized_shape, one dimension). */
  dim: number;
  /** [dim]; default ones. */
  weight?: TensorLike | undefined;
  /** [dim]; default zeros. */
  bias?: TensorLike | undefined;
  /** Added to the variance; default 1e-5. */
  eps?: number | undefined;
  /** [rows, dim], added to x before normalising (a post-norm residual connection). */
  residual?: TensorLike | undefined;
  /** Write the result into this tensor (it may be x or the residual) and resolve to it. */
  out?: EngineTensor | undefined;
}

/** Options of {@link Engine.gelu}: `F.gelu(x, approximate)`. */
export interface GeluOptions {
  /** 'none' (exact, erf; the default) or 'tanh'. */
  approximate?: 'none' | 'tanh' | undefined;
  /** Write the result into this tensor (it may be x) and resolve to it. */
  out?: EngineTensor | undefined;
}

/** Weight quantization of a module: 'int8' keeps each weight matrix as int8 codes with one
 * scale per output channel (quantized once, at load) and quantizes the activations per row
 * on the fly; the GEMM accumulates exactly in i32 (docs/DESIGN.md, "int8 GEMM"). A weight that
 * `loadSafetensors` read from an int8 file (`npx wasm-attention quantize`) keeps the file's
 * codes and scales (no second quantization: the same bits as the original f32 file). */
export type Quantize = 'int8';

/** `nn.Linear`: y = x·Wᵀ + b. */
export interface LinearConfig {
  inFeatures: number;
  outFeatures: number;
  /** Default true, as torch. */
  bias?: boolean | undefined;
  /** Default none (f32). 'int8': the weight is quantized at load (inFeatures <= 65536; every
   * weight finite); the bias stays f32. */
  quantize?: Quantize | undefined;
  /** `state_dict()`: weight [outFeatures, inFeatures], bias [outFeatures]. */
  weights: { weight: Float32Array; bias?: Float32Array };
}

export interface LinearForwardOptions {
  /** Rows of x (every leading dimension flattened). */
  rows: number;
  /** Write y into this tensor and resolve to it. */
  out?: EngineTensor | undefined;
}

export interface Linear {
  readonly inFeatures: number;
  readonly outFeatures: number;
  /** x [rows, inFeatures] → y [rows, outFeatures]. */
  forward(x: TensorLike, options: LinearForwardOptions & { out: EngineTensor }): Promise<EngineTensor>;
  forward(x: TensorLike, options: LinearForwardOptions & { out?: undefined }): Promise<Float32Array>;
  forward(x: TensorLike, options: LinearForwardOptions): Promise<Float32Array | EngineTensor>;
  /** Frees the weights in the engine's memory; later calls reject. Idempotent. */
  dispose(): Promise<void>;
  /** dispose(), at the end of an `await using` block (present where the runtime defines
   * Symbol.asyncDispose: Node 20.4+, Deno, Bun, Chromium). */
  [Symbol.asyncDispose](): Promise<void>;
}

/** The constructor arguments of `nn.TransformerEncoderLayer` / `DecoderLayer` / `nn.Transformer`,
 * camelCased, with `batch_first=True` and eval mode. */
export interface TransformerLayerConfig {
  dModel: number;
  nhead: number;
  /** Default 2048. */
  dimFeedforward?: number | undefined;
  /** 'relu' (default) or 'gelu' (exact, erf). */
  activation?: 'relu' | 'gelu' | undefined;
  /** Default 1e-5. */
  layerNormEps?: number | undefined;
  /** Pre-norm (norm before each sublayer); default false (post-norm). */
  normFirst?: boolean | undefined;
  /** torch ≥ 2.1's `bias`; default true. false: the linear layers and LayerNorms have no
   * bias, and the state dict no `*bias` / `in_proj_bias` keys (as torch writes it). */
  bias?: boolean | undefined;
  /** Accepted and ignored (inference has no dropout); a number in [0, 1], as torch checks. */
  dropout?: number | undefined;
  /** Must be true when given: inputs are [batch, seq, dModel]. */
  batchFirst?: boolean | undefined;
  /** Default none (f32). 'int8': every projection and feed-forward weight is quantized at load
   * (see LinearConfig.quantize); attention, LayerNorm and the activations stay f32. */
  quantize?: Quantize | undefined;
}

export interface TransformerEncoderLayerConfig extends TransformerLayerConfig {
  /** `state_dict()` keys: self_attn.in_proj_weight, self_attn.in_proj_bias, self_attn.out_proj.weight,
   * self_attn.out_proj.bias, linear1.weight, linear1.bias, linear2.weight, linear2.bias,
   * norm1.weight, norm1.bias, norm2.weight, norm2.bias. */
  weights: Record<string, Float32Array>;
}

/** As the encoder layer's, plus multihead_attn.* and norm3.*. */
export type TransformerDecoderLayerConfig = TransformerEncoderLayerConfig;

export interface TransformerConfig extends TransformerLayerConfig {
  /** Default 6. */
  numEncoderLayers?: number | undefined;
  /** Default 6. */
  numDecoderLayers?: number | undefined;
  /** `state_dict()` keys: encoder.layers.N.*, encoder.norm.*, decoder.layers.N.*, decoder.norm.*. */
  weights: Record<string, Float32Array>;
}

/** Masks of a self-attention: mask [seq, seq] or [batch·nhead, seq, seq] (Uint8Array: non-zero =
 * not allowed; Float32Array: added), key padding [batch, seq] (Uint8Array: non-zero = ignore that
 * key; Float32Array: added to that key's logits, as torch merges a float key_padding_mask). */
export interface TransformerEncoderLayerForwardOptions {
  batch: number;
  seq: number;
  srcMask?: Uint8Array | Float32Array | undefined;
  srcKeyPaddingMask?: Uint8Array | Float32Array | undefined;
  /** Query i sees keys j <= i (together with any srcMask). */
  isCausal?: boolean | undefined;
}

export interface TransformerDecoderLayerForwardOptions {
  batch: number;
  /** Target (query) positions. */
  seqT: number;
  /** Memory (source) positions. */
  seqS: number;
  /** [seqT, seqT] or [batch·nhead, seqT, seqT]. */
  tgtMask?: Uint8Array | Float32Array | undefined;
  /** [seqT, seqS] or [batch·nhead, seqT, seqS]. */
  memoryMask?: Uint8Array | Float32Array | undefined;
  /** [batch, seqT]. */
  tgtKeyPaddingMask?: Uint8Array | Float32Array | undefined;
  /** [batch, seqS]. */
  memoryKeyPaddingMask?: Uint8Array | Float32Array | undefined;
  tgtIsCausal?: boolean | undefined;
}

export interface TransformerEncodeOptions {
  batch: number;
  seqS: number;
  srcMask?: Uint8Array | Float32Array | undefined;
  srcKeyPaddingMask?: Uint8Array | Float32Array | undefined;
  srcIsCausal?: boolean | undefined;
}

export type TransformerDecodeOptions = TransformerDecoderLayerForwardOptions;

export interface TransformerForwardOptions extends TransformerDecoderLayerForwardOptions {
  srcMask?: Uint8Array | Float32Array | undefined;
  srcKeyPaddingMask?: Uint8Array | Float32Array | undefined;
  srcIsCausal?: boolean | undefined;
}

export interface TransformerEncoderLayer {
  /** src [batch, seq, dModel] → [batch, seq, dModel]. */
  forward(src: Float32Array, options: TransformerEncoderLayerForwardOptions): Promise<Float32Array>;
  dispose(): Promise<void>;
  /** dispose(), at the end of an `await using` block (present where the runtime defines
   * Symbol.asyncDispose: Node 20.4+, Deno, Bun, Chromium). */
  [Symbol.asyncDispose](): Promise<void>;
}

export interface TransformerDecoderLayer {
  /** tgt [batch, seqT, dModel], memory [batch, seqS, dModel] → [batch, seqT, dModel]. */
  forward(tgt: Float32Array, memory: TensorLike, options: TransformerDecoderLayerForwardOptions): Promise<Float32Array>;
  dispose(): Promise<void>;
  /** dispose(), at the end of an `await using` block (present where the runtime defines
   * Symbol.asyncDispose: Node 20.4+, Deno, Bun, Chromium). */
  [Symbol.asyncDispose](): Promise<void>;
}

export interface Transformer {
  /** src [batch, seqS, dModel], tgt [batch, seqT, dModel] → [batch, seqT, dModel]. */
  forward(src: Float32Array, tgt: Float32Array, options: TransformerForwardOptions): Promise<Float32Array>;
  /** The encoder stack and its final norm: src → memory [batch, seqS, dModel]. */
  encode(src: Float32Array, options: TransformerEncodeOptions): Promise<Float32Array>;
  /** The decoder stack and its final norm over memory (an array, or a tensor read in place, as a
   * greedy decoding loop keeps it). */
  decode(tgt: Float32Array, memory: TensorLike, options: TransformerDecodeOptions): Promise<Float32Array>;
  dispose(): Promise<void>;
  /** dispose(), at the end of an `await using` block (present where the runtime defines
   * Symbol.asyncDispose: Node 20.4+, Deno, Bun, Chromium). */
  [Symbol.asyncDispose](): Promise<void>;
}

/** config.json of a Hugging Face BERT checkpoint, as HF writes it. These keys are read, and
 * position_embedding_type ('absolute' if present), is_decoder and add_cross_attention (false if
 * present), tie_word_embeddings (a boolean if present) and, for the BertFor* heads, id2label /
 * num_labels; any other HF key (dropout probabilities, architectures, …) is ignored. */
export interface BertConfig {
  vocab_size: number;
  hidden_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  intermediate_size: number;
  max_position_embeddings: number;
  type_vocab_size: number;
  layer_norm_eps: number;
  /** HF's name: 'gelu' (exact erf), 'gelu_python', 'gelu_new', 'gelu_pytorch_tanh', 'gelu_fast',
   * 'gelu_accurate' or 'relu'; also the MLM head's transform activation. */
  hidden_act: string;
  [other: string]: unknown;
}

export interface BertModelOptions {
  config: BertConfig;
  /** HF state-dict keys, the base model's with or without the `bert.` prefix (as `loadSafetensors`
   * gives them); the heads' keys (`classifier.*`, `qa_outputs.*`, `cls.predictions.*`) without it. */
  weights: Record<string, Float32Array>;
  /** Default none (f32). 'int8': the encoder's query/key/value/output/intermediate weights, and
   * bertForMaskedLM's head dense and decoder, are quantized at load (see LinearConfig.quantize);
   * embeddings, LayerNorms, the pooler, the classifiers and qa_outputs stay f32. */
  quantize?: Quantize | undefined;
}

/** Integers: an Int32Array, a Uint8Array or an array of numbers. */
export type IntegerArray = Int32Array | Uint8Array | readonly number[];

export interface BertForwardOptions {
  batch: number;
  seq: number;
  /** [batch, seq], 1 = attend, 0 = padding (HF's meaning; a Float32Array of 0/1 too, as HF
   * takes a float mask). Default: all 1. */
  attentionMask?: IntegerArray | Float32Array | undefined;
  /** [batch, seq] in 0..type_vocab_size-1. Default: all 0. */
  tokenTypeIds?: IntegerArray | undefined;
  /** Return each layer's attention probabilities. */
  outputAttentions?: boolean | undefined;
  /** Return the hidden states (HF's output_hidden_states): the embeddings' output, then each
   * layer's, num_hidden_layers + 1 arrays of [batch, seq, hidden_size]. */
  outputHiddenStates?: boolean | undefined;
}

export interface BertOutput {
  /** [batch, seq, hidden_size]. */
  lastHiddenState: Float32Array;
  /** tanh(pooler.dense(lastHiddenState[:, 0])) [batch, hidden_size], when the weights have a pooler. */
  pooledOutput?: Float32Array | undefined;
  /** Per layer [batch, heads, seq, seq], with outputAttentions. */
  attentions?: Float32Array[] | undefined;
  /** With outputHiddenStates: the embeddings' output and each layer's, [batch, seq, hidden_size]
   * each (the last is lastHiddenState's values). */
  hiddenStates?: Float32Array[] | undefined;
}

export interface BertModel {
  readonly config: Readonly<BertConfig>;
  /** Keys of the weights the base model does not use (`cls.*` heads, `embeddings.position_ids`, …). */
  readonly unusedKeys: readonly string[];
  /** inputIds [batch, seq] in 0..vocab_size-1. */
  forward(inputIds: IntegerArray, options: BertForwardOptions): Promise<BertOutput>;
  dispose(): Promise<void>;
  /** dispose(), at the end of an `await using` block (present where the runtime defines
   * Symbol.asyncDispose: Node 20.4+, Deno, Bun, Chromium). */
  [Symbol.asyncDispose](): Promise<void>;
}

/** What every BertFor* class has: HF's class of that name in eval mode, read from config.json and
 * its state dict. `forward` takes BertModel's inputs and resolves to the class's output. */
export interface BertHeadModel<Output> {
  readonly config: Readonly<BertConfig>;
  /** Keys of the weights the model does not use (a pretraining checkpoint's other heads, the
   * pooler of a class without one, …). */
  readonly unusedKeys: readonly string[];
  forward(inputIds: IntegerArray, options: BertForwardOptions): Promise<Output>;
  dispose(): Promise<void>;
  /** dispose(), at the end of an `await using` block (present where the runtime defines
   * Symbol.asyncDispose: Node 20.4+, Deno, Bun, Chromium). */
  [Symbol.asyncDispose](): Promise<void>;
}

/** A head that classifies into config.id2label's labels. */
export interface BertLabelledHeadModel<Output> extends BertHeadModel<Output> {
  /** config.id2label's names in id order (HF's num_labels is their count); LABEL_0 … LABEL_{n−1}
   * when the config has no id2label, n = num_labels (HF's default 2). */
  readonly labels: readonly string[];
}

/** Each output of the heads may carry the attentions and the hidden states. */
interface WithAttentions {
  /** Per layer [batch, heads, seq, seq], with outputAttentions. */
  attentions?: Float32Array[] | undefined;
  /** With outputHiddenStates: the embeddings' output and each layer's, [batch, seq, hidden_size]. */
  hiddenStates?: Float32Array[] | undefined;
}

/** The output of a head that gives one logits tensor (HF's logits, no softmax). */
export interface BertLogitsOutput extends WithAttentions {
  /** [batch, num_labels] (sequence classification), [batch, seq, vocab_size] (masked LM),
   * [batch, seq, num_labels] (token classification). */
  logits: Float32Array;
}

/** `engine.bertForSequenceClassification`: logits = classifier(pooler(x)), [batch, num_labels]. */
export type BertForSequenceClassification = BertLabelledHeadModel<BertClassifierOutput>;
export type BertClassifierOutput = BertLogitsOutput;

/** `engine.bertForMaskedLM` (no pooler): logits = decoder(LayerNorm(gelu(dense(x)))) + bias,
 * [batch, seq, vocab_size]. */
export type BertForMaskedLM = BertHeadModel<BertMaskedLMOutput>;
export type BertMaskedLMOutput = BertLogitsOutput;

/** `engine.bertForTokenClassification` (no pooler): logits = classifier(x) for every token,
 * [batch, seq, num_labels]. */
export type BertForTokenClassification = BertLabelledHeadModel<BertTokenClassifierOutput>;
export type BertTokenClassifierOutput = BertLogitsOutput;

/** `engine.bertForQuestionAnswering` (no pooler): qa_outputs(x) [batch, seq, 2], split into HF's
 * start_logits and end_logits. */
export type BertForQuestionAnswering = BertHeadModel<BertQuestionAnsweringOutput>;
export interface BertQuestionAnsweringOutput extends WithAttentions {
  /** [batch, seq]. */
  startLogits: Float32Array;
  /** [batch, seq]. */
  endLogits: Float32Array;
}

export interface MeanPoolOptions {
  batch: number;
  seq: number;
  hidden: number;
  /** L2-normalise each pooled row (sentence-transformers' Normalize). */
  normalize?: boolean | undefined;
}

export interface Engine {
  /** Threads the engine computes with (1: the calling thread). */
  readonly threads: number;
  readonly features: Features;
  /** The kernel build in use. */
  readonly kernels: KernelVariant;
  /** The int8 products' dot-product instruction on this engine (the same bits either way). */
  readonly int8Dot: Int8Dot;
  /** Scaled dot-product attention: q [batch, heads, seqQ, headDim], k [batch, heads, seqK,
   * headDim], v [batch, heads, seqK, headDimV] → output [batch, heads, seqQ, headDimV]. Each
   * input is an array (copied in by the call) or a tensor of this engine (read in place). */
  attention(
    q: Float32Array | EngineTensor, k: Float32Array | EngineTensor, v: Float32Array | EngineTensor,
    options: AttentionOptions,
  ): Promise<AttentionResult>;
  /** A tensor in the engine's memory: `init` elements of zeros, or a copy of `init`. q, k and v
   * of {@link Engine.attention} may be tensors of this engine; they are read in place. At most
   * about 2^29 elements (the engine's 2 GiB memory less its fixed regions: a larger `init` is a
   * RangeError giving the exact limit). When the memory cannot make room for it, an idle engine
   * throws that RangeError here; with calls queued, the tensor is placed in turn and its uses
   * reject saying why. */
  createTensor(init: number | Float32Array): EngineTensor;
  /** A multi-head attention layer with fixed weights, packed into the engine's memory (at once
   * from the caller's arrays when the engine is idle, else staged for the queue); later changes
   * to the caller's arrays do not affect it. */
  multiHeadAttention(config: MultiHeadAttentionConfig): MultiHeadAttention;
  /** C = alpha·A·B (A·Bᵀ with transB) + bias: a [batch, m, k], b [batch, k, n] or one [k, n] (or
   * [n, k] with transB) → C [batch, m, n]. Resolves to a new array, or to `options.out`. */
  matmul(a: TensorLike, b: TensorLike, options: MatmulOptions & { out: EngineTensor }): Promise<EngineTensor>;
  matmul(a: TensorLike, b: TensorLike, options: MatmulOptions & { out?: undefined }): Promise<Float32Array>;
  matmul(a: TensorLike, b: TensorLike, options: MatmulOptions): Promise<Float32Array | EngineTensor>;
  /** `torch.softmax(x·scale + mask, -1)` over rows: x [rows, cols] → [rows, cols]. */
  softmax(x: TensorLike, options: SoftmaxOptions & { out: EngineTensor }): Promise<EngineTensor>;
  softmax(x: TensorLike, options: SoftmaxOptions & { out?: undefined }): Promise<Float32Array>;
  softmax(x: TensorLike, options: SoftmaxOptions): Promise<Float32Array | EngineTensor>;
  /** `F.layer_norm(x + residual)` over rows: x [rows, dim] → [rows, dim]. */
  layerNorm(x: TensorLike, options: LayerNormOptions & { out: EngineTensor }): Promise<EngineTensor>;
  layerNorm(x: TensorLike, options: LayerNormOptions & { out?: undefined }): Promise<Float32Array>;
  layerNorm(x: TensorLike, options: LayerNormOptions): Promise<Float32Array | EngineTensor>;
  /** `F.gelu(x)`, elementwise. */
  gelu(x: TensorLike, options: GeluOptions & { out: EngineTensor }): Promise<EngineTensor>;
  gelu(x: TensorLike, options?: GeluOptions & { out?: undefined }): Promise<Float32Array>;
  gelu(x: TensorLike, options?: GeluOptions): Promise<Float32Array | EngineTensor>;
  /** `nn.Linear` with fixed weights, packed into the engine's memory (at once from the caller's
   * arrays when the engine is idle, else staged for the queue); later changes to the caller's
   * arrays do not affect it. */
  linear(config: LinearConfig): Linear;
  /** `nn.TransformerEncoderLayer(batch_first=True)` in eval mode, from its state dict. */
  transformerEncoderLayer(config: TransformerEncoderLayerConfig): TransformerEncoderLayer;
  /** `nn.TransformerDecoderLayer(batch_first=True)` in eval mode, from its state dict. */
  transformerDecoderLayer(config: TransformerDecoderLayerConfig): TransformerDecoderLayer;
  /** `nn.Transformer(batch_first=True)` in eval mode, from its state dict. */
  transformer(config: TransformerConfig): Transformer;
  /** Hugging Face's `GPT2LMHeadModel` in eval mode, from its config.json and state dict. */
  gpt2(options: Gpt2Options): Gpt2;
  /** Hugging Face `BertModel` in eval mode, from config.json and its state dict. */
  bert(options: BertModelOptions): BertModel;
  /** Hugging Face `BertForSequenceClassification` (the pooler, then `classifier`: cross-encoders,
   * sentiment and other sequence classifiers), from config.json (`id2label`) and its state dict. */
  bertForSequenceClassification(options: BertModelOptions): BertForSequenceClassification;
  /** Hugging Face `BertForMaskedLM` (`cls.predictions`; the decoder tied to the word embeddings
   * when the file has no `cls.predictions.decoder.weight`). */
  bertForMaskedLM(options: BertModelOptions): BertForMaskedLM;
  /** Hugging Face `BertForTokenClassification` (named-entity recognition and other per-token
   * classifiers), from config.json (`id2label`) and its state dict. */
  bertForTokenClassification(options: BertModelOptions): BertForTokenClassification;
  /** Hugging Face `BertForQuestionAnswering` (extractive QA: start and end logits per token). */
  bertForQuestionAnswering(options: BertModelOptions): BertForQuestionAnswering;
  /** Releases the engine; later calls reject. Idempotent. */
  dispose(): Promise<void>;
  /** dispose(), at the end of an `await using` block (present where the runtime defines
   * Symbol.asyncDispose: Node 20.4+, Deno, Bun, Chromium). */
  [Symbol.asyncDispose](): Promise<void>;
}

/** `engine.gpt2`: config.json as Hugging Face writes it, and the state dict (HF keys with or
 * without `transformer.`; Conv1D weights [in, out]; `lm_head.weight` tied to `wte` when absent). */
export interface Gpt2Options {
  config: Record<string, unknown>;
  weights: Record<string, Float32Array>;
  /** Default none (f32). 'int8': every Conv1D weight (attn.c_attn, attn.c_proj, mlp.c_fc,
   * mlp.c_proj) and the lm_head are quantized at load (see LinearConfig.quantize); prefill runs
   * the int8 GEMM, decoding steps (up to 4 rows) the int8 GEMV on the same codes; wte and wpe stay
   * f32 for the lookup (a tied lm_head keeps an int8 copy of wte), as do LayerNorms and attention;
   * from an int8 file whose embeddings were quantized (`quantize --embeddings`), the tables keep
   * the file's codes and per-row scales for the lookup, and a tied lm_head is packed from them. */
  quantize?: Quantize | undefined;
}

/** The hyperparameters a GPT-2 model was built with (from config.json). */
export interface Gpt2Config {
  readonly vocabSize: number;
  readonly nPositions: number;
  readonly nEmbd: number;
  readonly nLayer: number;
  readonly nHead: number;
  readonly layerNormEpsilon: number;
  /** scale_attn_weights: attention scores divided by √head_dim (HF's default true). */
  readonly scaleAttnWeights: boolean;
  /** scale_attn_by_inverse_layer_idx: scores of layer i also divided by i + 1 (default false). */
  readonly scaleAttnByInverseLayerIdx: boolean;
  /** lm_head is wte (no `lm_head.weight` given). */
  readonly tiedLmHead: boolean;
  /** The weight quantization the model was created with (undefined: f32). */
  readonly quantize?: Quantize | undefined;
}

export interface Gpt2ForwardOptions {
  batch: number;
  seq: number;
  /** [batch, seq], 1 = attend, 0 = padding (HF's attention_mask). */
  attentionMask?: Int32Array | Uint8Array | Float32Array | readonly number[] | undefined;
  /** [batch, seq] integers in [0, n_positions) (HF's position_ids); 0..seq-1 for every row when
   * unset, as HF's forward, whatever the mask. */
  positionIds?: Int32Array | readonly number[] | undefined;
  /** HF's logits_to_keep: logits only for the last k positions of each sequence, [batch, k, vocab]
   * (k above seq: all); 0 or unset: every position. The lm_head runs on those rows only. */
  logitsToKeep?: number | undefined;
  /** Also return each layer's attention weights [batch, heads, seq, seq]. */
  outputAttentions?: boolean | undefined;
  /** HF's output_hidden_states: n_layer + 1 arrays [batch, seq, n_embd], each block's input (the
   * first is wte + wpe), then ln_f of the last block's output (every position). */
  outputHiddenStates?: boolean | undefined;
}

export interface Gpt2Output {
  /** [batch, seq, vocab_size] ([batch, min(logitsToKeep, seq), vocab_size] with logitsToKeep > 0). */
  logits: Float32Array;
  /** One [batch, n_head, seq, seq] per layer, when asked for. */
  attentions?: Float32Array[] | undefined;
  /** With outputHiddenStates: n_layer + 1 arrays [batch, seq, n_embd]. */
  hiddenStates?: Float32Array[] | undefined;
}

export interface Gpt2GenerateOptions {
  /** Sequences in promptIds (each promptIds.length / batch tokens long); default 1. */
  batch?: number | undefined;
  /** [batch, promptLength] of 0/1, 1 = attend (HF's attention_mask): prompts of different lengths
   * in one batch, left-padded as HF's tokenizer pads for generation. As HF's generate, padded
   * prompt positions are masked as keys in every step, and position ids are the mask's running
   * count (cumsum − 1; 1 at padded positions, as transformers 4.x; transformers 5 puts 0 there,
   * which matters only for a right-padded or all-padding prompt), each new token one past its
   * sequence's last.
   * Unset: every prompt token attends. */
  attentionMask?: readonly number[] | Int32Array | Uint8Array | Float32Array | undefined;
  maxNewTokens: number;
  /** 0 (the default): greedy, whatever topK / topP say (HF's do_sample=False). */
  temperature?: number | undefined;
  /** HF's top_k when sampling: keep the k best scores and every tie of the k-th; 0 or unset: off. */
  topK?: number | undefined;
  /** HF's top_p when sampling, in [0, 1]: the smallest set whose probability reaches p (at least
   * one token), cut as HF's TopPLogitsWarper cuts it in torch's f32 arithmetic (the least likely
   * go while their cumulative probability is <= 1 − p, so a sum that rounds onto the limit is
   * dropped: ten equal logits with p 0.1 keep 2); 1 or unset: off. */
  topP?: number | undefined;
  /** Seed of the sampling PRNG (mulberry32), an integer in [0, 2^32) (default 0). */
  seed?: number | undefined;
  /** A sequence stops at the first of these it produces (it is yielded); generation ends once
   * every sequence has stopped, and until then a stopped sequence gets stopTokens[0] (HF pads
   * finished sequences with pad_token_id, eos_token_id[0] when unset, as for GPT-2). Unset: no
   * stop token. The config's eos_token_id is not read: pass [config.eos_token_id] to stop where
   * HF's generate stops by default. */
  stopTokens?: readonly number[] | Int32Array | undefined;
  /** HF's repetition_penalty (1: off), greedy or sampling: every id of the sequence's prompt row
   * (its padded positions too, as HF's input_ids hold the pad ids) and of its generated tokens. */
  repetitionPenalty?: number | undefined;
}

/** `Gpt2.generate`'s iterator: an async generator of each step's tokens whose
 * `[Symbol.asyncDispose]` (`await using`) is its `return()`, which gives the KV cache back
 * (present where the runtime defines Symbol.asyncDispose). */
export type Gpt2Generation = AsyncGenerator<Int32Array, void, undefined> & { [Symbol.asyncDispose](): Promise<void> };

export interface Gpt2 {
  readonly config: Gpt2Config;
  /** Checkpoint keys that were not used: `attn.bias` / `attn.masked_bias` buffers, keys outside the model. */
  readonly unusedKeys: readonly string[];
  /** GPT2LMHeadModel(input_ids, attention_mask, position_ids): logits [batch, seq, vocab]. */
  forward(inputIds: Int32Array | readonly number[], options: Gpt2ForwardOptions): Promise<Gpt2Output>;
  /** Decodes with a KV cache in the engine; yields the next token of each sequence, [batch].
   * The cache (2·n_layer·batch·(promptLength + maxNewTokens − 1)·n_embd f32) is kept from the first next() until the
   * loop ends or leaves early (break, return, an exception); an iterator dropped unfinished
   * gives it back when it is garbage-collected. */
  generate(promptIds: Int32Array | readonly number[], options: Gpt2GenerateOptions): Gpt2Generation;
  dispose(): Promise<void>;
  /** dispose(), at the end of an `await using` block (present where the runtime defines
   * Symbol.asyncDispose: Node 20.4+, Deno, Bun, Chromium). */
  [Symbol.asyncDispose](): Promise<void>;
}
