// engine.transformerDecoderLayer: nn.TransformerDecoderLayer(batch_first=True), eval mode, from
// its state dict: self-attention over tgt, cross-attention over memory, feed-forward, three
// norms, as one program (src/ops/transformer-layer.ts).
import type {
  TensorLike, TransformerDecoderLayer, TransformerDecoderLayerConfig, TransformerDecoderLayerForwardOptions,
} from '../types.js';
import type { Arena } from '../wasm/arena.js';
import type { Phase } from '../parallel/phases.js';
import { array, dim, flag, keysOf, options } from '../validate.js';
import { ModuleWeights, readStateDict, type ModuleHost } from './modules.js';
import { placeInput, tensorInput, writeInput, type Input, type TensorRegistry } from './tensor.js';
import {
  LAYER_CONFIG_KEYS, layerBlocks, layerConfig, layerPhases, layerSpecs, layerWeights, layerMasks, placeStack, rowsOf,
  type AttentionMasks, type LayerConfig,
} from './transformer-layer.js';
import { asyncDisposer } from '../disposable.js';

const OP = 'transformerDecoderLayer';
const FORWARD = 'TransformerDecoderLayer.forward';
/** The decoder's call options (the layer's forward and nn.Transformer's decode). */
export const DECODE_KEYS = keysOf<TransformerDecoderLayerForwardOptions>({
  batch: true, seqT: true, seqS: true, tgtMask: true, memoryMask: true, tgtKeyPaddingMask: true,
  memoryKeyPaddingMask: true, tgtIsCausal: true,
});

/** A checked decoder call: tgt rows, memory, both attentions' masks. */
export interface DecodePlan {
  B: number; Lt: number; Ls: number;
  tgt: Float32Array;
  memory: Input;
  self: AttentionMasks;
  cross: AttentionMasks;
}

/** Checks tgt, memory and the decoder's options (shared by the layer and nn.Transformer). */
export function planDecode(
  op: string, c: LayerConfig, tgt: unknown, memory: unknown, opts: unknown, keys: readonly string[],
  tensors: TensorRegistry,
): DecodePlan {
  const o = options(op, 'options', opts, false, keys) as Partial<TransformerDecoderLayerForwardOptions>;
  const B = dim(op, 'options.batch', o.batch), Lt = dim(op, 'options.seqT', o.seqT), Ls = dim(op, 'options.seqS', o.seqS);
  const d = c.dModel;
  return {
    B, Lt, Ls,
    tgt: array(op, 'tgt', tgt, 'Float32Array', rowsOf(op, 'tgt', B, Lt, d), `batch·seqT·dModel = ${B}·${Lt}·${d}`),
    memory: tensorInput(op, 'memory', memory, rowsOf(op, 'memory', B, Ls, d), `batch·seqS·dModel = ${B}·${Ls}·${d}`, tensors),
    self: layerMasks(op, B, c.nhead, Lt, Lt, { name: 'options.tgtMask', value: o.tgtMask },
      { name: 'options.tgtKeyPaddingMask', value: o.tgtKeyPaddingMask }, flag(op, 'options.tgtIsCausal', o.tgtIsCausal, false)),
    cross: layerMasks(op, B, c.nhead, Lt, Ls, { name: 'options.memoryMask', value: o.memoryMask },
      { name: 'options.memoryKeyPaddingMask', value: o.memoryKeyPaddingMask }, false),
  };
}

/** Places memory (read in place when it is a tensor) for a decoder call; returns its address. */
export function placeMemory(arena: Arena, p: DecodePlan, op: string): number {
  return placeInput(arena, p.memory, op);
}

export function createTransformerDecoderLayer(config: unknown, host: ModuleHost, tensors: TensorRegistry): TransformerDecoderLayer {
  const cfg = options(OP, 'config', config, false, LAYER_CONFIG_KEYS) as Partial<TransformerDecoderLayerConfig>;
  const c = layerConfig(OP, cfg);
  const w = readStateDict(OP, 'config.weights', cfg.weights, layerSpecs(c, '', true), c.quantize);
  const layer = layerWeights(c, w, '', true, OP);
  const weights = new ModuleWeights(host, layerBlocks(layer), 'TransformerDecoderLayer');

  const module: TransformerDecoderLayer = Object.freeze({
    forward(tgt: Float32Array, memory: TensorLike, opts: TransformerDecoderLayerForwardOptions): Promise<Float32Array> {
      let p: DecodePlan;
      try {
        p = planDecode(FORWARD, c, tgt, memory, opts, DECODE_KEYS, tensors);
      } catch (error) {
        return Promise.reject(error);
      }
      return weights.call('forward', (arena, threads) => {
        const x = arena.place(p.tgt.byteLength);
        const mem = placeMemory(arena, p, FORWARD);
        const stack = placeStack(arena, c, layer.selfAttn.params, threads, p.B, p.Lt, p.self,
          { Lk: p.Ls, masks: p.cross, params: layer.multiheadAttn!.params });
        arena.commit();
        arena.writeF32(x, p.tgt);
        writeInput(arena, mem, p.memory);
        const program: Phase[] = [];
        layerPhases(program, arena, c, layer, stack, x, mem);
        return { program, outputs: [p.tgt.length], collect: () => arena.readF32(x, p.tgt.length) };
      });
    },
    dispose: () => weights.dispose(module),
    ...asyncDisposer(() => weights.dispose(module)),
  });
  weights.track(module);
  return module;
}
