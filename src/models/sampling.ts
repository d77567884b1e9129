// Picking the next token from a row of logits, in Hugging Face's order of logits processors:
// repetition penalty, temperature, top-k, top-p; then argmax (greedy) or a draw from a seeded
// PRNG, so a seed gives the same tokens on every runtime.

/** The sampling settings, checked. temperature 0 (the default) is greedy, whatever topK / topP say. */
export interface Sampling {
  greedy: boolean;
  temperature: number;
  topK: number; // 0: off
  topP: number; // 1: off
  repetitionPenalty: number; // 1: off
}

/** mulberry32: a 32-bit state PRNG, uniform in [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** HF's RepetitionPenaltyLogitsProcessor: a seen token's logit is divided by the penalty when
 * positive, multiplied when negative, once per token, in f32 as torch computes it. Works in
 * place on `logits`. Returns the f64 values of the penalized logits that overflowed f32 (a
 * penalty near 0, where torch's row holds +inf and HF's sampling raises) and that f64 holds,
 * for warp()'s limit; undefined when none did. */
export function penalize(logits: Float32Array, seen: Iterable<number>, penalty: number): Map<number, number> | undefined {
  if (penalty === 1) return undefined;
  const p = Math.fround(penalty);
  let wide: Map<number, number> | undefined;
  for (const id of new Set(seen)) {
    const x = logits[id];
    // A logit of 0 stays 0: 0 / p for any p > 0, and the limit where p is 0 in f32 (torch's 0/0
    // is NaN there, and its generate raises).
    logits[id] = x < 0 ? x * p : x === 0 ? x : x / p;
    if (x > 0 && logits[id] === Infinity && Number.isFinite(x / p)) (wide ??= new Map()).set(id, x / p);
  }
  return wide;
}

/** The distribution a sampled token is drawn from: the tokens HF's warpers keep, most likely
 * first (equal scores: higher id first, the reverse of torch's stable ascending sort, so top-p
 * removes the lower id of a tie first, as HF does), with their probabilities. */
export interface Warped {
  ids: Int32Array;
  probs: Float64Array;
}

/** HF's warpers on one row of (penalized) logits, in generate's order:
 * - TemperatureLogitsWarper: scores / temperature, in f32;
 * - TopKLogitsWarper: removes the scores below the k-th largest, so every token tied with the
 *   k-th is kept;
 * - TopPLogitsWarper: in ascending order of score, removes the tokens while the cumulative
 *   probability (softmax over the kept tokens) stays <= 1 − topP; the most likely is always kept.
 *   The cut is torch's arithmetic: f32 probabilities summed in f64 and each partial sum stored
 *   in f32 (torch's CPU cumsum), compared with 1 − topP rounded to f32 (a tensor against a
 *   Python float), so a sum that lands on the limit (equal logits, 0.45 / 0.35 / 0.2 with topP
 *   0.45) is cut on HF's side of it.
 * Probabilities are the softmax of the kept scores, in f64 (a score of −inf gets 0, as in HF).
 * Where the largest score is not finite (a temperature or a repetition penalty near 0 on ordinary
 * logits sends it to ±inf, where HF's generate raises on its NaN probabilities) the same softmax
 * is taken as exp((logit − max logit) / temperature) in f64, ordered by the logits, with the
 * f64 values penalize() returned (`wide`) for the logits it sent past f32: its limit, greedy
 * (exact ties at the max share it: a penalty that is 0 in f32 sends every seen positive logit
 * to +inf alike). Rows unsampleable() refuses (a NaN, a +inf, all −inf) are not supported:
 * generate rejects them before sampling. */
export function warp(logits: Float32Array, s: Sampling, wide?: ReadonlyMap<number, number>): Warped {
  const n = logits.length;
  const t = Math.fround(s.temperature);
  const scores = new Float32Array(n);
  let top = -Infinity, nan = false;
  for (let i = 0; i < n; i++) {
    scores[i] = logits[i] / t;
    if (scores[i] > top) top = scores[i];
    else if (Number.isNaN(scores[i])) nan = true; // 0/0, where t is 0 in f32
  }
  const finite = !nan && Number.isFinite(top);
  // the same order where both are finite: t > 0
  let key: Float32Array | Float64Array = scores;
  if (!finite) {
    key = Float64Array.from(logits);
    if (wide) for (const [id, x] of wide) key[id] = x;
  }
  // A comparator sort of GPT-2's 50257 ids took ~20 ms a token here, 2.5 times an int8 decoding
  // step; the radix sort gives the same order in 1.5–2.5 ms, and with top-k only a prefix of it.
  const order = key instanceof Float32Array ? orderByScore(key, s.topK)
    : Array.from({ length: n }, (_, i) => i).sort((a, b) => key[b] - key[a] || b - a);
  let keep = order.length;
  if (s.topK > 0 && s.topK < n) {
    const kth = key[order[s.topK - 1]];
    keep = s.topK;
    while (keep < order.length && key[order[keep]] >= kth) keep++;
  }
  const max = key[order[0]];
  let probs = new Float64Array(keep);
  let sum = 0;
  for (let i = 0; i < keep; i++) {
    const x = key[order[i]];
    // x === max first: a logit of +inf (a penalty's overflow) against itself gives 0, not NaN.
    sum += probs[i] = x === max ? 1 : Math.exp(finite ? x - max : (x - max) / s.temperature);
  }
  for (let i = 0; i < keep; i++) probs[i] /= sum;
  if (s.topP < 1) {
    const limit = Math.fround(1 - s.topP);
    let removed = 0, cumulative = 0;
    while (removed < keep - 1) {
      cumulative += Math.fround(probs[keep - 1 - removed]);
      if (!(Math.fround(cumulative) <= limit)) break;
      removed++;
    }
    if (removed > 0) {
      keep -= removed;
      let kept = 0;
      for (let i = 0; i < keep; i++) kept += probs[i];
      probs = probs.subarray(0, keep);
      for (let i = 0; i < keep; i++) probs[i] /= kept; // a loop: map's closure cost ~1 ms over 37k tokens
    }
  }
  return { ids: order instanceof Int32Array ? order.slice(0, keep) : Int32Array.from(order.slice(0, keep)), probs };
}

