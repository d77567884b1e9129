// int8 safetensors files: the engine's weight quantization (assembly/i8-gemm/i8-pack-panels.ts)
// replicated in plain JS, so a file written here and packed by i8_pack_panels_codes gives the
// very panels i8_pack_panels_nt makes from the f32 file. Per output channel j, in f32 and in
// this order: amax = max_kk |W[j, kk]|; scale = amax / 127 (one ulp less where 127·scale
// rounds to +inf); inv = 127 / amax;
// code = clamp(roundEven(W·inv), −127, 127); an all-zero channel has scale 0 and codes 0, and
// so has one whose inv overflows f32 (amax below about 3.7e-37).
// (W·inv, not W / scale: the kernel multiplies by the reciprocal, and the two can differ by one.)
import { describe, rangeError, typeError } from '../errors.js';
import {
  asBytes, checkInt8Tensors, metadataAxes, QUANTIZATION_METADATA, readSafetensorsAs, SCALE_SUFFIX, writeSafetensors, type SafetensorsBytes, type SafetensorsInput,
} from './safetensors.js';
import { keysOf, options as checkOptions } from '../validate.js';

const OP = 'quantizeSafetensors';

/** The codes and scales of one weight, as the engine quantizes it. */
export interface Int8Weight {
  /** Row-major in the weight's shape, each in -127..127. */
  codes: Int8Array;
  /** One per output channel: max|W[channel]| / 127 in f32 (0 for an all-zero channel). */
  scales: Float32Array;
}

/** The largest f32 below a positive finite f32. */
function nextDownF32(x: number): number {
  const bits = new Uint32Array(Float32Array.of(x).buffer);
  bits[0]! -= 1;
  return new Float32Array(bits.buffer)[0]!;
}

/** Round to nearest, ties to even (wasm's f32.nearest) of a finite number. */
function roundEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  return d > 0.5 ? f + 1 : d < 0.5 ? f : f % 2 === 0 ? f : f + 1;
}

/**
 * Quantizes W [rows, cols] (row-major, finite) to int8 per output channel, symmetric, with the
 * engine's exact f32 arithmetic: the channels are the rows for `axis` 0 (nn.Linear [out, in])
 * and the columns for `axis` 1 (GPT-2 Conv1D [in, out]). Dequantized, W ≈ code·scale.
 */
export function quantizeInt8(weight: Float32Array, rows: number, cols: number, axis: 0 | 1): Int8Weight {
  const op = 'quantizeInt8';
  for (const [name, value] of [['rows', rows], ['cols', cols]] as const) {
    if (typeof value !== 'number') throw typeError(op, name, 'a non-negative integer', value);
    if (!Number.isSafeInteger(value) || value < 0) throw rangeError(op, name, `must be a non-negative integer, got ${value}`);
  }
  if (axis !== 0 && axis !== 1) throw rangeError(op, 'axis', `must be 0 (the channels are the rows) or 1 (the columns), got ${describe(axis)}`);
  if (!(weight instanceof Float32Array)) throw typeError(op, 'weight', 'a Float32Array', weight);
  if (weight.length !== rows * cols) throw rangeError(op, 'weight', `has length ${weight.length}, expected rows·cols = ${rows}·${cols}`);
  return quantizeFinite(op, 'weight', weight, rows, cols, axis);
}

