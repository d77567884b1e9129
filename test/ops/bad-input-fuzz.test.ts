// A bad-input fuzz of every public entry point (issue 14). Each call starts valid and gets 1–3
// random mutations (wrong types, bad numbers, other array kinds, faked tags, wrong lengths,
// dropped and unknown keys, mask and validLens damage, disposed and foreign tensors); a Spec
// written from the README (test/helpers/bad-inputs.ts) says which arguments are then wrong.
// A call the Spec finds wrong must throw or reject with a TypeError or RangeError whose message
// is `<op>: <argument> …` for one of them (a disposed tensor, and kernels that cannot be
// compiled, give the documented state Error naming it); a call it finds valid must resolve with
// the same bits as the same call, made of plain arrays, on a separate 1-thread engine, and match
// the float64 reference. No call may write to its inputs. Every 25 calls, and at the end, a
// fixed call must give its first bits again, a resident layer and tensor must be intact, and no
// resident memory may be left behind. Threads 1, 2 and 3, the pool forced on 2 and 3.
//
// WASM_ATTENTION_SEED (default 0x14bad), WASM_ATTENTION_CALLS (calls per thread count, default
// 400; `npm run test:fuzz:inputs`: 2000), WASM_ATTENTION_CALL=i replays call i alone.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, positionalEncoding, type Engine, type EngineTensor, type MultiHeadAttention } from '../../dist/index.js';
import { MAX_TENSOR_LENGTH } from '../../src/ops/tensor.js';
import { referenceAttention } from '../reference/attention.js';
import { referenceMha } from '../reference/multi-head-attention.js';
import { randomF32, randomInts, randomMask } from '../helpers/random.js';
import { expectClose, expectSameBits } from '../helpers/compare.js';
import { internals } from '../helpers/engines.js';
import {
  JUNK, Spec, answers, arrayMutation, badNumbers, bytesOf, callSeed, classOf, isObject, kindOf, lengthOf,
  memberNames, plainCopy, rand, setKey, unknownKey, type Rand, type Typed, type Violation,
} from '../helpers/bad-inputs.js';

const SEED = Number(process.env.WASM_ATTENTION_SEED ?? 0x14bad);
const CALLS = Number(process.env.WASM_ATTENTION_CALLS ?? 400);
const ONLY = process.env.WASM_ATTENTION_CALL === undefined ? undefined : Number(process.env.WASM_ATTENTION_CALL);
const CHECK_EVERY = 25;

interface TensorInfo { engine: Engine; data: Float32Array; disposed: boolean }
interface Env {
  engine: Engine;
  oracle: Engine;
  r: Rand;
  tensors: WeakMap<object, TensorInfo>;
  /** Disposes what the call created. */
  owned: (() => Promise<unknown>)[];
}

/** A call of one entry point: its arguments (mutated in place), what it needs to be checked. */
interface Call {
  entry: Entry;
  args: unknown[];
  names: string[];
  /** Values the known optional keys of each object (by path) may be given. */
  optional: Record<string, Record<string, () => unknown>>;
  mutations: string[];
  /** A mutation of the receiver (a tensor disposed before it is used). */
  receiver?: () => string;
  /** forward: the layer and its clean config; write/read: the tensor and its expected contents. */
  layer?: { layer: MultiHeadAttention; config: MhaConfig };
  tensor?: { handle: EngineTensor; shadow: Float32Array };
}

interface Entry {
  name: string;
  op: string;
  weight: number;
  make(env: Env): Promise<Call> | Call;
  spec(call: Call, env: Env): Spec;
  invoke(call: Call, env: Env): unknown;
  /** Checks the result of a valid call against the oracle engine and the reference. */
  verify(call: Call, env: Env, result: unknown, clean: unknown[]): Promise<void> | void;
  /** Valid calls too costly to make (engines created, huge tensors). */
  skipValid?(call: Call): boolean;
}

const seedOf = (r: Rand) => r.int(1, 2 ** 30);

function tensorOn(env: Env, engine: Engine, data: Float32Array, disposed = false): EngineTensor {
  const handle = engine.createTensor(data);
  env.tensors.set(handle, { engine, data: data.slice(), disposed });
  if (disposed) void handle.dispose();
  else env.owned.push(() => handle.dispose());
  return handle;
}

/** The call with every array made a plain array of this realm (tensors: their contents), every
 * options object a plain object of its defined keys; one source object stays one copy. */
function clean(value: unknown, env: Env, seen = new Map<unknown, unknown>()): unknown {
  if (seen.has(value)) return seen.get(value);
  let out: unknown = value;
  const info = typeof value === 'object' && value !== null ? env.tensors.get(value) : undefined;
  if (info) out = info.data.slice();
  else if (kindOf(value) !== undefined) out = plainCopy(value);
  else if (isObject(value) && typeof value !== 'function') {
    const o: Record<string, unknown> = {};
    for (const key of Object.keys(value)) if (value[key] !== undefined) o[key] = clean(value[key], env, seen);
    out = o;
  }
  seen.set(value, out);
  return out;
}

/** Short text of a value for failure messages. */
function show(value: unknown, env: Env, depth = 0): string {
  const kind = kindOf(value);
  const info = typeof value === 'object' && value !== null ? env.tensors.get(value) : undefined;
  if (info) return `tensor(${info.data.length}${info.disposed ? ', disposed' : ''}${info.engine !== env.engine ? ', other engine' : ''})`;
  if (kind !== undefined) {
    const tag = (value as { [Symbol.toStringTag]: unknown })[Symbol.toStringTag];
    return `${kind}(${lengthOf(value)})${tag !== kind ? ` tagged ${String(tag)}` : ''}`;
  }
  if (value instanceof DataView) return `DataView(${value.byteLength})`;
  if (Array.isArray(value)) return `Array(${value.length})`;
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'symbol' || typeof value === 'function') return typeof value;
  if (typeof value === 'string') return JSON.stringify(value);
  if (isObject(value) && depth < 3) {
    return `{ ${Object.keys(value).map((k) => `${JSON.stringify(k)}: ${show(value[k], env, depth + 1)}`).join(', ')} }`;
  }
  return value === null ? 'null' : typeof value === 'object' ? 'object' : String(value);
}

// ---------------------------------------------------------------------------------------------
// Mutations.

interface SlotRef { path: string; value: unknown; set(v: unknown): void }
const isPlain = (x: unknown): x is Record<string, unknown> =>
  typeof x === 'object' && x !== null && Object.getPrototypeOf(x) === Object.prototype;

