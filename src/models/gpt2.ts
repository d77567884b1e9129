// engine.gpt2: Hugging Face's GPT2LMHeadModel (modeling_gpt2.py) in eval mode, from its
// config.json and state dict. Three structs, as in llama2.c: the config (checked once), the
// weights (resident, packed for the GEMM; one table maps checkpoint keys to them) and the run
// state of one call (activations, and for decoding the KV cache). A forward is one program:
//   x = wte[ids] + wpe[pos]                                   (in JavaScript, into x)
//   for each block:  t = x + c_proj(attn(ln_1(x)))             (residual in the GEMM epilogue)
//                    x = t + c_proj(gelu_new(c_fc(ln_2(t))))   (activation and residual too)
//   logits = ln_f(x)·wteᵀ                                      (lm_head tied to wte unless given)
// Conv1D weights are stored [in, out], i.e. already B = [k, n] of the GEMM: packed as is.
// With quantize 'int8' every Conv1D and the lm_head are int8 panels (per output channel; the
// Conv1D ones by i8_pack_panels_nn, straight from [in, out]) and each projection quantizes its
// input rows (i8ProjectionPhases); the embedding tables, LayerNorms and attention stay f32.
import type { Gpt2, Gpt2Config, Gpt2ForwardOptions, Gpt2GenerateOptions, Gpt2Options, Gpt2Output, Quantize } from '../types.js';
import type { Arena } from '../wasm/arena.js';
import type { KernelExports } from '../wasm/abi.js';
import {
  ACTIVATION, GEMV_MAX_ROWS, gemmPackedPhase, gemvPackedPhase, i8PanelsBytes, i8ProductPhase, i8ProjectionPhases,
  i8QuantizeRowsPhase, i8StripsBytes, layerNormPhase, packedPanelsLength, packedRowsLength, packRowsPhase, projectionPhases,
  scalePhase, scratchSlots, type GemmExtras, type Phase,
} from '../parallel/phases.js';
import { GEMM_PANEL_COLS, SCRATCH_SLOT_STRIDE } from '../wasm/layout.js';
import { dim, elements, fileShape, flag, int8Weight, isArrayOf, keysOf, options, quantizeOption, typedArray } from '../validate.js';
import { describe, json, rangeError, stateError, typeError } from '../errors.js';
import { hfActivation } from './activation.js';
import { LinearParams } from '../ops/linear.js';
import {
  addRow, embeddingTable, int8Codes, int8Source, isCodesOnly, keepPacked, ownCodes, ownTable, readRow, ModuleWeights,
  type EmbeddingTable, type Int8Codes, type ModuleHost, type ParamSpec, type Resident,
} from '../ops/modules.js';
import { NormBlock } from '../ops/transformer-layer.js';
import { attentionPhases, keyCountFields, placeAttention, type SliceProblem } from '../ops/attention-slices.js';
import { generate } from './generate.js';
import { asyncDisposer } from '../disposable.js';

const OP = 'gpt2';
const FORWARD = 'GPT2.forward';
const OPTION_KEYS = keysOf<Gpt2Options>({ config: true, weights: true, quantize: true });
const FORWARD_KEYS = keysOf<Gpt2ForwardOptions>({
  batch: true, seq: true, attentionMask: true, positionIds: true, logitsToKeep: true, outputAttentions: true,
  outputHiddenStates: true,
});

// ---------------------------------------------------------------------------------------------
// Config

/** config.json, checked: the hyperparameters the forward pass needs. */
export interface Gpt2Hparams {
  vocab: number;    // vocab_size
  positions: number; // n_positions (longest sequence)
  embd: number;     // n_embd
  layers: number;   // n_layer
  heads: number;    // n_head
  headDim: number;  // n_embd / n_head
  inner: number;    // n_inner ?? 4·n_embd
  eps: number;      // layer_norm_epsilon (1e-5)
  activation: number; // activation_function ('gelu_new'), an ACTIVATION code (models/activation.ts)
  scaleAttnWeights: boolean; // scale_attn_weights (true): scores / √headDim
  scaleAttnByInverseLayerIdx: boolean; // scale_attn_by_inverse_layer_idx (false): scores / (layer + 1)
  tieWordEmbeddings: boolean; // tie_word_embeddings (true): lm_head is wte when the file has none
  /** add_cross_attention (false): the file may hold each block's cross-attention, which HF's
   * GPT2LMHeadModel runs only with encoder_hidden_states (never given here): unused. */
  addCrossAttention: boolean;
}

/** The config.json keys the forward needs (HF's GPT2Config also reads each under its alias). */
const REQUIRED = ['vocab_size', 'n_positions', 'n_embd', 'n_layer', 'n_head'] as const;

/** GPT2Config's attribute_map: HF reads `hidden_size` as `n_embd`, and so on; given both, the
 * alias wins there (it is set last), so two values that disagree are refused here. */
const ALIASES: Record<string, string> = {
  n_embd: 'hidden_size', n_positions: 'max_position_embeddings', n_head: 'num_attention_heads', n_layer: 'num_hidden_layers',
};

