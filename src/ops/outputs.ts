// What an op gives back: a new Float32Array copied out of the arena, or — with `options.out` —
// the engine tensor the result was written into, so a chain of ops never leaves the engine.
import type { EngineTensor } from '../types.js';
import type { Arena } from '../wasm/arena.js';
import type { TensorRegistry } from './tensor.js';
import { resident, tensorOutput, type TensorState } from './tensor.js';

/** A checked `options.out` (or none) for a result of `length` elements. */
export interface OutputPlan {
  length: number;
  handle?: EngineTensor;
  state?: TensorState;
}

export function planOutput(op: string, value: unknown, length: number, shape: string, tensors?: TensorRegistry): OutputPlan {
  const state = tensorOutput(op, value, length, shape, tensors);
  return state ? { length, handle: value as EngineTensor, state } : { length };
}

/** Where the result goes: the tensor's block, or a buffer placed for the copy out. */
export function placeOutput(arena: Arena, out: OutputPlan, op: string): number {
  return out.state ? resident(out.state, op) : arena.place(out.length * 4);
}

/** The new array collect() makes (none for a tensor): BuiltCall.outputs. */
export function outputLengths(out: OutputPlan): number[] {
  return out.handle ? [] : [out.length];
}

/** The result after the run: the tensor handle, or a copy of the placed buffer. */
export function collectOutput(arena: Arena, out: OutputPlan, ptr: number): Float32Array | EngineTensor {
  return out.handle ?? arena.readF32(ptr, out.length);
}
