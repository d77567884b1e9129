// Timing: warm up until the engine has tiered up (>= warmupMs of calls), then the median and
// minimum of >= runs timed calls. One async function per measurement.

export async function measure(fn, { warmupMs = 1500, runs = 10, maxMs = 60000 } = {}) {
  const start = performance.now();
  let warm = 0;
  while (performance.now() - start < warmupMs || warm < 2) {
    await fn();
    warm++;
  }
  const times = [];
  const t0 = performance.now();
  while (times.length < runs || (times.length < 3 * runs && performance.now() - t0 < 2000)) {
    const t = performance.now();
    await fn();
    times.push(performance.now() - t);
    if (performance.now() - t0 > maxMs && times.length >= 3) break;
  }
  times.sort((a, b) => a - b);
  return { median: times[times.length >> 1], min: times[0], runs: times.length };
}

/** Largest |a - b| over two arrays (Infinity when their lengths differ: a truncated output). */
export function maxAbsDiff(a, b) {
  if (a.length !== b.length) return Infinity;
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

/** The measurements whose output is wrong: off by more than 1e-3 from their reference (or NaN),
 * of another length (maxAbsDiff: Infinity), or with other greedy tokens. int8 rows against ORT
 * q8 (`isQ8(row)`) compare two quantizations: only a missing or truncated output counts there.
 * Rows without a check (maxDiff null: the other side had not run yet) and skipped rows pass. */
export function mismatches(measurements, isQ8) {
  return measurements.filter((r) => !r.skipped && r.maxDiff !== null && r.maxDiff !== undefined &&
    (isQ8(r) ? !Number.isFinite(r.maxDiff) : !(r.maxDiff <= 1e-3) || r.tokensMatch === false));
}

/** Deterministic uniform data in [-scale, scale). */
export function randomF32(length, seed, scale = 1) {
  let s = seed >>> 0;
  const out = new Float32Array(length);
  for (let i = 0; i < length; i++) {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = ((((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1) * scale;
  }
  return out;
}

/** The fastest of `reps` timed calls of a synchronous `fn`, in ms. */
export function fastest(fn, reps) {
  let min = Infinity;
  for (let r = 0; r < reps; r++) {
    const t = performance.now();
    fn();
    min = Math.min(min, performance.now() - t);
  }
  return min;
}

/**
 * Times `fns` in alternation: `rounds` rounds, each taking the fastest of `reps` calls of every
 * function in turn. A ratio of two of them taken round by round holds while the machine's load
 * changes, which a ratio of two medians taken minutes apart does not. Returns, per function,
 * its fastest time (ms) in each round. The caller warms the functions up first.
 */
export function alternate(fns, { rounds = 15, reps = 3 } = {}) {
  const times = fns.map(() => []);
  for (let round = 0; round < rounds; round++) {
    fns.forEach((fn, i) => times[i].push(fastest(fn, reps)));
  }
  return times;
}

/** Median of an array of numbers. */
export const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
