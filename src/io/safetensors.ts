// Reading and writing the safetensors format: an 8-byte little-endian u64 N, N bytes of UTF-8
// JSON `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__"?: {string: string}}`,
// then the byte buffer (offsets are relative to its start). The header is untrusted: every
// field is checked before a byte of tensor data is read, and a bad file throws a TypeError
// (a JSON value of the wrong type) or a RangeError (a value out of range or inconsistent) whose
// message names the tensor. Tensors come out as f32: F32 as a view on the input where its
// absolute byte offset is 4-aligned (no copy), F16 and BF16 converted exactly; F64 and the
// integer and bool dtypes (buffers such as BERT's I64 `position_ids` or a BOOL causal mask,
// which real checkpoints carry) rounded to the nearest f32, so integers up to 2^24 are exact.
//
// int8 files: a weight `K` [out, in] (or GPT-2 Conv1D [in, out]) quantized symmetrically per
// output channel is stored as I8 codes (-127..127) with its shape, next to `K_scale` F32
// (compressed-tensors' names, not its files: its codes reach -128 and its scales take the
// weight's dtype, both refused): shape [out, 1] for an nn.Linear layout (channels along dim 0),
// [1, out] for a Conv1D layout (channels along dim 1), or a bare [out], whose axis is the one
// the `__metadata__` entry "quantization" (JSON {"axes": {K: 0 | 1}}) gives, else 0. W ≈ code·scale.
import { describe as describeValue, quote, rangeError, shapeText, typeError } from '../errors.js';
import { plainView, typedArrayLength, typedArrayName } from '../typed-array.js';

const READ = 'loadSafetensors';
const WRITE = 'writeSafetensors';

/** Header length limit: the reference implementation's (100 MB); a larger N is hostile. */
export const MAX_HEADER_BYTES = 100_000_000;

/** Checked once: typed-array views read in the host's byte order, the format is little-endian. */
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** One dtype the reader accepts: its size in bytes and its conversion to f32 of `count`
 * elements starting at absolute byte `offset` of `buffer`. Adding a dtype (I8 with its scales,
 * say) is one more row of DTYPES. */
interface DtypeReader {
  readonly bytes: number;
  toF32(buffer: ArrayBufferLike, offset: number, count: number): Float32Array;
}

/** The dtypes the reader converts to f32, keyed by their safetensors name. */
const DTYPES: Readonly<Record<string, DtypeReader>> = {
  F32: { bytes: 4, toF32: readF32 },
  F16: { bytes: 2, toF32: (buffer, offset, count) => widen16(buffer, offset, count, f16BitsToF32) },
  BF16: { bytes: 2, toF32: (buffer, offset, count) => widen16(buffer, offset, count, bf16BitsToF32) },
  I8: { bytes: 1, toF32: (buffer, offset, count) => Float32Array.from(new Int8Array(buffer, offset, count)) },
  F64: { bytes: 8, toF32: (buffer, offset, count) => convert(buffer, offset, count, 8, (v, at) => v.getFloat64(at, true)) },
  I64: { bytes: 8, toF32: (buffer, offset, count) => convert(buffer, offset, count, 8, (v, at) => bigToF32(v.getBigInt64(at, true))) },
  U64: { bytes: 8, toF32: (buffer, offset, count) => convert(buffer, offset, count, 8, (v, at) => bigToF32(v.getBigUint64(at, true))) },
  I32: { bytes: 4, toF32: (buffer, offset, count) => convert(buffer, offset, count, 4, (v, at) => v.getInt32(at, true)) },
  U32: { bytes: 4, toF32: (buffer, offset, count) => convert(buffer, offset, count, 4, (v, at) => v.getUint32(at, true)) },
  I16: { bytes: 2, toF32: (buffer, offset, count) => convert(buffer, offset, count, 2, (v, at) => v.getInt16(at, true)) },
  U16: { bytes: 2, toF32: (buffer, offset, count) => convert(buffer, offset, count, 2, (v, at) => v.getUint16(at, true)) },
  U8: { bytes: 1, toF32: (buffer, offset, count) => Float32Array.from(new Uint8Array(buffer, offset, count)) },
  BOOL: { bytes: 1, toF32: (buffer, offset, count) => Float32Array.from(new Uint8Array(buffer, offset, count), (b) => (b !== 0 ? 1 : 0)) },
};

/** The dtypes `loadSafetensors`/`readSafetensors` accept (I8: int8 codes with their `_scale`;
 * F64, the integers and BOOL: converted to the nearest f32, for the buffers checkpoints carry). */
export type SafetensorsDtype = 'F32' | 'F16' | 'BF16' | 'I8' | 'F64' | 'I64' | 'U64' | 'I32' | 'U32' | 'I16' | 'U16' | 'U8' | 'BOOL';

/** The dtypes that `writeSafetensors` converts f32 values to (the others: raw bytes only). */
type FloatDtype = 'F32' | 'F16' | 'BF16';

/** One tensor of a file: its stored dtype, its shape and its values as f32 (row-major; for I8
 * the integer codes themselves, not multiplied by their scales: `loadSafetensors` does that),
 * and its stored bytes (little-endian, a view on the file: what `writeSafetensors` takes back
 * unchanged, so a copy keeps an I64 beyond 2^24 exact). */
export interface SafetensorsTensor {
  dtype: SafetensorsDtype;
  shape: number[];
  data: Float32Array;
  bytes: Uint8Array;
}

/** A whole file: its tensors by name (in header order, except that a JavaScript object lists
 * integer-like names such as "10" first, in numeric order) and its `__metadata__` (or `{}`). */
export interface SafetensorsFile {
  tensors: Record<string, SafetensorsTensor>;
  metadata: Record<string, string>;
}

/** The key of the shapes carried by `loadSafetensors`' result (a symbol, so no tensor name
 * can collide with it and `Object.keys`, spread and `for…in` see only the tensors). */
