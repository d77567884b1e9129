// engine.attention: F.scaled_dot_product_attention on [batch, heads, seq, dim] tensors.
// Validate everything, place inputs and outputs in the arena, run every (batch, head) slice,
// copy the results out.
import type { AttentionOptions, AttentionResult } from '../types.js';
import type { Arena } from '../wasm/arena.js';
import type { Phase } from '../parallel/phases.js';
import { SCRATCH_SLOT_STRIDE } from '../wasm/layout.js';
import { dim, elements, finiteF32, flag, keysOf, optionalDim, options, typedArray } from '../validate.js';
import { rangeError, typeError } from '../errors.js';
import { attachMask, attentionPhases, placeAttention, type SliceProblem } from './attention-slices.js';
import { placeInput, tensorInput, writeInput, type Input, type TensorRegistry } from './tensor.js';

const OP = 'attention';
const OPTION_KEYS = keysOf<AttentionOptions>({
  batch: true, heads: true, seqQ: true, seqK: true, headDim: true, headDimV: true, scale: true, causal: true,
  attnMask: true, validLens: true, returnWeights: true, kvCapacity: true,
});

/** A validated attention call. */
export interface AttentionPlan {
  batch: number;
  heads: number;
  seqQ: number;
  seqK: number;
  headDim: number;
  headDimV: number;
  scale: number;
  causal: boolean;
  returnWeights: boolean;
  /** Positions k and v hold per (batch, head); the first seqK are used. */
  kvCapacity: number;
  q: Input;
  k: Input;
  v: Input;
  /** The mask and whether it has one [seqQ, seqK] per (batch, head) slice. */
  mask?: { data: Uint8Array | Float32Array; perSlice: boolean };
  /** validLens and whether it has one length per query row. */
  validLens?: { data: Int32Array; perQuery: boolean };
}

/** Checks every argument of engine.attention; throws TypeError / RangeError naming it. `tensors`:
 * the engine's tensors, which q, k and v may be. */
export function planAttention(q: unknown, k: unknown, v: unknown, opts: unknown, tensors?: TensorRegistry): AttentionPlan {
  const o = options(OP, 'options', opts, false, OPTION_KEYS) as Partial<AttentionOptions>;
  const batch = dim(OP, 'options.batch', o.batch);
  const heads = dim(OP, 'options.heads', o.heads);
  const seqQ = dim(OP, 'options.seqQ', o.seqQ);
  const seqK = dim(OP, 'options.seqK', o.seqK);
  const headDim = dim(OP, 'options.headDim', o.headDim);
  const headDimV = optionalDim(OP, 'options.headDimV', o.headDimV, headDim);
  const scale = finiteF32(OP, 'options.scale', o.scale, 1 / Math.sqrt(headDim));
  const causal = flag(OP, 'options.causal', o.causal, false);
  const returnWeights = flag(OP, 'options.returnWeights', o.returnWeights, false);
  const kvCapacity = optionalDim(OP, 'options.kvCapacity', o.kvCapacity, seqK);
  if (kvCapacity < seqK) throw rangeError(OP, 'options.kvCapacity', `(${kvCapacity}) must be >= options.seqK (${seqK})`);
  const kvSeq = kvCapacity === seqK ? 'seqK' : 'kvCapacity';
  const plan: AttentionPlan = {
    batch, heads, seqQ, seqK, headDim, headDimV, scale, causal, returnWeights, kvCapacity,
    q: tensorInput(OP, 'q', q, elements(OP, 'q', batch, heads, seqQ, headDim),
      `batch·heads·seqQ·headDim = ${batch}·${heads}·${seqQ}·${headDim}`, tensors),
    k: tensorInput(OP, 'k', k, elements(OP, 'k', batch, heads, kvCapacity, headDim),
      `batch·heads·${kvSeq}·headDim = ${batch}·${heads}·${kvCapacity}·${headDim}`, tensors),
    v: tensorInput(OP, 'v', v, elements(OP, 'v', batch, heads, kvCapacity, headDimV),
      `batch·heads·${kvSeq}·headDimV = ${batch}·${heads}·${kvCapacity}·${headDimV}`, tensors),
  };
  if (returnWeights) elements(OP, 'weights', batch, heads, seqQ, seqK);

  if (o.attnMask !== undefined) {
    const mask = typedArray(o.attnMask, 'Uint8Array', 'Float32Array');
    if (mask === undefined) {
      throw typeError(OP, 'options.attnMask', 'a Uint8Array (1 = attend) or a Float32Array (added)', o.attnMask);
    }
    const len = mask.length;
    const plane = seqQ * seqK;
    if (len !== plane && len !== batch * heads * plane) {
      throw rangeError(OP, 'options.attnMask', `has length ${len}, expected seqQ·seqK = ${plane} ` +
        `or batch·heads·seqQ·seqK = ${batch * heads * plane}`);
    }
    plan.mask = { data: mask, perSlice: len !== plane };
  }

  if (o.validLens !== undefined) {
    const given = typedArray(o.validLens, 'Int32Array');
    if (given === undefined) throw typeError(OP, 'options.validLens', 'an Int32Array', o.validLens);
    const data = given.slice(); // checked here, read when the call runs: the caller's array may change
    if (data.length !== batch && data.length !== batch * seqQ) {
      throw rangeError(OP, 'options.validLens', `has length ${data.length}, expected batch = ${batch} ` +
        `or batch·seqQ = ${batch * seqQ}`);
    }
    for (let i = 0; i < data.length; i++) {
      if (data[i] < 0) throw rangeError(OP, `options.validLens[${i}]`, `is ${data[i]}, must be >= 0`);
    }
    plan.validLens = { data, perQuery: data.length !== batch };
  }
  return plan;
}

