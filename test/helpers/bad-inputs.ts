// Bad inputs for the fuzz of every public entry point (test/ops/bad-input-fuzz.test.ts): values
// of the wrong type, kind, length or range, the other forms an array may validly take, and a
// Spec that writes down, independently of src/validate.ts, which arguments of a call are wrong
// and what the error naming each must be.
import { createContext, runInContext } from 'node:vm';
import { rng } from './random.js';

export interface Rand {
  (): number;
  /** An integer in lo..hi. */
  int(lo: number, hi: number): number;
  pick<T>(items: readonly T[]): T;
  chance(p: number): boolean;
}

export function rand(seed: number): Rand {
  const next = rng(seed);
  const r = (() => next()) as Rand;
  r.int = (lo, hi) => lo + Math.floor(next() * (hi - lo + 1));
  r.pick = (items) => items[Math.floor(next() * items.length)];
  r.chance = (p) => next() < p;
  return r;
}

/** The seed of call `i` of a run: every call has its own, so one call can be replayed alone. */
export function callSeed(seed: number, i: number): number {
  return (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(i + 1, 0xc2b2ae35)) >>> 0;
}

// What an array really is: its internal slots, read through %TypedArray%.prototype's getters
// (a faked Symbol.toStringTag, an own length or a subclass's getter cannot change them).
const TypedArrayPrototype = Object.getPrototypeOf(Uint8Array.prototype) as object;
const slot = (key: PropertyKey) => Object.getOwnPropertyDescriptor(TypedArrayPrototype, key)!.get! as (this: unknown) => unknown;
const nameSlot = slot(Symbol.toStringTag), lengthSlot = slot('length'), bufferSlot = slot('buffer');
const offsetSlot = slot('byteOffset'), byteLengthSlot = slot('byteLength');
export type Typed = Float32Array | Float64Array | Int8Array | Uint8Array | Uint8ClampedArray | Int32Array | Uint32Array;
type TypedClass = { new (n: number | ArrayBufferLike | ArrayLike<number>, offset?: number, length?: number): Typed; from(a: ArrayLike<number>): Typed; name: string };
const CLASSES: Record<string, TypedClass> = {
  Float32Array, Float64Array, Int8Array, Uint8Array, Uint8ClampedArray, Int32Array, Uint32Array,
} as unknown as Record<string, TypedClass>;

/** 'Float32Array', 'Uint8Array', … for a real typed array of any realm; undefined for anything else. */
export const kindOf = (x: unknown): string | undefined => nameSlot.call(x) as string | undefined;
export const lengthOf = (x: unknown): number => lengthSlot.call(x) as number;
/** The bytes an array views (a copy). */
export function bytesOf(x: unknown): Uint8Array {
  const length = byteLengthSlot.call(x) as number;
  if (length === 0) return new Uint8Array(0);
  return new Uint8Array(bufferSlot.call(x) as ArrayBufferLike, offsetSlot.call(x) as number, length).slice();
}
/** A plain array of this realm, of the real kind and length of `x`, with its values. */
export function plainCopy(x: unknown): Typed {
  const Class = CLASSES[kindOf(x)!];
  const out = new Class(lengthOf(x));
  new Uint8Array(out.buffer).set(bytesOf(x));
  return out;
}

// ---------------------------------------------------------------------------------------------
// The spec of a call: which arguments are wrong, and the error each must give.

/** TypeError: a wrong type or array kind; RangeError: right type, wrong value or length; Error:
 * the library's documented state error (a disposed tensor, kernels that cannot be compiled). */
export type ErrorClass = 'TypeError' | 'RangeError' | 'Error';
export interface Violation {
  /** What the message must name, as `<op>: <name> …` (either spelling of a key). */
  names: string[];
  expected: ErrorClass;
  /** The name may stand anywhere in the message (compile errors), not only as its subject. */
  anywhere?: boolean;
}

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;
/** Both spellings of `object.key` a message may use. */
export const memberNames = (object: string, key: string): string[] =>
  IDENTIFIER.test(key) ? [`${object}.${key}`] : [`${object}[${JSON.stringify(key)}]`, `${object}.${key}`];

