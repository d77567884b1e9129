// tokenizer.json's `post_processor`: the special tokens around one sequence or a pair
// ([CLS] A [SEP] B [SEP]), their type ids, and ByteLevel's offset trimming.
import { describe } from '../errors.js';
import { isWhiteSpace } from './char-class.js';
import { asObject, field, fileError, optionalBoolean, optionalInteger, unsupported, type Json } from './json.js';

/** One sequence's tokens, HF's Encoding: every array has one entry per token. */
export interface Encoded {
  ids: number[];
  tokens: string[];
  typeIds: number[];
  /** [start, end) in the input string, UTF-16 units; [0, 0] for a special token. */
  offsets: [number, number][];
  /** 1 for a token the post-processor added. */
  specialTokensMask: number[];
  /** Index of the pre-tokenized word a token belongs to; null for an added special token. */
  wordIds: (number | null)[];
  /** 0 (first text) or 1 (textPair); null for an added special token. */
  sequenceIds: (number | null)[];
}

export function emptyEncoded(): Encoded {
  return { ids: [], tokens: [], typeIds: [], offsets: [], specialTokensMask: [], wordIds: [], sequenceIds: [] };
}

export function concatEncoded(list: readonly Encoded[]): Encoded {
  // Every Encoded is made fresh for one encoding and never written after, so one is its own
  // concatenation. Array.prototype.concat, not push(...array): a long text's arrays would
  // overflow the argument stack.
  if (list.length === 1) return list[0] as Encoded;
  const field = <K extends keyof Encoded>(key: K): Encoded[K] => ([] as unknown[]).concat(...list.map((e) => e[key])) as Encoded[K];
  return {
    ids: field('ids'), tokens: field('tokens'), typeIds: field('typeIds'), offsets: field('offsets'),
    specialTokensMask: field('specialTokensMask'), wordIds: field('wordIds'), sequenceIds: field('sequenceIds'),
  };
}

/** Special tokens as one Encoded piece. */
function specials(ids: readonly number[], tokens: readonly string[], typeId: number): Encoded {
  return {
    ids: [...ids], tokens: [...tokens], typeIds: ids.map(() => typeId), offsets: ids.map(() => [0, 0] as [number, number]),
    specialTokensMask: ids.map(() => 1), wordIds: ids.map(() => null), sequenceIds: ids.map(() => null),
  };
}

function withTypeId(e: Encoded, typeId: number): Encoded {
  return { ...e, typeIds: e.typeIds.map(() => typeId) };
}

export interface PostProcessor {
  /** Tokens it adds to one sequence, or to a pair: truncation leaves room for them. */
  added(pair: boolean): number;
  /** The ids it may add, each with the field of the file that names it. */
  readonly ids: readonly [number, string][];
  /** The sequences (one or two) → the steps' output; the caller concatenates it. */
  process(encodings: Encoded[], addSpecialTokens: boolean): Encoded[];
}

/** GPT-2's whitespace byte (Ġ) or real whitespace, at either end of a token. */
const SPACE_CHAR = 'Ġ';

/** HF's ByteLevel trim_offsets: a token's offsets leave out its leading and trailing spaces,
 * except the one space add_prefix_space put before the first token. */
function trimOffsets(e: Encoded, addPrefixSpace: boolean): Encoded {
  const isSpace = (ch: string | undefined): boolean => ch !== undefined && (ch === SPACE_CHAR || isWhiteSpace(ch.codePointAt(0) as number));
  const offsets = e.offsets.map(([s, t], i): [number, number] => {
    const chars = [...(e.tokens[i] as string)];
    let lead = 0;
    while (lead < chars.length && isSpace(chars[lead])) lead++;
    let trail = 0;
    while (trail < chars.length && isSpace(chars[chars.length - 1 - trail])) trail++;
    let start = s;
    let end = t;
    if (lead > 0) {
      if ((i === 0 || s === 0) && addPrefixSpace && lead === 1) lead = 0;
      start = Math.min(s + lead, t);
    }
    if (trail > 0 && end >= trail) end = Math.max(end - trail, start);
    return [start, end];
  });
  return { ...e, offsets };
}

/** A special token named in the file: [token, id]. */
function tokenPair(json: Json, key: string, path: string): [string, number] {
  const v = json[key];
  if (!Array.isArray(v) || v.length !== 2 || typeof v[0] !== 'string' || !Number.isInteger(v[1])) {
    throw fileError(`${path}.${key}`, `must be [token, id], got ${describe(v)}`);
  }
  return [v[0] as string, v[1] as number];
}

function defaultProcess(encodings: Encoded[]): Encoded[] {
  return encodings;
}

type Piece = { kind: 'sequence'; index: 0 | 1; typeId: number } | { kind: 'special'; ids: number[]; tokens: string[]; typeId: number; path: string };

