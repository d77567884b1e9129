// A Unicode character class as a fast test: the class's regex decides each BMP code point once,
// the first time it is asked, into a 64 K table; code points above the BMP ask the regex.

/** `pattern` matches one code point (any flags; it is re-anchored). */
export function charClass(pattern: RegExp): (cp: number) => boolean {
  const one = new RegExp(`^(?:${pattern.source})$`, 'u');
  const bmp = new Uint8Array(0x10000); // 0 unknown, 1 outside, 2 inside
  return (cp) => {
    if (cp > 0xffff) return one.test(String.fromCodePoint(cp));
    let v = bmp[cp] as number;
    if (v === 0) bmp[cp] = v = one.test(String.fromCharCode(cp)) ? 2 : 1;
    return v === 2;
  };
}

/** Unicode White_Space: Rust's `char::is_whitespace` and Oniguruma's `\s` (not JavaScript's
 * `\s`, which adds U+FEFF and lacks U+0085). */
export const isWhiteSpace = charClass(/\p{White_Space}/u);
