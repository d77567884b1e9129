// The seeded generator every randomized test draws from (mulberry32), as plain JS so that scripts
// outside vitest (bench/, scripts/) draw the same numbers. test/helpers/random.ts re-exports it.

/** @param {number} seed @returns {() => number} uniform in [0, 1) */
export function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
