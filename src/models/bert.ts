// engine.bert: Hugging Face's BertModel (modeling_bert.py) in eval mode, from config.json and its
// state dict. Three parts, as llama2.c keeps them: the config (checked once), the weights (one
// table of checkpoint keys; the encoder's resident in the engine), the run state (placed per call).
//
// forward, for input ids [B, L]:
//   x = LayerNorm(word[ids] + position[0..L-1] + token_type[tt])      gather and sum in JS, norm as a phase
//   per layer (post-norm, the builders of nn.TransformerEncoderLayer):
//     a = LayerNorm(x + dense(softmax(QKᵀ/√d + mask)·V))              Q, K, V from separate query/key/value
//     x = LayerNorm(a + dense(act(dense(a))))                       act: hidden_act (gelu: erf; models/activation.ts)
//   pooled = tanh(pooler.dense(x[:, 0]))                              in JS ([B, hidden] is small)
// Everything from the embeddings' LayerNorm to the last layer is one program. The heads:
//   BertForSequenceClassification  logits = classifier(pooled)         in JS ([B, num_labels])
//   BertForMaskedLM                logits = decoder(LayerNorm(act(dense(x)))) + bias, the end of the
//                                  program (the decoder is [vocab, hidden], tied to the word embeddings
//                                  when the file has no cls.predictions.decoder.weight)
//   BertForTokenClassification     logits = classifier(x) [B, L, num_labels], the end of the program
//   BertForQuestionAnswering       start, end = qa_outputs(x) [B, L, 2] split, the end of the program
import type {
  BertClassifierOutput, BertConfig, BertForMaskedLM, BertForQuestionAnswering, BertForSequenceClassification,
  BertForTokenClassification, BertForwardOptions, BertMaskedLMOutput, BertModel, BertModelOptions, BertOutput,
  BertQuestionAnsweringOutput, BertTokenClassifierOutput, IntegerArray,
} from '../types.js';
import type { Arena } from '../wasm/arena.js';
import { layerNormPhase, packedRowsLength, scalePhase, scratchSlots, type Phase } from '../parallel/phases.js';
import { array, dim, elements, fileShape, flag, int8Weight, keysOf, options, quantizeOption, typedArray } from '../validate.js';
import { quote, rangeError, typeError } from '../errors.js';
import { epsilon } from '../ops/layer-norm.js';
import { hfActivation } from './activation.js';
import { LinearParams, linearPhases } from '../ops/linear.js';
import {
  addRow, embeddingTable, int8Source, isCodesOnly, ownTable, readRow, ModuleWeights, type EmbeddingTable, type ModuleHost, type ParamSpec,
} from '../ops/modules.js';
import { planMultiHeadAttention, placeMha, readMhaWeights, type MhaPlacement, type MhaShape } from '../ops/multi-head-attention.js';
import {
  AttentionBlock, NormBlock, layerBlocks, layerPhases, normPhase, placeStack, type LayerConfig, type LayerWeights,
  type StackBuffers,
} from '../ops/transformer-layer.js';
import { asyncDisposer } from '../disposable.js';

/** Which model: BertModel, or one of the BertFor* heads on top of it. */
export type BertHead = 'base' | 'sequence-classification' | 'masked-lm' | 'token-classification' | 'question-answering';

/** Per head: the engine method (errors of creation), the class (errors of forward), and the
 * namespaces whose keys the model reads (a key there that is not in the table is an error; keys
 * elsewhere are unused, as HF's loader reports them). */
const HEADS: Readonly<Record<BertHead, { op: string; cls: string; namespace: RegExp }>> = {
  'base': { op: 'bert', cls: 'BertModel', namespace: /^(embeddings|encoder|pooler)\./ },
  'sequence-classification': {
    op: 'bertForSequenceClassification', cls: 'BertForSequenceClassification',
    namespace: /^(embeddings|encoder|pooler|classifier)\./,
  },
  // No pooler in HF's BertForMaskedLM (add_pooling_layer=False): pooler.* and
  // cls.seq_relationship.* of a pretraining checkpoint are unused.
  'masked-lm': { op: 'bertForMaskedLM', cls: 'BertForMaskedLM', namespace: /^(embeddings|encoder|cls\.predictions)\./ },
  // No pooler in either (add_pooling_layer=False): one linear over every token.
  'token-classification': {
    op: 'bertForTokenClassification', cls: 'BertForTokenClassification', namespace: /^(embeddings|encoder|classifier)\./,
  },
  'question-answering': {
    op: 'bertForQuestionAnswering', cls: 'BertForQuestionAnswering', namespace: /^(embeddings|encoder|qa_outputs)\./,
  },
};

const OPTION_KEYS = keysOf<BertModelOptions>({ config: true, weights: true, quantize: true });
const FORWARD_KEYS = keysOf<BertForwardOptions>({
  batch: true, seq: true, attentionMask: true, tokenTypeIds: true, outputAttentions: true, outputHiddenStates: true,
});

// --- config ------------------------------------------------------------------------------------

/** The config.json dimensions the model reads (besides layer_norm_eps, hidden_act,
 * position_embedding_type, is_decoder, add_cross_attention, tie_word_embeddings, and the heads'
 * id2label / num_labels; every other HF key is ignored). */
