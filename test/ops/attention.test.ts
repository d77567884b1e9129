// engine.attention against the float64 reference: sizes across the query tile (4) and key
// block (64), every mask kind, causal with seqQ != seqK, fully masked rows, large logits.
import { beforeAll, describe, expect, it } from 'vitest';
import { createEngine, type AttentionOptions, type Engine } from '../../dist/index.js';
import { kernelVariants } from '../helpers/kernels.js';
import { randomF32, randomInts, randomMask } from '../helpers/random.js';
import { referenceAttention, type RefAttention } from '../reference/attention.js';
import { expectClose } from '../helpers/compare.js';

interface Case {
  o: AttentionOptions;
  seed?: number;
  magnitude?: number;
}

function inputs(o: AttentionOptions, seed: number, magnitude = 1) {
  const dv = o.headDimV ?? o.headDim;
  return {
    q: randomF32(o.batch * o.heads * o.seqQ * o.headDim, seed, magnitude),
    k: randomF32(o.batch * o.heads * o.seqK * o.headDim, seed + 1, magnitude),
    v: randomF32(o.batch * o.heads * o.seqK * dv, seed + 2),
  };
}

/** The reference's view of the options: which (b, h, i, j) attend, what is added. */
function referenceOptions(o: AttentionOptions): RefAttention {
  const plane = o.seqQ * o.seqK;
  const maskIndex = (b: number, h: number, i: number, j: number) =>
    (o.attnMask!.length === plane ? 0 : (b * o.heads + h) * plane) + i * o.seqK + j;
  const lens = o.validLens;
  return {
    batch: o.batch, heads: o.heads, seqQ: o.seqQ, seqK: o.seqK, headDim: o.headDim,
    headDimV: o.headDimV ?? o.headDim, scale: o.scale ?? 1 / Math.sqrt(o.headDim),
    attend: (b, h, i, j) => {
      if (o.causal && j > i) return false;
      if (o.attnMask instanceof Uint8Array && o.attnMask[maskIndex(b, h, i, j)] === 0) return false;
      if (lens && j >= (lens.length === o.batch ? lens[b] : lens[b * o.seqQ + i])) return false;
      return true;
    },
    bias: o.attnMask instanceof Float32Array ? (b, h, i, j) => (o.attnMask as Float32Array)[maskIndex(b, h, i, j)] : undefined,
  };
}

async function check(engine: Engine, { o, seed = 1, magnitude = 1 }: Case): Promise<void> {
  const { q, k, v } = inputs(o, seed, magnitude);
  const copies = [q.slice(), k.slice(), v.slice(), o.attnMask?.slice(), o.validLens?.slice()];
  const result = await engine.attention(q, k, v, { ...o, returnWeights: true });
  const expected = referenceAttention(q, k, v, referenceOptions(o));
  const name = JSON.stringify({ ...o, attnMask: o.attnMask?.constructor.name, validLens: o.validLens?.length });
  // Logits of size L lose ~L·2^-24 absolute precision in f32 before the exp.
  const logitError = 3e-7 * Math.max(1, magnitude * magnitude * o.headDim * (o.scale ?? 1 / Math.sqrt(o.headDim)));
  expectClose(result.weights!, expected.weights, 2e-6 + logitError, 1e-5, `weights ${name}`);
  expectClose(result.output, expected.output, 2e-6 + logitError, 1e-5, `output ${name}`);
  expect([q, k, v, o.attnMask, o.validLens]).toEqual(copies); // inputs untouched
  const plain = await engine.attention(q, k, v, { ...o, returnWeights: false });
  expect(plain.weights).toBeUndefined();
  expect(plain.output).toEqual(result.output); // the weights write-out changes nothing
}

