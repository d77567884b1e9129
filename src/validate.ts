// Validation at the edge: every public entry point checks its arguments here before any
// memory is touched, so a bad call throws without side effects and the engine stays usable.
import { rangeError, typeError } from './errors.js';
import { plainView, typedArrayName, type ArrayKind, type ArrayOfKind } from './typed-array.js';
import { safetensorsShapes } from './io/safetensors.js';

/** A positive integer dimension (TypeError if not a number, RangeError if NaN, fractional, <= 0). */
export function dim(op: string, name: string, value: unknown): number {
  if (typeof value !== 'number') throw typeError(op, name, 'a positive integer', value);
  if (!Number.isInteger(value) || value <= 0 || value > 0x7fffffff) {
    throw rangeError(op, name, `must be a positive integer, got ${value}`);
  }
  return value;
}

/** An optional positive integer dimension; `fallback` when undefined. */
export function optionalDim(op: string, name: string, value: unknown, fallback: number): number {
  return value === undefined ? fallback : dim(op, name, value);
}

/** An optional boolean flag; `fallback` when undefined. */
export function flag(op: string, name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw typeError(op, name, 'a boolean', value);
  return value;
}

/** An optional weight quantization: undefined (f32) or 'int8'. */
export function quantizeOption(op: string, name: string, value: unknown): 'int8' | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw typeError(op, name, "'int8' or undefined", value);
  if (value !== 'int8') throw rangeError(op, name, `must be 'int8' (or left out for f32), got ${JSON.stringify(value)}`);
  return value;
}

/** Largest reduction length of the int8 GEMM: its i32 sums stay exact below 66311. */
export const INT8_MAX_IN_FEATURES = 65536;

/** Checks that a weight to be quantized to int8 is finite and its reduction length allowed;
 * `rowLength` is the length of its rows in memory (inFeatures for nn.Linear's [out, in], out for a
 * Conv1D's [in, out]), for the index of a bad value. */
export function int8Weight(
  op: string, name: string, weight: Float32Array, inFeatures: number, inName: string, rowLength = inFeatures,
): void {
  if (inFeatures > INT8_MAX_IN_FEATURES) {
    throw rangeError(op, inName, `must be <= ${INT8_MAX_IN_FEATURES} with quantize 'int8' (exact i32 sums), got ${inFeatures}`);
  }
  for (let i = 0; i < weight.length; i++) {
    if (!Number.isFinite(weight[i])) {
      throw rangeError(op, name, `holds ${weight[i]} at [${Math.floor(i / rowLength)}, ${i % rowLength}]; int8 quantization needs finite weights`);
    }
  }
}

/** An optional number that stays finite as an f32 (the kernels take it as one: 1e39 would
 * reach them as Infinity, as torch refuses it "without overflow"); `fallback` when undefined. */
export function finiteF32(op: string, name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number') throw typeError(op, name, 'a finite number', value);
  if (!Number.isFinite(value)) throw rangeError(op, name, `must be a finite number, got ${value}`);
  if (!Number.isFinite(Math.fround(value))) {
    throw rangeError(op, name, `must be finite as an f32 (|x| < 3.4028235677973366e38), got ${value}`);
  }
  return value;
}

/** Whether value really is a typed array of the given kind (by its internal slot, not its
 * Symbol.toStringTag: arrays of other realms and subclasses pass, a faked tag does not). */
export function isArrayOf(value: unknown, kind: ArrayKind): boolean {
  return typedArrayName(value) === kind;
}

/** `value` as a view of this realm's class on the same memory, if it really is a typed array of
 * one of `kinds`; undefined if not. The view's length and byteLength are the array's own. */
export function typedArray<K extends ArrayKind>(value: unknown, ...kinds: K[]): ArrayOfKind[K] | undefined {
  const kind = typedArrayName(value) as K;
  return kinds.includes(kind) ? plainView(value as ArrayBufferView, kind) : undefined;
}

/** A typed array of the given kind and exact length (as {@link typedArray}); `shape` names the
 * dims in the message. */
export function array<K extends ArrayKind>(
  op: string, arg: string, value: unknown, kind: K, length: number, shape: string,
): ArrayOfKind[K] {
  const view = typedArray(value, kind);
  if (view === undefined) throw typeError(op, arg, `a ${kind}`, value);
  if (view.length !== length) {
    throw rangeError(op, arg, `has length ${view.length}, expected ${length} (${shape})`);
  }
  return view;
}

/**
 * When the state dict `dict` came from `loadSafetensors` (it carries the file's shapes), the
 * file's shape of `key` must be `shape`, up to dims of size 1: a tensor of the right length but
 * another shape — a GPT-2 Conv1D stored transposed as nn.Linear's [out, in], a reshaped
 * embedding — is a RangeError naming it, instead of a model that runs on scrambled weights.
 * Arrays without a recorded shape (a hand-built dict, a spread copy) are checked by length only.
 */
