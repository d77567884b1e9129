// A call is a program: a list of phases, each a kernel applied to `items` independent work
// items that write disjoint outputs. Items are decoded from their index alone (ggml's ith/nth),
// and how a phase is cut into items depends only on the problem, never on the thread count,
// so every element is computed by the same kernel path in the same order: threads 1, 2, 3
// give identical bits. The inline executor and every worker run items through runItem.
import type { KernelExports } from '../wasm/abi.js';
import {
  GEMM_PANEL_COLS, GEMM_STRIP_ROWS, I8_GEMM_K_ALIGN, I8_GEMM_PANEL_HEADER, I8_GEMM_STRIP_HEADER, SCRATCH_SLOT_STRIDE,
} from '../wasm/layout.js';

export const PHASE_GEMM_PACKED = 1;
export const PHASE_ATTENTION = 2;
export const PHASE_MEAN_ROWS = 3;
export const PHASE_ATTENTION_COMBINE = 4;
export const PHASE_PACK_ROWS = 5;
export const PHASE_ATTENTION_NONFINITE = 6;
export const PHASE_PACK_PANELS = 7;
export const PHASE_LAYER_NORM = 8;
export const PHASE_GELU = 9;
export const PHASE_SOFTMAX = 10;
export const PHASE_SCALE = 11;
export const PHASE_GEMV_PACKED = 12;
export const PHASE_I8_QUANTIZE_ROWS = 13;
export const PHASE_I8_GEMM = 14;
export const PHASE_I8_GEMV = 15;
export const PHASE_ATTENTION_DECODE = 16;

/** A[m, k] (row stride lda) packed into GEMM strips at ap, cut into stripBlock strips; `batch`
 * such matrices, aBatch / apBatch elements apart. */
export interface PackRowsPhase {
  kind: typeof PHASE_PACK_ROWS;
  batch: number; m: number; k: number; a: number; lda: number; aBatch: number; ap: number; apBatch: number;
  stripBlock: number;
}

/** B packed into GEMM panels at bp: B[k, n] (row stride ldb) as is, or the transpose of
 * W[n, k] (`transposed`, nn.Linear's [out, in]); `batch` of them, bBatch / bpBatch elements apart;
 * cut into panelBlock panels. */
export interface PackPanelsPhase {
  kind: typeof PHASE_PACK_PANELS;
  batch: number; k: number; n: number; b: number; ldb: number; bBatch: number; bp: number; bpBatch: number;
  transposed: number;
  panelBlock: number;
}

/** Epilogue of a GEMM: C = act(A·B + bias) + residual. */
export const ACTIVATION = { none: 0, relu: 1, gelu: 2, geluTanh: 3 } as const;

/** C[m, n] = act(A·B + bias) + residual from packed A strips (ap) and B panels (bp), cut into
 * rowBlock × colBlock tiles of C; `batch` products, each operand its batch stride apart
 * (elements; 0 shares one operand, as a weight). */
export interface GemmPackedPhase {
  kind: typeof PHASE_GEMM_PACKED;
  batch: number; m: number; n: number; k: number;
  ap: number; apBatch: number; bp: number; bpBatch: number; bias: number;
  c: number; ldc: number; cBatch: number;
  activation: number; // ACTIVATION
  residual: number; ldr: number; rBatch: number; // f32 [m, n] added after the activation, or 0
  rowBlock: number; // multiple of GEMM_STRIP_ROWS
  colBlock: number; // multiple of GEMM_PANEL_COLS
}

/** C[m, n] = act(A·B + bias) + residual for a few rows (decoding): A[m, k] read in place (row
 * stride lda), B the packed GEMM's panels at bp; cut into colBlock columns only, never rows or
 * k, so each item streams its panels once for all m rows. Same bits as the GEMM phase in the
 * baseline build; in the relaxed build 1-2 rows round each product (f32-gemv-packed-simd.ts). */
export interface GemvPackedPhase {
  kind: typeof PHASE_GEMV_PACKED;
  m: number; n: number; k: number; a: number; lda: number; bp: number; bias: number;
  c: number; ldc: number;
  activation: number; // ACTIVATION
  residual: number; ldr: number; // f32 [m, n] added after the activation, or 0
  colBlock: number; // multiple of GEMM_PANEL_COLS
}

/** A[m, k] f32 (row stride lda) quantized per row into int8 GEMM strips at ap (byte address),
 * cut into stripBlock strips. */
export interface I8QuantizeRowsPhase {
  kind: typeof PHASE_I8_QUANTIZE_ROWS;
  m: number; k: number; a: number; lda: number; ap: number;
  stripBlock: number;
}

/** C[m, n] = act(dequant(Aq·Bq) + bias) + residual from int8 strips (ap) and panels (bp), cut
 * into rowBlock × colBlock tiles of C, as the f32 GEMM phase (never along k). */
export interface I8GemmPhase {
  kind: typeof PHASE_I8_GEMM;
  m: number; n: number; k: number; ap: number; bp: number; bias: number; c: number; ldc: number;
  activation: number; // ACTIVATION
  residual: number; ldr: number; // f32 [m, n] added after the activation, or 0
  rowBlock: number; // multiple of GEMM_STRIP_ROWS
  colBlock: number; // multiple of GEMM_PANEL_COLS
  // One slot of i8WideScratchBytes(k) or more per thread, where the item widens each panel's
  // codes once (slot t at scratch + t·scratchBytes); scratch 0: the tile widens them itself.
  // The same bits either way.
  scratch: number; scratchBytes: number;
}

/** C[m, n] = act(dequant(Aq·Bq) + bias) + residual for a few rows (decoding) from int8 strips
 * (ap) and panels (bp); cut into colBlock columns only, never rows or k, so each item streams
 * its panels once for all m rows. Same bits as the int8 GEMM phase. */