const DIM_KEYS = [
  'vocab_size', 'hidden_size', 'num_hidden_layers', 'num_attention_heads', 'intermediate_size',
  'max_position_embeddings', 'type_vocab_size',
] as const;

/** transformers' BertConfig defaults, named in the error for a config without the key. */
const HF_BERT_DEFAULTS: Record<string, unknown> = {
  vocab_size: 30522, hidden_size: 768, num_hidden_layers: 12, num_attention_heads: 12, intermediate_size: 3072,
  max_position_embeddings: 512, type_vocab_size: 2, layer_norm_eps: 1e-12, hidden_act: 'gelu',
};

/** The hyperparameters, checked. */
interface Hyper {
  vocab: number; hidden: number; layers: number; heads: number; intermediate: number;
  maxPositions: number; typeVocab: number; eps: number;
  /** hidden_act, an ACTIVATION code (models/activation.ts): the intermediate dense's and the
   * masked-LM head transform's, as HF's BertIntermediate and BertPredictionHeadTransform. */
  activation: number;
}

function readConfig(value: unknown, OP: string): { hyper: Hyper; config: BertConfig } {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw typeError(OP, 'options.config', 'an object (config.json)', value);
  }
  const c = value as Record<string, unknown>;
  const need = (key: string): unknown => {
    if (c[key] === undefined) {
      // Not guessed: a config.json written by save_pretrained states every key. Older files (a
      // Google bert_config.json has no layer_norm_eps) need the value HF would default to added.
      const fallback = HF_BERT_DEFAULTS[key];
      throw typeError(OP, `options.config.${key}`, 'present (config.json of a BERT model' +
        (fallback === undefined ? ')' : `; transformers' BertConfig defaults it to ${JSON.stringify(fallback)}: add that if the checkpoint was made with it)`), undefined);
    }
    return c[key];
  };
  const [vocab, hidden, layers, heads, intermediate, maxPositions, typeVocab] =
    DIM_KEYS.map((k) => dim(OP, `options.config.${k}`, need(k)));
  if (hidden % heads !== 0) {
    throw rangeError(OP, 'options.config.num_attention_heads', `(${heads}) must divide options.config.hidden_size (${hidden})`);
  }
  const eps = epsilon(OP, 'options.config.layer_norm_eps', need('layer_norm_eps'), 0);
  const activation = hfActivation(OP, 'options.config.hidden_act', need('hidden_act'));
  if (c.is_decoder !== undefined && typeof c.is_decoder !== 'boolean') throw typeError(OP, 'options.config.is_decoder', 'a boolean (false)', c.is_decoder);
  if (c.is_decoder === true) {
    throw rangeError(OP, 'options.config.is_decoder', 'must be false (a BERT decoder, causal or with cross-attention, is not supported), got true');
  }
  const tie = c.tie_word_embeddings;
  if (tie !== undefined && typeof tie !== 'boolean') throw typeError(OP, 'options.config.tie_word_embeddings', 'a boolean', tie);
  const cross = c.add_cross_attention;
  if (cross !== undefined && cross !== false) {
    if (typeof cross !== 'boolean') throw typeError(OP, 'options.config.add_cross_attention', 'a boolean', cross);
    throw rangeError(OP, 'options.config.add_cross_attention', 'must be false (cross-attention needs is_decoder, which is not supported; HF refuses it without is_decoder too)');
  }
  // RoBERTa and XLM-RoBERTa base models (sentence-transformers saves e5, bge-m3, distilroberta
  // so) have BertModel's keys exactly, but count positions from pad_token_id + 1: run as BERT
  // they would give other numbers, silently. Only BERT's own model_type (or none) is taken.
  const type = c.model_type;
  if (type !== undefined && typeof type !== 'string') throw typeError(OP, 'options.config.model_type', "'bert'", type);
  if (type !== undefined && type !== 'bert') {
    throw rangeError(OP, 'options.config.model_type', `must be 'bert' (or absent), got ${quote(type)}: ` +
      'a RoBERTa-family checkpoint has the same keys but other position ids, and other model types other math');
  }
  const pet = c.position_embedding_type;
  if (pet !== undefined && typeof pet !== 'string') throw typeError(OP, 'options.config.position_embedding_type', "'absolute'", pet);
  if (pet !== undefined && pet !== 'absolute') {
    throw rangeError(OP, 'options.config.position_embedding_type', `must be 'absolute', got ${quote(pet)}`);
  }
  return {
    hyper: { vocab, hidden, layers, heads, intermediate, maxPositions, typeVocab, eps, activation },
    config: Object.freeze({ ...c }) as BertConfig,
  };
}

// --- weights -----------------------------------------------------------------------------------

/** The prefix BertFor* checkpoints put before the base model's keys. */
const PREFIX = 'bert.';
/** Keys inside the namespace that HF files carry and the model does not use (buffers). */
const BUFFERS = new Set(['embeddings.position_ids']);
/** Old TF-converted checkpoints name LayerNorm's weight and bias gamma and beta. */
const OLD_NAMES: Readonly<Record<string, string>> = { gamma: 'weight', beta: 'bias' };