function slotsOf(call: Call, env: Env): SlotRef[] {
  const out: SlotRef[] = [];
  const visit = (path: string, value: unknown, set: (v: unknown) => void): void => {
    out.push({ path, value, set });
    if (isPlain(value) && kindOf(value) === undefined && !env.tensors.has(value)) {
      for (const key of Object.keys(value)) visit(memberNames(path, key)[0], value[key], (v) => setKey(value, key, v));
    }
  };
  call.args.forEach((v, i) => visit(call.names[i], v, (x) => { call.args[i] = x; }));
  return out;
}

/** Applies one random mutation; returns what it did. */
function mutate(call: Call, env: Env): string {
  const r = env.r;
  if (call.receiver && r.chance(0.05)) return call.receiver();
  const s = r.pick(slotsOf(call, env));
  const v = s.value;
  const choices: (() => string)[] = [];
  const add = (times: number, f: () => string) => { for (let i = 0; i < times; i++) choices.push(f); };
  add(1, () => { const [d, make] = r.pick(JUNK); s.set(make()); return `${s.path} = ${d}`; });
  if (typeof v === 'number') add(4, () => { const [d, x] = r.pick(badNumbers(v)); s.set(x); return `${s.path} = ${d}`; });
  if (typeof v === 'boolean') {
    add(2, () => { const [d, x] = r.pick([['flipped', !v], ['0', 0], ['1', 1], ['"true"', 'true']] as const); s.set(x); return `${s.path} = ${d}`; });
  }
  const kind = kindOf(v);
  if (kind !== undefined && ['Float32Array', 'Uint8Array', 'Int32Array'].includes(kind)) {
    add(5, () => { const [d, x] = arrayMutation(v as Typed, r); s.set(x); return `${s.path} = ${d}`; });
    const n = lengthOf(v);
    if (kind === 'Int32Array' && n > 0) {
      add(2, () => {
        const copy = plainCopy(v) as Int32Array, at = r.int(0, n - 1), x = r.pick([-1, -2, -(2 ** 31), 2 ** 31 - 1, 0]);
        copy[at] = x;
        s.set(copy);
        return `${s.path}[${at}] = ${x}`;
      });
    }
    if (kind === 'Float32Array' && n > 0 && s.path.startsWith('options.')) {
      add(1, () => {
        const copy = plainCopy(v) as Float32Array, at = r.int(0, n - 1), x = r.pick([-Infinity, NaN, -1e30, 0]);
        copy[at] = x;
        s.set(copy);
        return `${s.path}[${at}] = ${x} (valid)`;
      });
    }
    if (kind === 'Float32Array' && n > 0 && call.entry.name === 'attention' && ['q', 'k', 'v'].includes(s.path)) {
      add(2, () => {
        const data = plainCopy(v) as Float32Array;
        const [d, x] = r.pick<[string, () => unknown]>([
          ['an engine tensor of it (valid)', () => tensorOn(env, env.engine, data)],
          ['a tensor of it on another engine', () => tensorOn(env, env.oracle, data)],
          ['a disposed engine tensor of it', () => tensorOn(env, env.engine, data, true)],
        ]);
        s.set(x());
        return `${s.path} = ${d}`;
      });
    }
  }
  const info = typeof v === 'object' && v !== null ? env.tensors.get(v) : undefined;
  if (info) {
    add(5, () => {
      const data = info.data;
      const [d, x] = r.pick<[string, () => unknown]>([
        ['a disposed tensor', () => tensorOn(env, env.engine, data, true)],
        ['a tensor of another engine', () => tensorOn(env, env.oracle, data)],
        [`a tensor of length ${data.length + 1}`, () => tensorOn(env, env.engine, randomF32(data.length + 1, seedOf(r)))],
        [`a tensor of length ${data.length - 1}`, () => data.length > 1 ? tensorOn(env, env.engine, data.subarray(1)) : null],
        ['its contents as a Float32Array (valid)', () => data.slice()],
      ]);
      s.set(x());
      return `${s.path} = ${d}`;
    });
  }
  if (isPlain(v) && kindOf(v) === undefined && !info) {
    const keys = Object.keys(v);
    if (keys.length > 0) add(3, () => { const key = r.pick(keys); delete v[key]; return `dropped ${memberNames(s.path, key)[0]}`; });
    add(3, () => {
      const key = unknownKey(r);
      const value = r.chance(0.3) ? undefined : r.chance(0.5) ? r.pick(JUNK)[1]() : r.pick([true, 1, new Uint8Array(4), 'causal']);
      setKey(v, key, value);
      return `added unknown key ${JSON.stringify(key)} = ${show(value, env)}`;
    });
    const optional = call.optional[s.path];
    if (optional) {
      add(3, () => {
        const key = r.pick(Object.keys(optional));
        const value = optional[key]();
        setKey(v, key, value);
        return `set ${memberNames(s.path, key)[0]} = ${show(value, env)}`;
      });
    }
  }
  return r.pick(choices)();
}

// ---------------------------------------------------------------------------------------------
// Entry points.

const ATTENTION_KEYS = ['batch', 'heads', 'seqQ', 'seqK', 'headDim', 'headDimV', 'scale', 'causal', 'attnMask', 'validLens', 'returnWeights', 'kvCapacity'];
const FORWARD_KEYS = ['batch', 'seqQ', 'seqK', 'keyPaddingMask', 'attnMask', 'causal', 'needWeights', 'averageWeights'];
const CONFIG_KEYS = ['embedDim', 'numHeads', 'kdim', 'vdim', 'bias', 'weights'];
const WEIGHT_KEYS = ['inProjWeight', 'qProjWeight', 'kProjWeight', 'vProjWeight', 'inProjBias', 'outProjWeight', 'outProjBias'];
const SEPARATE = ['qProjWeight', 'kProjWeight', 'vProjWeight'];

const prod = (...dims: (number | undefined)[]): number | undefined =>
  dims.some((d) => d === undefined) ? undefined : (dims as number[]).reduce((a, b) => a * b, 1);

/** A mask of one of the two kinds and shapes: [seqQ, seqK] or [slices, seqQ, seqK]. */
function maskFor(r: Rand, slices: number, seqQ: number, seqK: number): Uint8Array | Float32Array {
  const n = (r.chance(0.5) ? 1 : slices) * seqQ * seqK;
  if (r.chance(0.5)) return randomMask(n, seedOf(r), 0.7);
  const m = randomF32(n, seedOf(r));
  for (let i = 0; i < n; i++) if (r.chance(0.2)) m[i] = -Infinity;
  return m;
}