export function gpt2Hparams(value: unknown): Gpt2Hparams {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw typeError(OP, 'config', 'an object (config.json)', value);
  const c = value as Record<string, unknown>;
  /** Key `key` of the config, or its alias: the value and the name to give in errors. */
  const read = (key: string): { name: string; value: unknown } => {
    const alias = ALIASES[key];
    if (alias === undefined || c[alias] === undefined) return { name: `config.${key}`, value: c[key] };
    if (c[key] !== undefined && c[key] !== c[alias]) {
      throw rangeError(OP, `config.${alias}`, `(${json(c[alias])}) disagrees with config.${key} (${json(c[key])}); ` +
        `HF's GPT2Config reads ${alias} as ${key} and would use ${json(c[alias])}: give one value`);
    }
    return { name: `config.${alias}`, value: c[alias] };
  };
  const size = (key: string): number => {
    const { name, value: v } = read(key);
    if (v === undefined) throw typeError(OP, name, 'a positive integer (a GPT-2 config.json key)', undefined);
    return dim(OP, name, v);
  };
  /** A flag HF tests for truth: anything but a boolean is refused (0, null or "yes" would be
   * read by Python's truthiness there, and guessing could change the math silently). */
  const boolKey = (key: string, fallback: boolean): boolean => {
    const v = c[key];
    if (v === undefined) return fallback;
    if (typeof v !== 'boolean') throw typeError(OP, `config.${key}`, 'a boolean', v);
    return v;
  };
  for (const key of REQUIRED) size(key); // each present, in this order, before any other check
  const embd = size('n_embd');
  const heads = size('n_head');
  if (embd % heads !== 0) throw rangeError(OP, read('n_head').name, `(${heads}) must divide ${read('n_embd').name} (${embd})`);
  // Another model type with GPT-2's key names (ImageGPT, say) runs other math: refused by name.
  if (c.model_type !== undefined) {
    if (typeof c.model_type !== 'string') throw typeError(OP, 'config.model_type', "'gpt2'", c.model_type);
    if (c.model_type !== 'gpt2') throw rangeError(OP, 'config.model_type', `must be 'gpt2' (or absent), got ${JSON.stringify(c.model_type)}`);
  }
  // GPT2Config's default is 'gelu_new'.
  const activation = c.activation_function === undefined ? ACTIVATION.geluTanh
    : hfActivation(OP, 'config.activation_function', c.activation_function);
  let eps = 1e-5;
  if (c.layer_norm_epsilon !== undefined) {
    if (typeof c.layer_norm_epsilon !== 'number') throw typeError(OP, 'config.layer_norm_epsilon', 'a finite number >= 0', c.layer_norm_epsilon);
    if (!(c.layer_norm_epsilon >= 0 && Number.isFinite(c.layer_norm_epsilon))) {
      throw rangeError(OP, 'config.layer_norm_epsilon', `must be a finite number >= 0, got ${c.layer_norm_epsilon}`);
    }
    eps = c.layer_norm_epsilon;
  }
  const hp: Gpt2Hparams = {
    vocab: size('vocab_size'),
    positions: size('n_positions'),
    embd, layers: size('n_layer'), heads, headDim: embd / heads,
    inner: c.n_inner === undefined || c.n_inner === null ? 4 * embd : dim(OP, 'config.n_inner', c.n_inner),
    eps,
    activation,
    scaleAttnWeights: boolKey('scale_attn_weights', true),
    scaleAttnByInverseLayerIdx: boolKey('scale_attn_by_inverse_layer_idx', false),
    tieWordEmbeddings: boolKey('tie_word_embeddings', true),
    addCrossAttention: boolKey('add_cross_attention', false),
  };
  elements(OP, 'config.vocab_size', hp.vocab, embd);
  elements(OP, 'config.n_inner', hp.inner, embd);
  return hp;
}

/** The factor on layer `layer`'s attention scores, as HF's GPT2Attention divides them: by
 * √head_dim when scale_attn_weights, then by layer_idx + 1 when scale_attn_by_inverse_layer_idx
 * (here one f32 factor, a rounding of those two divisions). */
export function attentionScale(hp: Gpt2Hparams, layer: number): number {
  return (hp.scaleAttnWeights ? 1 / Math.sqrt(hp.headDim) : 1) / (hp.scaleAttnByInverseLayerIdx ? layer + 1 : 1);
}

// ---------------------------------------------------------------------------------------------
// Weights

/** How a checkpoint tensor becomes a resident block. */
type Layout = 'conv1d' | 'vector' | 'table';

/** The state-dict table: key (no `transformer.` prefix) → shape and layout. */
export function gpt2Specs(hp: Gpt2Hparams): (ParamSpec & { layout: Layout })[] {
  const E = hp.embd, I = hp.inner;
  const v = (key: string, n: number, dims: string) => ({ key, shape: [n], dims, layout: 'vector' as const });
  const conv = (key: string, k: number, n: number, dims: string) => ({ key, shape: [k, n], dims, layout: 'conv1d' as const });
  const specs: (ParamSpec & { layout: Layout })[] = [
    { key: 'wte.weight', shape: [hp.vocab, E], dims: '[vocab_size, n_embd]', layout: 'table' },
    { key: 'wpe.weight', shape: [hp.positions, E], dims: '[n_positions, n_embd]', layout: 'table' },
  ];
  for (let i = 0; i < hp.layers; i++) {
    const p = `h.${i}.`;
    specs.push(
      v(`${p}ln_1.weight`, E, '[n_embd]'), v(`${p}ln_1.bias`, E, '[n_embd]'),
      conv(`${p}attn.c_attn.weight`, E, 3 * E, '[n_embd, 3·n_embd] (Conv1D: [in, out])'),
      v(`${p}attn.c_attn.bias`, 3 * E, '[3·n_embd]'),
      conv(`${p}attn.c_proj.weight`, E, E, '[n_embd, n_embd] (Conv1D: [in, out])'), v(`${p}attn.c_proj.bias`, E, '[n_embd]'),
      v(`${p}ln_2.weight`, E, '[n_embd]'), v(`${p}ln_2.bias`, E, '[n_embd]'),
      conv(`${p}mlp.c_fc.weight`, E, I, '[n_embd, n_inner] (Conv1D: [in, out])'), v(`${p}mlp.c_fc.bias`, I, '[n_inner]'),
      conv(`${p}mlp.c_proj.weight`, I, E, '[n_inner, n_embd] (Conv1D: [in, out])'), v(`${p}mlp.c_proj.bias`, E, '[n_embd]'),
    );
  }
  specs.push(v('ln_f.weight', E, '[n_embd]'), v('ln_f.bias', E, '[n_embd]'));
  return specs;
}

/** Buffers HF keeps in some checkpoints that are not weights (the causal mask, its fill value). */
const BUFFER = /^h\.\d+\.attn\.(bias|masked_bias)$/;
/** A block's cross-attention (add_cross_attention: GPT2Block's crossattention, its norm, and
 * the mask buffers its attention module registers as the self-attention does). */
const CROSS_ATTENTION = /^h\.\d+\.((crossattention\.(c_attn|q_attn|c_proj)|ln_cross_attn)\.(weight|bias)|crossattention\.(bias|masked_bias))$/;
/** Keys of the model's namespace: `transformer.*`, or a bare GPT2Model key, or lm_head. */
const NAMESPACE = /^(wte|wpe|h|ln_f)\./;

/** Reads the state dict through the table: HF keys with or without `transformer.`; buffers and
 * keys outside the model go to `unused`; a key inside it that the table lacks is a RangeError. */