export interface I8GemvPhase {
  kind: typeof PHASE_I8_GEMV;
  m: number; n: number; k: number; ap: number; bp: number; bias: number; c: number; ldc: number;
  activation: number; // ACTIVATION
  residual: number; ldr: number; // f32 [m, n] added after the activation, or 0
  colBlock: number; // multiple of GEMM_PANEL_COLS
}

/** y = F.layer_norm(x + residual) · weight + bias over rows of `dim`, cut into rowBlock rows. */
export interface LayerNormPhase {
  kind: typeof PHASE_LAYER_NORM;
  rows: number; dim: number; x: number; ldx: number; residual: number; ldr: number;
  weight: number; bias: number; eps: number; y: number; ldy: number;
  rowBlock: number;
}

/** y = F.gelu(x) over n elements (approximate 0: erf, 1: tanh), cut into blocks of `block`. */
export interface GeluPhase {
  kind: typeof PHASE_GELU;
  n: number; x: number; y: number; approximate: number;
  block: number;
}

/** y = softmax(x·scale + mask) along rows of `cols` (addMask added, boolMask 1 = keep; mask row
 * strides 0 broadcast one row), cut into rowBlock rows. */
export interface SoftmaxPhase {
  kind: typeof PHASE_SOFTMAX;
  rows: number; cols: number; x: number; ldx: number; scale: number;
  addMask: number; ldAdd: number; boolMask: number; ldBool: number; y: number; ldy: number;
  rowBlock: number;
}

/** Attention of batch × heads slices, each cut into blocks of qBlock query rows. Views are a
 * byte address and element strides between batch entries, heads and rows; ptr 0 = absent. */
export interface AttentionPhase {
  kind: typeof PHASE_ATTENTION;
  batch: number; heads: number; seqQ: number; seqK: number; headDim: number; headDimV: number;
  scale: number; causal: number;
  qPtr: number; qBatch: number; qHead: number; qRow: number;
  kPtr: number; kBatch: number; kHead: number; kRow: number;
  vPtr: number; vBatch: number; vHead: number; vRow: number;
  oPtr: number; oBatch: number; oHead: number; oRow: number;
  addPtr: number; addBatch: number; addHead: number; addRow: number;
  boolPtr: number; boolBatch: number; boolHead: number; boolRow: number; boolInvert: number;
  keyPtr: number; keyBatch: number; keyInvert: number;
  lensPtr: number; lensBatch: number; lensRow: number;
  wPtr: number; wBatch: number; wHead: number; wRow: number;
  qBlock: number; // multiple of the kernel's query tile
  scratch: number; // first of one scratch slot per thread
  scratchBytes: number; // from one slot to the next (SCRATCH_SLOT_STRIDE)
  // Key split (kParts > 1): part j covers keys j·kChunk .. and writes its unnormalised O to
  // partPtr [batch·heads, kParts, seqQ, headDimV] and (m, l) to statsPtr [batch·heads, kParts, seqQ, 2].
  kParts: number; kChunk: number; partPtr: number; statsPtr: number;
  // i32 per slice [batch·heads], or 0: written by the non-finite scan that precedes a phase
  // that may skip keys (causal, validLens); a set flag makes the slice skip nothing.
  allKeysPtr: number;
}

/** Merges the key-split parts of an attention phase (same fields) into its output view. */
export interface AttentionCombinePhase extends Omit<AttentionPhase, 'kind'> {
  kind: typeof PHASE_ATTENTION_COMBINE;
}

/** One query row per batch entry (seqQ = 1) over every head at once, the heads side by side in
 * each K/V row (same fields): one item per (batch entry, key part), f32_attention_decode. Key
 * parts are kChunk keys (the last one shorter); with kParts > 1 each item writes its heads'
 * unnormalised O and (m, l) where the combine reads them, as for PHASE_ATTENTION. Only masks
 * shared by every head: addPtr with addHead = 0, keyPtr. */
export interface AttentionDecodePhase extends Omit<AttentionPhase, 'kind'> {
  kind: typeof PHASE_ATTENTION_DECODE;
}

/** Sets the allKeys flag of each slice of an attention phase (same fields): one item a slice. */
export interface AttentionNonFinitePhase extends Omit<AttentionPhase, 'kind'> {
  kind: typeof PHASE_ATTENTION_NONFINITE;
}

/** y[b] = mean over `count` rows x[b] + i·stride (i < count), n elements, cut into colBlock. */
export interface MeanRowsPhase {
  kind: typeof PHASE_MEAN_ROWS;
  batch: number; count: number; n: number;
  x: number; xBatch: number; stride: number; y: number; yBatch: number;
  colBlock: number; // multiple of 4
}

/** y = x·s over n elements, cut into blocks of `block`. */
export interface ScalePhase {
  kind: typeof PHASE_SCALE;
  n: number; x: number; y: number; s: number;
  block: number;
}

export type Phase =
  PackRowsPhase | PackPanelsPhase | GemmPackedPhase | GemvPackedPhase | AttentionPhase | AttentionCombinePhase | AttentionNonFinitePhase |
  AttentionDecodePhase |
  MeanRowsPhase | LayerNormPhase | GeluPhase | SoftmaxPhase | ScalePhase | I8QuantizeRowsPhase | I8GemmPhase | I8GemvPhase;

/** Field order of the attention phases (the combine reads the same record). */
const ATTENTION_FIELDS = [
  'batch', 'heads', 'seqQ', 'seqK', 'headDim', 'headDimV', 'scale', 'causal',
  'qPtr', 'qBatch', 'qHead', 'qRow', 'kPtr', 'kBatch', 'kHead', 'kRow',
  'vPtr', 'vBatch', 'vHead', 'vRow', 'oPtr', 'oBatch', 'oHead', 'oRow',
  'addPtr', 'addBatch', 'addHead', 'addRow', 'boolPtr', 'boolBatch', 'boolHead', 'boolRow', 'boolInvert',
  'keyPtr', 'keyBatch', 'keyInvert', 'lensPtr', 'lensBatch', 'lensRow',
  'wPtr', 'wBatch', 'wHead', 'wRow', 'qBlock', 'scratch', 'scratchBytes',
  'kParts', 'kChunk', 'partPtr', 'statsPtr', 'allKeysPtr',
];

