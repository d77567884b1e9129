// loadTokenizer: a Hugging Face `tokenizer.json` (the file every hub model ships for its fast
// tokenizer) run as HF's Rust `tokenizers` runs it: added tokens, normalizer, pre-tokenizer, model,
// truncation, post-processor, padding; and decode back to text.
import { describe, rangeError, typeError } from '../errors.js';
import { options as knownKeys } from '../validate.js';
import { AlignedText, wellFormed } from './aligned-text.js';
import { charClass, isWhiteSpace } from './char-class.js';
import { buildDecoder, cleanUpTokenizationSpaces, type Decoder } from './decoders.js';
import { asObject, fileError, type Json } from './json.js';
import { buildModel, type TokenizerModel, type WordToken } from './models.js';
import { buildNormalizer, type Normalizer } from './normalizers.js';
import { buildPostProcessor, concatEncoded, emptyEncoded, type Encoded, type PostProcessor } from './post-processors.js';
import { buildPreTokenizer, type PreTokenizer } from './pre-tokenizers.js';

/** One text (or text pair) encoded: HF's BatchEncoding for one input, camelCased. */
export interface Encoding {
  /** Token ids (HF's input_ids). */
  inputIds: Int32Array;
  /** 1 for a token, 0 for padding. */
  attentionMask: Int32Array;
  /** Segment ids: 0 for the first text, 1 for textPair under BERT's template. */
  tokenTypeIds: Int32Array;
  /** 1 for a token the post-processor added ([CLS], [SEP], …) and for padding. */
  specialTokensMask: Int32Array;
  /** The token strings. */
  tokens: string[];
  /** Each token's [start, end) in its input string, in UTF-16 units (`text.slice(start, end)`);
   * [0, 0] for added special tokens and padding. HF counts code points instead: the same
   * numbers for text without characters above U+FFFF. */
  offsets: [number, number][];
  /** The pre-tokenized word each token comes from (HF's word_ids()); null for special tokens. */
  wordIds: (number | null)[];
  /** 0 for a token of the first text, 1 of textPair, null for special tokens (HF's sequence_ids()). */
  sequenceIds: (number | null)[];
}

/** A batch padded to one length, laid out as the models take it: [batch, seq] row-major. */
export interface BatchEncoding {
  batch: number;
  seq: number;
  /** [batch, seq]. */
  inputIds: Int32Array;
  /** [batch, seq], 1 = token, 0 = padding (HF's attention_mask, as `forward` takes it). */
  attentionMask: Int32Array;
  /** [batch, seq]. */
  tokenTypeIds: Int32Array;
  /** Each row on its own, padded. */
  encodings: Encoding[];
}

export interface EncodeOptions {
  /** A second text (HF's text_pair): BERT's sentence B, a cross-encoder's passage. */
  textPair?: string | undefined;
  /** Add the post-processor's special tokens ([CLS] … [SEP]). Default true. */
  addSpecialTokens?: boolean | undefined;
  /** Cut to maxLength tokens, special tokens included. true = 'longest_first' (HF's default):
   * a pair loses tokens from its longer text first. Default false. */
  truncation?: boolean | 'longest_first' | 'only_first' | 'only_second' | undefined;
  /** The length truncation (and padding 'max_length') aims at. Default: tokenizer_config.json's
   * model_max_length. */
  maxLength?: number | undefined;
  /** Which end truncation cuts. Default: tokenizer_config.json's truncation_side, else tokenizer.json's
   * truncation.direction, else 'right'. */
  truncationSide?: 'left' | 'right' | undefined;
}

export interface EncodeBatchOptions extends Omit<EncodeOptions, 'textPair'> {
  /** One second text per input (HF's text_pair for a batch). */
  textPairs?: readonly string[] | undefined;
  /** 'longest' (or true; the default): pad to the longest row. 'max_length': pad to maxLength.
   * false: every row must already have the same length. */
  padding?: boolean | 'longest' | 'max_length' | undefined;
  /** Default: tokenizer_config.json's padding_side, else tokenizer.json's padding.direction, else
   * 'right'. GPT-2 generation pads 'left'. */
  paddingSide?: 'left' | 'right' | undefined;
  /** Round the padded length up to a multiple of this. */
  padToMultipleOf?: number | undefined;
  /** The id padding writes. Default: the tokenizer's padTokenId. */
  padTokenId?: number | undefined;
}

export interface DecodeOptions {
  /** Leave out special added tokens ([CLS], <|endoftext|>, …). Default false. */
  skipSpecialTokens?: boolean | undefined;
  /** transformers' clean_up_tokenization (" ." → ".", " n't" → "n't", …) after the decoder.
   * Default: tokenizer_config.json's clean_up_tokenization_spaces, else false. */
  cleanUpTokenizationSpaces?: boolean | undefined;
}

/** What loadTokenizer takes besides tokenizer.json: tokenizer_config.json's fields, as HF writes
 * them (all optional; null, as HF writes an unset field, is the default too). The file's other
 * keys (do_lower_case, tokenizer_class, …) may stay in the object: they are not read. */
export interface TokenizerConfig {
  /** The padding token: its string, or an object with its `content`. */
  pad_token?: string | { content: string } | null | undefined;
  model_max_length?: number | null | undefined;
  padding_side?: 'left' | 'right' | null | undefined;
  truncation_side?: 'left' | 'right' | null | undefined;
  clean_up_tokenization_spaces?: boolean | null | undefined;
  /** true: special added tokens in the text are encoded as text (HF's encode_special_tokens). */
  split_special_tokens?: boolean | null | undefined;
  /** The padding's token type id (default: tokenizer.json's padding.pad_type_id, else 0). */
  pad_token_type_id?: number | null | undefined;
  /** Special tokens: each that tokenizer.json's added_tokens lacks is added as a special token,
   * as transformers adds it (a string, or an AddedToken object with its content and flags). */
  bos_token?: string | { content: string } | null | undefined;
  eos_token?: string | { content: string } | null | undefined;
  unk_token?: string | { content: string } | null | undefined;
  sep_token?: string | { content: string } | null | undefined;
  cls_token?: string | { content: string } | null | undefined;
  mask_token?: string | { content: string } | null | undefined;
  additional_special_tokens?: readonly (string | { content: string })[] | null | undefined;
  [key: string]: unknown;
}

/** Text of generated tokens as they come (HF's DecodeStream). */
export interface DecodeStream {
  /** Adds one token id; returns the text it completes, or null while that text is not yet whole
   * (a character split across byte-level tokens, …). */
  step(id: number): string | null;
}

