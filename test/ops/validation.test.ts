// Every bad input is rejected before any work with a TypeError / RangeError naming the
// argument, and the engine stays usable afterwards.
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, positionalEncoding, type Engine } from '../../dist/index.js';
import { planForward, planMultiHeadAttention } from '../../src/ops/multi-head-attention.js';
import { randomF32 } from '../helpers/random.js';
import { expectSameBits } from '../helpers/compare.js';

const base = { batch: 2, heads: 2, seqQ: 3, seqK: 4, headDim: 5 };
const q = randomF32(2 * 2 * 3 * 5, 1);
const k = randomF32(2 * 2 * 4 * 5, 2);
const v = randomF32(2 * 2 * 4 * 5, 3);

/** A typed array of another kind whose Symbol.toStringTag lies about it. */
function faked<T extends object>(array: T, tag: string): T {
  Object.defineProperty(array, Symbol.toStringTag, { value: tag });
  return array;
}

/** A Float32Array whose subclass lies about its length and byte length. */
class Liar extends Float32Array {
  get length(): number { return 60; }
  get byteLength(): number { return 240; }
}

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
  ['scale finite as a double, infinite as an f32', [q, k, v], { ...base, scale: 3.5e38 }, RangeError, /options\.scale must be finite as an f32 .*got 3\.5e\+38/],
  ['causal not boolean', [q, k, v], { ...base, causal: 1 }, TypeError, /options\.causal must be a boolean/],
  ['returnWeights not boolean', [q, k, v], { ...base, returnWeights: 'yes' }, TypeError, /options\.returnWeights/],
  ['mask wrong length', [q, k, v], { ...base, attnMask: new Uint8Array(11) }, RangeError, /options\.attnMask has length 11, expected seqQ·seqK = 12 or batch·heads·seqQ·seqK = 48/],
  ['mask Int8Array', [q, k, v], { ...base, attnMask: new Int8Array(12) }, TypeError, /options\.attnMask must be a Uint8Array/],
  ['mask Float64Array', [q, k, v], { ...base, attnMask: new Float64Array(12) }, TypeError, /options\.attnMask/],
  ['validLens wrong length', [q, k, v], { ...base, validLens: new Int32Array(3) }, RangeError, /options\.validLens has length 3, expected batch = 2 or batch·seqQ = 6/],
  ['validLens Uint32Array', [q, k, v], { ...base, validLens: new Uint32Array(2) }, TypeError, /options\.validLens must be an Int32Array/],
  ['validLens negative', [q, k, v], { ...base, validLens: new Int32Array([1, -1]) }, RangeError, /options\.validLens\[1\] is -1/],
  // The real kind and length, not what the tag, an own property or a subclass says.
  ['q Uint8Array tagged Float32Array', [faked(new Uint8Array(60), 'Float32Array'), k, v], base, TypeError, /\bq must be a Float32Array or a tensor of this engine, got Uint8Array\(60\)$/],
  ['k Float64Array tagged Float32Array', [q, faked(Float64Array.from(k), 'Float32Array'), v], base, TypeError, /\bk must be a Float32Array or a tensor of this engine, got Float64Array\(80\)$/],
  ['v Uint8Array tagged Float32Array', [q, k, faked(new Uint8Array(80), 'Float32Array')], base, TypeError, /\bv must be .*, got Uint8Array\(80\)$/],
  ['q an object tagged Float32Array', [{ [Symbol.toStringTag]: 'Float32Array', length: 60 }, k, v], base, TypeError, /\bq must be .*, got object$/],
  ['q a Proxy of a Float32Array', [new Proxy(q, {}), k, v], base, TypeError, /\bq must be .*, got object$/],
  ['q with an own length of 60', [Object.defineProperty(randomF32(61, 1), 'length', { value: 60 }), k, v], base, RangeError, /\bq has length 61, expected 60/],
  ['q of a subclass that lies about its length', [new Liar(61), k, v], base, RangeError, /\bq has length 61, expected 60/],
  ['mask Float64Array tagged Float32Array', [q, k, v], { ...base, attnMask: faked(new Float64Array(12), 'Float32Array') }, TypeError, /options\.attnMask must be .*, got Float64Array\(12\)$/],
  ['mask Int8Array tagged Uint8Array', [q, k, v], { ...base, attnMask: faked(new Int8Array(12), 'Uint8Array') }, TypeError, /options\.attnMask must be .*, got Int8Array\(12\)$/],
  ['validLens Uint32Array tagged Int32Array', [q, k, v], { ...base, validLens: faked(new Uint32Array(2), 'Int32Array') }, TypeError, /options\.validLens must be an Int32Array, got Uint32Array\(2\)$/],
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
  ['Uint8Array weight tagged Float32Array', { embedDim: E, numHeads: H, weights: { ...w, outProjWeight: faked(new Uint8Array(E * E), 'Float32Array') } }, TypeError, /config\.weights\.outProjWeight must be a Float32Array, got Uint8Array\(36\)$/],
  ['Float64Array weight tagged Float32Array', { embedDim: E, numHeads: H, weights: { ...w, inProjWeight: faked(new Float64Array(3 * E * E), 'Float32Array') } }, TypeError, /config\.weights\.inProjWeight must be a Float32Array, got Float64Array\(108\)$/],
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
  ['keyPaddingMask Int32Array', [x, mem, mem], { ...fwd, keyPaddingMask: new Int32Array(8) }, TypeError, /options\.keyPaddingMask must be a Uint8Array \(non-zero = ignore that key\) or a Float32Array \(added\)/],
  ['keyPaddingMask Float32Array wrong length', [x, mem, mem], { ...fwd, keyPaddingMask: new Float32Array(9) }, RangeError, /options\.keyPaddingMask has length 9, expected 8/],
  ['attnMask wrong length', [x, mem, mem], { ...fwd, attnMask: new Uint8Array(13) }, RangeError, /options\.attnMask has length 13, expected seqQ·seqK = 12 or batch·numHeads·seqQ·seqK = 48/],
  ['needWeights not boolean', [x, mem, mem], { ...fwd, needWeights: 0 }, TypeError, /options\.needWeights/],
  ['averageWeights not boolean', [x, mem, mem], { ...fwd, averageWeights: 'no' }, TypeError, /options\.averageWeights/],
  ['causal not boolean', [x, mem, mem], { ...fwd, causal: null }, TypeError, /options\.causal/],
  ['query Uint8Array tagged Float32Array', [faked(new Uint8Array(36), 'Float32Array'), mem, mem], fwd, TypeError, /\bquery must be a Float32Array, got Uint8Array\(36\)$/],
  ['value Float64Array tagged Float32Array', [x, mem, faked(Float64Array.from(mem), 'Float32Array')], fwd, TypeError, /\bvalue must be a Float32Array, got Float64Array\(48\)$/],
  ['keyPaddingMask Int8Array tagged Uint8Array', [x, mem, mem], { ...fwd, keyPaddingMask: faked(new Int8Array(8), 'Uint8Array') }, TypeError, /options\.keyPaddingMask must be a Uint8Array \(non-zero = ignore that key\) or a Float32Array \(added\), got Int8Array\(8\)$/],
  ['attnMask Float64Array tagged Float32Array', [x, mem, mem], { ...fwd, attnMask: faked(new Float64Array(12), 'Float32Array') }, TypeError, /options\.attnMask must be .*, got Float64Array\(12\)$/],
];

