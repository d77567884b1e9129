// tokenizer.json's `normalizer`: HF tokenizers' normalizers, each a function of an AlignedText.
// Character classes follow HF's Rust definitions: BERT's from its Unicode 9 tables (bert-unicode.ts),
// the others as Unicode property escapes.
import { AlignedText } from './aligned-text.js';
import { MARK, NONSPACING_MARK, OTHER } from './bert-unicode.js';
import { charClass, isWhiteSpace } from './char-class.js';
import { field, optionalBoolean, unsupported, type Json } from './json.js';

export type Normalizer = (text: AlignedText) => AlignedText;

const isOther = charClass(OTHER);
const isNonspacingMark = charClass(NONSPACING_MARK);
const isMark = charClass(MARK);

/** The CJK ideograph blocks BERT surrounds with spaces (HF's `is_chinese_char`). */
function isChineseChar(cp: number): boolean {
  return (cp >= 0x4e00 && cp <= 0x9fff) || (cp >= 0x3400 && cp <= 0x4dbf) || (cp >= 0x20000 && cp <= 0x2a6df)
    || (cp >= 0x2a700 && cp <= 0x2b73f) || (cp >= 0x2b740 && cp <= 0x2b81f) || (cp >= 0x2b920 && cp <= 0x2ceaf)
    || (cp >= 0xf900 && cp <= 0xfaff) || (cp >= 0x2f800 && cp <= 0x2fa1f);
}

function cleanText(ch: string): string {
  const cp = ch.codePointAt(0) as number;
  if (ch === '\t' || ch === '\n' || ch === '\r') return ' ';
  if (cp === 0 || cp === 0xfffd || isOther(cp)) return '';
  return isWhiteSpace(cp) ? ' ' : ch;
}

/** HF lowercases code point by code point (no final-sigma rule). Where the whole string's
 * toLowerCase keeps its length and there is no Σ, that is the same text, unit for unit. */
const lowercase: Normalizer = (t) => {
  const lower = t.text.toLowerCase();
  if (lower === t.text) return t;
  if (lower.length === t.length && !t.text.includes('Σ')) return t.withText(lower);
  return t.mapChars((ch) => ch.toLowerCase());
};
const stripNonspacingMarks: Normalizer = (t) => t.mapChars((ch) => (isNonspacingMark(ch.codePointAt(0) as number) ? '' : ch), 0, 0x7f);
const stripMarks: Normalizer = (t) => t.mapChars((ch) => (isMark(ch.codePointAt(0) as number) ? '' : ch), 0, 0x7f);

/** A code point and what may compose with it: combining marks, Hangul vowel and final jamo, and
 * the half-width voiced sound marks NFKC turns into combining ones. */
const CHUNK = /[^](?:[\p{M}\u1160-\u11ff\ud7b0-\ud7ff\uff9e\uff9f])*/gsu;

/** String.prototype.normalize with HF's alignment. Each chunk (a code point and the marks that
 * may compose with it) is normalized on its own. Where that equals normalizing its code points one
 * by one, every unit keeps its code point's range. Otherwise HF's bookkeeping is replayed: each
 * code point of the decomposition carries a change (0 for the first of a source code point, +1
 * for the others), a composed code point the sum of its parts' minus (parts − 1); then, walking
 * the chunk's code points, a change ≤ 0 takes the next one's range and skips −change more, a
 * change > 0 repeats the last range. Should the chunks' output ever differ from the whole text's,
 * the whole text gets its range. */
function unicodeForm(form: 'NFC' | 'NFD' | 'NFKC' | 'NFKD'): Normalizer {
  const decomposed = form === 'NFC' || form === 'NFD' ? 'NFD' : 'NFKD';
  return (t) => {
    const whole = t.text.normalize(form);
    if (whole === t.text) return t;
    const pieces: AlignedText[] = [];
    for (const m of t.text.matchAll(CHUNK)) {
      const a = m.index as number;
      const chunk = t.slice(a, a + m[0].length);
      const out = chunk.text.normalize(form);
      const perChar = chunk.mapChars((ch) => ch.normalize(form));
      if (perChar.text === out) {
        pieces.push(perChar);
        continue;
      }
      const sources: [number, number][] = []; // each input code point's first and last unit
      const changes: number[] = []; // per code point of the decomposition
      for (let u = 0; u < chunk.length;) {
        const width = (chunk.text.codePointAt(u) as number) > 0xffff ? 2 : 1;
        sources.push([u, u + width - 1]);
        let k = 0;
        for (const _ of chunk.text.slice(u, u + width).normalize(decomposed)) changes.push(k++ === 0 ? 0 : 1);
        u += width;
      }
      const starts: number[] = [];
      const ends: number[] = [];
      let j = 0; // next code point of the decomposition
      let p = 0; // next input code point
      let last: [number, number] = sources[0] as [number, number];
      for (const ch of out) {
        const parts = [...ch.normalize(decomposed)].length;
        let change = 1 - parts;
        for (let i = 0; i < parts; i++) change += changes[j + i] ?? 0;
        j += parts;
        if (change <= 0 && p < sources.length) {
          last = sources[p] as [number, number];
          p += 1 - change;
        }
        for (let i = 0; i < ch.length; i++) {
          starts.push(chunk.starts[last[0]] as number);
          ends.push(chunk.ends[last[1]] as number);
        }
      }
      pieces.push(new AlignedText(out, Int32Array.from(starts), Int32Array.from(ends)));
    }
    const joined = AlignedText.concat(pieces);
    if (joined.text === whole) return joined;
    const [s, e] = t.span(0, t.length);
    return new AlignedText(whole, new Int32Array(whole.length).fill(s), new Int32Array(whole.length).fill(e));
  };
}