/** Field order of each kind, for the flat encoding workers read from shared memory. */
export const PHASE_FIELDS: Record<Phase['kind'], readonly string[]> = {
  [PHASE_PACK_ROWS]: ['batch', 'm', 'k', 'a', 'lda', 'aBatch', 'ap', 'apBatch', 'stripBlock'],
  [PHASE_PACK_PANELS]: ['batch', 'k', 'n', 'b', 'ldb', 'bBatch', 'bp', 'bpBatch', 'transposed', 'panelBlock'],
  [PHASE_GEMM_PACKED]: ['batch', 'm', 'n', 'k', 'ap', 'apBatch', 'bp', 'bpBatch', 'bias', 'c', 'ldc', 'cBatch',
    'activation', 'residual', 'ldr', 'rBatch', 'rowBlock', 'colBlock'],
  [PHASE_GEMV_PACKED]: ['m', 'n', 'k', 'a', 'lda', 'bp', 'bias', 'c', 'ldc', 'activation', 'residual', 'ldr', 'colBlock'],
  [PHASE_LAYER_NORM]: ['rows', 'dim', 'x', 'ldx', 'residual', 'ldr', 'weight', 'bias', 'eps', 'y', 'ldy', 'rowBlock'],
  [PHASE_GELU]: ['n', 'x', 'y', 'approximate', 'block'],
  [PHASE_SCALE]: ['n', 'x', 'y', 's', 'block'],
  [PHASE_SOFTMAX]: ['rows', 'cols', 'x', 'ldx', 'scale', 'addMask', 'ldAdd', 'boolMask', 'ldBool', 'y', 'ldy', 'rowBlock'],
  [PHASE_ATTENTION]: ATTENTION_FIELDS,
  [PHASE_ATTENTION_COMBINE]: ATTENTION_FIELDS,
  [PHASE_ATTENTION_NONFINITE]: ATTENTION_FIELDS,
  [PHASE_ATTENTION_DECODE]: ATTENTION_FIELDS,
  [PHASE_MEAN_ROWS]: ['batch', 'count', 'n', 'x', 'xBatch', 'stride', 'y', 'yBatch', 'colBlock'],
  [PHASE_I8_QUANTIZE_ROWS]: ['m', 'k', 'a', 'lda', 'ap', 'stripBlock'],
  [PHASE_I8_GEMM]: [
    'm', 'n', 'k', 'ap', 'bp', 'bias', 'c', 'ldc', 'activation', 'residual', 'ldr', 'rowBlock', 'colBlock', 'scratch', 'scratchBytes',
  ],
  [PHASE_I8_GEMV]: ['m', 'n', 'k', 'ap', 'bp', 'bias', 'c', 'ldc', 'activation', 'residual', 'ldr', 'colBlock'],
};

const ceilDiv = (a: number, b: number): number => Math.floor((a + b - 1) / b);

/** Number of work items of a phase. */
export function itemCount(p: Phase): number {
  switch (p.kind) {
    case PHASE_PACK_ROWS: return p.batch * ceilDiv(ceilDiv(p.m, GEMM_STRIP_ROWS), p.stripBlock);
    case PHASE_PACK_PANELS: return p.batch * ceilDiv(ceilDiv(p.n, GEMM_PANEL_COLS), p.panelBlock);
    case PHASE_GEMM_PACKED: return p.batch * ceilDiv(p.m, p.rowBlock) * ceilDiv(p.n, p.colBlock);
    case PHASE_GEMV_PACKED: return ceilDiv(p.n, p.colBlock);
    case PHASE_LAYER_NORM: return ceilDiv(p.rows, p.rowBlock);
    case PHASE_GELU: case PHASE_SCALE: return ceilDiv(p.n, p.block);
    case PHASE_SOFTMAX: return ceilDiv(p.rows, p.rowBlock);
    case PHASE_ATTENTION: return p.batch * p.heads * ceilDiv(p.seqQ, p.qBlock) * p.kParts;
    case PHASE_ATTENTION_COMBINE: return p.batch * p.heads * ceilDiv(p.seqQ, p.qBlock);
    case PHASE_ATTENTION_NONFINITE: return p.batch * p.heads;
    case PHASE_ATTENTION_DECODE: return p.batch * p.kParts;
    case PHASE_MEAN_ROWS: return p.batch * ceilDiv(p.n, p.colBlock);
    case PHASE_I8_QUANTIZE_ROWS: return ceilDiv(ceilDiv(p.m, GEMM_STRIP_ROWS), p.stripBlock);
    case PHASE_I8_GEMM: return ceilDiv(p.m, p.rowBlock) * ceilDiv(p.n, p.colBlock);
    case PHASE_I8_GEMV: return ceilDiv(p.n, p.colBlock);
  }
}

