// Random attention and multi-head-attention problems for the differential suite
// (test/parallel/differential.test.ts). A problem is a small JSON description — shapes, options
// and a data seed — drawn from its own stream, seeded by (run seed, index): problem i of a seed is
// the same problem on every machine and runs alone. Its inputs, its float64 reference and its
// tolerances all derive from the description, so a shrunk description is a new, valid problem.
import type { AttentionOptions, MultiHeadAttentionForwardOptions, MultiHeadAttentionWeights } from '../../dist/index.js';
import { referenceAttention, type BiasFn, type MaskFn } from '../reference/attention.js';
import { referenceMha, type RefMha } from '../reference/multi-head-attention.js';
import { rng } from './random.js';

/** attnMask kinds: boolean or float, [seqQ, seqK] or one plane per (batch, head). */
export type MaskKind = 'none' | 'bool2d' | 'boolSlice' | 'float2d' | 'floatSlice';

/** engine.attention(q, k, v, options). */
export interface AttentionProblem {
  op: 'attention';
  /** Seeds the inputs. */
  seed: number;
  batch: number;
  heads: number;
  seqQ: number;
  seqK: number;
  headDim: number;
  headDimV: number;
  /** Absent: the default 1/√headDim. */
  scale?: number;
  causal: boolean;
  mask: MaskKind;
  /** validLens: none, [batch] or [batch, seqQ]. */
  validLens: 'none' | 'batch' | 'query';
  returnWeights: boolean;
  /** Positions k and v hold per slice (> seqK); the tail past seqK holds `tail` values. */
  kvCapacity?: number;
  tail?: 'nan' | 'large';
  /** Inputs given as engine tensors (createTensor) instead of arrays. */
  tensors: 'none' | 'kv' | 'qkv';
}

/** engine.multiHeadAttention(config).forward(query, key, value, options). */
export interface MhaProblem {
  op: 'mha';
  seed: number;
  batch: number;
  seqQ: number;
  seqK: number;
  embedDim: number;
  numHeads: number;
  kdim: number;
  vdim: number;
  bias: boolean;
  /** Weights as inProjWeight [3E, E] (needs kdim = vdim = E) rather than q/k/v weights. */
  stacked: boolean;
  /** same: query === key === value (one array); copies: self-attention with key and value
   * copies of query; kvSame: key === value; distinct: three arrays. */
  inputs: 'same' | 'copies' | 'kvSame' | 'distinct';
  /** keyPaddingMask: none, padding at the end of each row (interior holes sometimes), or random. */
  keyPadding: 'none' | 'trailing' | 'random';
  mask: MaskKind;
  causal: boolean;
  needWeights: boolean;
  averageWeights: boolean;
}

export type Problem = AttentionProblem | MhaProblem;

/** Tolerance of one output: |actual - expected| <= atol + rtol·|expected|. */
export interface Tolerance { atol: number; rtol: number }

// ---------------------------------------------------------------------------------------------
// Drawing problems

/** The seed of problem `index` of a run (a hash, so neighbouring indices are unrelated). */
export function problemSeed(seed: number, index: number): number {
  let h = Math.imul((seed >>> 0) ^ 0x3c6ef372, 0x9e3779b1) ^ Math.imul(index + 1, 0x85ebca77);
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b);
  return (h ^ (h >>> 16)) >>> 0;
}

export class Draw {
  private readonly next: () => number;
  constructor(seed: number) {
    this.next = rng(seed);
  }
  float(): number {
    return this.next();
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)];
  }
  weighted<T>(table: readonly (readonly [T, number])[]): T {
    let u = this.next() * table.reduce((s, [, w]) => s + w, 0);
    for (const [item, w] of table) if ((u -= w) < 0) return item;
    return table[table.length - 1][0];
  }
  /** A sequence length in 1..max, half the time one at a tile edge (query tile 4, query chunk
   * 64, key block 64, key chunk 256). */
  seq(max: number): number {
    return this.chance(0.55) ? this.pick(SEQ_EDGES.filter((n) => n <= max)) : this.int(1, max);
  }
  /** A head size in 1..80, often at a vector edge; rarely past the packed kernel path (128). */
  headDim(): number {
    if (this.chance(0.03)) return this.pick([127, 128, 129, 150]);
    return this.chance(0.5) ? this.pick(DIM_EDGES) : this.int(1, 80);
  }
}

