// engine.layerNorm: F.layer_norm(x + residual, [dim], weight, bias, eps) over rows of `dim`.
//   x, residual [rows, dim];  weight, bias [dim];  y [rows, dim]
import type { EngineTensor, LayerNormOptions } from '../types.js';
import type { Arena } from '../wasm/arena.js';
import { layerNormPhase } from '../parallel/phases.js';
import { dim, elements, keysOf, options } from '../validate.js';
import { rangeError, typeError } from '../errors.js';
import type { BuiltCall } from './attention.js';
import { collectOutput, outputLengths, placeOutput, planOutput, type OutputPlan } from './outputs.js';
import { placeInput, tensorInput, writeInput, type Input, type TensorRegistry } from './tensor.js';

const OP = 'layerNorm';
const OPTION_KEYS = keysOf<LayerNormOptions>({ rows: true, dim: true, weight: true, bias: true, eps: true, residual: true, out: true });

/** torch's default LayerNorm eps. */
export const LAYER_NORM_EPS = 1e-5;

/** An eps: a finite number >= 0 (`fallback` when undefined). torch takes 0 too (a constant row
 * then gives NaN, in torch as here); a negative eps is refused, as it can make the variance term
 * negative. */
export function epsilon(op: string, name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number') throw typeError(op, name, 'a finite number >= 0', value);
  if (!(value >= 0) || !Number.isFinite(value)) throw rangeError(op, name, `must be a finite number >= 0, got ${value}`);
  return value;
}

export interface LayerNormPlan {
  rows: number; dim: number; eps: number;
  x: Input; residual?: Input; weight?: Input; bias?: Input;
  out: OutputPlan;
}

export function planLayerNorm(x: unknown, opts: unknown, tensors?: TensorRegistry): LayerNormPlan {
  const o = options(OP, 'options', opts, false, OPTION_KEYS) as Partial<LayerNormOptions>;
  const rows = dim(OP, 'options.rows', o.rows), d = dim(OP, 'options.dim', o.dim);
  const length = elements(OP, 'x', rows, d), shape = `rows·dim = ${rows}·${d}`;
  const plan: LayerNormPlan = {
    rows, dim: d, eps: epsilon(OP, 'options.eps', o.eps, LAYER_NORM_EPS),
    x: tensorInput(OP, 'x', x, length, shape, tensors),
    out: planOutput(OP, o.out, length, shape, tensors),
  };
  if (o.residual !== undefined) plan.residual = tensorInput(OP, 'options.residual', o.residual, length, shape, tensors);
  if (o.weight !== undefined) plan.weight = tensorInput(OP, 'options.weight', o.weight, d, `dim = ${d}`, tensors);
  if (o.bias !== undefined) plan.bias = tensorInput(OP, 'options.bias', o.bias, d, `dim = ${d}`, tensors);
  const out = plan.out.state;
  if (out && (out === plan.weight || out === plan.bias)) {
    throw rangeError(OP, 'options.out', 'is also options.weight or options.bias, which every row reads');
  }
  return plan;
}

export function buildLayerNorm(arena: Arena, plan: LayerNormPlan): BuiltCall<Float32Array | EngineTensor> {
  const { rows, dim: d } = plan;
  const xPtr = placeInput(arena, plan.x, OP);
  const rPtr = plan.residual ? placeInput(arena, plan.residual, OP) : 0;
  const wPtr = plan.weight ? placeInput(arena, plan.weight, OP) : 0;
  const bPtr = plan.bias ? placeInput(arena, plan.bias, OP) : 0;
  const yPtr = placeOutput(arena, plan.out, OP);
  arena.commit();
  writeInput(arena, xPtr, plan.x);
  if (plan.residual) writeInput(arena, rPtr, plan.residual);
  if (plan.weight) writeInput(arena, wPtr, plan.weight);
  if (plan.bias) writeInput(arena, bPtr, plan.bias);
  return {
    program: [layerNormPhase(rows, d, xPtr, d, rPtr, d, wPtr, bPtr, plan.eps, yPtr, d)],
    outputs: outputLengths(plan.out),
    collect: () => collectOutput(arena, plan.out, yPtr),
  };
}