/** Runs item `i` of phase `p`; `slot` picks the caller's scratch slot (its thread index). */
export function runItem(kernels: KernelExports, p: Phase, i: number, slot: number): void {
  switch (p.kind) {
    case PHASE_PACK_ROWS: {
      const strips = ceilDiv(p.m, GEMM_STRIP_ROWS), blocks = ceilDiv(strips, p.stripBlock);
      const b = Math.floor(i / blocks), s0 = (i % blocks) * p.stripBlock;
      kernels.f32_pack_rows(p.m, p.k, p.a + b * p.aBatch * 4, p.lda, p.ap + b * p.apBatch * 4,
        s0, Math.min(strips, s0 + p.stripBlock));
      return;
    }
    case PHASE_PACK_PANELS: {
      const panels = ceilDiv(p.n, GEMM_PANEL_COLS), blocks = ceilDiv(panels, p.panelBlock);
      const b = Math.floor(i / blocks), p0 = (i % blocks) * p.panelBlock, p1 = Math.min(panels, p0 + p.panelBlock);
      const src = p.b + b * p.bBatch * 4, dst = p.bp + b * p.bpBatch * 4;
      if (p.transposed) kernels.f32_pack_panels_nt(p.n, p.k, src, p.ldb, dst, p0, p1);
      else kernels.f32_pack_panels_nn(p.k, p.n, src, p.ldb, dst, p0, p1);
      return;
    }
    case PHASE_GEMM_PACKED: {
      const colBlocks = ceilDiv(p.n, p.colBlock), tiles = ceilDiv(p.m, p.rowBlock) * colBlocks;
      const b = Math.floor(i / tiles), t = i % tiles;
      const r0 = Math.floor(t / colBlocks) * p.rowBlock, c0 = (t % colBlocks) * p.colBlock;
      kernels.f32_gemm_packed(
        Math.min(p.rowBlock, p.m - r0), Math.min(p.colBlock, p.n - c0), p.k,
        p.ap + (b * p.apBatch + r0 * p.k) * 4, p.bp + (b * p.bpBatch + c0 * p.k) * 4, p.bias === 0 ? 0 : p.bias + c0 * 4,
        p.c + (b * p.cBatch + r0 * p.ldc + c0) * 4, p.ldc, p.activation,
        p.residual === 0 ? 0 : p.residual + (b * p.rBatch + r0 * p.ldr + c0) * 4, p.ldr);
      return;
    }
    case PHASE_GEMV_PACKED: {
      const c0 = i * p.colBlock;
      kernels.f32_gemv_packed(p.m, Math.min(p.colBlock, p.n - c0), p.k, p.a, p.lda, p.bp + c0 * p.k * 4,
        p.bias === 0 ? 0 : p.bias + c0 * 4, p.c + c0 * 4, p.ldc, p.activation,
        p.residual === 0 ? 0 : p.residual + c0 * 4, p.ldr);
      return;
    }
    case PHASE_LAYER_NORM: {
      const r0 = i * p.rowBlock;
      kernels.f32_layer_norm(Math.min(p.rowBlock, p.rows - r0), p.dim, p.x + r0 * p.ldx * 4, p.ldx,
        p.residual === 0 ? 0 : p.residual + r0 * p.ldr * 4, p.ldr, p.weight, p.bias, p.eps, p.y + r0 * p.ldy * 4, p.ldy);
      return;
    }
    case PHASE_GELU: {
      const e0 = i * p.block;
      kernels.f32_gelu(Math.min(p.block, p.n - e0), p.x + e0 * 4, p.y + e0 * 4, p.approximate);
      return;
    }
    case PHASE_SCALE: {
      const e0 = i * p.block;
      kernels.f32_scale(Math.min(p.block, p.n - e0), p.x + e0 * 4, p.y + e0 * 4, p.s);
      return;
    }
    case PHASE_SOFTMAX: {
      const r0 = i * p.rowBlock;
      kernels.f32_softmax_scaled(Math.min(p.rowBlock, p.rows - r0), p.cols, p.x + r0 * p.ldx * 4, p.ldx, p.scale,
        p.addMask === 0 ? 0 : p.addMask + r0 * p.ldAdd * 4, p.ldAdd,
        p.boolMask === 0 ? 0 : p.boolMask + r0 * p.ldBool, p.ldBool, p.y + r0 * p.ldy * 4, p.ldy);
      return;
    }
    case PHASE_ATTENTION: {
      const qBlocks = ceilDiv(p.seqQ, p.qBlock);
      const part = i % p.kParts, rest = Math.floor(i / p.kParts);
      const slice = Math.floor(rest / qBlocks), q0 = (rest % qBlocks) * p.qBlock;
      const b = Math.floor(slice / p.heads), h = slice % p.heads;
      const at = (ptr: number, batch: number, head: number, bytes: number): number =>
        ptr === 0 ? 0 : ptr + (b * batch + h * head) * bytes;
      const split = p.kParts > 1;
      const partAt = (slice * p.kParts + part) * p.seqQ;
      kernels.f32_attention(
        at(p.qPtr, p.qBatch, p.qHead, 4), p.qRow, at(p.kPtr, p.kBatch, p.kHead, 4), p.kRow,
        at(p.vPtr, p.vBatch, p.vHead, 4), p.vRow,
        split ? p.partPtr + partAt * p.headDimV * 4 : at(p.oPtr, p.oBatch, p.oHead, 4), split ? p.headDimV : p.oRow,
        p.headDim, p.headDimV, q0, Math.min(p.seqQ, q0 + p.qBlock),
        part * p.kChunk, Math.min(p.seqK, (part + 1) * p.kChunk), p.scale, p.causal,
        at(p.addPtr, p.addBatch, p.addHead, 4), p.addRow,
        at(p.boolPtr, p.boolBatch, p.boolHead, 1), p.boolRow, p.boolInvert,
        at(p.keyPtr, p.keyBatch, 0, 1), p.keyInvert,
        at(p.lensPtr, p.lensBatch, 0, 4), p.lensRow,
        at(p.wPtr, p.wBatch, p.wHead, 4), p.wRow,
        p.scratch + slot * p.scratchBytes, split ? p.statsPtr + partAt * 2 * 4 : 0,
        p.allKeysPtr === 0 ? 0 : p.allKeysPtr + slice * 4);
      return;
    }
    case PHASE_ATTENTION_DECODE: {
      const b = Math.floor(i / p.kParts), part = i % p.kParts;
      const at = (ptr: number, batch: number, bytes: number): number => (ptr === 0 ? 0 : ptr + b * batch * bytes);
      const split = p.kParts > 1;
      // Head h of part `part` sits where the combine reads slice b·heads + h (see AttentionPhase).
      const partAt = (b * p.heads * p.kParts + part) * p.seqQ, headStride = p.kParts * p.seqQ;
      const k0 = part * p.kChunk;
      kernels.f32_attention_decode(p.heads,
        at(p.qPtr, p.qBatch, 4), p.qHead, at(p.kPtr, p.kBatch, 4), p.kRow, p.kHead,
        at(p.vPtr, p.vBatch, 4), p.vRow, p.vHead,
        split ? p.partPtr + partAt * p.headDimV * 4 : at(p.oPtr, p.oBatch, 4), split ? headStride * p.headDimV : p.oHead,
        p.headDim, p.headDimV, k0, Math.min(p.seqK, k0 + p.kChunk), p.scale,
        at(p.addPtr, p.addBatch, 4), at(p.keyPtr, p.keyBatch, 1), p.keyInvert,
        p.scratch + slot * p.scratchBytes, split ? p.statsPtr + partAt * 2 * 4 : 0, headStride * 2);
      return;
    }
    case PHASE_ATTENTION_NONFINITE: {
      const b = Math.floor(i / p.heads), h = i % p.heads;
      kernels.f32_attention_nonfinite(p.qPtr + (b * p.qBatch + h * p.qHead) * 4, p.qRow,
        p.kPtr + (b * p.kBatch + h * p.kHead) * 4, p.kRow, p.headDim,
        p.vPtr + (b * p.vBatch + h * p.vHead) * 4, p.vRow, p.headDimV, p.seqQ, p.seqK, p.causal,
        p.lensPtr === 0 ? 0 : p.lensPtr + b * p.lensBatch * 4, p.lensRow,
        p.addPtr === 0 ? 0 : p.addPtr + (b * p.addBatch + h * p.addHead) * 4, p.addRow, p.allKeysPtr + i * 4);
      return;
    }
    case PHASE_ATTENTION_COMBINE: {
      const qBlocks = ceilDiv(p.seqQ, p.qBlock);
      const slice = Math.floor(i / qBlocks), q0 = (i % qBlocks) * p.qBlock;
      const b = Math.floor(slice / p.heads), h = slice % p.heads;
      const first = slice * p.kParts * p.seqQ;
      kernels.f32_attention_combine(p.kParts, q0, Math.min(p.seqQ, q0 + p.qBlock), p.headDimV,
        p.partPtr + first * p.headDimV * 4, p.headDimV, p.seqQ * p.headDimV,
        p.statsPtr + first * 2 * 4, p.seqQ * 2,
        p.oPtr + (b * p.oBatch + h * p.oHead) * 4, p.oRow);
      return;
    }
    case PHASE_I8_QUANTIZE_ROWS: {
      const strips = ceilDiv(p.m, GEMM_STRIP_ROWS), s0 = i * p.stripBlock;
      kernels.i8_quantize_rows(p.m, p.k, p.a, p.lda, p.ap, s0, Math.min(strips, s0 + p.stripBlock), i8Compact(p.m));
      return;
    }
    case PHASE_I8_GEMM: {
      const colBlocks = ceilDiv(p.n, p.colBlock);
      const r0 = Math.floor(i / colBlocks) * p.rowBlock, c0 = (i % colBlocks) * p.colBlock;
      kernels.i8_gemm_packed(
        Math.min(p.rowBlock, p.m - r0), Math.min(p.colBlock, p.n - c0), p.k,
        p.ap + (r0 / GEMM_STRIP_ROWS) * i8StripBytes(p.k), p.bp + (c0 / GEMM_PANEL_COLS) * i8PanelBytes(p.k),
        p.bias === 0 ? 0 : p.bias + c0 * 4, p.c + (r0 * p.ldc + c0) * 4, p.ldc, p.activation,
        p.residual === 0 ? 0 : p.residual + (r0 * p.ldr + c0) * 4, p.ldr,
        p.scratch === 0 ? 0 : p.scratch + slot * p.scratchBytes);
      return;
    }
    case PHASE_I8_GEMV: {
      const c0 = i * p.colBlock;
      kernels.i8_gemv(p.m, Math.min(p.colBlock, p.n - c0), p.k, p.ap, p.bp + (c0 / GEMM_PANEL_COLS) * i8PanelBytes(p.k),
        p.bias === 0 ? 0 : p.bias + c0 * 4, p.c + c0 * 4, p.ldc, p.activation,
        p.residual === 0 ? 0 : p.residual + c0 * 4, p.ldr, i8Compact(p.m));
      return;
    }
    case PHASE_MEAN_ROWS: {
      const colBlocks = ceilDiv(p.n, p.colBlock);
      const b = Math.floor(i / colBlocks), c0 = (i % colBlocks) * p.colBlock;
      kernels.f32_mean_rows(p.count, Math.min(p.colBlock, p.n - c0),
        p.x + (b * p.xBatch + c0) * 4, p.stride, p.y + (b * p.yBatch + c0) * 4);
      return;
    }
  }
}