export function fileShape(op: string, arg: string, dict: object, key: string, shape: readonly number[]): void {
  const shapes = (dict as { [safetensorsShapes]?: Record<string, number[]> })[safetensorsShapes];
  if (shapes === undefined || !Object.prototype.hasOwnProperty.call(shapes, key)) return;
  const got = shapes[key]!;
  const squeeze = (s: readonly number[]): string => s.filter((d) => d !== 1).join(',');
  if (squeeze(got) === squeeze(shape)) return;
  const transposed = got.length === 2 && shape.length === 2 && got[0] === shape[1] && got[1] === shape[0];
  throw rangeError(op, arg, `has shape [${got.join(', ')}] in its safetensors file, expected [${shape.join(', ')}]` +
    (transposed ? ' (the transpose: the file stores this weight in the other layout)' : ''));
}

/** Total element count of a shape, with a RangeError when it exceeds what memory can hold. */
export function elements(op: string, arg: string, ...dims: number[]): number {
  let n = 1;
  for (const d of dims) n *= d;
  if (n > 0x3fffffff) throw rangeError(op, arg, `would need ${n} elements, more than a 32-bit memory holds`);
  return n;
}

/** The keys of an options or config type, listed once: the compiler checks the list against
 * the type (none missing, none extra), and {@link options} rejects every other key. */
export function keysOf<T>(all: Record<keyof T, true>): readonly string[] {
  return Object.keys(all);
}

/** An options or config object (undefined allowed when `optional`) whose own enumerable string
 * keys are all `known`: any other key is a RangeError naming it, even when its value is
 * undefined (`{ casual: undefined }` is still a typo), with the likely intended key. Symbol
 * keys and non-enumerable properties are not options and are left alone. */
export function options(
  op: string, name: string, value: unknown, optional: boolean, known: readonly string[],
): Record<string, unknown> {
  if (value === undefined && optional) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw typeError(op, name, 'an object', value);
  }
  for (const key of Object.keys(value)) {
    if (known.includes(key)) continue;
    const guesses = likelyKeys(key, known).map((k) => member(name, k));
    const hint = guesses.length > 0 ? ` (did you mean ${guesses.join(' or ')}?)` : '';
    throw rangeError(op, member(name, key), `is not a known key${hint}; known: ${known.join(', ')}`);
  }
  return value as Record<string, unknown>;
}

/** `object.key`, or `object["key"]` when the key is not an identifier. */
function member(object: string, key: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `${object}.${key}` : `${object}[${JSON.stringify(key)}]`;
}

/** PyTorch and Hugging Face spellings (folded, as {@link fold} makes them) whose folded form is
 * not that of our name; the first candidate the object knows is suggested. snake_case, case and
 * small typos need no entry. */
const ALIASES = new Map<string, readonly string[]>([
  ['iscausal', ['causal']],
  ['keypaddingmask', ['keyPaddingMask', 'validLens']],
  ['needweights', ['needWeights', 'returnWeights']],
  ['returnweights', ['returnWeights', 'needWeights']],
  ['averageattnweights', ['averageWeights']],
  ['hiddensize', ['embedDim']],
  ['dmodel', ['embedDim']],
  ['nembd', ['embedDim']],
  ['numattentionheads', ['numHeads']],
  ['nhead', ['numHeads']],
  ['numthreads', ['threads']],
]);

/** Lowercase, without separators: in_proj_weight, inProjWeight and out_proj.weight fold alike. */
const fold = (key: string): string => key.toLowerCase().replace(/[-_.\s]/g, '');

/** The known keys that `key` was most likely meant to be: from the alias table; else the keys
 * that fold alike; else the nearest, at most 2 edits away (and at most a third of its length). */
function likelyKeys(key: string, known: readonly string[]): string[] {
  const folded = fold(key);
  const alias = ALIASES.get(folded)?.find((k) => known.includes(k));
  if (alias !== undefined) return [alias];
  const same = known.filter((k) => fold(k) === folded);
  if (same.length > 0) return same;
  const limit = Math.min(2, Math.floor(folded.length / 3));
  let best = limit + 1;
  let nearest: string[] = [];
  for (const k of known) {
    const other = fold(k);
    if (Math.abs(other.length - folded.length) > limit) continue;
    const d = editDistance(folded, other);
    if (d < best) [best, nearest] = [d, [k]];
    else if (d === best) nearest.push(k);
  }
  return nearest;
}

/** Edits (insert, delete, substitute, swap two neighbours) from a to b: the optimal string
 * alignment distance, so `casual` is 1 from `causal`. */
function editDistance(a: string, b: string): number {
  // d[i][j]: edits from the first i characters of a to the first j of b.
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => i + j));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}
