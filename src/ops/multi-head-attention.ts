// engine.multiHeadAttention: nn.MultiheadAttention(batch_first=True) with torch's parameter
// names and [out, in] layouts.
//
// forward, for query [B, Lq, E], key [B, Lk, kdim], value [B, Lk, vdim]:
//   Q = query·Wqᵀ + bq, K = key·Wkᵀ + bk, V = value·Wvᵀ + bv     [B, L, E]  (one GEMM when
//        query, key and value are the same array: Wq, Wk, Wv are stored stacked, [3E, E])
//   head h of every row is the column range h·d .. (h+1)·d, d = E / numHeads (no split copy)
//   ctx[:, :, h·d..] = softmax(Q_h·K_hᵀ/√d + masks)·V_h            (written in place: no concat)
//   out = ctx·Woᵀ + bo
import type {
  AttentionResult, MultiHeadAttention, MultiHeadAttentionConfig, MultiHeadAttentionForwardOptions,
  MultiHeadAttentionWeights,
} from '../types.js';
import type { Arena } from '../wasm/arena.js';
import type { KernelExports } from '../wasm/abi.js';
import {
  gemmPackedPhase, i8ProductPhase, i8PanelsBytes, i8QuantizeRowsPhase, i8StripsBytes, meanRowsPhase,
  packedPanelsLength, packedRowsLength, packRowsPhase, scratchSlots, type GemmExtras, type Phase,
} from '../parallel/phases.js';
import type { BuiltCall } from './attention.js';
import { GEMM_PANEL_COLS, SCRATCH_SLOT_STRIDE } from '../wasm/layout.js';
import { array, dim, elements, flag, int8Weight, isArrayOf, keysOf, optionalDim, options, quantizeOption, typedArray } from '../validate.js';
import { rangeError, stateError, typeError } from '../errors.js';
import { attachMask, attentionPhases, placeAttention, type SliceProblem } from './attention-slices.js';
import {
  int8Codes, isCodesOnly, keepPacked, ownCodes, ModuleWeights, type Int8Codes, type ModuleHost, type Resident,
} from './modules.js';
import { asyncDisposer } from '../disposable.js';

const OP = 'multiHeadAttention';
const FORWARD = 'MultiHeadAttention.forward';
const CONFIG_KEYS = keysOf<MultiHeadAttentionConfig>({
  embedDim: true, numHeads: true, kdim: true, vdim: true, bias: true, weights: true, quantize: true,
});
const WEIGHT_KEYS = keysOf<MultiHeadAttentionWeights>({
  inProjWeight: true, qProjWeight: true, kProjWeight: true, vProjWeight: true, inProjBias: true,
  outProjWeight: true, outProjBias: true,
});
const FORWARD_KEYS = keysOf<MultiHeadAttentionForwardOptions>({
  batch: true, seqQ: true, seqK: true, keyPaddingMask: true, attnMask: true, causal: true, needWeights: true,
  averageWeights: true,
});

/** Element offsets of the weights and biases in one block. */
export interface WeightOffsets { wq: number; wk: number; wv: number; wo: number; bq: number; bk: number; bv: number; bo: number }

/** Validated parameters. `parts` are the weights as given, at their offsets `at` of one
 * layout: Wq [E, E] · Wk [E, kdim] · Wv [E, vdim] · Wo [E, E] · bq bk bv [E each] · bo [E]
 * (biases absent when bias is false).
 * In the engine's memory they live packed for the GEMM: each W as B = Wᵀ panels
 * [ceil(E/8), in, 8] (Wq, Wk, Wv adjacent, so with E % 8 = 0 they are the panels of the
 * stacked [3E, E] weight), then the biases as given. With quantize 'int8' each W is int8
 * panels (i8PanelsBytes(E, in) bytes, whole f32 slots) and the inputs of the projections are
 * quantized per row instead of packed; a W read from an int8 file (loadSafetensors) is packed
 * from its codes and scales (`codes`), not quantized again. */