export interface Tokenizer {
  /** Tokens in the vocabulary, added tokens included (HF's len(tokenizer)). */
  readonly vocabSize: number;
  /** The padding token's id: tokenizer_config.json's pad_token, else tokenizer.json's padding, else
   * an added special token `[PAD]` or `<pad>`; null if none (GPT-2: pass padTokenId, often the
   * eos id 50256). */
  readonly padTokenId: number | null;
  /** model_max_length from tokenizer_config.json, or null. */
  readonly modelMaxLength: number | null;
  encode(text: string, options?: EncodeOptions): Encoding;
  encodeBatch(texts: readonly string[], options?: EncodeBatchOptions): BatchEncoding;
  decode(ids: ArrayLike<number>, options?: DecodeOptions): string;
  /** Incremental decoding for generation, as HF's decode_stream: each step decodes a short window
   * of recent ids, so the cost per token stays constant. */
  decodeStream(options?: { skipSpecialTokens?: boolean }): DecodeStream;
  tokenToId(token: string): number | undefined;
  idToToken(id: number): string | undefined;
}

interface AddedToken {
  id: number;
  content: string;
  /** The string decode gives: the content, normalized if the token is. */
  decoded: string;
  singleWord: boolean;
  lstrip: boolean;
  rstrip: boolean;
  normalized: boolean;
  special: boolean;
}

/** Rust regex's Unicode `\w`, at the edge of a string. */
const isWordChar = charClass(/[\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\p{Join_Control}]/u);

/** The code point that ends at unit `end` (a surrogate pair read whole). */
function codePointBefore(text: string, end: number): number {
  const low = text.charCodeAt(end - 1);
  if (end >= 2 && low >= 0xdc00 && low <= 0xdfff) {
    const high = text.charCodeAt(end - 2);
    if (high >= 0xd800 && high <= 0xdbff) return (text.codePointAt(end - 2) as number);
  }
  return low;
}

/** Where the run of whitespace that ends at `end` begins, not before `floor` (every
 * White_Space code point is in the BMP). */
function spacesBefore(text: string, end: number, floor: number): number {
  while (end > floor && isWhiteSpace(text.charCodeAt(end - 1))) end--;
  return end;
}

/** Where the run of whitespace that starts at `start` ends. */
function spacesAfter(text: string, start: number): number {
  while (start < text.length && isWhiteSpace(text.charCodeAt(start))) start++;
  return start;
}

/** A node of AddedTokenMatcher's trie: the token whose pattern ends here, if any. */
interface TrieNode {
  next: Map<number, TrieNode>;
  token?: AddedToken | undefined;
}

/** Finds added tokens leftmost-longest (HF's Aho-Corasick match kind), then applies single_word,
 * lstrip and rstrip. Returns the pieces that cover the text: [start, end, added token or null]. */
class AddedTokenMatcher {
  /** The patterns as a trie of UTF-16 units: the longest match at a position is one walk, however
   * many tokens share a prefix (50,000 `<|reserved_…|>` tokens: a scan of each candidate cost
   * 3.4 s on 10 KB of `<|`; HF matches with Aho-Corasick). */
  private readonly root: TrieNode = { next: new Map() };
  /** 1 for each unit a pattern starts with: the scan asks the trie only there. */
  private readonly first = new Uint8Array(0x10000);
  /** `splitSpecial`: tokenizer_config.json's split_special_tokens (HF's encode_special_tokens):
   * a special token's match is passed over, its text encoded as any other. */
  constructor(tokens: readonly (AddedToken & { pattern: string })[], private readonly splitSpecial = false) {
    for (const t of tokens) {
      if (t.pattern.length === 0) continue;
      this.first[t.pattern.charCodeAt(0)] = 1;
      let node = this.root;
      for (let i = 0; i < t.pattern.length; i++) {
        const unit = t.pattern.charCodeAt(i);
        let child = node.next.get(unit);
        if (child === undefined) node.next.set(unit, child = { next: new Map() });
        node = child;
      }
      node.token ??= { ...t, content: t.pattern }; // the first of two tokens with one pattern
    }
  }

  /** The longest token starting at `i`, if any. */
  private longestAt(text: string, i: number): AddedToken | undefined {
    let node: TrieNode | undefined = this.root, hit: AddedToken | undefined;
    for (let j = i; j < text.length; j++) {
      node = node.next.get(text.charCodeAt(j));
      if (node === undefined) break;
      if (node.token !== undefined) hit = node.token;
    }
    return hit;
  }

  /** The pieces, or null where HF cannot encode the text (see start > stop below). */
  split(text: string): [number, number, AddedToken | null][] | null {
    const pieces: [number, number, AddedToken | null][] = [];
    let done = 0;
    for (let i = 0; i < text.length;) {
      const hit = this.first[text.charCodeAt(i)] === 1 ? this.longestAt(text, i) : undefined;
      if (hit === undefined) {
        i++;
        continue;
      }
      let start = i;
      let stop = i + hit.content.length;
      i = stop;
      // HF's find_matches drops the match (and searches on after it), as for single_word below.
      if (this.splitSpecial && hit.special) continue;
      if (hit.singleWord) {
        const startOk = start === 0 || !isWordChar(codePointBefore(text, start));
        const stopOk = stop === text.length || !isWordChar(text.codePointAt(stop) as number);
        if (!startOk || !stopOk) continue;
      }
      // lstrip never reaches back into the previous match (HF: max(newstart, start_offset)),
      // even when that match's rstrip ran past this one's start.
      if (hit.lstrip) start = Math.max(spacesBefore(text, start, 0), done);
      if (hit.rstrip) stop = spacesAfter(text, stop);
      // An lstrip token inside the spaces an rstrip token took ends before it starts: HF's Rust
      // aborts the process there; we refuse the text.
      if (start > stop) return null;
      if (start > done) pieces.push([done, start, null]);
      pieces.push([start, stop, hit]);
      // HF searches on from the end of the match itself, not of the spaces rstrip took: a next
      // match may start inside them, and the pieces overlap.
      done = stop;
    }
    if (done < text.length) pieces.push([done, text.length, null]);
    return pieces;
  }
}

const OP = 'tokenizer';

/** transformers' SPECIAL_TOKENS_ATTRIBUTES, in order (then additional_special_tokens). */
const SPECIAL_TOKEN_KEYS = ['bos_token', 'eos_token', 'unk_token', 'sep_token', 'pad_token', 'cls_token', 'mask_token'] as const;

/** tokenizer_config.json's special tokens as transformers lists them (all_special_tokens_extended):
 * [where, a string or an AddedToken object with its content]; null or absent entries left out. */
