// A seeded fuzz of loadTokenizer on damaged tokenizer.json objects: the test tokenizers (GPT-2's
// BPE alone, in RoBERTa's layout and behind a template; BERT's WordPiece in three layouts; a
// WordLevel; their vocabularies cut to their first 1,500–2,000 ids so that a load takes
// milliseconds) with one node anywhere in the file replaced
// (a value of another type, a bigint, a symbol, a function, a Date, a Map, an object that refers to
// itself, a bad number), dropped, or given an unknown key. loadTokenizer must either build a
// tokenizer, whose encode and decode then run or fail naming the file's key, or throw a TypeError
// or RangeError starting `loadTokenizer: `: never another error, nor a bare TypeError from deep
// inside ("Cannot read properties of undefined", "Do not know how to serialize a BigInt").
//
// WASM_ATTENTION_SEED (default 0x70c5), WASM_ATTENTION_TOKENIZER_FILES (default 400; `npm run
// test:fuzz:tokenizer`: 4000), WASM_ATTENTION_FILE=i replays file i alone.
import { describe, expect, it } from 'vitest';
import { loadTokenizer } from '../../dist/index.js';
import { callSeed, classOf, rand, type Rand } from '../helpers/bad-inputs.js';
import { wholeNumber } from '../helpers/differential.js';
import { tokenizerVariants } from '../helpers/tokenizers.mjs';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const env = process.env;
const SEED = env.WASM_ATTENTION_SEED === undefined ? 0x70c5 : wholeNumber('WASM_ATTENTION_SEED', env.WASM_ATTENTION_SEED);
const FILES = env.WASM_ATTENTION_TOKENIZER_FILES === undefined ? 400
  : wholeNumber('WASM_ATTENTION_TOKENIZER_FILES', env.WASM_ATTENTION_TOKENIZER_FILES);
const ONLY = env.WASM_ATTENTION_FILE === undefined ? undefined : wholeNumber('WASM_ATTENTION_FILE', env.WASM_ATTENTION_FILE);

/** A variant with its vocabulary cut: BPE to the byte tokens and the first 1,500 merges (GPT-2
 * numbers each merge's result 256 + its rank), the others to ids below 2,000. Added tokens outside
 * the cut vocabulary take the ids after it, as HF numbers them at load, and the post-processor's
 * references follow them. */
function small(j: Json): Json {
  const m = j.model;
  const vocab = (keep: (id: number) => boolean) => Object.fromEntries(Object.entries(m.vocab as Record<string, number>).filter(([, id]) => keep(id)));
  const out: Json = m.type === 'BPE'
    ? { ...j, model: { ...m, merges: m.merges.slice(0, 1500), vocab: vocab((id) => id < 256 + 1500) } }
    : { ...j, model: { ...m, vocab: vocab((id) => id < 2000) } };
  const size = Object.keys(out.model.vocab).length;
  const remap = new Map<number, number>();
  out.added_tokens = ((j.added_tokens ?? []) as Json[]).map((t) => {
    if (t.content in out.model.vocab) return t;
    const id = size + remap.size;
    remap.set(t.id, id);
    return { ...t, id };
  });
  out.post_processor = JSON.parse(JSON.stringify(j.post_processor ?? null),
    (_, v: unknown) => (typeof v === 'number' && remap.has(v) ? remap.get(v) : v));
  return out;
}

const all = tokenizerVariants();
const SOURCES: [string, Json][] = ['gpt2', 'roberta-layout', 'gpt2-template', 'bert-base-uncased', 'bert-strip-accents',
  'wordpiece-sequence', 'wordlevel'].map((name) => [name, small(all[name])]);
const TEXT = 'Hello world, naïve café 123 [MASK] new york <|endoftext|> 東京 😀';