const attention: Entry = {
  name: 'attention', op: 'attention', weight: 4,
  make(env) {
    const r = env.r;
    const B = r.int(1, 2), H = r.int(1, 3), Lq = r.int(1, 5), Lk = r.int(1, 6), D = r.int(1, 8);
    const o: Record<string, unknown> = { batch: B, heads: H, seqQ: Lq, seqK: Lk, headDim: D };
    const Dv = r.chance(0.3) ? r.int(1, 6) : D;
    if (Dv !== D || r.chance(0.2)) o.headDimV = Dv;
    const cap = r.chance(0.2) ? Lk + r.int(1, 3) : Lk;
    if (cap !== Lk || r.chance(0.1)) o.kvCapacity = cap;
    const optional: Record<string, () => unknown> = {
      scale: () => r.pick([0.5, 1, 0.125, -1, 0, 2.5]),
      causal: () => r.chance(0.5),
      returnWeights: () => r.chance(0.7),
      attnMask: () => maskFor(r, B * H, Lq, Lk),
      validLens: () => randomInts(r.chance(0.5) ? B : B * Lq, seedOf(r), 0, Lk + 1),
      headDimV: () => r.pick([D, Dv, r.int(1, 6)]),
      kvCapacity: () => r.pick([Lk, cap, Lk + 1]),
    };
    for (const key of ['scale', 'causal', 'returnWeights', 'attnMask', 'validLens']) if (r.chance(0.25)) o[key] = optional[key]();
    const input = (n: number) => {
      const data = randomF32(n, seedOf(r));
      return r.chance(0.25) ? tensorOn(env, env.engine, data) : data;
    };
    return {
      entry: attention, names: ['q', 'k', 'v', 'options'], optional: { options: optional }, mutations: [],
      args: [input(B * H * Lq * D), input(B * H * cap * D), input(B * H * cap * Dv), o],
    };
  },
  spec(call, env) {
    const s = new Spec('attention');
    const [q, k, v, opts] = call.args;
    const o = s.object('options', opts, ATTENTION_KEYS) ?? {};
    const known = opts !== undefined && isObject(opts);
    const dim = (key: string, fallback?: number) => (o[key] === undefined && !known ? undefined
      : o[key] === undefined && fallback !== undefined ? fallback : s.dim(`options.${key}`, o[key]));
    const B = dim('batch'), H = dim('heads'), Lq = dim('seqQ'), Lk = dim('seqK'), D = dim('headDim');
    const Dv = o.headDimV === undefined ? D : dim('headDimV');
    const cap = o.kvCapacity === undefined ? Lk : dim('kvCapacity');
    if (cap !== undefined && Lk !== undefined && cap < Lk) s.fail('options.kvCapacity', 'RangeError');
    s.finite('options.scale', o.scale);
    s.flag('options.causal', o.causal);
    const weights = s.flag('options.returnWeights', o.returnWeights);
    const input = (name: string, value: unknown, length: number | undefined) => {
      const info = typeof value === 'object' && value !== null ? env.tensors.get(value) : undefined;
      if (info && info.engine === env.engine) {
        if (info.disposed) s.fail(name, 'TypeError'); // a disposed handle is no longer a tensor argument
        else if (length !== undefined && info.data.length !== length) s.fail(name, 'RangeError');
        return;
      }
      s.array(name, value, ['Float32Array'], [length]);
    };
    input('q', q, s.count('q', B, H, Lq, D));
    input('k', k, s.count('k', B, H, cap, D));
    input('v', v, s.count('v', B, H, cap, Dv));
    if (weights === true) s.count('weights', B, H, Lq, Lk);
    if (o.attnMask !== undefined) s.array('options.attnMask', o.attnMask, ['Uint8Array', 'Float32Array'], [prod(Lq, Lk), prod(B, H, Lq, Lk)]);
    if (o.validLens !== undefined) {
      const lens = s.array('options.validLens', o.validLens, ['Int32Array'], [B, prod(B, Lq)]);
      if (lens !== undefined && kindOf(lens) === 'Int32Array' && (plainCopy(lens) as Int32Array).some((x) => x < 0)) {
        s.fail('options.validLens', 'RangeError');
      }
    }
    return s;
  },
  invoke: (call, env) => env.engine.attention(...(call.args as Parameters<Engine['attention']>)),
  async verify(call, env, result, clean) {
    const [q, k, v, o] = clean as [Float32Array, Float32Array, Float32Array, Record<string, unknown>];
    const r = result as { output: Float32Array; weights?: Float32Array };
    const expected = await env.oracle.attention(q, k, v, o as never);
    expectSameBits(r.output, expected.output, 'output (vs the 1-thread engine)');
    expectSameBits(r.weights, expected.weights, 'weights (vs the 1-thread engine)');
    const B = o.batch as number, H = o.heads as number, Lq = o.seqQ as number, Lk = o.seqK as number, D = o.headDim as number;
    const Dv = (o.headDimV as number | undefined) ?? D, cap = (o.kvCapacity as number | undefined) ?? Lk;
    const scale = (o.scale as number | undefined) ?? 1 / Math.sqrt(D);
    expect(r.output.length, 'output length').toBe(B * H * Lq * Dv);
    expect(r.weights !== undefined, 'weights given').toBe(o.returnWeights === true);
    if (Math.abs(scale) > 16) return; // f32 logits would overflow where float64 ones do not
    const firstKeys = (x: Float32Array, d: number) => {
      const out = new Float32Array(B * H * Lk * d);
      for (let s = 0; s < B * H; s++) out.set(x.subarray(s * cap * d, (s * cap + Lk) * d), s * Lk * d);
      return out;
    };
    const mask = o.attnMask as Uint8Array | Float32Array | undefined, lens = o.validLens as Int32Array | undefined;
    const at = (b: number, h: number, i: number, j: number) => (mask!.length === Lq * Lk ? i * Lk + j : ((b * H + h) * Lq + i) * Lk + j);
    const ref = referenceAttention(q, firstKeys(k, D), firstKeys(v, Dv), {
      batch: B, heads: H, seqQ: Lq, seqK: Lk, headDim: D, headDimV: Dv, scale,
      attend: (b, h, i, j) => (o.causal !== true || j <= i) && (!(mask instanceof Uint8Array) || mask[at(b, h, i, j)] !== 0) &&
        (!lens || j < (lens.length === B ? lens[b] : lens[b * Lq + i])),
      bias: mask instanceof Float32Array ? (b, h, i, j) => mask[at(b, h, i, j)] : undefined,
    });
    expectClose(r.output, ref.output, 2e-5, 1e-4, 'output (vs the reference)');
    if (r.weights) expectClose(r.weights, ref.weights, 2e-6, 1e-4, 'weights (vs the reference)');
  },
};