/** A call laid out in the arena: the program to run and how to read its result. */
export interface BuiltCall<T = AttentionResult> {
  program: Phase[];
  collect(): T;
  /** Element counts of the new arrays collect() copies out (arena.readF32): on a pool run the
   * calling thread makes them, pages faulted in, while the workers compute (Arena.prepareOutputs).
   * readF32 takes a prepared array by length alone, so collect() reads the declared arrays first. */
  outputs?: readonly number[];
}

/** Places a validated attention call in the arena (array inputs copied in, tensors read where
 * they are) for `threads` threads. */
export function buildAttention(arena: Arena, plan: AttentionPlan, threads: number): BuiltCall {
  const { batch, heads, seqQ, seqK, headDim, headDimV, kvCapacity: cap } = plan;
  const where = (x: Input): number => placeInput(arena, x, OP);
  const qPtr = where(plan.q);
  const kPtr = where(plan.k);
  const vPtr = where(plan.v);
  const outLength = batch * heads * seqQ * headDimV;
  const oPtr = arena.place(outLength * 4);
  const weightsLength = batch * heads * seqQ * seqK;
  const wPtr = plan.returnWeights ? arena.place(weightsLength * 4) : 0;
  const maskPtr = plan.mask ? arena.place(plan.mask.data.byteLength) : 0;
  const lensPtr = plan.validLens ? arena.place(plan.validLens.data.byteLength) : 0;
  const scratch = arena.place(threads * SCRATCH_SLOT_STRIDE, 128); // one slot per thread, no shared line
  const buffers = placeAttention(arena, { batch, heads, seqQ, seqK, headDimV }, plan.returnWeights,
    plan.causal || plan.validLens !== undefined);
  arena.commit();
  writeInput(arena, qPtr, plan.q);
  writeInput(arena, kPtr, plan.k);
  writeInput(arena, vPtr, plan.v);
  const p: SliceProblem = {
    batch, heads, seqQ, seqK, headDim, headDimV, scale: plan.scale, causal: plan.causal,
    q: { ptr: qPtr, batch: heads * seqQ * headDim, head: seqQ * headDim, row: headDim },
    k: { ptr: kPtr, batch: heads * cap * headDim, head: cap * headDim, row: headDim },
    v: { ptr: vPtr, batch: heads * cap * headDimV, head: cap * headDimV, row: headDimV },
    o: { ptr: oPtr, batch: heads * seqQ * headDimV, head: seqQ * headDimV, row: headDimV },
  };
  if (plan.mask) attachMask(arena, p, maskPtr, plan.mask.data, plan.mask.perSlice, false);
  if (plan.validLens) {
    arena.writeI32(lensPtr, plan.validLens.data);
    p.validLens = plan.validLens.perQuery
      ? { ptr: lensPtr, batch: seqQ, row: 1 }
      : { ptr: lensPtr, batch: 1, row: 0 };
  }
  if (wPtr !== 0) p.weights = { ptr: wPtr, batch: heads * seqQ * seqK, head: seqQ * seqK, row: seqK };

  return {
    program: attentionPhases(p, scratch, buffers),
    outputs: wPtr !== 0 ? [outLength, weightsLength] : [outLength],
    collect() {
      const result: AttentionResult = { output: arena.readF32(oPtr, outLength) };
      if (wPtr !== 0) result.weights = arena.readF32(wPtr, weightsLength);
      return result;
    },
  };
}