export const isObject = (x: unknown): x is Record<string, unknown> =>
  typeof x === 'object' && x !== null && !Array.isArray(x);

/** Largest element count a call may describe (a 32-bit memory of f32), and largest dimension. */
export const MAX_ELEMENTS = 0x3fffffff;
export const MAX_DIM = 0x7fffffff;

/** Collects the violations of one call, checking each argument the way the README documents it. */
export class Spec {
  readonly violations: Violation[] = [];
  constructor(readonly op: string) {}

  fail(name: string, expected: ErrorClass, anywhere = false): undefined {
    this.violations.push({ names: [name], expected, anywhere });
    return undefined;
  }

  /** An options/config object whose own enumerable string keys are all `known`. */
  object(name: string, value: unknown, known: readonly string[], optional = false): Record<string, unknown> | undefined {
    if (value === undefined && optional) return {};
    if (!isObject(value) || typeof value === 'function') return this.fail(name, 'TypeError');
    for (const key of Object.keys(value)) {
      if (!known.includes(key)) this.violations.push({ names: memberNames(name, key), expected: 'RangeError' });
    }
    return value;
  }

  /** A positive integer dimension, at most 2^31 - 1; `optional`: undefined gives undefined. */
  dim(name: string, value: unknown, optional = false): number | undefined {
    if (value === undefined && optional) return undefined;
    if (typeof value !== 'number') return this.fail(name, 'TypeError');
    if (!Number.isInteger(value) || value <= 0 || value > MAX_DIM) return this.fail(name, 'RangeError');
    return value;
  }

  /** An optional boolean. */
  flag(name: string, value: unknown): boolean | undefined {
    if (value === undefined) return undefined;
    if (typeof value !== 'boolean') return this.fail(name, 'TypeError');
    return value;
  }

  /** An optional number, finite as an f32. */
  finite(name: string, value: unknown): number | undefined {
    if (value === undefined) return undefined;
    if (typeof value !== 'number') return this.fail(name, 'TypeError');
    if (!Number.isFinite(Math.fround(value))) return this.fail(name, 'RangeError');
    return value;
  }

  /** Elements of a shape (undefined if a dim is unknown); more than MAX_ELEMENTS names `name`. */
  count(name: string, ...dims: (number | undefined)[]): number | undefined {
    if (dims.some((d) => d === undefined)) return undefined;
    const n = (dims as number[]).reduce((a, b) => a * b, 1);
    return n > MAX_ELEMENTS ? this.fail(name, 'RangeError') : n;
  }

  /** A real typed array of one of `kinds` whose length is one of `lengths` (unchecked when
   * `lengths` holds an undefined: a dim it depends on is already wrong). */
  array(name: string, value: unknown, kinds: readonly string[], lengths: readonly (number | undefined)[]): unknown {
    const kind = kindOf(value);
    if (kind === undefined || !kinds.includes(kind)) return this.fail(name, 'TypeError');
    if (lengths.includes(undefined)) return value;
    if (!lengths.includes(lengthOf(value))) return this.fail(name, 'RangeError');
    return value;
  }
}

/** The violations an error answers for: its message (after `wasm-attention: ` for state errors)
 * is `<op>: <name> …`, `<op>: <name>[i] …` for an element, or mentions an `anywhere` name. */
export function answers(error: unknown, op: string, violations: readonly Violation[]): Violation[] {
  if (!(error instanceof Error)) return [];
  const message = error.message.replace(/^wasm-attention: /, '');
  const prefix = `${op}: `;
  const subject = message.startsWith(prefix) ? message.slice(prefix.length) : undefined;
  return violations.filter((v) => v.names.some((name) => {
    if (v.anywhere && new RegExp(`(^|[^\\w.])${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![\\w$])`).test(message)) return true;
    if (subject === undefined || !subject.startsWith(name)) return false;
    const next = subject[name.length];
    return next === undefined || next === ' ' || next === '[';
  }));
}