/** Output tile of one GEMM item: gemmRowBlock(k) rows × GEMM_COL_BLOCK columns, multiples of
 * the 4×8 tile. The kernel runs panels outside and strips inside: each B panel (k·32 bytes) is
 * read from L3 once per item, then re-read from the core's own L1/L2 by every strip of the item
 * (the A strips stay in L2). So B crosses from L3 once per row block, and taller items cut that
 * traffic (128 rows: 28 MB instead of 56 MB for BERT's [2304, 768] in-projection at seq 512)
 * as long as the A strips (rows·k·4 bytes) stay within GEMM_A_BLOCK_BYTES of L2. */
export const GEMM_COL_BLOCK = 128;
export const GEMM_MAX_ROW_BLOCK = 128;
/** Row blocks are whole multiples of this (and never smaller). */
export const GEMM_MIN_ROW_BLOCK = 16;
export const GEMM_A_BLOCK_BYTES = 384 * 1024;
/** Rows of one GEMM item for reduction length k: 128 up to k = 768, fewer beyond (k = 3072:
 * 32), never below 16. Depends on k only, so every thread count cuts a phase the same way. */
export function gemmRowBlock(k: number): number {
  const fit = Math.floor(GEMM_A_BLOCK_BYTES / (k * 4 * GEMM_MIN_ROW_BLOCK)) * GEMM_MIN_ROW_BLOCK;
  return Math.max(GEMM_MIN_ROW_BLOCK, Math.min(GEMM_MAX_ROW_BLOCK, fit));
}
/** Strips of one pack item: 64 rows. */
export const PACK_STRIP_BLOCK = 64 / GEMM_STRIP_ROWS;

