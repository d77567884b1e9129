// Every bad input is rejected before any work with a TypeError / RangeError naming the
// argument, and the engine stays usable afterwards.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, positionalEncoding, type Engine } from '../../dist/index.js';
import { randomF32 } from '../helpers/random.js';

const base = { batch: 2, heads: 2, seqQ: 3, seqK: 4, headDim: 5 };
const q = randomF32(2 * 2 * 3 * 5, 1);
const k = randomF32(2 * 2 * 4 * 5, 2);
const v = randomF32(2 * 2 * 4 * 5, 3);

type Bad = [string, unknown[], unknown, typeof TypeError | typeof RangeError, RegExp];

const attentionCases: Bad[] = [
  ['q wrong length', [q.subarray(1), k, v], base, RangeError, /\bq has length 59, expected 60/],
  ['k wrong length', [q, k.subarray(1), v], base, RangeError, /\bk has length/],
  ['v wrong length', [q, k, v.subarray(1)], base, RangeError, /\bv has length/],
  ['q Float64Array', [Float64Array.from(q), k, v], base, TypeError, /\bq must be a Float32Array or a tensor of this engine, got Float64Array/],
  ['k plain array', [q, Array.from(k), v], base, TypeError, /\bk must be a Float32Array or a tensor of this engine, got Array/],
  ['v missing', [q, k, undefined], base, TypeError, /\bv must be a Float32Array or a tensor of this engine, got undefined/],
  ['options missing', [q, k, v], undefined, TypeError, /options must be an object/],
  ['batch NaN', [q, k, v], { ...base, batch: NaN }, RangeError, /options\.batch must be a positive integer, got NaN/],
  ['heads 0', [q, k, v], { ...base, heads: 0 }, RangeError, /options\.heads/],
  ['seqQ negative', [q, k, v], { ...base, seqQ: -3 }, RangeError, /options\.seqQ/],
  ['seqK fractional', [q, k, v], { ...base, seqK: 4.5 }, RangeError, /options\.seqK/],
  ['headDim string', [q, k, v], { ...base, headDim: '5' }, TypeError, /options\.headDim/],
  ['headDimV 0', [q, k, v], { ...base, headDimV: 0 }, RangeError, /options\.headDimV/],
  ['headDimV mismatching v', [q, k, v], { ...base, headDimV: 4 }, RangeError, /\bv has length/],
  ['scale NaN', [q, k, v], { ...base, scale: NaN }, RangeError, /options\.scale must be a finite number/],
  ['scale string', [q, k, v], { ...base, scale: '1' }, TypeError, /options\.scale/],
  ['causal not boolean', [q, k, v], { ...base, causal: 1 }, TypeError, /options\.causal must be a boolean/],
  ['returnWeights not boolean', [q, k, v], { ...base, returnWeights: 'yes' }, TypeError, /options\.returnWeights/],
  ['mask wrong length', [q, k, v], { ...base, attnMask: new Uint8Array(11) }, RangeError, /options\.attnMask has length 11, expected seqQ·seqK = 12 or batch·heads·seqQ·seqK = 48/],
  ['mask Int8Array', [q, k, v], { ...base, attnMask: new Int8Array(12) }, TypeError, /options\.attnMask must be a Uint8Array/],
  ['mask Float64Array', [q, k, v], { ...base, attnMask: new Float64Array(12) }, TypeError, /options\.attnMask/],
  ['validLens wrong length', [q, k, v], { ...base, validLens: new Int32Array(3) }, RangeError, /options\.validLens has length 3, expected batch = 2 or batch·seqQ = 6/],
  ['validLens Uint32Array', [q, k, v], { ...base, validLens: new Uint32Array(2) }, TypeError, /options\.validLens must be an Int32Array/],
  ['validLens negative', [q, k, v], { ...base, validLens: new Int32Array([1, -1]) }, RangeError, /options\.validLens\[1\] is -1/],
];