/** quantizeInt8 on checked dimensions: a non-finite weight is a RangeError naming `what`. */
function quantizeFinite(op: string, what: string, weight: Float32Array, rows: number, cols: number, axis: 0 | 1): Int8Weight {
  const bad = weight.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) throw rangeError(op, what, `holds ${weight[bad]} at [${Math.floor(bad / cols)}, ${bad % cols}]; int8 quantization needs finite weights`);
  const channels = axis === 0 ? rows : cols, length = axis === 0 ? cols : rows;
  const cs = axis === 0 ? cols : 1, ks = axis === 0 ? 1 : cols; // element strides: channel, reduction
  const codes = new Int8Array(rows * cols);
  const scales = new Float32Array(channels);
  for (let j = 0; j < channels; j++) {
    let amax = 0;
    for (let kk = 0; kk < length; kk++) amax = Math.max(amax, Math.abs(weight[j * cs + kk * ks]!));
    const inv = Math.fround(127 / amax);
    if (!(amax > 0) || inv === Infinity) continue; // all zero, or below about 3.7e-37: scale 0, codes 0
    scales[j] = amax / 127; // f32 division, rounded on store
    // amax at f32's largest: 127·scale may round to +inf, which no reader can dequantize; one
    // ulp less keeps every code·scale finite (the codes come from `inv`, unchanged).
    if (Math.fround(127 * scales[j]!) === Infinity) scales[j] = nextDownF32(scales[j]!);
    for (let kk = 0; kk < length; kk++) {
      const q = roundEven(Math.fround(weight[j * cs + kk * ks]! * inv));
      codes[j * cs + kk * ks] = Math.min(127, Math.max(-127, q));
    }
  }
  return { codes, scales };
}

/** Options of `quantizeSafetensors`. */
export interface QuantizeSafetensorsOptions {
  /** Which tensors to quantize (name, shape → yes/no); only 2-D F32/F16/BF16/F64 tensors are
   * asked. Default {@link defaultQuantizeKey}. */
  include?: ((name: string, shape: number[]) => boolean) | undefined;
  /** With the default choice, quantize the embedding tables too (per row: one scale per token
   * or position), which is most of a small encoder's file (MiniLM: half). Engines read them as
   * f32 (dequantized), and GPT-2's tied lm_head then packs wte's codes. Default false. */
  embeddings?: boolean | undefined;
  /** Which tensors to leave out of the output (name → yes/no), e.g. buffers the engine does
   * not read such as GPT-2's causal-mask `attn.bias`. Leaving out an I8 weight of the input
   * leaves out its `_scale` too; leaving out only the `_scale` of a kept I8 weight is a
   * RangeError. Default none. */
  drop?: ((name: string) => boolean) | undefined;
}

const OPTION_KEYS = keysOf<QuantizeSafetensorsOptions>({ include: true, embeddings: true, drop: true });

/** One quantized tensor of `quantizeSafetensors`' report. */
export interface QuantizedTensorReport {
  name: string;
  shape: [number, number];
  /** The dim of `shape` that indexes output channels (1 for GPT-2 Conv1D weights). */
  axis: 0 | 1;
  /** ‖W − dequant(W)‖ / ‖W‖ over the tensor (0 for an all-zero tensor). */
  relativeRmsError: number;
}

/** `quantizeSafetensors`' result: the new file and what was done. */
export interface QuantizeSafetensorsResult {
  bytes: Uint8Array;
  inputBytes: number;
  outputBytes: number;
  /** The tensors made int8, in file order. */
  quantized: QuantizedTensorReport[];
  /** The tensors written as they were. */
  kept: string[];
  /** The tensors left out (`options.drop`). */
  dropped: string[];
  /** ‖W − dequant(W)‖ / ‖W‖ over all quantized tensors together. */
  relativeRmsError: number;
}

/** Embedding tables (GPT-2 wte/wpe, BERT word/position/token_type embeddings, …): gathered by
 * index, and wte is GPT-2's tied lm_head, so they stay as they are by default. */
const EMBEDDING = /(^|\.)(wte|wpe)\.weight$|embed/i;
/** Norms (their weights are 1-D anyway, but a file may hold them 2-D), and BERT's pooler and
 * the BertFor* classifiers and qa_outputs, which the engine runs in f32 (a few rows or columns). */
const KEEP = /norm|(^|\.)ln_|(^|\.)pooler\.|(^|\.)classifier\.|(^|\.)qa_outputs\./i;
/** GPT-2's Conv1D weights, stored [in, out]: their output channels are dim 1. */
const CONV1D = /(^|\.)h\.\d+\.(attn\.c_attn|attn\.c_proj|mlp\.c_fc|mlp\.c_proj)\.weight$/;