interface MhaConfig { embedDim: number; numHeads: number; kdim?: number; vdim?: number; bias?: boolean; weights: Record<string, Float32Array> }

/** A valid layer configuration, and values for its optional keys. */
function makeConfig(r: Rand): { config: MhaConfig; optional: Call['optional'] } {
  const H = r.int(1, 3), E = H * r.int(1, 4);
  const separate = r.chance(0.4);
  const kdim = separate ? r.int(1, 6) : E, vdim = separate ? r.int(1, 6) : E;
  const bias = r.chance(0.75);
  const f = (n: number) => randomF32(n, seedOf(r), 0.5);
  const weights: Record<string, Float32Array> = separate
    ? { qProjWeight: f(E * E), kProjWeight: f(E * kdim), vProjWeight: f(E * vdim) }
    : { inProjWeight: f(3 * E * E) };
  weights.outProjWeight = f(E * E);
  if (bias) Object.assign(weights, { inProjBias: f(3 * E), outProjBias: f(E) });
  const config: MhaConfig = { embedDim: E, numHeads: H, weights };
  if (kdim !== E || r.chance(0.2)) config.kdim = kdim;
  if (vdim !== E || r.chance(0.2)) config.vdim = vdim;
  if (!bias || r.chance(0.2)) config.bias = bias;
  const optional = {
    config: { kdim: () => r.pick([E, kdim, r.int(1, 6)]), vdim: () => r.pick([E, vdim, r.int(1, 6)]), bias: () => r.chance(0.5) },
    'config.weights': {
      inProjWeight: () => f(3 * E * E), qProjWeight: () => f(E * E), kProjWeight: () => f(E * kdim),
      vProjWeight: () => f(E * vdim), inProjBias: () => f(3 * E), outProjBias: () => f(E), outProjWeight: () => f(E * E),
    },
  };
  return { config, optional };
}

/** Weights of a clean, valid config as the reference takes them. */
function refWeights(c: MhaConfig) {
  const E = c.embedDim, kdim = c.kdim ?? E, vdim = c.vdim ?? E, w = c.weights;
  const inW = w.inProjWeight, inB = w.inProjBias;
  return {
    E, H: c.numHeads, kdim, vdim,
    wq: inW ? inW.subarray(0, E * E) : w.qProjWeight, wk: inW ? inW.subarray(E * E, 2 * E * E) : w.kProjWeight,
    wv: inW ? inW.subarray(2 * E * E) : w.vProjWeight, wo: w.outProjWeight,
    bq: inB?.subarray(0, E), bk: inB?.subarray(E, 2 * E), bv: inB?.subarray(2 * E), bo: w.outProjBias,
  };
}

/** forward's result against the oracle engine's layer and the float64 reference. */
async function verifyForward(env: Env, config: MhaConfig, args: unknown[], result: unknown, layer?: MultiHeadAttention): Promise<void> {
  const [query, key, value, o] = args as [Float32Array, Float32Array, Float32Array, Record<string, unknown>];
  const r = result as { output: Float32Array; weights?: Float32Array };
  const oracle = env.oracle.multiHeadAttention(config as never);
  try {
    const expected = await oracle.forward(query, key, value, o as never);
    expectSameBits(r.output, expected.output, 'output (vs the 1-thread engine)');
    expectSameBits(r.weights, expected.weights, 'weights (vs the 1-thread engine)');
  } finally {
    await oracle.dispose();
  }
  const B = o.batch as number, Lq = o.seqQ as number, Lk = o.seqK as number, E = config.embedDim, H = config.numHeads;
  if (layer) expect([layer.embedDim, layer.numHeads, layer.kdim, layer.vdim]).toEqual([E, H, config.kdim ?? E, config.vdim ?? E]);
  // keyPaddingMask: Uint8Array non-zero = ignore the key; Float32Array added to its logits.
  const pad = o.keyPaddingMask as Uint8Array | Float32Array | undefined, mask = o.attnMask as Uint8Array | Float32Array | undefined;
  const floatPad = pad instanceof Float32Array ? pad : undefined;
  const at = (b: number, h: number, i: number, j: number) => (mask!.length === Lq * Lk ? i * Lk + j : ((b * H + h) * Lq + i) * Lk + j);
  const ref = referenceMha(refWeights(config) as never, query, key, value, B, Lq, Lk,
    (b, h, i, j) => (o.causal !== true || j <= i) && (!pad || floatPad !== undefined || pad[b * Lk + j] === 0) &&
      (!(mask instanceof Uint8Array) || mask[at(b, h, i, j)] === 0),
    mask instanceof Float32Array || floatPad
      ? (b, h, i, j) => (mask instanceof Float32Array ? mask[at(b, h, i, j)] : 0) + (floatPad ? floatPad[b * Lk + j] : 0)
      : undefined);
  expectClose(r.output, ref.output, 1e-4, 1e-4, 'output (vs the reference)');
  const needWeights = o.needWeights !== false;
  expect(r.weights !== undefined, 'weights given').toBe(needWeights);
  if (r.weights) expectClose(r.weights, o.averageWeights === false ? ref.headWeights : ref.averaged, 1e-5, 1e-4, 'weights (vs the reference)');
}