/** A table entry; entries of one `optional` group come all together or not at all. */
type Spec = ParamSpec & { optional?: string };

/** The checkpoint table: every key of the model's state dict (no prefix, current names) with
 * its shape: BertModel's (the pooler optional), then the head's. */
function bertSpecs(h: Hyper, head: BertHead, numLabels: number): Spec[] {
  const d = h.hidden, ff = h.intermediate;
  const linear = (name: string, out: number, inp: number, outName: string, inName: string, optional?: string): Spec[] => [
    { key: `${name}.weight`, shape: [out, inp], dims: `[${outName}, ${inName}]`, optional },
    { key: `${name}.bias`, shape: [out], dims: `[${outName}]`, optional },
  ];
  const norm = (name: string): Spec[] => [
    { key: `${name}.weight`, shape: [d], dims: '[hidden_size]' },
    { key: `${name}.bias`, shape: [d], dims: '[hidden_size]' },
  ];
  const specs: Spec[] = [
    { key: 'embeddings.word_embeddings.weight', shape: [h.vocab, d], dims: '[vocab_size, hidden_size]' },
    { key: 'embeddings.position_embeddings.weight', shape: [h.maxPositions, d], dims: '[max_position_embeddings, hidden_size]' },
    { key: 'embeddings.token_type_embeddings.weight', shape: [h.typeVocab, d], dims: '[type_vocab_size, hidden_size]' },
    ...norm('embeddings.LayerNorm'),
  ];
  for (let n = 0; n < h.layers; n++) {
    const p = `encoder.layer.${n}.`;
    for (const qkv of ['query', 'key', 'value']) specs.push(...linear(`${p}attention.self.${qkv}`, d, d, 'hidden_size', 'hidden_size'));
    specs.push(...linear(`${p}attention.output.dense`, d, d, 'hidden_size', 'hidden_size'));
    specs.push(...norm(`${p}attention.output.LayerNorm`));
    specs.push(...linear(`${p}intermediate.dense`, ff, d, 'intermediate_size', 'hidden_size'));
    specs.push(...linear(`${p}output.dense`, d, ff, 'hidden_size', 'intermediate_size'));
    specs.push(...norm(`${p}output.LayerNorm`));
  }
  if (head === 'base') specs.push(...linear('pooler.dense', d, d, 'hidden_size', 'hidden_size', 'pooler'));
  if (head === 'sequence-classification') {
    specs.push(...linear('pooler.dense', d, d, 'hidden_size', 'hidden_size'));
    specs.push(...linear('classifier', numLabels, d, 'num_labels', 'hidden_size'));
  }
  if (head === 'token-classification') specs.push(...linear('classifier', numLabels, d, 'num_labels', 'hidden_size'));
  if (head === 'question-answering') specs.push(...linear('qa_outputs', 2, d, '2 (start, end)', 'hidden_size'));
  if (head === 'masked-lm') {
    specs.push(...linear('cls.predictions.transform.dense', d, d, 'hidden_size', 'hidden_size'));
    specs.push(...norm('cls.predictions.transform.LayerNorm'));
    // HF ties the decoder to the word embeddings and its bias to cls.predictions.bias; a file
    // may hold either spelling of the bias, or both (then equal).
    specs.push({ key: 'cls.predictions.decoder.weight', shape: [h.vocab, d], dims: '[vocab_size, hidden_size]', optional: 'decoder' });
    specs.push({ key: 'cls.predictions.bias', shape: [h.vocab], dims: '[vocab_size]', optional: 'bias' });
    specs.push({ key: 'cls.predictions.decoder.bias', shape: [h.vocab], dims: '[vocab_size]', optional: 'decoderBias' });
  }
  return specs;
}

/** The table's key for a checkpoint key: without `bert.`, LayerNorm's gamma/beta as weight/bias. */
function canonicalKey(key: string): string {
  // `bert.` prefixes the base model only: a head's key under it is not the head's (HF reports it
  // as unexpected), so it stays as given and lands in unusedKeys.
  const stripped = key.startsWith(PREFIX) ? key.slice(PREFIX.length) : key;
  const k = stripped === key || NAMESPACE_BASE.test(stripped) || BUFFERS.has(stripped) ? stripped : key;
  const m = /^(.*\.LayerNorm)\.(gamma|beta)$/.exec(k);
  return m ? `${m[1]}.${OLD_NAMES[m[2]]}` : k;
}

/** Reads the weights through the table: every table key once (in any of its spellings), each
 * optional group all or nothing; keys outside the head's namespaces and known buffers are
 * returned as unused. */