// Unknown keys, each as [key, value, the key the message suggests (none when nothing is close)].
const ATTENTION_KEYS = 'batch, heads, seqQ, seqK, headDim, headDimV, scale, causal, attnMask, validLens, returnWeights, kvCapacity';
const FORWARD_KEYS = 'batch, seqQ, seqK, keyPaddingMask, attnMask, causal, needWeights, averageWeights';
const CONFIG_KEYS = 'embedDim, numHeads, kdim, vdim, bias, weights, quantize';
const WEIGHT_KEYS = 'inProjWeight, qProjWeight, kProjWeight, vProjWeight, inProjBias, outProjWeight, outProjBias';
type Unknown = [key: string, value: unknown, suggestion: string | undefined];
const attentionUnknown: Unknown[] = [
  ['is_causal', true, 'causal'], ['isCausal', true, 'causal'], ['casual', true, 'causal'], ['casual', undefined, 'causal'],
  ['Causal', true, 'causal'], ['attn_mask', new Uint8Array(12), 'attnMask'], ['key_padding_mask', new Uint8Array(8), 'validLens'],
  ['need_weights', true, 'returnWeights'], ['valid_lens', new Int32Array(2), 'validLens'], ['head_dim', 5, 'headDim'],
  ['kv_capacity', 4, 'kvCapacity'], ['scal', 1, 'scale'], ['dropout_p', 0.1, undefined], ['enable_gqa', false, undefined],
];
const forwardUnknown: Unknown[] = [
  ['is_causal', true, 'causal'], ['casual', true, 'causal'], ['key_padding_mask', new Uint8Array(8), 'keyPaddingMask'],
  ['attn_mask', new Uint8Array(12), 'attnMask'], ['need_weights', false, 'needWeights'], ['returnWeights', true, 'needWeights'],
  ['average_attn_weights', false, 'averageWeights'], ['batch_first', true, undefined],
];
const configUnknown: Unknown[] = [
  ['embed_dim', E, 'embedDim'], ['num_heads', H, 'numHeads'], ['hidden_size', E, 'embedDim'], ['num_attention_heads', H, 'numHeads'],
  ['kDim', E, 'kdim'], ['dropout', 0, undefined], ['add_bias_kv', false, undefined],
];
const weightsUnknown: Unknown[] = [
  ['in_proj_weight', w.inProjWeight, 'inProjWeight'], ['in_proj_bias', w.inProjBias, 'inProjBias'],
  ['out_proj.weight', w.outProjWeight, 'outProjWeight'], ['out_proj.bias', w.outProjBias, 'outProjBias'],
  ['q_proj_weight', undefined, 'qProjWeight'], ['outProjWeights', w.outProjWeight, 'outProjWeight'], ['bias_k', new Float32Array(E), undefined],
];
const engineUnknown: Unknown[] = [
  ['num_threads', 2, 'threads'], ['numThreads', 2, 'threads'], ['thread', 2, 'threads'], ['kernel', 'simd', 'kernels'],
  ['workers', 2, undefined],
];
/** `object.key` or `object["key"]`, as messages write it. */
const member = (object: string, key: string) => (/^\w+$/.test(key) ? `${object}.${key}` : `${object}["${key}"]`);
const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
function unknownKey(op: string, object: string, [key, , suggestion]: Unknown, keys: string): RegExp {
  const hint = suggestion ? ` \\(did you mean ${escape(member(object, suggestion))}\\?\\)` : '';
  return new RegExp(`^${escape(op)}: ${escape(member(object, key))} is not a known key${hint}; known: ${escape(keys)}$`);
}