export const SEQ_EDGES = [1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 129, 191, 192, 193, 255, 256, 257, 300];
export const DIM_EDGES = [1, 2, 3, 4, 5, 7, 8, 9, 12, 15, 16, 17, 24, 31, 32, 33, 48, 63, 64, 65, 80];
const MASKS: readonly (readonly [MaskKind, number])[] = [
  ['none', 3], ['bool2d', 1.75], ['boolSlice', 1.75], ['float2d', 1.75], ['floatSlice', 1.75],
];

/** Masks of decode problems: mostly none or one float mask for every head. */
const DECODE_MASKS: readonly (readonly [MaskKind, number])[] = [
  ['none', 3], ['bool2d', 1], ['boolSlice', 1], ['float2d', 3], ['floatSlice', 1],
];

/** Multiply-adds a problem costs (engine and reference): the budget keeps most problems small. */
export function problemCost(p: Problem): number {
  if (p.op === 'attention') return p.batch * p.heads * p.seqQ * p.seqK * (p.headDim + p.headDimV);
  const E = p.embedDim;
  return p.batch * (2 * p.seqQ * E * E + p.seqK * E * (p.kdim + p.vdim) + 2 * p.seqQ * p.seqK * E);
}

/** Most problems small, some medium, a few large: the default run of 300 takes ~7 s on 2 cores. */
function budget(d: Draw): number {
  return d.weighted([[1e6, 75], [8e6, 20], [4e7, 5]]);
}

/** The larger of two draws whose `cost` fits the budget (so sizes lean toward it), or the last
 * draw made tiny when none fits. */
export function fitting<T>(limit: number, draw: () => T, tiny: (p: T) => T, cost: (p: T) => number): T {
  let best: T | undefined;
  for (let attempt = 0, found = 0; attempt < 500 && found < 2; attempt++) {
    const p = draw();
    if (cost(p) > limit) continue;
    found++;
    if (!best || cost(p) > cost(best)) best = p;
  }
  return best ?? tiny(draw());
}

/** Problem `index` of the run seeded `seed`. */
export function generateProblem(seed: number, index: number): Problem {
  const d = new Draw(problemSeed(seed, index));
  return d.chance(0.55) ? drawAttention(d) : drawMha(d);
}

function drawAttention(d: Draw): AttentionProblem {
  const limit = budget(d);
  // Decode: few query rows over many keys, weights mostly off, so the keys are split into parts.
  const decode = d.chance(0.07);
  const shapes = fitting(limit, () => {
    const headDim = d.headDim();
    return {
      op: 'attention' as const, seed: 0, batch: d.int(1, 3), heads: d.int(1, 4),
      seqQ: decode ? d.int(1, 8) : d.seq(300), seqK: decode ? d.int(512, 1100) : d.seq(300),
      headDim, headDimV: d.chance(0.5) ? headDim : d.headDim(),
      causal: false, mask: 'none' as MaskKind, validLens: 'none' as const, returnWeights: false, tensors: 'none' as const,
    };
  }, (p) => ({ ...p, batch: 1, heads: 1, headDim: 1, headDimV: 1 }), problemCost);
  const p: AttentionProblem = {
    ...shapes,
    seed: d.int(0, 0xffffffff),
    causal: d.chance(0.35),
    mask: d.weighted(MASKS),
    validLens: d.weighted([['none', 3], ['batch', 1], ['query', 1]] as const),
    returnWeights: d.chance(decode ? 0.2 : 0.5),
  };
  if (d.chance(0.5)) {
    p.scale = d.chance(0.15) ? d.pick([1, -1, 0]) : (d.float() * 2.5 - 0.5) / Math.sqrt(p.headDim);
  }
  if (d.chance(0.15)) {
    p.kvCapacity = p.seqK + d.int(1, 70);
    p.tail = d.pick(['nan', 'large'] as const);
  }
  if (d.chance(p.kvCapacity ? 0.6 : 0.12)) p.tensors = d.pick(['kv', 'qkv'] as const);
  return p;
}

