// tokenizer.json's `model`: BPE, WordPiece and WordLevel, each turning one pre-tokenized word into
// tokens with their ranges in that word (UTF-16 units).
import { describe, json as jsonText } from '../errors.js';
import { field, fileError, optionalField, optionalInteger, unsupported, type Json } from './json.js';

/** One token of a word: its id, its string, and units [start, end) of the word it covers. */
export interface WordToken {
  id: number;
  value: string;
  start: number;
  end: number;
}

export interface TokenizerModel {
  /** Token string → id. */
  readonly vocab: ReadonlyMap<string, number>;
  /** Id → token string. */
  readonly tokens: ReadonlyMap<number, string>;
  /** The word's tokens (shared with a cache: not to be modified). */
  tokenize(word: string): readonly WordToken[];
}

function readVocab(json: Json, path: string): Map<string, number> {
  const raw = json['vocab'];
  const vocab = new Map<string, number>();
  if (Array.isArray(raw)) {
    raw.forEach((token, id) => {
      if (typeof token !== 'string') throw fileError(`${path}.vocab[${id}]`, `must be a string, got ${describe(token)}`);
      vocab.set(token, id);
    });
    return vocab;
  }
  const object = field(json, 'vocab', path, 'object') as Json;
  for (const token of Object.keys(object)) {
    const id = object[token];
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id > 0x7fffffff) {
      throw fileError(`${path}.vocab[${JSON.stringify(token)}]`, `must be an integer id ≥ 0, got ${describe(id)}`);
    }
    vocab.set(token, id);
  }
  return vocab;
}

function reverse(vocab: Map<string, number>): Map<number, string> {
  const tokens = new Map<number, string>();
  for (const [token, id] of vocab) tokens.set(id, token);
  return tokens;
}

/** The unk token's id, asked for only when a word needs it: HF loads a file whose unk_token is
 * not in the vocabulary and fails only then, and so do we (a TypeError naming the field). */
function unkId(vocab: Map<string, number>, unk: string, path: string): () => number {
  const id = vocab.get(unk);
  return () => {
    if (id === undefined) throw fileError(`${path}.unk_token`, `(${JSON.stringify(unk)}) is not in ${path}.vocab, and the text has a word that needs it`);
    return id;
  };
}

/** The UTF-8 length of one code point. */
function utf8Bytes(ch: string): number {
  const cp = ch.codePointAt(0) as number;
  return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
}

/** Code points of a string with their unit offsets: [char, start, end][]. */
function codePoints(word: string): [string, number, number][] {
  const out: [string, number, number][] = [];
  for (let i = 0; i < word.length;) {
    const width = (word.codePointAt(i) as number) > 0xffff ? 2 : 1;
    out.push([word.slice(i, i + width), i, i + width]);
    i += width;
  }
  return out;
}

/** Words shorter than this many units are cached, up to this many words (HF's BPE caches up to
 * 10 000; a word's tokens never depend on anything else). */
const CACHE_WORD = 256;
const CACHE_SIZE = 10000;

/** `tokenize` behind the word cache. */
function cached(tokenize: (word: string) => WordToken[]): (word: string) => readonly WordToken[] {
  const cache = new Map<string, readonly WordToken[]>();
  return (word) => {
    let out = cache.get(word);
    if (out === undefined) {
      out = tokenize(word);
      if (word.length < CACHE_WORD && cache.size < CACHE_SIZE) cache.set(word, out);
    }
    return out;
  };
}

/** HF's WordPiece: the longest vocabulary prefix first, then the longest `##`-prefixed piece of
 * the rest; a word with a piece that matches nothing, or longer than max_input_chars_per_word
 * code points, is one unk token. */
