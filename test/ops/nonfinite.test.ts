// Non-finite inputs behave as torch's math path: masks are added, every key is multiplied by its
// probability, so NaN and inf propagate (a NaN is the user's bug signal) — including through keys
// that a causal mask, validLens or trailing key padding excludes, which the kernel otherwise skips.
// The one departure stays: a row whose every logit is -inf gives zeros. Threads 1, 2 and 3 (pool
// forced) give the same bits.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../dist/index.js';
import { forcedEngines } from '../helpers/engines.js';
import { referenceAttention, type RefAttention } from '../reference/attention.js';
import { referenceMha } from '../reference/multi-head-attention.js';
import { randomF32, randomMask } from '../helpers/random.js';
import { expectClose, expectSameBits } from '../helpers/compare.js';

let engines: Engine[] = [];
beforeAll(async () => {
  engines = await forcedEngines();
});
afterAll(async () => {
  await Promise.all(engines.map((e) => e.dispose()));
});

/** NaN positions must agree exactly; finite values within tolerance; same bits on every thread count. */
function check(results: { output: Float32Array; weights?: Float32Array }[], expected: { output: ArrayLike<number>; weights?: ArrayLike<number> }): void {
  for (const r of results.slice(1)) {
    expectSameBits(r.output, results[0].output);
    if (expected.weights) expectSameBits(r.weights!, results[0].weights!);
  }
  expectClose(results[0].output, expected.output, 1e-5, 1e-4, 'output');
  if (expected.weights) expectClose(results[0].weights!, expected.weights, 1e-6, 1e-4, 'weights');
}

type Poison = { where: 'q' | 'k' | 'v'; row: number; col: number; value: number };
interface AttentionCase {
  name: string;
  seqQ: number; seqK: number; headDim: number;
  poison?: Poison[];
  causal?: boolean;
  validLens?: number[]; // per batch entry (batch 2)
  floatMask?: (i: number, j: number) => number;
  boolMask?: (i: number, j: number) => boolean; // true = attend
  returnWeights?: boolean;
}

const B = 2, H = 2;
const cases: AttentionCase[] = [
  { name: 'NaN in a q row', seqQ: 9, seqK: 11, headDim: 8, poison: [{ where: 'q', row: 4, col: 3, value: NaN }] },
  { name: '+inf in a q row', seqQ: 9, seqK: 11, headDim: 8, poison: [{ where: 'q', row: 2, col: 0, value: Infinity }] },
  { name: '-inf in a q row', seqQ: 9, seqK: 11, headDim: 8, poison: [{ where: 'q', row: 7, col: 5, value: -Infinity }] },
  { name: 'NaN in a k row', seqQ: 9, seqK: 11, headDim: 8, poison: [{ where: 'k', row: 6, col: 1, value: NaN }] },
  { name: '+inf in a k row', seqQ: 9, seqK: 11, headDim: 8, poison: [{ where: 'k', row: 3, col: 2, value: Infinity }] },
  { name: 'NaN in a v row (one column)', seqQ: 9, seqK: 11, headDim: 8, poison: [{ where: 'v', row: 5, col: 6, value: NaN }] },
  { name: 'inf in a v row', seqQ: 9, seqK: 11, headDim: 8, poison: [{ where: 'v', row: 0, col: 2, value: Infinity }] },
  { name: 'NaN in a k row, causal (rows before it too: NaN + -inf)', seqQ: 70, seqK: 70, headDim: 16, causal: true,
    poison: [{ where: 'k', row: 66, col: 3, value: NaN }] },
  { name: 'NaN in a v row past every causal limit of a chunk (skipped block)', seqQ: 150, seqK: 150, headDim: 12, causal: true,
    poison: [{ where: 'v', row: 140, col: 4, value: NaN }] },
  { name: 'inf in a k row past validLens', seqQ: 20, seqK: 130, headDim: 8, validLens: [60, 100],
    poison: [{ where: 'k', row: 120, col: 0, value: Infinity }] },
  { name: 'NaN in a k row under a boolean mask', seqQ: 12, seqK: 13, headDim: 8, boolMask: (i, j) => (i + j) % 3 !== 0,
    poison: [{ where: 'k', row: 3, col: 2, value: NaN }] },
  { name: '+inf in a float mask', seqQ: 10, seqK: 12, headDim: 8, floatMask: (i, j) => (i === 4 && j === 7 ? Infinity : 0.1 * (i - j)) },
  { name: 'NaN in a float mask', seqQ: 10, seqK: 12, headDim: 8, floatMask: (i, j) => (i === 6 && j === 1 ? NaN : 0) },
  { name: '+inf in a q row, causal (its logits with the excluded keys: inf + -inf)', seqQ: 70, seqK: 70, headDim: 8, causal: true,
    poison: [{ where: 'q', row: 3, col: 1, value: Infinity }] },
  { name: '-inf in a q row past validLens', seqQ: 20, seqK: 130, headDim: 8, validLens: [60, 100],
    poison: [{ where: 'q', row: 11, col: 2, value: -Infinity }] },
  { name: 'NaN in a float mask at a causally excluded key (NaN + -inf)', seqQ: 70, seqK: 70, headDim: 8, causal: true,
    floatMask: (i, j) => (i === 3 && j === 68 ? NaN : 0.05 * (j - i)) },
  { name: '+inf in a float mask past validLens (+inf + -inf)', seqQ: 20, seqK: 130, headDim: 8, validLens: [60, 100],
    floatMask: (i, j) => (i === 2 && j === 110 ? Infinity : 0) },
  { name: 'a float mask row of -inf gives zeros', seqQ: 10, seqK: 12, headDim: 8, floatMask: (i) => (i === 3 ? -Infinity : 0) },
  { name: 'a fully masked boolean row gives zeros', seqQ: 10, seqK: 12, headDim: 8, boolMask: (i) => i !== 5 },
  { name: 'a fully masked row and a NaN in v: 0·NaN', seqQ: 10, seqK: 12, headDim: 8, boolMask: (i) => i !== 5,
    poison: [{ where: 'v', row: 9, col: 1, value: NaN }] },
  { name: 'decode: key split, NaN in one part', seqQ: 1, seqK: 1100, headDim: 16,
    poison: [{ where: 'k', row: 800, col: 7, value: NaN }], returnWeights: false },
  { name: 'decode: key split, finite', seqQ: 1, seqK: 1100, headDim: 16, returnWeights: false },
];