export interface MultiHeadAttentionParams {
  embedDim: number;
  numHeads: number;
  headDim: number;
  kdim: number;
  vdim: number;
  bias: boolean;
  /** The weights as given (the caller's arrays: ownMhaWeights copies them for a queued upload),
   * each at its element offset in the layout `at`, until they are resident (then dropped). */
  parts: [offset: number, data: Float32Array][] | undefined;
  /** Element offsets of the weights in one staged region (in_proj's three blocks side by side). */
  at: WeightOffsets;
  /** Byte address of the packed block once it is resident in the engine's memory (0 before). */
  resident: number;
  /** Element offsets into the packed block, and its length. */
  res: WeightOffsets;
  residentLength: number;
  quantize?: 'int8';
  /** With quantize 'int8', the codes of the W read from an int8 file, until resident. */
  codes?: Partial<Record<WeightSlot, Int8Codes>>;
}

/** The four projection weights of a block. */
type WeightSlot = 'wq' | 'wk' | 'wv' | 'wo';

/** f32 slots of the packed panels of an nn.Linear weight [n, k]. */
const panelsSlots = (quantize: 'int8' | undefined, k: number, n: number): number =>
  quantize === 'int8' ? i8PanelsBytes(n, k) / 4 : packedPanelsLength(k, n);
/** f32 slots of the strips that `rows` rows of k features are packed (or quantized) into. */
export const stripsSlots = (quantize: 'int8' | undefined, rows: number, k: number): number =>
  quantize === 'int8' ? i8StripsBytes(rows, k) / 4 : packedRowsLength(rows, k);

/** Checks the configuration (TypeError / RangeError naming the argument); the weights are
 * referred to, not copied (uploadWeights stages them, ownMhaWeights copies them). */
export function planMultiHeadAttention(config: unknown): MultiHeadAttentionParams {
  const c = options(OP, 'config', config, false, CONFIG_KEYS) as Partial<MultiHeadAttentionConfig>;
  const E = dim(OP, 'config.embedDim', c.embedDim);
  const H = dim(OP, 'config.numHeads', c.numHeads);
  if (E % H !== 0) throw rangeError(OP, 'config.numHeads', `(${H}) must divide config.embedDim (${E})`);
  const kdim = optionalDim(OP, 'config.kdim', c.kdim, E);
  const vdim = optionalDim(OP, 'config.vdim', c.vdim, E);
  const bias = flag(OP, 'config.bias', c.bias, true);
  const quantize = quantizeOption(OP, 'config.quantize', c.quantize);
  const w = options(OP, 'config.weights', c.weights, false, WEIGHT_KEYS);
  const inFeatures: Record<string, [number, string]> = {
    inProjWeight: [E, 'config.embedDim'], qProjWeight: [E, 'config.embedDim'], kProjWeight: [kdim, 'config.kdim'],
    vProjWeight: [vdim, 'config.vdim'], outProjWeight: [E, 'config.embedDim'],
  };
  const f32 = (name: string, length: number, shape: string): Float32Array => {
    // A model's int8 weight that packs from its file's codes (int8Source): nothing to read.
    if (quantize && isCodesOnly(w[name])) return w[name] as Float32Array;
    const data = array(OP, `config.weights.${name}`, w[name], 'Float32Array', length, shape);
    if (quantize && name in inFeatures) int8Weight(OP, `config.weights.${name}`, data, ...inFeatures[name]);
    return data;
  };

  const at = { wq: 0, wk: E * E, wv: E * E + E * kdim, wo: 0, bq: 0, bk: 0, bv: 0, bo: 0 };
  at.wo = at.wv + E * vdim;
  at.bq = at.wo + E * E;
  at.bk = at.bq + E;
  at.bv = at.bk + E;
  at.bo = at.bv + E;
  // Every weight is checked before anything is allocated (a huge embedDim or kdim must name its
  // argument, not fail in the allocation).
  const parts: [number, Float32Array][] = [];
  const separate = ['qProjWeight', 'kProjWeight', 'vProjWeight'].filter((n) => w[n] !== undefined);
  if (w.inProjWeight !== undefined) {
    if (separate.length > 0) {
      throw rangeError(OP, 'config.weights', `has both inProjWeight and ${separate.join(', ')}; give one form`);
    }
    if (kdim !== E || vdim !== E) {
      throw rangeError(OP, 'config.weights.inProjWeight', `needs kdim = vdim = embedDim (got kdim ${kdim}, ` +
        `vdim ${vdim}, embedDim ${E}); give qProjWeight, kProjWeight and vProjWeight instead`);
    }
    parts.push([at.wq, f32('inProjWeight', 3 * E * E, `[3·embedDim, embedDim] = [${3 * E}, ${E}]`)]);
  } else {
    parts.push([at.wq, f32('qProjWeight', E * E, `[embedDim, embedDim] = [${E}, ${E}]`)]);
    parts.push([at.wk, f32('kProjWeight', E * kdim, `[embedDim, kdim] = [${E}, ${kdim}]`)]);
    parts.push([at.wv, f32('vProjWeight', E * vdim, `[embedDim, vdim] = [${E}, ${vdim}]`)]);
  }
  parts.push([at.wo, f32('outProjWeight', E * E, `[embedDim, embedDim] = [${E}, ${E}]`)]);
  if (bias) {
    parts.push([at.bq, f32('inProjBias', 3 * E, `[3·embedDim] = [${3 * E}]`)]);
    parts.push([at.bo, f32('outProjBias', E, `[embedDim] = [${E}]`)]);
  } else {
    for (const name of ['inProjBias', 'outProjBias']) {
      if (w[name] !== undefined) throw rangeError(OP, `config.weights.${name}`, 'is given but config.bias is false');
    }
  }
  // int8 weights read from an int8 file: their codes (the stacked in_proj cut in three).
  const codes: Partial<Record<WeightSlot, Int8Codes>> = {};
  if (quantize) {
    const take = (name: string, k: number, slots: WeightSlot[]): void => {
      const c = w[name] === undefined ? undefined : int8Codes(w[name] as Float32Array, slots.length * E, k);
      slots.forEach((slot, i) => {
        if (c) codes[slot] = { codes: c.codes.subarray(i * E * k, (i + 1) * E * k), scales: c.scales.subarray(i * E, (i + 1) * E) };
      });
    };
    take('inProjWeight', E, ['wq', 'wk', 'wv']);
    take('qProjWeight', E, ['wq']);
    take('kProjWeight', kdim, ['wk']);
    take('vProjWeight', vdim, ['wv']);
    take('outProjWeight', E, ['wo']);
  }
  const res = { wq: 0, wk: panelsSlots(quantize, E, E), wv: 0, wo: 0, bq: 0, bk: 0, bv: 0, bo: 0 };
  res.wv = res.wk + panelsSlots(quantize, kdim, E);
  res.wo = res.wv + panelsSlots(quantize, vdim, E);
  res.bq = res.wo + panelsSlots(quantize, E, E);
  res.bk = res.bq + E;
  res.bv = res.bk + E;
  res.bo = res.bv + E;
  const residentLength = bias ? res.bo + E : res.bq;
  return { embedDim: E, numHeads: H, headDim: E / H, kdim, vdim, bias, parts, at, resident: 0, res, residentLength, quantize, codes };
}