export function drawMha(d: Draw): MhaProblem {
  const limit = budget(d);
  // Decode: mostly one query row over many keys, with masks every head shares (or none) most
  // of the time, so the all-heads decode kernel takes it (attention-slices.ts, takesDecodePath).
  const decode = d.chance(0.2);
  const shapes = fitting(limit, () => {
    let numHeads: number, embedDim: number;
    do {
      numHeads = d.int(1, 6);
      embedDim = numHeads * (d.chance(0.5) ? d.pick([1, 2, 3, 4, 5, 7, 8, 9, 12, 15, 16, 17, 24]) : d.int(1, 24));
    } while (embedDim > 96);
    const otherDims = d.chance(0.35);
    const kdim = otherDims ? d.int(1, 70) : embedDim;
    const vdim = otherDims && d.chance(0.6) ? d.int(1, 70) : kdim;
    const self = kdim === embedDim && vdim === embedDim && d.chance(0.5);
    const seqQ = decode ? (d.chance(0.75) ? 1 : d.int(2, 3)) : d.seq(300);
    return {
      op: 'mha' as const, seed: 0, batch: d.int(1, 3), seqQ, seqK: self ? seqQ : decode ? d.int(512, 900) : d.seq(300),
      embedDim, numHeads, kdim, vdim, bias: true, stacked: false,
      inputs: self ? d.pick(['same', 'same', 'copies'] as const) : kdim === vdim && d.chance(0.5) ? 'kvSame' as const : 'distinct' as const,
      keyPadding: 'none' as const, mask: 'none' as MaskKind, causal: false, needWeights: false, averageWeights: false,
    };
  }, (p) => ({ ...p, batch: 1, seqQ: Math.min(p.seqQ, 8), seqK: Math.min(p.seqK, p.inputs === 'same' || p.inputs === 'copies' ? 8 : 600) }), problemCost);
  return {
    ...shapes,
    seed: d.int(0, 0xffffffff),
    bias: d.chance(0.75),
    stacked: shapes.kdim === shapes.embedDim && shapes.vdim === shapes.embedDim && d.chance(0.5),
    keyPadding: d.weighted([['none', decode ? 6 : 2], ['trailing', 1], ['random', 1]] as const),
    mask: d.weighted(decode ? DECODE_MASKS : MASKS),
    causal: d.chance(decode ? 0.1 : 0.3),
    needWeights: d.chance(decode ? 0.2 : 0.6),
    averageWeights: d.chance(0.5),
  };
}

// ---------------------------------------------------------------------------------------------
// Inputs

export function uniform(d: Draw, length: number, scale = 1): Float32Array {
  const out = new Float32Array(length);
  for (let i = 0; i < length; i++) out[i] = (d.float() * 2 - 1) * scale;
  return out;
}

/** A boolean mask of `planes` [rows, cols] planes: `on` where a key takes part (attend for
 * SDPA, not-allowed for MultiheadAttention, so the caller says which value "takes part"), with
 * now and then a row where no key does. */
export function boolMask(d: Draw, planes: number, rows: number, cols: number, on: 0 | 1): Uint8Array {
  const p = 0.3 + 0.65 * d.float();
  const out = new Uint8Array(planes * rows * cols);
  for (let i = 0; i < out.length; i++) out[i] = d.chance(p) ? on : 1 - on;
  if (d.chance(0.3)) {
    const at = d.int(0, planes * rows - 1) * cols;
    out.fill(1 - on, at, at + cols);
  }
  return out;
}

/** A float mask in [-3, 3] with some -Infinity entries, now and then a whole row of them. */
export function floatMask(d: Draw, planes: number, rows: number, cols: number): Float32Array {
  const pInf = d.pick([0, 0.1, 0.5]);
  const out = uniform(d, planes * rows * cols, 3);
  for (let i = 0; i < out.length; i++) if (d.chance(pInf)) out[i] = -Infinity;
  if (d.chance(0.3)) {
    const at = d.int(0, planes * rows - 1) * cols;
    out.fill(-Infinity, at, at + cols);
  }
  return out;
}