const E = 6, H = 2;
const w = {
  inProjWeight: randomF32(3 * E * E, 4), inProjBias: randomF32(3 * E, 5),
  outProjWeight: randomF32(E * E, 6), outProjBias: randomF32(E, 7),
};
type BadConfig = [string, unknown, typeof TypeError | typeof RangeError, RegExp];
const configCases: BadConfig[] = [
  ['config missing', undefined, TypeError, /config must be an object/],
  ['embedDim NaN', { embedDim: NaN, numHeads: H, weights: w }, RangeError, /config\.embedDim/],
  ['numHeads not dividing', { embedDim: E, numHeads: 4, weights: w }, RangeError, /config\.numHeads \(4\) must divide config\.embedDim \(6\)/],
  ['numHeads 0', { embedDim: E, numHeads: 0, weights: w }, RangeError, /config\.numHeads must be a positive integer/],
  ['kdim fractional', { embedDim: E, numHeads: H, kdim: 2.5, weights: w }, RangeError, /config\.kdim/],
  ['weights missing', { embedDim: E, numHeads: H }, TypeError, /config\.weights must be an object/],
  ['outProjWeight missing', { embedDim: E, numHeads: H, weights: { ...w, outProjWeight: undefined } }, TypeError, /config\.weights\.outProjWeight must be a Float32Array, got undefined/],
  ['inProjWeight wrong length', { embedDim: E, numHeads: H, weights: { ...w, inProjWeight: new Float32Array(7) } }, RangeError, /config\.weights\.inProjWeight has length 7, expected 108/],
  ['inProjBias missing with bias', { embedDim: E, numHeads: H, weights: { ...w, inProjBias: undefined } }, TypeError, /config\.weights\.inProjBias/],
  ['bias given with bias false', { embedDim: E, numHeads: H, bias: false, weights: w }, RangeError, /config\.weights\.inProjBias is given but config\.bias is false/],
  ['inProjWeight with kdim', { embedDim: E, numHeads: H, kdim: 4, weights: w }, RangeError, /inProjWeight needs kdim = vdim = embedDim/],
  ['separate weights missing one', { embedDim: E, numHeads: H, kdim: 4, weights: { ...w, inProjWeight: undefined, qProjWeight: randomF32(E * E, 1), kProjWeight: randomF32(E * 4, 1) } }, TypeError, /config\.weights\.vProjWeight/],
  ['both weight forms', { embedDim: E, numHeads: H, weights: { ...w, qProjWeight: randomF32(E * E, 1) } }, RangeError, /both inProjWeight and qProjWeight/],
  ['bias not boolean', { embedDim: E, numHeads: H, bias: 1, weights: w }, TypeError, /config\.bias must be a boolean/],
  ['Float64Array weight', { embedDim: E, numHeads: H, weights: { ...w, outProjBias: new Float64Array(E) } }, TypeError, /config\.weights\.outProjBias must be a Float32Array, got Float64Array/],
];

const x = randomF32(2 * 3 * E, 8), mem = randomF32(2 * 4 * E, 9);
const fwd = { batch: 2, seqQ: 3, seqK: 4 };
const forwardCases: Bad[] = [
  ['query wrong length', [x.subarray(1), mem, mem], fwd, RangeError, /\bquery has length 35, expected 36/],
  ['key Float64Array', [x, Float64Array.from(mem), mem], fwd, TypeError, /\bkey must be a Float32Array/],
  ['value wrong length', [x, mem, x], fwd, RangeError, /\bvalue has length 36, expected 48/],
  ['batch 0', [x, mem, mem], { ...fwd, batch: 0 }, RangeError, /options\.batch/],
  ['seqK NaN', [x, mem, mem], { ...fwd, seqK: NaN }, RangeError, /options\.seqK/],
  ['keyPaddingMask wrong length', [x, mem, mem], { ...fwd, keyPaddingMask: new Uint8Array(7) }, RangeError, /options\.keyPaddingMask has length 7, expected 8/],
  ['keyPaddingMask Float32Array', [x, mem, mem], { ...fwd, keyPaddingMask: new Float32Array(8) }, TypeError, /options\.keyPaddingMask must be a Uint8Array/],
  ['attnMask wrong length', [x, mem, mem], { ...fwd, attnMask: new Uint8Array(13) }, RangeError, /options\.attnMask has length 13, expected seqQ·seqK = 12 or batch·numHeads·seqQ·seqK = 48/],
  ['needWeights not boolean', [x, mem, mem], { ...fwd, needWeights: 0 }, TypeError, /options\.needWeights/],
  ['averageWeights not boolean', [x, mem, mem], { ...fwd, averageWeights: 'no' }, TypeError, /options\.averageWeights/],
  ['causal not boolean', [x, mem, mem], { ...fwd, causal: null }, TypeError, /options\.causal/],
];

