// engine.softmax: torch.softmax(x·scale + mask, -1) over rows of `cols`.
//   x [rows, cols];  mask [rows, cols] or [cols] (one row for every row): a Uint8Array keeps
//   where 1 (masked entries get -inf added), a Float32Array is added;  y [rows, cols]
// A row whose every entry is masked, or −inf for another reason (in x, or x·scale), gives zeros
// (torch: NaN); NaN or +inf in a row makes it NaN.
import type { EngineTensor, SoftmaxOptions } from '../types.js';
import type { Arena } from '../wasm/arena.js';
import { softmaxPhase } from '../parallel/phases.js';
import { dim, elements, finiteF32, keysOf, options, typedArray } from '../validate.js';
import { rangeError, typeError } from '../errors.js';
import type { BuiltCall } from './attention.js';
import { collectOutput, outputLengths, placeOutput, planOutput, type OutputPlan } from './outputs.js';
import { placeInput, tensorInput, writeInput, type Input, type TensorRegistry } from './tensor.js';

const OP = 'softmax';
const OPTION_KEYS = keysOf<SoftmaxOptions>({ rows: true, cols: true, scale: true, mask: true, out: true });

export interface SoftmaxPlan {
  rows: number; cols: number; scale: number;
  x: Input;
  mask?: { data: Uint8Array | Float32Array; broadcast: boolean };
  out: OutputPlan;
}

export function planSoftmax(x: unknown, opts: unknown, tensors?: TensorRegistry): SoftmaxPlan {
  const o = options(OP, 'options', opts, false, OPTION_KEYS) as Partial<SoftmaxOptions>;
  const rows = dim(OP, 'options.rows', o.rows), cols = dim(OP, 'options.cols', o.cols);
  const length = elements(OP, 'x', rows, cols), shape = `rows·cols = ${rows}·${cols}`;
  const plan: SoftmaxPlan = {
    rows, cols, scale: finiteF32(OP, 'options.scale', o.scale, 1),
    x: tensorInput(OP, 'x', x, length, shape, tensors),
    out: planOutput(OP, o.out, length, shape, tensors),
  };
  if (o.mask !== undefined) {
    const data = typedArray(o.mask, 'Uint8Array', 'Float32Array');
    if (!data) throw typeError(OP, 'options.mask', 'a Uint8Array (1 = keep) or a Float32Array (added)', o.mask);
    if (data.length !== length && data.length !== cols) {
      throw rangeError(OP, 'options.mask', `has length ${data.length}, expected rows·cols = ${length} or cols = ${cols}`);
    }
    plan.mask = { data, broadcast: data.length !== length };
  }
  return plan;
}

export function buildSoftmax(arena: Arena, plan: SoftmaxPlan): BuiltCall<Float32Array | EngineTensor> {
  const { rows, cols, mask } = plan;
  const xPtr = placeInput(arena, plan.x, OP);
  const maskPtr = mask ? arena.place(mask.data.byteLength) : 0;
  const yPtr = placeOutput(arena, plan.out, OP);
  arena.commit();
  writeInput(arena, xPtr, plan.x);
  const isFloat = mask?.data instanceof Float32Array;
  if (mask) {
    if (isFloat) arena.writeF32(maskPtr, mask.data as Float32Array);
    else arena.writeU8(maskPtr, mask.data as Uint8Array);
  }
  const ld = mask && !mask.broadcast ? cols : 0;
  return {
    program: [softmaxPhase(rows, cols, xPtr, cols, plan.scale,
      isFloat ? maskPtr : 0, ld, mask && !isFloat ? maskPtr : 0, ld, yPtr, cols)],
    outputs: outputLengths(plan.out),
    collect: () => collectOutput(arena, plan.out, yPtr),
  };
}
