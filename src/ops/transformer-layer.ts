// The building blocks of nn.TransformerEncoderLayer, nn.TransformerDecoderLayer and
// nn.Transformer (batch_first=True, eval mode): the constructor arguments, the state-dict table
// of one layer, its resident weights, and the phases of a layer, appended to one program so that
// a whole stack runs as one dispatch with no round trip to JavaScript between sublayers.
//
// A layer works on the rows of its input buffer x [B·L, d] in place (the caller's data is copied
// into the arena first, so nothing of theirs is written):
//   post-norm  x = norm1(x + SA(x));            [x = norm2(x + CA(x, memory))];  x = normN(x + FF(x))
//   pre-norm   x = x + SA(norm1(x));            [x = x + CA(norm2(x), memory)];  x = x + FF(normN(x))
//   FF(y) = linear2(act(linear1(y)))
// Each residual add is the epilogue of the GEMM that ends its sublayer (the out-projection,
// linear2), and the activation is linear1's epilogue: no pass over memory of their own.
import type { TransformerEncoderLayerConfig, TransformerLayerConfig } from '../types.js';
import type { Arena } from '../wasm/arena.js';
import { ACTIVATION, layerNormPhase, scratchSlots, type Phase } from '../parallel/phases.js';
import { dim, elements, flag, int8Weight, isArrayOf, keysOf, optionalDim, quantizeOption, typedArray } from '../validate.js';
import { rangeError, typeError } from '../errors.js';
import { epsilon, LAYER_NORM_EPS } from './layer-norm.js';
import { LinearParams, linearPhases } from './linear.js';
import { PlainBlock, type ParamSpec, type Resident } from './modules.js';
import {
  AttentionBlock, mergeFloatPadding, mhaPhases, paddingMask, placeMha, planMultiHeadAttention, stripsSlots, type MhaPlacement, type MhaShape,
  type MultiHeadAttentionParams,
} from './multi-head-attention.js';

export { AttentionBlock };

/** The config keys of a layer (encoder and decoder take the same). */
export const LAYER_CONFIG_KEYS = keysOf<TransformerEncoderLayerConfig>({
  dModel: true, nhead: true, dimFeedforward: true, activation: true, layerNormEps: true, normFirst: true, bias: true,
  dropout: true, batchFirst: true, weights: true, quantize: true,
});

/** The constructor arguments shared by the three modules, checked. */
export interface LayerConfig {
  dModel: number;
  nhead: number;
  dimFeedforward: number;
  activation: number; // ACTIVATION.relu or ACTIVATION.gelu
  layerNormEps: number;
  normFirst: boolean;
  /** torch ≥ 2.1's `bias`: false leaves out every bias of the projections, the feed-forward
   * network and the LayerNorms. */
  bias: boolean;
  quantize?: 'int8';
}

/** Checks the shared constructor arguments (torch's defaults: dimFeedforward 2048, relu,
 * layerNormEps 1e-5, post-norm). `dropout` is accepted and ignored (inference); batchFirst must
 * be true (the layout of every input and output here). */
export function layerConfig(op: string, c: Partial<TransformerLayerConfig>): LayerConfig {
  const dModel = dim(op, 'config.dModel', c.dModel);
  const nhead = dim(op, 'config.nhead', c.nhead);
  if (dModel % nhead !== 0) throw rangeError(op, 'config.nhead', `(${nhead}) must divide config.dModel (${dModel})`);
  const dimFeedforward = optionalDim(op, 'config.dimFeedforward', c.dimFeedforward, 2048);
  let activation: number = ACTIVATION.relu;
  if (c.activation !== undefined) {
    if (typeof c.activation !== 'string') throw typeError(op, 'config.activation', "'relu' or 'gelu'", c.activation);
    if (c.activation === 'gelu') activation = ACTIVATION.gelu;
    else if (c.activation !== 'relu') {
      throw rangeError(op, 'config.activation', `must be 'relu' or 'gelu' (torch's string forms), got ${JSON.stringify(c.activation)}`);
    }
  }
  if (c.dropout !== undefined && (typeof c.dropout !== 'number' || !(c.dropout >= 0 && c.dropout <= 1))) {
    throw rangeError(op, 'config.dropout', `must be a number in [0, 1] (ignored: inference), got ${String(c.dropout)}`);
  }
  if (!flag(op, 'config.batchFirst', c.batchFirst, true)) {
    throw rangeError(op, 'config.batchFirst', 'must be true: inputs and outputs are [batch, seq, dModel]');
  }
  return {
    dModel, nhead, dimFeedforward, activation,
    layerNormEps: epsilon(op, 'config.layerNormEps', c.layerNormEps, LAYER_NORM_EPS),
    normFirst: flag(op, 'config.normFirst', c.normFirst, false),
    bias: flag(op, 'config.bias', c.bias, true),
    quantize: quantizeOption(op, 'config.quantize', c.quantize),
  };
}