export function readGpt2StateDict(hp: Gpt2Hparams, value: unknown, quantize?: Quantize): {
  /** Every resident weight; `wte.weight` only when it is the tied lm_head. */
  w: Record<string, Float32Array>;
  /** wte and wpe (the caller's arrays or codes: gpt2Weights copies them). */
  tables: Record<string, EmbeddingTable>;
  lmHead?: Float32Array; unused: string[];
} {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw typeError(OP, 'weights', 'an object of Float32Arrays keyed by state-dict name', value);
  }
  const dict = value as Record<string, unknown>;
  const specs = gpt2Specs(hp);
  const byKey = new Map(specs.map((s) => [s.key, s]));
  const found = new Map<string, string>(); // table key → the key given
  const unused: string[] = [];
  let lmHeadKey: string | undefined;
  for (const given of Object.keys(dict)) {
    if (given === 'lm_head.weight') {
      lmHeadKey = given;
      continue;
    }
    const bare = given.startsWith('transformer.') ? given.slice('transformer.'.length) : given;
    if (!given.startsWith('transformer.') && !NAMESPACE.test(given)) {
      unused.push(given);
      continue;
    }
    const layer = /^h\.(\d+)\./.exec(bare);
    if (layer && Number(layer[1]) >= hp.layers) { // a weight, a buffer or an unknown key alike
      throw rangeError(OP, `weights[${JSON.stringify(given)}]`, `has layer index ${layer[1]}, but config.n_layer is ${hp.layers}`);
    }
    if (BUFFER.test(bare)) {
      unused.push(given);
      continue;
    }
    if (CROSS_ATTENTION.test(bare)) {
      if (!hp.addCrossAttention) {
        throw rangeError(OP, `weights[${JSON.stringify(given)}]`, 'is a cross-attention weight, but config.add_cross_attention is not true');
      }
      unused.push(given); // HF runs it only with encoder_hidden_states
      continue;
    }
    const spec = byKey.get(bare);
    if (!spec) {
      throw rangeError(OP, `weights[${JSON.stringify(given)}]`,
        'is not a GPT-2 weight (known: wte, wpe, h.N.{ln_1, attn.c_attn, attn.c_proj, ln_2, mlp.c_fc, mlp.c_proj}, ln_f)');
    }
    if (found.has(bare)) {
      throw rangeError(OP, `weights[${JSON.stringify(given)}]`, `is given twice (also as ${JSON.stringify(found.get(bare))})`);
    }
    found.set(bare, given);
  }
  // HF initialises an untied lm_head the file lacks at random (and warns); here it is an error.
  if (lmHeadKey === undefined && !hp.tieWordEmbeddings) {
    throw typeError(OP, 'weights["lm_head.weight"]',
      'present: config.tie_word_embeddings is false, so the lm_head is not wte', undefined);
  }
  const w: Record<string, Float32Array> = {};
  const tables: Record<string, EmbeddingTable> = {};
  for (const s of specs) {
    const given = found.get(s.key);
    const name = `weights[${JSON.stringify(given ?? `transformer.${s.key}`)}]`;
    if (given === undefined) throw typeError(OP, name, `a Float32Array ${s.dims} (missing)`, undefined);
    const length = s.shape.reduce((a, b) => a * b, 1);
    const shape = `${s.dims} = [${s.shape.join(', ')}]`;
    // From an int8 file, nothing is made f32 that is not needed as f32: the Conv1Ds and an int8
    // tied lm_head pack their codes, and the tables keep theirs (embeddingTable).
    if (s.layout === 'table') {
      tables[s.key] = embeddingTable(dict, given, s.shape[0]!, s.shape[1]!, () => readArray(name, dict[given], length, shape));
      fileShape(OP, name, dict, given, s.shape);
      if (s.key === 'wte.weight' && lmHeadKey === undefined) { // the tied lm_head [vocab, n_embd]
        w[s.key] = readArray(name, quantize ? int8Source(dict, given, s.shape[0]!, s.shape[1]!, 0) : dict[given], length, shape);
      }
      continue;
    }
    const source = quantize && s.layout === 'conv1d' ? int8Source(dict, given, s.shape[0]!, s.shape[1]!, 1) : dict[given];
    w[s.key] = readArray(name, source, length, shape);
    fileShape(OP, name, dict, given, s.shape);
    // int8: every Conv1D weight [in, out], checked before any copy.
    if (quantize && s.layout === 'conv1d') {
      int8Weight(OP, name, w[s.key], s.shape[0], s.shape[0] === hp.embd ? 'config.n_embd' : 'config.n_inner', s.shape[1]);
    }
  }
  const lmHead = lmHeadKey === undefined ? undefined
    : readArray('weights["lm_head.weight"]', quantize ? int8Source(dict, lmHeadKey, hp.vocab, hp.embd, 0) : dict[lmHeadKey],
      hp.vocab * hp.embd, `[vocab_size, n_embd] = [${hp.vocab}, ${hp.embd}]`);
  if (lmHeadKey !== undefined) fileShape(OP, 'weights["lm_head.weight"]', dict, lmHeadKey, [hp.vocab, hp.embd]);
  // int8: the lm_head [vocab, n_embd] (nn.Linear layout), wte's values when tied.
  if (quantize) {
    const name = lmHead ? 'weights["lm_head.weight"]' : `weights[${JSON.stringify(found.get('wte.weight'))}] (the tied lm_head)`;
    int8Weight(OP, name, lmHead ?? w['wte.weight']!, hp.embd, 'config.n_embd');
  }
  return { w, tables, lmHead, unused };
}

function readArray(name: string, value: unknown, length: number, shape: string): Float32Array {
  if (isCodesOnly(value)) return value as Float32Array; // its shape was checked by int8Source
  const view = typedArray(value, 'Float32Array');
  if (!view) throw typeError(OP, name, 'a Float32Array', value);
  if (view.length !== length) throw rangeError(OP, name, `has length ${view.length}, expected ${length} (${shape})`);
  return view;
}

/** A Conv1D's weights: W [in, out] as GEMM panels (f32, or int8 with quantize), cut into `groups`
 * column groups of out/groups each packed on its own (c_attn: Q, K, V, so that K and V can be
 * written to the KV cache), then the bias [out] f32. A quantized weight must have been checked
 * with int8Weight. */