/** Copies the caller's arrays that `params` still refers to (its upload waits in the queue, and
 * the caller may change them once the constructor returns). */
export function ownMhaWeights(params: MultiHeadAttentionParams): void {
  params.parts = params.parts?.map(([offset, data]) => [offset, isCodesOnly(data) ? data : data.slice()]);
  const codes = params.codes;
  if (codes) for (const slot of Object.keys(codes) as WeightSlot[]) codes[slot] = ownCodes(codes[slot]);
}

/** Puts a layer's weights in the engine's memory, packed for the GEMM (between calls). */
export function uploadWeights(arena: Arena, kernels: KernelExports, params: MultiHeadAttentionParams): void {
  const { embedDim: E, kdim, vdim, at, res, parts } = params;
  if (parts === undefined) throw stateError('the layer weights were already uploaded');
  const slots = (['wq', 'wk', 'wv', 'wo'] as const).filter((slot) => params.codes?.[slot] !== undefined);
  // The projection weights are staged side by side (in_proj's [3E, E] is wq, wk and wv); the
  // biases go straight to their place in the block (in_proj_bias is bq, bk and bv).
  const weights = parts.filter(([offset]) => offset < at.bq);
  const biases = params.bias ? parts.filter(([offset]) => offset >= at.bq).map(([offset, data]) => ({ offset: res.bq + offset - at.bq, data })) : [];
  const resident = keepPacked(arena, params.residentLength, { floats: at.bq, parts: weights }, (staging, block, staged) => {
    const packPanels = params.quantize === 'int8' ? kernels.i8_pack_panels_nt : kernels.f32_pack_panels_nt;
    const panels = Math.ceil(E / GEMM_PANEL_COLS);
    const pack = (slot: WeightSlot, k: number): void => {
      const c = staged[slots.indexOf(slot as never)];
      if (c) kernels.i8_pack_panels_codes(E, k, c.q, k, 1, c.s, block + res[slot] * 4, 0, panels);
      else packPanels(E, k, staging + at[slot] * 4, k, block + res[slot] * 4, 0, panels);
    };
    pack('wq', E);
    pack('wk', kdim);
    pack('wv', vdim);
    pack('wo', E);
  }, biases, slots.map((slot) => params.codes![slot]!));
  params.resident = resident;
  params.parts = undefined;
  params.codes = undefined;
}

