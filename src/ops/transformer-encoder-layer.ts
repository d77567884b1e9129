// engine.transformerEncoderLayer: nn.TransformerEncoderLayer(batch_first=True), eval mode, from
// its state dict. A forward is one program (src/ops/transformer-layer.ts): self-attention,
// feed-forward, both norms, with no round trip to JavaScript between them. Padded positions are
// computed like any other (torch's non-fast path, and a single layer's eval fast path in torch
// 1.13; nn.TransformerEncoder's nested-tensor path writes zeros there, then its final norm).
import type {
  TransformerEncoderLayer, TransformerEncoderLayerConfig, TransformerEncoderLayerForwardOptions,
} from '../types.js';
import { array, dim, flag, keysOf, options } from '../validate.js';
import { ModuleWeights, readStateDict, type ModuleHost } from './modules.js';
import {
  LAYER_CONFIG_KEYS, layerBlocks, layerConfig, layerPhases, layerSpecs, layerWeights, layerMasks, placeStack, rowsOf,
  type AttentionMasks,
} from './transformer-layer.js';
import type { Phase } from '../parallel/phases.js';
import { asyncDisposer } from '../disposable.js';

const OP = 'transformerEncoderLayer';
const FORWARD = 'TransformerEncoderLayer.forward';
const FORWARD_KEYS = keysOf<TransformerEncoderLayerForwardOptions>({
  batch: true, seq: true, srcMask: true, srcKeyPaddingMask: true, isCausal: true,
});

export function createTransformerEncoderLayer(config: unknown, host: ModuleHost): TransformerEncoderLayer {
  const cfg = options(OP, 'config', config, false, LAYER_CONFIG_KEYS) as Partial<TransformerEncoderLayerConfig>;
  const c = layerConfig(OP, cfg);
  const w = readStateDict(OP, 'config.weights', cfg.weights, layerSpecs(c, '', false), c.quantize);
  const layer = layerWeights(c, w, '', false);
  const weights = new ModuleWeights(host, layerBlocks(layer), 'TransformerEncoderLayer');

  const module: TransformerEncoderLayer = Object.freeze({
    forward(src: Float32Array, opts: TransformerEncoderLayerForwardOptions): Promise<Float32Array> {
      let B: number, L: number, input: Float32Array, masks: AttentionMasks;
      try {
        const o = options(FORWARD, 'options', opts, false, FORWARD_KEYS) as Partial<TransformerEncoderLayerForwardOptions>;
        B = dim(FORWARD, 'options.batch', o.batch);
        L = dim(FORWARD, 'options.seq', o.seq);
        input = array(FORWARD, 'src', src, 'Float32Array', rowsOf(FORWARD, 'src', B, L, c.dModel),
          `batch·seq·dModel = ${B}·${L}·${c.dModel}`);
        masks = layerMasks(FORWARD, B, c.nhead, L, L, { name: 'options.srcMask', value: o.srcMask },
          { name: 'options.srcKeyPaddingMask', value: o.srcKeyPaddingMask }, flag(FORWARD, 'options.isCausal', o.isCausal, false));
      } catch (error) {
        return Promise.reject(error);
      }
      return weights.call('forward', (arena, threads) => {
        const x = arena.place(input.byteLength);
        const stack = placeStack(arena, c, layer.selfAttn.params, threads, B, L, masks);
        arena.commit();
        arena.writeF32(x, input);
        const program: Phase[] = [];
        layerPhases(program, arena, c, layer, stack, x);
        return { program, outputs: [input.length], collect: () => arena.readF32(x, input.length) };
      });
    },
    dispose: () => weights.dispose(module),
    ...asyncDisposer(() => weights.dispose(module)),
  });
  weights.track(module);
  return module;
}