export class Conv1DParams implements Resident {
  resident = 0;
  private raw: { weight: Float32Array; bias: Float32Array; codes?: Int8Codes } | undefined;
  readonly width: number; // columns of a group
  constructor(
    readonly inFeatures: number, readonly outFeatures: number, weight: Float32Array, bias: Float32Array, readonly groups = 1,
    readonly quantize?: Quantize,
  ) {
    // An int8 file's codes ([in, out], channels along axis 1) are packed as they are: same bits.
    const codes = quantize === 'int8' ? int8Codes(weight, inFeatures, outFeatures, 1) : undefined;
    // The caller's arrays until the upload (own() copies them when it is queued: ModuleWeights).
    this.raw = { weight: codes ? new Float32Array(0) : weight, bias, codes };
    this.width = outFeatures / groups;
  }
  own(): void {
    const raw = this.raw;
    if (raw) this.raw = { weight: raw.weight.slice(), bias: raw.bias.slice(), codes: ownCodes(raw.codes) };
  }
  /** f32 slots of one group's panels (int8 panels are whole 32 bytes). */
  private get groupLength(): number {
    return this.quantize === 'int8' ? i8PanelsBytes(this.width, this.inFeatures) / 4 : packedPanelsLength(this.inFeatures, this.width);
  }
  get bytes(): number {
    return (this.groups * this.groupLength + this.outFeatures) * 4;
  }
  /** Byte address of group g's panels. */
  panels(g = 0): number {
    return this.resident + g * this.groupLength * 4;
  }
  /** Byte address of group g's bias. */
  bias(g = 0): number {
    return this.resident + (this.groups * this.groupLength + g * this.width) * 4;
  }
  upload(arena: Arena, kernels: KernelExports): void {
    const raw = this.raw;
    if (!raw) throw stateError('the weights were already uploaded');
    const { inFeatures: k, outFeatures: n, width } = this;
    const pack = this.quantize === 'int8' ? kernels.i8_pack_panels_nn : kernels.f32_pack_panels_nn;
    const panels = Math.ceil(width / GEMM_PANEL_COLS);
    const ptr = keepPacked(arena, this.groups * this.groupLength + n, raw.weight, (staging, block, staged) => {
      for (let g = 0; g < this.groups; g++) {
        const out = block + g * this.groupLength * 4;
        const c = staged[0];
        // codes [in, out]: channel stride 1 byte, reduction stride n bytes; group g starts at column g·width
        if (c) kernels.i8_pack_panels_codes(width, k, c.q + g * width, 1, n, c.s + g * width * 4, out, 0, panels);
        else pack(k, width, staging + g * width * 4, n, out, 0, panels);
      }
    }, [{ offset: this.groups * this.groupLength, data: raw.bias }], raw.codes ? [raw.codes] : []);
    this.resident = ptr;
    this.raw = undefined;
  }
  release(arena: Arena): void {
    if (this.resident !== 0) arena.release(this.resident);
    this.resident = 0;
  }
}

/** A LayerNorm's weight and bias, resident. */
type Norm = NormBlock;

/** One block's weights (HF's attribute names). */
interface BlockWeights {
  ln1: Norm;
  cAttn: Conv1DParams; // [E, 3E] → groups Q, K, V
  attnProj: Conv1DParams; // [E, E]
  ln2: Norm;
  cFc: Conv1DParams; // [E, inner]
  mlpProj: Conv1DParams; // [inner, E]
}

/** The model's weights: embedding tables in JavaScript (the gather runs there), the rest resident. */
export interface Gpt2Weights {
  quantize?: Quantize; // every Conv1D and the lm_head
  wte: EmbeddingTable; // [vocab, E] (gathered in JS, whatever the tied lm_head's type)
  wpe: EmbeddingTable; // [positions, E]
  blocks: BlockWeights[];
  lnF: Norm;
  lmHead: LinearParams; // [vocab, E] as nn.Linear (wte when tied)
}

export function gpt2Weights(
  hp: Gpt2Hparams, w: Record<string, Float32Array>, tables: Record<string, EmbeddingTable>, lmHead: Float32Array | undefined,
  quantize?: Quantize,
): Gpt2Weights {
  const E = hp.embd, I = hp.inner;
  const norm = (p: string): Norm => new NormBlock([w[`${p}.weight`], w[`${p}.bias`]]);
  const conv = (p: string, k: number, n: number, groups = 1): Conv1DParams =>
    new Conv1DParams(k, n, w[`${p}.weight`], w[`${p}.bias`], groups, quantize);
  const blocks: BlockWeights[] = [];
  for (let i = 0; i < hp.layers; i++) {
    const p = `h.${i}.`;
    blocks.push({
      ln1: norm(`${p}ln_1`), cAttn: conv(`${p}attn.c_attn`, E, 3 * E, 3), attnProj: conv(`${p}attn.c_proj`, E, E),
      ln2: norm(`${p}ln_2`), cFc: conv(`${p}mlp.c_fc`, E, I), mlpProj: conv(`${p}mlp.c_proj`, I, E),
    });
  }
  return {
    quantize, blocks, lnF: norm('ln_f'), wte: ownTable(tables['wte.weight']!), wpe: ownTable(tables['wpe.weight']!),
    lmHead: new LinearParams(E, hp.vocab, lmHead ?? w['wte.weight']!, undefined, quantize),
  };
}

function residentBlocks(m: Gpt2Weights): Resident[] {
  return [...m.blocks.flatMap((b) => [b.ln1, b.cAttn, b.attnProj, b.ln2, b.cFc, b.mlpProj]), m.lnF, m.lmHead];
}

// ---------------------------------------------------------------------------------------------
// Run state and the program

/** Where one call's K and V go: per layer [B, kvRows, E] blocks (the KV cache, or this call's own). */
export interface KvBlocks {
  k: number[]; // byte address per layer
  v: number[];
  rows: number; // rows per batch entry (n_positions for the cache, seq for a forward)
}

/** One call: B sequences of L new tokens after `past` cached ones. */
export interface Step {
  batch: number;
  seq: number;
  past: number;
  /** f32 [B, keyBiasRows] added to the logits of each key (HF's (1 - mask)·finfo.min), or undefined;
   * keys past + seq.. of a row are not read. */
  keyBias?: Float32Array;
  /** Row stride of keyBias: past + seq when unset. A decoding loop gives n_positions, so the
   * bias keeps its place and size from step to step and the step's program can be patched. */
  keyBiasRows?: number;
  /** Position id of each new token [B·seq] (HF's position_ids); past + t when unset. */
  positions?: Int32Array;
  outputAttentions: boolean;
  /** HF's output_hidden_states (a forward): each block's input, then ln_f of the last block's
   * output, every row. */
  outputHiddenStates?: boolean;
  /** Logits only for the last position of each sequence (decoding). */
  lastOnly: boolean;
  /** Otherwise, logits for the last `keep` positions of each sequence (HF's logits_to_keep;
   * all when unset). */
  keep?: number;
}