/** A validated forward call. */
export interface ForwardPlan {
  batch: number;
  seqQ: number;
  seqK: number;
  query: Float32Array;
  key: Float32Array;
  value: Float32Array;
  keyPaddingMask?: Uint8Array;
  attnMask?: { data: Uint8Array | Float32Array; perSlice: boolean };
  causal: boolean;
  needWeights: boolean;
  averageWeights: boolean;
}

export function planForward(
  params: MultiHeadAttentionParams, query: unknown, key: unknown, value: unknown, opts: unknown,
): ForwardPlan {
  const o = options(FORWARD, 'options', opts, false, FORWARD_KEYS) as Partial<MultiHeadAttentionForwardOptions>;
  const { embedDim: E, numHeads: H, kdim, vdim } = params;
  const batch = dim(FORWARD, 'options.batch', o.batch);
  const seqQ = dim(FORWARD, 'options.seqQ', o.seqQ);
  const seqK = dim(FORWARD, 'options.seqK', o.seqK);
  const queryView = array(FORWARD, 'query', query, 'Float32Array', elements(FORWARD, 'query', batch, seqQ, E),
    `batch·seqQ·embedDim = ${batch}·${seqQ}·${E}`);
  const keyView = array(FORWARD, 'key', key, 'Float32Array', elements(FORWARD, 'key', batch, seqK, kdim),
    `batch·seqK·kdim = ${batch}·${seqK}·${kdim}`);
  const valueView = array(FORWARD, 'value', value, 'Float32Array', elements(FORWARD, 'value', batch, seqK, vdim),
    `batch·seqK·vdim = ${batch}·${seqK}·${vdim}`);
  // One array given twice stays one view: buildForward copies it in and projects it once.
  const keyOnce = key === query ? queryView : keyView;
  const plan: ForwardPlan = {
    batch, seqQ, seqK,
    query: queryView,
    key: keyOnce,
    value: value === key ? keyOnce : value === query ? queryView : valueView,
    causal: flag(FORWARD, 'options.causal', o.causal, false),
    needWeights: flag(FORWARD, 'options.needWeights', o.needWeights, true),
    averageWeights: flag(FORWARD, 'options.averageWeights', o.averageWeights, true),
  };
  if (plan.needWeights) elements(FORWARD, 'weights', batch, H, seqQ, seqK);
  const padding = paddingMask(FORWARD, 'options.keyPaddingMask', o.keyPaddingMask, batch, seqK, `batch·seqK = ${batch}·${seqK}`);
  if (o.attnMask !== undefined) {
    const mask = typedArray(o.attnMask, 'Uint8Array', 'Float32Array');
    if (mask === undefined) {
      throw typeError(FORWARD, 'options.attnMask', 'a Uint8Array (1 = not allowed) or a Float32Array (added)', o.attnMask);
    }
    const len = mask.length;
    const plane = seqQ * seqK;
    if (len !== plane && len !== batch * H * plane) {
      throw rangeError(FORWARD, 'options.attnMask', `has length ${len}, expected seqQ·seqK = ${plane} ` +
        `or batch·numHeads·seqQ·seqK = ${batch * H * plane}`);
    }
    plan.attnMask = { data: mask, perSlice: len !== plane };
  }
  // A float key padding mask is added: merged into the attention mask, as torch merges them.
  if (isArrayOf(padding, 'Float32Array')) plan.attnMask = mergeFloatPadding(FORWARD, padding as Float32Array, plan.attnMask, batch, H, seqQ, seqK);
  else if (padding !== undefined) plan.keyPaddingMask = padding as Uint8Array;
  return plan;
}