/** Values no tokenizer.json holds, or holds elsewhere. */
function junk(r: Rand): [string, unknown] {
  const cyclic: Json = { type: 'Sequence' };
  cyclic.self = cyclic;
  cyclic.normalizers = [cyclic];
  return r.pick<[string, unknown]>([
    ['"x"', 'x'], ['""', ''], ['0', 0], ['-1', -1], ['1.5', 1.5], ['NaN', NaN], ['2^40', 2 ** 40], ['true', true],
    ['false', false], ['null', null], ['undefined', undefined], ['{}', {}], ['[]', []], ['[1]', [1]], ['["a", "b"]', ['a', 'b']],
    ['2n', 2n], ['Symbol()', Symbol('x')], ['a function', () => 1], ['a Date', new Date(0)], ['a Map', new Map()],
    ['an object that refers to itself', cyclic], ['{ type: "Sequence" }', { type: 'Sequence' }], ['{ type: 2n }', { type: 2n }],
    ['[2n, "a"]', [2n, 'a']], ['["a", Symbol()]', ['a', Symbol('b')]],
  ]);
}

/** Every node of `value` (objects and arrays, a few entries of a vocabulary or merge list), with
 * how to replace or drop it. */
function slots(root: Json, r: Rand): { path: string; parent: Json; key: string }[] {
  const out: { path: string; parent: Json; key: string }[] = [];
  const visit = (value: unknown, path: string, depth: number) => {
    if (typeof value !== 'object' || value === null || depth > 6) return;
    let keys = Object.keys(value);
    if (/\.(vocab|merges)$/.test(path)) keys = Array.from({ length: 4 }, () => r.pick(keys));
    for (const key of keys) {
      const child = `${path}${Array.isArray(value) ? `[${key}]` : `.${key}`}`;
      out.push({ path: child, parent: value as Json, key });
      visit((value as Json)[key], child, depth + 1);
    }
  };
  visit(root, 'tokenizer.json', 0);
  return out;
}

describe(`damaged tokenizer.json files are loaded or named (seed ${SEED})`, () => {
  it(`${ONLY !== undefined ? `file ${ONLY}` : `${FILES} files`}`, () => {
    const tally = { built: 0, rejected: 0, encodeNamed: 0 };
    for (let i = ONLY ?? 0; ONLY !== undefined ? i === ONLY : i < FILES; i++) {
      const r = rand(callSeed(SEED, i));
      const [name, clean] = r.pick(SOURCES);
      const file = structuredClone(clean);
      const slot = r.pick(slots(file, r));
      let what: string;
      const choice = r.int(0, 5);
      if (choice === 0) {
        delete slot.parent[slot.key];
        what = `dropped ${slot.path}`;
      } else if (choice === 1 && typeof slot.parent[slot.key] === 'object' && slot.parent[slot.key] !== null && !Array.isArray(slot.parent[slot.key])) {
        slot.parent[slot.key].zz_unknown = r.pick([1, 'x', null, 2n]);
        what = `added ${slot.path}.zz_unknown`;
      } else {
        const [d, v] = junk(r);
        slot.parent[slot.key] = v;
        what = `${slot.path} = ${d}`;
      }
      const where = `file ${i} (${name}: ${what})\n  replay: WASM_ATTENTION_SEED=${SEED} WASM_ATTENTION_FILE=${i} npx vitest run test/tokenizer/tokenizer-file-fuzz.test.ts`;
      const named = (error: unknown, prefixes: RegExp) => {
        const kind = classOf(error), message = (error as Error)?.message;
        expect(kind === 'TypeError' || kind === 'RangeError', `${where}\n  threw ${kind}: ${message}`).toBe(true);
        expect(message, `${where}\n  threw ${kind}`).toMatch(prefixes);
      };
      let tokenizer: ReturnType<typeof loadTokenizer> | undefined;
      try {
        tokenizer = loadTokenizer(file);
      } catch (error) {
        named(error, /^loadTokenizer: /);
        tally.rejected++;
        continue;
      }
      tally.built++;
      try {
        const encoded = tokenizer.encode(TEXT);
        tokenizer.decode(Array.from(encoded.inputIds as ArrayLike<number>));
      } catch (error) {
        // what the file holds may fail only when a text needs it (an unk_token not in the vocab)
        named(error, /^(loadTokenizer: tokenizer\.json |tokenizer\.(encode|decode): )/);
        tally.encodeNamed++;
      }
    }
    console.log(`tokenizer file fuzz (seed ${SEED}): ${tally.built} built (${tally.encodeNamed} then refused a text, naming the file's key), ${tally.rejected} rejected`);
  }, 600_000);
});
