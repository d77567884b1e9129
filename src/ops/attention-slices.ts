// The description of one attention problem as strided views into the arena, and the call
// of the fused kernel for one work item: a (batch, head) slice and a range of its query
// rows. Both the attention op ([batch, heads, seq, dim] tensors) and multi-head attention
// (heads as column ranges of [batch, seq, embed] rows, written in place into the
// concatenated output) are expressed this way; the worker pool splits the same items.
import type { KernelExports } from '../wasm/abi.js';

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

function at(view: StridedView, b: number, h: number, bytesPerElement: number): number {
  return view.ptr + (b * view.batch + h * view.head) * bytesPerElement;
}

/** Runs query rows q0..q1 of slice (b, h) with the given scratch slot. */
export function runSlice(
  kernels: KernelExports, p: SliceProblem, b: number, h: number, q0: number, q1: number, scratch: number,
): void {
  const { addMask, boolMask, keyMask, validLens, weights } = p;
  kernels.f32_attention(
    at(p.q, b, h, 4), p.q.row,
    at(p.k, b, h, 4), p.k.row,
    at(p.v, b, h, 4), p.v.row,
    at(p.o, b, h, 4), p.o.row,
    p.headDim, p.headDimV, q0, q1, 0, p.seqK, p.scale, p.causal ? 1 : 0,
    addMask ? at(addMask, b, h, 4) : 0, addMask ? addMask.row : 0,
    boolMask ? at(boolMask, b, h, 1) : 0, boolMask ? boolMask.row : 0, boolMask?.invert ? 1 : 0,
    keyMask ? keyMask.ptr + b * keyMask.batch : 0, keyMask?.invert ? 1 : 0,
    validLens ? validLens.ptr + b * validLens.batch * 4 : 0, validLens ? validLens.row : 0,
    weights ? at(weights, b, h, 4) : 0, weights ? weights.row : 0,
    scratch,
  );
}

/** Runs every slice on the calling thread. */
export function runAllSlices(kernels: KernelExports, p: SliceProblem, scratch: number): void {
  for (let b = 0; b < p.batch; b++) {
    for (let h = 0; h < p.heads; h++) runSlice(kernels, p, b, h, 0, p.seqQ, scratch);
  }
}