export const safetensorsShapes: unique symbol = Symbol('safetensorsShapes');

/** The key of the int8 weights carried by `loadSafetensors`' result: their codes and scales as
 * stored, for an engine that computes on them directly (non-enumerable, as `safetensorsShapes`). */
export const safetensorsQuantized: unique symbol = Symbol('safetensorsQuantized');

/** An int8 weight as an int8 file stores it: W[i, j] ≈ codes[i·cols + j]·scales[channel], the
 * channel being i (axis 0: nn.Linear [out, in]) or j (axis 1: GPT-2 Conv1D [in, out]). */
export interface SafetensorsQuantizedTensor {
  /** The codes, row-major in `shape`, each in -127..127 (a view on the file's bytes). */
  codes: Int8Array;
  /** One scale per output channel, finite and >= 0 (0 for an all-zero channel). */
  scales: Float32Array;
  /** The dim of `shape` that indexes output channels. */
  axis: 0 | 1;
  /** The weight's shape [rows, cols]. */
  shape: [number, number];
}

/** `loadSafetensors`' result: the tensors by name as f32, usable as a `weights` object, plus
 * each tensor's shape under the non-enumerable symbol key `safetensorsShapes`, and the int8
 * weights' codes and scales under `safetensorsQuantized` (`{}` for a file without I8). */
export type SafetensorsWeights = Record<string, Float32Array> & {
  readonly [safetensorsShapes]: Record<string, number[]>;
  readonly [safetensorsQuantized]: Record<string, SafetensorsQuantizedTensor>;
};

/** What the reader takes: the file's bytes (a Node `Buffer` is a Uint8Array). */
export type SafetensorsBytes = Uint8Array | ArrayBuffer;

/** What `writeSafetensors` takes per tensor: a Float32Array (F32, shape `[length]`), the
 * values with the float dtype to store them in and their shape, int8 codes (I8; their
 * `_scale` is an F32 tensor of its own), or the stored bytes of any dtype as they are
 * (little-endian, shape·size bytes: what `readSafetensors` gives as `bytes`). */
export type SafetensorsInput =
  | Float32Array
  | { dtype: FloatDtype; shape: number[]; data: Float32Array }
  | { dtype: 'I8'; shape: number[]; data: Int8Array }
  | { dtype: SafetensorsDtype; shape: number[]; bytes: Uint8Array };

/**
 * Reads a safetensors file into f32 tensors keyed by name, e.g. a PyTorch `state_dict`
 * (`encoder.layers.0.self_attn.in_proj_weight`, …), ready to pass as weights.
 *
 * - F32 tensors whose absolute byte offset is a multiple of 4 are views on the input's memory
 *   (no copy: later writes to the input show through); others, and F16/BF16, are new arrays.
 *   F64, I64, U64, I32, U32, I16, U16, U8 and BOOL tensors (buffers such as BERT's I64
 *   `position_ids`) become new arrays of the nearest f32 values (integers up to 2^24 exact).
 * - Shapes: `weights[safetensorsShapes][name]`; the record's own enumerable keys are exactly
 *   the tensor names. `readSafetensors` gives dtypes and `__metadata__` as well.
 * - int8 files (written by `npx wasm-attention quantize`: codes in -127..127, F32 scales; not
 *   compressed-tensors' files, whose codes reach -128): an I8 weight `K` with its F32 `K_scale` is one key `K`, an f32 getter that
 *   dequantizes (code·scale, rounded to f32) on first read and caches, so weights that are
 *   never read as f32 are never allocated; `K_scale` is not a key. The codes and scales are in
 *   `weights[safetensorsQuantized][K]`; an engine module made with `quantize: 'int8'` from
 *   this `weights[K]` packs those codes directly (the same bits as quantizing the original f32).
 * - Throws a TypeError or RangeError naming the tensor for a truncated or malformed file, a
 *   RangeError for a dtype the reader does not know (F8, Q4_K, …), for bytes no tensor indexes
 *   (a hole, trailing bytes) and a header not starting with `{`, and, before any conversion, a
 *   RangeError for an I8 tensor without its `_scale` (or not 2-D, or a code of -128), a scale of
 *   the wrong dtype or shape or holding a negative or non-finite value (or one so large that
 *   127·scale overflows f32, or a metadata axis its 2-D shape contradicts), and a `K_scale` whose `K`
 *   is not I8 (a `….weight_scale` without its weight, too; other `…_scale` names without a
 *   tensor `…` are ordinary tensors).
 */
export function loadSafetensors(bytes: SafetensorsBytes): SafetensorsWeights {
  const parsed = parseFile(bytes);
  const quantized = pairScales(parsed);
  const weights = {} as Record<string, Float32Array>;
  const shapes = {} as Record<string, number[]>;
  const codes = {} as Record<string, SafetensorsQuantizedTensor>;
  for (const e of parsed.entries) {
    if (quantized.scaleKeys.has(e.name)) continue;
    const q = quantized.tensors.get(e.name);
    if (q !== undefined) {
      LAZY_INT8.set(defineLazy(weights, e.name, () => dequantize(q)), q);
      define(codes, e.name, q);
    } else {
      define(weights, e.name, tensorData(parsed, e));
    }
    define(shapes, e.name, e.shape);
  }
  Object.defineProperty(weights, safetensorsShapes, { value: shapes, enumerable: false });
  Object.defineProperty(weights, safetensorsQuantized, { value: codes, enumerable: false });
  if (quantized.tensors.size > 0) LOADED.add(weights);
  return weights as SafetensorsWeights;
}

/** The int8 codes and scales a Float32Array was dequantized from by `loadSafetensors` (the
 * whole array read from an int8 file's weights, or any view of all of it) while it still holds
 * exactly code·scale everywhere, or undefined. The engine's int8 modules pack these codes
 * instead of quantizing the array again; an array the caller has changed since (one pass to
 * check) is quantized like any other. */