describe.each([1, 2])('bad inputs (threads %i)', (threads) => {
  let engine: Engine;
  let expected: Float32Array;
  beforeAll(async () => {
    engine = await createEngine({ threads });
    expected = (await engine.attention(q, k, v, base)).output;
  });
  afterAll(() => engine.dispose());

  /** The engine still computes what it did before the bad call. */
  async function stillWorks(): Promise<void> {
    expectSameBits((await engine.attention(q, k, v, base)).output, expected, 'attention after the bad call');
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

  it.each(attentionUnknown)('attention: options.%s (%o) is not an option', async (key, value, suggestion) => {
    const call = engine.attention(q, k, v, { ...base, [key]: value } as never);
    await expect(call).rejects.toThrow(RangeError);
    await expect(call).rejects.toThrow(unknownKey('attention', 'options', [key, value, suggestion], ATTENTION_KEYS));
    await stillWorks();
  });

  it.each(forwardUnknown)('MultiHeadAttention.forward: options.%s (%o) is not an option', async (key, value, suggestion) => {
    const layer = engine.multiHeadAttention({ embedDim: E, numHeads: H, weights: w });
    const call = layer.forward(x, mem, mem, { ...fwd, [key]: value } as never);
    await expect(call).rejects.toThrow(RangeError);
    await expect(call).rejects.toThrow(unknownKey('MultiHeadAttention.forward', 'options', [key, value, suggestion], FORWARD_KEYS));
    expect((await layer.forward(x, mem, mem, fwd)).output).toHaveLength(2 * 3 * E);
    await layer.dispose();
    await stillWorks();
  });

  it.each(configUnknown)('multiHeadAttention: config.%s (%o) is not a key', async (key, value, suggestion) => {
    const config = { embedDim: E, numHeads: H, weights: w, [key]: value };
    expect(() => engine.multiHeadAttention(config as never)).toThrow(RangeError);
    expect(() => engine.multiHeadAttention(config as never)).toThrow(unknownKey('multiHeadAttention', 'config', [key, value, suggestion], CONFIG_KEYS));
    await stillWorks();
  });

  it.each(weightsUnknown)('multiHeadAttention: config.weights.%s is not a weight', async (key, value, suggestion) => {
    const config = { embedDim: E, numHeads: H, weights: { ...w, [key]: value } };
    expect(() => engine.multiHeadAttention(config as never)).toThrow(RangeError);
    expect(() => engine.multiHeadAttention(config as never)).toThrow(unknownKey('multiHeadAttention', 'config.weights', [key, value, suggestion], WEIGHT_KEYS));
    await stillWorks();
  });

  it.each(engineUnknown)('createEngine: options.%s (%o) is not an option', async (key, value, suggestion) => {
    const created = createEngine({ [key]: value } as never);
    await expect(created).rejects.toThrow(RangeError);
    await expect(created).rejects.toThrow(unknownKey('createEngine', 'options', [key, value, suggestion], 'threads, kernels, wasm'));
  });

  it('an unknown key is named first, before what else is wrong; keys that are not options are left alone', async () => {
    await expect(engine.attention(q, k, v, { is_causal: true } as never)).rejects.toThrow(/options\.is_causal is not a known key/);
    await expect(engine.attention(undefined as never, k, v, { ...base, casual: true } as never)).rejects.toThrow(/options\.casual/);
    await expect(engine.attention(q, k, v, { ...base, 'is causal': true } as never)).rejects.toThrow(/^attention: options\["is causal"\] is not a known key \(did you mean options\.causal\?\)/);
    await expect(engine.attention(q, k, v, { ...base, seq: 4 } as never)).rejects.toThrow(/^attention: options\.seq is not a known key \(did you mean options\.seqQ or options\.seqK\?\)/);
    // Symbol keys, non-enumerable and inherited properties are not options.
    const opts = Object.defineProperty({ ...base, [Symbol('origin')]: 'test' }, 'note', { value: 1, enumerable: false });
    expectSameBits((await engine.attention(q, k, v, opts)).output, expected, 'with a symbol and a hidden key');
    const causal = (await engine.attention(q, k, v, { ...base, causal: true })).output;
    expectSameBits((await engine.attention(q, k, v, Object.create({ ...base, causal: true }))).output, causal, 'inherited options');
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

type Typed = Float32Array | Uint8Array | Int32Array;
type TypedClass = { new (n: number | ArrayBufferLike): Typed; from(a: ArrayLike<number>): Typed };
const classOf = (a: Typed) => a.constructor as TypedClass;

/** The same values as the array, in another form the API must take as it takes the array. */
const FORMS: [string, <T extends Typed>(a: T) => T][] = [
  ['from another realm (node:vm)', (a) => runInNewContext(`${classOf(a).name}.from(values)`, { values: Array.from(a) })],
  ['of a subclass', (a) => {
    class Sub extends (classOf(a) as unknown as typeof Float32Array) {}
    return Sub.from(a) as never;
  }],
  ['of a subclass whose constructor takes other arguments', (a) => {
    class Named extends (classOf(a) as unknown as typeof Float32Array) {
      constructor(readonly label: string, values: ArrayLike<number>) { super(values); }
    }
    return new Named('values', a) as never;
  }],
  ['of a subclass whose length getter lies', (a) => {
    class Short extends (classOf(a) as unknown as typeof Float32Array) {
      get length(): number { return super.length - 1; }
    }
    const out = new Short(a.length);
    out.set(a);
    return out as never;
  }],
  ['a subarray view', (a) => {
    const big = new (classOf(a))(a.length + 7);
    big.set(a, 3);
    return big.subarray(3, 3 + a.length) as never;
  }],
  ['SharedArrayBuffer-backed', (a) => {
    const shared = new (classOf(a))(new SharedArrayBuffer(a.byteLength));
    shared.set(a);
    return shared as never;
  }],
  ['SharedArrayBuffer-backed, from another realm', (a) => runInNewContext(
    `const s = new ${classOf(a).name}(new SharedArrayBuffer(values.length * ${a.BYTES_PER_ELEMENT})); s.set(values); s`,
    { values: Array.from(a) })],
];

describe.each([1, 2])('arrays of every form are taken and give the same bits (threads %i)', (threads) => {
  let engine: Engine;
  beforeAll(async () => { engine = await createEngine({ threads }); });
  afterAll(() => engine.dispose());

  const addMask = randomF32(3 * 4, 20);
  const boolMask = Uint8Array.from({ length: 3 * 4 }, (_, i) => (i % 3 === 2 ? 0 : 1));
  const lens = Int32Array.of(3, 4);
  const keyPadding = Uint8Array.of(0, 0, 1, 1, 0, 0, 0, 1);

  it.each(FORMS)('attention: q, k, v, masks and validLens %s', async (_, form) => {
    for (const extra of [{ attnMask: addMask, validLens: lens }, { attnMask: boolMask, causal: true }]) {
      const plain = await engine.attention(q, k, v, { ...base, ...extra, returnWeights: true });
      const formed = { ...extra, attnMask: form(extra.attnMask), ...('validLens' in extra ? { validLens: form(extra.validLens) } : {}) };
      const r = await engine.attention(form(q), form(k), form(v), { ...base, ...formed, returnWeights: true });
      expectSameBits(r.output, plain.output, 'output');
      expectSameBits(r.weights, plain.weights, 'weights');
    }
  });

  it.each(FORMS)('multiHeadAttention: weights, query, key, value and masks %s', async (_, form) => {
    const formedWeights = Object.fromEntries(Object.entries(w).map(([name, a]) => [name, form(a)]));
    const plainLayer = engine.multiHeadAttention({ embedDim: E, numHeads: H, weights: w });
    const layer = engine.multiHeadAttention({ embedDim: E, numHeads: H, weights: formedWeights as typeof w });
    const opts = { ...fwd, keyPaddingMask: keyPadding, attnMask: addMask, averageWeights: false };
    const plain = await plainLayer.forward(x, mem, randomF32(mem.length, 21), opts);
    const r = await layer.forward(form(x), form(mem), form(randomF32(mem.length, 21)),
      { ...opts, keyPaddingMask: form(keyPadding), attnMask: form(addMask) });
    expectSameBits(r.output, plain.output, 'output');
    expectSameBits(r.weights, plain.weights, 'weights');
    // One array as query, key and value: still one array (one fused projection).
    const self = form(x);
    const selfOpts = { batch: 2, seqQ: 3, seqK: 3 };
    expectSameBits((await layer.forward(self, self, self, selfOpts)).output,
      (await plainLayer.forward(x, x, x, selfOpts)).output, 'self-attention');
    await Promise.all([layer.dispose(), plainLayer.dispose()]);
  });

  it('matmul alpha and softmax scale past the f32 range are named (torch: "cannot be converted to type float without overflow"), not NaN; an empty gelu input named', async () => {
    const a = randomF32(2 * 3, 31), b = randomF32(3 * 2, 32);
    for (const alpha of [1e39, -1e39, 3.4028235677973366e38]) {
      await expect(engine.matmul(a, b, { m: 2, k: 3, n: 2, alpha })).rejects.toThrow(/^matmul: options\.alpha must be finite as an f32/);
    }
    await expect(engine.softmax(a, { rows: 2, cols: 3, scale: -1e39 })).rejects.toThrow(/^softmax: options\.scale must be finite as an f32/);
    // An empty gelu input (torch returns an empty tensor) is refused as every zero size, by name.
    await expect(engine.gelu(new Float32Array(0))).rejects.toThrow(/^gelu: x is empty: gelu needs at least one element/);
    // the largest f32 itself is taken
    expect((await engine.matmul(a, b, { m: 2, k: 3, n: 2, alpha: 3.4028234663852886e38 })).length).toBe(4);
  });

  it.each(FORMS)('matmul, softmax, layerNorm and gelu take arrays %s', async (_, form) => {
    const a = randomF32(2 * 3 * 4, 31), b = randomF32(4 * 5, 32), bias = randomF32(5, 33);
    const mm = { m: 3, k: 4, n: 5, batch: 2, bias };
    expectSameBits(await engine.matmul(form(a), form(b), { ...mm, bias: form(bias) }) as Float32Array,
      await engine.matmul(a, b, mm) as Float32Array, 'matmul, one B for the batch');
    const sm = { rows: 3, cols: 4, mask: boolMask };
    expectSameBits(await engine.softmax(form(addMask), { ...sm, mask: form(boolMask) }) as Float32Array,
      await engine.softmax(addMask, sm) as Float32Array, 'softmax');
    const ln = { rows: 2, dim: 12, weight: randomF32(12, 34), residual: randomF32(24, 35) };
    expectSameBits(await engine.layerNorm(form(a), { ...ln, weight: form(ln.weight), residual: form(ln.residual) }) as Float32Array,
      await engine.layerNorm(a, ln) as Float32Array, 'layerNorm');
    expectSameBits(await engine.gelu(form(a)) as Float32Array, await engine.gelu(a) as Float32Array, 'gelu');
  });

  it.each(FORMS)('createTensor and EngineTensor.write take arrays %s', async (_, form) => {
    const t = engine.createTensor(form(k));
    expect(await t.read()).toEqual(k);
    await t.write(form(v.subarray(0, 10)), 5);
    expect(await t.read(5, 10)).toEqual(v.subarray(0, 10));
    await t.dispose();
  });
});

describe('a validated array is one view of the caller\'s memory', () => {
  it('planForward keeps one array given as query, key and value one array, in every form', () => {
    const params = planMultiHeadAttention({ embedDim: E, numHeads: H, weights: w });
    for (const [name, form] of FORMS) {
      const self = form(randomF32(2 * 3 * E, 22));
      const plan = planForward(params, self, self, self, { batch: 2, seqQ: 3, seqK: 3 });
      expect(plan.key, name).toBe(plan.query);
      expect(plan.value, name).toBe(plan.query);
      const kv = form(mem);
      const cross = planForward(params, x, kv, kv, fwd);
      expect(cross.value, name).toBe(cross.key);
      expect(cross.key, name).not.toBe(cross.query);
    }
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
