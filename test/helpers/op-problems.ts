// Random problems for the public ops and modules, for the differential suite
// (test/parallel/ops-differential.test.ts): engine.matmul, softmax, layerNorm, gelu, linear
// (f32), transformerEncoderLayer, transformerDecoderLayer, transformer, and multiHeadAttention
// with quantize: 'int8'. As in problems.ts, a problem is a small JSON description (shapes,
// options and a data seed) drawn from its own stream, seeded by (run seed, index); its inputs,
// its float64 reference and its tolerance all derive from the description, so a shrunk
// description is a new, valid problem.
import type { Engine, EngineTensor, TensorLike } from '../../dist/index.js';
import { gelu as geluRef, geluTanh as geluTanhRef, relu } from '../reference/activation.js';
import { referenceGemm, referenceLinear, type BiasFn, type MaskFn } from '../reference/attention.js';
import { referenceLayerNorm } from '../reference/layer-norm.js';
import { referenceMha, type RefMha } from '../reference/multi-head-attention.js';
import { i8Gemm, quantizeRows, quantizeWeight } from '../reference/i8-gemm.js';
import { referenceSoftmaxScaled } from '../reference/softmax.js';
import { I8_GEMM_A_MAX as I8_A_MAX } from '../../src/wasm/layout.js';
import {
  attnMask, boolMask, DIM_EDGES, Draw, drawMha, fitting as fitAll, floatMask, maskAt, mhaInputs, mhaReference, problemCost, problemName,
  problemSeed, SEQ_EDGES, shrinkCandidates, smaller, ULP, uniform, type MaskKind, type MhaProblem,
} from './problems.js';

/** How an input reaches the engine: a Float32Array (copied in) or an engine tensor (in place). */
type Where = 'array' | 'tensor';
/** Where the result goes: a new array, a separate tensor (`out`), or in place on an input tensor. */
type Out = 'none' | 'tensor' | 'inplace';
/** A key padding mask: none, Uint8Array (non-zero = ignore) or Float32Array (added). */
type PadKind = 'none' | 'bool' | 'float';

export interface MatmulProblem {
  op: 'matmul'; seed: number;
  batch: number; m: number; k: number; n: number;
  transB: boolean;
  /** B is one [k, n] (or [n, k]) matrix for every batch entry. */
  sharedB: boolean;
  alpha?: number;
  bias: boolean;
  a: Where; b: Where;
  /** 'inplace' writes C into A (k = n) or into B (k = m, one B per batch entry), a tensor. */
  out: Out;
  inplaceInto?: 'a' | 'b';
}

export interface SoftmaxProblem {
  op: 'softmax'; seed: number;
  rows: number; cols: number;
  scale?: number;
  /** |x| bound. */
  magnitude: number;
  mask: 'none' | 'bool2d' | 'bool1d' | 'float2d' | 'float1d';
  x: Where;
  out: Out;
}

export interface LayerNormProblem {
  op: 'layerNorm'; seed: number;
  rows: number; dim: number;
  weight: boolean; bias: boolean; residual: boolean;
  eps?: number;
  /** Inputs are offset + U(-magnitude, magnitude). */
  offset: number; magnitude: number;
  x: Where;
  /** 'inplace': into x (or, when x is an array, into the residual tensor). */
  out: Out;
}

export interface GeluProblem {
  op: 'gelu'; seed: number;
  length: number;
  approximate?: 'none' | 'tanh';
  magnitude: number;
  x: Where;
  out: Out;
}

export interface LinearProblem {
  op: 'linear'; seed: number;
  rows: number; inFeatures: number; outFeatures: number;
  bias: boolean;
  x: Where;
  out: Out;
}

interface LayerShape {
  batch: number; nhead: number; headDim: number; dimFeedforward: number;
  activation: 'relu' | 'gelu';
  normFirst: boolean;
  bias: boolean;
  layerNormEps?: number;
  /** quantize: 'int8' (every projection and feed-forward weight). */
  int8: boolean;
}

export interface EncoderProblem extends LayerShape {
  op: 'encoder'; seed: number;
  seq: number;
  srcMask: MaskKind; srcKeyPadding: PadKind; isCausal: boolean;
}

export interface DecoderProblem extends LayerShape {
  op: 'decoder'; seed: number;
  seqT: number; seqS: number;
  tgtMask: MaskKind; memoryMask: MaskKind;
  tgtKeyPadding: PadKind; memoryKeyPadding: PadKind;
  tgtIsCausal: boolean;
  memory: Where;
}

export interface TransformerProblem extends LayerShape {
  op: 'transformer'; seed: number;
  seqS: number; seqT: number;
  numEncoderLayers: number; numDecoderLayers: number;
  srcMask: MaskKind; tgtMask: MaskKind; memoryMask: MaskKind;
  srcKeyPadding: PadKind; tgtKeyPadding: PadKind; memoryKeyPadding: PadKind;
  srcIsCausal: boolean; tgtIsCausal: boolean;
  /** forward(src, tgt), or encode(src) into a tensor and decode(tgt, memory). */
  call: 'forward' | 'encodeDecode';
}

/** engine.multiHeadAttention({ quantize: 'int8' }): a multi-head problem of the attention suite
 * (problems.ts), its projections int8. */
export interface MhaInt8Problem { op: 'mhaInt8'; mha: MhaProblem }

export type OpProblem =
  | MatmulProblem | SoftmaxProblem | LayerNormProblem | GeluProblem | LinearProblem | EncoderProblem | DecoderProblem
  | TransformerProblem | MhaInt8Problem;

// ---------------------------------------------------------------------------------------------
// Drawing problems

/** Sizes at the edges of the kernels' vectors (4), tiles (4 × 8 / 8 × 8), panels and blocks. */
const SIZE_EDGES = [1, 2, 3, 4, 5, 7, 8, 9, 12, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 129, 255, 256, 257];
/** GELU's elementwise work items (16384 elements) and their edges. */
const GELU_BLOCK_EDGES = [16383, 16384, 16385, 32767, 32768, 32769];
const WIDE_EDGES = [...SIZE_EDGES, 383, 384, 385, 511, 512, 513, 767, 768, 769, 1023, 1024, 1025];

function size(d: Draw, max: number, edges = SIZE_EDGES): number {
  return d.chance(0.5) ? d.pick(edges.filter((n) => n <= max)) : d.int(1, max);
}

/** Multiply-adds (or elements, for the elementwise ops) a problem costs the engine and the reference. */
export function opCost(p: OpProblem): number {
  switch (p.op) {
    case 'matmul': return p.batch * p.m * p.k * p.n;
    case 'softmax': return 30 * p.rows * p.cols;
    case 'layerNorm': return 30 * p.rows * p.dim;
    case 'gelu': return 10 * p.length;
    case 'linear': return p.rows * p.inFeatures * p.outFeatures;
    case 'encoder': return encoderLayerCost(p, p.seq);
    case 'decoder': return decoderLayerCost(p, p.seqT, p.seqS);
    case 'transformer': return p.numEncoderLayers * encoderLayerCost(p, p.seqS) + p.numDecoderLayers * decoderLayerCost(p, p.seqT, p.seqS);
    case 'mhaInt8': return problemCost(p.mha);
  }
}

/** An encoder layer's multiply-adds over L positions: projections, attention, feed-forward. */
function encoderLayerCost(p: LayerShape, L: number): number {
  const E = p.nhead * p.headDim;
  return p.batch * L * (4 * E * E + 2 * E * p.dimFeedforward + 2 * L * E);
}

/** A decoder layer's over T target and S memory positions (the memory's K and V projections too). */
function decoderLayerCost(p: LayerShape, T: number, S: number): number {
  const E = p.nhead * p.headDim;
  return p.batch * (T * (6 * E * E + 2 * E * p.dimFeedforward + 2 * T * E + 2 * S * E) + 2 * S * E * E);
}

/** Most problems small, some medium, a few large. */
function budget(d: Draw): number {
  return d.weighted([[3e5, 70], [3e6, 25], [2e7, 5]]);
}

/** problems.ts's fitting, with this file's costs. */
function fitting<T extends OpProblem>(limit: number, draw: () => T, tiny: (p: T) => T): T {
  return fitAll(limit, draw, tiny, opCost);
}