export function quantizedSource(weight: unknown): SafetensorsQuantizedTensor | undefined {
  if (typedArrayName(weight) !== 'Float32Array') return undefined;
  const view = plainView(weight as Float32Array, 'Float32Array');
  const q = DEQUANTIZED.get(view.buffer);
  if (q === undefined || view.byteOffset !== 0 || view.length !== q.codes.length) return undefined;
  return holdsDequantized(view, q) ? recheck(q) : undefined;
}

/** The int8 codes and scales behind `weights[key]` while `weights` is a result of
 * `loadSafetensors` whose entry is still the accessor it defined (never read, never replaced),
 * or undefined; reads no value. The
 * engine's int8 modules pack these codes, and its embedding tables keep them, without ever
 * making the f32 array. */
export function unreadQuantized(weights: object, key: string): SafetensorsQuantizedTensor | undefined {
  // Only the very object loadSafetensors returned: a Proxy or any other object may answer a read
  // with something else than its own accessor would.
  if (!LOADED.has(weights)) return undefined;
  const get = Object.getOwnPropertyDescriptor(weights, key)?.get;
  const q = get === undefined ? undefined : LAZY_INT8.get(get);
  return q === undefined ? undefined : recheck(q);
}

/** Whether `values` is still what dequantize(q) wrote: code·scale rounded to f32, everywhere. */
function holdsDequantized(values: Float32Array, q: SafetensorsQuantizedTensor): boolean {
  const { codes, scales, axis, shape: [rows, cols] } = q;
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) {
      if (!Object.is(values[i * cols + j], Math.fround(codes[i * cols + j]! * scales[axis === 0 ? i : j]!))) return false;
    }
  }
  return true;
}

/** Checks every I8 tensor of a safetensors file and its `_scale` as `loadSafetensors` does
 * (the same RangeErrors), without converting anything: for writers that pass I8 tensors
 * through, so that they never write a file the reader refuses. */
export function checkInt8Tensors(bytes: SafetensorsBytes, op = READ): void {
  pairScales(parseFile(bytes, op), op);
}

/** Reads a safetensors file: each tensor's dtype, shape and f32 values, and the metadata.
 * Same checks, same zero-copy rule and same errors as `loadSafetensors` (named
 * `readSafetensors: …`), except that I8 tensors and their `_scale` are given as stored (the
 * codes as f32 values), not paired. */
export function readSafetensors(bytes: SafetensorsBytes): SafetensorsFile {
  return readSafetensorsAs(bytes, 'readSafetensors');
}

/** readSafetensors, its errors named by `op` (the public call that reads the file). */
export function readSafetensorsAs(bytes: SafetensorsBytes, op: string): SafetensorsFile {
  const parsed = parseFile(bytes, op);
  const tensors = {} as Record<string, SafetensorsTensor>;
  for (const e of parsed.entries) {
    const bytes = new Uint8Array(parsed.buffer, parsed.base + e.begin, e.end - e.begin);
    define(tensors, e.name, { dtype: e.dtype, shape: e.shape, data: tensorData(parsed, e), bytes });
  }
  return { tensors, metadata: parsed.metadata };
}

/** One header entry, checked. */
interface Entry { name: string; dtype: SafetensorsDtype; shape: number[]; begin: number; end: number }

/** A checked file: its entries, metadata, and where its data starts (absolute, in `buffer`). */
interface ParsedFile { entries: Entry[]; metadata: Record<string, string>; buffer: ArrayBufferLike; base: number }

function tensorData(file: ParsedFile, e: Entry): Float32Array {
  const reader = DTYPES[e.dtype]!;
  return reader.toF32(file.buffer, file.base + e.begin, (e.end - e.begin) / reader.bytes);
}

function parseFile(bytes: SafetensorsBytes, op = READ): ParsedFile {
  const file = asBytes(bytes, op);
  const total = file.byteLength;
  if (total < 8) {
    throw rangeError(op, 'file', `is ${total} bytes, shorter than the 8-byte header length`);
  }
  const view = new DataView(file.buffer, file.byteOffset, total);
  const headerLength = view.getBigUint64(0, true);
  if (headerLength > BigInt(total - 8)) {
    throw rangeError(op, 'header length', `${headerLength} exceeds the ${total - 8} bytes after it (truncated or not a safetensors file)`);
  }
  if (headerLength > BigInt(MAX_HEADER_BYTES)) {
    throw rangeError(op, 'header length', `${headerLength} exceeds the limit of ${MAX_HEADER_BYTES} bytes`);
  }
  const n = Number(headerLength);
  const header = parseHeader(file.subarray(8, 8 + n), op);
  const dataStart = 8 + n; // relative to `file`
  const dataLength = total - dataStart;

  let metadata: Record<string, string> = {};
  const entries: Entry[] = [];
  for (const name of Object.keys(header)) {
    const value = header[name];
    if (name === '__metadata__') {
      metadata = value === null ? {} : checkMetadata(value, op); // null: none, as the reference reader reads it
      continue;
    }
    entries.push({ name, ...checkEntry(name, value, dataLength, op) });
  }
  const sorted = sortByOffsets(entries);
  checkNoOverlap(sorted, op);
  checkFullyIndexed(sorted, dataLength, op);
  return { entries, metadata, buffer: file.buffer, base: file.byteOffset + dataStart };
}

// --- int8 weights ---------------------------------------------------------------------------

/** The suffix of a quantized weight's scales (compressed-tensors' `weight_scale`). */
export const SCALE_SUFFIX = '_scale';

/** The `__metadata__` entry that records each int8 weight's channel axis (JSON). */
export const QUANTIZATION_METADATA = 'quantization';

/** The buffers of dequantized arrays → the codes they came from (for the engine's int8
 * modules; keyed by buffer, since the engine's checks read arrays through fresh views). */
const DEQUANTIZED = new WeakMap<ArrayBufferLike, SafetensorsQuantizedTensor>();