/** A key padding mask [B, Lk] (`shape` names it in the error): Uint8Array non-zero = ignore that
 * key, or Float32Array added to that key's logits (torch takes both). */
export function paddingMask(
  op: string, name: string, value: unknown, B: number, Lk: number, shape: string,
): Uint8Array | Float32Array | undefined {
  if (value === undefined) return undefined;
  const data = typedArray(value, 'Uint8Array', 'Float32Array');
  if (!data) throw typeError(op, name, 'a Uint8Array (non-zero = ignore that key) or a Float32Array (added)', value);
  if (data.length !== B * Lk) throw rangeError(op, name, `has length ${data.length}, expected ${B * Lk} (${shape})`);
  return data;
}

/** A float key padding mask [B, Lk] merged into the attention mask as torch (>= 2.0) merges them:
 * [B·H, Lq, Lk] float, mask + padding[b, key], a bool mask (non-zero = not allowed) as -inf. */
export function mergeFloatPadding(
  op: string, padding: Float32Array, attnMask: ForwardPlan['attnMask'], B: number, H: number, Lq: number, Lk: number,
): { data: Float32Array; perSlice: true } {
  const plane = Lq * Lk;
  const merged = new Float32Array(elements(op, 'the merged attention mask', B, H, plane));
  const float = attnMask !== undefined && isArrayOf(attnMask.data, 'Float32Array');
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const slice = (b * H + h) * plane, from = attnMask?.perSlice ? slice : 0;
      for (let i = 0; i < Lq; i++) {
        for (let j = 0; j < Lk; j++) {
          const m = attnMask === undefined ? 0 : attnMask.data[from + i * Lk + j]!;
          merged[slice + i * Lk + j] = (float ? m : m !== 0 ? -Infinity : 0) + padding[b * Lk + j]!;
        }
      }
    }
  }
  return { data: merged, perSlice: true };
}

/** Per batch entry, one past its last key that key_padding_mask `mask` [batch, seqK] (non-zero
 * = ignore) lets through, and whether any key before that bound is masked too (`interior`). */
export function paddedKeyLengths(mask: Uint8Array, batch: number, seqK: number): { lengths: Int32Array; interior: boolean } {
  const lengths = new Int32Array(batch);
  let interior = false;
  for (let b = 0; b < batch; b++) {
    const row = b * seqK;
    let len = seqK;
    while (len > 0 && mask[row + len - 1] !== 0) len--;
    for (let j = 0; j < len && !interior; j++) interior = mask[row + j] !== 0;
    lengths[b] = len;
  }
  return { lengths, interior };
}

/** One multi-head attention inside a program: its sizes, which inputs are one buffer, masks. */
export interface MhaShape {
  batch: number;
  seqQ: number;
  seqK: number;
  /** query, key and value are one [batch, seq, embedDim] buffer: one [3E]-wide projection. */
  selfAttention: boolean;
  /** key and value are one buffer: one [2E]-wide projection. */
  sharedKeyValue: boolean;
  causal: boolean;
  needWeights: boolean;
  averageWeights: boolean;
  /** [batch, seqK], non-zero = ignore that key. */
  keyPaddingMask?: Uint8Array;
  /** [seqQ, seqK] or [batch·numHeads, seqQ, seqK]: bool non-zero = not allowed, float added. */
  attnMask?: { data: Uint8Array | Float32Array; perSlice: boolean };
}

/** The buffers of one multi-head attention, placed before the arena is committed. */
export interface MhaPlacement {
  qkvPtr: number; qPtr: number; kPtr: number; vPtr: number; ldq: number; ldkv: number;
  queryStrips: number; keyStrips: number; valueStrips: number;
  ctxPtr: number; ctxStrips: number;
  weightsPtr: number; meanPtr: number; lensPtr: number; paddingPtr: number; maskPtr: number;
  scratch: number;
  padding?: { lengths: Int32Array; interior: boolean };
  attention: ReturnType<typeof placeAttention>;
}