/** Floats of A[m, k] packed into strips (rows rounded up to GEMM_STRIP_ROWS). */
export const packedRowsLength = (m: number, k: number): number => ceilDiv(m, GEMM_STRIP_ROWS) * GEMM_STRIP_ROWS * k;
/** Floats of B[k, n] packed into panels (columns rounded up to GEMM_PANEL_COLS). */
export const packedPanelsLength = (k: number, n: number): number => ceilDiv(n, GEMM_PANEL_COLS) * GEMM_PANEL_COLS * k;
/** Columns of one mean item. */
export const MEAN_COL_BLOCK = 4096;

/** A[m, k] packed into strips; `batch` matrices aBatch (input) / apBatch (strips) elements apart. */
export function packRowsPhase(
  m: number, k: number, a: number, lda: number, ap: number, batch = 1, aBatch = 0, apBatch = 0,
): PackRowsPhase {
  return { kind: PHASE_PACK_ROWS, batch, m, k, a, lda, aBatch, ap, apBatch, stripBlock: PACK_STRIP_BLOCK };
}

/** Panels of one pack item: 16 panels (128 columns, a GEMM item's width). */
export const PACK_PANEL_BLOCK = GEMM_COL_BLOCK / GEMM_PANEL_COLS;

/** B[k, n] (or, `transposed`, W[n, k]) packed into panels; `batch` of them. */
export function packPanelsPhase(
  k: number, n: number, b: number, ldb: number, bp: number, transposed: boolean, batch = 1, bBatch = 0, bpBatch = 0,
): PackPanelsPhase {
  return {
    kind: PHASE_PACK_PANELS, batch, k, n, b, ldb, bBatch, bp, bpBatch, transposed: transposed ? 1 : 0,
    panelBlock: PACK_PANEL_BLOCK,
  };
}

/** What a GEMM phase may add to C = A·B + bias: the activation, a residual, a batch. */
export interface GemmExtras {
  activation?: number; residual?: number; ldr?: number;
  batch?: number; apBatch?: number; bpBatch?: number; cBatch?: number; rBatch?: number;
  /** int8 GEMM only: per-thread scratch where each panel's codes are widened once (faster, the
   * same bits); used when a slot holds i8WideScratchBytes(k). */
  scratch?: ThreadScratch;
}

/** One scratch slot per thread, `bytes` apart from `at`: a thread's own, as the attention's. */
export interface ThreadScratch { at: number; bytes: number }

/** Scratch slots of SCRATCH_SLOT_STRIDE bytes, one per thread, at `at` (threads·SCRATCH_SLOT_STRIDE
 * bytes placed with 128-byte alignment): the attention's, lent to the int8 products of the same
 * program (phases run one after another, so no two use a slot at once), or a linear's own. */
export const scratchSlots = (at: number): ThreadScratch => ({ at, bytes: SCRATCH_SLOT_STRIDE });

export function gemmPackedPhase(
  m: number, n: number, k: number, ap: number, bp: number, bias: number, c: number, ldc: number, extras: GemmExtras = {},
): GemmPackedPhase {
  return {
    kind: PHASE_GEMM_PACKED, batch: extras.batch ?? 1, m, n, k,
    ap, apBatch: extras.apBatch ?? 0, bp, bpBatch: extras.bpBatch ?? 0, bias, c, ldc, cBatch: extras.cBatch ?? 0,
    activation: extras.activation ?? ACTIVATION.none,
    residual: extras.residual ?? 0, ldr: extras.ldr ?? 0, rBatch: extras.rBatch ?? 0,
    rowBlock: gemmRowBlock(k), colBlock: GEMM_COL_BLOCK,
  };
}

/** Most rows the GEMV phase takes; more rows pack A and run the GEMM. The GEMV streams B once
 * for up to 4 rows, but from 3 rows on both kernels are arithmetic-bound (16 multiply-adds per
 * 32 bytes of B) and the GEMM's tile, reading A packed through one pointer, is the faster one
 * (bench/gemv.mjs --rows=4: 0.4 of the read bandwidth, the GEMM 0.5-0.6; 1 row: 0.9-1.0). */
export const GEMV_MAX_ROWS = 2;
/** Columns of one GEMV item: two of the kernel's 32-column tiles (k·256 bytes of panels), small
 * enough that a 768-wide projection is 12 items for the threads to share. */
export const GEMV_COL_BLOCK = 64;

export function gemvPackedPhase(
  m: number, n: number, k: number, a: number, lda: number, bp: number, bias: number, c: number, ldc: number,
  extras: Pick<GemmExtras, 'activation' | 'residual' | 'ldr'> = {},
): GemvPackedPhase {
  return {
    kind: PHASE_GEMV_PACKED, m, n, k, a, lda, bp, bias, c, ldc, activation: extras.activation ?? ACTIVATION.none,
    residual: extras.residual ?? 0, ldr: extras.ldr ?? 0, colBlock: GEMV_COL_BLOCK,
  };
}

