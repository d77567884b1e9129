// engine.gelu: F.gelu(x, approximate='none' | 'tanh'), elementwise over the whole input.
import type { EngineTensor, GeluOptions } from '../types.js';
import type { Arena } from '../wasm/arena.js';
import { geluPhase } from '../parallel/phases.js';
import { keysOf, options } from '../validate.js';
import { rangeError, typeError } from '../errors.js';
import { declaredLength } from '../typed-array.js';
import type { BuiltCall } from './attention.js';
import { collectOutput, outputLengths, placeOutput, planOutput, type OutputPlan } from './outputs.js';
import { placeInput, tensorInput, writeInput, type Input, type TensorRegistry } from './tensor.js';

const OP = 'gelu';
const OPTION_KEYS = keysOf<GeluOptions>({ approximate: true, out: true });

export interface GeluPlan { n: number; tanh: boolean; x: Input; out: OutputPlan }

/** 'none' (erf, the default) or 'tanh', as F.gelu's approximate. */
export function geluApproximate(op: string, name: string, value: unknown): boolean {
  if (value === undefined || value === 'none') return false;
  if (value === 'tanh') return true;
  throw typeError(op, name, "'none' or 'tanh'", value);
}

export function planGelu(x: unknown, opts: unknown, tensors?: TensorRegistry): GeluPlan {
  const o = options(OP, 'options', opts, true, OPTION_KEYS) as Partial<GeluOptions>;
  const tanh = geluApproximate(OP, 'options.approximate', o.approximate);
  const state = tensors?.get(x as EngineTensor);
  const given = state ? state.length : declaredLength(x);
  // torch takes an empty tensor; here, as every zero-size dimension, it is refused, by name.
  if (given === 0) throw rangeError(OP, 'x', 'is empty: gelu needs at least one element (zero-size tensors are refused)');
  const n = typeof given === 'number' && given > 0 ? given : 1;
  const input = tensorInput(OP, 'x', x, n, 'a non-empty tensor', tensors);
  return { n, tanh, x: input, out: planOutput(OP, o.out, n, 'the length of x', tensors) };
}

export function buildGelu(arena: Arena, plan: GeluPlan): BuiltCall<Float32Array | EngineTensor> {
  const xPtr = placeInput(arena, plan.x, OP);
  const yPtr = placeOutput(arena, plan.out, OP);
  arena.commit();
  writeInput(arena, xPtr, plan.x);
  return {
    program: [geluPhase(plan.n, xPtr, yPtr, plan.tanh)],
    outputs: outputLengths(plan.out),
    collect: () => collectOutput(arena, plan.out, yPtr),
  };
}