/** The state-dict entries of one layer under `prefix` (torch's names and shapes). */
export function layerSpecs(c: LayerConfig, prefix: string, decoder: boolean): ParamSpec[] {
  const d = c.dModel, ff = c.dimFeedforward;
  const attention = (name: string): ParamSpec[] => [
    { key: `${prefix}${name}.in_proj_weight`, shape: [3 * d, d], dims: '[3·dModel, dModel]', int8: true },
    { key: `${prefix}${name}.in_proj_bias`, shape: [3 * d], dims: '[3·dModel]' },
    { key: `${prefix}${name}.out_proj.weight`, shape: [d, d], dims: '[dModel, dModel]', int8: true },
    { key: `${prefix}${name}.out_proj.bias`, shape: [d], dims: '[dModel]' },
  ];
  const norm = (name: string): ParamSpec[] => [
    { key: `${prefix}${name}.weight`, shape: [d], dims: '[dModel]' },
    { key: `${prefix}${name}.bias`, shape: [d], dims: '[dModel]' },
  ];
  return withoutBiases(c, [
    ...attention('self_attn'),
    ...(decoder ? attention('multihead_attn') : []),
    { key: `${prefix}linear1.weight`, shape: [ff, d], dims: '[dimFeedforward, dModel]', int8: true },
    { key: `${prefix}linear1.bias`, shape: [ff], dims: '[dimFeedforward]' },
    { key: `${prefix}linear2.weight`, shape: [d, ff], dims: '[dModel, dimFeedforward]', int8: true },
    { key: `${prefix}linear2.bias`, shape: [d], dims: '[dModel]' },
    ...norm('norm1'), ...norm('norm2'), ...(decoder ? norm('norm3') : []),
  ]);
}

/** `specs` as torch's state_dict() has them: with bias=False, no `*bias` entry. */
function withoutBiases(c: LayerConfig, specs: ParamSpec[]): ParamSpec[] {
  return c.bias ? specs : specs.filter((s) => !/(^|\.)(in_proj_bias|bias)$/.test(s.key));
}

/** The state-dict entries of a final norm (`encoder.norm.`, `decoder.norm.`). */
export function normSpecs(c: LayerConfig, prefix: string): ParamSpec[] {
  return withoutBiases(c, [
    { key: `${prefix}weight`, shape: [c.dModel], dims: '[dModel]' },
    { key: `${prefix}bias`, shape: [c.dModel], dims: '[dModel]' },
  ]);
}

/** A LayerNorm's weight and bias (none with bias=False: address 0, which the kernel reads as
 * absent), resident. */
export class NormBlock extends PlainBlock {
  constructor(parts: Float32Array[], private readonly hasBias = true) {
    super(parts);
  }
  get weight(): number { return this.at(0); }
  get bias(): number { return this.hasBias ? this.at(1) : 0; }
}

export function normBlock(w: Record<string, Float32Array>, prefix: string, bias = true): NormBlock {
  return new NormBlock(bias ? [w[`${prefix}weight`], w[`${prefix}bias`]] : [w[`${prefix}weight`]], bias);
}

/** One layer's weights (torch's attribute names). */
export interface LayerWeights {
  selfAttn: AttentionBlock;
  multiheadAttn?: AttentionBlock;
  linear1: LinearParams;
  linear2: LinearParams;
  norms: NormBlock[]; // norm1, norm2 (, norm3)
}

/** The layer's weights; with quantize 'int8', every projection and feed-forward weight is checked
 * (finite, `op` and its state-dict key in the message) before anything is copied. */