function readWeights(
  h: Hyper, value: unknown, OP: string, head: BertHead, numLabels: number, quantize?: 'int8', tieWordEmbeddings?: unknown,
): { w: Record<string, Float32Array>; tables: Record<string, EmbeddingTable>; unused: string[]; pooler: boolean } {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw typeError(OP, 'options.weights', 'an object of Float32Arrays keyed by HF names', value);
  }
  const given = value as Record<string, unknown>;
  const specs = bertSpecs(h, head, numLabels);
  const { cls, namespace } = HEADS[head];
  const byKey = new Map(specs.map((s) => [s.key, s]));
  const source = new Map<string, string>(); // table key → the checkpoint key that gave it
  const unused: string[] = [];
  for (const key of Object.keys(given)) {
    const k = canonicalKey(key);
    if (!byKey.has(k)) {
      if (BUFFERS.has(k) || !namespace.test(k)) {
        unused.push(key);
        continue;
      }
      const layer = /^encoder\.layer\.(\d+)\./.exec(k);
      const why = layer && Number(layer[1]) >= h.layers
        ? `is layer ${layer[1]}, but config.num_hidden_layers is ${h.layers}`
        : `is not a key of ${cls}`;
      throw rangeError(OP, `options.weights[${JSON.stringify(key)}]`, why);
    }
    const before = source.get(k);
    if (before !== undefined) {
      throw rangeError(OP, `options.weights[${JSON.stringify(key)}]`, `is the same weight as ${JSON.stringify(before)}; give one`);
    }
    source.set(k, key);
  }
  const present = new Set(specs.filter((s) => s.optional && source.has(s.key)).map((s) => s.optional));
  if (head === 'masked-lm' && !present.has('bias') && !present.has('decoderBias')) present.add('bias'); // named missing
  const prefixed = [...source.values()].some((k) => k.startsWith(PREFIX)) ? PREFIX : '';
  // A head the checkpoint does not have (a BertModel or pretraining file given to a BertFor*
  // class): HF would initialise it at random and warn to train it; here it is an error.
  for (const s of specs) {
    if (!s.optional && !NAMESPACE_BASE.test(s.key) && !source.has(s.key)) {
      throw typeError(OP, `options.weights[${JSON.stringify(s.key)}]`,
        `present: the checkpoint has no ${cls} head (HF would initialise it at random and warn that it needs training)`, undefined);
    }
  }
  if (head === 'masked-lm' && !present.has('decoder') && tieWordEmbeddings === false) {
    throw typeError(OP, 'options.weights["cls.predictions.decoder.weight"]',
      'present: config.tie_word_embeddings is false, so the decoder is not the word embeddings', undefined);
  }
  const w: Record<string, Float32Array> = {};
  const tables: Record<string, EmbeddingTable> = {};
  const tiedDecoder = head === 'masked-lm' && !present.has('decoder');
  for (const s of specs) {
    if (s.optional && !present.has(s.optional)) continue;
    // The heads' keys sit beside `bert.`, never under it.
    const key = source.get(s.key) ?? (NAMESPACE_BASE.test(s.key) ? prefixed : '') + s.key;
    const name = `options.weights[${JSON.stringify(key)}]`;
    const length = elements(OP, name, ...s.shape);
    const read = (value: unknown): Float32Array => isCodesOnly(value) ? value as Float32Array
      : array(OP, name, value, 'Float32Array', length, `${s.dims} = [${s.shape.join(', ')}]`);
    if (TABLES.has(s.key)) {
      // Gathered in JS (createBert keeps copies): an int8 file's table keeps its codes; the word
      // embeddings are read as a weight only for a tied masked-LM decoder.
      tables[s.key] = embeddingTable(given, key, s.shape[0]!, s.shape[1]!, () => read(given[key]));
      if (tiedDecoder && s.key === 'embeddings.word_embeddings.weight') {
        w[s.key] = read(quantize ? int8Source(given, key, s.shape[0]!, s.shape[1]!, 0) : given[key]);
      }
      fileShape(OP, name, given, key, s.shape);
      continue;
    }
    // int8: the encoder's and the masked-LM head's linear weights (embeddings, the pooler and the
    // classifier stay f32). From an int8 file they pack their codes (int8Source); read ones are
    // checked before any copy.
    const int8 = quantize && /^(encoder|cls)\..*\.weight$/.test(s.key) && !s.key.includes('LayerNorm');
    w[s.key] = read(int8 ? int8Source(given, key, s.shape[0]!, s.shape[1]!, 0) : given[key]);
    fileShape(OP, name, given, key, s.shape);
    if (int8) {
      int8Weight(OP, `options.weights[${JSON.stringify(key)}]`, w[s.key], s.shape[1],
        s.shape[1] === h.hidden ? 'options.config.hidden_size' : 'options.config.intermediate_size');
    }
  }
  // int8 with the decoder tied: the word embeddings become the decoder's codes, checked as such.
  if (quantize && head === 'masked-lm' && !present.has('decoder')) {
    const key = source.get('embeddings.word_embeddings.weight')!;
    int8Weight(OP, `options.weights[${JSON.stringify(key)}] (the tied cls.predictions decoder)`,
      w['embeddings.word_embeddings.weight'], h.hidden, 'options.config.hidden_size');
  }
  if (w['cls.predictions.bias'] && w['cls.predictions.decoder.bias']) {
    const a = w['cls.predictions.bias'], b = w['cls.predictions.decoder.bias'];
    const at = a.findIndex((x, i) => !Object.is(x, b[i]));
    if (at >= 0) {
      throw rangeError(OP, `options.weights[${JSON.stringify(source.get('cls.predictions.decoder.bias'))}]`,
        `differs from cls.predictions.bias at [${at}] (${b[at]} vs ${a[at]}); HF ties the two, give one or equal values`);
    }
  }
  return { w, tables, unused, pooler: present.has('pooler') || head === 'sequence-classification' };
}