export function attnMask(d: Draw, kind: MaskKind, slices: number, seqQ: number, seqK: number, boolOn: 0 | 1): Uint8Array | Float32Array | undefined {
  switch (kind) {
    case 'none': return undefined;
    case 'bool2d': return boolMask(d, 1, seqQ, seqK, boolOn);
    case 'boolSlice': return boolMask(d, slices, seqQ, seqK, boolOn);
    case 'float2d': return floatMask(d, 1, seqQ, seqK);
    case 'floatSlice': return floatMask(d, slices, seqQ, seqK);
  }
}

/** Index of (b, h, i, j) in a mask of either shape. */
export function maskAt(mask: ArrayLike<number>, heads: number, seqQ: number, seqK: number, b: number, h: number, i: number, j: number): number {
  const plane = seqQ * seqK;
  return (mask.length === plane ? 0 : (b * heads + h) * plane) + i * seqK + j;
}

export interface AttentionInputs {
  q: Float32Array;
  /** [batch, heads, kvCapacity ?? seqK, headDim] */
  k: Float32Array;
  /** [batch, heads, kvCapacity ?? seqK, headDimV] */
  v: Float32Array;
  options: AttentionOptions;
}

export function attentionInputs(p: AttentionProblem): AttentionInputs {
  const d = new Draw(p.seed);
  const { batch: B, heads: H, seqQ, seqK, headDim, headDimV } = p;
  const cap = p.kvCapacity ?? seqK;
  const q = uniform(d, B * H * seqQ * headDim);
  const k = uniform(d, B * H * cap * headDim);
  const v = uniform(d, B * H * cap * headDimV);
  if (cap > seqK) {
    // Positions past seqK are not part of the problem: NaN or huge values there must not leak.
    const fill = p.tail === 'nan' ? () => NaN : () => (d.float() * 2 - 1) * 1e30;
    for (let s = 0; s < B * H; s++) {
      for (let i = (s * cap + seqK) * headDim; i < (s + 1) * cap * headDim; i++) k[i] = fill();
      for (let i = (s * cap + seqK) * headDimV; i < (s + 1) * cap * headDimV; i++) v[i] = fill();
    }
  }
  const options: AttentionOptions = {
    batch: B, heads: H, seqQ, seqK, headDim, headDimV, causal: p.causal, returnWeights: p.returnWeights,
  };
  if (p.scale !== undefined) options.scale = p.scale;
  if (p.kvCapacity !== undefined) options.kvCapacity = p.kvCapacity;
  const mask = attnMask(d, p.mask, B * H, seqQ, seqK, 1);
  if (mask) options.attnMask = mask;
  if (p.validLens !== 'none') {
    const lens = new Int32Array(p.validLens === 'batch' ? B : B * seqQ);
    for (let i = 0; i < lens.length; i++) lens[i] = d.weighted([[0, 1], [seqK, 2], [d.int(0, seqK + 2), 7]] as const);
    options.validLens = lens;
  }
  return { q, k, v, options };
}

/** The positions 0..seqK of each [cap, dim] slice, as [slices, seqK, dim]. */
function firstPositions(x: Float32Array, slices: number, cap: number, seqK: number, dim: number): Float32Array {
  if (cap === seqK) return x;
  const out = new Float32Array(slices * seqK * dim);
  for (let s = 0; s < slices; s++) out.set(x.subarray(s * cap * dim, (s * cap + seqK) * dim), s * seqK * dim);
  return out;
}

