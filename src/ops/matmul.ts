// engine.matmul: C = alpha·A·B (A·Bᵀ with transB) + bias, batched like torch.bmm.
//   A [batch, m, k];  B [batch, k, n] ([batch, n, k] with transB), or one B for every batch
//   entry ([k, n] / [n, k], as a weight);  bias [n];  C [batch, m, n]
// A is packed into GEMM strips and B into panels in phases of their own, then every C tile of
// every batch entry is a work item. alpha scales the packed B panels (exact for powers of two;
// otherwise alpha·b rounds once per element of B, where torch rounds alpha·(A·B)).
import type { EngineTensor, MatmulOptions } from '../types.js';
import type { Arena } from '../wasm/arena.js';
import {
  gemmPackedPhase, packedPanelsLength, packedRowsLength, packPanelsPhase, packRowsPhase, scalePhase, type Phase,
} from '../parallel/phases.js';
import { dim, elements, finiteF32, flag, keysOf, optionalDim, options } from '../validate.js';
import { rangeError } from '../errors.js';
import { declaredLength } from '../typed-array.js';
import type { BuiltCall } from './attention.js';
import { collectOutput, outputLengths, placeOutput, planOutput, type OutputPlan } from './outputs.js';
import { isTensor, placeInput, tensorInput, writeInput, type Input, type TensorRegistry } from './tensor.js';

const OP = 'matmul';
const OPTION_KEYS = keysOf<MatmulOptions>({ m: true, k: true, n: true, batch: true, transB: true, alpha: true, bias: true, out: true });

export interface MatmulPlan {
  batch: number; m: number; k: number; n: number;
  transB: boolean; alpha: number;
  a: Input; b: Input; bias?: Input;
  /** One B for every batch entry. */
  bShared: boolean;
  out: OutputPlan;
}

export function planMatmul(a: unknown, b: unknown, opts: unknown, tensors?: TensorRegistry): MatmulPlan {
  const o = options(OP, 'options', opts, false, OPTION_KEYS) as Partial<MatmulOptions>;
  const m = dim(OP, 'options.m', o.m), k = dim(OP, 'options.k', o.k), n = dim(OP, 'options.n', o.n);
  const batch = optionalDim(OP, 'options.batch', o.batch, 1);
  const transB = flag(OP, 'options.transB', o.transB, false);
  const alpha = finiteF32(OP, 'options.alpha', o.alpha, 1);
  const bNames = transB ? 'n·k' : 'k·n', bValues = transB ? `${n}·${k}` : `${k}·${n}`;
  const bDims = `${bNames} = ${bValues}`, bBatchDims = `batch·${bNames} = ${batch}·${bValues}`;
  const bLength = elements(OP, 'b', k, n);
  const bGiven = declaredLength(b);
  // B of one matrix is shared by every batch entry; else one per entry.
  const bShared = batch === 1 || bGiven === bLength;
  const bBatched = elements(OP, 'b', batch, k, n);
  if (batch > 1 && typeof bGiven === 'number' && bGiven !== bLength && bGiven !== bBatched) {
    throw rangeError(OP, 'b', `has length ${bGiven}, expected ${bDims} = ${bLength} (one B for every batch entry) ` +
      `or ${bBatchDims} = ${bBatched} (one per entry)`);
  }
  const plan: MatmulPlan = {
    batch, m, k, n, transB, alpha, bShared,
    a: tensorInput(OP, 'a', a, elements(OP, 'a', batch, m, k), `batch·m·k = ${batch}·${m}·${k}`, tensors),
    b: tensorInput(OP, 'b', b, bShared ? bLength : bBatched, bShared ? bDims : bBatchDims, tensors),
    out: planOutput(OP, o.out, elements(OP, 'output', batch, m, n), `batch·m·n = ${batch}·${m}·${n}`, tensors),
  };
  if (o.bias !== undefined) plan.bias = tensorInput(OP, 'options.bias', o.bias, n, `n = ${n}`, tensors);
  if (plan.out.state && (plan.out.state === plan.bias)) {
    throw rangeError(OP, 'options.out', 'is also options.bias; the bias is read by every tile of the output');
  }
  return plan;
}

/** The phases of C = alpha·A·op(B) + bias once A (aPtr) and B (bPtr) are in memory: pack A's
 * strips and B's panels into `strips` / `panels`, scale the panels by alpha, then the GEMM. */
export function matmulPhases(
  p: Pick<MatmulPlan, 'batch' | 'm' | 'k' | 'n' | 'transB' | 'alpha' | 'bShared'>,
  aPtr: number, bPtr: number, biasPtr: number, strips: number, panels: number, cPtr: number,
): Phase[] {
  const { batch, m, k, n } = p;
  const stripsLength = packedRowsLength(m, k), panelsLength = packedPanelsLength(k, n);
  const bBatch = p.bShared ? 1 : batch;
  const program: Phase[] = [
    packRowsPhase(m, k, aPtr, k, strips, batch, m * k, stripsLength),
    packPanelsPhase(k, n, bPtr, p.transB ? k : n, panels, p.transB, bBatch, k * n, panelsLength),
  ];
  if (p.alpha !== 1) program.push(scalePhase(bBatch * panelsLength, panels, panels, p.alpha));
  program.push(gemmPackedPhase(m, n, k, strips, panels, biasPtr, cPtr, n, {
    batch, apBatch: stripsLength, bpBatch: p.bShared ? 0 : panelsLength, cBatch: m * n,
  }));
  return program;
}

export function buildMatmul(arena: Arena, plan: MatmulPlan): BuiltCall<Float32Array | EngineTensor> {
  const { batch, m, k, n } = plan;
  const aPtr = placeInput(arena, plan.a, OP);
  const bPtr = plan.b === plan.a && !isTensor(plan.a) ? aPtr : placeInput(arena, plan.b, OP);
  const biasPtr = plan.bias ? placeInput(arena, plan.bias, OP) : 0;
  const strips = arena.place(batch * packedRowsLength(m, k) * 4);
  const panels = arena.place((plan.bShared ? 1 : batch) * packedPanelsLength(k, n) * 4);
  const cPtr = placeOutput(arena, plan.out, OP);
  arena.commit();
  writeInput(arena, aPtr, plan.a);
  if (bPtr !== aPtr) writeInput(arena, bPtr, plan.b);
  if (plan.bias) writeInput(arena, biasPtr, plan.bias);
  return {
    program: matmulPhases(plan, aPtr, bPtr, biasPtr, strips, panels, cPtr),
    outputs: outputLengths(plan.out),
    collect: () => collectOutput(arena, plan.out, cPtr),
  };
}