/** The getters loadSafetensors defines for int8 weights → their codes (unreadQuantized). */
const LAZY_INT8 = new WeakMap<() => unknown, SafetensorsQuantizedTensor>();
/** The results of loadSafetensors that hold such getters. */
const LOADED = new WeakSet<object>();

/** The name of each I8 tensor loadSafetensors paired (for checkCodes' errors later). */
const NAMES = new WeakMap<SafetensorsQuantizedTensor, string>();

/** Throws the RangeError naming the tensor (or its `_scale`) when a scale is negative, not
 * finite or so large that 127·scale is not (f32), or a code is -128. `late`: what the message
 * adds when the check runs again before the codes are packed (the caller may have written to
 * the file's bytes since loadSafetensors read them: codes and scales are views on them). */
function checkCodes(q: SafetensorsQuantizedTensor, name: string, late: string, op = READ): void {
  const { codes, scales } = q, cols = q.shape[1];
  const scaleWhat = `tensor ${quote(name + SCALE_SUFFIX)}`;
  for (let i = 0; i < scales.length; i++) {
    if (!(scales[i]! >= 0) || scales[i] === Infinity) {
      throw rangeError(op, scaleWhat, `holds ${scales[i]} at [${i}]; scales must be finite and >= 0${late}`);
    }
    if (Math.fround(127 * scales[i]!) === Infinity) {
      throw rangeError(op, scaleWhat, `holds ${scales[i]} at [${i}]; code·scale must stay finite in f32 for codes up to ±127 (scales up to about 2.679e36)${late}`);
    }
  }
  const bad = codes.indexOf(-128);
  if (bad >= 0) {
    throw rangeError(op, `tensor ${quote(name)}`,
      `holds the code -128 at [${Math.floor(bad / cols)}, ${bad % cols}]; symmetric int8 codes are in -127..127${late}`);
  }
}

/** checkCodes again, before a module packs (or a model keeps) the codes of `q`. */
function recheck(q: SafetensorsQuantizedTensor): SafetensorsQuantizedTensor {
  checkCodes(q, NAMES.get(q) ?? '?', ' (the file\'s bytes changed after loadSafetensors read them)');
  return q;
}

/** Pairs every I8 tensor with its `_scale` and checks both, before any tensor is converted. */
function pairScales(file: ParsedFile, op = READ): { tensors: Map<string, SafetensorsQuantizedTensor>; scaleKeys: Set<string> } {
  const byName = new Map(file.entries.map((e) => [e.name, e]));
  const axes = metadataAxes(file.metadata, new Set(file.entries.filter((e) => e.dtype === 'I8').map((e) => e.name)), op);
  const tensors = new Map<string, SafetensorsQuantizedTensor>();
  const scaleKeys = new Set<string>();
  for (const e of file.entries) {
    if (e.dtype !== 'I8') continue;
    const what = `tensor ${quote(e.name)}`;
    const scaleName = e.name + SCALE_SUFFIX;
    const scale = byName.get(scaleName);
    if (e.shape.length !== 2) {
      throw rangeError(op, what, `is I8 of shape ${shapeText(e.shape)}; an int8 weight must be 2-D (per-channel scales)`);
    }
    if (scale === undefined) {
      throw rangeError(op, what, `is I8 but the file has no ${quote(scaleName)} (its per-channel scales)`);
    }
    const scaleWhat = `tensor ${quote(scaleName)}`;
    if (scale.dtype !== 'F32') throw rangeError(op, scaleWhat, `has dtype ${scale.dtype}; the scales of an I8 weight must be F32`);
    const [rows, cols] = e.shape as [number, number];
    const s = scale.shape;
    let axis: 0 | 1 | undefined;
    if (s.length === 2 && s[1] === 1 && s[0] === rows) axis = 0;
    else if (s.length === 2 && s[0] === 1 && s[1] === cols) axis = 1;
    else if (s.length === 1 && s[0] === (axes[e.name] === 1 ? cols : rows)) axis = axes[e.name] ?? 0;
    if (axis === undefined) {
      throw rangeError(op, scaleWhat, `has shape ${shapeText(s)}; for ${quote(e.name)} [${rows}, ${cols}] ` +
        `it must be [${rows}, 1] (channels along dim 0), [1, ${cols}] (along dim 1) or [${axes[e.name] === 1 ? cols : rows}] ` +
        `(dim ${axes[e.name] ?? 0}: the "${QUANTIZATION_METADATA}" metadata's axis, else 0)`);
    }
    // A 2-D scale says its axis itself; metadata that says the other one contradicts the file
    // (a [1, 1] scale of a [1, 1] weight says nothing).
    if (s.length === 2 && !(rows === 1 && cols === 1) && axes[e.name] !== undefined && axes[e.name] !== axis) {
      throw rangeError(op, `"__metadata__" entry "${QUANTIZATION_METADATA}" axes[${quote(e.name)}]`,
        `is ${axes[e.name]}, but ${quote(scaleName)} of shape ${shapeText(s)} holds the channels along dim ${axis}`);
    }
    const q: SafetensorsQuantizedTensor = {
      codes: new Int8Array(file.buffer, file.base + e.begin, rows * cols), scales: tensorData(file, scale), axis, shape: [rows, cols],
    };
    checkCodes(q, e.name, '', op);
    NAMES.set(q, e.name);
    tensors.set(e.name, q);
    scaleKeys.add(scaleName);
  }
  for (const e of file.entries) {
    if (e.name.endsWith(SCALE_SUFFIX) && !scaleKeys.has(e.name)) {
      const owner = byName.get(e.name.slice(0, -SCALE_SUFFIX.length));
      if (owner !== undefined) {
        throw rangeError(op, `tensor ${quote(e.name)}`,
          `is the scale of ${quote(owner.name)}, which is ${owner.dtype}, not I8`);
      }
      if (e.name.endsWith(`.weight${SCALE_SUFFIX}`)) {
        throw rangeError(op, `tensor ${quote(e.name)}`,
          `is a weight scale, but the file has no I8 ${quote(e.name.slice(0, -SCALE_SUFFIX.length))}`);
      }
    }
  }
  return { tensors, scaleKeys };
}