export function layerWeights(
  c: LayerConfig, w: Record<string, Float32Array>, prefix: string, decoder: boolean, op = 'transformerEncoderLayer',
): LayerWeights {
  if (c.quantize) {
    const names = ['self_attn.in_proj_weight', 'self_attn.out_proj.weight', 'linear1.weight', 'linear2.weight',
      ...(decoder ? ['multihead_attn.in_proj_weight', 'multihead_attn.out_proj.weight'] : [])];
    for (const name of names) {
      const key = `${prefix}${name}`;
      const k = name === 'linear2.weight' ? c.dimFeedforward : c.dModel;
      int8Weight(op, `config.weights[${JSON.stringify(key)}]`, w[key], k, name === 'linear2.weight' ? 'config.dimFeedforward' : 'config.dModel');
    }
  }
  const bias = (key: string): Float32Array | undefined => (c.bias ? w[`${prefix}${key}`] : undefined);
  const attention = (name: string): AttentionBlock => new AttentionBlock(planMultiHeadAttention({
    embedDim: c.dModel, numHeads: c.nhead, quantize: c.quantize, bias: c.bias,
    weights: c.bias ? {
      inProjWeight: w[`${prefix}${name}.in_proj_weight`], inProjBias: w[`${prefix}${name}.in_proj_bias`],
      outProjWeight: w[`${prefix}${name}.out_proj.weight`], outProjBias: w[`${prefix}${name}.out_proj.bias`],
    } : { inProjWeight: w[`${prefix}${name}.in_proj_weight`], outProjWeight: w[`${prefix}${name}.out_proj.weight`] },
  }));
  return {
    selfAttn: attention('self_attn'),
    multiheadAttn: decoder ? attention('multihead_attn') : undefined,
    linear1: new LinearParams(c.dModel, c.dimFeedforward, w[`${prefix}linear1.weight`], bias('linear1.bias'), c.quantize),
    linear2: new LinearParams(c.dimFeedforward, c.dModel, w[`${prefix}linear2.weight`], bias('linear2.bias'), c.quantize),
    norms: (decoder ? ['norm1', 'norm2', 'norm3'] : ['norm1', 'norm2']).map((n) => normBlock(w, `${prefix}${n}.`, c.bias)),
  };
}

/** Every resident block of a layer, for the module's upload and release. */
export function layerBlocks(l: LayerWeights): Resident[] {
  return [l.selfAttn, ...(l.multiheadAttn ? [l.multiheadAttn] : []), l.linear1, l.linear2, ...l.norms];
}

/** An attention mask as torch passes it to nn.MultiheadAttention: [Lq, Lk] or [B·nhead, Lq, Lk];
 * a Uint8Array is boolean (non-zero = not allowed), a Float32Array is added. */
export function attentionMask(
  op: string, name: string, value: unknown, B: number, H: number, Lq: number, Lk: number,
): MhaShape['attnMask'] {
  if (value === undefined) return undefined;
  const data = typedArray(value, 'Uint8Array', 'Float32Array');
  if (!data) throw typeError(op, name, 'a Uint8Array (non-zero = not allowed) or a Float32Array (added)', value);
  const plane = Lq * Lk;
  if (data.length !== plane && data.length !== B * H * plane) {
    throw rangeError(op, name, `has length ${data.length}, expected ${Lq}·${Lk} = ${plane} ` +
      `or batch·nhead·${Lq}·${Lk} = ${B * H * plane}`);
  }
  return { data, perSlice: data.length !== plane };
}

/**
 * The masks of one attention of a layer from the call's options, checked (names as given). A
 * float key padding mask is merged into a float attention mask [B·H, Lq, Lk] as torch merges
 * them (mask + padding[b, key], a bool mask as -inf where set), so the kernel sees one added
 * mask; a bool one stays the kernel's key mask (its padded tails are never computed).
 */
export function layerMasks(
  op: string, B: number, H: number, Lq: number, Lk: number,
  mask: { name: string; value: unknown }, padding: { name: string; value: unknown }, causal: boolean,
): AttentionMasks {
  const attnMask = attentionMask(op, mask.name, mask.value, B, H, Lq, Lk);
  const keyPadding = paddingMask(op, padding.name, padding.value, B, Lk, `batch·${Lk} = ${B}·${Lk}`);
  if (!isArrayOf(keyPadding, 'Float32Array')) return { attnMask, keyPaddingMask: keyPadding as Uint8Array | undefined, causal };
  return { attnMask: mergeFloatPadding(op, keyPadding as Float32Array, attnMask, B, H, Lq, Lk), keyPaddingMask: undefined, causal };
}

/** The masks of one attention of a layer. */
export interface AttentionMasks {
  attnMask?: MhaShape['attnMask'];
  keyPaddingMask?: Uint8Array;
  causal: boolean;
}

const shapeOf = (B: number, Lq: number, Lk: number, self: boolean, m: AttentionMasks): MhaShape => ({
  batch: B, seqQ: Lq, seqK: Lk, selfAttention: self, sharedKeyValue: true, causal: m.causal,
  needWeights: false, averageWeights: false, keyPaddingMask: m.keyPaddingMask, attnMask: m.attnMask,
});

/** The buffers a stack of layers shares (each layer's phases run after the previous layer's, so
 * one set serves all of them): y (normed rows), t (sublayer sums), h (feed-forward hidden),
 * the strips of both linears, and one placement per attention kind. */
