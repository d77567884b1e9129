// AlignedText's two representations against each other: text that is still the input unit for
// unit keeps no offset arrays (unit i came from base + i), and every operation must give what the
// same operation gives on the same text with its offsets spelled out in arrays. Seeded random
// chains of slice, mapChars (with and without a keep range), withText, prepend, concat, split and
// matches; each result is compared unit by unit (text, starts, ends, startOf, endOf, span).
// WASM_ATTENTION_SEED picks the seed (default 0xa11e); a failure names it and the chain.
import { describe, expect, it } from 'vitest';
import { AlignedText } from '../../src/tokenizer/aligned-text.js';
import { rng } from '../helpers/random.js';

const SEED = Number(process.env.WASM_ATTENTION_SEED ?? 0xa11e);
const CHAINS = 400;

/** The same text with explicit identity offsets (what AlignedText.of made before it kept none). */
function spelledOut(text: string): AlignedText {
  return new AlignedText(text, Int32Array.from(text, (_, i) => i), Int32Array.from(text, (_, i) => i + 1));
}

/** Text and per-unit offsets through startOf/endOf, which (unlike the starts/ends getters, which
 * keep the arrays they make) leave a text without arrays as it is. */
function units(t: AlignedText): { text: string; startOf: number[]; endOf: number[] } {
  const n = t.text.length;
  return { text: t.text, startOf: Array.from({ length: n }, (_, i) => t.startOf(i)), endOf: Array.from({ length: n }, (_, i) => t.endOf(i)) };
}

/** The arrays themselves (made on the first ask where there were none). */
function arrays(t: AlignedText): { starts: number[]; ends: number[] } {
  return { starts: Array.from(t.starts), ends: Array.from(t.ends) };
}

// Printable ASCII, controls, spaces, accents (decomposable), CJK: no surrogates, so `of` keeps no arrays.
const ALPHABET = [...'abcXYZ019 .,!?-\'', '\t', '\n', '\u00e9', '\u00c5', '\u0301', '\u4e2d', '\u00a0', '\u0085', 'I', '\u03a3'];
const MAPS: [string, (ch: string) => string, number, number][] = [
  ['upper', (ch) => ch.toUpperCase(), 1, 0],
  ['drop spaces (keeps 0x21..0x7e)', (ch) => (ch === ' ' || ch === '\t' || ch === '\n' ? '' : ch), 0x21, 0x7e],
  ['double non-ASCII (keeps 0..0x7f)', (ch) => (ch.charCodeAt(0) > 0x7f ? ch + ch : ch), 0, 0x7f],
  ['identity', (ch) => ch, 1, 0],
];

describe('AlignedText: no offset arrays gives what spelled-out offsets give', () => {
  it(`${CHAINS} seeded random chains of operations (seed ${SEED})`, () => {
    const next = rng(SEED);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)] as T;
    for (let chain = 0; chain < CHAINS; chain++) {
      const length = Math.floor(next() * 24);
      const text = Array.from({ length }, () => pick(ALPHABET)).join('');
      let a = AlignedText.of(text), b = spelledOut(text);
      const steps: string[] = [];
      const where = (): string => `seed ${SEED}, chain ${chain}: ${JSON.stringify(text)} → ${steps.join(' → ')}`;
      expect(units(a), where()).toEqual(units(b));
      for (let step = 0; step < 6 && a.length > 0; step++) {
        const op = Math.floor(next() * 7);
        if (op === 0) {
          const i = Math.floor(next() * (a.length + 1)), j = i + Math.floor(next() * (a.length - i + 1));
          steps.push(`slice(${i}, ${j})`);
          [a, b] = [a.slice(i, j), b.slice(i, j)];
        } else if (op === 1) {
          const [name, f, from, to] = pick(MAPS);
          steps.push(`mapChars(${name})`);
          // The keep range only where f keeps those units; the spelled-out side never skips.
          [a, b] = [a.mapChars(f, from, to), b.mapChars(f)];
        } else if (op === 2) {
          steps.push('withText(lower)');
          const lower = a.text.toLowerCase();
          if (lower.length !== a.length) continue;
          [a, b] = [a.withText(lower), b.withText(lower)];
        } else if (op === 3) {
          steps.push('prepend("_")');
          [a, b] = [a.prepend('_'), b.prepend('_')];
        } else if (op === 4) {
          const i = Math.floor(next() * (a.length + 1));
          steps.push(`concat at ${i}`);
          [a, b] = [AlignedText.concat([a.slice(i, a.length), a.slice(0, i)]), AlignedText.concat([b.slice(i, b.length), b.slice(0, i)])];
        } else if (op === 5) {
          steps.push('split(/\\s+/, removed)[last]');
          const pa = a.split(/\s+/gu, 'removed'), pb = b.split(/\s+/gu, 'removed');
          expect(pa.map(units), where()).toEqual(pb.map(units));
          if (pa.length === 0) break;
          [a, b] = [pa[pa.length - 1] as AlignedText, pb[pb.length - 1] as AlignedText];
        } else {
          steps.push('matches(/\\p{L}+/)[0]');
          const pa = a.matches(/\p{L}+/gu), pb = b.matches(/\p{L}+/gu);
          expect(pa.map(units), where()).toEqual(pb.map(units));
          if (pa.length === 0) break;
          [a, b] = [pa[0] as AlignedText, pb[0] as AlignedText];
        }
        expect(units(a), where()).toEqual(units(b));
        if (a.length > 0) expect(a.span(0, a.length), where()).toEqual(b.span(0, b.length));
      }
      expect(arrays(a), where()).toEqual(arrays(b));
      expect(units(a), where()).toEqual(units(b));
    }
  });

  it('keeps no arrays until they are asked for, and then the right ones', () => {
    const t = AlignedText.of('hello world').slice(6, 11);
    expect([t.startOf(0), t.endOf(4), ...t.span(1, 3)]).toEqual([6, 11, 7, 9]);
    expect(Array.from(t.starts)).toEqual([6, 7, 8, 9, 10]);
    expect(Array.from(t.ends)).toEqual([7, 8, 9, 10, 11]);
    // A surrogate pair: both units map to the pair's range, as before.
    const s = AlignedText.of('a\u{1F600}b');
    expect(Array.from(s.starts)).toEqual([0, 1, 1, 3]);
    expect(Array.from(s.ends)).toEqual([1, 3, 3, 4]);
  });
});