function bertNormalizer(json: Json, path: string): Normalizer {
  const clean = optionalBoolean(json, 'clean_text', path, true);
  const chinese = optionalBoolean(json, 'handle_chinese_chars', path, true);
  const lower = optionalBoolean(json, 'lowercase', path, true);
  const strip = json['strip_accents'] === null || json['strip_accents'] === undefined
    ? lower : optionalBoolean(json, 'strip_accents', path, lower);
  const nfd = unicodeForm('NFD');
  return (t) => {
    // Printable ASCII: cleanText and the CJK spacing keep it (the last argument pair).
    if (clean) t = t.mapChars(cleanText, 0x20, 0x7e);
    if (chinese) t = t.mapChars((ch) => (isChineseChar(ch.codePointAt(0) as number) ? ` ${ch} ` : ch), 0, 0x7f);
    if (strip) t = stripNonspacingMarks(nfd(t));
    if (lower) t = lowercase(t);
    return t;
  };
}

function strip(json: Json, path: string): Normalizer {
  const left = optionalBoolean(json, 'strip_left', path, true);
  const right = optionalBoolean(json, 'strip_right', path, true);
  return (t) => {
    let a = 0;
    let b = t.length;
    if (left) while (a < b && isWhiteSpace(t.text.charCodeAt(a))) a++;
    if (right) while (b > a && isWhiteSpace(t.text.charCodeAt(b - 1))) b--;
    return a === 0 && b === t.length ? t : t.slice(a, b);
  };
}

function replace(json: Json, path: string): Normalizer {
  const pattern = field(json, 'pattern', path, 'object') as Json;
  if (typeof pattern['String'] !== 'string') unsupported(`${path}.pattern`, 'a Regex pattern (only {"String": …} patterns are supported)');
  const from = pattern['String'] as string;
  const content = field(json, 'content', path, 'string') as string;
  if (from.length === 0) unsupported(`${path}.pattern.String`, 'empty (HF inserts the content between every two characters)');
  const re = new RegExp(from.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'gu');
  return (t) => {
    const pieces: AlignedText[] = [];
    let last = 0;
    for (const m of t.text.matchAll(re)) {
      const a = m.index as number;
      if (a > last) pieces.push(t.slice(last, a));
      // HF aligns the replacement to the last character it replaces.
      const [s, e] = t.span(a + from.length - 1, a + from.length);
      pieces.push(new AlignedText(content, new Int32Array(content.length).fill(s), new Int32Array(content.length).fill(e)));
      last = a + from.length;
    }
    if (last === 0) return t;
    if (last < t.length) pieces.push(t.slice(last, t.length));
    return AlignedText.concat(pieces);
  };
}

/** tokenizer.json's `normalizer` (null: none). Unknown types are a TypeError naming the path. */
export function buildNormalizer(json: Json | null, path: string): Normalizer | null {
  if (json === null || json === undefined) return null;
  const type = field(json, 'type', path, 'string') as string;
  switch (type) {
    case 'BertNormalizer': return bertNormalizer(json, path);
    case 'Lowercase': return lowercase;
    case 'StripAccents': return stripMarks;
    case 'NFC': case 'NFD': case 'NFKC': case 'NFKD': return unicodeForm(type);
    case 'Strip': return strip(json, path);
    case 'Replace': return replace(json, path);
    case 'Prepend': {
      const prefix = field(json, 'prepend', path, 'string') as string;
      return (t) => (t.length > 0 ? t.prepend(prefix) : t);
    }
    case 'Sequence': {
      const list = field(json, 'normalizers', path, 'array') as Json[];
      const steps = list.map((n, i) => buildNormalizer(n, `${path}.normalizers[${i}]`)).filter((n) => n !== null) as Normalizer[];
      return (t) => steps.reduce((acc, step) => step(acc), t);
    }
    default:
      return unsupported(`${path}.type`, JSON.stringify(type));
  }
}