function configSpecialTokens(config: TokenizerConfig): [string, string | (Json & { content: string })][] {
  const out: [string, string | (Json & { content: string })][] = [];
  const take = (name: string, v: unknown): void => {
    if (v === undefined || v === null) return;
    if (typeof v === 'string') out.push([name, v]);
    else if (typeof v === 'object' && !Array.isArray(v) && typeof (v as Json)['content'] === 'string') out.push([name, v as Json & { content: string }]);
    else throw typeError('loadTokenizer', `tokenizer_config.json ${name}`, 'a string, {content: string} or null', v);
  };
  for (const key of SPECIAL_TOKEN_KEYS) take(key, config[key]);
  const more = config.additional_special_tokens;
  if (more !== undefined && more !== null) {
    if (!Array.isArray(more)) throw typeError('loadTokenizer', 'tokenizer_config.json additional_special_tokens', 'an array', more);
    for (let i = 0; i < more.length; i++) take(`additional_special_tokens[${i}]`, more[i]);
  }
  return out;
}

/** `options` with only known keys and no null value (an option left out takes its default; a
 * null would silently do the same through `??`). */
function knownOptions(op: string, name: string, value: unknown, optional: boolean, known: readonly string[]): void {
  const checked = knownKeys(op, name, value, optional, known);
  for (const key of Object.keys(checked)) {
    if (checked[key] === null) throw typeError(op, `${name}.${key}`, 'a value (leave it out for its default)', null);
  }
}
/** The options each call knows: any other key is a RangeError naming it (a misspelt
 * `add_special_tokens` must not silently keep the special tokens). */
const ENCODE_KEYS = ['textPair', 'addSpecialTokens', 'truncation', 'maxLength', 'truncationSide'];
const BATCH_KEYS = ['textPairs', 'addSpecialTokens', 'truncation', 'maxLength', 'truncationSide', 'padding', 'paddingSide',
  'padToMultipleOf', 'padTokenId'];
const DECODE_KEYS = ['skipSpecialTokens', 'cleanUpTokenizationSpaces'];
const INT32_MAX = 0x7fffffff;
const UINT32_MAX = 0xffffffff;
/** Padding stops here: 16 Mi tokens in a batch (64 MiB per Int32Array), far past any model's
 * context, short of exhausting memory on a mistyped maxLength. */
const MAX_PADDED = 2 ** 24;

class HfTokenizer implements Tokenizer {
  readonly vocabSize: number;
  readonly padTokenId: number | null;
  readonly modelMaxLength: number | null;
  private readonly model: TokenizerModel;
  private readonly normalizer: Normalizer | null;
  private readonly preTokenizer: PreTokenizer | null;
  private readonly postProcessor: PostProcessor;
  /** Whether tokenizer.json names a post-processor (HF's sequence ranges come from one). */
  private readonly hasPostProcessor: boolean;
  private readonly decoder: Decoder | null;
  private readonly rawMatcher: AddedTokenMatcher;
  private readonly normalizedMatcher: AddedTokenMatcher;
  private readonly addedById = new Map<number, AddedToken>();
  private readonly addedByContent = new Map<string, AddedToken>();
  /** Contents of the special added tokens (HF's special_tokens_set). */
  private readonly specialContents = new Set<string>();
  private readonly padToken: string | null;
  private readonly padTypeId: number;
  private readonly paddingSide: 'left' | 'right';
  private readonly truncationSide: 'left' | 'right';
  private readonly cleanUp: boolean;