/** Places the projections, context, weights and masks of one multi-head attention. */
export function placeMha(arena: Arena, params: MultiHeadAttentionParams, s: MhaShape, threads: number): MhaPlacement {
  const { embedDim: E, numHeads: H, headDim: d, kdim, vdim } = params;
  const { batch: B, seqQ: Lq, seqK: Lk, selfAttention, sharedKeyValue } = s;
  // Projections: one [B·Lq, 3E] block for self-attention, else Q [B·Lq, E] and K, V [B·Lk, E]
  // (K and V side by side in one [B·Lk, 2E] block when key and value are the same buffer).
  const qkvPtr = selfAttention ? arena.place(B * Lq * 3 * E * 4) : 0;
  const qPtr = selfAttention ? qkvPtr : arena.place(B * Lq * E * 4);
  const kvPtr = !selfAttention && sharedKeyValue ? arena.place(B * Lk * 2 * E * 4) : 0;
  const kPtr = selfAttention ? qkvPtr + E * 4 : sharedKeyValue ? kvPtr : arena.place(B * Lk * E * 4);
  const vPtr = selfAttention ? qkvPtr + 2 * E * 4 : sharedKeyValue ? kvPtr + E * 4 : arena.place(B * Lk * E * 4);
  // The projections read their inputs packed into GEMM strips (one pass, then every column
  // panel reads a strip through one pointer).
  const q = params.quantize;
  const queryStrips = arena.place(stripsSlots(q, B * Lq, E) * 4);
  const keyStrips = selfAttention ? queryStrips : arena.place(stripsSlots(q, B * Lk, kdim) * 4);
  const valueStrips = selfAttention || sharedKeyValue ? keyStrips : arena.place(stripsSlots(q, B * Lk, vdim) * 4);
  const padding = s.keyPaddingMask ? paddedKeyLengths(s.keyPaddingMask, B, Lk) : undefined;
  return {
    qkvPtr, qPtr, kPtr, vPtr,
    ldq: selfAttention ? 3 * E : E,
    ldkv: selfAttention ? 3 * E : sharedKeyValue ? 2 * E : E,
    queryStrips, keyStrips, valueStrips,
    ctxPtr: arena.place(B * Lq * E * 4),
    ctxStrips: arena.place(stripsSlots(q, B * Lq, E) * 4),
    weightsPtr: s.needWeights ? arena.place(B * H * Lq * Lk * 4) : 0,
    meanPtr: s.needWeights && s.averageWeights ? arena.place(B * Lq * Lk * 4) : 0,
    lensPtr: padding ? arena.place(B * 4) : 0,
    paddingPtr: padding?.interior ? arena.place(Lk * B) : 0,
    maskPtr: s.attnMask ? arena.place(s.attnMask.data.byteLength) : 0,
    scratch: arena.place(threads * SCRATCH_SLOT_STRIDE, 128), // one slot per thread, no shared line
    padding,
    attention: placeAttention(arena, { batch: B, heads: H, seqQ: Lq, seqK: Lk, headDimV: d }, s.needWeights,
      s.causal || padding !== undefined),
  };
}

/** Where one multi-head attention reads and writes: query [B·Lq, E], key [B·Lk, kdim] and value
 * [B·Lk, vdim] rows (contiguous; the same address where the shape says they are one buffer),
 * out [B·Lq, E] rows, and a residual added to out by the out-projection (0: none; may be out). */
export interface MhaIo {
  query: number; key: number; value: number; out: number; residual: number;
}

