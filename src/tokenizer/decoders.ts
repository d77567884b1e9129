// tokenizer.json's `decoder`: tokens back to text. Each step maps the list of token strings to
// another (HF's decode_chain); decode joins the last list.
import { BYTE_TO_CHAR } from './pre-tokenizers.js';
import { field, fileError, optionalBoolean, optionalField, optionalInteger, unsupported, type Json } from './json.js';

export type Decoder = (tokens: string[]) => string[];

const CHAR_TO_BYTE = new Map<string, number>(BYTE_TO_CHAR.map((ch, b) => [ch, b]));
const UTF8 = new TextEncoder();

/** GPT-2's byte characters back to bytes, then UTF-8 with U+FFFD for invalid sequences (Rust's
 * from_utf8_lossy and TextDecoder replace the same maximal subparts). A token with a character
 * outside the byte table contributes its own UTF-8 (an added token such as <|endoftext|>). */
function byteLevel(tokens: string[]): string[] {
  const bytes: number[] = [];
  for (const token of tokens) {
    const mapped: number[] = [];
    let ok = true;
    for (const ch of token) {
      const b = CHAR_TO_BYTE.get(ch);
      if (b === undefined) {
        ok = false;
        break;
      }
      mapped.push(b);
    }
    if (ok) bytes.push(...mapped);
    else bytes.push(...UTF8.encode(token));
  }
  // ignoreBOM: a leading U+FEFF is text here, as it is to Rust.
  return [new TextDecoder('utf-8', { ignoreBOM: true }).decode(Uint8Array.from(bytes))];
}

/** transformers' clean_up_tokenization (decode's clean_up_tokenization_spaces): the spaces a
 * tokenization put around punctuation and English contractions. */
export function cleanUpTokenizationSpaces(text: string): string {
  return text.replaceAll(' .', '.').replaceAll(' ?', '?').replaceAll(' !', '!').replaceAll(' ,', ',')
    .replaceAll(" ' ", "'").replaceAll(" n't", "n't").replaceAll(" 'm", "'m")
    .replaceAll(" 's", "'s").replaceAll(" 've", "'ve").replaceAll(" 're", "'re");
}

/** HF's Rust WordPiece decoder's cleanup: transformers' list plus " do not" → " don't" (no rule
 * of that list makes or unmakes " do not", so the order does not matter). */
export function cleanUpTokenization(text: string): string {
  return cleanUpTokenizationSpaces(text).replaceAll(' do not', " don't");
}

function wordPiece(json: Json, path: string): Decoder {
  const prefix = optionalField(json, 'prefix', path, 'string', '##') as string;
  const cleanup = optionalBoolean(json, 'cleanup', path, true);
  return (tokens) => tokens.map((token, i) => {
    let t = token;
    if (i !== 0) t = t.startsWith(prefix) ? t.slice(prefix.length) : ` ${t}`;
    return cleanup ? cleanUpTokenization(t) : t;
  });
}

/** tokenizer.json's `decoder` (null: tokens joined with spaces, as HF does without one). */
export function buildDecoder(json: Json | null, path: string): Decoder | null {
  if (json === null || json === undefined) return null;
  const type = field(json, 'type', path, 'string') as string;
  switch (type) {
    case 'ByteLevel': return byteLevel;
    case 'WordPiece': return wordPiece(json, path);
    case 'BPEDecoder': {
      const suffix = optionalField(json, 'suffix', path, 'string', '</w>') as string;
      return (tokens) => tokens.map((t, i) => t.replaceAll(suffix, i === tokens.length - 1 ? '' : ' '));
    }
    case 'Fuse': return (tokens) => [tokens.join('')];
    case 'Strip': {
      const content = field(json, 'content', path, 'string') as string;
      if ([...content].length !== 1) throw fileError(`${path}.content`, `must be one character, got ${JSON.stringify(content)}`);
      const start = optionalInteger(json, 'start', path, 0, 0);
      const stop = optionalInteger(json, 'stop', path, 0, 0);
      return (tokens) => tokens.map((token) => {
        const chars = [...token];
        let a = 0;
        let b = chars.length;
        for (let i = 0; i < start && a < b && chars[a] === content; i++) a++;
        for (let i = 0; i < stop && b > a && chars[b - 1] === content; i++) b--;
        return chars.slice(a, b).join('');
      });
    }
    case 'Replace': {
      const pattern = field(json, 'pattern', path, 'object') as Json;
      if (typeof pattern['String'] !== 'string') unsupported(`${path}.pattern`, 'a Regex pattern (only {"String": …} patterns are supported)');
      const from = pattern['String'] as string;
      const content = field(json, 'content', path, 'string') as string;
      if (from.length === 0) unsupported(`${path}.pattern.String`, 'empty (HF inserts the content between every two characters)');
      return (tokens) => tokens.map((t) => t.replaceAll(from, content));
    }
    case 'Sequence': {
      const list = field(json, 'decoders', path, 'array') as Json[];
      const steps = list.map((d, i) => buildDecoder(d, `${path}.decoders[${i}]`)).filter((d) => d !== null) as Decoder[];
      return (tokens) => steps.reduce((acc, step) => step(acc), tokens);
    }
    default:
      return unsupported(`${path}.type`, JSON.stringify(type));
  }
}