  constructor(file: Json, config: TokenizerConfig) {
    this.model = buildModel(asObject(file['model'], 'model'), 'model');
    this.normalizer = buildNormalizer(file['normalizer'] as Json | null, 'normalizer');
    this.preTokenizer = buildPreTokenizer(file['pre_tokenizer'] as Json | null, 'pre_tokenizer');
    this.postProcessor = buildPostProcessor(file['post_processor'] as Json | null, 'post_processor');
    this.hasPostProcessor = file['post_processor'] !== null && file['post_processor'] !== undefined;
    this.decoder = buildDecoder(file['decoder'] as Json | null, 'decoder');

    const added = file['added_tokens'] ?? [];
    if (!Array.isArray(added)) throw fileError('added_tokens', `must be an array, got ${describe(added)}`);
    // HF reassigns the ids as it loads: a token of the model's vocabulary keeps its id there, any
    // other takes the next id after the vocabulary's size (the file's `id` is only checked, with a
    // warning, by HF). A content listed twice keeps its first id and its last entry's flags, and
    // is special if any entry says so.
    let nextId = this.model.vocab.size;
    added.forEach((entry, i) => {
      const path = `added_tokens[${i}]`;
      const e = asObject(entry, path);
      const id = e['id'];
      const content = e['content'];
      if (!Number.isInteger(id) || (id as number) < 0) throw fileError(`${path}.id`, `must be an integer ≥ 0, got ${describe(id)}`);
      if (typeof content !== 'string') throw fileError(`${path}.content`, `must be a string, got ${describe(content)}`);
      const flag = (key: string, fallback: boolean): boolean => {
        const v = e[key];
        if (v === undefined) return fallback;
        if (typeof v !== 'boolean') throw fileError(`${path}.${key}`, `must be a boolean, got ${describe(v)}`);
        return v;
      };
      const special = flag('special', false);
      if (content.length === 0) return;
      const normalized = flag('normalized', !special);
      const token: AddedToken = {
        id: this.addedByContent.get(content)?.id ?? this.model.vocab.get(content) ?? nextId++, content, special,
        singleWord: flag('single_word', false), lstrip: flag('lstrip', false), rstrip: flag('rstrip', false), normalized,
        // What decode gives for it: HF's normalized form if any entry of it was normalized (HF
        // keeps that form by id, and a later entry does not clear it).
        decoded: normalized && this.normalizer !== null ? this.normalizer(AlignedText.of(content)).text
          : (this.addedByContent.get(content)?.decoded ?? content),
      };
      this.addedById.set(token.id, token);
      this.addedByContent.set(content, token);
      if (special) this.specialContents.add(content);
    });
    // transformers' PreTrainedTokenizerFast adds the special tokens tokenizer_config.json names
    // (all_special_tokens_extended, in its order) that added_tokens lacks, as special tokens:
    // a string is not normalized, an AddedToken object keeps its flags (normalized, when absent,
    // is `not special` as the object says it, AddedToken's default); a token of the vocabulary
    // keeps its id there, another takes the next id.
    // transformers takes tokenizer.json's padding.pad_token as the pad_token when the config
    // gives none (kwargs.setdefault), so it is added the same way.
    const padding = file['padding'];
    const filePad = padding !== null && typeof padding === 'object' && typeof (padding as Json)['pad_token'] === 'string'
      ? (padding as Json)['pad_token'] as string : undefined;
    const padEntry = config.pad_token ?? filePad;
    for (const [key, entry] of configSpecialTokens({ ...config, pad_token: padEntry })) {
      const content = typeof entry === 'string' ? entry : entry.content;
      if (content.length === 0 || this.addedByContent.has(content)) continue;
      const flag = (name: string, fallback = false): boolean => {
        const v = typeof entry === 'string' ? undefined : entry[name];
        if (v === undefined || v === null) return fallback;
        if (typeof v !== 'boolean') throw typeError('loadTokenizer', `tokenizer_config.json ${key}.${name}`, 'a boolean', v);
        return v;
      };
      const normalized = typeof entry !== 'string' && flag('normalized', !flag('special'));
      const token: AddedToken = {
        id: this.model.vocab.get(content) ?? nextId++, content, special: true,
        singleWord: flag('single_word'), lstrip: flag('lstrip'), rstrip: flag('rstrip'), normalized,
        decoded: normalized && this.normalizer !== null ? this.normalizer(AlignedText.of(content)).text : content,
      };
      this.addedById.set(token.id, token);
      this.addedByContent.set(content, token);
      this.specialContents.add(content);
    }
    const split = config.split_special_tokens;
    if (split !== undefined && split !== null && typeof split !== 'boolean') {
      throw typeError('loadTokenizer', 'tokenizer_config.json split_special_tokens', 'a boolean', split);
    }
    const raw: (AddedToken & { pattern: string })[] = [];
    const normalized: (AddedToken & { pattern: string })[] = [];
    for (const token of this.addedById.values()) {
      if (token.normalized) normalized.push({ ...token, pattern: token.decoded });
      else raw.push({ ...token, pattern: token.content });
    }
    this.rawMatcher = new AddedTokenMatcher(raw, split === true);
    this.normalizedMatcher = new AddedTokenMatcher(normalized, split === true);

    for (const [id, path] of this.postProcessor.ids) {
      if (this.idToToken(id) === undefined) throw fileError(path, `gives id ${id}, which is neither in the vocabulary nor an added token`);
    }
    const all = new Set<string>(this.model.vocab.keys());
    for (const t of this.addedById.values()) all.add(t.content);
    this.vocabSize = all.size;

    // tokenizer_config.json's pad_token, else tokenizer.json's padding.pad_token (both checked,
    // and added if missing, with the special tokens above), else an added special [PAD] or <pad>.
    let pad: string | null = padEntry === undefined || padEntry === null ? null : typeof padEntry === 'string' ? padEntry : padEntry.content;
    pad ??= ['[PAD]', '<pad>'].find((p) => this.addedByContent.get(p)?.special === true) ?? null;
    if (pad !== null && this.tokenToId(pad) === undefined) { // an empty pad_token: no token has that content
      const from = config.pad_token !== undefined && config.pad_token !== null ? 'tokenizer_config.json pad_token' : 'tokenizer.json padding.pad_token';
      throw typeError('loadTokenizer', from, 'a token of the vocabulary', pad);
    }
    this.padToken = pad;
    this.padTokenId = pad === null ? null : (this.tokenToId(pad) as number);
    // The padding's type id: tokenizer_config.json's pad_token_type_id, else tokenizer.json's
    // padding.pad_type_id (transformers' setdefault), else 0.
    const typeId = (value: unknown, name: string): number | undefined => {
      if (value === undefined || value === null) return undefined;
      if (typeof value !== 'number') throw typeError('loadTokenizer', name, 'an integer ≥ 0', value);
      if (!Number.isInteger(value) || value < 0 || value > INT32_MAX) throw rangeError('loadTokenizer', name, `must be an integer ≥ 0, got ${value}`);
      return value;
    };
    this.padTypeId = typeId(config.pad_token_type_id, 'tokenizer_config.json pad_token_type_id')
      ?? (padding !== null && typeof padding === 'object' ? typeId((padding as Json)['pad_type_id'], 'tokenizer.json padding.pad_type_id') : undefined)
      ?? 0;
    const maxLength = config.model_max_length;
    // transformers writes 1e30 (VERY_LARGE_INTEGER) for "no limit": that, or any integer past
    // int32, is no model_max_length; what is not a positive integer at all is a mistake.
    if (maxLength !== undefined && maxLength !== null) {
      if (typeof maxLength !== 'number') throw typeError('loadTokenizer', 'tokenizer_config.json model_max_length', 'a positive integer', maxLength);
      if (!Number.isInteger(maxLength) || maxLength <= 0) {
        throw rangeError('loadTokenizer', 'tokenizer_config.json model_max_length', `must be a positive integer, got ${maxLength}`);
      }
    }
    this.modelMaxLength = typeof maxLength === 'number' && maxLength <= INT32_MAX ? maxLength : null;
    // transformers' PreTrainedTokenizerFast takes tokenizer.json's padding and truncation
    // directions as the sides' defaults (kwargs.setdefault), under tokenizer_config.json's.
    const fileSide = (key: 'padding' | 'truncation'): 'left' | 'right' => {
      const entry = file[key];
      if (entry === undefined || entry === null) return 'right';
      if (typeof entry !== 'object') throw typeError('loadTokenizer', `tokenizer.json ${key}`, 'an object or null', entry);
      const d = (entry as Json)['direction'];
      if (d === undefined) return 'right';
      if (d !== 'Left' && d !== 'Right') throw typeError('loadTokenizer', `tokenizer.json ${key}.direction`, '"Left" or "Right"', d);
      return d === 'Left' ? 'left' : 'right';
    };
    const side = (key: 'padding_side' | 'truncation_side', fallback: 'left' | 'right'): 'left' | 'right' => {
      const v = config[key];
      if (v === undefined || v === null) return fallback;
      if (v !== 'left' && v !== 'right') throw typeError('loadTokenizer', `tokenizer_config.json ${key}`, "'left' or 'right'", v);
      return v;
    };
    this.paddingSide = side('padding_side', fileSide('padding'));
    this.truncationSide = side('truncation_side', fileSide('truncation'));
    const cleanUp = config.clean_up_tokenization_spaces;
    if (cleanUp !== undefined && cleanUp !== null && typeof cleanUp !== 'boolean') {
      throw typeError('loadTokenizer', 'tokenizer_config.json clean_up_tokenization_spaces', 'a boolean', cleanUp);
    }
    this.cleanUp = cleanUp === true;
  }

  decodeStream(options: { skipSpecialTokens?: boolean } = {}): DecodeStream {
    knownOptions(`${OP}.decodeStream`, 'options', options, true, ['skipSpecialTokens']);
    const skip = options.skipSpecialTokens ?? false;
    if (typeof skip !== 'boolean') throw typeError(`${OP}.decodeStream`, 'options.skipSpecialTokens', 'a boolean', skip);
    return decodeStream(this, skip);
  }

