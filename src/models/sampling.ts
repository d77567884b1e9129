// Picking the next token from a row of logits, in Hugging Face's order of logits processors:
// repetition penalty, temperature, top-k, top-p; then argmax (greedy) or a draw from a seeded
// PRNG, so a seed gives the same tokens on every runtime.

/** The sampling settings, checked. temperature 0 (or unset, with no topK/topP) is greedy. */
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
 * positive, multiplied when negative. Works in place on `logits`. */
export function penalize(logits: Float32Array, seen: Iterable<number>, penalty: number): void {
  if (penalty === 1) return;
  for (const id of new Set(seen)) {
    const x = logits[id];
    logits[id] = x < 0 ? x * penalty : x / penalty;
  }
}

/** The next token of one row of logits (already penalized). */
export function pick(logits: Float32Array, s: Sampling, random: () => number): number {
  if (s.greedy) return argmax(logits);
  const n = logits.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => logits[b] - logits[a] || a - b);
  let keep = s.topK > 0 ? Math.min(s.topK, n) : n;
  const max = logits[order[0]] / s.temperature;
  const p = new Float64Array(keep);
  let sum = 0;
  for (let i = 0; i < keep; i++) sum += p[i] = Math.exp(logits[order[i]] / s.temperature - max);
  if (s.topP < 1) {
    // Keep the smallest prefix whose probability reaches topP (at least one token).
    let acc = 0, i = 0;
    while (i < keep && acc < s.topP * sum) acc += p[i++];
    keep = Math.max(1, i);
    sum = acc || p[0];
  }
  let u = random() * sum;
  for (let i = 0; i < keep; i++) {
    u -= p[i];
    if (u < 0) return order[i];
  }
  return order[keep - 1];
}

export function argmax(x: Float32Array): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i] > x[best]) best = i; // first of equals, as torch.argmax
  return best;
}
