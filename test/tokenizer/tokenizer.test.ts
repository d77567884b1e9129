// loadTokenizer against Hugging Face's own Rust tokenizers (the `tokenizers` npm package, the
// library behind AutoTokenizer's fast tokenizers), on the same tokenizer.json: seeded random texts
// made of every kind of character the components treat apart, this repository's documentation
// line by line, pairs, truncation, padding and decoding. Ids, tokens, type ids, offsets, word ids,
// special-token masks and decoded text must all be equal. A failure prints the seed and the text.
//
// WASM_ATTENTION_SEED (default 0x70c3), WASM_ATTENTION_TOKENIZER_TEXTS (random texts per
// tokenizer, default 150) and WASM_ATTENTION_TOKENIZER_CALLS (malformed calls, default 400);
// `npm run test:fuzz:tokenizer` runs 3000 of each.
import { readFileSync } from 'node:fs';
import { AddedToken, Tokenizer as Reference } from 'tokenizers';
import { describe, expect, it } from 'vitest';
import { loadTokenizer, type Encoding, type Tokenizer } from '../../src/index.js';
import { badNumbers, classOf, JUNK, rand, setKey, unknownKey } from '../helpers/bad-inputs.js';
import { rng } from '../helpers/random.js';
import { bertTokenizerJson, gpt2TokenizerJson, randomText, tokenizerVariants } from '../helpers/tokenizers.mjs';

const SEED = Number(process.env.WASM_ATTENTION_SEED ?? 0x70c3);
const TEXTS = Number(process.env.WASM_ATTENTION_TOKENIZER_TEXTS ?? 150);
const VARIANTS = tokenizerVariants();

type RefEncoding = Awaited<ReturnType<Reference['encode']>>;

/** Code-point offsets (HF's) → UTF-16 offsets (ours): index k of the map is code point k's unit. */
function unitsOf(text: string): number[] {
  const map = [0];
  for (const ch of text) map.push((map[map.length - 1] as number) + ch.length);
  return map;
}

/** The first field where `ours` differs from HF's encoding, or null. */
function difference(ref: RefEncoding, ours: Encoding, text: string, pair: string | undefined): string | null {
  const sequenceIds = ref.getSequenceIds();
  const units = [unitsOf(text), unitsOf(pair ?? '')];
  const expected: Record<string, unknown> = {
    ids: ref.getIds(),
    tokens: ref.getTokens(),
    typeIds: ref.getTypeIds(),
    attentionMask: ref.getAttentionMask(),
    specialTokensMask: ref.getSpecialTokensMask(),
    offsets: ref.getOffsets().map(([a, b], i) => {
      const map = units[sequenceIds[i] === 1 ? 1 : 0] as number[];
      return [map[a as number], map[b as number]];
    }),
    wordIds: ref.getWordIds().map((w) => w ?? null),
    sequenceIds: sequenceIds.map((s) => s ?? null),
  };
  const actual: Record<string, unknown> = {
    ids: [...ours.inputIds], tokens: ours.tokens, typeIds: [...ours.tokenTypeIds], attentionMask: [...ours.attentionMask],
    specialTokensMask: [...ours.specialTokensMask], offsets: ours.offsets, wordIds: ours.wordIds, sequenceIds: ours.sequenceIds,
  };
  for (const key of Object.keys(expected)) {
    const e = JSON.stringify(expected[key]);
    const a = JSON.stringify(actual[key]);
    if (e !== a) return `${key}:\n  HF   ${e}\n  ours ${a}`;
  }
  return null;
}

async function compareOne(ref: Reference, ours: Tokenizer, text: string, pair: string | undefined, addSpecialTokens: boolean): Promise<string | null> {
  const r = await ref.encode(text, pair ?? null, { addSpecialTokens });
  const o = ours.encode(text, { textPair: pair, addSpecialTokens });
  const diff = difference(r, o, text, pair);
  if (diff !== null) return diff;
  for (const skip of [false, true]) {
    const expected = await ref.decode(r.getIds(), skip);
    const actual = ours.decode(o.inputIds, { skipSpecialTokens: skip });
    if (expected !== actual) return `decode(skipSpecialTokens ${skip}):\n  HF   ${JSON.stringify(expected)}\n  ours ${JSON.stringify(actual)}`;
  }
  return null;
}