describe('non-finite inputs: the same masking, however it is expressed', () => {
  // q = +inf against k = [-1, 1]: the logits are [-inf, +inf]; with key 1 masked, torch adds
  // -inf to +inf: NaN, whether the mask is a bool mask, validLens or causal.
  it.each([
    ['a bool mask', { attnMask: Uint8Array.of(1, 0) }],
    ['validLens', { validLens: Int32Array.of(1) }],
    ['causal', { causal: true }],
    ['a float mask', { attnMask: Float32Array.of(0, -Infinity) }],
  ])('%s', async (_, mask) => {
    const f = (...x: number[]): Float32Array => Float32Array.from(x);
    const opts = { batch: 1, heads: 1, seqQ: 1, seqK: 2, headDim: 1, returnWeights: true, ...mask };
    const results = await Promise.all(engines.map((e) => e.attention(f(Infinity), f(-1, 1), f(3, 4), opts)));
    for (const r of results) {
      expect(Number.isNaN(r.output[0]), 'output').toBe(true);
      expect(Array.from(r.weights!).every(Number.isNaN), 'weights').toBe(true);
    }
  });

  it('a NaN in a float mask at a key that causal or validLens excludes: NaN, as torch', async () => {
    const f = (...x: number[]): Float32Array => Float32Array.from(x);
    for (const mask of [{ causal: true }, { validLens: Int32Array.of(1) }]) {
      const opts = { batch: 1, heads: 1, seqQ: 1, seqK: 2, headDim: 1, attnMask: f(0, Number.NaN), ...mask };
      const results = await Promise.all(engines.map((e) => e.attention(f(1), f(1, 2), f(3, 4), opts)));
      for (const r of results) expect(Number.isNaN(r.output[0]), JSON.stringify(Object.keys(mask))).toBe(true);
    }
  });
});

describe('non-finite inputs: attention', () => {
  it.each(cases)('$name', async (c) => {
    const { seqQ, seqK, headDim: d } = c;
    const q = randomF32(B * H * seqQ * d, 1), k = randomF32(B * H * seqK * d, 2), v = randomF32(B * H * seqK * d, 3);
    for (const p of c.poison ?? []) {
      const [x, len] = p.where === 'q' ? [q, seqQ] : p.where === 'k' ? [k, seqK] : [v, seqK];
      x[((1 * H + 0) * len + p.row) * d + p.col] = p.value; // batch 1, head 0
    }
    const opts: Record<string, unknown> = { batch: B, heads: H, seqQ, seqK, headDim: d, returnWeights: c.returnWeights ?? true };
    if (c.causal) opts.causal = true;
    if (c.validLens) opts.validLens = Int32Array.from(c.validLens);
    const plane = (f: (i: number, j: number) => number) => Float32Array.from({ length: seqQ * seqK }, (_, n) => f(Math.floor(n / seqK), n % seqK));
    if (c.floatMask) opts.attnMask = plane(c.floatMask);
    if (c.boolMask) opts.attnMask = Uint8Array.from(plane((i, j) => (c.boolMask!(i, j) ? 1 : 0)));
    const ref: RefAttention = {
      batch: B, heads: H, seqQ, seqK, headDim: d, headDimV: d, scale: 1 / Math.sqrt(d),
      attend: (b, _h, i, j) => (!c.causal || j <= i) && (!c.validLens || j < c.validLens[b]) && (!c.boolMask || c.boolMask(i, j)),
      bias: c.floatMask ? (_b, _h, i, j) => Math.fround(c.floatMask!(i, j)) : undefined,
    };
    const expected = referenceAttention(q, k, v, ref);
    const results = await Promise.all(engines.map((e) => e.attention(q, k, v, opts)));
    check(results, { output: expected.output, weights: opts.returnWeights ? expected.weights : undefined });
    if (c.poison?.length || c.floatMask) {
      // the case is not vacuous: something is non-finite exactly where torch has it, or a row is zero
      expect(results[0].output.some((x) => !Number.isFinite(x)) || c.name.includes('zeros')).toBe(true);
    }
  });
});

