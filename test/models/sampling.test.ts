// The sampling warpers against a PyTorch re-implementation of Hugging Face's logits processors
// (test/fixtures/make_sampling_fixtures.py): repetition penalty, temperature, top-k (ties at the
// cut kept), top-p, chained in generate's order, over 150 random rows (vocab 2..4096). The kept
// token set must be the same, and the probabilities equal to 1e-6; then pick()'s seeded draws
// must follow that distribution.
import { describe, expect, it } from 'vitest';
import { orderByScore, penalize, pick, prng, warp, type Sampling } from '../../src/models/sampling.js';
import { fixtureF32, loadFixture } from '../helpers/fixtures.js';

const cases = loadFixture('sampling');
const b64 = (s: string) => fixtureF32({ shape: [], b64: s });

function settings(c: Record<string, number>): Sampling {
  return { greedy: false, temperature: c.temperature, topK: c.topK, topP: c.topP, repetitionPenalty: c.repetitionPenalty };
}

describe('orderByScore (the radix sort behind warp)', () => {
  it('gives the comparator order (score descending, ties by higher id), or a prefix of it with top-k, on 400 seeded rows: ties, ±0, −inf, subnormals', () => {
    const seed = 0x5eed;
    const random = prng(seed);
    const special = [0, -0, -Infinity, 1e-45, -1e-45, 3.4028234663852886e38, -3.4028234663852886e38, 1, -1];
    for (let row = 0; row < 400; row++) {
      const n = row === 0 ? 50257 : 1 + Math.floor(random() ** 2 * 5000);
      const levels = 1 + Math.floor(random() * 40); // few distinct values: many ties
      const x = new Float32Array(n);
      // every third row crowded into one binade, as a language model's logits are (-80 ± 0.5):
      // the top-k cut then falls inside one bucket of the keys' top bits
      const crowded = row % 3 === 2;
      for (let i = 0; i < n; i++) {
        const r = random();
        x[i] = crowded ? -80 + (random() - 0.5) * (r < 0.3 ? 0.001 : 1)
          : r < 0.1 ? special[Math.floor(random() * special.length)]! : r < 0.5 ? Math.floor(random() * levels) - levels / 2 : (random() - 0.5) * 40;
      }
      const expected = Array.from({ length: n }, (_, i) => i).sort((a, b) => x[b]! - x[a]! || b - a);
      const got = orderByScore(x);
      for (let i = 0; i < n; i++) {
        if (got[i] !== expected[i]) expect.fail(`seed ${seed}, row ${row} (n ${n}): position ${i} holds id ${got[i]}, expected ${expected[i]}`);
      }
      // with top-k: a prefix of that order, holding the k largest and every id tied with the k-th
      const k = 1 + Math.floor(random() * Math.min(n, 100));
      const prefix = orderByScore(x, k);
      let tied = k;
      while (tied < n && x[expected[tied]!] === x[expected[k - 1]!]) tied++;
      if (prefix.length < tied) expect.fail(`seed ${seed}, row ${row} (n ${n}, k ${k}): ${prefix.length} ids, fewer than the ${tied} kept`);
      for (let i = 0; i < prefix.length; i++) {
        if (prefix[i] !== expected[i]) expect.fail(`seed ${seed}, row ${row} (n ${n}, k ${k}): position ${i} holds id ${prefix[i]}, expected ${expected[i]}`);
      }
    }
  });
});