/** The axes the `quantization` metadata entry records for the file's I8 tensors `int8` ({} when
 * there is none, or no I8 tensor: the entry is then not read, whatever it holds). */
export function metadataAxes(metadata: Record<string, string>, int8: ReadonlySet<string>, op = READ): Record<string, 0 | 1> {
  const text = metadata[QUANTIZATION_METADATA];
  // Metadata is free-form text: the entry is read only where an I8 tensor needs its axis.
  if (text === undefined || int8.size === 0) return Object.create(null) as Record<string, 0 | 1>;
  const what = `"__metadata__" entry "${QUANTIZATION_METADATA}"`;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw typeError(op, what, 'JSON {"axes": {name: 0 | 1}}', text);
  }
  const axes = (parsed as { axes?: unknown } | null)?.axes;
  if (axes === undefined) return Object.create(null) as Record<string, 0 | 1>;
  if (typeof axes !== 'object' || axes === null || Array.isArray(axes)) throw typeError(op, `${what} axes`, 'an object', axes);
  const out = Object.create(null) as Record<string, 0 | 1>; // no inherited keys: a tensor may be named "toString"
  for (const key of Object.keys(axes)) {
    if (!int8.has(key)) continue; // no I8 tensor of that name here: not this file's concern
    const a = (axes as Record<string, unknown>)[key];
    if (a !== 0 && a !== 1) throw rangeError(op, `${what} axes[${quote(key)}]`, `must be 0 or 1, got ${describeValue(a)}`);
    define(out, key, a);
  }
  return out;
}

/** code·scale, rounded to f32 (the product of an int8 and an f32 is exact in f64). */
function dequantize(q: SafetensorsQuantizedTensor): Float32Array {
  const { codes, scales, axis, shape: [rows, cols] } = q;
  const out = new Float32Array(rows * cols);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) out[i * cols + j] = codes[i * cols + j]! * scales[axis === 0 ? i : j]!;
  }
  DEQUANTIZED.set(out.buffer, q);
  return out;
}

/** An own enumerable property computed on first read, then kept as a plain value; returns
 * its getter. */
function defineLazy(target: object, key: string, compute: () => unknown): () => unknown {
  const get = (): unknown => {
    const value = compute();
    define(target, key, value);
    return value;
  };
  Object.defineProperty(target, key, {
    enumerable: true,
    configurable: true,
    get,
    set(value: unknown) {
      define(target, key, value);
    },
  });
  return get;
}

/**
 * Writes tensors as a safetensors file, laid out as the reference writer does: the header
 * (optional `__metadata__` first, then the tensors) padded with spaces to a multiple of 8
 * bytes, at most MAX_HEADER_BYTES as the reference writer and readers require (a RangeError
 * otherwise), then the data in order of decreasing dtype size, then name, back to back — so F32
 * data is 4-aligned whenever the file is. F16 and BF16 round to nearest, ties to even. I8
 * codes are written as given (an int8 weight's scales are a separate F32 `_scale` tensor), and
 * so are a tensor's stored bytes (`{dtype, shape, bytes}`, any dtype).
 */