/** The activations of one call (byte addresses), placed before the commit. */
export interface RunState {
  x: number; t: number; y: number; // [B·L, E]
  q: number; ctx: number; // [B·L, E]
  strips: number; // y packed (or quantized), per batch entry: [B, packedRows(L, E)]
  ctxStrips: number; // [packedRows(B·L, E)] (strips are int8 ones of i8StripsBytes with quantize)
  h: number; hStrips: number; // [B·L, inner] and its strips
  yLast: number; lastStrips: number; // final norm rows that get logits
  logits: number; // [rows of logits, vocab]
  keyBias: number; // f32 [B, keyBiasRows]
  weights: number; // f32 [layers, B, H, L, past + L]
  hidden: number; // f32 [layers + 1, B·L, E] with outputHiddenStates
  scratch: number;
  attention: ReturnType<typeof placeAttention>;
}

function placeRun(arena: Arena, hp: Gpt2Hparams, s: Step, threads: number, quantize?: Quantize): RunState {
  const { batch: B, seq: L } = s, E = hp.embd, rows = B * L, keys = s.past + L;
  const outRows = B * keptRows(s);
  const f32 = (n: number): number => arena.place(n * 4);
  const strips = (m: number, k: number, batch = 1): number =>
    arena.place(batch * (quantize === 'int8' ? i8StripsBytes(m, k) : packedRowsLength(m, k) * 4));
  return {
    x: f32(rows * E), t: f32(rows * E), y: f32(rows * E), q: f32(rows * E), ctx: f32(rows * E),
    strips: strips(L, E, B), ctxStrips: strips(rows, E),
    h: f32(rows * hp.inner), hStrips: strips(rows, hp.inner),
    yLast: f32(outRows * E), lastStrips: strips(outRows, E),
    logits: f32(elements(FORWARD, 'logits', outRows, hp.vocab)),
    keyBias: s.keyBias ? f32(B * (s.keyBiasRows ?? keys)) : 0,
    weights: s.outputAttentions ? f32(elements(FORWARD, 'attentions', hp.layers, B, hp.heads, L, keys)) : 0,
    hidden: s.outputHiddenStates ? f32(elements(FORWARD, 'hiddenStates', hp.layers + 1, rows, E)) : 0,
    scratch: arena.place(threads * SCRATCH_SLOT_STRIDE, 128),
    attention: placeAttention(arena, { batch: B, heads: hp.heads, seqQ: L, seqK: keys, headDimV: hp.headDim },
      s.outputAttentions, L > 1),
  };
}

/** A field of a program that moves with the number of cached positions: `phase[field]` is
 * `base + perPast·past` (the K/V rows a step writes, the attention's key count). */
interface Move {
  phase: Phase;
  field: string;
  base: number;
  perPast: number;
}

/** The program of one call (after the commit: x holds the embeddings), and its fields that
 * move with `past`. */