/** Rows this short are ordered by the comparator sort (the radix sort's 2048-bucket passes cost
 * more there: GPT-2's char-level model has 63 tokens). */
const SHORT_ROW = 256;

/**
 * The indices of `scores` (no NaN) by score, largest first, equal scores (−0 and +0 alike) by the
 * higher index first: the order of `sort((a, b) => scores[b] - scores[a] || b - a)`. With `topK`
 * in (0, n), only a prefix of that order that holds the topK largest and every index tied with
 * the topK-th. A stable LSD radix sort of the scores' bits mapped to unsigned keys that ascend as
 * the scores descend, in three passes of 11 bits over indices listed from the highest down; with
 * top-k (rows longer than SHORT_ROW), of the indices whose key is at most the topK-th key in its top 22 bits (found by a
 * histogram of the top 11 bits, then of the next 11 within the topK-th's bucket: logits crowd a
 * few exponents, so one level alone kept 10k of GPT-2's 50k ids).
 */
export function orderByScore(scores: Float32Array, topK = 0): Int32Array {
  const n = scores.length;
  if (n <= SHORT_ROW) return Int32Array.from(Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[b]! - scores[a]! || b - a));
  const bits = new Uint32Array(scores.buffer, scores.byteOffset, n);
  const keys = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    const b = scores[i] === 0 ? 0 : bits[i]!; // −0 ties with +0
    // ascending in the score: negative → ~b, else b with the sign bit set; inverted: descending
    keys[i] = b & 0x80000000 ? b : ~(b | 0x80000000) >>> 0;
  }
  const count = new Int32Array(2048);
  let cut = 0xffffffff; // the largest key >>> 10 a listed index may have
  if (topK > 0 && topK < n) {
    for (let i = 0; i < n; i++) count[keys[i]! >>> 21]!++;
    let top = 0, below = 0;
    while (below + count[top]! < topK) below += count[top++]!;
    count.fill(0);
    for (let i = 0; i < n; i++) if (keys[i]! >>> 21 === top) count[(keys[i]! >>> 10) & 2047]!++;
    let next = 0;
    while (below + count[next]! < topK) below += count[next++]!;
    cut = (top << 11) | next;
  }
  let m = 0;
  let src = new Int32Array(n);
  for (let i = n - 1; i >= 0; i--) if (keys[i]! >>> 10 <= cut) src[m++] = i;
  if (m < n) src = src.subarray(0, m);
  let dst = new Int32Array(m);
  for (let shift = 0; shift < 32; shift += 11) {
    count.fill(0);
    for (let i = 0; i < m; i++) count[(keys[src[i]!]! >>> shift) & 2047]!++;
    for (let d = 0, at = 0; d < 2048; d++) {
      const c = count[d]!;
      count[d] = at;
      at += c;
    }
    for (let i = 0; i < m; i++) {
      const id = src[i]!;
      dst[count[(keys[id]! >>> shift) & 2047]!++] = id;
    }
    [src, dst] = [dst, src];
  }
  return src;
}

/** The next token of one row of logits (already penalized; `wide` what penalize() returned):
 * the argmax when greedy, else a draw from warp()'s distribution with one uniform number from
 * `random`. */
export function pick(logits: Float32Array, s: Sampling, random: () => number, wide?: ReadonlyMap<number, number>): number {
  if (s.greedy) return argmax(logits);
  const { ids, probs } = warp(logits, s, wide);
  let u = random();
  for (let i = 0; i < ids.length; i++) {
    u -= probs[i];
    if (u < 0) return ids[i];
  }
  return ids[ids.length - 1];
}

/** torch.argmax of a row: the first of equal maxima, and the first NaN where the row holds one
 * (torch orders NaN above every number, so HF's greedy decoding picks it). */
export function argmax(x: Float32Array): number {
  let best = 0;
  if (Number.isNaN(x[0])) return 0;
  for (let i = 1; i < x.length; i++) {
    const v = x[i] as number;
    if (v > (x[best] as number)) best = i;
    else if (v !== v) return i;
  }
  return best;
}

/** Why a row of logits from the model has no distribution to sample from, or undefined when it
 * has one: its first NaN, else its first +inf, else every logit −inf. HF's softmax gives NaN
 * probabilities for each of these, and torch.multinomial raises on them. (A +inf that a
 * repetition penalty or a temperature near 0 makes from finite logits is not one of them: warp()
 * takes its limit.) */
export function unsampleable(x: Float32Array): string | undefined {
  let inf = -1, any = false;
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    if (v !== v) return `hold NaN (token ${i})`;
    if (v === Infinity) {
      if (inf < 0) inf = i;
    } else if (v !== -Infinity) any = true;
  }
  if (inf >= 0) return `hold +inf (token ${inf})`;
  return any ? undefined : 'are all -inf';
}