export interface StackBuffers {
  rows: number;
  y: number; t: number; h: number; strips1: number; strips2: number;
  self: MhaPlacement; cross?: MhaPlacement;
  selfShape: MhaShape; crossShape?: MhaShape;
}

/** Places a stack's shared buffers: `rows` = B·L rows of dModel, attention over Lq (and, for a
 * decoder, cross-attention over the Lk rows of memory). */
export function placeStack(
  arena: Arena, c: LayerConfig, attn: MultiHeadAttentionParams, threads: number,
  B: number, L: number, self: AttentionMasks, cross?: { Lk: number; masks: AttentionMasks; params: MultiHeadAttentionParams },
): StackBuffers {
  const rows = B * L, d = c.dModel, ff = c.dimFeedforward;
  const selfShape = shapeOf(B, L, L, true, self);
  const crossShape = cross ? shapeOf(B, L, cross.Lk, false, cross.masks) : undefined;
  return {
    rows,
    y: arena.place(rows * d * 4),
    t: arena.place(rows * d * 4),
    h: arena.place(rows * ff * 4),
    strips1: arena.place(stripsSlots(c.quantize, rows, d) * 4),
    strips2: arena.place(stripsSlots(c.quantize, rows, ff) * 4),
    self: placeMha(arena, attn, selfShape, threads),
    cross: cross ? placeMha(arena, cross.params, crossShape!, threads) : undefined,
    selfShape, crossShape,
  };
}

/** LayerNorm of the stack's rows: y = norm(x) (weights of `n`). */
export function normPhase(c: LayerConfig, s: Pick<StackBuffers, 'rows'>, n: NormBlock, x: number, y: number): Phase {
  return layerNormPhase(s.rows, c.dModel, x, c.dModel, 0, 0, n.weight, n.bias, c.layerNormEps, y, c.dModel);
}

/** Appends one layer's phases: x [B·L, d] is transformed in place; memory [B·Lk, d] (decoder). */
export function layerPhases(
  program: Phase[], arena: Arena, c: LayerConfig, l: LayerWeights, s: StackBuffers, x: number, memory = 0,
): void {
  const d = c.dModel, ff = c.dimFeedforward;
  const [norm1, norm2, norm3] = l.norms;
  const attend = (block: AttentionBlock, shape: MhaShape, at: MhaPlacement, query: number, kv: number,
    out: number, residual: number): void => {
    program.push(...mhaPhases(arena, block.params, shape, at, { query, key: kv, value: kv, out, residual }));
  };
  // FF(from) + residual → out, through h.
  const feedForward = (from: number, residual: number, out: number): void => {
    const scratch = scratchSlots(s.self.scratch); // int8: lent to widen the weight codes in
    program.push(...linearPhases(l.linear1, s.rows, from, d, s.strips1, s.h, ff, { activation: c.activation, scratch }));
    program.push(...linearPhases(l.linear2, s.rows, s.h, ff, s.strips2, out, d, { residual, ldr: d, scratch }));
  };
  const ffNorm = l.multiheadAttn ? norm3 : norm2;
  if (c.normFirst) {
    program.push(normPhase(c, s, norm1, x, s.y));
    attend(l.selfAttn, s.selfShape, s.self, s.y, s.y, s.t, x); // t = x + SA(norm1(x))
    let sum = s.t;
    if (l.multiheadAttn) {
      program.push(normPhase(c, s, norm2, s.t, s.y));
      attend(l.multiheadAttn, s.crossShape!, s.cross!, s.y, memory, x, s.t); // x = t + CA(norm2(t), memory)
      sum = x;
    }
    program.push(normPhase(c, s, ffNorm, sum, s.y));
    feedForward(s.y, sum, x); // x = sum + FF(norm(sum))
  } else {
    attend(l.selfAttn, s.selfShape, s.self, x, x, s.t, x); // t = x + SA(x)
    program.push(normPhase(c, s, norm1, s.t, s.y)); // y = norm1(t)
    if (l.multiheadAttn) {
      attend(l.multiheadAttn, s.crossShape!, s.cross!, s.y, memory, s.t, s.y); // t = y + CA(y, memory)
      program.push(normPhase(c, s, norm2, s.t, s.y)); // y = norm2(t)
    }
    feedForward(s.y, s.y, s.t); // t = y + FF(y)
    program.push(normPhase(c, s, ffNorm, s.t, x)); // x = norm(t)
  }
}

/** Elements of [B, L, dModel], checked against the 32-bit memory. */
export const rowsOf = (op: string, name: string, B: number, L: number, d: number): number => elements(op, name, B, L, d);