const multiHeadAttention: Entry = {
  name: 'multiHeadAttention', op: 'multiHeadAttention', weight: 2,
  make(env) {
    const { config, optional } = makeConfig(env.r);
    return { entry: multiHeadAttention, names: ['config'], args: [config], optional, mutations: [] };
  },
  spec(call) {
    const s = new Spec('multiHeadAttention');
    const c = s.object('config', call.args[0], CONFIG_KEYS);
    if (!c) return s;
    const E = s.dim('config.embedDim', c.embedDim), H = s.dim('config.numHeads', c.numHeads);
    if (E !== undefined && H !== undefined && E % H !== 0) s.fail('config.numHeads', 'RangeError');
    const kdim = c.kdim === undefined ? E : s.dim('config.kdim', c.kdim);
    const vdim = c.vdim === undefined ? E : s.dim('config.vdim', c.vdim);
    const bias = c.bias === undefined ? true : s.flag('config.bias', c.bias);
    const w = s.object('config.weights', c.weights, WEIGHT_KEYS);
    if (!w) return s;
    const f32 = (key: string, n: number | undefined) => s.array(`config.weights.${key}`, w[key], ['Float32Array'], [n]);
    if (w.inProjWeight !== undefined) {
      if (SEPARATE.some((key) => w[key] !== undefined)) s.fail('config.weights', 'RangeError');
      if (E !== undefined && ((kdim !== undefined && kdim !== E) || (vdim !== undefined && vdim !== E))) {
        s.fail('config.weights.inProjWeight', 'RangeError');
      }
      f32('inProjWeight', prod(3, E, E));
    } else {
      f32('qProjWeight', prod(E, E));
      f32('kProjWeight', prod(E, kdim));
      f32('vProjWeight', prod(E, vdim));
    }
    f32('outProjWeight', prod(E, E));
    if (bias === true) {
      f32('inProjBias', prod(3, E));
      f32('outProjBias', E);
    } else if (bias === false) {
      for (const key of ['inProjBias', 'outProjBias']) if (w[key] !== undefined) s.fail(`config.weights.${key}`, 'RangeError');
    }
    return s;
  },
  invoke(call, env) {
    const layer = env.engine.multiHeadAttention(call.args[0] as never);
    env.owned.push(() => layer.dispose());
    return layer;
  },
  async verify(call, env, result, clean) {
    const config = clean[0] as MhaConfig, layer = result as MultiHeadAttention;
    const E = config.embedDim, r = rand(7);
    const args = [randomF32(2 * E, seedOf(r)), randomF32(3 * (config.kdim ?? E), seedOf(r)), randomF32(3 * (config.vdim ?? E), seedOf(r)),
      { batch: 1, seqQ: 2, seqK: 3, averageWeights: false }];
    await verifyForward(env, config, args, await layer.forward(...(args as Parameters<MultiHeadAttention['forward']>)), layer);
  },
};

const forward: Entry = {
  name: 'forward', op: 'MultiHeadAttention.forward', weight: 3,
  make(env) {
    const r = env.r;
    const { config } = makeConfig(r);
    const layer = env.engine.multiHeadAttention(config as never);
    env.owned.push(() => layer.dispose());
    const E = config.embedDim, H = config.numHeads, kdim = config.kdim ?? E, vdim = config.vdim ?? E;
    const B = r.int(1, 2), Lq = r.int(1, 4);
    const self = kdim === E && vdim === E && r.chance(0.3);
    const Lk = self ? Lq : r.int(1, 5);
    const query = randomF32(B * Lq * E, seedOf(r));
    const key = self ? query : randomF32(B * Lk * kdim, seedOf(r));
    const value = self ? query : kdim === vdim && r.chance(0.3) ? key : randomF32(B * Lk * vdim, seedOf(r));
    const o: Record<string, unknown> = { batch: B, seqQ: Lq, seqK: Lk };
    const optional: Record<string, () => unknown> = {
      keyPaddingMask: () => randomMask(B * Lk, seedOf(r), 0.3),
      attnMask: () => {
        const m = maskFor(r, B * H, Lq, Lk);
        return m instanceof Uint8Array ? m.map((x) => 1 - x) : m; // mostly allowed: 1 = not allowed here
      },
      causal: () => r.chance(0.5), needWeights: () => r.chance(0.5), averageWeights: () => r.chance(0.5),
    };
    for (const k of Object.keys(optional)) if (r.chance(0.2)) o[k] = optional[k]();
    return {
      entry: forward, names: ['query', 'key', 'value', 'options'], args: [query, key, value, o], optional: { options: optional },
      mutations: [], layer: { layer, config },
    };
  },
  spec(call) {
    const s = new Spec('MultiHeadAttention.forward');
    const { config } = call.layer!;
    const E = config.embedDim, H = config.numHeads, kdim = config.kdim ?? E, vdim = config.vdim ?? E;
    const [query, key, value, opts] = call.args;
    const o = s.object('options', opts, FORWARD_KEYS);
    const B = o && s.dim('options.batch', o.batch), Lq = o && s.dim('options.seqQ', o.seqQ), Lk = o && s.dim('options.seqK', o.seqK);
    s.array('query', query, ['Float32Array'], [s.count('query', B, Lq, E)]);
    s.array('key', key, ['Float32Array'], [s.count('key', B, Lk, kdim)]);
    s.array('value', value, ['Float32Array'], [s.count('value', B, Lk, vdim)]);
    if (!o) return s;
    s.flag('options.causal', o.causal);
    const needWeights = s.flag('options.needWeights', o.needWeights);
    s.flag('options.averageWeights', o.averageWeights);
    if (needWeights !== false) s.count('weights', B, H, Lq, Lk);
    if (o.keyPaddingMask !== undefined) s.array('options.keyPaddingMask', o.keyPaddingMask, ['Uint8Array', 'Float32Array'], [prod(B, Lk)]);
    if (o.attnMask !== undefined) s.array('options.attnMask', o.attnMask, ['Uint8Array', 'Float32Array'], [prod(Lq, Lk), prod(B, H, Lq, Lk)]);
    return s;
  },
  invoke: (call) => call.layer!.layer.forward(...(call.args as Parameters<MultiHeadAttention['forward']>)),
  verify: (call, env, result, clean) => verifyForward(env, call.layer!.config, clean, result),
};

const createTensor: Entry = {
  name: 'createTensor', op: 'createTensor', weight: 1,
  make(env) {
    const r = env.r, n = r.int(1, 40);
    return { entry: createTensor, names: ['init'], args: [r.chance(0.5) ? n : randomF32(n, seedOf(r))], optional: {}, mutations: [] };
  },
  spec(call) {
    const s = new Spec('createTensor');
    const init = call.args[0];
    if (typeof init === 'number') {
      if (!Number.isInteger(init) || init <= 0 || init > MAX_TENSOR_LENGTH) s.fail('init', 'RangeError');
    } else if (kindOf(init) === 'Float32Array') {
      if (lengthOf(init) === 0) s.fail('init', 'RangeError');
    } else {
      s.fail('init', 'TypeError');
    }
    return s;
  },
  invoke(call, env) {
    const t = env.engine.createTensor(call.args[0] as never);
    env.owned.push(() => t.dispose());
    return t;
  },
  async verify(_call, _env, result, clean) {
    const t = result as EngineTensor, init = clean[0];
    const expected = typeof init === 'number' ? new Float32Array(init) : init as Float32Array;
    expect(t.length).toBe(expected.length);
    expectSameBits(await t.read(), expected, 'tensor contents');
  },
  skipValid: (call) => typeof call.args[0] === 'number' && call.args[0] > 2 ** 21,
};