  tokenToId(token: string): number | undefined {
    return this.addedByContent.get(token)?.id ?? this.model.vocab.get(token);
  }

  idToToken(id: number): string | undefined {
    return this.addedById.get(id)?.content ?? this.model.tokens.get(id);
  }

  /** One text through added tokens, normalizer, pre-tokenizer and model (HF's encode_single_sequence). */
  private encodeSequence(input: string, sequenceId: number, codePointOf: Int32Array | null,
    limit: { tokens: number; side: 'left' | 'right' } | null, op: string, arg: string): Encoded {
    const matches = (matcher: AddedTokenMatcher, s: string): [number, number, AddedToken | null][] => {
      const pieces = matcher.split(s);
      if (pieces === null) {
        throw rangeError(op, arg, "has an lstrip added token inside the spaces an rstrip one takes, which HF's tokenizers cannot encode (they abort)");
      }
      return pieces;
    };
    // 1. The splits, in order (HF's PreTokenizedString): added tokens, and the words of the
    // normalized, pre-tokenized text between them.
    const text = AlignedText.of(wellFormed(input));
    const splits: { piece: AlignedText; added: AddedToken | null }[] = [];
    const textPiece = (piece: AlignedText): void => {
      for (const w of this.preTokenizer === null ? [piece] : this.preTokenizer(piece)) {
        if (w.length > 0) splits.push({ piece: w, added: null });
      }
    };
    for (const [a, b, token] of matches(this.rawMatcher, text.text)) {
      const piece = text.slice(a, b);
      if (token !== null) {
        splits.push({ piece, added: token });
        continue;
      }
      const normalized = this.normalizer === null ? piece : this.normalizer(piece);
      if (normalized.length === 0) continue;
      for (const [c, d, inner] of matches(this.normalizedMatcher, normalized.text)) {
        const sub = normalized.slice(c, d);
        if (inner !== null) splits.push({ piece: sub, added: inner });
        else textPiece(sub);
      }
    }

    // 2. The model's tokens of each split. With truncation, HF tokenizes only the splits it may
    // keep: from the cut's far end, split by split, until it has limit.tokens tokens (the full
    // maxLength; an added token never stops the walk), and drops the rest. The later truncation
    // sees those lengths, so longest_first splits a pair by them; on the left, the splits kept are
    // numbered from 0 (HF's word ids).
    const n = splits.length;
    const tokens: (readonly WordToken[] | null)[] = new Array<readonly WordToken[] | null>(n).fill(null);
    const tokenize = (i: number): readonly WordToken[] => {
      const { piece, added } = splits[i] as { piece: AlignedText; added: AddedToken | null };
      return added !== null ? [{ id: added.id, value: piece.text, start: 0, end: piece.length }] : this.model.tokenize(piece.text);
    };
    let first = 0;
    let last = n;
    if (limit === null) {
      for (let i = 0; i < n; i++) tokens[i] = tokenize(i);
    } else {
      let total = 0;
      for (let k = 0; k < n; k++) {
        const i = limit.side === 'left' ? n - 1 - k : k;
        const list = tokenize(i);
        tokens[i] = list;
        total += list.length;
        if (limit.side === 'left') first = i;
        else last = i + 1;
        if ((splits[i] as { added: AddedToken | null }).added === null && total >= limit.tokens) break;
      }
    }

    // 3. The encoding, offsets in code points of the input.
    const out = emptyEncoded();
    for (let i = first; i < last; i++) {
      const piece = (splits[i] as { piece: AlignedText }).piece;
      for (const t of tokens[i] as readonly WordToken[]) {
        const s0 = t.end > t.start ? piece.startOf(t.start) : 0;
        const e0 = t.end > t.start ? piece.endOf(t.end - 1) : 0;
        out.ids.push(t.id);
        out.tokens.push(t.value);
        out.typeIds.push(sequenceId);
        out.offsets.push(codePointOf === null ? [s0, e0] : [codePointOf[s0] as number, codePointOf[e0] as number]);
        out.specialTokensMask.push(0);
        out.wordIds.push(i - first);
        out.sequenceIds.push(sequenceId);
      }
    }
    return out;
  }

  private checkText(value: unknown, arg: string, op: string): string {
    if (typeof value !== 'string') throw typeError(op, arg, 'a string', value);
    return value;
  }

  /** Validates the options common to encode and encodeBatch; returns the truncation to apply. */
  private truncationOf(options: EncodeOptions, op: string): { strategy: string; maxLength: number; side: 'left' | 'right' } | null {
    const t = options.truncation ?? false;
    if (t !== true && t !== false && t !== 'longest_first' && t !== 'only_first' && t !== 'only_second') {
      throw typeError(op, 'options.truncation', "a boolean, 'longest_first', 'only_first' or 'only_second'", t);
    }
    const side = options.truncationSide ?? this.truncationSide;
    if (side !== 'left' && side !== 'right') throw typeError(op, 'options.truncationSide', "'left' or 'right'", side);
    if (options.maxLength !== undefined && (!Number.isInteger(options.maxLength) || options.maxLength < 0 || options.maxLength > INT32_MAX)) {
      throw rangeError(op, 'options.maxLength', `must be an integer ≥ 0, got ${describe(options.maxLength)}`);
    }
    if (t === false) return null;
    const maxLength = options.maxLength ?? this.modelMaxLength;
    if (maxLength === null) throw rangeError(op, 'options.maxLength', 'must be given with truncation (no model_max_length below 2^31 came with tokenizer_config.json)');
    return { strategy: t === true ? 'longest_first' : t, maxLength, side };
  }