/** The phases of one multi-head attention (after the commit: writes its masks). */
export function mhaPhases(
  arena: Arena, params: MultiHeadAttentionParams, s: MhaShape, at: MhaPlacement, io: MhaIo,
): Phase[] {
  const { embedDim: E, numHeads: H, headDim: d, kdim, vdim, res } = params;
  const { batch: B, seqQ: Lq, seqK: Lk, selfAttention, sharedKeyValue } = s;
  const f32At = (offset: number): number => params.resident + offset * 4;
  const bias = (offset: number): number => (params.bias ? f32At(offset) : 0);

  // In-projections (nn.Linear: x·Wᵀ + b). The panels of Wq, Wk, Wv (and bq, bk, bv) are
  // adjacent, so when E is a whole number of panels one GEMM computes two or three of them.
  // Inputs packed into GEMM strips (int8: quantized per row into int8 strips, then up to
  // I8_GEMV_MAX_ROWS rows run the int8 GEMV on them: the same bits as the int8 GEMM).
  const int8 = params.quantize === 'int8';
  const strips = (m: number, k: number, x: number, out: number): Phase =>
    int8 ? i8QuantizeRowsPhase(m, k, x, k, out) : packRowsPhase(m, k, x, k, out);
  const program: Phase[] = [strips(B * Lq, E, io.query, at.queryStrips)];
  if (at.keyStrips !== at.queryStrips) program.push(strips(B * Lk, kdim, io.key, at.keyStrips));
  if (at.valueStrips !== at.keyStrips) program.push(strips(B * Lk, vdim, io.value, at.valueStrips));
  const linear = (m: number, k: number, from: number, n: number, w: number, b: number, c: number, ldc: number,
    extras?: Pick<GemmExtras, 'activation' | 'residual' | 'ldr'>): void => {
    program.push(int8
      ? i8ProductPhase(m, n, k, from, f32At(w), bias(b), c, ldc, { ...extras, scratch: scratchSlots(at.scratch) })
      : gemmPackedPhase(m, n, k, from, f32At(w), bias(b), c, ldc, extras));
  };
  const whole = E % GEMM_PANEL_COLS === 0;
  if (selfAttention && whole) {
    linear(B * Lq, E, at.queryStrips, 3 * E, res.wq, res.bq, at.qkvPtr, 3 * E);
  } else {
    linear(B * Lq, E, at.queryStrips, E, res.wq, res.bq, at.qPtr, at.ldq);
    if (sharedKeyValue && whole) {
      linear(B * Lk, kdim, at.keyStrips, 2 * E, res.wk, res.bk, at.kPtr, at.ldkv);
    } else {
      linear(B * Lk, kdim, at.keyStrips, E, res.wk, res.bk, at.kPtr, at.ldkv);
      linear(B * Lk, vdim, at.valueStrips, E, res.wv, res.bv, at.vPtr, at.ldkv);
    }
  }

  const { ldq, ldkv } = at;
  const p: SliceProblem = {
    batch: B, heads: H, seqQ: Lq, seqK: Lk, headDim: d, headDimV: d, scale: 1 / Math.sqrt(d),
    causal: s.causal,
    q: { ptr: at.qPtr, batch: Lq * ldq, head: d, row: ldq },
    k: { ptr: at.kPtr, batch: Lk * ldkv, head: d, row: ldkv },
    v: { ptr: at.vPtr, batch: Lk * ldkv, head: d, row: ldkv },
    o: { ptr: at.ctxPtr, batch: Lq * E, head: d, row: E },
  };
  if (at.padding) {
    // Trailing padding bounds each batch entry's keys (key blocks past it are never computed);
    // the mask itself goes to the kernel only when it also masks keys before that bound.
    arena.writeI32(at.lensPtr, at.padding.lengths);
    p.validLens = { ptr: at.lensPtr, batch: 1, row: 0 };
    if (at.padding.interior) {
      arena.writeU8(at.paddingPtr, s.keyPaddingMask as Uint8Array);
      p.keyMask = { ptr: at.paddingPtr, batch: Lk, invert: true };
    }
  }
  if (s.attnMask) attachMask(arena, p, at.maskPtr, s.attnMask.data, s.attnMask.perSlice, true);
  if (at.weightsPtr !== 0) p.weights = { ptr: at.weightsPtr, batch: H * Lq * Lk, head: Lq * Lk, row: Lk };

  program.push(...attentionPhases(p, at.scratch, at.attention));
  program.push(strips(B * Lq, E, at.ctxPtr, at.ctxStrips));
  linear(B * Lq, E, at.ctxStrips, E, res.wo, res.bo, io.out, E,
    io.residual === 0 ? undefined : { residual: io.residual, ldr: E });
  // Head-averaged weights: mean over the H planes of each batch entry (no shared accumulator).
  if (at.meanPtr !== 0) program.push(meanRowsPhase(B, H, Lq * Lk, at.weightsPtr, H * Lq * Lk, Lq * Lk, at.meanPtr, Lq * Lk));
  return program;
}

/** The attention weights of a placed multi-head attention: averaged [B, Lq, Lk] or per head
 * [B, H, Lq, Lk], or undefined when not asked for. */
export function readMhaWeights(arena: Arena, H: number, s: MhaShape, at: MhaPlacement): Float32Array | undefined {
  const plane = s.batch * s.seqQ * s.seqK;
  if (at.weightsPtr === 0) return undefined;
  return at.meanPtr !== 0 ? arena.readF32(at.meanPtr, plane) : arena.readF32(at.weightsPtr, H * plane);
}