describe.each(kernelVariants())('attention (%s)', (variant) => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await createEngine({ threads: 1, kernels: variant });
    return () => engine.dispose();
  });

  it('sizes across the query tile and the key block', async () => {
    let seed = 1;
    for (const seqQ of [1, 2, 3, 4, 5, 7, 9, 17]) {
      for (const seqK of [1, 3, 4, 5, 63, 64, 65, 129]) {
        await check(engine, { o: { batch: 1, heads: 2, seqQ, seqK, headDim: 8 }, seed: seed++ });
      }
    }
  });

  it('head sizes across the vector edges, headDimV != headDim, custom scale', async () => {
    for (const headDim of [1, 3, 4, 5, 7, 8, 9, 16, 17, 33, 64]) {
      await check(engine, { o: { batch: 2, heads: 3, seqQ: 5, seqK: 7, headDim }, seed: headDim });
      await check(engine, { o: { batch: 1, heads: 2, seqQ: 6, seqK: 9, headDim, headDimV: headDim + 3, scale: 0.3 } });
    }
  });

  it('both S paths: packed (query chunks of >= 8 rows, headDim <= 128) and unpacked (fewer rows, or larger heads)', async () => {
    let seed = 100;
    for (const headDim of [1, 3, 5, 8, 17, 33, 64, 80, 128, 129, 150]) {
      for (const seqQ of [8, 64, 129].includes(headDim) ? [3, 8, 37, 69] : [3, 8, 37]) {
        await check(engine, { o: { batch: 1, heads: 2, seqQ, seqK: 70, headDim, headDimV: headDim + 1, causal: seqQ > 30 }, seed: seed++ });
        await check(engine, {
          o: { batch: 2, heads: 1, seqQ, seqK: 150, headDim, validLens: new Int32Array([150, 67]), scale: 0.2 },
          seed: seed++,
        });
      }
    }
  });

  it('causal, top-left aligned, with seqQ < seqK, seqQ = seqK and seqQ > seqK', async () => {
    for (const [seqQ, seqK] of [[5, 5], [3, 9], [9, 3], [70, 130], [130, 70], [1, 1], [4, 200]]) {
      await check(engine, { o: { batch: 2, heads: 2, seqQ, seqK, headDim: 8, causal: true } });
    }
  });

  it('boolean masks [seqQ, seqK] and [batch, heads, seqQ, seqK], with fully masked rows', async () => {
    for (const [seqQ, seqK] of [[5, 7], [9, 65], [4, 4]]) {
      const two = randomMask(seqQ * seqK, seqQ, 0.6);
      two.fill(0, 0, seqK); // row 0: no key may be seen
      await check(engine, { o: { batch: 2, heads: 3, seqQ, seqK, headDim: 5, attnMask: two } });
      const four = randomMask(2 * 3 * seqQ * seqK, seqK, 0.5);
      four.fill(0, seqQ * seqK, 2 * seqQ * seqK); // a whole (batch 0, head 1) slice masked
      await check(engine, { o: { batch: 2, heads: 3, seqQ, seqK, headDim: 5, attnMask: four } });
      await check(engine, { o: { batch: 2, heads: 3, seqQ, seqK, headDim: 5, attnMask: four, causal: true } });
    }
  });

  it('float masks (added, may hold -inf) in both shapes', async () => {
    const seqQ = 6, seqK = 67;
    const two = randomF32(seqQ * seqK, 3, 2);
    for (let j = 0; j < seqK; j += 3) two[seqK + j] = -Infinity;
    two.fill(-Infinity, 2 * seqK, 3 * seqK); // row 2: all -inf
    await check(engine, { o: { batch: 1, heads: 2, seqQ, seqK, headDim: 8, attnMask: two } });
    const four = randomF32(2 * 2 * seqQ * seqK, 4, 3);
    await check(engine, { o: { batch: 2, heads: 2, seqQ, seqK, headDim: 8, attnMask: four, causal: true } });
  });

  it('validLens per batch and per (batch, query), 0 included, with other masks', async () => {
    const perBatch = new Int32Array([3, 0, 70]);
    await check(engine, { o: { batch: 3, heads: 2, seqQ: 5, seqK: 70, headDim: 4, validLens: perBatch } });
    const perQuery = randomInts(3 * 6, 9, 0, 70);
    await check(engine, { o: { batch: 3, heads: 2, seqQ: 6, seqK: 70, headDim: 4, validLens: perQuery } });
    await check(engine, {
      o: { batch: 3, heads: 2, seqQ: 6, seqK: 70, headDim: 4, validLens: perQuery, causal: true,
        attnMask: randomMask(6 * 70, 2, 0.8) },
    });
    // The lengths checked at the call are the ones it runs with: made negative (a RangeError if
    // given) or larger before the call ran, the caller's array changes nothing.
    const o = { batch: 3, heads: 2, seqQ: 5, seqK: 70, headDim: 4 };
    const { q, k, v } = inputs(o, 7, 1);
    const lens = Int32Array.of(3, 0, 70), want = await engine.attention(q, k, v, { ...o, validLens: lens.slice() });
    const pending = engine.attention(q, k, v, { ...o, validLens: lens });
    lens.set([-4, 70, 1]);
    expect((await pending).output).toEqual(want.output);
  });

  it('logits rising by the same small step along 65536 keys: the rescales do not tilt the weights (online softmax)', async () => {
    // Each rescale of the running max rounds e^(m − m') once; with the max rising by the same
    // tiny amount block after block every rounding leaned one way, and the two halves' weights
    // drifted apart: 2.7e-3 and 2.0e-2 off float64 here (torch's math path: 6.6e-6, 7.4e-7).
    // 1024 query rows: the query-tile path with no key split (a few rows split the keys over
    // items, merged by the combine, which rescales only once per part).
    const seqK = 65536, seqQ = 1024, d = 4;
    for (const slope of [3e-5, 1e-5]) {
      const q = new Float32Array(seqQ * d), k = new Float32Array(seqK * d), v = new Float32Array(seqK);
      for (let i = 0; i < seqQ; i++) q[i * d] = 1;
      for (let j = 0; j < seqK; j++) k[j * d] = Math.fround(slope * j);
      // v is +100 on the first half and −100·(first half's weight / second half's) on the other:
      // the true output is about 0, so any tilt between the halves shows whole.
      const top = k[(seqK - 1) * d];
      let w1 = 0, w2 = 0;
      for (let j = 0; j < seqK; j++) { const w = Math.exp(k[j * d] - top); if (j < seqK / 2) w1 += w; else w2 += w; }
      for (let j = 0; j < seqK; j++) v[j] = j < seqK / 2 ? 100 : Math.fround(-100 * w1 / w2);
      let num = 0, den = 0;
      for (let j = 0; j < seqK; j++) { const w = Math.exp(k[j * d] - top); num += w * v[j]; den += w; }
      const r = await engine.attention(q, k, v, { batch: 1, heads: 1, seqQ, seqK, headDim: d, headDimV: 1, scale: 1 });
      for (const i of [0, 1, 2, 3, 511, 1023]) {
        expect(Math.abs(r.output[i] - num / den), `slope ${slope}, row ${i}: ${r.output[i]} against ${num / den}`).toBeLessThan(1e-4);
      }
    }
  });

  it('weights where the running max stays below a later block\'s (e^x on (0, 1]) are e^(s − max) within 4e-7', async () => {
    // Block 0 holds the max (0) alone; every later logit is in (0, 1], never more than 1 above
    // it, so the running max stays 0 and the kernel takes e^x for x in (0, 1]. Five query rows:
    // a 4-row tile and a 1-row tile. w_j / w_0 = e^(k_j) up to the exp's error and the two
    // roundings of ·1/l.
    const seqK = 64 * 129, seqQ = 5, blockKeys = 64;
    const q = new Float32Array(seqQ).fill(1), k = new Float32Array(seqK), v = new Float32Array(seqK);
    let worst = 0;
    for (let rep = 0; rep < 4; rep++) {
      for (let j = 0; j < blockKeys; j++) k[j] = j === 0 ? 0 : -50;
      for (let j = blockKeys; j < seqK; j++) k[j] = Math.fround((j - blockKeys + rep / 4 + 0.5) / (seqK - blockKeys));
      const r = await engine.attention(q, k, v, { batch: 1, heads: 1, seqQ, seqK, headDim: 1, scale: 1, returnWeights: true });
      for (let i = 0; i < seqQ; i++) {
        const w = r.weights!.subarray(i * seqK, (i + 1) * seqK);
        for (let j = blockKeys; j < seqK; j++) worst = Math.max(worst, Math.abs(w[j] / w[0] - Math.exp(k[j])) / Math.exp(k[j]));
      }
    }
    expect(worst).toBeLessThan(4e-7 + 2 * 2 ** -24);
  });

  it('logits around ±1e3 stay finite and exact', async () => {
    // magnitude 8 over headDim 16 with scale 1: logits up to ~1e3
    await check(engine, { o: { batch: 1, heads: 2, seqQ: 9, seqK: 70, headDim: 16, scale: 1 }, magnitude: 8 });
    await check(engine, { o: { batch: 1, heads: 1, seqQ: 5, seqK: 5, headDim: 16, scale: -1, causal: true }, magnitude: 8 });
  });

  it('a fully masked row gives zeros in output and weights', async () => {
    const o = { batch: 1, heads: 1, seqQ: 2, seqK: 3, headDim: 2, attnMask: new Uint8Array([0, 0, 0, 1, 1, 0]), returnWeights: true };
    const { q, k, v } = inputs(o, 3);
    const r = await engine.attention(q, k, v, o);
    expect(Array.from(r.output.subarray(0, 2))).toEqual([0, 0]);
    expect(Array.from(r.weights!.subarray(0, 3))).toEqual([0, 0, 0]);
    expect(r.weights![5]).toBe(0);
    expect(r.weights![3] + r.weights![4]).toBeCloseTo(1, 6);
  });
});