/** A string as a JavaScript literal with every non-ASCII unit escaped, so a failure reproduces. */
function literal(text: string): string {
  return JSON.stringify(text).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function fail(name: string, seed: number, what: string, text: string, pair: string | undefined, diff: string): never {
  throw new Error(`${name}, seed ${seed}, ${what}: text ${literal(text)}${pair === undefined ? '' : `, pair ${literal(pair)}`}\n${diff}`);
}

/** This repository's documentation, line by line: prose, code, tables, arrows and × signs. */
function documentationLines(): string[] {
  const files = ['README.md', 'docs/DESIGN.md', 'models/char-gpt/README.md'];
  return files.flatMap((f) => readFileSync(new URL(`../../${f}`, import.meta.url), 'utf8').split('\n')).filter((l) => l.length > 0);
}

describe.each(Object.keys(VARIANTS))('loadTokenizer(%s) against HF tokenizers', (name) => {
  const json = JSON.stringify(VARIANTS[name]);
  const ref = Reference.fromString(json);
  const ours = loadTokenizer(json);

  it(`gives HF's encoding and decoding on ${TEXTS} seeded random texts, alone and in pairs`, async () => {
    const next = rng(SEED);
    for (let i = 0; i < TEXTS; i++) {
      const text = randomText(next, 24);
      const pair = next() < 0.4 ? randomText(next, 12) : undefined;
      const special = next() < 0.85;
      const diff = await compareOne(ref, ours, text, pair, special);
      if (diff !== null) fail(name, SEED, `text ${i}, addSpecialTokens ${special}`, text, pair, diff);
    }
  });

  it('gives HF\'s encoding of the documentation, line by line', async () => {
    const lines = documentationLines();
    expect(lines.length).toBeGreaterThan(500);
    for (const line of lines) {
      const diff = await compareOne(ref, ours, line, undefined, true);
      if (diff !== null) fail(name, SEED, 'documentation', line, undefined, diff);
    }
  });

  it('agrees on the vocabulary size and on every id ↔ token', () => {
    expect(ours.vocabSize).toBe(ref.getVocabSize(true));
    const vocab = ref.getVocab(true);
    for (const [token, id] of Object.entries(vocab)) {
      if (ours.tokenToId(token) !== id || ours.idToToken(id) !== token) throw new Error(`${name}: ${JSON.stringify(token)} ↔ ${id}: ours ${ours.tokenToId(token)} / ${JSON.stringify(ours.idToToken(id))}`);
    }
  });
});

describe('WordPiece on long words against HF tokenizers', () => {
  it('words of up to 3000 characters with a raised max_input_chars_per_word: HF\'s pieces (the candidates tried are capped at the longest vocabulary entry)', async () => {
    const json = bertTokenizerJson();
    json.model.max_input_chars_per_word = 5000;
    const text = JSON.stringify(json);
    const ref = Reference.fromString(text);
    const ours = loadTokenizer(text);
    const next = rng(SEED);
    const letters = 'abcdefghijklmnopqrstuvwxyzé';
    const parts = ['straw', 'berries', 'ing', 'tion', 'un', 'qu', 'x', 'zz', 'pre', 'ly'];
    for (const length of [20, 150, 700, 3000]) {
      let word = '';
      while (word.length < length) word += next() < 0.6 ? parts[Math.floor(next() * parts.length)] : letters[Math.floor(next() * letters.length)];
      const diff = await compareOne(ref, ours, word, undefined, true);
      if (diff !== null) fail('long words', SEED, `length ${word.length}`, word, undefined, diff);
    }
  });
});

describe('truncation and padding against HF tokenizers', () => {
  const cases: [string, number | undefined][] = [['bert-base-uncased', undefined], ['roberta-layout', 50259], ['gpt2', 50256], ['wordpiece-sequence', undefined], ['wordlevel', 0]];
  it.each(cases)('%s: seeded random batches, every strategy, side and padding', async (name, padTokenId) => {
    const json = JSON.stringify(VARIANTS[name]);
    const ours = loadTokenizer(json);
    const next = rng(SEED ^ 0x5eed);
    const strategies = ['longest_first', 'only_first', 'only_second'] as const;
    const rustStrategy = { longest_first: 'LongestFirst', only_first: 'OnlyFirst', only_second: 'OnlySecond' } as const;
    for (let round = 0; round < 40; round++) {
      const batch = 1 + Math.floor(next() * 4);
      const withPairs = next() < 0.5;
      const texts = Array.from({ length: batch }, () => randomText(next, 20));
      const pairs = withPairs ? Array.from({ length: batch }, () => randomText(next, 10)) : undefined;
      const truncate = next() < 0.7;
      const strategy = strategies[withPairs ? Math.floor(next() * 3) : 0 + Math.floor(next() * 2)] as (typeof strategies)[number];
      const maxLength = 2 + Math.floor(next() * 24);
      const truncationSide = next() < 0.5 ? 'left' : 'right';
      const paddingSide = next() < 0.5 ? 'left' : 'right';
      const padding = next() < 0.25 ? 'max_length' : 'longest';
      const padToMultipleOf = next() < 0.3 ? 8 : undefined;
      const addSpecialTokens = next() < 0.8;

      const ref = Reference.fromString(json);
      if (truncate) ref.setTruncation(maxLength, { strategy: rustStrategy[strategy] as never, direction: truncationSide as never });
      const padId = padTokenId ?? 0;
      ref.setPadding({
        direction: paddingSide as never, padId, padToken: ours.idToToken(padId) as string, padToMultipleOf,
        maxLength: padding === 'max_length' ? maxLength : undefined,
      });
      const what = `round ${round}: ${JSON.stringify({ texts, pairs, truncate, strategy, maxLength, truncationSide, paddingSide, padding, padToMultipleOf, addSpecialTokens })}`;
      let expected: RefEncoding[] | Error;
      try {
        if (pairs === undefined) {
          expected = await ref.encodeBatch(texts, { addSpecialTokens });
        } else {
          // The binding's encodeBatch takes no pairs: encode each pair, then pad as HF pads a batch.
          ref.disablePadding();
          const rows = await Promise.all(texts.map((t, i) => ref.encode(t, pairs[i] as string, { addSpecialTokens })));
          let length = Math.max(...rows.map((r) => r.getLength()), padding === 'max_length' ? maxLength : 0);
          if (padToMultipleOf !== undefined) length = Math.ceil(length / padToMultipleOf) * padToMultipleOf;
          for (const r of rows) r.pad(length, { direction: paddingSide as never, padId, padToken: ours.idToToken(padId) as string });
          expected = rows;
        }
      } catch (error) {
        expected = error as Error;
      }
      let actual: ReturnType<Tokenizer['encodeBatch']> | Error;
      try {
        actual = ours.encodeBatch(texts, {
          textPairs: pairs, truncation: truncate ? strategy : false, maxLength, truncationSide, paddingSide, padding,
          padToMultipleOf, padTokenId, addSpecialTokens,
        });
      } catch (error) {
        actual = error as Error;
      }
      const specials = addSpecialTokens ? ours.encode('', { textPair: pairs === undefined ? undefined : '' }).inputIds.length : 0;
      if (truncate && padToMultipleOf !== undefined && maxLength % padToMultipleOf !== 0) {
        // transformers raises "Truncation and padding are both activated but truncation length
        // is not a multiple of pad_to_multiple_of" before the Rust tokenizer runs; so must we.
        if (!(actual instanceof RangeError) || !/options\.padToMultipleOf \(8\) must divide the truncation length/.test(actual.message)) {
          throw new Error(`${name}, seed ${SEED}, ${what}: expected transformers' RangeError for a truncation length not a multiple of padToMultipleOf`);
        }
        continue;
      }
      if (truncate && maxLength < specials) {
        // HF's Rust wraps max_length − specials around and does not truncate; we refuse.
        if (!(actual instanceof RangeError) || !/must leave room for the \d+ special tokens/.test(actual.message)) {
          throw new Error(`${name}, seed ${SEED}, ${what}: expected a RangeError for a maxLength below the special tokens`);
        }
        continue;
      }
      if (!(expected instanceof Error) && padding === 'max_length' && expected.some((r) => r.getLength() > (padToMultipleOf === undefined ? maxLength : Math.ceil(maxLength / padToMultipleOf) * padToMultipleOf))) {
        // HF returns a ragged batch (a row longer than max_length stays longer); we refuse.
        if (!(actual instanceof RangeError) || !/more than padding 'max_length' pads to/.test(actual.message)) {
          throw new Error(`${name}, seed ${SEED}, ${what}: expected a RangeError for a row longer than max_length`);
        }
        continue;
      }
      if (expected instanceof Error || actual instanceof Error) {
        // HF refuses a truncation only_first / only_second cannot reach; so must we, by name.
        if (!(expected instanceof Error) || !(actual instanceof RangeError) || !/options\.maxLength/.test(actual.message)) {
          throw new Error(`${name}, seed ${SEED}, ${what}: HF ${expected instanceof Error ? expected.message : 'ok'}, ours ${actual instanceof Error ? actual.message : 'ok'}`);
        }
        continue;
      }
      expect(actual.batch).toBe(batch);
      actual.encodings.forEach((row, b) => {
        const diff = difference(expected[b] as RefEncoding, row, texts[b] as string, pairs?.[b]);
        if (diff !== null) throw new Error(`${name}, seed ${SEED}, ${what}, row ${b}:\n${diff}`);
        expect([...actual.inputIds.subarray(b * actual.seq, (b + 1) * actual.seq)]).toEqual([...row.inputIds]);
        expect([...actual.attentionMask.subarray(b * actual.seq, (b + 1) * actual.seq)]).toEqual([...row.attentionMask]);
        expect([...actual.tokenTypeIds.subarray(b * actual.seq, (b + 1) * actual.seq)]).toEqual([...row.tokenTypeIds]);
      });
    }
  });
});

describe('loadTokenizer: what HF users rely on', () => {
  const bert = loadTokenizer(bertTokenizerJson());
  const gpt2 = loadTokenizer(gpt2TokenizerJson());

  it('encodes bert-base-uncased ids that BERT users know', () => {
    const e = bert.encode('i like strawberries');
    expect([...e.inputIds]).toEqual([101, 1045, 2066, 13137, 20968, 102]);
    expect(e.tokens).toEqual(['[CLS]', 'i', 'like', 'straw', '##berries', '[SEP]']);
    expect(bert.padTokenId).toBe(0);
  });

  it("encodes GPT-2's ids for a known sentence and decodes them back", () => {
    const e = gpt2.encode('Hello world');
    expect([...e.inputIds]).toEqual([15496, 995]);
    expect(gpt2.decode(e.inputIds)).toBe('Hello world');
    expect(gpt2.padTokenId).toBeNull();
  });

  it('tokenizer.json as bytes, plain or in a SharedArrayBuffer (browsers\' TextDecoder refuses shared views)', () => {
    const json = gpt2TokenizerJson();
    const text = typeof json === 'string' ? json : JSON.stringify(json);
    const plain = new TextEncoder().encode(text);
    const shared = new Uint8Array(new SharedArrayBuffer(plain.length));
    shared.set(plain);
    const decode = TextDecoder.prototype.decode;
    const seen: string[] = [];
    TextDecoder.prototype.decode = function (this: TextDecoder, input?: AllowSharedBufferSource, options?: TextDecodeOptions) {
      seen.push(Object.prototype.toString.call(input && 'buffer' in input ? input.buffer : input));
      return decode.call(this, input, options);
    };
    let fromShared: Tokenizer;
    try {
      fromShared = loadTokenizer(shared);
    } finally {
      TextDecoder.prototype.decode = decode;
    }
    expect(seen).toEqual(['[object ArrayBuffer]']);
    expect([...fromShared.encode('Hello world').inputIds]).toEqual([15496, 995]);
    expect([...loadTokenizer(plain).encode('Hello world').inputIds]).toEqual([15496, 995]);
  });

  it('offsets slice the input string, surrogate pairs included', () => {
    const text = 'Voilà 😀 a café';
    const e = bert.encode(text);
    const pieces = e.offsets.map(([a, b]) => text.slice(a, b));
    expect(e.tokens).toEqual(['[CLS]', 'vo', '##ila', '[UNK]', 'a', 'cafe', '[SEP]']);
    expect(pieces).toEqual(['', 'Vo', 'ilà', '😀', 'a', 'café', '']);
  });

  it('pads on the left for GPT-2 generation, with the eos id and a 0 mask', () => {
    const b = gpt2.encodeBatch(['Hello world', 'Hi'], { paddingSide: 'left', padTokenId: 50256 });
    expect(b.seq).toBe(2);
    expect([...b.inputIds]).toEqual([15496, 995, 50256, 17250]);
    expect([...b.attentionMask]).toEqual([1, 1, 0, 1]);
  });

  it('takes tokenizer_config.json: pad_token, model_max_length, sides, clean-up', () => {
    const t = loadTokenizer(gpt2TokenizerJson(), {
      pad_token: { content: '<|endoftext|>' }, model_max_length: 4, padding_side: 'left', truncation_side: 'left',
      clean_up_tokenization_spaces: true,
    });
    expect(t.padTokenId).toBe(50256);
    expect(t.modelMaxLength).toBe(4);
    const b = t.encodeBatch(['one two three four five six', 'x'], { truncation: true });
    expect(b.seq).toBe(4);
    expect(b.encodings[0]?.tokens).toEqual(['Ġthree', 'Ġfour', 'Ġfive', 'Ġsix']);
    expect([...(b.encodings[1]?.attentionMask ?? [])]).toEqual([0, 0, 0, 1]);
    expect(t.decode(t.encode("it 's here .").inputIds)).toBe("it's here.");
    expect(t.decode(t.encode("it 's here .").inputIds, { cleanUpTokenizationSpaces: false })).toBe("it 's here .");
  });

  it("tokenizer.json's padding and truncation directions are the sides' defaults (transformers' setdefault), under tokenizer_config.json's", () => {
    const json = gpt2TokenizerJson();
    json.padding = { strategy: 'BatchLongest', direction: 'Left', pad_to_multiple_of: null, pad_id: 50256, pad_type_id: 0, pad_token: '<|endoftext|>' };
    json.truncation = { direction: 'Left', max_length: 3, strategy: 'LongestFirst', stride: 0 };
    const t = loadTokenizer(json);
    const b = t.encodeBatch(['Hello world', 'Hi']);
    expect([...b.inputIds]).toEqual([15496, 995, 50256, 17250]);
    expect([...b.attentionMask]).toEqual([1, 1, 0, 1]);
    expect(t.encode('one two three four', { truncation: true, maxLength: 2 }).tokens).toEqual(['Ġthree', 'Ġfour']);
    const overridden = loadTokenizer(json, { padding_side: 'right', truncation_side: 'right' });
    expect([...overridden.encodeBatch(['Hello world', 'Hi']).inputIds]).toEqual([15496, 995, 17250, 50256]);
    expect(overridden.encode('one two three four', { truncation: true, maxLength: 2 }).tokens).toEqual(['one', 'Ġtwo']);
    expect(() => loadTokenizer({ ...json, padding: { ...json.padding, direction: 'Up' } }))
      .toThrow(/^loadTokenizer: tokenizer\.json padding\.direction must be "Left" or "Right", got "Up"/);
  });

  it("decode's clean-up is transformers' list: \" do not\" stays (HF's Rust rule applies within a WordPiece token only)", () => {
    expect(gpt2.decode(gpt2.encode('I do not know , he said .').inputIds, { cleanUpTokenizationSpaces: true })).toBe('I do not know, he said.');
    expect(bert.decode(bert.encode('i do not know , he said .').inputIds, { skipSpecialTokens: true })).toBe('i do not know, he said.');
  });

  it('a single-sequence template that reads sequence B is refused naming it (HF aborts)', () => {
    const json = bertTokenizerJson();
    json.post_processor = {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'B', type_id: 0 } }],
      pair: [{ Sequence: { id: 'A', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }],
      special_tokens: { '[CLS]': { id: '[CLS]', ids: [101], tokens: ['[CLS]'] } },
    };
    expect(() => loadTokenizer(json)).toThrow(/^loadTokenizer: tokenizer\.json post_processor\.single\[1\]\.Sequence\.id must be "A" in the single-sequence template/);
  });

  it('tokenizer_config.json values of the wrong type or range are named; 1e30 (transformers\' "no limit") is none', () => {
    expect(loadTokenizer(gpt2TokenizerJson(), { model_max_length: 1e30 }).modelMaxLength).toBeNull();
    expect(loadTokenizer(gpt2TokenizerJson(), { model_max_length: null } as never).modelMaxLength).toBeNull();
    for (const [config, kind, message] of [
      [{ model_max_length: -5 }, RangeError, /tokenizer_config\.json model_max_length must be a positive integer, got -5/],
      [{ model_max_length: 2.5 }, RangeError, /model_max_length must be a positive integer, got 2\.5/],
      [{ model_max_length: 'big' }, TypeError, /model_max_length must be a positive integer, got "big"/],
      [{ clean_up_tokenization_spaces: 'yes' }, TypeError, /clean_up_tokenization_spaces must be a boolean, got "yes"/],
      [{ pad_token: 5 }, TypeError, /pad_token must be a string, \{content: string\} or null, got 5/],
    ] as [object, typeof TypeError, RegExp][]) {
      expect(() => loadTokenizer(gpt2TokenizerJson(), config as never), JSON.stringify(config)).toThrow(kind);
      expect(() => loadTokenizer(gpt2TokenizerJson(), config as never), JSON.stringify(config)).toThrow(message);
    }
  });
});