/** A tensor with known contents, for write and read; disposing it is its receiver mutation. */
function withTensor(env: Env, entry: Entry, args: (n: number) => unknown[], names: string[]): Call {
  const r = env.r, n = r.int(1, 30);
  const data = randomF32(n, seedOf(r));
  const handle = tensorOn(env, env.engine, data);
  const call: Call = { entry, names, args: args(n), optional: {}, mutations: [], tensor: { handle, shadow: data.slice() } };
  call.receiver = () => {
    env.tensors.get(handle)!.disposed = true;
    void handle.dispose();
    return 'the tensor is disposed first';
  };
  return call;
}

/** An optional offset: undefined is 0; else a non-negative integer (TypeError if not a number). */
function offsetOf(s: Spec, value: unknown): number | undefined {
  if (value === undefined) return 0;
  if (typeof value !== 'number') return s.fail('offset', 'TypeError');
  if (!Number.isInteger(value) || value < 0) return s.fail('offset', 'RangeError');
  return value;
}

const write: Entry = {
  name: 'EngineTensor.write', op: 'EngineTensor.write', weight: 1,
  make(env) {
    const r = env.r;
    return withTensor(env, write, (n) => {
      const m = r.int(0, n), offset = r.int(0, n - m);
      return [randomF32(m, seedOf(r)), offset === 0 && r.chance(0.3) ? undefined : offset];
    }, ['data', 'offset']);
  },
  spec(call, env) {
    const s = new Spec('EngineTensor.write');
    const { handle } = call.tensor!;
    if (env.tensors.get(handle)!.disposed) s.fail('the tensor', 'Error');
    const [data, off] = call.args;
    const d = s.array('data', data, ['Float32Array'], [undefined]);
    const offset = offsetOf(s, off);
    if (d !== undefined && offset !== undefined && offset + lengthOf(d) > handle.length) {
      s.violations.push({ names: ['offset', 'data'], expected: 'RangeError' });
    }
    return s;
  },
  invoke: (call) => call.tensor!.handle.write(...(call.args as [Float32Array, number])),
  async verify(call, _env, _result, clean) {
    const [data, offset] = clean as [Float32Array, number | undefined];
    call.tensor!.shadow.set(data, offset ?? 0);
  },
};

const read: Entry = {
  name: 'EngineTensor.read', op: 'EngineTensor.read', weight: 1,
  make(env) {
    const r = env.r;
    return withTensor(env, read, (n) => {
      const offset = r.int(0, n);
      return [offset === 0 && r.chance(0.3) ? undefined : offset, r.chance(0.3) ? undefined : r.int(0, n - offset)];
    }, ['offset', 'length']);
  },
  spec(call, env) {
    const s = new Spec('EngineTensor.read');
    const { handle } = call.tensor!;
    if (env.tensors.get(handle)!.disposed) s.fail('the tensor', 'Error');
    const [off, count] = call.args;
    let n: number | undefined = 0;
    if (count !== undefined) {
      if (typeof count !== 'number') n = s.fail('length', 'TypeError');
      else if (!Number.isInteger(count) || count < 0) n = s.fail('length', 'RangeError');
      else n = count;
    }
    const offset = offsetOf(s, off);
    if (offset !== undefined && n !== undefined && offset + n > handle.length) s.violations.push({ names: ['offset', 'length'], expected: 'RangeError' });
    return s;
  },
  invoke: (call) => call.tensor!.handle.read(...(call.args as [number, number])),
  verify(call, _env, result, clean) {
    const [offset = 0, count] = clean as [number | undefined, number | undefined];
    const { shadow } = call.tensor!;
    expectSameBits(result as Float32Array, shadow.slice(offset, count === undefined ? shadow.length : offset + count), 'read');
  },
};

const pe: Entry = {
  name: 'positionalEncoding', op: 'positionalEncoding', weight: 1,
  make(env) {
    return { entry: pe, names: ['seqLen', 'dModel'], args: [env.r.int(1, 12), env.r.int(1, 16)], optional: {}, mutations: [] };
  },
  spec(call) {
    const s = new Spec('positionalEncoding');
    const L = s.dim('seqLen', call.args[0]), d = s.dim('dModel', call.args[1]);
    s.count('seqLen·dModel', L, d);
    return s;
  },
  invoke: (call) => positionalEncoding(...(call.args as [number, number])),
  verify(_call, _env, result, clean) {
    const [L, d] = clean as [number, number];
    const expected = new Float64Array(L * d);
    for (let p = 0; p < L; p++) {
      for (let c = 0; c < d; c++) {
        const angle = p / 10000 ** ((c - (c % 2)) / d);
        expected[p * d + c] = c % 2 === 0 ? Math.sin(angle) : Math.cos(angle);
      }
    }
    expectClose(result as Float32Array, expected, 1e-6, 1e-6, 'positional encoding');
  },
  skipValid: (call) => (call.args[0] as number) * (call.args[1] as number) > 2 ** 16,
};