function programOf(hp: Gpt2Hparams, m: Gpt2Weights, s: Step, r: RunState, kv: KvBlocks): { program: Phase[]; moves: Move[] } {
  const { batch: B, seq: L, past } = s, E = hp.embd, d = hp.headDim, H = hp.heads, rows = B * L, keys = past + L;
  const stripsBatch = packedRowsLength(L, E);
  const program: Phase[] = [];
  const moves: Move[] = [];
  // Records that phase[field] = base + perPast·past; checks it, so a move cannot drift from the
  // expression that built the field.
  const moving = (phase: Phase, field: string, base: number, perPast: number): Phase => {
    if ((phase as unknown as Record<string, number>)[field] !== base + perPast * past) {
      throw new Error(`GPT-2 program: ${field} of a phase of kind ${phase.kind} does not move with past as recorded`);
    }
    moves.push({ phase, field, base, perPast });
    return phase;
  };
  const norm = (n: Norm, x: number, y: number): Phase => layerNormPhase(rows, E, x, E, 0, 0, n.weight, n.bias, hp.eps, y, E);
  // Decoding (a few rows): every projection is the GEMV, which streams the weights once and reads
  // its rows in place; the same bits as the GEMM that prefill runs (baseline build; the relaxed
  // build's GEMV rounds each product where its GEMM fuses: f32-gemv-packed-simd.ts). Q, K and V
  // rows of one call are one matrix for it when its rows map to rows of the cache with one
  // stride: one sequence, or one new token per sequence (the cache rows of sequence b are
  // kv.rows·E apart).
  const gemvQkv = rows <= GEMV_MAX_ROWS && (B === 1 || L === 1);
  // Every other projection, as its weight is stored: f32 (GEMV or packed GEMM) or int8
  // (quantized rows, int8 product, its panels widened in the attention's scratch slots), with
  // the same arguments.
  const panelsOf = (w: Conv1DParams | LinearParams): number => (w instanceof Conv1DParams ? w.panels() : w.panels);
  const project = (mm: number, n: number, k: number, a: number, lda: number, strips: number, w: Conv1DParams | LinearParams,
    bias: number, c: number, ldc: number, extras?: Pick<GemmExtras, 'activation' | 'residual' | 'ldr'>): Phase[] =>
    w.quantize === 'int8'
      ? i8ProjectionPhases(mm, n, k, a, lda, strips, panelsOf(w), bias, c, ldc, { ...extras, scratch: scratchSlots(r.scratch) })
      : projectionPhases(mm, n, k, a, lda, strips, panelsOf(w), bias, c, ldc, extras);
  m.blocks.forEach((blk, layer) => {
    // outputHiddenStates: the block's input, copied out (a scale by 1, exact) before it changes.
    if (r.hidden !== 0) program.push(scalePhase(rows * E, r.x, r.hidden + layer * rows * E * 4, 1));
    // y = ln_1(x); q, k, v = y·c_attn (K and V straight into their rows of the cache)
    program.push(norm(blk.ln1, r.x, r.y));
    if (blk.cAttn.quantize === 'int8') program.push(...qkvInt8(hp, blk.cAttn, s, r, kv, layer, moving));
    else {
      if (!gemvQkv) program.push(packRowsPhase(L, E, r.y, E, r.strips, B, L * E, stripsBatch));
      const proj = (g: number, c: number, cBatch: number): Phase => gemvQkv
        ? gemvPackedPhase(rows, E, E, r.y, E, blk.cAttn.panels(g), blk.cAttn.bias(g), c, L === 1 ? cBatch : E)
        : gemmPackedPhase(L, E, E, r.strips, blk.cAttn.panels(g), blk.cAttn.bias(g), c, E,
          { batch: B, apBatch: stripsBatch, cBatch });
      program.push(proj(0, r.q, L * E));
      program.push(moving(proj(1, kv.k[layer] + past * E * 4, kv.rows * E), 'c', kv.k[layer], E * 4));
      program.push(moving(proj(2, kv.v[layer] + past * E * 4, kv.rows * E), 'c', kv.v[layer], E * 4));
    }
    // ctx = softmax(q·kᵀ·scale + causal + mask)·v (scale: attentionScale), head h as columns h·d.. of each row
    const p: SliceProblem = {
      batch: B, heads: H, seqQ: L, seqK: keys, headDim: d, headDimV: d, scale: attentionScale(hp, layer), causal: L > 1,
      q: { ptr: r.q, batch: L * E, head: d, row: E },
      k: { ptr: kv.k[layer], batch: kv.rows * E, head: d, row: E },
      v: { ptr: kv.v[layer], batch: kv.rows * E, head: d, row: E },
      o: { ptr: r.ctx, batch: L * E, head: d, row: E },
    };
    if (r.keyBias !== 0) p.addMask = { ptr: r.keyBias, batch: s.keyBiasRows ?? keys, head: 0, row: 0 };
    if (r.weights !== 0) {
      const plane = L * keys;
      p.weights = { ptr: r.weights + layer * B * H * plane * 4, batch: H * plane, head: plane, row: keys };
    }
    for (const phase of attentionPhases(p, r.scratch, r.attention)) {
      for (const field of keyCountFields(phase)) moving(phase, field, L, 1);
      program.push(phase);
    }
    // t = x + ctx·c_proj
    program.push(...project(rows, E, E, r.ctx, E, r.ctxStrips, blk.attnProj, blk.attnProj.bias(), r.t, E,
      { residual: r.x, ldr: E }));
    // x = t + act(ln_2(t)·c_fc)·c_proj (act: gelu_new unless the config names another)
    program.push(norm(blk.ln2, r.t, r.y));
    program.push(...project(rows, hp.inner, E, r.y, E, r.ctxStrips, blk.cFc, blk.cFc.bias(), r.h, hp.inner,
      { activation: hp.activation }));
    program.push(...project(rows, E, hp.inner, r.h, hp.inner, r.hStrips, blk.mlpProj, blk.mlpProj.bias(),
      r.x, E, { residual: r.t, ldr: E }));
  });
  // logits = ln_f(x)·lm_headᵀ for the kept rows: every row, each sequence's last (decoding: one
  // phase, rows L·E apart), or each sequence's last K (one phase per sequence, K rows each).
  const K = keptRows(s), outRows = B * K;
  const lnF = (n: number, from: number, ld: number, to: number): Phase =>
    layerNormPhase(n, E, from, ld, 0, 0, m.lnF.weight, m.lnF.bias, hp.eps, to, E);
  if (K === L) program.push(lnF(rows, r.x, E, r.yLast));
  else if (K === 1) program.push(lnF(B, r.x + (L - 1) * E * 4, L * E, r.yLast));
  else for (let b = 0; b < B; b++) program.push(lnF(K, r.x + (b * L + L - K) * E * 4, E, r.yLast + b * K * E * 4));
  program.push(...project(outRows, hp.vocab, E, r.yLast, E, r.lastStrips, m.lmHead, 0, r.logits, hp.vocab));
  // HF's last hidden state is ln_f of every row, whatever logits_to_keep says.
  if (r.hidden !== 0) program.push(lnF(rows, r.x, E, r.hidden + hp.layers * rows * E * 4));
  return { program, moves };
}

/** int8 q, k, v = ln_1(x)·c_attn: y's rows quantized once, then three int8 products, K and V
 * into their rows of the cache. One matrix when the rows map to the cache with one stride (one
 * sequence, or one new token per sequence: kv.rows·E apart); else one per sequence. */
function qkvInt8(
  hp: Gpt2Hparams, w: Conv1DParams, s: Step, r: RunState, kv: KvBlocks, layer: number,
  moving: (phase: Phase, field: string, base: number, perPast: number) => Phase,
): Phase[] {
  const { batch: B, seq: L, past } = s, E = hp.embd;
  const phases: Phase[] = [];
  const three = (m: number, strips: number, q: number, ldq: number, b: number, ldCache: number): void => {
    const scratch = scratchSlots(r.scratch);
    // K and V rows of sequence b start at row b·kv.rows + past of the layer's block.
    const cache = (block: number, g: number): Phase => {
      const base = block + b * kv.rows * E * 4;
      const c = base + past * E * 4;
      return moving(i8ProductPhase(m, E, E, strips, w.panels(g), w.bias(g), c, ldCache, { scratch }), 'c', base, E * 4);
    };
    phases.push(
      i8ProductPhase(m, E, E, strips, w.panels(0), w.bias(0), q, ldq, { scratch }), cache(kv.k[layer], 1), cache(kv.v[layer], 2));
  };
  if (B === 1 || L === 1) {
    phases.push(i8QuantizeRowsPhase(B * L, E, r.y, E, r.strips));
    three(B * L, r.strips, r.q, E, 0, L === 1 ? kv.rows * E : E);
  } else {
    for (let b = 0; b < B; b++) {
      const strips = r.strips + b * i8StripsBytes(L, E);
      phases.push(i8QuantizeRowsPhase(L, E, r.y + b * L * E * 4, E, strips));
      three(L, strips, r.q + b * L * E * 4, E, b, E);
    }
  }
  return phases;
}

