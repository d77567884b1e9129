// Text that remembers where it came from: every normalizer and pre-tokenizer works on an
// AlignedText, so each token's offsets point into the caller's string (HF's NormalizedString).

/** Any UTF-16 surrogate (half of a pair, or alone). */
const SURROGATE = /[\ud800-\udfff]/;

/** A string and, for each of its UTF-16 units, the range [start, end) of the input string (UTF-16
 * units) it came from. A code point of the input maps every unit it produces to its own range, so a
 * token's offsets are its first unit's start and its last unit's end.
 *
 * Text that is still the input unit for unit (no surrogates, nothing normalized yet: most text)
 * keeps no arrays: unit i came from [base + i, base + i + 1), and slicing it makes no views. */
export class AlignedText {
  private startsOrNull: Int32Array | null;
  private endsOrNull: Int32Array | null;

  /** `starts` and `ends` [text.length]: where each unit's source begins and ends in the input;
   * both null: unit i came from [base + i, base + i + 1). */
  constructor(readonly text: string, starts: Int32Array | null, ends: Int32Array | null, private readonly base = 0) {
    this.startsOrNull = starts;
    this.endsOrNull = ends;
  }

  /** [text.length]: input offset where each unit's source begins. */
  get starts(): Int32Array {
    if (this.startsOrNull === null) this.startsOrNull = Int32Array.from({ length: this.text.length }, (_, i) => this.base + i);
    return this.startsOrNull;
  }

  /** [text.length]: input offset where each unit's source ends. */
  get ends(): Int32Array {
    if (this.endsOrNull === null) this.endsOrNull = Int32Array.from({ length: this.text.length }, (_, i) => this.base + i + 1);
    return this.endsOrNull;
  }

  /** Where unit i's source begins in the input. */
  startOf(i: number): number {
    return this.startsOrNull === null ? this.base + i : this.startsOrNull[i] as number;
  }

  /** Where unit i's source ends in the input. */
  endOf(i: number): number {
    return this.endsOrNull === null ? this.base + i + 1 : this.endsOrNull[i] as number;
  }

  /** The same alignment under another text of the same length (a case mapping, say). */
  withText(text: string): AlignedText {
    return new AlignedText(text, this.startsOrNull, this.endsOrNull, this.base);
  }

  /** The input itself: each unit aligned to its code point (both units of a surrogate pair to both). */
  static of(input: string): AlignedText {
    if (!SURROGATE.test(input)) return new AlignedText(input, null, null); // one unit a code point
    const n = input.length;
    const starts = new Int32Array(n);
    const ends = new Int32Array(n);
    for (let i = 0; i < n;) {
      const width = (input.codePointAt(i) as number) > 0xffff ? 2 : 1;
      for (let u = 0; u < width; u++) {
        starts[i + u] = i;
        ends[i + u] = i + width;
      }
      i += width;
    }
    return new AlignedText(input, starts, ends);
  }

  get length(): number {
    return this.text.length;
  }

  /** Units [a, b) with their alignment (views: an AlignedText is never written after it is made). */
  slice(a: number, b: number): AlignedText {
    const starts = this.startsOrNull, ends = this.endsOrNull;
    if (starts === null || ends === null) return new AlignedText(this.text.slice(a, b), null, null, this.base + a);
    return new AlignedText(this.text.slice(a, b), starts.subarray(a, b), ends.subarray(a, b));
  }

  /** The input range of units [a, b) (a < b). */
  span(a: number, b: number): [number, number] {
    return [this.startOf(a), this.endOf(b - 1)];
  }

