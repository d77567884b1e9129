// One attention problem as strided views into the arena, turned into an attention phase.
// Both the attention op ([batch, heads, seq, dim] tensors) and multi-head attention (heads as
// column ranges of [batch, seq, embed] rows, written in place into the concatenated output)
// describe their problem this way.
import {
  PHASE_ATTENTION, PHASE_ATTENTION_COMBINE, PHASE_ATTENTION_DECODE, PHASE_ATTENTION_NONFINITE, type AttentionPhase,
  type Phase,
} from '../parallel/phases.js';
import { ATTENTION_KEY_BLOCK, ATTENTION_QUERY_CHUNK, ATTENTION_SCRATCH_BYTES, SCRATCH_SLOT_STRIDE } from '../wasm/layout.js';
import type { Arena } from '../wasm/arena.js';
import { isArrayOf } from '../validate.js';

/** A view: `ptr` is a byte address, the strides are in ELEMENTS of the view's type. */
export interface StridedView {
  ptr: number;
  /** Elements between consecutive batch entries. */
  batch: number;
  /** Elements between consecutive heads (0: shared by every head). */
  head: number;
  /** Elements between consecutive rows (0: one row for every query). */
  row: number;
}

export interface SliceProblem {
  batch: number;
  heads: number;
  seqQ: number;
  seqK: number;
  headDim: number;
  headDimV: number;
  scale: number;
  causal: boolean;
  q: StridedView; // f32 rows of headDim
  k: StridedView; // f32 rows of headDim
  v: StridedView; // f32 rows of headDimV
  o: StridedView; // f32 rows of headDimV (output)
  addMask?: StridedView;                        // f32, added
  boolMask?: StridedView & { invert: boolean }; // u8
  keyMask?: { ptr: number; batch: number; invert: boolean }; // u8 [seqK] per batch entry
  validLens?: { ptr: number; batch: number; row: number };   // i32
  weights?: StridedView;                        // f32 [seqQ, seqK] per slice (output)
}

/** Writes an attention mask ([seqQ, seqK], or one per (batch, head) slice when `perSlice`) to
 * `ptr` and attaches it to the problem: a Float32Array is added, a Uint8Array is boolean with
 * non-zero = attend (`invert` false, SDPA) or non-zero = masked (`invert` true, MultiheadAttention). */
export function attachMask(
  arena: Arena, p: SliceProblem, ptr: number, data: Uint8Array | Float32Array, perSlice: boolean, invert: boolean,
): void {
  const plane = p.seqQ * p.seqK;
  const view = { ptr, row: p.seqK, batch: perSlice ? p.heads * plane : 0, head: perSlice ? plane : 0 };
  if (isArrayOf(data, 'Float32Array')) {
    arena.writeF32(ptr, data as Float32Array);
    p.addMask = view;
  } else {
    arena.writeU8(ptr, data as Uint8Array);
    p.boolMask = { ...view, invert };
  }
}

/** Query rows per work item: the kernel's query chunk (rows that share each key block); one
 * head of 128 rows or more still splits across threads. */
export const QUERY_BLOCK = ATTENTION_QUERY_CHUNK;

/** Keys per part when a long attention over few query blocks is split along the keys (decode):
 * a multiple of the kernel's key block. */
export const KEY_CHUNK = 4 * ATTENTION_KEY_BLOCK;
/** Split keys when there are fewer (batch, head, query block) items than this (decode over 12
 * heads is 12 items)... */
export const SPLIT_BELOW_ITEMS = 16;
/** ...and at least this many keys. */
export const SPLIT_MIN_KEYS = 2 * KEY_CHUNK;

const NONE: StridedView = { ptr: 0, batch: 0, head: 0, row: 0 };

/** The sizes that decide the split of a problem's work. */
export type ProblemShape = Pick<SliceProblem, 'batch' | 'heads' | 'seqQ' | 'seqK' | 'headDimV'>;

/** Whether (and into how many parts) a problem's keys are split. Depends on the problem only,
 * never on the thread count, so results are the same bits for any number of threads; never when
 * the normalised weights are wanted (they need the whole row in one pass). */
export function keyParts(s: ProblemShape, withWeights: boolean): number {
  const items = s.batch * s.heads * Math.ceil(s.seqQ / QUERY_BLOCK);
  if (withWeights || items >= SPLIT_BELOW_ITEMS || s.seqK < SPLIT_MIN_KEYS) return 1;
  return Math.ceil(s.seqK / KEY_CHUNK);
}

