// A call is a program: a list of phases, each a kernel applied to `items` independent work
// items that write disjoint outputs. Items are decoded from their index alone (ggml's ith/nth),
// and how a phase is cut into items depends only on the problem, never on the thread count,
// so every element is computed by the same kernel path in the same order: threads 1, 2, 3
// give identical bits. The inline executor and every worker run items through runItem.
import type { KernelExports } from '../wasm/abi.js';
import { GEMM_PANEL_COLS, GEMM_STRIP_ROWS } from '../wasm/layout.js';

export const PHASE_GEMM_PACKED = 1;
export const PHASE_ATTENTION = 2;
export const PHASE_MEAN_ROWS = 3;
export const PHASE_ATTENTION_COMBINE = 4;
export const PHASE_PACK_ROWS = 5;
export const PHASE_ATTENTION_NONFINITE = 6;

/** A[m, k] (row stride lda) packed into GEMM strips at ap, cut into stripBlock strips. */
export interface PackRowsPhase {
  kind: typeof PHASE_PACK_ROWS;
  m: number; k: number; a: number; lda: number; ap: number;
  stripBlock: number;
}

/** C[m, n] = A·B + bias from packed A strips (ap) and B panels (bp), cut into rowBlock ×
 * colBlock tiles of C. */
export interface GemmPackedPhase {
  kind: typeof PHASE_GEMM_PACKED;
  m: number; n: number; k: number;
  ap: number; bp: number; bias: number; c: number; ldc: number;
  rowBlock: number; // multiple of GEMM_STRIP_ROWS
  colBlock: number; // multiple of GEMM_PANEL_COLS
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

export type Phase =
  PackRowsPhase | GemmPackedPhase | AttentionPhase | AttentionCombinePhase | AttentionNonFinitePhase | MeanRowsPhase;

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
  [PHASE_PACK_ROWS]: ['m', 'k', 'a', 'lda', 'ap', 'stripBlock'],
  [PHASE_GEMM_PACKED]: ['m', 'n', 'k', 'ap', 'bp', 'bias', 'c', 'ldc', 'rowBlock', 'colBlock'],
  [PHASE_ATTENTION]: ATTENTION_FIELDS,
  [PHASE_ATTENTION_COMBINE]: ATTENTION_FIELDS,
  [PHASE_ATTENTION_NONFINITE]: ATTENTION_FIELDS,
  [PHASE_MEAN_ROWS]: ['batch', 'count', 'n', 'x', 'xBatch', 'stride', 'y', 'yBatch', 'colBlock'],
};

const ceilDiv = (a: number, b: number): number => Math.floor((a + b - 1) / b);

/** Number of work items of a phase. */
export function itemCount(p: Phase): number {
  switch (p.kind) {
    case PHASE_PACK_ROWS: return ceilDiv(ceilDiv(p.m, GEMM_STRIP_ROWS), p.stripBlock);
    case PHASE_GEMM_PACKED: return ceilDiv(p.m, p.rowBlock) * ceilDiv(p.n, p.colBlock);
    case PHASE_ATTENTION: return p.batch * p.heads * ceilDiv(p.seqQ, p.qBlock) * p.kParts;
    case PHASE_ATTENTION_COMBINE: return p.batch * p.heads * ceilDiv(p.seqQ, p.qBlock);
    case PHASE_ATTENTION_NONFINITE: return p.batch * p.heads;
    case PHASE_MEAN_ROWS: return p.batch * ceilDiv(p.n, p.colBlock);
  }
}

/** Runs item `i` of phase `p`; `slot` picks the caller's scratch slot (its thread index). */
export function runItem(kernels: KernelExports, p: Phase, i: number, slot: number): void {
  switch (p.kind) {
    case PHASE_PACK_ROWS: {
      const s0 = i * p.stripBlock;
      kernels.f32_pack_rows(p.m, p.k, p.a, p.lda, p.ap, s0, Math.min(ceilDiv(p.m, GEMM_STRIP_ROWS), s0 + p.stripBlock));
      return;
    }
    case PHASE_GEMM_PACKED: {
      const colBlocks = ceilDiv(p.n, p.colBlock);
      const r0 = Math.floor(i / colBlocks) * p.rowBlock, c0 = (i % colBlocks) * p.colBlock;
      kernels.f32_gemm_packed(
        Math.min(p.rowBlock, p.m - r0), Math.min(p.colBlock, p.n - c0), p.k,
        p.ap + r0 * p.k * 4, p.bp + c0 * p.k * 4, p.bias === 0 ? 0 : p.bias + c0 * 4,
        p.c + (r0 * p.ldc + c0) * 4, p.ldc, 0, 0, 0);
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
    case PHASE_ATTENTION_NONFINITE: {
      const b = Math.floor(i / p.heads), h = i % p.heads;
      kernels.f32_attention_nonfinite(p.kPtr + (b * p.kBatch + h * p.kHead) * 4, p.kRow, p.headDim,
        p.vPtr + (b * p.vBatch + h * p.vHead) * 4, p.vRow, p.headDimV, p.seqQ, p.seqK, p.causal,
        p.lensPtr === 0 ? 0 : p.lensPtr + b * p.lensBatch * 4, p.lensRow, p.allKeysPtr + i * 4);
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

export function packRowsPhase(m: number, k: number, a: number, lda: number, ap: number): PackRowsPhase {
  return { kind: PHASE_PACK_ROWS, m, k, a, lda, ap, stripBlock: PACK_STRIP_BLOCK };
}

export function gemmPackedPhase(
  m: number, n: number, k: number, ap: number, bp: number, bias: number, c: number, ldc: number,
): GemmPackedPhase {
  return { kind: PHASE_GEMM_PACKED, m, n, k, ap, bp, bias, c, ldc, rowBlock: gemmRowBlock(k), colBlock: GEMM_COL_BLOCK };
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
    if (p.kind === PHASE_GEMM_PACKED) total += 2 * p.m * p.n * p.k;
    else if (p.kind === PHASE_PACK_ROWS) total += p.m * p.k;
    else if (p.kind === PHASE_MEAN_ROWS) total += p.batch * p.count * p.n;
    else if (p.kind === PHASE_ATTENTION_NONFINITE) total += 2 * p.batch * p.heads * p.seqK * (p.headDim + p.headDimV);
    else total += 2 * p.batch * p.heads * p.seqQ * p.seqK * (p.headDim + p.headDimV);
  }
  return total;
}

/** Runs a whole program on the calling thread (scratch slot 0). */
export function runInline(kernels: KernelExports, program: readonly Phase[]): void {
  for (const phase of program) {
    const n = itemCount(phase);
    for (let i = 0; i < n; i++) runItem(kernels, phase, i, 0);
  }
}