  /** `args`: the names of text and pair in the caller's arguments, for errors. */
  private encodeOne(text: string, pair: string | undefined, options: EncodeOptions, op: string,
    truncation: ReturnType<HfTokenizer['truncationOf']>, args: [string, string]): Encoded {
    const addSpecial = options.addSpecialTokens ?? true;
    // Offsets count code points until the end, as HF's do (ByteLevel's trimming counts characters).
    const maps = [codePointMaps(text), codePointMaps(pair ?? '')];
    const added = addSpecial ? this.postProcessor.added(pair !== undefined) : 0;
    if (truncation !== null && truncation.maxLength < added) {
      // HF's Rust would wrap the subtraction around and not truncate at all.
      throw rangeError(op, 'options.maxLength', `(${truncation.maxLength}) must leave room for the ${added} special tokens the post-processor adds`);
    }
    const limit = (sequence: number): { tokens: number; side: 'left' | 'right' } | null => (truncation !== null
      && (truncation.strategy !== 'only_second' || sequence !== 0) ? { tokens: truncation.maxLength, side: truncation.side } : null);
    let encodings = [this.encodeSequence(text, 0, (maps[0] as CodePoints).codePointOf, limit(0), op, args[0])];
    if (pair !== undefined) encodings.push(this.encodeSequence(pair, 1, (maps[1] as CodePoints).codePointOf, limit(1), op, args[1]));
    if (truncation !== null) encodings = truncate(encodings, truncation.maxLength - added, truncation.strategy, truncation.side, op, args);
    const out = concatEncoded(this.postProcessor.process(encodings, addSpecial));
    if (maps.some((m) => m.unitOf !== null)) {
      out.offsets = out.offsets.map(([a, b], i) => {
        const sequence = out.sequenceIds[i];
        const unitOf = sequence === null || sequence === undefined ? null : (maps[sequence] as CodePoints).unitOf;
        return unitOf === null ? [a, b] : [unitOf[a] as number, unitOf[b] as number];
      });
    }
    return out;
  }

  encode(text: string, options: EncodeOptions = {}): Encoding {
    const op = `${OP}.encode`;
    this.checkText(text, 'text', op);
    knownOptions(op, 'options', options, true, ENCODE_KEYS);
    if (options.textPair !== undefined) this.checkText(options.textPair, 'options.textPair', op);
    if (options.addSpecialTokens !== undefined && typeof options.addSpecialTokens !== 'boolean') {
      throw typeError(op, 'options.addSpecialTokens', 'a boolean', options.addSpecialTokens);
    }
    const truncation = this.truncationOf(options, op);
    return toEncoding(this.encodeOne(text, options.textPair, options, op, truncation, ['text', 'options.textPair']));
  }

  encodeBatch(texts: readonly string[], options: EncodeBatchOptions = {}): BatchEncoding {
    const op = `${OP}.encodeBatch`;
    if (!Array.isArray(texts)) throw typeError(op, 'texts', 'an array of strings', texts);
    if (texts.length === 0) throw rangeError(op, 'texts', 'must hold at least one string');
    for (let i = 0; i < texts.length; i++) this.checkText(texts[i], `texts[${i}]`, op); // holes too (forEach skips them)
    knownOptions(op, 'options', options, true, BATCH_KEYS);
    const pairs = options.textPairs;
    if (pairs !== undefined) {
      if (!Array.isArray(pairs)) throw typeError(op, 'options.textPairs', 'an array of strings', pairs);
      if (pairs.length !== texts.length) throw rangeError(op, 'options.textPairs', `must hold one string per text (${texts.length}), got ${pairs.length}`);
      for (let i = 0; i < pairs.length; i++) this.checkText(pairs[i], `options.textPairs[${i}]`, op);
    }
    if (options.addSpecialTokens !== undefined && typeof options.addSpecialTokens !== 'boolean') {
      throw typeError(op, 'options.addSpecialTokens', 'a boolean', options.addSpecialTokens);
    }
    const padding = options.padding ?? 'longest';
    if (padding !== true && padding !== false && padding !== 'longest' && padding !== 'max_length') {
      throw typeError(op, 'options.padding', "a boolean, 'longest' or 'max_length'", padding);
    }
    const side = options.paddingSide ?? this.paddingSide;
    if (side !== 'left' && side !== 'right') throw typeError(op, 'options.paddingSide', "'left' or 'right'", side);
    const multiple = options.padToMultipleOf ?? 1;
    if (!Number.isInteger(multiple) || multiple < 1 || multiple > MAX_PADDED) {
      throw rangeError(op, 'options.padToMultipleOf', `must be an integer in 1..${MAX_PADDED}, got ${describe(options.padToMultipleOf)}`);
    }
    const padId = options.padTokenId ?? this.padTokenId;
    if (options.padTokenId !== undefined && (!Number.isInteger(padId) || (padId as number) < 0 || this.idToToken(padId as number) === undefined)) {
      throw rangeError(op, 'options.padTokenId', `must be a token id of the vocabulary (0..${this.vocabSize - 1}), got ${describe(options.padTokenId)}`);
    }
    const truncation = this.truncationOf(options, op);
    if (truncation !== null && padding !== false && options.padToMultipleOf !== undefined && truncation.maxLength % multiple !== 0) {
      // transformers' _get_padding_truncation_strategies raises a ValueError here.
      throw rangeError(op, 'options.padToMultipleOf', `(${multiple}) must divide the truncation length (${truncation.maxLength}) when truncation and padding are both on, as transformers requires`);
    }
    if (padding === 'max_length') {
      const target = options.maxLength ?? this.modelMaxLength;
      if (target === null) throw rangeError(op, 'options.maxLength', "must be given with padding 'max_length' (no model_max_length below 2^31 came with tokenizer_config.json)");
      if (texts.length * Math.ceil(target / multiple) * multiple > MAX_PADDED) {
        throw rangeError(op, 'options.maxLength', `(${target}) pads ${texts.length} rows past ${MAX_PADDED} tokens, the most a padded batch holds`);
      }
    }

    const rows = texts.map((t, i) => this.encodeOne(t, pairs?.[i], options, op, truncation, [`texts[${i}]`, `options.textPairs[${i}]`]));
    let seq = rows.reduce((m, r) => Math.max(m, r.ids.length), 0);
    if (padding === 'max_length') {
      const target = Math.ceil(((options.maxLength ?? this.modelMaxLength) as number) / multiple) * multiple;
      const long = rows.findIndex((r) => r.ids.length > target);
      if (long >= 0) {
        // HF leaves such a row longer than the rest, which no [batch, seq] tensor can hold.
        throw rangeError(op, `texts[${long}]`, `gives ${(rows[long] as Encoded).ids.length} tokens, more than padding 'max_length' pads to (${target}); truncate it (options.truncation) or pad to the longest row`);
      }
      seq = target;
    }
    const longest = seq;
    // padding false: transformers turns padding off (no_padding), pad_to_multiple_of with it.
    if (padding !== false) seq = Math.ceil(seq / multiple) * multiple;
    if (seq > longest && rows.length * seq > MAX_PADDED) {
      throw rangeError(op, 'options.padToMultipleOf', `(${multiple}) pads ${rows.length} rows of ${longest} tokens past ${MAX_PADDED} tokens, the most a padded batch holds`);
    }
    if (padding === false) {
      const bad = rows.findIndex((r) => r.ids.length !== (rows[0] as Encoded).ids.length);
      if (bad >= 0) throw rangeError(op, 'texts', `give rows of ${(rows[0] as Encoded).ids.length} and ${(rows[bad] as Encoded).ids.length} tokens (texts[0], texts[${bad}]); with padding false they must be equal`);
    }
    if (rows.some((r) => r.ids.length < seq) && padId === null) {
      throw typeError(op, 'options.padTokenId', 'a token id: this tokenizer has no padding token (GPT-2: its eos id)', undefined);
    }
    const padToken = options.padTokenId !== undefined ? (this.idToToken(padId as number) as string) : (this.padToken ?? '');
    const batch = rows.length;
    const inputIds = new Int32Array(batch * seq);
    const attentionMask = new Int32Array(batch * seq);
    const tokenTypeIds = new Int32Array(batch * seq);
    // HF: an encoding without sequence ranges (one text, no post-processor to set them) says
    // sequence 0 for every position, padding included; otherwise padding has none.
    const paddingSequence = !this.hasPostProcessor && pairs === undefined ? 0 : null;
    const encodings = rows.map((row, b) => {
      const e = toEncoding(pad(row, seq, padId ?? 0, padToken, this.padTypeId, side, paddingSequence));
      inputIds.set(e.inputIds, b * seq);
      attentionMask.set(e.attentionMask, b * seq);
      tokenTypeIds.set(e.tokenTypeIds, b * seq);
      return e;
    });
    return { batch, seq, inputIds, attentionMask, tokenTypeIds, encodings };
  }