/** Keys per part of the all-heads decode kernel (f32_attention_decode): one item is a batch
 * entry's part, every head; 513 keys are 5 parts, which two threads share as 257 + 256 keys. */
export const DECODE_KEY_CHUNK = 128;

/** Scratch the decode kernel uses for a part of DECODE_KEY_CHUNK keys: per head its S/P row, O
 * row and l (f32). */
export function decodeScratchBytes(heads: number, headDimV: number): number {
  return heads * (DECODE_KEY_CHUNK + 1 + headDimV) * 4;
}

/** Key parts of a problem on the all-heads decode path (one query row, no weights, its rows in
 * one scratch slot), or 0 when its shape cannot take that path. Depends on the problem only. */
export function decodeParts(s: ProblemShape, withWeights: boolean): number {
  if (s.seqQ !== 1 || withWeights || decodeScratchBytes(s.heads, s.headDimV) > ATTENTION_SCRATCH_BYTES) return 0;
  return Math.ceil(s.seqK / DECODE_KEY_CHUNK);
}

/** Whether a problem runs on the all-heads decode kernel: one query row, no weights, masks
 * shared by every head (a float mask with head stride 0, per-key padding flags), nothing that
 * limits keys per query, and the heads of each K and V row side by side in it (the cache of
 * multi-head attention and GPT-2), which that kernel reads a whole row at a time. Heads that
 * are separate blocks ([batch, heads, seq, dim]) keep the per-head kernel: each head is then
 * one contiguous stream already. */
export function takesDecodePath(p: SliceProblem): boolean {
  return decodeParts(p, p.weights !== undefined) > 0 && !p.causal && !p.boolMask && !p.validLens
    && (!p.addMask || p.addMask.head === 0)
    && p.heads > 1 && p.k.head < p.k.row && p.v.head < p.v.row;
}

/** Where a key-split problem keeps its parts: unnormalised O [batch·heads, parts, seqQ, headDimV]
 * and (m, l) [batch·heads, parts, seqQ, 2]. */
export interface KeySplit {
  parts: number;
  partPtr: number;
  statsPtr: number;
}

/** The buffers of an attention problem besides its inputs and outputs. */
export interface AttentionBuffers {
  /** The part buffers, when the keys are split (per-head kernel). */
  split?: KeySplit;
  /** The same buffers as the decode kernel splits the keys, when it splits them. */
  decodeSplit?: KeySplit;
  /** i32 [batch·heads] allKeys flags (0: the problem never skips keys, so it needs none). */
  allKeys: number;
}

/** Places the part buffers when the keys are split (sized for whichever kernel splits them into
 * more parts: the path is chosen with the masks, in attentionPhases), and the allKeys flags when
 * some keys may be skipped (`skipsKeys`: causal, validLens, key padding turned into a bound),
 * with the call's other buffers, before the arena is committed. */
export function placeAttention(
  arena: Arena, s: ProblemShape, withWeights: boolean, skipsKeys: boolean,
): AttentionBuffers {
  const parts = keyParts(s, withWeights), dParts = decodeParts(s, withWeights);
  const most = Math.max(parts, dParts);
  const rows = s.batch * s.heads * most * s.seqQ;
  const at = most <= 1 ? undefined : { partPtr: arena.place(rows * s.headDimV * 4), statsPtr: arena.place(rows * 2 * 4) };
  return {
    split: at && parts > 1 ? { parts, ...at } : undefined,
    decodeSplit: at && dParts > 1 ? { parts: dParts, ...at } : undefined,
    allKeys: skipsKeys ? arena.place(s.batch * s.heads * 4) : 0,
  };
}

/** The phases of a problem: on the all-heads decode kernel when it takes that path (then its
 * parts' combine); else the non-finite scan when keys may be skipped, then one attention phase,
 * or the key-split parts then their combine; `scratch` holds one kernel scratch slot per
 * thread. The scan costs one read of K and V per slice; it lets the attention skip masked key
 * blocks and still give torch's NaN where a skipped key holds one. */