/** The embedding tables, gathered in JavaScript. */
const TABLES = new Set(['embeddings.word_embeddings.weight', 'embeddings.position_embeddings.weight', 'embeddings.token_type_embeddings.weight']);

/** The base model's key groups (under `bert.` in a BertFor* file). */
const NAMESPACE_BASE = /^(embeddings|encoder|pooler)\./;

/** One BERT layer as nn.TransformerEncoderLayer's weights (post-norm): self-attention with
 * separate query/key/value, norm1 = attention.output.LayerNorm, linear1 = intermediate.dense,
 * linear2 = output.dense, norm2 = output.LayerNorm. */
function layerWeights(h: Hyper, w: Record<string, Float32Array>, n: number, quantize?: 'int8'): LayerWeights {
  const p = `encoder.layer.${n}.`;
  const at = (k: string): Float32Array => w[p + k];
  const inProjBias = new Float32Array(3 * h.hidden);
  ['query', 'key', 'value'].forEach((k, i) => inProjBias.set(at(`attention.self.${k}.bias`), i * h.hidden));
  return {
    selfAttn: new AttentionBlock(planMultiHeadAttention({
      embedDim: h.hidden, numHeads: h.heads, quantize,
      weights: {
        qProjWeight: at('attention.self.query.weight'), kProjWeight: at('attention.self.key.weight'),
        vProjWeight: at('attention.self.value.weight'), inProjBias,
        outProjWeight: at('attention.output.dense.weight'), outProjBias: at('attention.output.dense.bias'),
      },
    })),
    linear1: new LinearParams(h.hidden, h.intermediate, at('intermediate.dense.weight'), at('intermediate.dense.bias'), quantize),
    linear2: new LinearParams(h.intermediate, h.hidden, at('output.dense.weight'), at('output.dense.bias'), quantize),
    norms: [
      new NormBlock([at('attention.output.LayerNorm.weight'), at('attention.output.LayerNorm.bias')]),
      new NormBlock([at('output.LayerNorm.weight'), at('output.LayerNorm.bias')]),
    ],
  };
}

// --- forward -----------------------------------------------------------------------------------

/** Integers of [batch, seq] in [0, limit): `name[i]` named when one is not. */
function integers(FORWARD: string, name: string, value: unknown, length: number, limit: number, rule: string, float = false): Int32Array {
  const view = (float ? typedArray(value, 'Int32Array', 'Uint8Array', 'Float32Array') : typedArray(value, 'Int32Array', 'Uint8Array')) ??
    (Array.isArray(value) ? value : undefined);
  if (view === undefined) throw typeError(FORWARD, name, `an Int32Array, Uint8Array${float ? ', Float32Array' : ''} or number[]`, value);
  if (view.length !== length) throw rangeError(FORWARD, name, `has length ${view.length}, expected batch·seq = ${length}`);
  const out = new Int32Array(length);
  for (let i = 0; i < length; i++) {
    const v = view[i] as unknown;
    if (typeof v !== 'number') throw typeError(FORWARD, `${name}[${i}]`, 'a number (an integer id)', v);
    if (!Number.isInteger(v) || v < 0 || v >= limit) throw rangeError(FORWARD, `${name}[${i}]`, `is ${v}, ${rule}`);
    out[i] = v;
  }
  return out;
}

/** A checked forward call. */
interface ForwardPlan {
  B: number; L: number;
  embeddings: Float32Array; // [B·L, hidden], before the LayerNorm
  keyPaddingMask?: Uint8Array; // [B, L], 1 = ignore (the mask's 0s)
  outputAttentions: boolean;
  outputHiddenStates: boolean;
}

/** config.id2label's names in id order, checked: HF's num_labels is their count (a num_labels
 * beside it that disagrees is ignored, as HF does after a warning); with no id2label, num_labels
 * (HF's default 2) labels LABEL_0, LABEL_1, … */
function readLabels(c: BertConfig, OP: string): string[] {
  const id2label = c.id2label;
  if (id2label === undefined) {
    const n = c.num_labels === undefined ? 2 : dim(OP, 'options.config.num_labels', c.num_labels);
    return Array.from({ length: n }, (_, i) => `LABEL_${i}`);
  }
  if (typeof id2label !== 'object' || id2label === null || Array.isArray(id2label)) {
    throw typeError(OP, 'options.config.id2label', 'an object of label names keyed by id ("0", "1", …)', id2label);
  }
  const entries = Object.entries(id2label as Record<string, unknown>);
  if (entries.length === 0) throw rangeError(OP, 'options.config.id2label', 'has no label');
  const labels: string[] = new Array(entries.length);
  for (const [id, name] of entries) {
    const i = Number(id);
    if (!(Number.isInteger(i) && i >= 0 && i < entries.length && String(i) === id)) {
      throw rangeError(OP, `options.config.id2label[${JSON.stringify(id)}]`, `must be keyed by the ids 0..${entries.length - 1}`);
    }
    labels[i] = String(name);
  }
  // A num_labels that disagrees is HF's warning, not an error: id2label decides (configuration_utils).
  return labels;
}