export function attentionReference(p: AttentionProblem, x: AttentionInputs): { output: Float64Array; weights: Float64Array } {
  const { batch, heads, seqQ, seqK, headDim, headDimV } = p;
  const cap = p.kvCapacity ?? seqK;
  const { attnMask: mask, validLens: lens } = x.options;
  const attend: MaskFn = (b, h, i, j) => {
    if (p.causal && j > i) return false;
    if (mask instanceof Uint8Array && mask[maskAt(mask, heads, seqQ, seqK, b, h, i, j)] === 0) return false;
    if (lens && j >= (lens.length === batch ? lens[b] : lens[b * seqQ + i])) return false;
    return true;
  };
  const bias: BiasFn | undefined = mask instanceof Float32Array
    ? (b, h, i, j) => mask[maskAt(mask, heads, seqQ, seqK, b, h, i, j)] : undefined;
  return referenceAttention(x.q, firstPositions(x.k, batch * heads, cap, seqK, headDim),
    firstPositions(x.v, batch * heads, cap, seqK, headDimV), {
      batch, heads, seqQ, seqK, headDim, headDimV, scale: p.scale ?? 1 / Math.sqrt(headDim), attend, bias,
    });
}

export interface MhaInputs {
  params: RefMha;
  weights: MultiHeadAttentionWeights;
  query: Float32Array;
  key: Float32Array;
  value: Float32Array;
  options: MultiHeadAttentionForwardOptions;
}

export function concat(...parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, x) => n + x.length, 0));
  let at = 0;
  for (const x of parts) { out.set(x, at); at += x.length; }
  return out;
}

export function mhaInputs(p: MhaProblem): MhaInputs {
  const d = new Draw(p.seed);
  const { batch: B, seqQ, seqK, embedDim: E, numHeads: H, kdim, vdim } = p;
  const params: RefMha = {
    E, H, kdim, vdim,
    wq: uniform(d, E * E, 1 / Math.sqrt(E)), wk: uniform(d, E * kdim, 1 / Math.sqrt(kdim)),
    wv: uniform(d, E * vdim, 1 / Math.sqrt(vdim)), wo: uniform(d, E * E, 1 / Math.sqrt(E)),
  };
  if (p.bias) Object.assign(params, { bq: uniform(d, E), bk: uniform(d, E), bv: uniform(d, E), bo: uniform(d, E) });
  const weights: MultiHeadAttentionWeights = p.stacked
    ? { inProjWeight: concat(params.wq, params.wk, params.wv), outProjWeight: params.wo }
    : { qProjWeight: params.wq, kProjWeight: params.wk, vProjWeight: params.wv, outProjWeight: params.wo };
  if (p.bias) Object.assign(weights, { inProjBias: concat(params.bq!, params.bk!, params.bv!), outProjBias: params.bo });

  const query = uniform(d, B * seqQ * E);
  let key: Float32Array, value: Float32Array;
  switch (p.inputs) {
    case 'same': key = value = query; break;
    case 'copies': key = query.slice(); value = query.slice(); break;
    case 'kvSame': key = value = uniform(d, B * seqK * kdim); break;
    case 'distinct': key = uniform(d, B * seqK * kdim); value = uniform(d, B * seqK * vdim); break;
  }
  const options: MultiHeadAttentionForwardOptions = {
    batch: B, seqQ, seqK, causal: p.causal, needWeights: p.needWeights, averageWeights: p.averageWeights,
  };
  if (p.keyPadding === 'trailing') {
    const pad = new Uint8Array(B * seqK);
    for (let b = 0; b < B; b++) {
      const len = d.weighted([[0, 1], [seqK, 1], [d.int(0, seqK), 6]] as const);
      pad.fill(1, b * seqK + len, (b + 1) * seqK);
      if (len > 1 && d.chance(0.3)) pad[b * seqK + d.int(0, len - 1)] = 1; // an interior hole
    }
    options.keyPaddingMask = pad;
  } else if (p.keyPadding === 'random') {
    options.keyPaddingMask = boolMask(d, 1, B, seqK, 0);
  }
  const mask = attnMask(d, p.mask, B * H, seqQ, seqK, 0);
  if (mask) options.attnMask = mask;
  return { params, weights, query, key, value, options };
}