/** C[m, n] = act(A·B + bias) + residual against resident panels bp, for A[m, k] (row stride
 * lda): the GEMV phase when m <= GEMV_MAX_ROWS (A in place, `strips` unused), else A packed
 * into `strips` (packedRowsLength(m, k) floats) and the GEMM. Both give the same bits in the
 * baseline build (the relaxed build's GEMV rounds each product: f32-gemv-packed-simd.ts). */
export function projectionPhases(
  m: number, n: number, k: number, a: number, lda: number, strips: number, bp: number, bias: number,
  c: number, ldc: number, extras: Pick<GemmExtras, 'activation' | 'residual' | 'ldr'> = {},
): Phase[] {
  if (m <= GEMV_MAX_ROWS) return [gemvPackedPhase(m, n, k, a, lda, bp, bias, c, ldc, extras)];
  return [packRowsPhase(m, k, a, lda, strips), gemmPackedPhase(m, n, k, strips, bp, bias, c, ldc, extras)];
}

/** k of the int8 GEMM rounded up to its step. */
const i8PaddedK = (k: number): number => ceilDiv(k, I8_GEMM_K_ALIGN) * I8_GEMM_K_ALIGN;
/** Bytes of one int8 A strip (GEMM_STRIP_ROWS rows) for reduction length k. */
export const i8StripBytes = (k: number): number => I8_GEMM_STRIP_HEADER + 2 * GEMM_STRIP_ROWS * i8PaddedK(k);
/** Bytes of one int8 B panel (GEMM_PANEL_COLS columns) for reduction length k. */
export const i8PanelBytes = (k: number): number => I8_GEMM_PANEL_HEADER + GEMM_PANEL_COLS * i8PaddedK(k);
/** Bytes the int8 GEMM widens one panel's codes into (i16, twice the codes). */
export const i8WideScratchBytes = (k: number): number => 2 * GEMM_PANEL_COLS * i8PaddedK(k);
/** Bytes of A[m, k] quantized into int8 strips. */
export const i8StripsBytes = (m: number, k: number): number => ceilDiv(m, GEMM_STRIP_ROWS) * i8StripBytes(k);
/** Bytes of W[n, k] quantized into int8 panels. */
export const i8PanelsBytes = (n: number, k: number): number => ceilDiv(n, GEMM_PANEL_COLS) * i8PanelBytes(k);
/** Rows of one int8 GEMM item for reduction length k: the f32 rule for the same A bytes (the
 * i16 codes are half of f32 ones: 128 rows up to k = 1536, 64 at k = 3072). */
export const i8GemmRowBlock = (k: number): number => gemmRowBlock(Math.ceil(k / 2));

/** Most rows whose int8 strips are written compact (i8-gemm.ts): the quantize phase and the
 * GEMV phase both decide by m, so strips quantized for m rows must be read by a product of the
 * same m (every caller does: i8ProjectionPhases, GPT-2's q/k/v, multi-head attention). The int8
 * GEMM never sees them: i8ProductPhase takes the GEMV up to I8_GEMV_MAX_ROWS rows. */
export const I8_COMPACT_MAX_ROWS = 2;
const i8Compact = (m: number): number => (m <= I8_COMPACT_MAX_ROWS ? 1 : 0);

export function i8QuantizeRowsPhase(m: number, k: number, a: number, lda: number, ap: number): I8QuantizeRowsPhase {
  return { kind: PHASE_I8_QUANTIZE_ROWS, m, k, a, lda, ap, stripBlock: PACK_STRIP_BLOCK };
}

export function i8GemmPhase(
  m: number, n: number, k: number, ap: number, bp: number, bias: number, c: number, ldc: number,
  extras: I8Extras = {},
): I8GemmPhase {
  if (m <= I8_COMPACT_MAX_ROWS) throw new Error(`i8GemmPhase: ${m} rows are quantized compact, which only the GEMV reads`);
  const wide = extras.scratch !== undefined && i8WideScratchBytes(k) <= extras.scratch.bytes;
  return {
    kind: PHASE_I8_GEMM, m, n, k, ap, bp, bias, c, ldc, activation: extras.activation ?? ACTIVATION.none,
    residual: extras.residual ?? 0, ldr: extras.ldr ?? 0, rowBlock: i8GemmRowBlock(k), colBlock: GEMM_COL_BLOCK,
    scratch: wide ? extras.scratch!.at : 0, scratchBytes: wide ? extras.scratch!.bytes : 0,
  };
}

/** The epilogue and scratch of an int8 product. */
export type I8Extras = Pick<GemmExtras, 'activation' | 'residual' | 'ldr' | 'scratch'>;

/** Most rows the int8 GEMV phase takes; more rows run the int8 GEMM. Both read the same
 * quantized strips and give the same bits. Unlike the f32 GEMV (GEMV_MAX_ROWS), nothing is
 * packed differently on either side: for 3 and 4 rows the GEMV runs the GEMM's own tile over
 * one strip, so the two phases differ only in their column split. */
export const I8_GEMV_MAX_ROWS = GEMM_STRIP_ROWS;
/** Columns of one int8 GEMV item: 16 panels, k·128 bytes of codes (half the bytes of an f32
 * GEMV item), so a 768-wide projection is 6 items for the threads to share and the GPT-2
 * lm_head 393, each long enough (96 KiB at k = 768) to hide the item's dispatch. */
export const I8_GEMV_COL_BLOCK = 128;

export function i8GemvPhase(
  m: number, n: number, k: number, ap: number, bp: number, bias: number, c: number, ldc: number,
  extras: Pick<GemmExtras, 'activation' | 'residual' | 'ldr'> = {},
): I8GemvPhase {
  return {
    kind: PHASE_I8_GEMV, m, n, k, ap, bp, bias, c, ldc, activation: extras.activation ?? ACTIVATION.none,
    residual: extras.residual ?? 0, ldr: extras.ldr ?? 0, colBlock: I8_GEMV_COL_BLOCK,
  };
}