function wordPiece(json: Json, path: string): TokenizerModel {
  const vocab = readVocab(json, path);
  const unkToken = optionalField(json, 'unk_token', path, 'string', '[UNK]') as string;
  const unk = unkId(vocab, unkToken, path);
  const prefix = optionalField(json, 'continuing_subword_prefix', path, 'string', '##') as string;
  const maxChars = optionalInteger(json, 'max_input_chars_per_word', path, 0, 100);
  // The longest piece the vocabulary can match, in code points: a word's first piece is a key,
  // a later one a key less the prefix. Trying no longer candidates gives the same pieces and
  // makes a word of n code points cost n·longest lookups instead of n²/2 (a 4000-character word
  // with a raised max_input_chars_per_word took 9 s).
  const prefixChars = [...prefix].length;
  let longestFirst = 0, longestNext = 0;
  for (const key of vocab.keys()) {
    const n = [...key].length;
    longestFirst = Math.max(longestFirst, n);
    if (key.startsWith(prefix)) longestNext = Math.max(longestNext, n - prefixChars);
  }
  const pieces = (word: string): WordToken[] => {
    // Unit offsets of the code point boundaries: bounds[k] is where code point k starts.
    const bounds = codePoints(word).map(([, s]) => s);
    bounds.push(word.length);
    const chars = bounds.length - 1;
    const whole = (): WordToken[] => [{ id: unk(), value: unkToken, start: 0, end: word.length }];
    if (chars > maxChars) return whole();
    const out: WordToken[] = [];
    for (let start = 0; start < chars;) {
      let end = Math.min(chars, start + (start > 0 ? longestNext : longestFirst));
      for (; end > start; end--) {
        const piece = (start > 0 ? prefix : '') + word.slice(bounds[start], bounds[end]);
        const id = vocab.get(piece);
        if (id !== undefined) {
          out.push({ id, value: piece, start: bounds[start] as number, end: bounds[end] as number });
          break;
        }
      }
      if (end === start) return whole();
      start = end;
    }
    return out;
  };
  return { vocab, tokens: reverse(vocab), tokenize: cached(pieces) };
}

function wordLevel(json: Json, path: string): TokenizerModel {
  const vocab = readVocab(json, path);
  const unkToken = optionalField(json, 'unk_token', path, 'string', '<unk>') as string;
  const unk = unkId(vocab, unkToken, path);
  return {
    vocab,
    tokens: reverse(vocab),
    tokenize(word) {
      const id = vocab.get(word);
      return [id === undefined ? { id: unk(), value: unkToken, start: 0, end: word.length } : { id, value: word, start: 0, end: word.length }];
    },
  };
}

/** The key of a pair of ids in the merge table (ids stay below 2^21 in every vocabulary we take). */
const PAIR = 2 ** 21;

/** A min-heap of candidate merges ordered by (rank, position): the lowest rank first and, among
 * equal ranks, the leftmost (HF's order). Entries go stale as symbols merge; the caller checks. */
class MergeQueue {
  private rank: number[] = [];
  private pos: number[] = [];
  get size(): number {
    return this.rank.length;
  }
  private less(i: number, j: number): boolean {
    const ri = this.rank[i] as number;
    const rj = this.rank[j] as number;
    return ri < rj || (ri === rj && (this.pos[i] as number) < (this.pos[j] as number));
  }
  private swap(i: number, j: number): void {
    [this.rank[i], this.rank[j]] = [this.rank[j] as number, this.rank[i] as number];
    [this.pos[i], this.pos[j]] = [this.pos[j] as number, this.pos[i] as number];
  }
  push(rank: number, pos: number): void {
    this.rank.push(rank);
    this.pos.push(pos);
    for (let i = this.rank.length - 1; i > 0;) {
      const parent = (i - 1) >> 1;
      if (!this.less(i, parent)) break;
      this.swap(i, parent);
      i = parent;
    }
  }
  /** Removes the first entry; returns its [rank, pos]. */
  pop(): [number, number] {
    const top: [number, number] = [this.rank[0] as number, this.pos[0] as number];
    const lastRank = this.rank.pop() as number;
    const lastPos = this.pos.pop() as number;
    if (this.rank.length > 0) {
      this.rank[0] = lastRank;
      this.pos[0] = lastPos;
      for (let i = 0; ;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < this.rank.length && this.less(l, m)) m = l;
        if (r < this.rank.length && this.less(r, m)) m = r;
        if (m === i) break;
        this.swap(i, m);
        i = m;
      }
    }
    return top;
  }
}