export function mhaReference(p: MhaProblem, x: MhaInputs): { output: Float64Array; headWeights: Float64Array; averaged: Float64Array } {
  const { batch, seqQ, seqK, numHeads: H } = p;
  const { keyPaddingMask: pad, attnMask: mask } = x.options;
  const attend: MaskFn = (b, h, i, j) => {
    if (p.causal && j > i) return false;
    if (pad && pad[b * seqK + j] !== 0) return false;
    if (mask instanceof Uint8Array && mask[maskAt(mask, H, seqQ, seqK, b, h, i, j)] !== 0) return false;
    return true;
  };
  const bias: BiasFn | undefined = mask instanceof Float32Array
    ? (b, h, i, j) => mask[maskAt(mask, H, seqQ, seqK, b, h, i, j)] : undefined;
  return referenceMha(x.params, x.query, x.key, x.value, batch, seqQ, seqK, attend, bias);
}

// ---------------------------------------------------------------------------------------------
// Tolerances, from the reduction lengths. Inputs are bounded (|q|, |k|, |v|, |x| <= 1, weights
// <= 1/√in, biases <= 1), so absolute bounds suffice: in units of ~2^-24, a term for each sum of
// length n grows like √n (roundings of random sign), and a logit's error scales with |scale|·d.
// Over 32 000 problems the largest error seen is about a fifth of these; a wrong slice, row or
// phase is off by ~0.1.

export const ULP = 1e-7;

export function attentionTolerance(p: AttentionProblem): { output: Tolerance; weights: Tolerance } {
  const scale = Math.abs(p.scale ?? 1 / Math.sqrt(p.headDim));
  const floatMask = p.mask.startsWith('float') ? 6 : 0; // |mask| <= 3 added to each logit
  const atol = ULP * (8 + scale * p.headDim + floatMask + Math.sqrt(p.seqK));
  return { output: { atol, rtol: 0 }, weights: { atol, rtol: 0 } };
}

export function mhaTolerance(p: MhaProblem): { output: Tolerance; weights: Tolerance } {
  const d = p.embedDim / p.numHeads;
  const projection = Math.sqrt(Math.max(p.embedDim, p.kdim, p.vdim)); // the in-projections' sums
  const floatMask = p.mask.startsWith('float') ? 6 : 0;
  const weights = ULP * (8 + 4 * Math.sqrt(d) + 2 * projection + floatMask + Math.sqrt(p.seqK));
  const output = ULP * (8 + 4 * Math.sqrt(d) + 4 * projection + floatMask + 2 * Math.sqrt(p.seqK));
  return { output: { atol: output, rtol: 0 }, weights: { atol: weights, rtol: 0 } };
}

// ---------------------------------------------------------------------------------------------
// Naming and shrinking

/** A one-line name: shapes first, then the options that are on. */
export function problemName(p: Problem): string {
  if (p.op === 'attention') {
    return [
      `attention B${p.batch} H${p.heads} Lq${p.seqQ} Lk${p.seqK} d${p.headDim}${p.headDimV !== p.headDim ? `/${p.headDimV}` : ''}`,
      p.scale !== undefined ? `scale=${+p.scale.toPrecision(3)}` : '', p.causal ? 'causal' : '',
      p.mask !== 'none' ? p.mask : '', p.validLens !== 'none' ? `lens/${p.validLens}` : '',
      p.returnWeights ? 'weights' : '', p.kvCapacity ? `cap${p.kvCapacity}/${p.tail}` : '',
      p.tensors !== 'none' ? `tensors=${p.tensors}` : '',
    ].filter(Boolean).join(' ');
  }
  return [
    `mha B${p.batch} Lq${p.seqQ} Lk${p.seqK} E${p.embedDim} H${p.numHeads}`,
    p.kdim !== p.embedDim || p.vdim !== p.embedDim ? `kdim${p.kdim} vdim${p.vdim}` : '',
    p.inputs, p.stacked ? 'stacked' : '', p.bias ? '' : 'nobias', p.causal ? 'causal' : '',
    p.keyPadding !== 'none' ? `pad/${p.keyPadding}` : '', p.mask !== 'none' ? p.mask : '',
    p.needWeights ? (p.averageWeights ? 'weights/avg' : 'weights/heads') : '',
  ].filter(Boolean).join(' ');
}