export function writeSafetensors(
  tensors: Record<string, SafetensorsInput>,
  metadata?: Record<string, string>,
): Uint8Array {
  if (typeof tensors !== 'object' || tensors === null) throw typeError(WRITE, 'tensors', 'an object', tensors);
  const items = Object.keys(tensors).map((name) => checkInput(name, tensors[name]));
  items.sort((a, b) => DTYPES[b.dtype]!.bytes - DTYPES[a.dtype]!.bytes || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const header: Record<string, unknown> = {};
  if (metadata !== undefined) define(header, '__metadata__', checkMetadata(metadata, WRITE));
  let offset = 0;
  for (const item of items) {
    const bytes = item.raw?.length ?? item.data.length * DTYPES[item.dtype]!.bytes;
    define(header, item.name, { dtype: item.dtype, shape: item.shape, data_offsets: [offset, offset + bytes] });
    offset += bytes;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const n = Math.ceil(json.length / 8) * 8;
  // The reference writer refuses such a header (HeaderTooLarge), and readers refuse the file.
  if (n > MAX_HEADER_BYTES) {
    throw rangeError(WRITE, 'header', `of ${n} bytes (padded) exceeds the format's limit of ${MAX_HEADER_BYTES} bytes: names and metadata too long`);
  }
  const out = new Uint8Array(8 + n + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(n), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + n);
  let at = 8 + n;
  for (const { dtype, data, raw } of items) {
    if (raw !== undefined) {
      out.set(raw, at);
      at += raw.length;
      continue;
    }
    if (dtype === 'I8') {
      out.set(new Uint8Array(data.buffer, data.byteOffset, data.length), at);
      at += data.length;
      continue;
    }
    for (let i = 0; i < data.length; i++, at += DTYPES[dtype]!.bytes) {
      if (dtype === 'F32') view.setFloat32(at, data[i]!, true);
      else view.setUint16(at, dtype === 'F16' ? f32ToF16Bits(data[i]!) : f32ToBf16Bits(data[i]!), true);
    }
  }
  return out;
}

// --- header checks --------------------------------------------------------------------------

/** The file's bytes as a plain Uint8Array view (a TypeError for anything else). */
export function asBytes(bytes: unknown, op = READ): Uint8Array {
  if (typedArrayName(bytes) === 'Uint8Array') return plainView(bytes as Uint8Array, 'Uint8Array');
  if (bytes instanceof ArrayBuffer || Object.prototype.toString.call(bytes) === '[object ArrayBuffer]') {
    return new Uint8Array(bytes as ArrayBuffer);
  }
  throw typeError(op, 'bytes', 'a Uint8Array (or Node Buffer) or an ArrayBuffer', bytes);
}

function parseHeader(text: Uint8Array, op: string): Record<string, unknown> {
  let parsed: unknown, json: string;
  try {
    // Browsers' TextDecoder refuses a view on shared memory: decode a copy of such a header.
    const shared = Object.prototype.toString.call(text.buffer) === '[object SharedArrayBuffer]';
    json = new TextDecoder('utf-8', { fatal: true }).decode(shared ? text.slice() : text);
    parsed = JSON.parse(json);
  } catch (error) {
    throw new TypeError(`${op}: header is not valid UTF-8 JSON (${(error as Error).message})`, { cause: error });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw typeError(op, 'header', 'a JSON object', parsed);
  }
  if (text[0] !== 0x7b) {
    throw rangeError(op, 'header', `must start with "{" (0x7B; only trailing spaces may pad the JSON), got byte 0x${text[0]!.toString(16)}`);
  }
  checkHeaderText(json, op);
  return parsed as Record<string, unknown>;
}

/** What JSON.parse lets through and the format refuses, read from the header's text (valid JSON:
 * JSON.parse took it): a key twice in one object (the format: "Duplicate keys are disallowed";
 * JSON.parse keeps the last, so a first entry with any dtype or offsets would pass unseen), and
 * a number of a tensor's shape or data_offsets written with a fraction or an exponent (the
 * reference reader's serde_json reads them as usize, which refuses 1.0 and 4e0). */
function checkHeaderText(json: string, op: string): void {
  let i = 0;
  const space = (): void => {
    for (let c = json.charCodeAt(i); c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d; c = json.charCodeAt(++i));
  };
  /** Skips the string at i (its opening quote); whether it holds an escape. */
  const skipString = (): boolean => {
    let escaped = false;
    for (let c = json.charCodeAt(++i); c !== 0x22; c = json.charCodeAt(i)) {
      if (c === 0x5c) escaped = true, i += 2;
      else i++;
    }
    i++;
    return escaped;
  };
  /** Skips the string at i; returns its value. */
  const string = (): string => {
    const start = i;
    return skipString() ? JSON.parse(json.slice(start, i)) as string : json.slice(start + 1, i - 1);
  };
  /** The name in messages of what `path` leads to: top-level keys are tensors (or the metadata). */
  const named = (path: readonly string[]): string => path.length === 0 ? 'header'
    : [path[0] === '__metadata__' ? '"__metadata__"' : `tensor ${quote(path[0]!)}`, ...path.slice(1)].join(' ');
  /** The value at i, reached through the keys `path`; `usize`: the value is a tensor's shape or
   * data_offsets, whose numbers must be integer literals. */
  const value = (path: string[], usize: boolean): void => {
    space();
    const open = json.charCodeAt(i);
    if (open === 0x22) { // a string
      skipString();
    } else if (open === 0x5b) { // an array
      let k = 0;
      for (i++, space(); json.charCodeAt(i) !== 0x5d; space(), k++) {
        if (json.charCodeAt(i) === 0x2c) i++, space();
        const start = i;
        value(path, false);
        if (!usize) continue;
        const first = json.charCodeAt(start);
        if (first !== 0x2d && (first < 0x30 || first > 0x39)) continue; // not a number: checkEntry names it
        for (let j = start; j < i; j++) {
          const c = json.charCodeAt(j);
          if (c === 0x2e || c === 0x65 || c === 0x45) { // . e E
            throw rangeError(op, `${named(path)}[${k}]`, `must be written as an integer (the format reads a usize), got ${json.slice(start, i)}`);
          }
        }
      }
      i++;
    } else if (open === 0x7b) { // an object
      const keys = new Set<string>();
      for (i++, space(); json.charCodeAt(i) !== 0x7d; space()) {
        if (json.charCodeAt(i) === 0x2c) i++, space();
        const key = string();
        if (keys.has(key)) throw rangeError(op, named(path), `has the key ${quote(key)} twice (the format disallows duplicate keys)`);
        keys.add(key);
        space();
        i++; // the colon
        path.push(key);
        value(path, path.length === 2 && path[0] !== '__metadata__' && (key === 'shape' || key === 'data_offsets'));
        path.pop();
      }
      i++;
    } else { // a number, true, false or null
      for (let c = json.charCodeAt(i); i < json.length && c !== 0x2c && c !== 0x5d && c !== 0x7d && c !== 0x20 &&
        c !== 0x09 && c !== 0x0a && c !== 0x0d; c = json.charCodeAt(++i));
    }
  };
  value([], false);
}

function checkMetadata(value: unknown, op = READ): Record<string, string> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw typeError(op, '"__metadata__"', 'an object of strings', value);
  }
  const out = {} as Record<string, string>;
  for (const key of Object.keys(value)) {
    const v = (value as Record<string, unknown>)[key];
    if (typeof v !== 'string') throw typeError(op, `"__metadata__" entry ${quote(key)}`, 'a string', v);
    define(out, key, v);
  }
  return out;
}

const SUPPORTED = Object.keys(DTYPES).join(', ');