/** HF's BPE: each code point a symbol (unknown ones unk, fused or dropped, or bytes with
 * byte_fallback), then the ranked merges applied lowest rank first, leftmost first. */
function bpe(json: Json, path: string): TokenizerModel {
  const vocab = readVocab(json, path);
  const dropout = optionalField(json, 'dropout', path, 'number', 0) as number;
  if (dropout !== 0) unsupported(`${path}.dropout`, `${dropout} (BPE dropout is random; inference runs without it)`);
  const unkToken = optionalField(json, 'unk_token', path, 'string', null) as string | null;
  const unk = unkToken === null ? null : unkId(vocab, unkToken, path);
  const prefix = optionalField(json, 'continuing_subword_prefix', path, 'string', '') as string;
  const suffix = optionalField(json, 'end_of_word_suffix', path, 'string', '') as string;
  const fuseUnk = optionalField(json, 'fuse_unk', path, 'boolean', false) as boolean;
  // byte_fallback comes with the ByteFallback decoder (Llama, Mistral), not implemented here.
  if (optionalField(json, 'byte_fallback', path, 'boolean', false) === true) unsupported(`${path}.byte_fallback`, 'true');
  const ignoreMerges = optionalField(json, 'ignore_merges', path, 'boolean', false) as boolean;
  for (const [token, id] of vocab) {
    if (id >= PAIR) throw fileError(`${path}.vocab[${JSON.stringify(token)}]`, `is ${id}, above the ${PAIR - 1} this BPE supports (merge pairs are packed in one number)`);
  }

  // (left id, right id) → rank · PAIR + merged id.
  const merges = new Map<number, number>();
  const list = field(json, 'merges', path, 'array') as unknown[];
  list.forEach((entry, rank) => {
    let pair: unknown[];
    if (typeof entry === 'string') pair = entry.split(' ');
    else if (Array.isArray(entry)) pair = entry;
    else throw fileError(`${path}.merges[${rank}]`, `must be "a b" or ["a", "b"], got ${describe(entry)}`);
    if (pair.length !== 2 || typeof pair[0] !== 'string' || typeof pair[1] !== 'string') {
      throw fileError(`${path}.merges[${rank}]`, `must be two tokens, got ${jsonText(entry)}`);
    }
    const [a, b] = pair as [string, string];
    const merged = a + (prefix.length > 0 && b.startsWith(prefix) ? b.slice(prefix.length) : b);
    const ida = vocab.get(a);
    const idb = vocab.get(b);
    const idm = vocab.get(merged);
    if (ida === undefined || idb === undefined || idm === undefined) {
      const missing = ida === undefined ? a : idb === undefined ? b : merged;
      throw fileError(`${path}.merges[${rank}]`, `(${JSON.stringify(entry)}) needs ${JSON.stringify(missing)}, which is not in ${path}.vocab`);
    }
    merges.set(ida * PAIR + idb, rank * PAIR + idm);
  });
  const tokens = reverse(vocab);

  function mergeWord(word: string): WordToken[] {
    // The symbols in order (HF's Word): id and byte range. A range is the running sum of the
    // UTF-8 lengths of the symbols kept so far, as HF's is: a character dropped for want of an
    // unk token shifts the ranges after it (mapped back to characters at the end).
    const ids: number[] = [];
    const starts: number[] = [];
    const ends: number[] = [];
    let at = 0;
    const add = (id: number, bytes: number): void => {
      ids.push(id);
      starts.push(at);
      ends.push(at += bytes);
    };
    let pending: [number, number] | null = null; // an unk waiting to be added: id, bytes
    const chars = codePoints(word);
    const byteEnds: number[] = []; // where each character's UTF-8 bytes end in the word
    chars.forEach(([ch], i) => {
      const length = utf8Bytes(ch);
      byteEnds.push((i > 0 ? (byteEnds[i - 1] as number) : 0) + length);
      let piece = ch;
      if (i > 0) piece = prefix + piece;
      if (i === chars.length - 1) piece += suffix;
      const id = vocab.get(piece);
      if (id !== undefined) {
        if (pending !== null) add(...pending);
        pending = null;
        add(id, length);
      } else if (unk !== null) {
        if (pending !== null && fuseUnk) pending[1] += length;
        else {
          if (pending !== null) add(...pending);
          pending = [unk(), length];
        }
      }
    });
    if (pending !== null) add(...(pending as [number, number]));
    const n = ids.length;
    const prev = Array.from({ length: n }, (_, i) => i - 1);
    const next = Array.from({ length: n }, (_, i) => (i + 1 < n ? i + 1 : -1));
    const alive = new Array<boolean>(n).fill(true);
    const queue = new MergeQueue();
    for (let i = 0; i + 1 < n; i++) {
      const m = merges.get((ids[i] as number) * PAIR + (ids[i + 1] as number));
      if (m !== undefined) queue.push(Math.floor(m / PAIR), i);
    }
    while (queue.size > 0) {
      const [rank, pos] = queue.pop();
      if (!alive[pos] || next[pos] === -1) continue;
      const right = next[pos] as number;
      const m = merges.get((ids[pos] as number) * PAIR + (ids[right] as number));
      if (m === undefined || Math.floor(m / PAIR) !== rank) continue;
      ids[pos] = m % PAIR;
      ends[pos] = ends[right] as number;
      alive[right] = false;
      next[pos] = next[right] as number;
      if (next[pos] !== -1) prev[next[pos] as number] = pos;
      const p = prev[pos] as number;
      if (p >= 0) {
        const mp = merges.get((ids[p] as number) * PAIR + (ids[pos] as number));
        if (mp !== undefined) queue.push(Math.floor(mp / PAIR), p);
      }
      const q = next[pos] as number;
      if (q >= 0) {
        const mq = merges.get((ids[pos] as number) * PAIR + (ids[q] as number));
        if (mq !== undefined) queue.push(Math.floor(mq / PAIR), pos);
      }
    }
    // A byte range → the units of the characters holding its first and its last byte.
    const charAt = (byte: number): [string, number, number] => {
      let lo = 0;
      let hi = chars.length - 1;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if ((byteEnds[mid] as number) > byte) hi = mid;
        else lo = mid + 1;
      }
      return chars[lo] as [string, number, number];
    };
    const out: WordToken[] = [];
    for (let i = 0; i < n; i++) {
      if (!alive[i]) continue;
      out.push({ id: ids[i] as number, value: tokens.get(ids[i] as number) as string,
        start: charAt(starts[i] as number)[1], end: charAt((ends[i] as number) - 1)[2] });
    }
    return out;
  }

  const merged = cached(mergeWord);
  return {
    vocab,
    tokens,
    tokenize(word) {
      if (word.length === 0) return [];
      if (ignoreMerges) {
        const id = vocab.get(word);
        if (id !== undefined) return [{ id, value: word, start: 0, end: word.length }];
      }
      return merged(word);
    },
  };
}

/** tokenizer.json's `model`. */
export function buildModel(json: Json, path: string): TokenizerModel {
  const type = json['type'] === undefined && json['merges'] !== undefined ? 'BPE' : field(json, 'type', path, 'string') as string;
  switch (type) {
    case 'BPE': return bpe(json, path);
    case 'WordPiece': return wordPiece(json, path);
    case 'WordLevel': return wordLevel(json, path);
    default: return unsupported(`${path}.type`, JSON.stringify(type));
  }
}