describe('sampling: HF logits processors', () => {
  it('has the fixture cases, with ties at the top-k cut and cuts that remove tokens', () => {
    expect(cases.length).toBe(150);
    expect(cases.some((c) => c.topK > 0 && c.keptIds.length > c.topK)).toBe(true);
    expect(cases.some((c) => c.topP < 1 && c.keptIds.length < (c.topK || c.vocab))).toBe(true);
  });

  it.each(cases.map((c, i) => [i, c] as const))('case %i: the same kept tokens and probabilities', (_, c) => {
    const logits = b64(c.logits);
    penalize(logits, c.seen, c.repetitionPenalty);
    expect(logits, 'penalized logits, bit for bit').toEqual(b64(c.penalized));
    const { ids, probs } = warp(logits, settings(c));
    const expected = new Map<number, number>();
    const keptProbs = b64(c.keptProbs);
    c.keptIds.forEach((id: number, i: number) => expected.set(id, keptProbs[i]));
    expect([...ids].sort((a, b) => a - b)).toEqual(c.keptIds);
    let total = 0;
    for (let i = 0; i < ids.length; i++) {
      total += probs[i];
      expect(Math.abs(probs[i] - expected.get(ids[i])!), `p(${ids[i]})`).toBeLessThanOrEqual(1e-6);
      if (i > 0) expect(probs[i]).toBeLessThanOrEqual(probs[i - 1]);
    }
    expect(Math.abs(total - 1)).toBeLessThan(1e-12);
  });

  it('ties at the top-p cut: the lower id goes first, as torch\'s stable ascending sort removes it', () => {
    // Kept sets from the fixture script's top_p_warper (HF's) in torch 1.13; torch's sort is
    // stable up to 16 elements (above, it is not, and no order matches it every time).
    const ties: [number[], number, number[]][] = [
      [[1, 1, 0], 0.4, [1]],
      [[2, 0, 2, 2], 0, [3]],
      [[3, 3], 0.5, [1]],
      [[0, 5, 5, 5, 1], 0.5, [2, 3]],
      [[4, 4, 4, 4, 4, 4, 4, 4], 0.3, [5, 6, 7]],
      [[1, 2, 2, 1, 2, 0, 0, 1, 2, 2, 1, 0, 2, 1, 0, 2], 0.55, [2, 4, 8, 9, 12, 15]],
    ];
    for (const [logits, topP, kept] of ties) {
      const { ids } = warp(new Float32Array(logits), { greedy: false, temperature: 1, topK: 0, topP, repetitionPenalty: 1 });
      expect([...ids].sort((a, b) => a - b), `${logits} topP ${topP}`).toEqual(kept);
    }
  });

  it('sums that land on the top-p limit are cut in torch\'s f32 arithmetic, as HF cuts them', () => {
    // Kept counts for n equal logits and topP = j / n, j = 1..n-1, from the fixture script's
    // top_p_warper (HF's) in torch 1.13: f32 probabilities, a cumsum stored in f32, compared with
    // 1 - top_p in f32. In 40 of these 120 rows an f64 sum lands on the other side of the limit.
    // Ties: the highest ids are kept (the lower id goes first).
    const keptCounts: Record<number, number[]> = {
      2: [1],
      3: [1, 2],
      4: [1, 2, 3],
      5: [1, 2, 3, 4],
      6: [2, 2, 3, 4, 5],
      7: [2, 2, 3, 5, 5, 6],
      8: [1, 2, 3, 4, 5, 6, 7],
      9: [1, 2, 3, 4, 5, 6, 7, 8],
      10: [2, 2, 3, 4, 5, 6, 7, 8, 9],
      11: [1, 3, 3, 4, 5, 6, 7, 8, 9, 10],
      12: [1, 3, 3, 4, 6, 6, 8, 8, 9, 10, 11],
      13: [2, 2, 3, 4, 5, 6, 8, 8, 9, 11, 11, 12],
      14: [2, 3, 4, 4, 6, 6, 7, 9, 9, 10, 12, 12, 13],
      15: [2, 3, 4, 4, 5, 6, 7, 9, 10, 10, 11, 13, 13, 14],
      16: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
    };
    const sample = (topP: number): Sampling => ({ greedy: false, temperature: 1, topK: 0, topP, repetitionPenalty: 1 });
    for (const [n, counts] of Object.entries(keptCounts).map(([n, c]) => [Number(n), c] as const)) {
      counts.forEach((count, i) => {
        const { ids, probs } = warp(new Float32Array(n), sample((i + 1) / n));
        expect([...ids].sort((a, b) => a - b), `${n} equal logits, topP ${i + 1}/${n}`)
          .toEqual(Array.from({ length: count }, (_, c) => n - count + c));
        for (const p of probs) expect(p).toBeCloseTo(1 / count, 12);
      });
    }
    // 0.45 / 0.35 / 0.2 with topP 0.45: token 0 alone reaches p (HF keeps [0]; an f64 sum, [0, 1]).
    const row = Float32Array.from([Math.log(0.45), Math.log(0.35), Math.log(0.2)]);
    expect([...warp(row, sample(0.45)).ids]).toEqual([0]);
  });

  it('scores past f32 (temperature or penalty near 0) give the limit, greedy, not the least likely token', () => {
    const s = (temperature: number, topK = 0, topP = 1): Sampling => ({ greedy: false, temperature, topK, topP, repetitionPenalty: 1 });
    for (const t of [1e-38, 1e-40, 1e-45, 1e-50, 5e-324]) {
      for (const logits of [[1, 3, 2.5, -4], [-5, -1, -1.5, -3], [0.5, 0, 2, 2 - 2 ** -22]]) {
        const best = logits.indexOf(Math.max(...logits));
        for (const [k, p] of [[0, 1], [2, 1], [0, 0.5]]) {
          const { ids, probs } = warp(new Float32Array(logits), s(t, k, p));
          const what = `t ${t}, ${logits}, topK ${k}, topP ${p}`;
          expect(ids[0], what).toBe(best);
          expect([...probs], what).toEqual([1, ...new Array(ids.length - 1).fill(0)]);
          if (p < 1) expect(ids.length, what).toBe(1);
          expect(pick(new Float32Array(logits), s(t, k, p), prng(7))).toBe(best);
        }
      }
    }
    // Two exact ties at the max share the mass (the limit of a softmax), in f64 as ever.
    expect([...warp(new Float32Array([3, 1, 3]), s(1e-40)).probs]).toEqual([0.5, 0.5, 0]);
    // A -inf logit (a mask, a huge penalty on a negative logit) is an ordinary 0 probability:
    // the f32 scores stay in use, ties at the k-th f32 score kept (torch 1.13 keeps both here).
    const masked = warp(Float32Array.of(1.9000002, 1.9000001, -Infinity), s(1.5, 1));
    expect([...masked.ids].sort()).toEqual([0, 1]);
    expect([...masked.probs]).toEqual([0.5, 0.5]);
    // A logit of 0 under a penalty that is 0 in f32 stays 0 (torch: 0/0, NaN).
    for (const logits of [[0, 5, 3, -2], [5, 0, 3, -2], [5, 3, 0, -2]]) {
      const z = Float32Array.from(logits);
      penalize(z, [logits.indexOf(0), logits.indexOf(5)], 1e-50); // 0 stays 0, 5 goes to +inf
      expect(Array.from(z).some(Number.isNaN), String(logits)).toBe(false);
      expect(pick(z, s(1), prng(3)), String(logits)).toBe(logits.indexOf(5));
    }
    // A penalty near 0 (1e-50 is 0 in f32, as torch takes it) sends seen positive logits to
    // +inf: they tie, and the rest get 0.
    const row = new Float32Array([2, 5, -1, 4]);
    penalize(row, [0, 1, 2], 1e-50);
    expect([...row]).toEqual([Infinity, Infinity, -0, 4]);
    const w = warp(row, s(1));
    expect([...w.ids]).toEqual([1, 0, 3, 2]);
    expect([...w.probs]).toEqual([0.5, 0.5, 0, 0]);
    // A penalty that f32 holds (1e-40, subnormal) but whose quotients overflow it: the row holds
    // +inf for both seen positive logits, as torch's does; the draw's limit takes them in f64,
    // so the larger logit wins every draw (it was a coin toss between them).
    const both = new Float32Array([1, 3, 2, 0.5]);
    const wide = penalize(both, [1, 3], 1e-40);
    expect([...both]).toEqual([1, Infinity, 2, Infinity]);
    expect([...(wide ?? new Map()).keys()].sort()).toEqual([1, 3]);
    expect([...warp(both, s(1), wide).probs]).toEqual([1, 0, 0, 0]);
    expect(warp(both, s(1), wide).ids[0]).toBe(1);
    const random = prng(11);
    for (let i = 0; i < 200; i++) expect(pick(both, s(1), random, wide)).toBe(1);
    // Greedy stays HF's: the argmax of the f32 row, the first +inf.
    expect(pick(both, { ...s(1), greedy: true }, random, wide)).toBe(1);
    const swapped = new Float32Array([1, 0.5, 2, 3]);
    const wide2 = penalize(swapped, [1, 3], 1e-40);
    expect(pick(swapped, { ...s(1), greedy: true }, random, wide2)).toBe(1);
    for (let i = 0; i < 50; i++) expect(pick(swapped, s(1), random, wide2)).toBe(3);
  });

  it('pick() draws from the warped distribution (20000 seeded draws per row, 4 rows)', () => {
    const rows = cases.filter((c) => c.keptIds.length >= 3 && c.keptIds.length <= 40).slice(0, 4);
    expect(rows.length).toBe(4);
    for (const c of rows) {
      const logits = b64(c.logits);
      penalize(logits, c.seen, c.repetitionPenalty);
      const { ids, probs } = warp(logits, settings(c));
      const random = prng(12345);
      const counts = new Map<number, number>();
      const draws = 20000;
      for (let i = 0; i < draws; i++) {
        const id = pick(logits, settings(c), random);
        counts.set(id, (counts.get(id) ?? 0) + 1);
      }
      for (const id of counts.keys()) expect(ids.includes(id), `drawn ${id} is kept`).toBe(true);
      for (let i = 0; i < ids.length; i++) {
        // 5 standard deviations of a binomial count: fails by chance about once in 2 million
        const mean = draws * probs[i], sd = Math.sqrt(draws * probs[i] * (1 - probs[i]));
        expect(Math.abs((counts.get(ids[i]) ?? 0) - mean), `count of ${ids[i]} (p ${probs[i]})`).toBeLessThanOrEqual(5 * sd + 1);
      }
    }
  });

  it('greedy takes the first NaN of a row, as torch.argmax (NaN above every number)', () => {
    const row = (...xs: number[]): Float32Array => Float32Array.from(xs);
    const greedy = (x: Float32Array): number => pick(x, { greedy: true, temperature: 0, topK: 0, topP: 1, repetitionPenalty: 1 },
      () => { throw new Error('greedy draws nothing'); });
    expect(greedy(row(1, Number.NaN, 3, Number.NaN))).toBe(1); // torch.argmax(tensor([1., nan, 3., nan])) = 1
    expect(greedy(row(Number.NaN, 5))).toBe(0);
    expect(greedy(row(Infinity, Number.NaN))).toBe(1);
    expect(greedy(row(-Infinity, 2, 2, -1))).toBe(1);
  });

  it('greedy is the argmax of the penalized logits (first of equals), whatever the warpers', () => {
    for (const c of cases.slice(0, 40)) {
      const logits = b64(c.logits);
      penalize(logits, c.seen, c.repetitionPenalty);
      let best = 0;
      for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
      expect(pick(logits, { ...settings(c), greedy: true }, () => { throw new Error('greedy draws nothing'); })).toBe(best);
    }
  });
});