export function attentionPhases(p: SliceProblem, scratch: number, buffers: AttentionBuffers): Phase[] {
  const phase = attentionPhase(p, scratch);
  // The decode kernel needs its part buffers when it splits the keys (a part holds at most
  // DECODE_KEY_CHUNK keys in the scratch slot); buffers placed for another shape fall back to
  // the per-head kernel, which runs with or without its own split.
  const dParts = decodeParts(p, false);
  if (takesDecodePath(p) && (dParts === 1 || buffers.decodeSplit?.parts === dParts)) {
    const split = buffers.decodeSplit;
    const decode: Phase = {
      ...phase, kind: PHASE_ATTENTION_DECODE, kParts: split?.parts ?? 1, kChunk: DECODE_KEY_CHUNK,
      partPtr: split?.partPtr ?? 0, statsPtr: split?.statsPtr ?? 0,
    };
    return split ? [decode, { ...decode, kind: PHASE_ATTENTION_COMBINE }] : [decode];
  }
  phase.allKeysPtr = buffers.allKeys;
  const program: Phase[] = buffers.allKeys === 0 ? [] : [{ ...phase, kind: PHASE_ATTENTION_NONFINITE }];
  const { split } = buffers;
  if (!split) return [...program, phase];
  phase.kParts = split.parts;
  phase.kChunk = KEY_CHUNK;
  phase.partPtr = split.partPtr;
  phase.statsPtr = split.statsPtr;
  return [...program, phase, { ...phase, kind: PHASE_ATTENTION_COMBINE }];
}

/** The fields of a phase from attentionPhases that hold the key count seqK: seqK itself, and
 * kChunk of a phase whose keys are one part (attentionPhase's, and the non-finite scan's copy
 * of it); the decode kernel's and a key split's parts are DECODE_KEY_CHUNK / KEY_CHUNK keys.
 * Every other field is fixed by the buffers placed for the problem (placeAttention: their part
 * counts), so a caller that keeps a program while its keys grow within the same parts (GPT-2's
 * decode steps) updates only these. */
export function keyCountFields(phase: Phase): ('seqK' | 'kChunk')[] {
  if (phase.kind !== PHASE_ATTENTION && phase.kind !== PHASE_ATTENTION_NONFINITE && phase.kind !== PHASE_ATTENTION_COMBINE
    && phase.kind !== PHASE_ATTENTION_DECODE) return [];
  return phase.kind !== PHASE_ATTENTION_DECODE && phase.kParts === 1 ? ['seqK', 'kChunk'] : ['seqK'];
}

/** The (unsplit) attention phase of a problem. */
export function attentionPhase(p: SliceProblem, scratch: number): AttentionPhase {
  const add = p.addMask ?? NONE, bool = p.boolMask ?? NONE, w = p.weights ?? NONE;
  return {
    kind: PHASE_ATTENTION,
    batch: p.batch, heads: p.heads, seqQ: p.seqQ, seqK: p.seqK, headDim: p.headDim, headDimV: p.headDimV,
    scale: p.scale, causal: p.causal ? 1 : 0,
    qPtr: p.q.ptr, qBatch: p.q.batch, qHead: p.q.head, qRow: p.q.row,
    kPtr: p.k.ptr, kBatch: p.k.batch, kHead: p.k.head, kRow: p.k.row,
    vPtr: p.v.ptr, vBatch: p.v.batch, vHead: p.v.head, vRow: p.v.row,
    oPtr: p.o.ptr, oBatch: p.o.batch, oHead: p.o.head, oRow: p.o.row,
    addPtr: add.ptr, addBatch: add.batch, addHead: add.head, addRow: add.row,
    boolPtr: bool.ptr, boolBatch: bool.batch, boolHead: bool.head, boolRow: bool.row,
    boolInvert: p.boolMask?.invert ? 1 : 0,
    keyPtr: p.keyMask?.ptr ?? 0, keyBatch: p.keyMask?.batch ?? 0, keyInvert: p.keyMask?.invert ? 1 : 0,
    lensPtr: p.validLens?.ptr ?? 0, lensBatch: p.validLens?.batch ?? 0, lensRow: p.validLens?.row ?? 0,
    wPtr: w.ptr, wBatch: w.batch, wHead: w.head, wRow: w.row,
    qBlock: QUERY_BLOCK, scratch, scratchBytes: SCRATCH_SLOT_STRIDE,
    kParts: 1, kChunk: p.seqK, partPtr: 0, statsPtr: 0, allKeysPtr: 0,
  };
}