/** A problem with out: 'inplace' made able to run in place (the generator's draws and the
 * shrink's variants alike): the target a tensor of the result's shape — matmul's A (k = n) or B
 * (k = m, one B per batch entry), linear's x (inFeatures = outFeatures), x of gelu and softmax,
 * and layerNorm's x, or its residual when it has one. */
function inPlaceReady<P extends OpProblem>(p: P): P {
  if (!('out' in p) || p.out !== 'inplace') return p;
  switch (p.op) {
    case 'matmul':
      return p.inplaceInto === 'b' ? { ...p, k: p.m, b: 'tensor', sharedB: false } : { ...p, inplaceInto: 'a', k: p.n, a: 'tensor' };
    case 'linear': return { ...p, inFeatures: p.outFeatures, x: 'tensor' };
    case 'layerNorm': return p.residual ? p : { ...p, x: 'tensor' };
    default: return { ...p, x: 'tensor' };
  }
}

/** Problem `index` of the run seeded `seed`. */
export function generateOpProblem(seed: number, index: number): OpProblem {
  const d = new Draw(problemSeed(seed ^ 0x5bd1e995, index));
  const limit = budget(d);
  const kind = d.weighted([
    ['matmul', 3], ['softmax', 2], ['layerNorm', 2], ['gelu', 1], ['linear', 2], ['encoder', 2], ['decoder', 2], ['transformer', 1], ['mhaInt8', 1],
  ] as const);
  const where = (pTensor: number): Where => (d.chance(pTensor) ? 'tensor' : 'array');
  const out = (): Out => d.weighted([['none', 3], ['tensor', 1], ['inplace', 1]] as const);
  switch (kind) {
    case 'mhaInt8': return { op: 'mhaInt8', mha: drawMha(d) };
    case 'matmul': {
      const shape = fitting(limit, () => ({
        op: 'matmul' as const, seed: 0, batch: d.weighted<number>([[1, 3], [2, 1], [3, 1]]),
        m: size(d, 300), k: size(d, 1100, WIDE_EDGES), n: size(d, 300), transB: false, sharedB: false,
        bias: false, a: 'array' as Where, b: 'array' as Where, out: 'none' as Out,
      }), (p) => ({ ...p, batch: 1, m: 1, n: 1 }));
      const p: MatmulProblem = {
        ...shape, seed: d.int(0, 0xffffffff), transB: d.chance(0.5), sharedB: shape.batch > 1 && d.chance(0.4),
        bias: d.chance(0.5), a: where(0.3), b: where(0.3), out: out(),
      };
      if (p.out === 'inplace') p.inplaceInto = d.pick(['a', 'b'] as const);
      if (d.chance(0.4)) p.alpha = d.pick([1, -1, 0, 0.5, 2, 1 / Math.sqrt(p.k)]);
      return inPlaceReady(p);
    }
    case 'softmax': {
      const shape = fitting(limit, () => ({
        op: 'softmax' as const, seed: 0, rows: size(d, 300), cols: size(d, 1100, WIDE_EDGES), magnitude: 1,
        mask: 'none' as const, x: 'array' as Where, out: 'none' as Out,
      }), (p) => ({ ...p, rows: 1 }));
      const p: SoftmaxProblem = {
        ...shape, seed: d.int(0, 0xffffffff), magnitude: d.pick([1, 1, 10, 40]),
        mask: d.weighted([['none', 3], ['bool2d', 1], ['bool1d', 1], ['float2d', 1], ['float1d', 1]] as const),
        x: where(0.4), out: out(),
      };
      if (d.chance(0.5)) p.scale = d.pick([1, 0.125, 2, -1, 0, 0.3]);
      return inPlaceReady(p);
    }
    case 'layerNorm': {
      const shape = fitting(limit, () => ({
        op: 'layerNorm' as const, seed: 0, rows: size(d, 300), dim: size(d, 1100, WIDE_EDGES),
        weight: true, bias: true, residual: false, offset: 0, magnitude: 1, x: 'array' as Where, out: 'none' as Out,
      }), (p) => ({ ...p, rows: 1 }));
      const small = d.chance(0.2);
      const p: LayerNormProblem = {
        ...shape, seed: d.int(0, 0xffffffff), weight: d.chance(0.7), bias: d.chance(0.7), residual: d.chance(0.5),
        magnitude: small ? 0.01 : 1, offset: small ? 0 : d.pick([0, 0, 3, -20]), x: where(0.4), out: out(),
      };
      if (d.chance(0.5)) p.eps = d.pick([1e-5, 1e-12, 1e-3, 0.5]);
      return inPlaceReady(p);
    }
    case 'gelu': {
      const shape = fitting(limit, () => ({
        op: 'gelu' as const, seed: 0, length: d.chance(0.15) ? d.pick(GELU_BLOCK_EDGES) : size(d, 20000, WIDE_EDGES), magnitude: 1,
        x: 'array' as Where, out: 'none' as Out,
      }), (p) => ({ ...p, length: 1 }));
      const p: GeluProblem = { ...shape, seed: d.int(0, 0xffffffff), magnitude: d.pick([1, 4, 12, 100]), x: where(0.4), out: out() };
      if (d.chance(0.7)) p.approximate = d.pick(['none', 'tanh'] as const);
      return inPlaceReady(p);
    }
    case 'linear': {
      const shape = fitting(limit, () => ({
        op: 'linear' as const, seed: 0, rows: d.chance(0.3) ? d.int(1, 5) : size(d, 300),
        inFeatures: size(d, 1100, WIDE_EDGES), outFeatures: size(d, 1100, WIDE_EDGES), bias: true,
        x: 'array' as Where, out: 'none' as Out,
      }), (p) => ({ ...p, rows: 1, outFeatures: 1 }));
      const p: LinearProblem = { ...shape, seed: d.int(0, 0xffffffff), bias: d.chance(0.75), x: where(0.3), out: out() };
      if (p.out === 'inplace') p.rows = Math.max(1, Math.min(p.rows, Math.floor(limit / (p.outFeatures * p.outFeatures))));
      return inPlaceReady(p);
    }
    case 'encoder':
    case 'decoder':
    case 'transformer': {
      const layer = (): LayerShape => ({
        batch: d.int(1, 3), nhead: d.int(1, 4), headDim: d.chance(0.5) ? d.pick(DIM_EDGES.filter((n) => n <= 17)) : d.int(1, 16),
        dimFeedforward: size(d, 130), activation: 'relu', normFirst: false, bias: true, int8: false,
      });
      const options = (p: LayerShape): LayerShape => {
        const q: LayerShape = {
          ...p, activation: d.pick(['relu', 'gelu'] as const), normFirst: d.chance(0.5), bias: d.chance(0.8),
          int8: d.chance(0.2),
        };
        if (d.chance(0.4)) q.layerNormEps = d.pick([1e-5, 1e-6, 1e-3]);
        return q;
      };
      const masks = [['none', 3], ['bool2d', 1], ['boolSlice', 1], ['float2d', 1], ['floatSlice', 1]] as const;
      const pads = [['none', 2], ['bool', 1], ['float', 1]] as const;
      const seq = () => (d.chance(0.5) ? d.pick(SEQ_EDGES.filter((n) => n <= 70)) : d.int(1, 70));
      if (kind === 'encoder') {
        const shape = fitting(limit, () => ({
          op: 'encoder' as const, seed: 0, ...layer(), seq: seq(), srcMask: 'none' as MaskKind, srcKeyPadding: 'none' as PadKind,
          isCausal: false,
        }), (p) => ({ ...p, batch: 1, seq: 2 }));
        return {
          ...shape, ...options(shape), seed: d.int(0, 0xffffffff), srcMask: d.weighted(masks), srcKeyPadding: d.weighted(pads),
          isCausal: d.chance(0.3),
        };
      }
      if (kind === 'transformer') {
        const shape = fitting(limit, () => ({
          op: 'transformer' as const, seed: 0, ...layer(), seqS: seq(), seqT: seq(), numEncoderLayers: d.int(1, 2),
          numDecoderLayers: d.int(1, 2), srcMask: 'none' as MaskKind, tgtMask: 'none' as MaskKind, memoryMask: 'none' as MaskKind,
          srcKeyPadding: 'none' as PadKind, tgtKeyPadding: 'none' as PadKind, memoryKeyPadding: 'none' as PadKind,
          srcIsCausal: false, tgtIsCausal: false, call: 'forward' as const,
        }), (p) => ({ ...p, batch: 1, seqS: 2, seqT: 2, numEncoderLayers: 1, numDecoderLayers: 1 }));
        return {
          ...shape, ...options(shape), seed: d.int(0, 0xffffffff), srcMask: d.weighted(masks), tgtMask: d.weighted(masks),
          memoryMask: d.weighted(masks), srcKeyPadding: d.weighted(pads), tgtKeyPadding: d.weighted(pads),
          memoryKeyPadding: d.weighted(pads), srcIsCausal: d.chance(0.2), tgtIsCausal: d.chance(0.5),
          call: d.pick(['forward', 'encodeDecode'] as const),
        };
      }
      const shape = fitting(limit, () => ({
        op: 'decoder' as const, seed: 0, ...layer(), seqT: seq(), seqS: seq(), tgtMask: 'none' as MaskKind,
        memoryMask: 'none' as MaskKind, tgtKeyPadding: 'none' as PadKind, memoryKeyPadding: 'none' as PadKind,
        tgtIsCausal: false, memory: 'array' as Where,
      }), (p) => ({ ...p, batch: 1, seqT: 2, seqS: 2 }));
      return {
        ...shape, ...options(shape), seed: d.int(0, 0xffffffff), tgtMask: d.weighted(masks), memoryMask: d.weighted(masks),
        tgtKeyPadding: d.weighted(pads), memoryKeyPadding: d.weighted(pads), tgtIsCausal: d.chance(0.3), memory: where(0.3),
      };
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Running a problem: inputs, the engine call, the float64 reference and the tolerance

/** An instance of a problem: its inputs, made once, run on any engine. */
export interface OpCase {
  /** Runs the call on an engine (tensors made and freed there) → the result. */
  run(engine: Engine): Promise<Float32Array>;
  /** The arrays given to the engine (masks too), which a call must leave unchanged. */
  inputs: (Float32Array | Uint8Array)[];
  /** The float64 result and the allowed |error| of each element. */
  reference(): { expected: Float64Array; atol: (i: number) => number };
  /** Names of the result's axes and their sizes, for locating an element. */
  axes: [string, number][];
}

/** A check of the call's outcome failed (not the engine's own error): the call resolved, but not
 * to its `out`, or it changed an input tensor. */
export class OutcomeError extends Error {}

/** The tensors of one call: inputs kept in the engine (which the call must leave as they
 * were), the `out` it must write and resolve to; all freed after the call. */
class Tensors {
  private readonly made: EngineTensor[] = [];
  private readonly inputs: { tensor: EngineTensor; data: Float32Array }[] = [];
  private out?: EngineTensor;
  constructor(private readonly engine: Engine) {}
  put(data: Float32Array, where: Where): TensorLike {
    return where === 'tensor' ? this.tensor(data) : data;
  }
  /** An input tensor holding `data`. */
  tensor(data: Float32Array): EngineTensor {
    const t = this.engine.createTensor(data);
    this.made.push(t);
    this.inputs.push({ tensor: t, data: data.slice() });
    return t;
  }
  /** The options that send the result where the problem says: none (a new array), a zeroed
   * tensor of n, or the input tensor `target` (in place; the generator made it a tensor). */
  outOption(where: Out, target: TensorLike | undefined, n: number): { out?: EngineTensor } {
    if (where === 'none') return {};
    if (where === 'tensor') {
      this.out = this.engine.createTensor(n);
      this.made.push(this.out);
    } else {
      if (target === undefined || target instanceof Float32Array) throw new Error('test bug: an in-place problem whose target is not a tensor');
      this.out = target;
    }
    return { out: this.out };
  }
  /** The result: a new array, or the `out` tensor the call must resolve to, read; then checks
   * that the other input tensors hold what they held. */
  async result(result: Float32Array | EngineTensor): Promise<Float32Array> {
    if (this.out !== undefined && result !== this.out) throw new OutcomeError('the call did not resolve to its options.out tensor');
    if (this.out === undefined && !(result instanceof Float32Array)) throw new OutcomeError('the call resolved to a tensor without options.out');
    const values = result instanceof Float32Array ? result : await result.read();
    for (const { tensor, data } of this.inputs) {
      if (tensor === this.out) continue;
      const now = await tensor.read();
      if (now.some((v, i) => !Object.is(v, data[i]))) throw new OutcomeError(`an input tensor of ${data.length} was changed by the call`);
    }
    return values;
  }
  async dispose(): Promise<void> {
    await Promise.all(this.made.map((t) => t.dispose()));
  }
}

async function withTensors(engine: Engine, body: (t: Tensors) => Promise<Float32Array | EngineTensor>): Promise<Float32Array> {
  const t = new Tensors(engine);
  try {
    return await t.result(await body(t));
  } finally {
    await t.dispose();
  }
}

export function opCase(p: OpProblem): OpCase {
  switch (p.op) {
    case 'matmul': return matmulCase(p);
    case 'softmax': return softmaxCase(p);
    case 'layerNorm': return layerNormCase(p);
    case 'gelu': return geluCase(p);
    case 'linear': return linearCase(p);
    case 'encoder': return encoderCase(p);
    case 'decoder': return decoderCase(p);
    case 'transformer': return transformerCase(p);
    case 'mhaInt8': return mhaInt8Case(p);
  }
}

function matmulCase(p: MatmulProblem): OpCase {
  const d = new Draw(p.seed);
  const { batch, m, k, n } = p;
  const a = uniform(d, batch * m * k);
  const b = uniform(d, (p.sharedB ? 1 : batch) * k * n);
  const bias = p.bias ? uniform(d, n) : undefined;
  const alpha = p.alpha ?? 1;
  return {
    inputs: [a, b, ...(bias ? [bias] : [])],
    axes: [['batch', batch], ['i', m], ['j', n]],
    run: (engine) => withTensors(engine, async (t) => {
      const A = t.put(a, p.a), B = t.put(b, p.b);
      const options = { m, k, n, batch, transB: p.transB, bias: bias && t.put(bias, p.b), ...(p.alpha !== undefined ? { alpha: p.alpha } : {}) };
      return engine.matmul(A, B, { ...options, ...t.outOption(p.out, p.inplaceInto === 'b' ? B : A, batch * m * n) });
    }),
    reference: () => {
      const expected = new Float64Array(batch * m * n);
      for (let s = 0; s < batch; s++) {
        const bs = p.sharedB ? b : b.subarray(s * k * n, (s + 1) * k * n);
        expected.set(referenceGemm(m, n, k, a.subarray(s * m * k), k, bs, p.transB ? k : n, p.transB, alpha, bias), s * m * n);
      }
      // |a|, |b| <= 1: a sum in k order (the kernel's) has partial sums ~√i, so its rounding
      // error grows like k ulps of 1 (rms about k/17 here; the largest of thousands of outputs
      // about 1.2k), plus the result's own rounding
      const atol = ULP * (4 + 4 * Math.abs(alpha) * k);
      return { expected, atol: (i) => atol + ULP * Math.abs(expected[i]) };
    },
  };
}

function softmaxCase(p: SoftmaxProblem): OpCase {
  const d = new Draw(p.seed);
  const { rows, cols } = p;
  const x = uniform(d, rows * cols, p.magnitude);
  const planes = p.mask.endsWith('2d') ? rows : 1;
  // bool: 1 = keep here (the op's meaning); boolMask's `on` is the value that takes part
  const mask = p.mask.startsWith('bool') ? boolMask(d, 1, planes, cols, 1)
    : p.mask.startsWith('float') ? floatMask(d, 1, planes, cols) : undefined;
  const scale = p.scale ?? 1;
  return {
    inputs: [x, ...(mask ? [mask] : [])],
    axes: [['row', rows], ['col', cols]],
    run: (engine) => withTensors(engine, async (t) => {
      const X = t.put(x, p.x);
      const options = { rows, cols, ...(p.scale !== undefined ? { scale: p.scale } : {}), ...(mask ? { mask } : {}) };
      return engine.softmax(X, { ...options, ...t.outOption(p.out, X, rows * cols) });
    }),
    reference: () => {
      const ld = planes === 1 ? 0 : cols;
      const expected = referenceSoftmaxScaled(rows, cols, x, cols, scale,
        mask instanceof Float32Array ? mask : undefined, ld, mask instanceof Uint8Array ? mask : undefined, ld);
      // a logit's rounding (|x·scale + mask| <= z) moves p relatively by ~z ulps; the sum by ~√cols
      const z = p.magnitude * Math.abs(scale) + (mask instanceof Float32Array ? 3 : 0);
      const rtol = ULP * (16 + 4 * z + 2 * Math.sqrt(cols));
      return { expected, atol: (i) => ULP + rtol * Math.abs(expected[i]) };
    },
  };
}

function layerNormCase(p: LayerNormProblem): OpCase {
  const d = new Draw(p.seed);
  const { rows, dim } = p;
  const shifted = (length: number) => uniform(d, length, p.magnitude).map((v) => v + p.offset);
  const x = shifted(rows * dim);
  const residual = p.residual ? shifted(rows * dim) : undefined;
  const weight = p.weight ? uniform(d, dim, 2) : undefined;
  const bias = p.bias ? uniform(d, dim) : undefined;
  const eps = p.eps ?? 1e-5;
  return {
    inputs: [x, ...[residual, weight, bias].filter((v): v is Float32Array => v !== undefined)],
    axes: [['row', rows], ['j', dim]],
    run: (engine) => withTensors(engine, async (t) => {
      const X = t.put(x, p.x);
      // the residual is a tensor when x is one, or when it is the in-place target
      const R = residual && t.put(residual, p.x === 'tensor' || p.out === 'inplace' ? 'tensor' : 'array');
      const options = {
        rows, dim, ...(weight ? { weight: t.put(weight, p.x) } : {}), ...(bias ? { bias: t.put(bias, p.x) } : {}),
        ...(R ? { residual: R } : {}), ...(p.eps !== undefined ? { eps: p.eps } : {}),
      };
      return engine.layerNorm(X, { ...options, ...t.outOption(p.out, p.x === 'tensor' || R === undefined ? X : R, rows * dim) });
    }),
    reference: () => {
      const expected = referenceLayerNorm(rows, dim, x, dim, residual, dim, weight, bias, eps);
      // s = x + residual is rounded to f32 (as torch's x + residual), an error of ulps of the
      // row's largest |s|, which normalising divides by the row's σ = √(var + eps)
      const atol = new Float64Array(rows);
      for (let r = 0; r < rows; r++) {
        let mean = 0, largest = 0, variance = 0;
        const sAt = (j: number) => x[r * dim + j] + (residual ? residual[r * dim + j] : 0);
        for (let j = 0; j < dim; j++) { mean += sAt(j) / dim; largest = Math.max(largest, Math.abs(sAt(j))); }
        for (let j = 0; j < dim; j++) variance += (sAt(j) - mean) ** 2 / dim;
        const amp = largest / Math.sqrt(variance + eps);
        atol[r] = ULP * ((8 + 8 * amp + 2 * Math.sqrt(dim)) * (weight ? 2 : 1) + 2);
      }
      return { expected, atol: (i) => atol[Math.floor(i / dim)] };
    },
  };
}

function geluCase(p: GeluProblem): OpCase {
  const d = new Draw(p.seed);
  const x = uniform(d, p.length, p.magnitude);
  const f = p.approximate === 'tanh' ? geluTanhRef : geluRef;
  return {
    inputs: [x],
    axes: [['i', p.length]],
    run: (engine) => withTensors(engine, async (t) => {
      const X = t.put(x, p.x);
      const options = p.approximate !== undefined ? { approximate: p.approximate } : {};
      return engine.gelu(X, { ...options, ...t.outOption(p.out, X, p.length) });
    }),
    reference: () => ({
      expected: Float64Array.from(x, f),
      // the kernels' measured bound (test/kernels/f32-activation.test.ts) with margin
      atol: (i) => 2.5e-7 * Math.max(1, Math.abs(x[i])),
    }),
  };
}

function linearCase(p: LinearProblem): OpCase {
  const d = new Draw(p.seed);
  const { rows, inFeatures: K, outFeatures: N } = p;
  const weight = uniform(d, N * K, 1 / Math.sqrt(K));
  const bias = p.bias ? uniform(d, N) : undefined;
  const x = uniform(d, rows * K);
  return {
    inputs: [x, weight, ...(bias ? [bias] : [])],
    axes: [['row', rows], ['out', N]],
    run: async (engine) => {
      const layer = engine.linear({ inFeatures: K, outFeatures: N, bias: p.bias, weights: { weight, ...(bias ? { bias } : {}) } });
      try {
        return await withTensors(engine, async (t) => {
          const X = t.put(x, p.x);
          return layer.forward(X, { rows, ...t.outOption(p.out, X, rows * N) });
        });
      } finally {
        await layer.dispose();
      }
    },
    reference: () => {
      // as matmul's, with weights of 1/√K
      const atol = ULP * (4 + 4 * Math.sqrt(K));
      const expected = referenceLinear(x, rows, K, weight, N, bias);
      return { expected, atol: (i) => atol + ULP * Math.abs(expected[i]) };
    },
  };
}

// ---- the transformer layers

/** One attention block's parameters under a state-dict prefix ('self_attn.', 'multihead_attn.'). */
function attentionWeights(d: Draw, E: number, H: number, bias: boolean, prefix: string, dict: Record<string, Float32Array>): RefMha {
  const inProj = uniform(d, 3 * E * E, 1 / Math.sqrt(E));
  const inBias = bias ? uniform(d, 3 * E) : undefined;
  const out = uniform(d, E * E, 1 / Math.sqrt(E));
  const outBias = bias ? uniform(d, E) : undefined;
  dict[`${prefix}in_proj_weight`] = inProj;
  dict[`${prefix}out_proj.weight`] = out;
  if (inBias && outBias) {
    dict[`${prefix}in_proj_bias`] = inBias;
    dict[`${prefix}out_proj.bias`] = outBias;
  }
  const part = (x: Float32Array, i: number, len: number) => x.subarray(i * len, (i + 1) * len);
  return {
    E, H, kdim: E, vdim: E,
    wq: part(inProj, 0, E * E), wk: part(inProj, 1, E * E), wv: part(inProj, 2, E * E), wo: out,
    ...(inBias && outBias ? { bq: part(inBias, 0, E), bk: part(inBias, 1, E), bv: part(inBias, 2, E), bo: outBias } : {}),
  };
}

interface Norm { weight: Float32Array; bias?: Float32Array }

function normWeights(d: Draw, E: number, bias: boolean, name: string, dict: Record<string, Float32Array>): Norm {
  const weight = uniform(d, E, 0.5).map((v) => 1 + v);
  dict[`${name}.weight`] = weight;
  if (!bias) return { weight };
  const b = uniform(d, E, 0.5);
  dict[`${name}.bias`] = b;
  return { weight, bias: b };
}

interface Ffn { w1: Float32Array; b1?: Float32Array; w2: Float32Array; b2?: Float32Array }

function ffnWeights(d: Draw, E: number, F: number, bias: boolean, prefix: string, dict: Record<string, Float32Array>): Ffn {
  const w1 = uniform(d, F * E, 1 / Math.sqrt(E)), b1 = bias ? uniform(d, F) : undefined;
  const w2 = uniform(d, E * F, 1 / Math.sqrt(F)), b2 = bias ? uniform(d, E) : undefined;
  dict[`${prefix}linear1.weight`] = w1;
  dict[`${prefix}linear2.weight`] = w2;
  if (b1 && b2) {
    dict[`${prefix}linear1.bias`] = b1;
    dict[`${prefix}linear2.bias`] = b2;
  }
  return { w1, b1, w2, b2 };
}

function padMask(d: Draw, kind: PadKind, batch: number, seq: number): Uint8Array | Float32Array | undefined {
  if (kind === 'none') return undefined;
  return kind === 'bool' ? boolMask(d, 1, batch, seq, 0) : floatMask(d, 1, batch, seq);
}

/** torch's masks of one attention block as the reference's functions: bool masks and causality
 * exclude (non-zero = not allowed / ignore), float masks are added. */
function maskFns(
  H: number, seqQ: number, seqK: number, mask: Uint8Array | Float32Array | undefined,
  pad: Uint8Array | Float32Array | undefined, causal: boolean,
): { attend: MaskFn; bias: BiasFn } {
  return {
    attend: (b, h, i, j) => !(causal && j > i) &&
      !(mask instanceof Uint8Array && mask[maskAt(mask, H, seqQ, seqK, b, h, i, j)] !== 0) &&
      !(pad instanceof Uint8Array && pad[b * seqK + j] !== 0),
    bias: (b, h, i, j) => (mask instanceof Float32Array ? mask[maskAt(mask, H, seqQ, seqK, b, h, i, j)] : 0) +
      (pad instanceof Float32Array ? pad[b * seqK + j] : 0),
  };
}

const add = (a: ArrayLike<number>, b: ArrayLike<number>) => Float64Array.from(a, (v, i) => v + b[i]);

/** How a reference layer multiplies by a weight, y = x·wᵀ + bias (x [rows, k], w [n, k]): in
 * float64, or for quantize: 'int8' through the int8 reference (test/reference/i8-gemm.ts) on x
 * rounded to f32, which gives the engine's bits for the same x. The engine's x differs from the
 * reference's by the rounding of the f32 work before it (at most `margin`), which can flip a
 * code where an element lies that close to a rounding boundary: such rows are recorded with
 * what they reach — their own output row, or (keys and values, the encoder under a decoder)
 * every row of their batch entry. */
class Projector {
  readonly looseRows = new Set<number>();
  readonly looseBatches = new Set<number>();
  /** `batchRows`: every row reaches its whole batch entry of that many rows (an encoder under a
   * decoder: through the memory). */
  constructor(readonly int8: boolean, private readonly margin: number, private readonly batchRows?: number) {}

  /** `perBatch`: the rows of one batch entry (x's rows reach all of it), else rows reach themselves. */
  linear(x: ArrayLike<number>, rows: number, k: number, w: Float32Array, n: number, bias: Float32Array | undefined,
    act: (v: number) => number = (v) => v, perBatch = this.batchRows): Float64Array {
    if (!this.int8) return referenceLinear(x, rows, k, w, n, bias).map(act);
    const x32 = Float32Array.from(x);
    const q = quantizeRows(x32, rows, k, I8_A_MAX);
    for (let r = 0; r < rows; r++) {
      const scale = q.scale[r];
      // x·inv moves by the error over the scale, and by as much again through the scale itself
      if (!(scale > 0) || nearCodes(x32, r, k, scale, (3 * this.margin) / scale) === 0) continue;
      if (perBatch) this.looseBatches.add(Math.floor(r / perBatch));
      else this.looseRows.add(r);
    }
    return Float64Array.from(i8Gemm(q, quantizeWeight(w, n, k), bias, act));
  }
}

function feedForward(x: ArrayLike<number>, rows: number, E: number, F: number, f: Ffn, activation: 'relu' | 'gelu', proj: Projector): Float64Array {
  const h = proj.linear(x, rows, E, f.w1, F, f.b1, activation === 'gelu' ? geluRef : relu);
  return proj.linear(h, rows, F, f.w2, E, f.b2);
}

/** nn.MultiheadAttention through a projector: the projections, then the attention in float64
 * over their f32 results (as the engine keeps them), then the output projection. Keys and values
 * reach every query row of their batch entry; `kvProj` projects them (a decoder layer's memory is
 * the caller's f32 array, the engine's own input: a projector of margin 0). */
function projectedMha(
  w: RefMha, q: ArrayLike<number>, kv: ArrayLike<number>, B: number, Lq: number, Lk: number,
  masks: { attend: MaskFn; bias: BiasFn }, proj: Projector, kvProj = proj,
): Float64Array {
  const { E, H } = w;
  const Q = Float32Array.from(proj.linear(q, B * Lq, E, w.wq, E, w.bq));
  const K = Float32Array.from(kvProj.linear(kv, B * Lk, E, w.wk, E, w.bk, undefined, Lk));
  const V = Float32Array.from(kvProj.linear(kv, B * Lk, E, w.wv, E, w.bv, undefined, Lk));
  const ctx = referenceMha(identityProjections(E, H), Q, K, V, B, Lq, Lk, masks.attend, masks.bias).output;
  return proj.linear(ctx, B * Lq, E, w.wo, E, w.bo);
}

/** Multi-head attention parameters whose projections are the identity (exact in float64): the
 * reference's attention over inputs projected already. */
function identityProjections(E: number, H: number): RefMha {
  const identity = new Float32Array(E * E);
  for (let i = 0; i < E; i++) identity[i * E + i] = 1;
  return { E, H, kdim: E, vdim: E, wq: identity, wk: identity, wv: identity, wo: identity };
}

/** Elements of row r of x [rows, k] whose int8 code (test/reference/i8-gemm.ts, scale `scale`)
 * may flip if x moves by `margin` code steps: x/scale within it of a half-integer; all k when the
 * zero point may. */
function nearCodes(x: Float32Array, r: number, k: number, scale: number, margin: number): number {
  const near = (t: number) => Math.abs(t - Math.floor(t) - 0.5) <= margin;
  let lo = 0;
  for (let c = 0; c < k; c++) lo = Math.min(lo, x[r * k + c]);
  if (near(-lo / scale)) return k;
  let n = 0;
  for (let c = 0; c < k; c++) if (near(x[r * k + c] / scale)) n++;
  return n;
}

/** The f32 work's error bound (before the LayerNorms' amplification): every sublayer's sums,
 * √E, √F and √seq ulps each. */
function layerError(p: LayerShape, seq: number): number {
  return ULP * 2 * (8 + Math.sqrt(p.nhead * p.headDim) + Math.sqrt(p.dimFeedforward) + Math.sqrt(seq));
}

/** A projector for a layer problem. Its margin, an eighth of the f32 work's bound on the
 * output, is still several times what the projections' inputs err by (a hundredth of that bound
 * or less, measured; the suite fails if a code flips outside it). */
function projector(p: LayerShape, seq: number, batchRows?: number): Projector {
  return new Projector(p.int8, layerError(p, seq) / 8, batchRows);
}

/** The layers' tolerance of element i: the f32 work's error times what the LayerNorms amplify
 * in its row (`amplifyingNorm`). An int8 row that a possible code flip reached (the projector's
 * record) is held to INT8_LAYER_RMS of the result's root mean square instead; every other int8
 * row to the f32 bound, its projections being the int8 reference's bits. */
function layerTolerance(p: LayerShape, seq: number, expected: Float64Array, amp: Float64Array, proj: Projector, rowsPerBatch: number): (i: number) => number {
  const E = p.nhead * p.headDim;
  const atol = layerError(p, seq);
  const rms = Math.sqrt(expected.reduce((s, v) => s + v * v, 0) / expected.length);
  return (i) => {
    const r = Math.floor(i / E);
    const loose = proj.looseRows.has(r) || proj.looseBatches.has(Math.floor(r / rowsPerBatch));
    if (p.int8) looseCount[loose ? 0 : 1]++;
    return (loose ? INT8_LAYER_RMS * rms : atol) * amp[r];
  };
}

/** Elements of int8 layer results held to INT8_LAYER_RMS ([0]) and to the f32 bound ([1]), for
 * the suite's summary. */
export const looseCount = [0, 0];

/** What a possible code flip allows in the rows it reaches, a fraction of the output's RMS. */
const INT8_LAYER_RMS = 0.03;

/** A reference LayerNorm over [rows, E] that also records, per row, how much it amplifies an
 * error of its input: max|weight| / √(var + eps), multiplied into `amp` when above 1 (a row of
 * a small model can have a small σ: dModel 2 or 3). */
function amplifyingNorm(rows: number, E: number, eps: number, amp: Float64Array) {
  return (x: ArrayLike<number>, n: Norm): Float64Array => {
    let wmax = 0;
    for (const w of n.weight) wmax = Math.max(wmax, Math.abs(w));
    for (let r = 0; r < rows; r++) {
      let mean = 0, variance = 0;
      for (let j = 0; j < E; j++) mean += x[r * E + j] / E;
      for (let j = 0; j < E; j++) variance += (x[r * E + j] - mean) ** 2 / E;
      // An error of the input moves the output by up to max|w|/σ, but for E = 1 the output is
      // the bias whatever the input, and for E = 2 (s − mean = ±d/2) by max|w|/(2σ)·eps/σ² only.
      const sigma = Math.sqrt(variance + eps);
      const gain = E === 1 ? 0 : E === 2 ? wmax / (2 * sigma) * eps / sigma ** 2 : wmax / sigma;
      amp[r] *= Math.max(1, gain);
    }
    return referenceLayerNorm(rows, E, x, E, undefined, E, n.weight, n.bias, eps);
  };
}

function layerConfig(p: LayerShape, weights: Record<string, Float32Array>) {
  return {
    dModel: p.nhead * p.headDim, nhead: p.nhead, dimFeedforward: p.dimFeedforward, activation: p.activation,
    normFirst: p.normFirst, bias: p.bias, ...(p.layerNormEps !== undefined ? { layerNormEps: p.layerNormEps } : {}),
    ...(p.int8 ? { quantize: 'int8' as const } : {}), weights,
  };
}

/** One encoder layer's parameters, under `prefix` in the state dict. */
interface EncoderLayerParams { sa: RefMha; ffn: Ffn; n1: Norm; n2: Norm }
/** One decoder layer's parameters. */
interface DecoderLayerParams extends EncoderLayerParams { ca: RefMha; n3: Norm }

function encoderLayerParams(d: Draw, p: LayerShape, prefix: string, dict: Record<string, Float32Array>): EncoderLayerParams {
  const E = p.nhead * p.headDim;
  const sa = attentionWeights(d, E, p.nhead, p.bias, `${prefix}self_attn.`, dict);
  const ffn = ffnWeights(d, E, p.dimFeedforward, p.bias, prefix, dict);
  return { sa, ffn, n1: normWeights(d, E, p.bias, `${prefix}norm1`, dict), n2: normWeights(d, E, p.bias, `${prefix}norm2`, dict) };
}

function decoderLayerParams(d: Draw, p: LayerShape, prefix: string, dict: Record<string, Float32Array>): DecoderLayerParams {
  const E = p.nhead * p.headDim;
  const sa = attentionWeights(d, E, p.nhead, p.bias, `${prefix}self_attn.`, dict);
  const ca = attentionWeights(d, E, p.nhead, p.bias, `${prefix}multihead_attn.`, dict);
  const ffn = ffnWeights(d, E, p.dimFeedforward, p.bias, prefix, dict);
  return {
    sa, ca, ffn, n1: normWeights(d, E, p.bias, `${prefix}norm1`, dict), n2: normWeights(d, E, p.bias, `${prefix}norm2`, dict),
    n3: normWeights(d, E, p.bias, `${prefix}norm3`, dict),
  };
}

type NormFn = (x: ArrayLike<number>, n: Norm) => Float64Array;

/** A residual sublayer with its LayerNorm: x + f(norm(x)) pre-norm, norm(x + f(x)) post-norm. */
function sublayer(p: LayerShape, norm: NormFn) {
  return (x: Float64Array, f: (y: ArrayLike<number>) => Float64Array, n: Norm): Float64Array =>
    p.normFirst ? add(x, f(norm(x, n))) : norm(add(x, f(x)), n);
}

/** nn.TransformerEncoderLayer over x [B, L, E] in float64 (the projections read f32
 * activations, as the engine's do). */
function encoderLayerRef(
  w: EncoderLayerParams, p: LayerShape, x: Float64Array, B: number, L: number, masks: { attend: MaskFn; bias: BiasFn }, norm: NormFn,
  proj: Projector,
): Float64Array {
  const E = p.nhead * p.headDim;
  const selfAttention = (y: ArrayLike<number>) => projectedMha(w.sa, y, y, B, L, L, masks, proj);
  const ff = (y: ArrayLike<number>) => feedForward(y, B * L, E, p.dimFeedforward, w.ffn, p.activation, proj);
  const block = sublayer(p, norm);
  return block(block(x, selfAttention, w.n1), ff, w.n2);
}

/** nn.TransformerDecoderLayer over x [B, T, E] and memory [B, S, E] (f32) in float64;
 * `memoryProj` projects the memory (margin 0 when it is the caller's array). */
function decoderLayerRef(
  w: DecoderLayerParams, p: LayerShape, x: Float64Array, memory: Float32Array, B: number, T: number, S: number,
  self: { attend: MaskFn; bias: BiasFn }, cross: { attend: MaskFn; bias: BiasFn }, norm: NormFn, proj: Projector,
  memoryProj: Projector,
): Float64Array {
  const E = p.nhead * p.headDim;
  const selfAttention = (y: ArrayLike<number>) => projectedMha(w.sa, y, y, B, T, T, self, proj);
  const crossAttention = (y: ArrayLike<number>) => projectedMha(w.ca, y, memory, B, T, S, cross, proj, memoryProj);
  const ff = (y: ArrayLike<number>) => feedForward(y, B * T, E, p.dimFeedforward, w.ffn, p.activation, proj);
  const block = sublayer(p, norm);
  return block(block(block(x, selfAttention, w.n1), crossAttention, w.n2), ff, w.n3);
}

const masksOf = (...masks: (Uint8Array | Float32Array | undefined)[]) => masks.filter((m): m is Float32Array | Uint8Array => m !== undefined);

function encoderCase(p: EncoderProblem): OpCase {
  const d = new Draw(p.seed);
  const { batch: B, seq: L } = p;
  const E = p.nhead * p.headDim;
  const weights: Record<string, Float32Array> = {};
  const params = encoderLayerParams(d, p, '', weights);
  const src = uniform(d, B * L * E);
  const srcMask = attnMask(d, p.srcMask, B * p.nhead, L, L, 0);
  const pad = padMask(d, p.srcKeyPadding, B, L);
  return {
    inputs: [src, ...Object.values(weights), ...masksOf(srcMask, pad)],
    axes: [['batch', B], ['i', L], ['e', E]],
    run: async (engine) => {
      const layer = engine.transformerEncoderLayer(layerConfig(p, weights));
      try {
        return await layer.forward(src, {
          batch: B, seq: L, isCausal: p.isCausal, ...(srcMask ? { srcMask } : {}), ...(pad ? { srcKeyPaddingMask: pad } : {}),
        });
      } finally {
        await layer.dispose();
      }
    },
    reference: () => {
      const amp = new Float64Array(B * L).fill(1);
      const proj = projector(p, L);
      const x = encoderLayerRef(params, p, Float64Array.from(src), B, L, maskFns(p.nhead, L, L, srcMask, pad, p.isCausal),
        amplifyingNorm(B * L, E, p.layerNormEps ?? 1e-5, amp), proj);
      return { expected: x, atol: layerTolerance(p, L, x, amp, proj, L) };
    },
  };
}

function decoderCase(p: DecoderProblem): OpCase {
  const d = new Draw(p.seed);
  const { batch: B, seqT: T, seqS: S } = p;
  const E = p.nhead * p.headDim;
  const weights: Record<string, Float32Array> = {};
  const params = decoderLayerParams(d, p, '', weights);
  const tgt = uniform(d, B * T * E), memory = uniform(d, B * S * E);
  const tgtMask = attnMask(d, p.tgtMask, B * p.nhead, T, T, 0), memoryMask = attnMask(d, p.memoryMask, B * p.nhead, T, S, 0);
  const tgtPad = padMask(d, p.tgtKeyPadding, B, T), memoryPad = padMask(d, p.memoryKeyPadding, B, S);
  return {
    inputs: [tgt, memory, ...Object.values(weights), ...masksOf(tgtMask, memoryMask, tgtPad, memoryPad)],
    axes: [['batch', B], ['i', T], ['e', E]],
    run: async (engine) => {
      const layer = engine.transformerDecoderLayer(layerConfig(p, weights));
      try {
        return await withTensors(engine, async (t) => layer.forward(tgt, t.put(memory, p.memory), {
          batch: B, seqT: T, seqS: S, tgtIsCausal: p.tgtIsCausal, ...(tgtMask ? { tgtMask } : {}),
          ...(memoryMask ? { memoryMask } : {}), ...(tgtPad ? { tgtKeyPaddingMask: tgtPad } : {}),
          ...(memoryPad ? { memoryKeyPaddingMask: memoryPad } : {}),
        }));
      } finally {
        await layer.dispose();
      }
    },
    reference: () => {
      const amp = new Float64Array(B * T).fill(1);
      const proj = projector(p, Math.max(T, S));
      const x = decoderLayerRef(params, p, Float64Array.from(tgt), memory, B, T, S,
        maskFns(p.nhead, T, T, tgtMask, tgtPad, p.tgtIsCausal), maskFns(p.nhead, T, S, memoryMask, memoryPad, false),
        amplifyingNorm(B * T, E, p.layerNormEps ?? 1e-5, amp), proj, new Projector(p.int8, 0));
      return { expected: x, atol: layerTolerance(p, Math.max(T, S), x, amp, proj, T) };
    },
  };
}

function transformerCase(p: TransformerProblem): OpCase {
  const d = new Draw(p.seed);
  const { batch: B, seqS: S, seqT: T } = p;
  const E = p.nhead * p.headDim;
  const weights: Record<string, Float32Array> = {};
  const encoder = Array.from({ length: p.numEncoderLayers }, (_, i) => encoderLayerParams(d, p, `encoder.layers.${i}.`, weights));
  const encoderNorm = normWeights(d, E, p.bias, 'encoder.norm', weights);
  const decoder = Array.from({ length: p.numDecoderLayers }, (_, i) => decoderLayerParams(d, p, `decoder.layers.${i}.`, weights));
  const decoderNorm = normWeights(d, E, p.bias, 'decoder.norm', weights);
  const src = uniform(d, B * S * E), tgt = uniform(d, B * T * E);
  const srcMask = attnMask(d, p.srcMask, B * p.nhead, S, S, 0), tgtMask = attnMask(d, p.tgtMask, B * p.nhead, T, T, 0);
  const memoryMask = attnMask(d, p.memoryMask, B * p.nhead, T, S, 0);
  const srcPad = padMask(d, p.srcKeyPadding, B, S), tgtPad = padMask(d, p.tgtKeyPadding, B, T);
  const memoryPad = padMask(d, p.memoryKeyPadding, B, S);
  const encodeOptions = {
    batch: B, seqS: S, srcIsCausal: p.srcIsCausal, ...(srcMask ? { srcMask } : {}), ...(srcPad ? { srcKeyPaddingMask: srcPad } : {}),
  };
  const decodeOptions = {
    batch: B, seqT: T, seqS: S, tgtIsCausal: p.tgtIsCausal, ...(tgtMask ? { tgtMask } : {}), ...(memoryMask ? { memoryMask } : {}),
    ...(tgtPad ? { tgtKeyPaddingMask: tgtPad } : {}), ...(memoryPad ? { memoryKeyPaddingMask: memoryPad } : {}),
  };
  return {
    inputs: [src, tgt, ...Object.values(weights), ...masksOf(srcMask, tgtMask, memoryMask, srcPad, tgtPad, memoryPad)],
    axes: [['batch', B], ['i', T], ['e', E]],
    run: async (engine) => {
      const model = engine.transformer({
        ...layerConfig(p, weights), numEncoderLayers: p.numEncoderLayers, numDecoderLayers: p.numDecoderLayers,
      });
      try {
        if (p.call === 'forward') return await model.forward(src, tgt, { ...encodeOptions, ...decodeOptions });
        // encode, then decode over the memory kept in the engine (a greedy loop's way)
        return await withTensors(engine, async (t) => {
          const memory = t.tensor(await model.encode(src, encodeOptions));
          return model.decode(tgt, memory, decodeOptions);
        });
      } finally {
        await model.dispose();
      }
    },
    reference: () => {
      const eps = p.layerNormEps ?? 1e-5;
      const ampS = new Float64Array(B * S).fill(1), ampT = new Float64Array(B * T).fill(1);
      const normS = amplifyingNorm(B * S, E, eps, ampS), normT = amplifyingNorm(B * T, E, eps, ampT);
      // the encoder's rows reach every target row of their batch entry (through the memory)
      const encoderProj = projector(p, Math.max(T, S), S), proj = projector(p, Math.max(T, S));
      let m: Float64Array = Float64Array.from(src);
      const self = maskFns(p.nhead, S, S, srcMask, srcPad, p.srcIsCausal);
      for (const w of encoder) m = encoderLayerRef(w, p, m, B, S, self, normS, encoderProj);
      const memory = Float32Array.from(normS(m, encoderNorm)); // the memory the decoder reads is f32
      let x: Float64Array = Float64Array.from(tgt);
      const tgtSelf = maskFns(p.nhead, T, T, tgtMask, tgtPad, p.tgtIsCausal);
      const cross = maskFns(p.nhead, T, S, memoryMask, memoryPad, false);
      for (const w of decoder) {
        // a row a code flip reached in one layer is a key and value of every row in the next
        for (const r of proj.looseRows) proj.looseBatches.add(Math.floor(r / T));
        x = decoderLayerRef(w, p, x, memory, B, T, S, tgtSelf, cross, normT, proj, encoderProj);
      }
      x = normT(x, decoderNorm);
      for (const b of encoderProj.looseBatches) proj.looseBatches.add(b);
      // the memory's error, as the encoder's LayerNorms amplified it, reaches every target row
      // of its batch entry through the cross-attention
      for (let b = 0; b < B; b++) {
        const memoryAmp = Math.max(...ampS.subarray(b * S, (b + 1) * S));
        for (let r = b * T; r < (b + 1) * T; r++) ampT[r] *= memoryAmp;
      }
      return { expected: x, atol: layerTolerance(p, Math.max(T, S), x, ampT, proj, T) };
    },
  };
}

function mhaInt8Case(p: MhaInt8Problem): OpCase {
  const m = p.mha;
  const x = mhaInputs(m);
  return {
    inputs: [x.query, x.key, x.value, ...Object.values(x.weights).filter((w): w is Float32Array => w instanceof Float32Array),
      ...masksOf(x.options.attnMask, x.options.keyPaddingMask)],
    axes: [['batch', m.batch], ['i', m.seqQ], ['e', m.embedDim]],
    run: async (engine) => {
      const layer = engine.multiHeadAttention({
        embedDim: m.embedDim, numHeads: m.numHeads, kdim: m.kdim, vdim: m.vdim, bias: m.bias, weights: x.weights, quantize: 'int8',
      });
      try {
        return (await layer.forward(x.query, x.key, x.value, x.options)).output;
      } finally {
        await layer.dispose();
      }
    },
    reference: () => mhaInt8Reference(m, x),
  };
}

/** The int8 multi-head attention, exactly where it can be: the q/k/v projections are the int8
 * reference's bits (test/reference/i8-gemm.ts: per-row activation codes, per-channel weight
 * codes, the exact integer sum); the attention over them is float64; the output projection
 * quantizes that attention output rounded to f32. The engine's attention is f32, so an output
 * projection code may differ where the attention output lies within the attention's error of a
 * rounding boundary: each such element of a row allows one code step (that row's activation
 * scale × the output channel's largest |weight|) in the row's outputs; elsewhere the bound is a
 * few ulps of the result before its bias, and what the row's scale moves with the attention's
 * error. */
function mhaInt8Reference(m: MhaProblem, x: ReturnType<typeof mhaInputs>): { expected: Float64Array; atol: (i: number) => number } {
  const { batch: B, seqQ: Lq, seqK: Lk, embedDim: E, numHeads: H, kdim, vdim } = m;
  const w = x.params;
  const int8 = new Projector(true, 0); // the query, key and value inputs are the engine's own
  const project = (input: Float32Array, rows: number, k: number, weight: Float32Array, bias?: Float32Array) =>
    Float32Array.from(int8.linear(input, rows, k, weight, E, bias));
  // the attention over the int8 projections (mhaReference builds the problem's masks)
  const ctx = mhaReference({ ...m, kdim: E, vdim: E, bias: false }, {
    ...x,
    params: identityProjections(E, H),
    query: project(x.query, B * Lq, E, w.wq, w.bq),
    key: project(x.key, B * Lk, kdim, w.wk, w.bk),
    value: project(x.value, B * Lk, vdim, w.wv, w.bv),
  }).output;
  const ctx32 = Float32Array.from(ctx);
  const rows = quantizeRows(ctx32, B * Lq, E, I8_A_MAX);
  const qo = quantizeWeight(w.wo, E, E);
  const expected = Float64Array.from(i8Gemm(rows, qo, w.bo));
  // codes near a rounding boundary, per row: |t − (⌊t⌋ + ½)| within the attention's error / scale
  const attentionError = ULP * (16 + 8 * Math.sqrt(E / H) + 4 * Math.sqrt(Lk));
  const flips = Float64Array.from({ length: B * Lq }, (_, r) =>
    rows.scale[r] > 0 ? nearCodes(ctx32, r, E, rows.scale[r], attentionError / rows.scale[r]) : 0);
  const channelMax = new Float64Array(E);
  for (let j = 0; j < E; j++) for (let c = 0; c < E; c++) channelMax[j] = Math.max(channelMax[j], Math.abs(w.wo[j * E + c]));
  return {
    expected,
    atol: (i) => {
      // the row's range (so its scale) moves by up to twice the attention's error
      const r = Math.floor(i / E), j = i % E, scale = rows.scale[r];
      const relative = 4 * ULP + (scale > 0 ? (2 * attentionError) / (scale * I8_A_MAX) : 0);
      // a code step moves output j by scale · |code|·sw ≤ scale · max|wo[j, :]|, reached at
      // code ±127: a quarter more for the product's roundings
      return ULP * 4 + relative * (Math.abs(expected[i]) + Math.abs(w.bo?.[j] ?? 0)) + 1.25 * flips[r] * scale * channelMax[j];
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Naming and shrinking

/** A one-line name: the op and its shapes, then the options that are on. */
export function opProblemName(p: OpProblem): string {
  const on = (flag: boolean, name: string) => (flag ? name : '');
  const where = (name: string, w: Where) => (w === 'tensor' ? `${name}=tensor` : '');
  const out = (o: Out) => (o === 'none' ? '' : `out=${o}`);
  const parts: string[] = [];
  switch (p.op) {
    case 'mhaInt8':
      parts.push(`int8 ${problemName(p.mha)}`);
      break;
    case 'matmul':
      parts.push(`matmul B${p.batch} m${p.m} k${p.k} n${p.n}`, on(p.transB, 'transB'), on(p.sharedB, 'sharedB'),
        p.alpha !== undefined ? `alpha=${+p.alpha.toPrecision(3)}` : '', on(p.bias, 'bias'), where('a', p.a), where('b', p.b), out(p.out));
      break;
    case 'softmax':
      parts.push(`softmax ${p.rows}x${p.cols}`, `|x|<=${p.magnitude}`, p.scale !== undefined ? `scale=${p.scale}` : '',
        p.mask !== 'none' ? `mask=${p.mask}` : '', where('x', p.x), out(p.out));
      break;
    case 'layerNorm':
      parts.push(`layerNorm ${p.rows}x${p.dim}`, `x=${p.offset}±${p.magnitude}`, on(p.weight, 'weight'), on(p.bias, 'bias'),
        on(p.residual, 'residual'), p.eps !== undefined ? `eps=${p.eps}` : '', where('x', p.x), out(p.out));
      break;
    case 'gelu':
      parts.push(`gelu ${p.length}`, `|x|<=${p.magnitude}`, p.approximate ?? '', where('x', p.x), out(p.out));
      break;
    case 'linear':
      parts.push(`linear ${p.rows}x${p.inFeatures}->${p.outFeatures}`, on(!p.bias, 'nobias'), where('x', p.x), out(p.out));
      break;
    case 'encoder':
      parts.push(`encoder B${p.batch} L${p.seq} E${p.nhead * p.headDim} H${p.nhead} F${p.dimFeedforward} ${p.activation}`, on(p.int8, 'int8'),
        on(p.normFirst, 'normFirst'), on(!p.bias, 'nobias'), p.layerNormEps !== undefined ? `eps=${p.layerNormEps}` : '',
        p.srcMask !== 'none' ? `mask=${p.srcMask}` : '', p.srcKeyPadding !== 'none' ? `pad=${p.srcKeyPadding}` : '', on(p.isCausal, 'causal'));
      break;
    case 'decoder':
      parts.push(`decoder B${p.batch} T${p.seqT} S${p.seqS} E${p.nhead * p.headDim} H${p.nhead} F${p.dimFeedforward} ${p.activation}`, on(p.int8, 'int8'),
        on(p.normFirst, 'normFirst'), on(!p.bias, 'nobias'), p.layerNormEps !== undefined ? `eps=${p.layerNormEps}` : '',
        p.tgtMask !== 'none' ? `tgtMask=${p.tgtMask}` : '', p.memoryMask !== 'none' ? `memoryMask=${p.memoryMask}` : '',
        p.tgtKeyPadding !== 'none' ? `tgtPad=${p.tgtKeyPadding}` : '', p.memoryKeyPadding !== 'none' ? `memoryPad=${p.memoryKeyPadding}` : '',
        on(p.tgtIsCausal, 'causal'), where('memory', p.memory));
      break;
    case 'transformer':
      parts.push(`transformer B${p.batch} S${p.seqS} T${p.seqT} layers ${p.numEncoderLayers}+${p.numDecoderLayers}`,
        `E${p.nhead * p.headDim} H${p.nhead} F${p.dimFeedforward} ${p.activation}`, on(p.int8, 'int8'), p.call,
        on(p.normFirst, 'normFirst'), on(!p.bias, 'nobias'), p.layerNormEps !== undefined ? `eps=${p.layerNormEps}` : '',
        p.srcMask !== 'none' ? `srcMask=${p.srcMask}` : '', p.tgtMask !== 'none' ? `tgtMask=${p.tgtMask}` : '',
        p.memoryMask !== 'none' ? `memoryMask=${p.memoryMask}` : '', p.srcKeyPadding !== 'none' ? `srcPad=${p.srcKeyPadding}` : '',
        p.tgtKeyPadding !== 'none' ? `tgtPad=${p.tgtKeyPadding}` : '', p.memoryKeyPadding !== 'none' ? `memoryPad=${p.memoryKeyPadding}` : '',
        on(p.srcIsCausal, 'srcCausal'), on(p.tgtIsCausal, 'tgtCausal'));
      break;
  }
  return parts.filter(Boolean).join(' ');
}

/** The size fields of each op, and each option with its plain value, for the shrink. */
const SIZES: Record<OpProblem['op'], string[]> = {
  matmul: ['batch', 'm', 'k', 'n'], softmax: ['rows', 'cols'], layerNorm: ['rows', 'dim'], gelu: ['length'],
  linear: ['rows', 'inFeatures', 'outFeatures'], encoder: ['batch', 'seq', 'nhead', 'headDim', 'dimFeedforward'],
  decoder: ['batch', 'seqT', 'seqS', 'nhead', 'headDim', 'dimFeedforward'],
  transformer: ['batch', 'seqS', 'seqT', 'numEncoderLayers', 'numDecoderLayers', 'nhead', 'headDim', 'dimFeedforward'],
  mhaInt8: [],
};
const PLAIN: Record<string, unknown> = {
  transB: false, sharedB: false, alpha: undefined, bias: false, a: 'array', b: 'array', out: 'none', scale: undefined,
  magnitude: 1, mask: 'none', x: 'array', weight: false, residual: false, eps: undefined, offset: 0, approximate: undefined,
  normFirst: false, layerNormEps: undefined, int8: false, inplaceInto: undefined, activation: 'relu', srcMask: 'none', srcKeyPadding: 'none', isCausal: false,
  tgtMask: 'none', memoryMask: 'none', tgtKeyPadding: 'none', memoryKeyPadding: 'none', tgtIsCausal: false, memory: 'array',
  srcIsCausal: false, call: 'forward',
};

/** Variants of a failing problem, each smaller in one respect, for a greedy shrink. */
export function opShrinkCandidates(p: OpProblem): OpProblem[] {
  if (p.op === 'mhaInt8') return shrinkCandidates(p.mha).map((mha) => ({ op: 'mhaInt8', mha: mha as MhaProblem }));
  const out: OpProblem[] = [];
  const fields = p as unknown as Record<string, unknown>;
  for (const key of SIZES[p.op]) {
    const n = fields[key] as number;
    // a GELU failing past a work item's edge can shrink to that edge (smallest first)
    const edges = p.op === 'gelu' ? GELU_BLOCK_EDGES.filter((e) => e < n) : [];
    for (const v of [...new Set([...smaller(n), ...edges])].sort((a, b) => a - b)) out.push({ ...p, [key]: v } as OpProblem);
  }
  for (const [key, plain] of Object.entries(PLAIN)) {
    if (key in fields && fields[key] !== plain) {
      const q = { ...fields, [key]: plain };
      if (plain === undefined) delete q[key];
      out.push(q as unknown as OpProblem);
    }
  }
  // in place keeps its constraints; a variant they bring back to the problem itself goes
  const same = JSON.stringify(p);
  return out.map(inPlaceReady).filter((q) => JSON.stringify(q) !== same);
}

