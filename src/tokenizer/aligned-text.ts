// Text that remembers where it came from: every normalizer and pre-tokenizer works on an
// AlignedText, so each token's offsets point into the caller's string (HF's NormalizedString).

/** A string and, for each of its UTF-16 units, the range [start, end) of the input string (UTF-16
 * units) it came from. A code point of the input maps every unit it produces to its own range, so a
 * token's offsets are its first unit's start and its last unit's end. */
export class AlignedText {
  constructor(
    readonly text: string,
    /** [text.length]: input offset where the unit's source begins. */
    readonly starts: Int32Array,
    /** [text.length]: input offset where the unit's source ends. */
    readonly ends: Int32Array,
  ) {}

  /** The input itself: each unit aligned to its code point (both units of a surrogate pair to both). */
  static of(input: string): AlignedText {
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
    return new AlignedText(this.text.slice(a, b), this.starts.subarray(a, b), this.ends.subarray(a, b));
  }

  /** The input range of units [a, b) (a < b). */
  span(a: number, b: number): [number, number] {
    return [this.starts[a] as number, this.ends[b - 1] as number];
  }

  /** Replaces each code point by f(codePoint) ('' removes it); every unit it produces keeps the
   * code point's alignment. Text that f leaves as it is comes back as the same object. */
  mapChars(f: (ch: string) => string): AlignedText {
    const text = this.text;
    let parts: string[] | null = null;
    let starts: number[] = [];
    let ends: number[] = [];
    for (let i = 0; i < text.length;) {
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
        starts = Array.from(this.starts.subarray(0, i));
        ends = Array.from(this.ends.subarray(0, i));
      }
      if (out.length > 0) {
        parts.push(out);
        const s = this.starts[i] as number;
        const e = this.ends[i + width - 1] as number;
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
    starts.fill(this.starts[0] as number, 0, n);
    ends.fill(this.ends[0] as number, 0, n);
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
  return text.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd');
}