function checkEntry(name: string, value: unknown, dataLength: number, op: string) {
  const what = `tensor ${quote(name)}`;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw typeError(op, what, 'an object {dtype, shape, data_offsets}', value);
  }
  const entry = value as Record<string, unknown>;
  const dtype = entry.dtype;
  if (typeof dtype !== 'string') throw typeError(op, `${what} dtype`, 'a string', dtype);
  if (!Object.prototype.hasOwnProperty.call(DTYPES, dtype)) {
    throw rangeError(op, what, `has unsupported dtype ${quote(dtype)} (supported: ${SUPPORTED})`);
  }
  const shape = entry.shape;
  if (!Array.isArray(shape)) throw typeError(op, `${what} shape`, 'an array of integers', shape);
  let count = 1;
  for (let i = 0; i < shape.length; i++) {
    const d: unknown = shape[i];
    if (typeof d !== 'number') throw typeError(op, `${what} shape[${i}]`, 'a non-negative integer', d);
    if (!Number.isSafeInteger(d) || d < 0) {
      throw rangeError(op, `${what} shape[${i}]`, `must be a non-negative integer, got ${d}`);
    }
    count *= d;
    // Every partial product, as the reference reader's checked multiplication: [2^26, 2^26,
    // 2^26, 0] is refused though it holds no element.
    if (!Number.isSafeInteger(count)) {
      throw rangeError(op, `${what} shape`, `${shapeText(shape)} has more elements than a safe integer`);
    }
  }
  const offsets = entry.data_offsets;
  if (!Array.isArray(offsets) || offsets.length !== 2 || offsets.some((o) => typeof o !== 'number')) {
    throw typeError(op, `${what} data_offsets`, 'an array of two integers [begin, end]', offsets);
  }
  const [begin, end] = offsets as [number, number];
  if (!Number.isSafeInteger(begin) || !Number.isSafeInteger(end) || begin < 0 || end < begin) {
    throw rangeError(op, `${what} data_offsets`, `[${begin}, ${end}] must be integers with 0 <= begin <= end`);
  }
  if (end > dataLength) {
    throw rangeError(op, `${what} data_offsets`, `[${begin}, ${end}] end beyond the ${dataLength}-byte data buffer (truncated file?)`);
  }
  const bytes = DTYPES[dtype]!.bytes;
  if (end - begin !== count * bytes) {
    throw rangeError(op, what, `holds ${end - begin} bytes, but shape ${shapeText(shape)} of ${dtype} needs ${count * bytes}`);
  }
  return { dtype: dtype as SafetensorsDtype, shape: (shape as number[]).slice(), begin, end };
}

/** `used`: the entries by (begin, end) (sortByOffsets). */
function checkNoOverlap(used: { name: string; begin: number; end: number }[], op: string): void {
  for (let i = 1; i < used.length; i++) {
    const prev = used[i - 1]!;
    const cur = used[i]!;
    if (cur.begin < prev.end) {
      throw rangeError(op, `tensor ${quote(cur.name)} data_offsets`,
        `[${cur.begin}, ${cur.end}] overlap tensor ${quote(prev.name)} [${prev.begin}, ${prev.end}]`);
    }
  }
}

/** The entries by (begin, end), empty tensors included: as the reference reader sorts them, so
 * that an empty tensor must sit where the bytes before it end, not inside another tensor. */
function sortByOffsets<T extends { begin: number; end: number }>(entries: T[]): T[] {
  return entries.slice().sort((a, b) => a.begin - b.begin || a.end - b.end);
}

interface WriteItem { name: string; dtype: SafetensorsDtype; shape: number[]; data: Float32Array | Int8Array; raw?: Uint8Array }

/** The format's rule (the reference reader's too): the tensors' bytes cover the data buffer
 * from 0 to its end with no hole, so no byte of a file is unaccounted for. `used`: sorted as
 * for checkNoOverlap. (A duplicated key is refused before, by checkHeaderText.) */
function checkFullyIndexed(used: { name: string; begin: number; end: number }[], dataLength: number, op: string): void {
  let at = 0;
  for (const e of used) {
    if (e.begin !== at) {
      throw rangeError(op, `tensor ${quote(e.name)} data_offsets`,
        `[${e.begin}, ${e.end}] leave bytes ${at}..${e.begin} of the data buffer unindexed (a hole)`);
    }
    at = e.end;
  }
  if (at !== dataLength) {
    throw rangeError(op, 'file', `has ${dataLength - at} bytes after the last tensor's data (${at} of ${dataLength} indexed)`);
  }
}

function checkInput(name: string, value: unknown): WriteItem {
  if (name === '__metadata__') {
    throw rangeError(WRITE, 'tensors["__metadata__"]', 'is the header key the format reserves for the metadata (pass it as `metadata`)');
  }
  const what = `tensors[${quote(name)}]`;
  if (typedArrayName(value) === 'Float32Array') {
    const data = plainView(value as Float32Array, 'Float32Array');
    return { name, dtype: 'F32', shape: [data.length], data };
  }
  if (typeof value !== 'object' || value === null) throw typeError(WRITE, what, 'a Float32Array, {dtype, shape, data} or {dtype, shape, bytes}', value);
  const { dtype, shape, data, bytes } = value as Record<string, unknown>;
  if (bytes !== undefined) {
    if (data !== undefined) throw rangeError(WRITE, what, 'has both data and bytes; give one');
    if (typeof dtype !== 'string' || !Object.prototype.hasOwnProperty.call(DTYPES, dtype)) {
      throw rangeError(WRITE, `${what}.dtype`, `must be one of ${SUPPORTED}, got ${describeValue(dtype)}`);
    }
    if (typedArrayName(bytes) !== 'Uint8Array') throw typeError(WRITE, `${what}.bytes`, 'a Uint8Array', bytes);
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw typeError(WRITE, `${what}.shape`, 'an array of non-negative integers', shape);
    }
    const raw = plainView(bytes as Uint8Array, 'Uint8Array');
    const need = shape.reduce((a: number, b: number) => a * b, 1) * DTYPES[dtype]!.bytes;
    if (raw.length !== need) {
      throw rangeError(WRITE, `${what}.bytes`, `has ${raw.length} bytes, expected ${need} for shape ${shapeText(shape)} of ${dtype}`);
    }
    return { name, dtype: dtype as SafetensorsDtype, shape: shape.slice(), data: new Float32Array(0), raw };
  }
  const given = typedArrayName(data);
  if (given !== 'Float32Array' && given !== 'Int8Array') throw typeError(WRITE, `${what}.data`, 'a Float32Array (or an Int8Array for I8)', data);
  if (dtype !== 'F32' && dtype !== 'F16' && dtype !== 'BF16' && dtype !== 'I8') {
    throw rangeError(WRITE, `${what}.dtype`, `must be F32, F16, BF16 (with f32 data) or I8 (with an Int8Array), got ${describeValue(dtype)}; ` +
      `other dtypes (${SUPPORTED}) as {dtype, shape, bytes}`);
  }
  const kind = dtype === 'I8' ? 'Int8Array' : 'Float32Array';
  if (given !== kind) throw typeError(WRITE, `${what}.data`, `a ${kind} (dtype ${dtype})`, data);
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw typeError(WRITE, `${what}.shape`, 'an array of non-negative integers', shape);
  }
  const count = shape.reduce((a: number, b: number) => a * b, 1);
  const length = typedArrayLength(data as Float32Array);
  if (count !== length) {
    throw rangeError(WRITE, `${what}.data`, `has length ${length}, expected ${count} for shape ${shapeText(shape)}`);
  }
  return { name, dtype, shape: shape.slice(), data: plainView(data as ArrayBufferView, kind) };
}