const engineOptions: Entry = {
  name: 'createEngine', op: 'createEngine', weight: 1,
  make(env) {
    const r = env.r;
    const options = r.pick([{ threads: 1 }, { threads: 1, kernels: 'simd' }, { kernels: 'auto' }, { threads: 2 }, { threads: 'auto', kernels: 'simd' }]);
    const optional = {
      options: {
        threads: () => r.pick([1, 'auto', 0, 2.5, 257, -1, '1']),
        kernels: () => r.pick(['auto', 'simd', 'avx', 'SIMD', 'relaxed ', '']),
        wasm: () => r.pick([new Uint8Array(8), new ArrayBuffer(0), 'no-such-kernels.wasm', new DataView(new ArrayBuffer(4)), 42, {}, null, true]),
      },
    };
    return { entry: engineOptions, names: ['options'], args: [{ ...options }], optional, mutations: [] };
  },
  spec(call) {
    const s = new Spec('createEngine');
    const o = s.object('options', call.args[0], ['threads', 'kernels', 'wasm'], true);
    if (!o) return s;
    const t = o.threads;
    if (t !== undefined && t !== 'auto') {
      if (typeof t !== 'number') s.fail('options.threads', 'TypeError');
      else if (!Number.isInteger(t) || t < 1 || t > 256) s.fail('options.threads', 'RangeError');
    }
    if (o.kernels !== undefined && !['auto', 'simd', 'relaxed'].includes(o.kernels as string)) s.fail('options.kernels', 'TypeError');
    const wasm = o.wasm;
    if (wasm !== undefined) {
      if (o.kernels !== undefined && o.kernels !== 'auto') s.fail('options.kernels', 'RangeError');
      if (wasm instanceof WebAssembly.Module) { /* valid */ } else if (wasm instanceof ArrayBuffer || ArrayBuffer.isView(wasm) || typeof wasm === 'string' || wasm instanceof URL) {
        s.fail('options.wasm', 'Error', true); // not a kernel build: it cannot be compiled or loaded
      } else {
        s.fail('options.wasm', 'TypeError');
      }
    }
    return s;
  },
  invoke: (call) => createEngine(call.args[0] as never),
  verify() { throw new Error('a valid createEngine call is never made'); },
  skipValid: () => true, // valid options create engines
};

const ENTRIES = [attention, multiHeadAttention, forward, createTensor, write, read, pe, engineOptions];
const WEIGHTED = ENTRIES.flatMap((e) => Array.from({ length: e.weight }, () => e));

// ---------------------------------------------------------------------------------------------
// The run.

/** Typed arrays anywhere in the arguments, with a copy of their bytes. */
function snapshot(args: unknown[]): [unknown, Uint8Array][] {
  const out: [unknown, Uint8Array][] = [];
  const visit = (x: unknown, depth: number) => {
    if (kindOf(x) !== undefined) out.push([x, bytesOf(x)]);
    else if (isPlain(x) && depth < 3) for (const k of Object.keys(x)) visit(x[k], depth + 1);
  };
  args.forEach((a) => visit(a, 0));
  return out;
}

async function settle(f: () => unknown): Promise<{ ok: true; value: unknown } | { ok: false; error: unknown; sync: boolean }> {
  let pending: unknown;
  try {
    pending = f();
  } catch (error) {
    return { ok: false, error, sync: true };
  }
  try {
    return { ok: true, value: await pending };
  } catch (error) {
    return { ok: false, error, sync: false };
  }
}

/** Mutations counted in the summary, by what their description says. */
const KINDS: [string, RegExp][] = [
  ['faked tags', / tagged /], ['unknown keys', /unknown key/], ['dropped keys', /dropped /], ['wrong array kinds', /= an? (Float64Array|Int8Array|Uint8ClampedArray|Uint32Array|DataView|plain Array|Proxy)/],
  ['disposed tensors', /disposed/], ['other-engine tensors', /another engine/], ['subarray views', /subarray/], ['bad numbers', /= (NaN|-?Infinity|0|-0|-\d|0\.5|2\^|1e12|MAX_VALUE|MIN_VALUE)/],
];

interface Tally {
  kinds: Record<string, number>;
  calls: number; rejected: Record<string, number>; valid: number; skippedValid: number;
  stateErrors: number; sync: number; mismatches: Map<string, string>;
}

const oracleRef: { engine?: Engine } = {};
beforeAll(async () => { oracleRef.engine = await createEngine({ threads: 1 }); });
afterAll(async () => { await oracleRef.engine?.dispose(); });