/** The default choice of tensors to quantize: every 2-D weight (`….weight`, `…_weight` such as
 * nn.MultiheadAttention's `in_proj_weight`) except embedding tables (unless `embeddings`; so
 * GPT-2's wte, hence its tied lm_head, stays f32), norms, BERT's pooler, classifiers and
 * qa_outputs. Of the weights engine.bert and the torch modules read, these are exactly the
 * ones their `quantize: 'int8'` quantizes itself; a 2-D weight in the file that no model reads
 * (BERT pretraining's `cls.seq_relationship.weight`) is quantized too, and stays unused. */
export function defaultQuantizeKey(name: string, shape: number[], embeddings = false): boolean {
  return shape.length === 2 && /(^|[._])weight$/.test(name) && (embeddings || !EMBEDDING.test(name)) && !KEEP.test(name);
}

/** The output-channel dim of a 2-D weight, from its name: 1 for GPT-2 Conv1D, else 0. */
export function int8Axis(name: string): 0 | 1 {
  return CONV1D.test(name) ? 1 : 0;
}

/**
 * Writes an int8 copy of a safetensors file: each chosen weight `K` becomes I8 codes (its
 * shape kept) and `K_scale` F32 per output channel ([out, 1] for nn.Linear weights, [1, out]
 * for GPT-2 Conv1D), quantized exactly as the engine's `quantize: 'int8'` does; the
 * `__metadata__` keeps its other entries, and its "quantization" entry is written anew (JSON:
 * the method and each key's channel axis; one the input had is replaced) when the output holds
 * an I8 tensor (else the metadata is the input's as it was). Other tensors are written as they were (same dtype, same bytes); I8 tensors
 * of the input and their scales pass through, and integer or bool tensors are never quantized.
 * When no tensor is quantized or left out, the result's bytes are a copy of the input's.
 * This is what `npx wasm-attention quantize` runs.
 * Throws a RangeError naming the tensor for a non-finite weight, and the reader's errors
 * (`loadSafetensors`' checks, the input's own I8 tensors and their scales included), each named
 * `quantizeSafetensors: …`.
 */