  decode(ids: ArrayLike<number>, options: DecodeOptions = {}): string {
    const op = `${OP}.decode`;
    if (typeof ids !== 'object' || ids === null || typeof ids.length !== 'number') throw typeError(op, 'ids', 'an array of token ids', ids);
    knownOptions(op, 'options', options, true, DECODE_KEYS);
    const skip = options.skipSpecialTokens ?? false;
    const cleanUp = options.cleanUpTokenizationSpaces ?? this.cleanUp;
    if (typeof skip !== 'boolean') throw typeError(op, 'options.skipSpecialTokens', 'a boolean', skip);
    if (typeof cleanUp !== 'boolean') throw typeError(op, 'options.cleanUpTokenizationSpaces', 'a boolean', cleanUp);
    const tokens: string[] = [];
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i] as number;
      if (!Number.isInteger(id) || id < 0 || id > UINT32_MAX) throw rangeError(op, `ids[${i}]`, `(${describe(id)}) is not a token id (an integer in 0..2^32 − 1)`);
      // HF's simple_id_to_token: an added token as decode shows it, else the model's token. An
      // id of neither is left out, as HF's decode leaves it out (filter_map): a model whose
      // embedding table is padded past the vocabulary can give one.
      const token = this.addedById.get(id)?.decoded ?? this.model.tokens.get(id);
      if (token === undefined) continue;
      if (skip && this.specialContents.has(token)) continue;
      tokens.push(token);
    }
    const text = this.decoder === null ? tokens.join(' ') : this.decoder(tokens).join('');
    return cleanUp ? cleanUpTokenizationSpaces(text) : text;
  }
}

interface CodePoints {
  /** [length + 1]: UTF-16 unit → index of the code point it belongs to (its end for n); null
   * when every code point is one unit (the maps are the identity). */
  codePointOf: Int32Array | null;
  /** [code points + 1]: code point index → its first unit; null with codePointOf. */
  unitOf: Int32Array | null;
}

const SURROGATE = /[\ud800-\udfff]/;

function codePointMaps(text: string): CodePoints {
  if (!SURROGATE.test(text)) return { codePointOf: null, unitOf: null };
  const codePointOf = new Int32Array(text.length + 1);
  const units: number[] = [];
  let k = 0;
  for (let i = 0; i < text.length; k++) {
    const width = (text.codePointAt(i) as number) > 0xffff ? 2 : 1;
    units.push(i);
    for (let u = 0; u < width; u++) codePointOf[i + u] = k;
    i += width;
  }
  codePointOf[text.length] = k;
  units.push(text.length);
  return { codePointOf, unitOf: Int32Array.from(units) };
}

const UTF8 = new TextEncoder();
function utf8Length(text: string): number {
  return UTF8.encode(text).length;
}

/** HF's step_decode_stream: `ids` holds the ids from the one before the last emitted text on;
 * `prefix` is their text, which each new, longer and complete decoding must extend. */
function decodeStream(tokenizer: Tokenizer, skipSpecialTokens: boolean): DecodeStream {
  let ids: number[] = [];
  let prefix = '';
  let prefixIndex = 0;
  return {
    step(id) {
      // An id outside the vocabulary adds no text, as in decode (HF's decode leaves it out).
      if (!Number.isInteger(id) || id < 0 || id > UINT32_MAX) {
        throw rangeError('tokenizer.decodeStream', 'step(id)', `(${describe(id)}) is not a token id (an integer in 0..2^32 − 1)`);
      }
      const decode = (list: number[]): string => tokenizer.decode(list, { skipSpecialTokens, cleanUpTokenizationSpaces: false });
      if (prefix === '' && ids.length > 0) {
        // Nothing emitted yet (special tokens skipped, empty tokens): start the window here.
        const start = decode(ids);
        if (!start.endsWith('\ufffd')) {
          prefix = start;
          prefixIndex = ids.length;
        }
      }
      ids.push(id);
      const text = decode(ids);
      // HF compares UTF-8 lengths.
      if (utf8Length(text) <= utf8Length(prefix) || text.endsWith('\ufffd')) return null;
      if (!text.startsWith(prefix)) {
        throw new Error(`tokenizer.decodeStream: decoding id ${id} changed the text before it (${JSON.stringify(prefix)} became ${JSON.stringify(text)})`);
      }
      const next = text.slice(prefix.length);
      const nextPrefixIndex = ids.length - prefixIndex;
      ids = ids.slice(prefixIndex);
      prefix = decode(ids);
      prefixIndex = nextPrefixIndex;
      return next;
    },
  };
}