/** The class of an error as the fuzz sees it: TypeError, RangeError, Error, or another. */
export function classOf(error: unknown): string {
  if (error instanceof TypeError) return 'TypeError';
  if (error instanceof RangeError) return 'RangeError';
  if (error instanceof Error) return error.constructor === Error ? 'Error' : error.constructor.name;
  return typeof error;
}

// ---------------------------------------------------------------------------------------------
// Bad values.

/** Values of the wrong type for anything. */
export const JUNK: readonly [string, () => unknown][] = [
  ['"x"', () => 'x'], ['"2"', () => '2'], ['true', () => true], ['false', () => false], ['null', () => null],
  ['undefined', () => undefined], ['{}', () => ({})], ['[]', () => []], ['[2]', () => [2]], ['2n', () => 2n],
  ['Symbol()', () => Symbol('bad')], ['a function', () => () => 1], ['a Date', () => new Date(0)],
  ['a Map', () => new Map()], ['a boxed 2', () => Object(2)],
];

/** Numbers to put in place of `v`: NaN, infinities, 0, negatives, fractions, huge, off by one. */
export function badNumbers(v: number): readonly [string, number][] {
  return [
    ['NaN', NaN], ['Infinity', Infinity], ['-Infinity', -Infinity], ['0', 0], ['-0', -0], ['-1', -1], [`-${v}`, -v],
    ['0.5', 0.5], [`${v} + 0.5`, v + 0.5], [`${v} - 1`, v - 1], [`${v} + 1`, v + 1], [`2·${v}`, 2 * v],
    ['2^31', 2 ** 31], ['2^32 + 1', 2 ** 32 + 1], ['1e12', 1e12], ['2^53', 2 ** 53], ['MAX_VALUE', Number.MAX_VALUE],
    ['MIN_VALUE', Number.MIN_VALUE], ['2^20', 2 ** 20], ['2^31 - 1', 2 ** 31 - 1],
  ];
}

/** Option keys no entry point takes: PyTorch / Hugging Face spellings, typos, odd strings. */
export const UNKNOWN_KEYS: readonly string[] = [
  'is_causal', 'isCausal', 'casual', 'Causal', 'attn_mask', 'attention_mask', 'key_padding_mask', 'need_weights',
  'average_attn_weights', 'valid_lens', 'head_dim', 'kv_capacity', 'scale_factor', 'dropout_p', 'dropout',
  'enable_gqa', 'batch_first', 'embed_dim', 'num_heads', 'hidden_size', 'in_proj_weight', 'in_proj_bias',
  'out_proj.weight', 'out_proj.bias', 'q_proj_weight', 'bias_k', 'add_zero_attn', 'num_threads', 'workers',
  'kernel', 'thread', 'mask', 'seq', 'batchSize', 'headsNum', 'returnweights', 'needweight', 'causal ',
  '', '0', 'a b', 'x.y', '__proto__', 'constructor', 'toString', 'hasOwnProperty', 'ключ', '$', 'weights_',
];

/** A random key: one of UNKNOWN_KEYS, or random characters. */
export function unknownKey(r: Rand): string {
  if (r.chance(0.7)) return r.pick(UNKNOWN_KEYS);
  const chars = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_0123456789.-';
  return Array.from({ length: r.int(1, 12) }, () => r.pick([...chars])).join('');
}

/** Sets an own, enumerable data property (also `__proto__`). */
export function setKey(object: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(object, key, { value, enumerable: true, writable: true, configurable: true });
}

const realm = createContext({});
class SubF32 extends Float32Array {}
class SubU8 extends Uint8Array {}
class SubI32 extends Int32Array {}
const SUBCLASSES: Record<string, TypedClass> = { Float32Array: SubF32, Uint8Array: SubU8, Int32Array: SubI32 } as unknown as Record<string, TypedClass>;