describe('loadTokenizer: bad input', () => {
  const gpt2 = gpt2TokenizerJson();
  const bad = (mutate: (j: Record<string, any>) => void): Record<string, unknown> => {
    const j = structuredClone(gpt2) as Record<string, any>;
    mutate(j);
    return j;
  };
  it.each([
    ['not JSON', '{', /tokenizerJson is not valid JSON/],
    ['an array', '[]', /tokenizerJson must be tokenizer\.json/],
    ['no model', bad((j) => delete j['model']), /tokenizer\.json model must be an object/],
    ['an unknown model type', bad((j) => { j['model'].type = 'Unigram'; }), /model\.type is "Unigram", which wasm-attention's tokenizer does not implement/],
    ['a merge of unknown tokens', bad((j) => { j['model'].merges[7] = 'zzqq xxyy'; }), /model\.merges\[7\] .*needs "zzqq"/],
    ['a merge of three tokens', bad((j) => { j['model'].merges[3] = 'a b c'; }), /model\.merges\[3\] must be two tokens/],
    ['a negative id', bad((j) => { j['model'].vocab['!'] = -1; }), /model\.vocab\["!"\] must be an integer id/],
    ['BPE dropout', bad((j) => { j['model'].dropout = 0.1; }), /model\.dropout is 0\.1/],
    ['an unknown normalizer', bad((j) => { j['normalizer'] = { type: 'Precompiled' }; }), /normalizer\.type is "Precompiled"/],
    ['an unknown pre-tokenizer in a Sequence', bad((j) => { j['pre_tokenizer'] = { type: 'Sequence', pretokenizers: [{ type: 'ByteLevel' }, { type: 'Metaspace' }] }; }), /pre_tokenizer\.pretokenizers\[1\]\.type is "Metaspace"/],
    ['a Regex replace', bad((j) => { j['normalizer'] = { type: 'Replace', pattern: { Regex: ' +' }, content: ' ' }; }), /normalizer\.pattern is a Regex pattern/],
    ['an added token without content', bad((j) => { j['added_tokens'][0].content = 5; }), /added_tokens\[0\]\.content must be a string/],
    ['a template token missing from its table', bad((j) => { j['post_processor'] = { type: 'TemplateProcessing', single: [{ SpecialToken: { id: '<s>', type_id: 0 } }], pair: [], special_tokens: {} }; }), /post_processor\.single\[0\]\.SpecialToken\.id \("<s>"\) is not in post_processor\.special_tokens/],
    ['an unknown decoder', bad((j) => { j['decoder'] = { type: 'CTC' }; }), /decoder\.type is "CTC"/],
    // an object given as the file can hold what JSON cannot (test/tokenizer/tokenizer-file-fuzz.test.ts
    // found both: a hole crashed the template reader, a bigint the merge message)
    ['a hole in an array', bad((j) => { j['model'].merges = ['Ġ t', , 'h e']; }), /model\.merges\[1\] is a hole in the array/], // eslint-disable-line no-sparse-arrays
    ['a merge holding a bigint', bad((j) => { j['model'].merges[2] = [2n, 'a']; }), /model\.merges\[2\] must be two tokens, got Array\(2\)/],
  ])('%s is a TypeError naming the field', (_, file, message) => {
    expect(() => loadTokenizer(file as never)).toThrow(TypeError);
    expect(() => loadTokenizer(file as never)).toThrow(message);
  });

  it('a pad_token outside the vocabulary is added as a special token with the next id, as transformers adds it', async () => {
    const t = loadTokenizer(gpt2, { pad_token: '<nope>' });
    const ref = Reference.fromString(typeof gpt2 === 'string' ? gpt2 : JSON.stringify(gpt2));
    ref.addSpecialTokens(['<nope>']);
    expect(t.padTokenId).toBe(ref.tokenToId('<nope>'));
    expect(t.vocabSize).toBe(ref.getVocabSize(true));
    const r = await ref.encode('a<nope> b', null, {});
    expect([...t.encode('a<nope> b').inputIds]).toEqual(r.getIds());
    expect(t.decode(t.encode('a<nope> b').inputIds, { skipSpecialTokens: true })).toBe(await ref.decode(r.getIds(), true));
    expect(() => loadTokenizer(gpt2, { pad_token: 7 as never })).toThrow(/pad_token must be a string/);
    // tokenizer.json's padding.pad_token is the pad_token when the config has none (transformers'
    // setdefault), added the same way; an empty one is named where it came from
    const file = { ...(typeof gpt2 === 'string' ? JSON.parse(gpt2) : gpt2), padding: { pad_token: '<nope>' } };
    expect(loadTokenizer(file).padTokenId).toBe(ref.tokenToId('<nope>'));
    expect(loadTokenizer(file, { pad_token: '<|endoftext|>' }).vocabSize).toBe(50257);
    expect(() => loadTokenizer({ ...file, padding: { pad_token: '' } })).toThrow(new TypeError('loadTokenizer: tokenizer.json padding.pad_token must be a token of the vocabulary, got ""'));
    expect(() => loadTokenizer(gpt2, { pad_token: '' })).toThrow(/tokenizer_config\.json pad_token must be a token of the vocabulary/);
  });

  it('bad calls are TypeErrors or RangeErrors naming the argument, and the tokenizer stays usable', () => {
    const t = loadTokenizer(gpt2);
    const before = [...t.encode('Hello world').inputIds];
    expect(() => t.encode(5 as never)).toThrow(/tokenizer\.encode: text must be a string/);
    expect(() => t.encode('x', { textPair: null as never })).toThrow(/options\.textPair must be a value/);
    expect(() => t.encode('x', { textPair: 3 as never })).toThrow(/options\.textPair must be a string/);
    expect(() => t.encode('x', { truncation: true })).toThrow(RangeError);
    expect(() => t.encode('x', { truncation: true })).toThrow(/options\.maxLength must be given with truncation/);
    expect(() => t.encode('x', { truncation: 'sideways' as never, maxLength: 3 })).toThrow(/options\.truncation must be/);
    expect(() => t.encode('x', { maxLength: -1 })).toThrow(/options\.maxLength must be an integer/);
    expect(() => t.encode('a b c d e', { textPair: 'f', truncation: 'only_second', maxLength: 2 })).toThrow(/truncating only options\.textPair \(/);
    expect(() => t.encodeBatch(['a', 'a b'], { textPairs: ['f', 'g h i j k l'], truncation: 'only_first', maxLength: 4, padTokenId: 0 }))
      .toThrow(/options\.maxLength \(\d+ tokens after special tokens\) cannot be reached by truncating only texts\[1\] \(/);
    expect(() => t.encodeBatch([])).toThrow(/texts must hold at least one string/);
    expect(() => t.encodeBatch(['a', 3 as never])).toThrow(/texts\[1\] must be a string/);
    // eslint-disable-next-line no-sparse-arrays
    expect(() => t.encodeBatch([, 'a'] as never)).toThrow(/texts\[0\] must be a string, got undefined/); // a hole
    // eslint-disable-next-line no-sparse-arrays
    expect(() => t.encodeBatch(['a', 'b'], { textPairs: [, 'x'] as never, padTokenId: 0 })).toThrow(/options\.textPairs\[0\] must be a string/);
    expect(() => t.encodeBatch(['a', 'b c'])).toThrow(/options\.padTokenId must be a token id: this tokenizer has no padding token/);
    expect(() => t.encodeBatch(['a', 'b c'], { padTokenId: 60000 })).toThrow(/options\.padTokenId must be a token id of the vocabulary/);
    expect(() => t.encodeBatch(['a', 'b c'], { padding: false })).toThrow(/with padding false they must be equal/);
    expect(() => t.encodeBatch(['a'], { textPairs: ['x', 'y'] })).toThrow(/options\.textPairs must hold one string per text/);
    expect(() => t.encodeBatch(['a'], { padToMultipleOf: 0 })).toThrow(/options\.padToMultipleOf must be an integer/);
    expect(() => t.encodeBatch(['a', 'b'], { padding: 'max_length', maxLength: 2 ** 31 - 1, padTokenId: 0 })).toThrow(/options\.maxLength \(2147483647\) pads 2 rows past 16777216 tokens/);
    expect(() => t.encodeBatch(Array(3).fill('a b'), { padToMultipleOf: 2 ** 23, padTokenId: 0 })).toThrow(/options\.padToMultipleOf \(8388608\) pads 3 rows/);
    expect(() => t.decode([15496, -1])).toThrow(/ids\[1\] \(-1\) is not a token id \(an integer in 0\.\.2\^32 − 1\)/);
    expect(() => t.decode([2 ** 32])).toThrow(RangeError);
    expect(() => t.decode([1.5])).toThrow(RangeError);
    expect(() => t.decode('abc' as never)).toThrow(/ids must be an array of token ids/);
    expect(() => t.encode('x', { add_special_tokens: false } as never)).toThrow(/options\.add_special_tokens is not a known key \(did you mean options\.addSpecialTokens\?\)/);
    expect(() => t.encodeBatch(['x'], { text_pair: ['y'] } as never)).toThrow(/options\.text_pair is not a known key \(did you mean options\.textPairs\?\)/);
    expect(() => t.encodeBatch(['x'], { return_tensors: 'pt' } as never)).toThrow(RangeError);
    expect(() => t.decode([1], { skip_special_tokens: true } as never)).toThrow(/did you mean options\.skipSpecialTokens/);
    expect(() => t.decode([1], null as never)).toThrow(/options must be an object/);
    expect([...t.encode('Hello world').inputIds]).toEqual(before);
  });
});

describe('tokenizer.decodeStream', () => {
  it.each(['gpt2', 'roberta-layout', 'bert-base-uncased', 'wordlevel'])('%s: the streamed pieces make up decode() of seeded random id sequences', (name) => {
    const t = loadTokenizer(VARIANTS[name] as never);
    const next = rng(SEED ^ 0xdec0);
    for (let round = 0; round < 200; round++) {
      // Ids from encoding random text (real words, whole characters) mixed with random ids (byte
      // tokens that split characters, special tokens).
      const ids = [...t.encode(randomText(next, 16)).inputIds];
      for (let i = Math.floor(next() * 6); i > 0; i--) ids.splice(Math.floor(next() * (ids.length + 1)), 0, Math.floor(next() * t.vocabSize));
      const skip = next() < 0.5;
      const stream = t.decodeStream({ skipSpecialTokens: skip });
      let text = '';
      let whole = '';
      for (let i = 0; i < ids.length; i++) {
        const piece = stream.step(ids[i] as number);
        if (piece === null) continue;
        text += piece;
        // Each emitted piece completes the text of the ids so far (without clean-up, as HF's stream).
        whole = t.decode(ids.slice(0, i + 1), { skipSpecialTokens: skip, cleanUpTokenizationSpaces: false });
        if (text !== whole) throw new Error(`${name}, seed ${SEED}, round ${round}, ids ${JSON.stringify(ids.slice(0, i + 1))}: streamed ${JSON.stringify(text)}, decode ${JSON.stringify(whole)}`);
      }
    }
  });

  it('holds back a character split across byte-level tokens until it is whole', () => {
    const t = loadTokenizer(gpt2TokenizerJson());
    const ids = [...t.encode('Hi 😀!').inputIds];
    const stream = t.decodeStream();
    const pieces = ids.map((id) => stream.step(id));
    expect(pieces.join('')).toBe('Hi 😀!');
    expect(pieces).toContain(null);
    expect(() => stream.step(-1)).toThrow(/step\(id\) \(-1\) is not a token id/);
    expect(stream.step(0)).toBe('!');
  });
});

describe('loadTokenizer: seeded bad-input fuzz', () => {
  // Each call is a valid call with one option replaced by a value of the wrong type or range (or
  // an unknown key added): it must be a TypeError or RangeError that names that option, or, when
  // the value happens to be valid, succeed; and the tokenizer's answers are unchanged after.
  const CALLS = Number(process.env.WASM_ATTENTION_TOKENIZER_CALLS ?? 400);
  const t = loadTokenizer(VARIANTS['bert-base-uncased'] as never);
  const control = (): string => JSON.stringify([[...t.encode('Hello, world!', { textPair: 'x' }).inputIds], t.decode([101, 7592, 102])]);
  const before = control();
  const bool = (v: unknown): boolean => v === undefined || typeof v === 'boolean';
  const int = (lo: number) => (v: unknown): boolean => v === undefined || (Number.isInteger(v) && (v as number) >= lo && (v as number) <= 0x7fffffff);
  const oneOf = (...xs: unknown[]) => (v: unknown): boolean => v === undefined || xs.includes(v);
  const VALID: Record<string, (v: unknown) => boolean> = {
    textPair: (v) => v === undefined || typeof v === 'string',
    textPairs: (v) => v === undefined || (Array.isArray(v) && v.length === 2 && v.every((x) => typeof x === 'string')),
    addSpecialTokens: bool, skipSpecialTokens: bool, cleanUpTokenizationSpaces: bool,
    truncation: oneOf(true, false, 'longest_first', 'only_first', 'only_second'),
    maxLength: int(0), padToMultipleOf: (v) => v === undefined || (Number.isInteger(v) && (v as number) >= 1 && (v as number) <= 2 ** 24),
    truncationSide: oneOf('left', 'right'), paddingSide: oneOf('left', 'right'),
    padding: oneOf(true, false, 'longest', 'max_length'),
    padTokenId: (v) => v === undefined || (Number.isInteger(v) && (v as number) >= 0 && (v as number) < 30522),
  };
  const BAD: readonly [string, () => unknown][] = [
    ...JUNK,
    ...badNumbers(16).map(([n, v]): [string, () => unknown] => [n, () => v]),
    ['"left"', () => 'left'], ['"LEFT"', () => 'LEFT'], ['"longest"', () => 'longest'], ['"max_length"', () => 'max_length'],
    ['"only_second"', () => 'only_second'], ['["a", "b"]', () => ['a', 'b']], ['["a"]', () => ['a']], ['[1, 2]', () => [1, 2]],
  ];
  const CALL_KINDS = {
    encode: { keys: ['textPair', 'addSpecialTokens', 'truncation', 'maxLength', 'truncationSide'],
      base: () => ({ textPair: 'a pair', maxLength: 16 }), run: (o: object) => t.encode('Some text, to encode.', o) },
    encodeBatch: { keys: ['textPairs', 'addSpecialTokens', 'truncation', 'maxLength', 'truncationSide', 'padding', 'paddingSide', 'padToMultipleOf', 'padTokenId'],
      base: () => ({ maxLength: 16, padTokenId: 0 }), run: (o: object) => t.encodeBatch(['one text', 'and another one'], o) },
    decode: { keys: ['skipSpecialTokens', 'cleanUpTokenizationSpaces'], base: () => ({}), run: (o: object) => t.decode([101, 2023, 1012, 102], o) },
  } as const;

  it(`${CALLS} mutated calls to encode, encodeBatch and decode`, () => {
    const r = rand(SEED ^ 0xbad);
    for (let i = 0; i < CALLS; i++) {
      const name = r.pick(Object.keys(CALL_KINDS)) as keyof typeof CALL_KINDS;
      const kind = CALL_KINDS[name];
      const options: Record<string, unknown> = kind.base();
      let key: string;
      let valid: boolean;
      let shown: string;
      if (r.chance(0.15)) {
        key = unknownKey(r);
        if ((kind.keys as readonly string[]).includes(key)) continue;
        setKey(options, key, 1);
        valid = false;
        shown = `unknown key ${JSON.stringify(key)}`;
      } else {
        key = r.pick(kind.keys);
        const [label, make] = r.pick(BAD);
        options[key] = make();
        valid = (VALID[key] as (v: unknown) => boolean)(options[key]);
        shown = `${key} = ${label}`;
      }
      const what = `seed ${SEED}, call ${i}: ${name} with ${shown}`;
      let error: unknown = null;
      try {
        kind.run(options);
      } catch (e) {
        error = e;
      }
      if (valid) {
        // A valid value may still be refused for what it means (only_second without a pair, …),
        // by a RangeError naming an option.
        if (error !== null && !(error instanceof RangeError && /options\.\w+|texts\[/.test((error as Error).message))) {
          throw new Error(`${what}: a valid value failed with ${classOf(error)}: ${(error as Error).message}`);
        }
      } else {
        const named = error instanceof Error && (error.message.includes(`options.${key}`) || error.message.includes(`options[${JSON.stringify(key)}]`));
        if (!(error instanceof TypeError || error instanceof RangeError) || !named) {
          throw new Error(`${what}: expected a TypeError or RangeError naming options.${key}, got ${classOf(error)}${error instanceof Error ? `: ${error.message}` : ''}`);
        }
      }
    }
    expect(control()).toBe(before);
  });
});

describe('loadTokenizer: corners a review found, against HF tokenizers', () => {
  const added = (id: number, content: string, more: object = {}) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: false, ...more });
  const file = (model: object, extra: object = {}) => ({ version: '1.0', truncation: null, padding: null, added_tokens: [], normalizer: null, pre_tokenizer: null, post_processor: null, decoder: null, model, ...extra });
  const bpe = (m: object) => ({ type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, ignore_merges: false, merges: [], ...m });
  const wordLevel = { type: 'WordLevel', unk_token: '<unk>', vocab: { '<unk>': 0, a: 1, b: 2 } };
  it.each([
    ['BPE without an unk token: ranges after a dropped character', file(bpe({ vocab: { a: 0, b: 1, ab: 2 }, merges: ['a b'] })), ['xab', 'axbxx', 'x', 'éab', 'éa b', '😀a😀b', 'aéé']],
    ['BPE: unknown characters fused into one unk, or not', file(bpe({ vocab: { '<unk>': 0, a: 1 }, unk_token: '<unk>', fuse_unk: true })), ['xxaxx', 'ax', 'xya']],
    ['BPE: unknown characters, unfused', file(bpe({ vocab: { '<unk>': 0, a: 1 }, unk_token: '<unk>' })), ['xxaxx', 'ax']],
    ['an added token listed twice: the last flags, special if any', file(wordLevel, { pre_tokenizer: { type: 'WhitespaceSplit' }, added_tokens: [added(3, 'X'), added(3, 'X', { lstrip: true, rstrip: true, special: true })] }), ['a X  b', 'X', ' X']],
    ['a normalized added token decodes to its normalized form', file(wordLevel, { normalizer: { type: 'Lowercase' }, pre_tokenizer: { type: 'WhitespaceSplit' }, added_tokens: [added(3, 'SEP', { normalized: true, special: true })] }), ['a SEP b', 'aSEPb sep']],
    ['an rstrip token, then a token that starts with a space', file(wordLevel, { added_tokens: [added(3, '<x>', { rstrip: true }), added(4, ' y')] }), ['<x> y', '<x>   y a', 'a<x> y<x>']],
    ['an rstrip token, then an lstrip one in its spaces', file(wordLevel, { added_tokens: [added(3, '<x>', { rstrip: true }), added(4, ' y', { lstrip: true })] }), ['<x>  y', '<x> y', 'a <x>   ya']],
    ['2000 added tokens sharing a prefix, near misses between them (the matcher is a trie)', file(wordLevel, {
      pre_tokenizer: { type: 'WhitespaceSplit' },
      added_tokens: [...Array.from({ length: 2000 }, (_, i) => added(3 + i, `<|r_${i}|>`)), added(2003, '<|'), added(2004, '<|r_1')],
    }), ['<|r_12|><|r_1|>a<|r_', '<|<|r_199|>b<|r_1999|<|r_19|>', '<|r_1 <|r_10|>|> a', '<|'.repeat(300), '<|r_'.repeat(50) + '<|r_7|>']],
    ['a duplicate added token, normalized first, then not', file(wordLevel, { normalizer: { type: 'Lowercase' }, pre_tokenizer: { type: 'WhitespaceSplit' }, added_tokens: [added(3, 'SEP', { normalized: true }), added(3, 'SEP', { normalized: false })] }), ['a SEP sep b', 'SEP']],
  ])('%s', async (_, json, texts) => {
    const text = JSON.stringify(json);
    const ref = Reference.fromString(text);
    const ours = loadTokenizer(text);
    for (const t of texts) {
      for (const special of [true, false]) {
        const diff = await compareOne(ref, ours, t, undefined, special);
        if (diff !== null) fail(_, SEED, 'corner', t, undefined, diff);
      }
    }
  });

  it('decode leaves out ids outside the vocabulary, as HF\'s decode does (a model\'s padded embedding table can give them)', async () => {
    const ref = Reference.fromString(JSON.stringify(VARIANTS.gpt2));
    const t = loadTokenizer(VARIANTS.gpt2 as never);
    for (const ids of [[15496, 60000, 995], [50257], [50256, 2 ** 32 - 1, 13]]) {
      for (const skip of [false, true]) expect(t.decode(ids, { skipSpecialTokens: skip })).toBe(await ref.decode(ids, skip));
    }
    const stream = t.decodeStream();
    expect([15496, 60000, 995].map((id) => stream.step(id))).toEqual(['Hello', null, ' world']);
  });

  it('a template that reads $A twice: only the last copy has sequence ids, as HF keeps one range per sequence', async () => {
    const json = file(wordLevel, { pre_tokenizer: { type: 'WhitespaceSplit' }, post_processor: {
      type: 'TemplateProcessing', single: [{ Sequence: { id: 'A', type_id: 0 } }, { Sequence: { id: 'A', type_id: 1 } }],
      pair: [{ Sequence: { id: 'A', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }, { Sequence: { id: 'A', type_id: 0 } }], special_tokens: {},
    } });
    const text = JSON.stringify(json);
    const ref = Reference.fromString(text), ours = loadTokenizer(text);
    for (const [a, b] of [['a b', undefined], ['a b a', 'b']] as const) {
      const diff = await compareOne(ref, ours, a, b, true);
      if (diff !== null) fail('$A twice', SEED, 'template', a, b, diff);
    }
  });

  it('padding\'s type id: tokenizer_config.json\'s pad_token_type_id, else tokenizer.json\'s padding.pad_type_id, else 0', async () => {
    const json = { ...(VARIANTS['bert-base-uncased'] as object), padding: { strategy: 'BatchLongest', direction: 'Right', pad_to_multiple_of: null, pad_id: 0, pad_type_id: 3, pad_token: '[PAD]' } };
    const ref = Reference.fromString(JSON.stringify(json));
    ref.setPadding({ padId: 0, padTypeId: 3, padToken: '[PAD]' });
    const want = await ref.encodeBatch(['a b c d', 'a']);
    const got = loadTokenizer(json as never).encodeBatch(['a b c d', 'a']);
    expect(got.encodings.map((e) => [...e.tokenTypeIds])).toEqual(want.map((e) => e.getTypeIds()));
    expect([...got.tokenTypeIds.subarray(got.seq)].slice(-1)).toEqual([3]);
    expect([...loadTokenizer(json as never, { pad_token_type_id: 5 }).encodeBatch(['a b', 'a']).tokenTypeIds].slice(-1)).toEqual([5]);
    expect([...loadTokenizer(VARIANTS['bert-base-uncased'] as never).encodeBatch(['a b', 'a']).tokenTypeIds].slice(-1)).toEqual([0]);
    expect(() => loadTokenizer(json as never, { pad_token_type_id: -1 })).toThrow(/tokenizer_config\.json pad_token_type_id must be an integer ≥ 0, got -1/);
  });

  it('padToMultipleOf with padding false pads nothing, as transformers turns padding off; with truncation it must divide the length', () => {
    const t = loadTokenizer(VARIANTS.gpt2 as never);
    const r = t.encodeBatch(['Hello world', 'Hi there'], { padding: false, padToMultipleOf: 8 });
    expect([r.batch, r.seq]).toEqual([2, 2]);
    expect(() => t.encodeBatch(['Hello world', 'Hi'], { truncation: true, maxLength: 12, padToMultipleOf: 8, padTokenId: 0 }))
      .toThrow(new RangeError('tokenizer.encodeBatch: options.padToMultipleOf (8) must divide the truncation length (12) when truncation and padding are both on, as transformers requires'));
    expect(t.encodeBatch(['Hello world', 'Hi'], { truncation: true, maxLength: 16, padToMultipleOf: 8, padTokenId: 0 }).seq).toBe(8);
    expect(t.encodeBatch(['Hello', 'Hi'], { truncation: true, maxLength: 12, padToMultipleOf: 8, padding: false }).seq).toBe(1);
  });

  it('tokenizer_config.json\'s split_special_tokens: special tokens in the text are encoded as text (HF\'s encode_special_tokens)', async () => {
    const json = VARIANTS.gpt2 as { added_tokens: { content: string }[] };
    // HF with encode_special_tokens passes over the match: the text's ids are those of a file
    // without the token.
    const without = Reference.fromString(JSON.stringify({ ...json, added_tokens: json.added_tokens.filter((a) => a.content !== '<|endoftext|>') }));
    const t = loadTokenizer(json as never, { split_special_tokens: true });
    for (const text of ['<|endoftext|>', 'a<|endoftext|> b', '<|endoftext|><|endoftext|>']) {
      expect([...t.encode(text).inputIds], text).toEqual((await without.encode(text, null, {})).getIds());
    }
    expect([...loadTokenizer(json as never).encode('a<|endoftext|>').inputIds]).toEqual([64, 50256]);
    expect(t.decode([64, 50256], { skipSpecialTokens: true })).toBe('a'); // still special when decoding
    expect(() => loadTokenizer(json as never, { split_special_tokens: 'yes' as never })).toThrow(/split_special_tokens must be a boolean/);
  });

  it('tokenizer_config.json\'s special tokens that added_tokens lacks are added as special tokens, as transformers adds them', async () => {
    const bert = VARIANTS['bert-base-uncased'] as { added_tokens: unknown[] };
    const bare = { ...bert, added_tokens: [] };
    const config = { cls_token: '[CLS]', sep_token: '[SEP]', mask_token: { content: '[MASK]', lstrip: true, normalized: false, rstrip: false, single_word: false }, additional_special_tokens: ['<extra>'] };
    const ref = Reference.fromString(JSON.stringify(bare));
    // transformers: AddedToken('[CLS]', special=True) etc. (strings: not normalized; objects: their flags)
    ref.addAddedTokens([
      new AddedToken('[CLS]', true, { normalized: false }), new AddedToken('[SEP]', true, { normalized: false }),
      new AddedToken('[MASK]', true, { normalized: false, leftStrip: true }), new AddedToken('<extra>', true, { normalized: false }),
    ]);
    const ours = loadTokenizer(bare as never, config);
    expect(ours.vocabSize).toBe(ref.getVocabSize(true));
    for (const text of ['a [MASK] b', 'a   [MASK][SEP]<extra> [cls]', '[MASK]']) {
      for (const special of [true, false]) {
        const diff = await compareOne(ref, ours, text, undefined, special);
        if (diff !== null) fail('config special tokens', SEED, 'added', text, undefined, diff);
      }
    }
    expect(() => loadTokenizer(bare as never, { mask_token: 3 as never })).toThrow(/tokenizer_config\.json mask_token must be a string, \{content: string\} or null/);
    expect(() => loadTokenizer(bare as never, { additional_special_tokens: '<x>' as never })).toThrow(/additional_special_tokens must be an array/);
  });

  it('encodes 195 000 tokens (no argument-stack overflow) as HF does', async () => {
    const text = 'a, '.repeat(65000);
    const json = JSON.stringify(VARIANTS['gpt2']);
    const ours = loadTokenizer(json).encode(text);
    const ref = await Reference.fromString(json).encode(text, null);
    expect(ours.inputIds.length).toBe(ref.getIds().length);
    expect([...ours.inputIds]).toEqual(ref.getIds());
  });

  it('refuses a file nested deeper than HF reads, naming the path, instead of overflowing the stack', async () => {
    // As text (JSON.stringify of 3000 levels would overflow the stack itself).
    const nest = (levels: number, extra: object = {}): string => JSON.stringify(file(wordLevel, { normalizer: 'N', ...extra }))
      .replace('"N"', '{"type":"Sequence","normalizers":['.repeat(levels) + '{"type":"Lowercase"}' + ']}'.repeat(levels));
    const shallow = nest(20, { pre_tokenizer: { type: 'WhitespaceSplit' } });
    expect([...loadTokenizer(shallow).encode('A b').inputIds]).toEqual((await Reference.fromString(shallow).encode('A b', null)).getIds());
    for (const levels of [100, 3000]) {
      const deep = nest(levels);
      expect(() => Reference.fromString(deep)).toThrow(); // HF refuses it too
      expect(() => loadTokenizer(deep)).toThrow(TypeError);
      expect(() => loadTokenizer(deep)).toThrow(/tokenizer\.json normalizer(\.normalizers(\[0\])?)+ is nested 128 levels deep/);
    }
    const cyclic: Record<string, unknown> = file(wordLevel, { normalizer: { type: 'Sequence', normalizers: [] } }) as never;
    ((cyclic.normalizer as { normalizers: unknown[] }).normalizers).push(cyclic.normalizer);
    expect(() => loadTokenizer(cyclic)).toThrow(/is nested 128 levels deep \(HF's reader stops there; or the object contains itself\)/);
  });

  it('refuses what it cannot run exactly, or what HF would reject, naming the field', () => {
    const bad = (json: object, message: RegExp) => expect(() => loadTokenizer(json as never)).toThrow(message);
    bad(file(bpe({ vocab: { a: 0 }, byte_fallback: true })), /model\.byte_fallback is true, which wasm-attention's tokenizer does not implement/);
    bad(file(bpe({ vocab: { a: 0, b: 2 ** 21 } })), /model\.vocab\["b"\] is 2097152, above the 2097151 this BPE supports/);
    bad(file(wordLevel, { normalizer: { type: 'Replace', pattern: { String: '' }, content: '_' } }), /normalizer\.pattern\.String is empty/);
    bad(file(wordLevel, { decoder: { type: 'Strip', content: 'ab', start: 1, stop: 0 } }), /decoder\.content must be one character/);
    bad(file(wordLevel, { decoder: { type: 'Strip', content: 'a', start: 1.5, stop: 0 } }), /decoder\.start must be an integer ≥ 0/);
    bad(file({ type: 'WordPiece', unk_token: '<unk>', vocab: { '<unk>': 0 }, max_input_chars_per_word: -1 }), /model\.max_input_chars_per_word must be an integer ≥ 0/);
    bad(file(wordLevel, { post_processor: { type: 'BertProcessing', sep: ['[SEP]', 99], cls: ['<unk>', 0] } }), /post_processor\.sep gives id 99, which is neither in the vocabulary nor an added token/);
    // HF's Rust aborts the process on an lstrip token inside an rstrip one's spaces; we refuse.
    const overlap = loadTokenizer(file(wordLevel, { added_tokens: [added(3, '<x>', { rstrip: true }), added(4, ' ', { lstrip: true })] }) as never);
    expect(() => overlap.encode('<x>   a')).toThrow(/tokenizer\.encode: text has an lstrip added token inside the spaces an rstrip one takes/);
    expect(() => overlap.encode('a', { textPair: '<x>   a' })).toThrow(/options\.textPair has an lstrip added token/);
    expect(() => overlap.encodeBatch(['a', '<x>   a'], { padTokenId: 0 })).toThrow(/tokenizer\.encodeBatch: texts\[1\] has an lstrip added token/);
    // An unk token missing from the vocabulary loads, as in HF, and fails when a word needs it.
    const t = loadTokenizer(file({ type: 'WordLevel', unk_token: '<nope>', vocab: { a: 0 } }, { pre_tokenizer: { type: 'WhitespaceSplit' } }) as never);
    expect([...t.encode('a a').inputIds]).toEqual([0, 0]);
    expect(() => t.encode('a b')).toThrow(/model\.unk_token \("<nope>"\) is not in model\.vocab, and the text has a word that needs it/);
  });
});