/** HF's truncate_encodings, without overflow: room tokens in all, cut from `side`. */
function truncate(
  encodings: Encoded[], room: number, strategy: string, side: 'left' | 'right', op: string, args: readonly [string, string],
): Encoded[] {
  const lengths = encodings.map((e) => e.ids.length);
  const total = lengths.reduce((a, b) => a + b, 0);
  if (total <= room) return encodings;
  if (room === 0) return encodings.map(() => emptyEncoded());
  const cut = (e: Encoded, n: number): Encoded => {
    if (e.ids.length <= n) return e;
    const [a, b] = side === 'right' ? [0, n] : [e.ids.length - n, e.ids.length];
    return {
      ids: e.ids.slice(a, b), tokens: e.tokens.slice(a, b), typeIds: e.typeIds.slice(a, b), offsets: e.offsets.slice(a, b),
      specialTokensMask: e.specialTokensMask.slice(a, b), wordIds: e.wordIds.slice(a, b), sequenceIds: e.sequenceIds.slice(a, b),
    };
  };
  const [first, second] = encodings as [Encoded, Encoded | undefined];
  if (strategy === 'longest_first') {
    if (second === undefined) return [cut(first, room)];
    let n1 = first.ids.length;
    let n2 = second.ids.length;
    const swap = n1 > n2;
    if (swap) [n1, n2] = [n2, n1];
    n2 = n1 > room ? n1 : Math.max(n1, room - n1);
    if (n1 + n2 > room) {
      n1 = Math.floor(room / 2);
      n2 = n1 + (room % 2);
    }
    if (swap) [n1, n2] = [n2, n1];
    return [cut(first, n1), cut(second, n2)];
  }
  const target = strategy === 'only_first' ? 0 : 1;
  const e = encodings[target];
  const remove = total - room;
  if (e === undefined || e.ids.length <= remove) {
    throw rangeError(op, 'options.maxLength', `(${room} tokens after special tokens) cannot be reached by truncating only ${args[target]} (${e?.ids.length ?? 0} tokens, ${remove} too many)`);
  }
  return encodings.map((x, i) => (i === target ? cut(x, x.ids.length - remove) : x));
}

function pad(
  e: Encoded, seq: number, padId: number, padToken: string, padTypeId: number, side: 'left' | 'right', paddingSequence: number | null,
): Encoded & { mask: number[] } {
  const n = seq - e.ids.length;
  const mask = e.ids.map(() => 1);
  if (n <= 0) return { ...e, mask };
  const fill = <T>(v: T): T[] => new Array<T>(n).fill(v);
  const join = <T>(real: T[], padding: T[]): T[] => (side === 'right' ? real.concat(padding) : padding.concat(real));
  return {
    ids: join(e.ids, fill(padId)), tokens: join(e.tokens, fill(padToken)), typeIds: join(e.typeIds, fill(padTypeId)),
    offsets: join(e.offsets, Array.from({ length: n }, () => [0, 0] as [number, number])),
    specialTokensMask: join(e.specialTokensMask, fill(1)), wordIds: join(e.wordIds, fill<number | null>(null)),
    sequenceIds: join(e.sequenceIds, fill<number | null>(paddingSequence)), mask: join(mask, fill(0)),
  };
}

function toEncoding(e: Encoded & { mask?: number[] }): Encoding {
  return {
    // new Int32Array(array) copies a plain array directly; Int32Array.from goes through its iterator.
    inputIds: new Int32Array(e.ids),
    attentionMask: e.mask === undefined ? new Int32Array(e.ids.length).fill(1) : new Int32Array(e.mask),
    tokenTypeIds: new Int32Array(e.typeIds),
    specialTokensMask: new Int32Array(e.specialTokensMask),
    tokens: e.tokens,
    offsets: e.offsets,
    wordIds: e.wordIds,
    sequenceIds: e.sequenceIds,
  };
}

/**
 * A Hugging Face tokenizer from its `tokenizer.json` (and optionally `tokenizer_config.json`), run
 * as HF's Rust `tokenizers` runs it: the ids, tokens, type ids and offsets of `encode` equal
 * `AutoTokenizer`'s (fast) for the components implemented here: models BPE (GPT-2's byte-level),
 * WordPiece (BERT) and WordLevel; the BertNormalizer, Lowercase, StripAccents, NFC/NFD/NFKC/NFKD,
 * Strip, Replace (string) and Prepend normalizers; the ByteLevel, BertPreTokenizer, Whitespace,
 * WhitespaceSplit, Punctuation and Digits pre-tokenizers; the TemplateProcessing, BertProcessing,
 * RobertaProcessing and ByteLevel post-processors; and their Sequences.
 *
 * @param tokenizerJson tokenizer.json: its text, its bytes, or the parsed object.
 * @param config tokenizer_config.json (parsed), for pad_token, model_max_length, padding_side,
 *   truncation_side and clean_up_tokenization_spaces; or an object with just those you set.
 * @throws TypeError naming the field of tokenizer.json that is malformed, or the component that is
 *   not implemented (a Unigram model, a Metaspace pre-tokenizer, …), before anything is built.
 */
export function loadTokenizer(tokenizerJson: string | Uint8Array | object, config: TokenizerConfig = {}): Tokenizer {
  const op = 'loadTokenizer';
  let parsed: unknown = tokenizerJson;
  if (tokenizerJson instanceof Uint8Array) {
    // Browsers' TextDecoder refuses a view on shared memory: decode a copy of such bytes.
    const shared = Object.prototype.toString.call(tokenizerJson.buffer) === '[object SharedArrayBuffer]';
    parsed = new TextDecoder().decode(shared ? tokenizerJson.slice() : tokenizerJson);
  }
  if (typeof parsed === 'string') {
    try {
      parsed = JSON.parse(parsed);
    } catch (err) {
      throw new TypeError(`${op}: tokenizerJson is not valid JSON (${(err as Error).message})`);
    }
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw typeError(op, 'tokenizerJson', 'tokenizer.json as text, bytes or an object', tokenizerJson);
  }
  if (typeof config !== 'object' || config === null || Array.isArray(config)) throw typeError(op, 'config', 'an object (tokenizer_config.json)', config);
  checkNesting(parsed);
  return new HfTokenizer(parsed as Json, config);
}

/** JSON nesting HF's reader takes (serde_json's recursion limit). */
const MAX_NESTING = 128;

/** Refuses a file nested deeper than HF reads (or an object that contains itself), naming the
 * first value too deep, before the recursive readers of its components overflow the stack; and
 * an array with a hole (an object given as the file, never parsed JSON), which the readers'
 * forEach and map would skip as if the entry were not there. */
function checkNesting(root: object): void {
  const stack: [value: object, path: string, depth: number][] = [[root, '', 1]];
  while (stack.length > 0) {
    const [value, path, depth] = stack.pop()!;
    if (depth > MAX_NESTING) {
      throw fileError(path.replace(/^\./, ''), `is nested ${MAX_NESTING} levels deep (HF's reader stops there; or the object contains itself)`);
    }
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) {
        if (!(i in value)) throw fileError(`${path}[${i}]`.replace(/^\./, ''), 'is a hole in the array (JSON has none: give null or a value)');
        const v: unknown = value[i];
        if (typeof v === 'object' && v !== null) stack.push([v, `${path}[${i}]`, depth + 1]);
      }
    } else {
      for (const [k, v] of Object.entries(value)) if (typeof v === 'object' && v !== null) stack.push([v, `${path}.${k}`, depth + 1]);
    }
  }
}