/** x[b, t] = wte[ids[b, t]] + wpe[positions[b, t]], positions past + t by default. */
function embed(
  hp: Gpt2Hparams, m: Gpt2Weights, ids: Int32Array, B: number, L: number, past: number, positions?: Int32Array,
): Float32Array {
  const E = hp.embd, x = new Float32Array(B * L * E);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < L; t++) {
      const row = (b * L + t) * E;
      readRow(m.wte, ids[b * L + t]!, E, x, row);
      addRow(m.wpe, positions ? positions[b * L + t]! : past + t, E, x, row);
    }
  }
  return x;
}

/** Rows of logits per sequence a call computes: 1 when decoding, else HF's logits_to_keep (the
 * last `keep`, every row when 0, unset or above seq). */
function keptRows(s: Step): number {
  return s.lastOnly ? 1 : s.keep ? Math.min(s.keep, s.seq) : s.seq;
}

/** One call's program, where its run state is, and what moves in it with `past`: a decoding
 * loop passes it back to buildStep for the next token, which then patches the moves instead of
 * building the program again (about 170 phase records for GPT-2 small: 0.25 ms of a 7.6 ms
 * int8 step, as the builder runs too rarely to be optimised by the engine). */
export interface StepProgram {
  program: Phase[];
  run: RunState;
  step: Step;
  kv: KvBlocks;
  moves: Move[];
}

/** Whether a previous call's program serves this one once its moves are patched: the same
 * shape of call against the same cache, and the run state (activations, attention buffers,
 * whose key parts fix the attention's phases) placed at the same addresses. Attention weights,
 * and a key bias with no fixed row stride, are laid out by the key count, so calls with them
 * are built anew. */
function reusable(prev: StepProgram, s: Step, run: RunState, kv: KvBlocks): boolean {
  const p = prev.step;
  if (prev.kv !== kv || p.batch !== s.batch || p.seq !== s.seq || p.lastOnly !== s.lastOnly) return false;
  if (keptRows(p) !== keptRows(s)) return false;
  if (p.outputAttentions || s.outputAttentions || p.outputHiddenStates || s.outputHiddenStates) return false;
  if (!p.keyBias !== !s.keyBias || (s.keyBias && (s.keyBiasRows === undefined || p.keyBiasRows !== s.keyBiasRows))) return false;
  for (const key of Object.keys(run) as (keyof RunState)[]) {
    if (key !== 'attention' && run[key] !== prev.run[key]) return false;
  }
  return JSON.stringify(run.attention) === JSON.stringify(prev.run.attention);
}

/** Builds one call: places the run state (and this call's K/V when `cache` is undefined), writes
 * the embeddings and the mask, and returns the program and where the logits are: `prev`'s
 * program patched when it is reusable (the same phases as a fresh build, field for field),
 * else a new one. */
export function buildStep(
  arena: Arena, threads: number, hp: Gpt2Hparams, m: Gpt2Weights, ids: Int32Array, s: Step, cache?: KvBlocks,
  prev?: StepProgram,
): StepProgram {
  const E = hp.embd;
  let kv: KvBlocks;
  if (cache) kv = cache;
  else {
    // Without a cache, one K and one V serve every layer: the program's phases run in order, so a
    // layer's projections write them after the previous layer's attention has read them (GPT-2 xl,
    // 1024 tokens: 12.6 MB instead of 629 MB).
    const k = arena.place(s.batch * s.seq * E * 4), v = arena.place(s.batch * s.seq * E * 4);
    kv = { k: Array<number>(hp.layers).fill(k), v: Array<number>(hp.layers).fill(v), rows: s.seq };
  }
  const run = placeRun(arena, hp, s, threads, m.quantize);
  arena.commit();
  arena.writeF32(run.x, embed(hp, m, ids, s.batch, s.seq, s.past, s.positions));
  if (s.keyBias) arena.writeF32(run.keyBias, s.keyBias);
  if (prev && reusable(prev, s, run, kv)) {
    for (const { phase, field, base, perPast } of prev.moves) {
      (phase as unknown as Record<string, number>)[field] = base + perPast * s.past;
    }
    prev.step = s;
    return prev;
  }
  const { program, moves } = programOf(hp, m, s, run, kv);
  return { program, run, step: s, kv, moves };
}

/** Token ids checked and copied: integers in [0, vocab), `batch·seq` of them. The copy is what the
 * call reads when it runs, so a caller's array changed before the call settles cannot slip an id
 * past the check. */
export function tokenIds(op: string, name: string, value: unknown, hp: Gpt2Hparams, length: number, shape: string): Int32Array {
  let ids: Int32Array;
  if (isArrayOf(value, 'Int32Array')) ids = typedArray(value, 'Int32Array')!.slice();
  else if (Array.isArray(value)) ids = Int32Array.from(value as number[], (x) => (Number.isInteger(x) && x >= 0 && x <= 0x7fffffff ? x : -1));
  else throw typeError(op, name, 'an Int32Array or an array of token ids', value);
  if (ids.length !== length) throw rangeError(op, name, `has length ${ids.length}, expected ${length} (${shape})`);
  for (let i = 0; i < ids.length; i++) {
    if (!(ids[i] >= 0 && ids[i] < hp.vocab)) {
      const given = Array.isArray(value) ? (value as unknown[])[i] : ids[i];
      if (typeof given !== 'number') throw typeError(op, `${name}[${i}]`, 'an integer token id (a number)', given);
      throw rangeError(op, `${name}[${i}]`, `must be an integer token id in [0, ${hp.vocab}) (config.vocab_size), got ${describe(given)}`);
    }
  }
  return ids;
}

/** finfo(float32).min: HF's extended attention mask is (1 - mask)·finfo.min per key. */
export const F32_MIN = -3.4028234663852886e38;

/** An attention mask given as an array or Int32Array / Uint8Array / Float32Array of `length`
 * numbers (checked, not copied). */
export function maskValues(op: string, name: string, value: unknown, length: number, shape: string): ArrayLike<number> {
  let mask: ArrayLike<number>;
  if (Array.isArray(value)) mask = value as number[];
  else {
    const typed = typedArray(value, 'Int32Array', 'Uint8Array', 'Float32Array');
    if (!typed) throw typeError(op, name, `an array of 0/1 (1 = attend) of length ${shape}`, value);
    mask = typed;
  }
  if (mask.length !== length) throw rangeError(op, name, `has length ${mask.length}, expected ${shape}`);
  for (let i = 0; i < length; i++) {
    const m = mask[i];
    if (typeof m !== 'number' || Number.isNaN(m)) throw typeError(op, `${name}[${i}]`, 'a number (1 = attend, 0 = padding)', m);
  }
  return mask;
}