describe('non-finite inputs: multi-head attention', () => {
  const E = 12, Hm = 3;
  const w = { wq: randomF32(E * E, 11, 0.3), wk: randomF32(E * E, 12, 0.3), wv: randomF32(E * E, 13, 0.3), wo: randomF32(E * E, 14, 0.3),
    bq: randomF32(E, 15), bk: randomF32(E, 16), bv: randomF32(E, 17), bo: randomF32(E, 18) };
  const inProjWeight = new Float32Array(3 * E * E);
  inProjWeight.set(w.wq); inProjWeight.set(w.wk, E * E); inProjWeight.set(w.wv, 2 * E * E);
  const inProjBias = new Float32Array(3 * E);
  inProjBias.set(w.bq); inProjBias.set(w.bk, E); inProjBias.set(w.bv, 2 * E);
  const weights = { inProjWeight, inProjBias, outProjWeight: w.wo, outProjBias: w.bo };

  it.each([
    ['NaN in a query row (self-attention)', 'query', 3, false, false],
    ['NaN in a key row, causal: every row of its batch entry', 'key', 6, true, false],
    ['NaN in a padded key (trailing key padding): every row of its batch entry', 'key', 9, false, true],
    ['NaN in a value row, padded and causal', 'value', 8, true, true],
  ] as const)('%s', async (_name, where, row, causal, padded) => {
    const Bm = 2, L = 10;
    const x = randomF32(Bm * L * E, 21), y = randomF32(Bm * L * E, 22);
    const self = where === 'query';
    const query = x, key = self ? x : y.slice(), value = self ? x : y.slice();
    const target = where === 'query' ? query : where === 'key' ? key : value;
    target[(1 * L + row) * E + 4] = NaN;
    const keyPaddingMask = padded ? Uint8Array.from({ length: Bm * L }, (_, n) => (n % L >= 8 ? 1 : 0)) : undefined;
    const opts = { batch: Bm, seqQ: L, seqK: L, causal, keyPaddingMask, averageWeights: false };
    const results = await Promise.all(engines.map((e) => e.multiHeadAttention({ embedDim: E, numHeads: Hm, weights }).forward(query, key, value, opts)));
    const expected = referenceMha({ E, H: Hm, kdim: E, vdim: E, ...w }, query, key, value, Bm, L, L,
      (b, _h, i, j) => (!causal || j <= i) && !(keyPaddingMask && keyPaddingMask[b * L + j]));
    check(results, { output: expected.output, weights: expected.headWeights });
    expect(results[0].output.subarray(L * E).some((v) => Number.isNaN(v))).toBe(true); // batch 1 has NaN
    expect(results[0].output.subarray(0, L * E).every((v) => Number.isFinite(v))).toBe(true); // batch 0 does not
  });
});

describe('non-finite inputs: random masks', () => {
  it('random NaN / inf placements under random masks match the reference on 1, 2, 3 threads', async () => {
    for (let trial = 0; trial < 24; trial++) {
      const seqQ = 1 + ((trial * 37) % 90), seqK = 1 + ((trial * 53) % 140), d = 1 + (trial % 9);
      const q = randomF32(B * H * seqQ * d, trial), k = randomF32(B * H * seqK * d, trial + 100);
      const v = randomF32(B * H * seqK * d, trial + 200);
      const target = [q, k, v][trial % 3];
      target[(trial * 7919) % target.length] = [NaN, Infinity, -Infinity][trial % 4 === 3 ? 0 : trial % 3];
      const mask = randomMask(seqQ * seqK, trial, 0.8);
      const causal = trial % 2 === 0;
      const opts = { batch: B, heads: H, seqQ, seqK, headDim: d, causal, attnMask: mask, returnWeights: true };
      const expected = referenceAttention(q, k, v, {
        batch: B, heads: H, seqQ, seqK, headDim: d, headDimV: d, scale: 1 / Math.sqrt(d),
        attend: (_b, _h, i, j) => (!causal || j <= i) && mask[i * seqK + j] !== 0,
      });
      const results = await Promise.all(engines.map((e) => e.attention(q, k, v, opts)));
      try {
        check(results, expected);
      } catch (error) {
        throw new Error(`trial ${trial} (seqQ ${seqQ}, seqK ${seqK}, headDim ${d}, causal ${causal}): ${(error as Error).message}`);
      }
    }
  });
});