/** Sets an own enumerable property (so a tensor named "__proto__" is a key, not a prototype). */
function define(target: object, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

// --- conversions ----------------------------------------------------------------------------

function readF32(buffer: ArrayBufferLike, offset: number, count: number): Float32Array {
  if (LITTLE_ENDIAN && offset % 4 === 0) return new Float32Array(buffer, offset, count); // zero-copy
  // Copied as bits, not as numbers: a signalling NaN's payload stays as an aligned view keeps it.
  const out = new Float32Array(count);
  if (LITTLE_ENDIAN) {
    new Uint8Array(out.buffer).set(new Uint8Array(buffer, offset, count * 4));
  } else {
    const bits = new Uint32Array(out.buffer), view = new DataView(buffer, offset, count * 4);
    for (let i = 0; i < count; i++) bits[i] = view.getUint32(4 * i, true);
  }
  return out;
}

const TWO_53 = 2n ** 53n;

/** The f32 nearest to an integer (ties to even), as a number: rounding through f64 first, as
 * Number() does, would round twice past 2^53 (2^60 + 2^36 + 1 would give 2^60). */
export function bigToF32(v: bigint): number {
  const a = v < 0n ? -v : v;
  if (a < TWO_53) return Number(v); // exact in f64: the f32 store rounds once
  const drop = BigInt(a.toString(2).length - 24);
  let m = a >> drop;
  const rest = a - (m << drop), half = 1n << (drop - 1n);
  if (rest > half || (rest === half && (m & 1n) === 1n)) m += 1n;
  const r = Number(m << drop); // at most 25 significant bits: exact
  return v < 0n ? -r : r;
}

/** 16-bit little-endian values → f32 bit patterns through `convert`. */
function widen16(buffer: ArrayBufferLike, offset: number, count: number, convert: (bits: number) => number): Float32Array {
  const out = new Float32Array(count);
  const bits = new Uint32Array(out.buffer);
  if (LITTLE_ENDIAN && offset % 2 === 0) {
    const src = new Uint16Array(buffer, offset, count);
    for (let i = 0; i < count; i++) bits[i] = convert(src[i]!);
  } else {
    const view = new DataView(buffer, offset, count * 2);
    for (let i = 0; i < count; i++) bits[i] = convert(view.getUint16(2 * i, true));
  }
  return out;
}

/** `count` little-endian values of `size` bytes → f32 (rounded to nearest) through `read`. */
function convert(buffer: ArrayBufferLike, offset: number, count: number, size: number, read: (view: DataView, at: number) => number): Float32Array {
  const out = new Float32Array(count);
  const view = new DataView(buffer, offset, count * size);
  for (let i = 0; i < count; i++) out[i] = read(view, i * size);
  return out;
}

/** bf16 is the top half of an f32. */
function bf16BitsToF32(h: number): number {
  return (h << 16) >>> 0;
}

/** IEEE binary16 → binary32 bits, exact: subnormals normalised, inf and NaN (payload kept). */
export function f16BitsToF32(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exp = (h >>> 10) & 0x1f;
  let mant = h & 0x3ff;
  if (exp === 0x1f) return (sign | 0x7f800000 | (mant << 13)) >>> 0;
  if (exp !== 0) return (sign | ((exp + 112) << 23) | (mant << 13)) >>> 0;
  if (mant === 0) return sign >>> 0;
  // Subnormal: mant · 2^-24. Shift the leading 1 up to bit 10, lowering the exponent.
  let e = 113; // f32 exponent of 2^-14, the subnormals' scale
  while ((mant & 0x400) === 0) {
    mant <<= 1;
    e--;
  }
  return (sign | (e << 23) | ((mant & 0x3ff) << 13)) >>> 0;
}

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/** f32 → IEEE binary16 bits, round to nearest even; overflow to ±inf, NaN stays NaN (quiet). */
export function f32ToF16Bits(x: number): number {
  f32Scratch[0] = x;
  const u = u32Scratch[0]!;
  const sign = (u >>> 16) & 0x8000;
  const exp = (u >>> 23) & 0xff;
  const mant = u & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 | (mant >>> 13) : 0);
  const e = exp - 112; // binary16 biased exponent
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    // Subnormal (or zero) in binary16: value / 2^-24, rounded.
    const shift = 14 - e;
    if (shift > 24) return sign;
    const m = mant | 0x800000;
    let q = m >>> shift;
    const rest = m & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rest > half || (rest === half && (q & 1) === 1)) q++;
    return sign | q;
  }
  let q = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (q & 1) === 1)) q++; // may carry into inf: correct
  return sign | q;
}

/** f32 → bfloat16 bits, round to nearest even; NaN stays NaN (quiet). */
export function f32ToBf16Bits(x: number): number {
  f32Scratch[0] = x;
  const u = u32Scratch[0]!;
  if ((u & 0x7fffffff) > 0x7f800000) return (u >>> 16) | 0x40;
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}