/** Smaller sizes to try for n, smallest first. */
export function smaller(n: number): number[] {
  return [...new Set([1, 2, 3, 4, 5, 8, 9, 16, 17, 64, 65, Math.floor(n / 2), n - 1])].filter((m) => m >= 1 && m < n).sort((a, b) => a - b);
}

/** Variants of a failing problem, each smaller in one respect (a shape, or one option off), for
 * a greedy shrink: the caller keeps the first variant that still fails and asks again. */
export function shrinkCandidates(p: Problem): Problem[] {
  const out: Problem[] = [];
  if (p.op === 'attention') {
    const withSeqK = (seqK: number): AttentionProblem => ({ ...p, seqK, ...(p.kvCapacity ? { kvCapacity: seqK + p.kvCapacity - p.seqK } : {}) });
    for (const batch of smaller(p.batch)) out.push({ ...p, batch });
    for (const heads of smaller(p.heads)) out.push({ ...p, heads });
    for (const seqQ of smaller(p.seqQ)) out.push({ ...p, seqQ });
    for (const seqK of smaller(p.seqK)) out.push(withSeqK(seqK));
    for (const headDim of smaller(p.headDim)) out.push({ ...p, headDim, headDimV: p.headDimV === p.headDim ? headDim : p.headDimV });
    for (const headDimV of smaller(p.headDimV)) out.push({ ...p, headDimV });
    if (p.scale !== undefined) out.push({ ...p, scale: undefined });
    if (p.causal) out.push({ ...p, causal: false });
    if (p.mask !== 'none') out.push({ ...p, mask: 'none' }, ...(p.mask.endsWith('Slice') ? [{ ...p, mask: p.mask === 'boolSlice' ? 'bool2d' as const : 'float2d' as const }] : []));
    if (p.validLens !== 'none') out.push({ ...p, validLens: 'none' });
    if (p.kvCapacity) out.push({ ...p, kvCapacity: undefined, tail: undefined }, ...(p.kvCapacity > p.seqK + 1 ? [{ ...p, kvCapacity: p.seqK + 1 }] : []));
    if (p.tensors !== 'none') out.push({ ...p, tensors: 'none' });
    if (p.returnWeights) out.push({ ...p, returnWeights: false });
    return out.map(dropUndefined);
  }
  const self = p.inputs === 'same' || p.inputs === 'copies';
  const d = p.embedDim / p.numHeads;
  for (const batch of smaller(p.batch)) out.push({ ...p, batch });
  for (const seqQ of smaller(p.seqQ)) out.push({ ...p, seqQ, ...(self ? { seqK: seqQ } : {}) });
  if (!self) for (const seqK of smaller(p.seqK)) out.push({ ...p, seqK });
  const tied = (E: number) => ({
    embedDim: E, kdim: p.kdim === p.embedDim ? E : p.kdim, vdim: p.vdim === p.embedDim ? E : p.vdim,
  });
  for (const numHeads of smaller(p.numHeads)) out.push({ ...p, numHeads, ...tied(numHeads * d) });
  for (const hd of smaller(d)) out.push({ ...p, ...tied(p.numHeads * hd) });
  if (p.kdim !== p.embedDim) for (const kdim of smaller(p.kdim)) out.push({ ...p, kdim, vdim: p.inputs === 'kvSame' ? kdim : p.vdim });
  if (p.vdim !== p.embedDim && p.inputs !== 'kvSame') for (const vdim of smaller(p.vdim)) out.push({ ...p, vdim });
  if (p.causal) out.push({ ...p, causal: false });
  if (p.mask !== 'none') out.push({ ...p, mask: 'none' });
  if (p.keyPadding !== 'none') out.push({ ...p, keyPadding: 'none' });
  if (p.needWeights) out.push({ ...p, needWeights: false });
  if (p.stacked) out.push({ ...p, stacked: false });
  if (p.inputs === 'same') out.push({ ...p, inputs: 'copies' });
  if (p.inputs === 'kvSame') out.push({ ...p, inputs: 'distinct' });
  return out;
}

function dropUndefined<T extends object>(p: T): T {
  return Object.fromEntries(Object.entries(p).filter(([, v]) => v !== undefined)) as T;
}