describe.each([1, 2, 3])('bad-input fuzz (threads %i)', (threads) => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await createEngine({ threads });
    if (threads > 1) internals(engine).forcePool();
  });
  afterAll(() => engine.dispose());

  it(`${ONLY !== undefined ? `call ${ONLY}` : `${CALLS} calls`} (seed ${SEED}): each rejects naming a bad argument or gives the right result`, async () => {
    const oracle = oracleRef.engine!;
    const started = performance.now();
    const tensors = new WeakMap<object, TensorInfo>();

    // What must survive every bad call: a resident layer, a resident tensor, one fixed call's bits.
    const fr = rand(SEED ^ 0xf1ced);
    const { config: fixedConfig } = makeConfig(fr);
    const layer = engine.multiHeadAttention(fixedConfig as never);
    const E = fixedConfig.embedDim, kdim = fixedConfig.kdim ?? E, vdim = fixedConfig.vdim ?? E;
    const fq = randomF32(2 * 3 * 7 * 8, 1), fk = randomF32(2 * 3 * 9 * 8, 2), fvData = randomF32(2 * 3 * 9 * 6, 3);
    const fv = engine.createTensor(fvData);
    const fixedOptions = {
      batch: 2, heads: 3, seqQ: 7, seqK: 9, headDim: 8, headDimV: 6, returnWeights: true,
      attnMask: randomF32(2 * 3 * 7 * 9, 4), validLens: Int32Array.of(9, 5), causal: true,
    };
    const fx = randomF32(2 * 4 * E, 5), fkey = randomF32(2 * 5 * kdim, 6), fvalue = randomF32(2 * 5 * vdim, 7);
    const fixedForward = { batch: 2, seqQ: 4, seqK: 5, keyPaddingMask: Uint8Array.of(0, 0, 0, 1, 1, 0, 1, 0, 0, 0) };
    const fixed = async () => ({
      attention: await engine.attention(fq, fk, fv, fixedOptions),
      forward: await layer.forward(fx, fkey, fvalue, fixedForward),
      tensor: await fv.read(),
    });
    const baseline = await fixed();
    const oracleAttention = await oracle.attention(fq, fk, fvData, fixedOptions);
    expectSameBits(baseline.attention.output, oracleAttention.output, 'fixed call vs the 1-thread engine');
    await verifyForward({ engine, oracle, r: fr, tensors, owned: [] }, fixedConfig, [fx, fkey, fvalue, fixedForward], baseline.forward);
    const arena = internals(engine).arena;
    const resident = arena.residentBytes;

    const tally: Tally = { kinds: {}, calls: 0, rejected: {}, valid: 0, skippedValid: 0, stateErrors: 0, sync: 0, mismatches: new Map() };
    const checkpoint = async (where: string) => {
      const now = await fixed();
      for (const part of ['attention', 'forward'] as const) {
        expectSameBits(now[part].output, baseline[part].output, `${where}: the fixed ${part} call's output`);
        expectSameBits(now[part].weights, baseline[part].weights, `${where}: the fixed ${part} call's weights`);
      }
      expectSameBits(now.tensor, baseline.tensor, `${where}: the resident tensor`);
      expect(arena.residentBytes, `${where}: resident bytes (a leak if more)`).toBe(resident);
    };

    // CALLS calls made (valid calls too costly to make do not count).
    for (let i = ONLY ?? 0; ONLY !== undefined ? i === ONLY : tally.calls < CALLS; i++) {
      const env: Env = { engine, oracle, r: rand(callSeed(SEED, i)), tensors, owned: [] };
      const entry = env.r.pick(WEIGHTED);
      const call = await entry.make(env);
      const base = call.args.map((a) => show(a, env)).join(', ');
      const unmutated = entry.spec(call, env).violations;
      if (unmutated.length > 0) throw new Error(`bad-input fuzz: call #${i}'s valid start is not valid: ${unmutated.map((v) => v.names[0]).join(', ')}`);
      for (let m = env.r.int(1, 3); m > 0; m--) call.mutations.push(mutate(call, env));
      for (const [kind, pattern] of KINDS) if (pattern.test(call.mutations.join('; '))) tally.kinds[kind] = (tally.kinds[kind] ?? 0) + 1;
      const violations: Violation[] = entry.spec(call, env).violations;
      const where = () => `seed ${SEED} (WASM_ATTENTION_SEED=${SEED}), threads ${threads}, call #${i} (WASM_ATTENTION_CALL=${i} replays it)\n` +
        `  ${entry.op}(${base})\n  mutations: ${call.mutations.join('; ')}\n` +
        `  called as ${entry.op}(${call.args.map((a) => show(a, env)).join(', ')})\n` +
        `  the spec finds: ${violations.length === 0 ? 'a valid call' : violations.map((v) => `${v.names[0]} (${v.expected})`).join(', ')}`;
      const fail = (problem: string): never => { throw new Error(`bad-input fuzz: ${problem}\n${where()}`); };
      try {
        if (violations.length === 0 && entry.skipValid?.(call)) {
          tally.skippedValid++;
          continue;
        }
        tally.calls++;
        const before = snapshot(call.args);
        const seen = new Map<unknown, unknown>();
        const cleanArgs = violations.length === 0 ? call.args.map((a) => clean(a, env, seen)) : [];
        // Now and then the fixed call is in flight, queued before the bad one.
        const inflight = env.r.chance(0.1) ? fixed() : undefined;
        const outcome = await settle(() => entry.invoke(call, env));
        if (inflight) {
          const now = await inflight;
          try {
            for (const part of ['attention', 'forward'] as const) expectSameBits(now[part].output, baseline[part].output, `the fixed ${part} call in flight`);
          } catch (error) {
            fail((error as Error).message);
          }
        }
        for (const [array, bytes] of before) {
          const after = bytesOf(array);
          if (after.length !== bytes.length || after.some((b, j) => b !== bytes[j])) fail(`an input (${show(array, env)}) was written to`);
        }
        if (violations.length === 0) {
          if (!outcome.ok) fail(`a valid call failed: ${classOf(outcome.error)}: ${(outcome.error as Error)?.message ?? String(outcome.error)}`);
          else {
            try {
              await entry.verify(call, env, outcome.value, cleanArgs);
            } catch (error) {
              fail(`a valid call gave a wrong result: ${(error as Error).message}`);
            }
            tally.valid++;
          }
        } else if (outcome.ok) {
          if (entry === engineOptions) await (outcome.value as Engine).dispose();
          fail('a bad call was accepted');
        } else {
          const { error } = outcome;
          const got = classOf(error);
          const message = (error as Error)?.message ?? String(error);
          const named = answers(error, entry.op, violations);
          if (named.length === 0) fail(`the error names none of the bad arguments: ${got}: ${message}`);
          const v = named.find((x) => x.expected === got) ?? named[0];
          if (v.expected === 'Error' ? got !== 'Error' && got !== 'TypeError' && got !== 'RangeError' : got !== 'TypeError' && got !== 'RangeError') {
            fail(`the error is a ${got}, not a TypeError or RangeError: ${message}`);
          }
          if (got !== v.expected) {
            const key = `${entry.op}: ${v.names[0]}: expected a ${v.expected}, got a ${got}`;
            if (!tally.mismatches.has(key)) tally.mismatches.set(key, message);
          }
          if (got === 'Error') tally.stateErrors++;
          if (outcome.sync) tally.sync++;
          tally.rejected[got] = (tally.rejected[got] ?? 0) + 1;
        }
        // A rejected write leaves the tensor as it was; every write/read checks the contents.
        if (call.tensor && !tensors.get(call.tensor.handle)!.disposed) {
          const contents = await call.tensor.handle.read();
          try {
            expectSameBits(contents, call.tensor.shadow, 'the tensor after the call');
          } catch (error) {
            fail((error as Error).message);
          }
        }
      } finally {
        await Promise.all(env.owned.map((dispose) => dispose()));
      }
      if ((i + 1) % CHECK_EVERY === 0) {
        try {
          await checkpoint(`after call #${i}`);
        } catch (error) {
          fail(`the engine is no longer right: ${(error as Error).message}`);
        }
      }
    }
    await checkpoint('at the end');
    await Promise.all([layer.dispose(), fv.dispose()]);

    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    const rejected = Object.entries(tally.rejected).map(([k, n]) => `${n} ${k}`).join(', ');
    console.log(`bad-input fuzz, threads ${threads}, seed ${SEED}: ${tally.calls} calls in ${seconds} s — rejected: ${rejected} ` +
      `(${tally.sync} thrown synchronously; ${tally.stateErrors} state errors: disposed tensors, kernels that do not compile); ` +
      `${tally.valid} valid calls gave the right result; skipped ${tally.skippedValid} valid calls too costly to make; ` +
      `memory ${arena.memory.buffer.byteLength / 2 ** 20} MiB\n  ` +
      `calls with ${Object.entries(tally.kinds).map(([k, n]) => `${k}: ${n}`).join(', ')}` +
      (tally.mismatches.size > 0 ? `\n  error classes other than the convention (TypeError: wrong type, RangeError: wrong value):\n    ` +
        [...tally.mismatches].map(([k, m]) => `${k} — "${m}"`).join('\n    ') : ''));
    if (ONLY === undefined) expect(tally.calls).toBe(CALLS);
  }, 900_000);
});