export function quantizeSafetensors(bytes: SafetensorsBytes, options: QuantizeSafetensorsOptions = {}): QuantizeSafetensorsResult {
  checkOptions(OP, 'options', options, true, OPTION_KEYS); // a typo is a RangeError, as everywhere
  const embeddings = options.embeddings ?? false;
  if (typeof embeddings !== 'boolean') throw typeError(OP, 'options.embeddings', 'a boolean', embeddings);
  const include = options.include ?? ((name: string, shape: number[]) => defaultQuantizeKey(name, shape, embeddings));
  if (typeof include !== 'function') throw typeError(OP, 'options.include', 'a function (name, shape) => boolean', include);
  const drop = options.drop ?? ((): boolean => false);
  if (typeof drop !== 'function') throw typeError(OP, 'options.drop', 'a function (name) => boolean', drop);
  const input = readSafetensorsAs(bytes, OP);
  checkInt8Tensors(bytes, OP); // I8 tensors pass through: never write a file loadSafetensors refuses
  const names = Object.keys(input.tensors);
  const int8 = new Set(names.filter((name) => input.tensors[name]!.dtype === 'I8'));
  // Channel axes of the input's own I8 tensors, carried over with them (a bare [out] scale is
  // read along the recorded axis: dropping it would apply the scales along dim 0).
  const inputAxes = metadataAxes(input.metadata, int8, OP);
  // An I8 weight and its scales are left out together; leaving out only the scales of a kept
  // I8 weight would write a file the reader refuses.
  const dropping = new Set(names.filter((name) => drop(name)));
  for (const name of int8) {
    const scale = name + SCALE_SUFFIX;
    if (dropping.has(name)) dropping.add(scale);
    else if (dropping.has(scale)) {
      throw rangeError(OP, 'options.drop', `leaves out ${JSON.stringify(scale)} but keeps the I8 tensor ${JSON.stringify(name)}, which cannot be read without its scales (leave out both, or neither)`);
    }
  }
  // No prototype: a tensor may be named "__proto__" (a plain object's setter would swallow it).
  const out = Object.create(null) as Record<string, SafetensorsInput>;
  const quantized: QuantizedTensorReport[] = [];
  const kept: string[] = [];
  const dropped: string[] = [];
  const axes = Object.create(null) as Record<string, 0 | 1>;
  let errorSq = 0, normSq = 0;
  for (const name of names) {
    const { dtype, shape, data, bytes: stored } = input.tensors[name]!;
    if (dropping.has(name)) {
      dropped.push(name);
      continue;
    }
    const already = dtype === 'I8' || (name.endsWith(SCALE_SUFFIX) && input.tensors[name.slice(0, -SCALE_SUFFIX.length)]?.dtype === 'I8');
    const float = dtype === 'F32' || dtype === 'F16' || dtype === 'BF16' || dtype === 'F64'; // never an integer buffer
    if (already || !float || shape.length !== 2 || !include(name, shape.slice()) || input.tensors[name + SCALE_SUFFIX] !== undefined) {
      out[name] = { dtype, shape, bytes: stored }; // as stored: the same bytes, whatever the dtype
      if (dtype === 'I8' && inputAxes[name] !== undefined) axes[name] = inputAxes[name]!;
      kept.push(name);
      continue;
    }
    const [rows, cols] = shape as [number, number];
    const axis = int8Axis(name);
    const { codes, scales } = quantizeFinite(OP, `tensor ${JSON.stringify(name)}`, data, rows, cols, axis);
    let e = 0, w = 0;
    for (let i = 0; i < rows; i++) {
      for (let j = 0; j < cols; j++) {
        const x = data[i * cols + j]!;
        const d = x - Math.fround(codes[i * cols + j]! * scales[axis === 0 ? i : j]!);
        e += d * d;
        w += x * x;
      }
    }
    errorSq += e;
    normSq += w;
    out[name] = { dtype: 'I8', shape: [rows, cols], data: codes };
    out[name + SCALE_SUFFIX] = { dtype: 'F32', shape: axis === 0 ? [rows, 1] : [1, cols], data: scales };
    axes[name] = axis;
    quantized.push({ name, shape: [rows, cols], axis, relativeRmsError: w > 0 ? Math.sqrt(e / w) : 0 });
  }
  // Nothing quantized and nothing left out: the input's own bytes (a copy), not a file written
  // anew with a "quantization" entry that records nothing.
  if (quantized.length === 0 && dropped.length === 0) {
    const copy = asBytes(bytes, OP).slice();
    return { bytes: copy, inputBytes: bytes.byteLength, outputBytes: copy.byteLength, quantized, kept, dropped, relativeRmsError: 0 };
  }
  // The "quantization" entry describes the output's I8 tensors; with none (an f32 file with
  // tensors left out) the input's metadata stays as it was, where that key is free text.
  const int8Out = quantized.length > 0 || kept.some((name) => input.tensors[name]!.dtype === 'I8');
  const metadata = int8Out ? {
    ...input.metadata,
    [QUANTIZATION_METADATA]: JSON.stringify({
      method: 'int8, symmetric, per output channel: scale = max|W| / 127, code = round(W·(127 / max|W|))',
      axes,
    }),
  } : input.metadata;
  const result = writeSafetensors(out, metadata);
  return {
    bytes: result,
    inputBytes: bytes.byteLength,
    outputBytes: result.byteLength,
    quantized,
    kept,
    dropped,
    relativeRmsError: normSq > 0 ? Math.sqrt(errorSq / normSq) : 0,
  };
}