/** HF's extended attention mask of a forward: (1 - mask)·finfo.min per key, [B, L]. Values other
 * than 0 and 1 are refused, as generate and engine.bert refuse them: HF would add −finfo.min to a
 * causally masked logit for a 2 and unmask it. */
function keyBias(name: string, value: unknown, B: number, L: number): Float32Array | undefined {
  if (value === undefined) return undefined;
  const mask = maskValues(FORWARD, name, value, B * L, `batch·seq = ${B}·${L}`);
  for (let i = 0; i < mask.length; i++) {
    if (mask[i] !== 0 && mask[i] !== 1) throw rangeError(FORWARD, `${name}[${i}]`, `must be 0 (padding) or 1 (attend), got ${mask[i]}`);
  }
  return Float32Array.from(mask, (m) => Math.fround((1 - m) * F32_MIN));
}

/** HF's position_ids of a forward, checked and copied (as tokenIds): integers in [0, n_positions), [B, L]. */
function positionIds(name: string, value: unknown, hp: Gpt2Hparams, B: number, L: number): Int32Array | undefined {
  if (value === undefined) return undefined;
  let ids: Int32Array;
  if (isArrayOf(value, 'Int32Array')) ids = typedArray(value, 'Int32Array')!.slice();
  else if (Array.isArray(value)) ids = Int32Array.from(value as number[], (x) => (Number.isInteger(x) && x >= 0 && x <= 0x7fffffff ? x : -1));
  else throw typeError(FORWARD, name, 'an Int32Array or an array of position ids', value);
  if (ids.length !== B * L) throw rangeError(FORWARD, name, `has length ${ids.length}, expected batch·seq = ${B}·${L}`);
  for (let i = 0; i < ids.length; i++) {
    if (!(ids[i] >= 0 && ids[i] < hp.positions)) {
      const given = Array.isArray(value) ? String((value as unknown[])[i]) : String(ids[i]);
      throw rangeError(FORWARD, `${name}[${i}]`, `must be an integer in [0, ${hp.positions}) (config.n_positions), got ${given}`);
    }
  }
  return ids;
}

export function createGpt2(spec: unknown, host: ModuleHost): Gpt2 {
  const o = options(OP, 'options', spec, false, OPTION_KEYS) as Partial<Gpt2Options>;
  const hp = gpt2Hparams(o.config);
  const quantize = quantizeOption(OP, 'options.quantize', o.quantize);
  const { w, tables, lmHead, unused } = readGpt2StateDict(hp, o.weights, quantize);
  const m = gpt2Weights(hp, w, tables, lmHead, quantize);
  const weights = new ModuleWeights(host, residentBlocks(m), 'GPT2');
  const config: Gpt2Config = Object.freeze({
    vocabSize: hp.vocab, nPositions: hp.positions, nEmbd: hp.embd, nLayer: hp.layers, nHead: hp.heads,
    layerNormEpsilon: hp.eps, scaleAttnWeights: hp.scaleAttnWeights, scaleAttnByInverseLayerIdx: hp.scaleAttnByInverseLayerIdx,
    tiedLmHead: lmHead === undefined, quantize,
  });

  const model: Gpt2 = Object.freeze({
    config,
    unusedKeys: Object.freeze(unused),
    forward(inputIds: Int32Array | readonly number[], opts: Gpt2ForwardOptions): Promise<Gpt2Output> {
      let ids: Int32Array, s: Step;
      try {
        const f = options(FORWARD, 'options', opts, false, FORWARD_KEYS) as Partial<Gpt2ForwardOptions>;
        const B = dim(FORWARD, 'options.batch', f.batch);
        const L = dim(FORWARD, 'options.seq', f.seq);
        if (L > hp.positions) throw rangeError(FORWARD, 'options.seq', `(${L}) must be at most config.n_positions (${hp.positions})`);
        ids = tokenIds(FORWARD, 'inputIds', inputIds, hp, elements(FORWARD, 'inputIds', B, L), `batch·seq = ${B}·${L}`);
        const keep = f.logitsToKeep;
        if (keep !== undefined) {
          if (typeof keep !== 'number') throw typeError(FORWARD, 'options.logitsToKeep', 'a number', keep);
          if (!(Number.isInteger(keep) && keep >= 0)) {
            throw rangeError(FORWARD, 'options.logitsToKeep', `must be an integer >= 0 (0: every position), got ${keep}`);
          }
        }
        elements(FORWARD, 'logits', B, keep ? Math.min(keep, L) : L, hp.vocab);
        s = {
          batch: B, seq: L, past: 0, keyBias: keyBias('options.attentionMask', f.attentionMask, B, L),
          positions: positionIds('options.positionIds', f.positionIds, hp, B, L),
          outputAttentions: flag(FORWARD, 'options.outputAttentions', f.outputAttentions, false), lastOnly: false,
          outputHiddenStates: flag(FORWARD, 'options.outputHiddenStates', f.outputHiddenStates, false),
          ...(keep ? { keep } : {}),
        };
      } catch (error) {
        return Promise.reject(error);
      }
      return weights.call('forward', (arena, threads) => {
        const { program, run } = buildStep(arena, threads, hp, m, ids, s);
        const n = s.batch * keptRows(s) * hp.vocab;
        return {
          program,
          outputs: [n],
          collect: (): Gpt2Output => {
            const out: Gpt2Output = { logits: arena.readF32(run.logits, n) };
            if (run.weights !== 0) {
              const plane = s.batch * hp.heads * s.seq * s.seq;
              out.attentions = Array.from({ length: hp.layers }, (_, i) => arena.readF32(run.weights + i * plane * 4, plane));
            }
            if (run.hidden !== 0) {
              const plane = s.batch * s.seq * hp.embd;
              out.hiddenStates = Array.from({ length: hp.layers + 1 }, (_, i) => arena.readF32(run.hidden + i * plane * 4, plane));
            }
            return out;
          },
        };
      });
    },
    generate(promptIds: Int32Array | readonly number[], opts: Gpt2GenerateOptions) {
      return generate({ hp, m, weights, host }, model, promptIds, opts);
    },
    dispose: () => weights.dispose(model),
    ...asyncDisposer(() => weights.dispose(model)),
  });
  weights.track(model);
  return model;
}