/** An array of `kind` with the values of `a` (converted), `length` elements. */
function remake(kind: string, a: Typed, length = lengthOf(a)): Typed {
  const out = new CLASSES[kind](length);
  const values = plainCopy(a);
  for (let i = 0; i < Math.min(length, values.length); i++) out[i] = values[i];
  return out;
}

/** A typed array that says it is a `tag` whatever it really is. */
export function tagged<T extends object>(array: T, tag: string): T {
  Object.defineProperty(array, Symbol.toStringTag, { value: tag });
  return array;
}

/** Another array in place of `a` (a real Float32Array, Uint8Array or Int32Array): of another
 * kind, a lying tag, another length, or one of the valid forms of the same values. */
export function arrayMutation(a: Typed, r: Rand): [string, unknown] {
  const kind = kindOf(a)!, n = lengthOf(a);
  const others = Object.keys(CLASSES).filter((k) => k !== kind);
  const made: (() => [string, unknown])[] = [
    () => { const k = r.pick(others); return [`a ${k}(${n})`, remake(k, a)]; },
    () => [`a DataView of ${n} elements' bytes`, new DataView(plainCopy(a).buffer)],
    () => [`a plain Array(${n})`, Array.from(plainCopy(a))],
    () => {
      const k = r.pick(['Uint8Array', 'Float64Array', 'Int8Array', 'Uint8ClampedArray', 'Int32Array', 'Float32Array'].filter((x) => x !== kind));
      const tag = r.chance(0.6) ? kind : r.pick(['Float32Array', 'Uint8Array', 'Int32Array']);
      return [`a ${k}(${n}) tagged ${tag}`, tagged(remake(k, a), tag)];
    },
    () => { const tag = r.pick(['Float32Array', 'Uint8Array', 'Int32Array', 'Float64Array'].filter((x) => x !== kind)); return [`the ${kind} tagged ${tag}`, tagged(plainCopy(a), tag)]; },
    () => { const m = r.pick([n - 1, n + 1, 2 * n, Math.floor(n / 2), 0, n + r.int(2, 9)].filter((m) => m >= 0)); return [`a ${kind}(${m})`, remake(kind, a, m)]; },
    () => {
      const m = r.pick([n - 1, n + 1].filter((m) => m >= 0));
      const big = new CLASSES[kind](n + 8);
      big.set(plainCopy(a).subarray(0, Math.min(n, m)), 3);
      return [`a subarray view of ${m} elements`, big.subarray(3, 3 + m)];
    },
    () => { const big = new CLASSES[kind](n + 8); big.set(plainCopy(a), 2); return [`a subarray view of ${n} elements (valid)`, big.subarray(2, 2 + n)]; },
    () => [`a ${kind} of another realm (valid)`, runInContext(`${kind}.from(values)`, Object.assign(realm, { values: Array.from(plainCopy(a)) }))],
    () => [`a subclass of ${kind} (valid)`, SUBCLASSES[kind] ? SUBCLASSES[kind].from(plainCopy(a)) : plainCopy(a)],
    () => {
      const shared = new CLASSES[kind](new SharedArrayBuffer(n * plainCopy(a).BYTES_PER_ELEMENT));
      shared.set(plainCopy(a));
      return [`a SharedArrayBuffer-backed ${kind} (valid)`, shared];
    },
    () => [`a Proxy of the ${kind}`, new Proxy(plainCopy(a), {})],
    () => { const copy = plainCopy(a); structuredClone(copy.buffer, { transfer: [copy.buffer] }); return [`a detached ${kind}`, copy]; },
    () => [`a ${kind}(${n + 1}) with an own length of ${n}`, Object.defineProperty(remake(kind, a, n + 1), 'length', { value: n })],
    () => [`an object tagged ${kind} with length ${n}`, { [Symbol.toStringTag]: kind, length: n, ...Array.from(plainCopy(a)) }],
  ];
  return r.pick(made)();
}