export function createBert(opts: unknown, host: ModuleHost): BertModel;
export function createBert(opts: unknown, host: ModuleHost, head: 'sequence-classification'): BertForSequenceClassification;
export function createBert(opts: unknown, host: ModuleHost, head: 'masked-lm'): BertForMaskedLM;
export function createBert(opts: unknown, host: ModuleHost, head: 'token-classification'): BertForTokenClassification;
export function createBert(opts: unknown, host: ModuleHost, head: 'question-answering'): BertForQuestionAnswering;
export function createBert(
  opts: unknown, host: ModuleHost, head: BertHead = 'base',
): BertModel | BertForSequenceClassification | BertForMaskedLM | BertForTokenClassification | BertForQuestionAnswering {
  const { op: OP, cls } = HEADS[head];
  const FORWARD = `${cls}.forward`;
  const o = options(OP, 'options', opts, false, OPTION_KEYS);
  const { hyper: h, config } = readConfig(o.config, OP);
  const labels = head === 'sequence-classification' || head === 'token-classification' ? readLabels(config, OP) : [];
  const quantize = quantizeOption(OP, 'options.quantize', o.quantize);
  const { w, tables, unused, pooler } = readWeights(h, o.weights, OP, head, labels.length, quantize, config.tie_word_embeddings);
  const c: LayerConfig = {
    dModel: h.hidden, nhead: h.heads, dimFeedforward: h.intermediate, activation: h.activation,
    layerNormEps: h.eps, normFirst: false, bias: true, quantize,
  };
  // Weights: the embedding tables, the pooler and the classifier stay in JS (gathers and small
  // rows per sequence); the norms, the layers and the masked-LM head are resident.
  const word = ownTable(tables['embeddings.word_embeddings.weight']!); // [vocab, hidden]
  const position = ownTable(tables['embeddings.position_embeddings.weight']!); // [max_positions, hidden]
  const tokenType = ownTable(tables['embeddings.token_type_embeddings.weight']!); // [type_vocab, hidden]
  const poolerWeight = pooler ? w['pooler.dense.weight'].slice() : undefined; // [hidden, hidden]
  const poolerBias = pooler ? w['pooler.dense.bias'].slice() : undefined; // [hidden]
  const classifierWeight = head === 'sequence-classification' ? w['classifier.weight'].slice() : undefined; // [labels, hidden]
  const classifierBias = head === 'sequence-classification' ? w['classifier.bias'].slice() : undefined; // [labels]
  const embNorm = new NormBlock([w['embeddings.LayerNorm.weight'], w['embeddings.LayerNorm.bias']]);
  const layers = Array.from({ length: h.layers }, (_, n) => layerWeights(h, w, n, quantize));
  const mlm = head === 'masked-lm' ? {
    dense: new LinearParams(h.hidden, h.hidden, w['cls.predictions.transform.dense.weight'],
      w['cls.predictions.transform.dense.bias'], quantize),
    norm: new NormBlock([w['cls.predictions.transform.LayerNorm.weight'], w['cls.predictions.transform.LayerNorm.bias']]),
    decoder: new LinearParams(h.hidden, h.vocab, w['cls.predictions.decoder.weight'] ?? w['embeddings.word_embeddings.weight'],
      w['cls.predictions.bias'] ?? w['cls.predictions.decoder.bias'], quantize),
  } : undefined;
  // Token classification and question answering: one f32 linear over every row, at the end of
  // the program (its output [B·L, labels] is small, its weight a few columns).
  const perToken = head === 'token-classification' ? new LinearParams(h.hidden, labels.length, w['classifier.weight'], w['classifier.bias'])
    : head === 'question-answering' ? new LinearParams(h.hidden, 2, w['qa_outputs.weight'], w['qa_outputs.bias']) : undefined;
  const blocks = [embNorm, ...layers.flatMap(layerBlocks), ...(mlm ? [mlm.dense, mlm.norm, mlm.decoder] : []), ...(perToken ? [perToken] : [])];
  const weights = new ModuleWeights(host, blocks, cls);
  const d = h.hidden;

  const plan = (inputIds: unknown, opts: unknown): ForwardPlan => {
    const f = options(FORWARD, 'options', opts, false, FORWARD_KEYS) as Partial<BertForwardOptions>;
    const B = dim(FORWARD, 'options.batch', f.batch), L = dim(FORWARD, 'options.seq', f.seq);
    if (L > h.maxPositions) {
      throw rangeError(FORWARD, 'options.seq', `(${L}) must be at most config.max_position_embeddings (${h.maxPositions})`);
    }
    const n = elements(FORWARD, 'lastHiddenState', B, L, d) / d;
    if (mlm) elements(FORWARD, 'logits', B, L, h.vocab);
    if (perToken) elements(FORWARD, 'logits', B, L, perToken.outFeatures);
    if (f.outputHiddenStates === true) elements(FORWARD, 'hiddenStates', h.layers + 1, B * L, d);
    const ids = integers(FORWARD, 'inputIds', inputIds, n, h.vocab, `must be an integer in 0..${h.vocab - 1} (config.vocab_size ${h.vocab})`);
    const types = f.tokenTypeIds === undefined ? new Int32Array(n)
      : integers(FORWARD, 'options.tokenTypeIds', f.tokenTypeIds, n, h.typeVocab, `must be an integer in 0..${h.typeVocab - 1}`);
    let keyPaddingMask: Uint8Array | undefined;
    if (f.attentionMask !== undefined) {
      // A float mask of 0/1 too, as HF takes one (GPT-2's forward and generate do as well).
      const mask = integers(FORWARD, 'options.attentionMask', f.attentionMask, n, 2, 'must be 1 (attend) or 0 (padding)', true);
      if (mask.some((m) => m === 0)) {
        keyPaddingMask = new Uint8Array(n);
        for (let i = 0; i < n; i++) keyPaddingMask[i] = 1 - mask[i];
        for (let b = 0; b < B; b++) {
          // HF would attend uniformly over every token of such a row (all scores finfo.min);
          // the attention kernel returns 0 for a row with no key.
          if (!mask.subarray(b * L, (b + 1) * L).includes(1)) {
            throw rangeError(FORWARD, 'options.attentionMask', `row ${b} attends to no token (needs a 1)`);
          }
        }
      }
    }
    // Embeddings: word + token type + position (absolute, 0..L-1), before their LayerNorm,
    // added in f32 in HF's order (inputs_embeds + token_type_embeddings, then += position).
    const embeddings = new Float32Array(n * d);
    for (let i = 0; i < n; i++) {
      readRow(word, ids[i]!, d, embeddings, i * d);
      addRow(tokenType, types[i]!, d, embeddings, i * d);
      addRow(position, i % L, d, embeddings, i * d);
    }
    return {
      B, L, embeddings, keyPaddingMask,
      outputAttentions: flag(FORWARD, 'options.outputAttentions', f.outputAttentions, false),
      outputHiddenStates: flag(FORWARD, 'options.outputHiddenStates', f.outputHiddenStates, false),
    };
  };

  /** y[b, o] = act(x[b·stride]·W[o]ᵀ + bias[o]) for one row of each of the B sequences (float64 sums). */
  const rowsTimes = (x: Float32Array, B: number, stride: number, W: Float32Array, bias: Float32Array, act?: (v: number) => number): Float32Array => {
    const outF = bias.length, out = new Float32Array(B * outF);
    for (let b = 0; b < B; b++) {
      const row = b * stride;
      for (let o = 0; o < outF; o++) {
        let s = bias[o];
        const wo = o * d;
        for (let j = 0; j < d; j++) s += x[row + j] * W[wo + j];
        out[b * outF + o] = act ? act(s) : s;
      }
    }
    return out;
  };
  /** tanh(x[:, 0]·Wᵀ + b) for the first row of each sequence. */
  const pool = (x: Float32Array, B: number, L: number): Float32Array => rowsTimes(x, B, L * d, poolerWeight!, poolerBias!, Math.tanh);

  /** Queues one forward: the embeddings' norm and every layer as one program (and the masked-LM
   * head after them); `collect` reads what the head needs. */
  const run = <T>(p: ForwardPlan, collect: (arena: Arena, x: number, logits: number, attentions: () => Float32Array[],
    hiddenStates: () => Float32Array[]) => T, outputs: number): Promise<T> => {
    const { B, L } = p;
    return weights.call('forward', (arena: Arena, threads: number) => {
      // Run state: the embeddings, the rows x [B·L, hidden] the layers transform in place,
      // the stack's shared buffers; with outputAttentions, one attention placement per layer
      // so that every layer's probabilities survive the program.
      const e = arena.place(p.embeddings.byteLength);
      const x = arena.place(p.embeddings.byteLength);
      const stack = placeStack(arena, c, layers[0].selfAttn.params, threads, B, L,
        { keyPaddingMask: p.keyPaddingMask, causal: false });
      const withWeights: MhaShape = { ...stack.selfShape, needWeights: true, averageWeights: false };
      const perLayer: StackBuffers[] = p.outputAttentions
        ? layers.map((l) => ({ ...stack, selfShape: withWeights, self: placeMha(arena, l.selfAttn.params, withWeights, threads) }))
        : layers.map(() => stack);
      const logits = mlm ? arena.place(B * L * h.vocab * 4) : perToken ? arena.place(B * L * perToken.outFeatures * 4) : 0;
      // The per-token linear is f32: an int8 stack's strips are int8 ones, about half its pack.
      const perTokenStrips = perToken && quantize ? arena.place(packedRowsLength(B * L, d) * 4) : stack.strips1;
      // outputHiddenStates: the embeddings' output and each layer's but the last, copied out of x
      // (a scale by 1, exact) before the next layer transforms it; the last is x itself.
      const n = B * L * d;
      const saved = p.outputHiddenStates ? layers.map(() => arena.place(n * 4)) : [];
      arena.commit();
      arena.writeF32(e, p.embeddings);
      const program: Phase[] = [normPhase(c, stack, embNorm, e, x)]; // x = LayerNorm(embeddings)
      layers.forEach((l, i) => { // x = layer(x), post-norm
        if (saved.length) program.push(scalePhase(n, x, saved[i], 1));
        layerPhases(program, arena, c, l, perLayer[i], x);
      });
      if (mlm) {
        // t = act(dense(x)); y = LayerNorm(t); logits = y·decoderᵀ + bias
        const rows = B * L, scratch = scratchSlots(stack.self.scratch);
        program.push(...linearPhases(mlm.dense, rows, x, d, stack.strips1, stack.t, d, { activation: h.activation, scratch }));
        program.push(layerNormPhase(rows, d, stack.t, d, 0, 0, mlm.norm.weight, mlm.norm.bias, h.eps, stack.y, d));
        program.push(...linearPhases(mlm.decoder, rows, stack.y, d, stack.strips1, logits, h.vocab, { scratch }));
      }
      if (perToken) program.push(...linearPhases(perToken, B * L, x, d, perTokenStrips, logits, perToken.outFeatures));
      return {
        program,
        outputs: outputs > 0 ? [outputs] : [],
        collect: () => collect(arena, x, logits,
          () => perLayer.map((s) => readMhaWeights(arena, h.heads, s.selfShape, s.self as MhaPlacement)!),
          () => [...saved, x].map((at) => arena.readF32(at, n))),
      };
    });
  };
  const planned = (inputIds: unknown, opts: unknown): ForwardPlan | Error => {
    try {
      return plan(inputIds, opts);
    } catch (error) {
      return error as Error;
    }
  };

  /** The forward of a class: plan (a bad argument rejects before anything is queued), run, read
   * what its output needs, with the hidden states and the attentions when asked for. */
  const forwardOf = <T extends { attentions?: Float32Array[]; hiddenStates?: Float32Array[] }>(
    read: (arena: Arena, x: number, logits: number, p: ForwardPlan) => T, outputs: (p: ForwardPlan) => number,
  ) => (inputIds: IntegerArray, opts: BertForwardOptions): Promise<T> => {
    const p = planned(inputIds, opts);
    if (p instanceof Error) return Promise.reject(p);
    return run(p, (arena, x, logits, attentions, hiddenStates): T => {
      const out = read(arena, x, logits, p);
      if (p.outputHiddenStates) out.hiddenStates = hiddenStates();
      if (p.outputAttentions) out.attentions = attentions();
      return out;
    }, outputs(p));
  };
  const common = {
    config, unusedKeys: Object.freeze(unused), dispose: () => weights.dispose(model),
    ...asyncDisposer(() => weights.dispose(model)),
  };
  const labelled = { ...common, labels: Object.freeze(labels) };
  const tokens = (p: ForwardPlan): number => p.B * p.L;

  let model: BertModel | BertForSequenceClassification | BertForMaskedLM | BertForTokenClassification | BertForQuestionAnswering;
  if (head === 'base') {
    model = Object.freeze({
      ...common,
      forward: forwardOf((arena, x, _logits, p): BertOutput => {
        const lastHiddenState = arena.readF32(x, tokens(p) * d);
        return pooler ? { lastHiddenState, pooledOutput: pool(lastHiddenState, p.B, p.L) } : { lastHiddenState };
      }, (p) => tokens(p) * d),
    });
  } else if (head === 'sequence-classification') {
    model = Object.freeze({
      ...labelled,
      // Only the first row of each sequence is read: pooler, then classifier (HF's dropout is the
      // identity in eval mode).
      forward: forwardOf((arena, x, _logits, p): BertClassifierOutput => {
        const first = new Float32Array(p.B * d);
        for (let b = 0; b < p.B; b++) first.set(arena.readF32(x + b * p.L * d * 4, d), b * d);
        return { logits: rowsTimes(pool(first, p.B, 1), p.B, d, classifierWeight!, classifierBias!) };
      }, () => 0),
    });
  } else if (head === 'token-classification') {
    model = Object.freeze({
      ...labelled,
      forward: forwardOf((arena, _x, logits, p): BertTokenClassifierOutput =>
        ({ logits: arena.readF32(logits, tokens(p) * labels.length) }), (p) => tokens(p) * labels.length),
    });
  } else if (head === 'question-answering') {
    model = Object.freeze({
      ...common,
      // qa_outputs gives [B·L, 2]; HF splits it into start and end logits [B, L].
      forward: forwardOf((arena, _x, logits, p): BertQuestionAnsweringOutput => {
        const n = tokens(p), both = arena.readF32(logits, 2 * n);
        return {
          startLogits: Float32Array.from({ length: n }, (_, i) => both[2 * i]),
          endLogits: Float32Array.from({ length: n }, (_, i) => both[2 * i + 1]),
        };
      }, () => 0),
    });
  } else {
    model = Object.freeze({
      ...common,
      forward: forwardOf((arena, _x, logits, p): BertMaskedLMOutput =>
        ({ logits: arena.readF32(logits, tokens(p) * h.vocab) }), (p) => tokens(p) * h.vocab),
    });
  }
  weights.track(model);
  return model;
}