/** Places a validated forward call in the arena (inputs copied in) for `threads` threads. */
export function buildForward(
  arena: Arena, params: MultiHeadAttentionParams, plan: ForwardPlan, threads: number,
): BuiltCall {
  const { embedDim: E, kdim, vdim } = params;
  const { batch: B, seqQ: Lq, seqK: Lk } = plan;
  const shape: MhaShape = {
    batch: B, seqQ: Lq, seqK: Lk,
    // One [3E]-wide projection only when the three inputs really are one [B, L, E] tensor (one
    // array can also pass as query, key and value of other shapes when the lengths happen to match).
    selfAttention: plan.query === plan.key && plan.key === plan.value && kdim === E && vdim === E && Lq === Lk,
    sharedKeyValue: plan.key === plan.value && kdim === vdim,
    causal: plan.causal, needWeights: plan.needWeights, averageWeights: plan.averageWeights,
    keyPaddingMask: plan.keyPaddingMask, attnMask: plan.attnMask,
  };
  const queryPtr = arena.place(plan.query.byteLength);
  const keyPtr = shape.selfAttention ? queryPtr : arena.place(plan.key.byteLength);
  const valuePtr = shape.selfAttention || shape.sharedKeyValue ? keyPtr : arena.place(plan.value.byteLength);
  const outPtr = arena.place(B * Lq * E * 4);
  const at = placeMha(arena, params, shape, threads);
  arena.commit();

  arena.writeF32(queryPtr, plan.query);
  if (keyPtr !== queryPtr) arena.writeF32(keyPtr, plan.key);
  if (valuePtr !== keyPtr) arena.writeF32(valuePtr, plan.value);
  const program = mhaPhases(arena, params, shape, at,
    { query: queryPtr, key: keyPtr, value: valuePtr, out: outPtr, residual: 0 });
  return {
    program,
    outputs: [B * Lq * E],
    collect() {
      const result: AttentionResult = { output: arena.readF32(outPtr, B * Lq * E) };
      const weights = readMhaWeights(arena, params.numHeads, shape, at);
      if (weights) result.weights = weights;
      return result;
    },
  };
}

/** A multi-head attention's weights as a resident block (engine.multiHeadAttention, the
 * PyTorch layers' attention, BERT's). */
export class AttentionBlock implements Resident {
  constructor(readonly params: MultiHeadAttentionParams) {}
  get resident(): number {
    return this.params.resident;
  }
  get bytes(): number {
    return this.params.residentLength * 4;
  }
  upload(arena: Arena, kernels: KernelExports): void {
    uploadWeights(arena, kernels, this.params);
  }
  own(): void {
    ownMhaWeights(this.params);
  }
  release(arena: Arena): void {
    if (this.params.resident !== 0) arena.release(this.params.resident);
    this.params.resident = 0;
  }
}

/** The layer object handed to users. Its weights are packed once (in the constructor when the
 * engine is idle, else queued before any forward: ModuleWeights) and stay resident in the
 * engine's memory until dispose() or garbage collection. */
export function createMultiHeadAttention(params: MultiHeadAttentionParams, host: ModuleHost): MultiHeadAttention {
  const weights = new ModuleWeights(host, [new AttentionBlock(params)], 'MultiHeadAttention');
  const layer: MultiHeadAttention = Object.freeze({
    embedDim: params.embedDim,
    numHeads: params.numHeads,
    kdim: params.kdim,
    vdim: params.vdim,
    forward(query: Float32Array, key: Float32Array, value: Float32Array, opts: MultiHeadAttentionForwardOptions) {
      // Before the arguments, as since round 1.
      if (weights.isDisposed) return Promise.reject(stateError(`${FORWARD}: the layer has been disposed`));
      let plan: ForwardPlan;
      try {
        plan = planForward(params, query, key, value, opts);
      } catch (error) {
        return Promise.reject(error);
      }
      return weights.call<AttentionResult>('forward', (arena, threads) => buildForward(arena, params, plan, threads));
    },
    dispose: () => weights.dispose(layer),
    ...asyncDisposer(() => weights.dispose(layer)),
  });
  weights.track(layer);
  return layer;
}