describe.each([1, 2])('bad inputs (threads %i)', (threads) => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await createEngine({ threads });
  });
  afterAll(() => engine.dispose());

  async function stillWorks(): Promise<void> {
    const r = await engine.attention(q, k, v, base);
    expect(r.output.length).toBe(2 * 2 * 3 * 5);
    expect(r.output.every(Number.isFinite)).toBe(true);
  }

  it.each(attentionCases)('attention: %s', async (_, [a, b, c], opts, type, message) => {
    const call = engine.attention(a as Float32Array, b as Float32Array, c as Float32Array, opts as never);
    await expect(call).rejects.toThrow(type);
    await expect(call).rejects.toThrow(message);
    await stillWorks();
  });

  it.each(configCases)('multiHeadAttention: %s', async (_, config, type, message) => {
    expect(() => engine.multiHeadAttention(config as never)).toThrow(type);
    expect(() => engine.multiHeadAttention(config as never)).toThrow(message);
    await stillWorks();
  });

  it.each(forwardCases)('MultiHeadAttention.forward: %s', async (_, [a, b, c], opts, type, message) => {
    const layer = engine.multiHeadAttention({ embedDim: E, numHeads: H, kdim: E, weights: w });
    const call = layer.forward(a as Float32Array, b as Float32Array, c as Float32Array, opts as never);
    await expect(call).rejects.toThrow(type);
    await expect(call).rejects.toThrow(message);
    await stillWorks();
  });

  it.each([
    [0, 4, RangeError, /seqLen must be a positive integer, got 0/],
    [4, NaN, RangeError, /dModel must be a positive integer, got NaN/],
    [2.5, 4, RangeError, /seqLen/],
    ['4', 4, TypeError, /seqLen must be a positive integer, got "4"/],
  ] as const)('positionalEncoding(%s, %s)', (seqLen, dModel, type, message) => {
    expect(() => positionalEncoding(seqLen as number, dModel)).toThrow(type);
    expect(() => positionalEncoding(seqLen as number, dModel)).toThrow(message);
  });

  it('createEngine options', async () => {
    await expect(createEngine({ threads: 0 })).rejects.toThrow(/options\.threads must be an integer in 1\.\.256/);
    await expect(createEngine({ threads: 1.5 })).rejects.toThrow(RangeError);
    await expect(createEngine({ threads: '2' as never })).rejects.toThrow(TypeError);
    await expect(createEngine({ kernels: 'avx' as never })).rejects.toThrow(/options\.kernels must be 'auto', 'simd' or 'relaxed'/);
    await expect(createEngine('x' as never)).rejects.toThrow(/options must be an object/);
  });

  it('a disposed engine rejects calls; dispose is idempotent', async () => {
    const e = await createEngine();
    await e.dispose();
    await e.dispose();
    await expect(e.attention(q, k, v, base)).rejects.toThrow(/disposed/);
    expect(() => e.multiHeadAttention({ embedDim: E, numHeads: H, weights: w })).toThrow(/disposed/);
  });
});

describe('limits apply to what is built', () => {
  it('a call too large for a weights matrix is fine when no weights are asked for', async () => {
    const engine = await createEngine();
    const n = 16 * 8192 * 8;
    const q = randomF32(n, 1);
    const o = { batch: 1, heads: 16, seqQ: 8192, seqK: 8192, headDim: 8, validLens: new Int32Array([1]) };
    const r = await engine.attention(q, q, q, o); // 2^30 weights would not fit; none are built
    expect(Array.from(r.output.subarray(0, 8))).toEqual(Array.from(q.subarray(0, 8))); // one key: v[0]
    await expect(engine.attention(q, q, q, { ...o, returnWeights: true })).rejects.toThrow(/weights would need/);
    await engine.dispose();
  });

  it('a resident block that cannot be placed leaves the next call unharmed', async () => {
    const engine = await createEngine();
    const arena = (engine as unknown as Record<symbol, () => { arena: { keep(n: number): number } }>)[Symbol.for('wasm-attention.debug')]().arena;
    expect(() => arena.keep(2 ** 31 + 2 ** 20)).toThrow(RangeError);
    const r = await engine.attention(q, k, v, base);
    expect(r.output.length).toBe(2 * 2 * 3 * 5);
    await engine.dispose();
  });
});