  /** Replaces each code point by f(codePoint) ('' removes it); every unit it produces keeps the
   * code point's alignment. Text that f leaves as it is comes back as the same object. Units in
   * [keepFrom, keepTo] are ones f is known to keep (printable ASCII, say): they skip the call. */
  mapChars(f: (ch: string) => string, keepFrom = 1, keepTo = 0): AlignedText {
    const text = this.text;
    let parts: string[] | null = null;
    let starts: number[] = [];
    let ends: number[] = [];
    for (let i = 0; i < text.length;) {
      const unit = text.charCodeAt(i);
      if (unit >= keepFrom && unit <= keepTo) {
        if (parts !== null) {
          parts.push(text[i] as string);
          starts.push(this.startOf(i));
          ends.push(this.endOf(i));
        }
        i++;
        continue;
      }
      const width = (text.codePointAt(i) as number) > 0xffff ? 2 : 1;
      const ch = width === 1 ? (text[i] as string) : text.slice(i, i + 2);
      const out = f(ch);
      if (parts === null) {
        if (out === ch) {
          i += width;
          continue;
        }
        // The first change: everything before it is kept as it is.
        parts = [text.slice(0, i)];
        for (let u = 0; u < i; u++) {
          starts.push(this.startOf(u));
          ends.push(this.endOf(u));
        }
      }
      if (out.length > 0) {
        parts.push(out);
        const s = this.startOf(i);
        const e = this.endOf(i + width - 1);
        for (let u = 0; u < out.length; u++) {
          starts.push(s);
          ends.push(e);
        }
      }
      i += width;
    }
    if (parts === null) return this;
    return new AlignedText(parts.join(''), Int32Array.from(starts), Int32Array.from(ends));
  }

  /** Puts `prefix` before the (non-empty) text, aligned as its first unit is (HF's prepend), so
   * a token made of the prefix alone covers the first character. */
  prepend(prefix: string): AlignedText {
    const n = prefix.length;
    const starts = new Int32Array(n + this.length);
    const ends = new Int32Array(n + this.length);
    starts.fill(this.startOf(0), 0, n);
    ends.fill(this.endOf(0), 0, n);
    starts.set(this.starts, n);
    ends.set(this.ends, n);
    return new AlignedText(prefix + this.text, starts, ends);
  }

  /** Concatenation of pieces (in order). */
  static concat(pieces: readonly AlignedText[]): AlignedText {
    let n = 0;
    for (const p of pieces) n += p.length;
    const starts = new Int32Array(n);
    const ends = new Int32Array(n);
    let at = 0;
    for (const p of pieces) {
      starts.set(p.starts, at);
      ends.set(p.ends, at);
      at += p.length;
    }
    return new AlignedText(pieces.map((p) => p.text).join(''), starts, ends);
  }

  /** Splits at the matches of `pattern` (global, unicode): 'isolated' keeps each match as a
   * piece, 'removed' drops it; the text between matches is kept. Empty pieces are dropped. */
  split(pattern: RegExp, behavior: 'isolated' | 'removed'): AlignedText[] {
    const pieces: AlignedText[] = [];
    let last = 0;
    pattern.lastIndex = 0;
    for (const m of this.text.matchAll(pattern)) {
      const start = m.index as number;
      const end = start + m[0].length;
      if (start > last) pieces.push(this.slice(last, start));
      if (behavior === 'isolated' && end > start) pieces.push(this.slice(start, end));
      last = end;
    }
    if (last < this.length) pieces.push(this.slice(last, this.length));
    return pieces;
  }

  /** Keeps only the matches of `pattern` (global, unicode) as pieces. */
  matches(pattern: RegExp): AlignedText[] {
    const pieces: AlignedText[] = [];
    for (const m of this.text.matchAll(pattern)) {
      if (m[0].length > 0) pieces.push(this.slice(m.index as number, (m.index as number) + m[0].length));
    }
    return pieces;
  }
}

/** Lone surrogates become U+FFFD, as they do on their way into HF's Rust tokenizer (and into
 * UTF-8 anywhere); the length, and so every offset, is unchanged. */
export function wellFormed(text: string): string {
  if (!SURROGATE.test(text)) return text;
  return text.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd');
}