/** The int8 product of a projection from quantized strips ap (i8QuantizeRowsPhase) and resident
 * int8 panels bp: C[m, n] = act(dequant(Aq·Bq) + bias) + residual. The one place where int8
 * projections pick their kernel: the int8 GEMV up to I8_GEMV_MAX_ROWS rows (decode), else the
 * int8 GEMM. Both read the same strips and panels and give the same bits. */
export function i8ProductPhase(
  m: number, n: number, k: number, ap: number, bp: number, bias: number, c: number, ldc: number,
  extras: I8Extras = {},
): Phase {
  return m <= I8_GEMV_MAX_ROWS ? i8GemvPhase(m, n, k, ap, bp, bias, c, ldc, extras)
    : i8GemmPhase(m, n, k, ap, bp, bias, c, ldc, extras);
}

/** The int8 twin of projectionPhases: A[m, k] (row stride lda) quantized per row into `strips`
 * (i8StripsBytes(m, k) bytes), then the int8 product against panels bp. */
export function i8ProjectionPhases(
  m: number, n: number, k: number, a: number, lda: number, strips: number, bp: number, bias: number,
  c: number, ldc: number, extras: I8Extras = {},
): Phase[] {
  return [i8QuantizeRowsPhase(m, k, a, lda, strips), i8ProductPhase(m, n, k, strips, bp, bias, c, ldc, extras)];
}

/** Rows of one layer-norm or softmax item (about 32 KiB of a 768-wide row block). */
export const ROW_BLOCK = 16;
/** Elements of one GELU item. */
export const ELEMENT_BLOCK = 16384;

export function layerNormPhase(
  rows: number, dim: number, x: number, ldx: number, residual: number, ldr: number,
  weight: number, bias: number, eps: number, y: number, ldy: number,
): LayerNormPhase {
  return { kind: PHASE_LAYER_NORM, rows, dim, x, ldx, residual, ldr, weight, bias, eps, y, ldy, rowBlock: ROW_BLOCK };
}

export function geluPhase(n: number, x: number, y: number, approximate: boolean): GeluPhase {
  return { kind: PHASE_GELU, n, x, y, approximate: approximate ? 1 : 0, block: ELEMENT_BLOCK };
}

export function scalePhase(n: number, x: number, y: number, s: number): ScalePhase {
  return { kind: PHASE_SCALE, n, x, y, s, block: ELEMENT_BLOCK };
}

export function softmaxPhase(
  rows: number, cols: number, x: number, ldx: number, scale: number,
  addMask: number, ldAdd: number, boolMask: number, ldBool: number, y: number, ldy: number,
): SoftmaxPhase {
  return {
    kind: PHASE_SOFTMAX, rows, cols, x, ldx, scale, addMask, ldAdd, boolMask, ldBool, y, ldy, rowBlock: ROW_BLOCK,
  };
}

export function meanRowsPhase(
  batch: number, count: number, n: number, x: number, xBatch: number, stride: number, y: number, yBatch: number,
): MeanRowsPhase {
  return { kind: PHASE_MEAN_ROWS, batch, count, n, x, xBatch, stride, y, yBatch, colBlock: MEAN_COL_BLOCK };
}

/** Upper bound of a program's floating-point work (masked keys counted), to decide whether
 * waking the workers is worth it. */
export function programFlops(program: readonly Phase[]): number {
  let total = 0;
  for (const p of program) {
    if (p.kind === PHASE_GEMM_PACKED) total += 2 * p.batch * p.m * p.n * p.k;
    else if (p.kind === PHASE_GEMV_PACKED) total += 2 * p.m * p.n * p.k;
    else if (p.kind === PHASE_I8_GEMM || p.kind === PHASE_I8_GEMV) total += 2 * p.m * p.n * p.k;
    else if (p.kind === PHASE_I8_QUANTIZE_ROWS) total += 4 * p.m * p.k;
    else if (p.kind === PHASE_PACK_ROWS) total += p.batch * p.m * p.k;
    else if (p.kind === PHASE_PACK_PANELS) total += p.batch * p.k * p.n;
    else if (p.kind === PHASE_LAYER_NORM || p.kind === PHASE_SOFTMAX) total += 8 * p.rows * (p.kind === PHASE_SOFTMAX ? p.cols : p.dim);
    else if (p.kind === PHASE_GELU) total += 20 * p.n;
    else if (p.kind === PHASE_SCALE) total += p.n;
    else if (p.kind === PHASE_MEAN_ROWS) total += p.batch * p.count * p.n;
    else if (p.kind === PHASE_ATTENTION_NONFINITE) total += 2 * p.batch * p.heads * p.seqK * (p.headDim + p.headDimV);
    else total += 2 * p.batch * p.heads * p.seqQ * p.seqK * (p.headDim + p.headDimV);
  }
  return total;
}

/** Runs a whole program on the calling thread (scratch slot 0). */
export function runInline(kernels: KernelExports, program: readonly Phase[]): void {
  for (const phase of program) {
    // A GEMV phase on one thread is one call over all its columns: columns are computed apart,
    // so the bits are those of the items, and the weights stay one unbroken stream (a GPT-2
    // small decode step, items of 64 (f32) / 128 (int8) columns against one call, alternated in one
    // generate: f32 22.2 → 21.3 ms, int8 8.5 → 8.0 ms).
    if (phase.kind === PHASE_GEMV_PACKED || phase.kind === PHASE_I8_GEMV) {
      runItem(kernels, { ...phase, colBlock: phase.n }, 0, 0);
      continue;
    }
    const n = itemCount(phase);
    for (let i = 0; i < n; i++) runItem(kernels, phase, i, 0);
  }
}