function template(json: Json, path: string): PostProcessor {
  const table = asObject(json['special_tokens'] ?? {}, `${path}.special_tokens`);
  const parse = (key: 'single' | 'pair'): Piece[] => (field(json, key, path, 'array') as unknown[]).map((raw, i) => {
    const at = `${path}.${key}[${i}]`;
    const piece = asObject(raw, at);
    if (piece['Sequence'] !== undefined) {
      const s = asObject(piece['Sequence'], `${at}.Sequence`);
      const id = s['id'];
      if (id !== 'A' && id !== 'B') throw fileError(`${at}.Sequence.id`, `must be "A" or "B", got ${describe(id)}`);
      return { kind: 'sequence', index: id === 'A' ? 0 : 1, typeId: optionalInteger(s, 'type_id', `${at}.Sequence`, 0, 0) };
    }
    const s = asObject(piece['SpecialToken'], `${at}.SpecialToken`);
    const name = field(s, 'id', `${at}.SpecialToken`, 'string') as string;
    const entry = table[name];
    if (entry === undefined) throw fileError(`${at}.SpecialToken.id`, `(${JSON.stringify(name)}) is not in ${path}.special_tokens`);
    const e = asObject(entry, `${path}.special_tokens.${name}`);
    const ids = field(e, 'ids', `${path}.special_tokens.${name}`, 'array') as number[];
    const tokens = field(e, 'tokens', `${path}.special_tokens.${name}`, 'array') as string[];
    if (ids.length !== tokens.length || !ids.every((x) => Number.isInteger(x) && x >= 0) || !tokens.every((x) => typeof x === 'string')) {
      throw fileError(`${path}.special_tokens.${name}`, 'must have as many integer ids as string tokens');
    }
    return { kind: 'special', ids, tokens, typeId: optionalInteger(s, 'type_id', `${at}.SpecialToken`, 0, 0), path: `${path}.special_tokens.${name}` };
  });
  const single = parse('single');
  // A single-sequence template that reads sequence B has nothing to read (HF's Rust aborts).
  const readsB = single.findIndex((p) => p.kind === 'sequence' && p.index === 1);
  if (readsB >= 0) throw fileError(`${path}.single[${readsB}].Sequence.id`, 'must be "A" in the single-sequence template (there is no sequence B)');
  const pair = parse('pair');
  const count = (pieces: Piece[]): number => pieces.reduce((n, p) => n + (p.kind === 'special' ? p.ids.length : 0), 0);
  const ids: [number, string][] = [];
  for (const p of [...single, ...pair]) if (p.kind === 'special') for (const id of p.ids) ids.push([id, `${p.path}.ids`]);
  return {
    ids,
    added: (isPair) => count(isPair ? pair : single),
    process(encodings, addSpecialTokens) {
      const pieces = encodings.length === 2 ? pair : single;
      const out: Encoded[] = [];
      // A template may read a sequence twice ($A $A): HF keeps one range per sequence id, the
      // last copy's (Encoding::merge_with extends its map), so only that copy has sequence ids.
      const last = [-1, -1];
      pieces.forEach((p, at) => { if (p.kind === 'sequence') last[p.index] = at; });
      pieces.forEach((p, at) => {
        if (p.kind === 'sequence') {
          const e = encodings[p.index];
          if (e === undefined) return;
          const copy = withTypeId(e, p.typeId);
          out.push(at === last[p.index] ? copy : { ...copy, sequenceIds: copy.sequenceIds.map(() => null) });
        } else if (addSpecialTokens) {
          out.push(specials(p.ids, p.tokens, p.typeId));
        }
      });
      return [concatEncoded(out)];
    },
  };
}

/** tokenizer.json's `post_processor` (null: the sequences as they are, the pair's type id 1). */
export function buildPostProcessor(json: Json | null, path: string): PostProcessor {
  if (json === null || json === undefined) return { ids: [], added: () => 0, process: defaultProcess };
  const type = field(json, 'type', path, 'string') as string;
  switch (type) {
    case 'TemplateProcessing': return template(json, path);
    case 'BertProcessing': {
      const [sep, sepId] = tokenPair(json, 'sep', path);
      const [cls, clsId] = tokenPair(json, 'cls', path);
      return {
        ids: [[sepId, `${path}.sep`], [clsId, `${path}.cls`]],
        added: (pair) => (pair ? 3 : 2),
        process(encodings, addSpecialTokens) {
          if (!addSpecialTokens) return encodings;
          const [a, b] = encodings as [Encoded, Encoded | undefined];
          const out = [specials([clsId], [cls], 0), a, specials([sepId], [sep], 0)];
          if (b !== undefined) out.push(b, specials([sepId], [sep], 1));
          return [concatEncoded(out)];
        },
      };
    }
    case 'RobertaProcessing': {
      const [sep, sepId] = tokenPair(json, 'sep', path);
      const [cls, clsId] = tokenPair(json, 'cls', path);
      const trim = optionalBoolean(json, 'trim_offsets', path, true);
      const prefix = optionalBoolean(json, 'add_prefix_space', path, true);
      return {
        ids: [[sepId, `${path}.sep`], [clsId, `${path}.cls`]],
        added: (pair) => (pair ? 4 : 2),
        process(encodings, addSpecialTokens) {
          let list = trim ? encodings.map((e) => trimOffsets(e, prefix)) : encodings;
          list = list.map((e) => withTypeId(e, 0));
          if (!addSpecialTokens) return list;
          const [a, b] = list as [Encoded, Encoded | undefined];
          const out = [specials([clsId], [cls], 0), a, specials([sepId], [sep], 0)];
          if (b !== undefined) out.push(specials([sepId], [sep], 0), b, specials([sepId], [sep], 0));
          return [concatEncoded(out)];
        },
      };
    }
    case 'ByteLevel': {
      const trim = optionalBoolean(json, 'trim_offsets', path, true);
      const prefix = optionalBoolean(json, 'add_prefix_space', path, true);
      return { ids: [], added: () => 0, process: (encodings) => (trim ? encodings.map((e) => trimOffsets(e, prefix)) : encodings) };
    }
    case 'Sequence': {
      const list = field(json, 'processors', path, 'array') as Json[];
      const steps = list.map((p, i) => buildPostProcessor(p, `${path}.processors[${i}]`));
      return {
        ids: steps.flatMap((s) => s.ids),
        added: (pair) => steps.reduce((n, s) => n + s.added(pair), 0),
        process: (encodings, addSpecialTokens) => steps.reduce((acc, s) => s.process(acc, addSpecialTokens), encodings),
      };
    }
    default:
      return unsupported(`${path}.type`, JSON.stringify(type));
  }
}
