// tokenizer.json's `pre_tokenizer`: splits normalized text into the words the model tokenizes.
import { AlignedText } from './aligned-text.js';
import { PUNCTUATION } from './bert-unicode.js';
import { charClass, isWhiteSpace } from './char-class.js';
import { field, optionalBoolean, optionalField, unsupported, type Json } from './json.js';

export type PreTokenizer = (text: AlignedText) => AlignedText[];

/** GPT-2's word pattern (HF's ByteLevel), with `\s` as Unicode White_Space: Oniguruma's `\s`,
 * which JavaScript's `\s` is not (it adds U+FEFF and lacks U+0085). */
const GPT2_WORDS = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\p{White_Space}\p{L}\p{N}]+|\p{White_Space}+(?!\P{White_Space})|\p{White_Space}+/gu;
const WHITE_SPACE_RUN = /\p{White_Space}+/gu;
/** Rust regex's `\w+|[^\w\s]+`, with its Unicode `\w`. */
const WORDS = /[\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\p{Join_Control}]+|[^\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\p{Join_Control}\p{White_Space}]+/gu;

/** GPT-2's byte-to-character table: printable Latin-1 bytes map to themselves, the other 68 to
 * U+0100 onwards, so every byte is a visible character and BPE never sees whitespace or controls. */
export const BYTE_TO_CHAR: readonly string[] = (() => {
  const table = new Array<string>(256);
  let next = 256;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    table[b] = String.fromCodePoint(printable ? b : next++);
  }
  return table;
})();

/** A code point's UTF-8 bytes as GPT-2's byte characters. */
function byteChars(ch: string): string {
  const cp = ch.codePointAt(0) as number;
  if (cp < 0x80) return BYTE_TO_CHAR[cp] as string;
  if (cp < 0x800) return (BYTE_TO_CHAR[0xc0 | (cp >> 6)] as string) + BYTE_TO_CHAR[0x80 | (cp & 63)];
  if (cp < 0x10000) {
    return (BYTE_TO_CHAR[0xe0 | (cp >> 12)] as string) + BYTE_TO_CHAR[0x80 | ((cp >> 6) & 63)] + BYTE_TO_CHAR[0x80 | (cp & 63)];
  }
  return (BYTE_TO_CHAR[0xf0 | (cp >> 18)] as string) + BYTE_TO_CHAR[0x80 | ((cp >> 12) & 63)]
    + BYTE_TO_CHAR[0x80 | ((cp >> 6) & 63)] + BYTE_TO_CHAR[0x80 | (cp & 63)];
}

function byteLevel(json: Json, path: string): PreTokenizer {
  const addPrefixSpace = optionalBoolean(json, 'add_prefix_space', path, true);
  const useRegex = optionalBoolean(json, 'use_regex', path, true);
  return (t) => {
    if (addPrefixSpace && t.length > 0 && !t.text.startsWith(' ')) t = t.prepend(' ');
    const words = useRegex ? t.split(GPT2_WORDS, 'isolated') : [t];
    return words.map((w) => w.mapChars(byteChars, 0x21, 0x7e)); // '!'..'~' are their own byte characters
  };
}

const isPunctuation = charClass(PUNCTUATION);

/** BERT's words: split at whitespace (dropped) and around each punctuation character (kept). */
function bertWords(t: AlignedText): AlignedText[] {
  const words: AlignedText[] = [];
  const text = t.text;
  let start = -1;
  for (let i = 0; i < text.length;) {
    const cp = text.codePointAt(i) as number;
    const width = cp > 0xffff ? 2 : 1;
    const space = isWhiteSpace(cp);
    if (space || isPunctuation(cp)) {
      if (start >= 0) words.push(t.slice(start, i));
      if (!space) words.push(t.slice(i, i + width));
      start = -1;
    } else if (start < 0) {
      start = i;
    }
    i += width;
  }
  if (start >= 0) words.push(t.slice(start, text.length));
  return words;
}

type Behavior = 'isolated' | 'removed';

function behaviorOf(json: Json, path: string): Behavior {
  const b = optionalField(json, 'behavior', path, 'string', 'Isolated') as string;
  if (b === 'Isolated') return 'isolated';
  if (b === 'Removed') return 'removed';
  return unsupported(`${path}.behavior`, JSON.stringify(b));
}

/** tokenizer.json's `pre_tokenizer` (null: the whole text is one word). */
export function buildPreTokenizer(json: Json | null, path: string): PreTokenizer | null {
  if (json === null || json === undefined) return null;
  const type = field(json, 'type', path, 'string') as string;
  switch (type) {
    case 'ByteLevel': return byteLevel(json, path);
    case 'BertPreTokenizer': return bertWords;
    case 'Whitespace': return (t) => t.matches(WORDS);
    case 'WhitespaceSplit': return (t) => t.split(WHITE_SPACE_RUN, 'removed');
    case 'Punctuation': {
      const behavior = behaviorOf(json, path);
      return (t) => t.split(PUNCTUATION, behavior);
    }
    case 'Digits': {
      // Rust's char::is_numeric: every Unicode number (Nd, Nl, No), not only 0-9.
      const digits = optionalBoolean(json, 'individual_digits', path, false) ? /\p{N}/gu : /\p{N}+/gu;
      return (t) => t.split(digits, 'isolated');
    }
    case 'Sequence': {
      const list = field(json, 'pretokenizers', path, 'array') as Json[];
      const steps = list.map((p, i) => buildPreTokenizer(p, `${path}.pretokenizers[${i}]`)).filter((p) => p !== null) as PreTokenizer[];
      return (t) => steps.reduce<AlignedText[]>((words, step) => words.flatMap(step), [t]);
    }
    default:
      return unsupported(`${path}.type`, JSON.stringify(type));
  }
}
