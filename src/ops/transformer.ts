// engine.transformer: nn.Transformer(batch_first=True), eval mode, from its state dict: an encoder
// stack with its final norm (encoder.norm), a decoder stack with its final norm (decoder.norm).
// forward(src, tgt) is one program — every layer of both stacks in one dispatch; encode() and
// decode() split it for a greedy decoding loop, where memory can stay in the engine as a tensor.
import type {
  TensorLike, Transformer, TransformerConfig, TransformerDecodeOptions, TransformerEncodeOptions,
  TransformerForwardOptions,
} from '../types.js';
import type { Arena } from '../wasm/arena.js';
import type { Phase } from '../parallel/phases.js';
import { array, dim, flag, keysOf, optionalDim, options } from '../validate.js';
import { ModuleWeights, readStateDict, type ModuleHost } from './modules.js';
import { writeInput, type TensorRegistry } from './tensor.js';
import {
  layerBlocks, layerConfig, layerPhases, layerSpecs, layerWeights, normBlock, normPhase, normSpecs,
  layerMasks, placeStack, rowsOf, type AttentionMasks, type LayerConfig, type LayerWeights, type NormBlock,
} from './transformer-layer.js';
import { DECODE_KEYS, placeMemory, planDecode, type DecodePlan } from './transformer-decoder-layer.js';
import { asyncDisposer } from '../disposable.js';

const OP = 'transformer';
const CONFIG_KEYS = keysOf<TransformerConfig>({
  dModel: true, nhead: true, numEncoderLayers: true, numDecoderLayers: true, dimFeedforward: true, activation: true,
  layerNormEps: true, normFirst: true, bias: true, dropout: true, batchFirst: true, weights: true, quantize: true,
});
const ENCODE_KEYS = keysOf<TransformerEncodeOptions>({
  batch: true, seqS: true, srcMask: true, srcKeyPaddingMask: true, srcIsCausal: true,
});
const FORWARD_KEYS = keysOf<TransformerForwardOptions>({
  batch: true, seqT: true, seqS: true, tgtMask: true, memoryMask: true, tgtKeyPaddingMask: true,
  memoryKeyPaddingMask: true, tgtIsCausal: true, srcMask: true, srcKeyPaddingMask: true, srcIsCausal: true,
});

/** A checked encoder call. */
interface EncodePlan { B: number; Ls: number; src: Float32Array; masks: AttentionMasks }

function planEncode(op: string, c: LayerConfig, src: unknown, o: Partial<TransformerEncodeOptions>): EncodePlan {
  const B = dim(op, 'options.batch', o.batch), Ls = dim(op, 'options.seqS', o.seqS);
  return {
    B, Ls,
    src: array(op, 'src', src, 'Float32Array', rowsOf(op, 'src', B, Ls, c.dModel), `batch·seqS·dModel = ${B}·${Ls}·${c.dModel}`),
    masks: layerMasks(op, B, c.nhead, Ls, Ls, { name: 'options.srcMask', value: o.srcMask },
      { name: 'options.srcKeyPaddingMask', value: o.srcKeyPaddingMask }, flag(op, 'options.srcIsCausal', o.srcIsCausal, false)),
  };
}

interface Stacks {
  c: LayerConfig;
  encoder: LayerWeights[]; encoderNorm: NormBlock;
  decoder: LayerWeights[]; decoderNorm: NormBlock;
}

/** The encoder's phases on the copy of src at x (memory left at x). */
function encodePhases(arena: Arena, s: Stacks, e: EncodePlan, x: number, threads: number): { place(): void; phases(): Phase[] } {
  let stack: ReturnType<typeof placeStack>;
  return {
    place: () => { stack = placeStack(arena, s.c, s.encoder[0].selfAttn.params, threads, e.B, e.Ls, e.masks); },
    phases: () => {
      const program: Phase[] = [];
      for (const layer of s.encoder) layerPhases(program, arena, s.c, layer, stack, x);
      program.push(normPhase(s.c, stack, s.encoderNorm, x, x));
      return program;
    },
  };
}

/** The decoder's phases on the copy of tgt at x over memory at `memory` (output left at x). */
function decodePhases(arena: Arena, s: Stacks, d: DecodePlan, x: number, memory: () => number, threads: number): { place(): void; phases(): Phase[] } {
  let stack: ReturnType<typeof placeStack> | undefined;
  return {
    place: () => {
      if (s.decoder.length === 0) return; // decoder.norm(tgt) only
      stack = placeStack(arena, s.c, s.decoder[0].selfAttn.params, threads, d.B, d.Lt, d.self,
        { Lk: d.Ls, masks: d.cross, params: s.decoder[0].multiheadAttn!.params });
    },
    phases: () => {
      const program: Phase[] = [];
      for (const layer of s.decoder) layerPhases(program, arena, s.c, layer, stack!, x, memory());
      program.push(normPhase(s.c, stack ?? { rows: d.B * d.Lt }, s.decoderNorm, x, x));
      return program;
    },
  };
}

export function createTransformer(config: unknown, host: ModuleHost, tensors: TensorRegistry): Transformer {
  const cfg = options(OP, 'config', config, false, CONFIG_KEYS) as Partial<TransformerConfig>;
  const c = layerConfig(OP, cfg);
  const nEnc = optionalDim(OP, 'config.numEncoderLayers', cfg.numEncoderLayers, 6);
  // torch builds a decoder of no layers (its output is decoder.norm(tgt)); an encoder of none
  // fails in torch's forward (it reads layers[0]), so it is refused here.
  const nDec = cfg.numDecoderLayers === 0 ? 0 : optionalDim(OP, 'config.numDecoderLayers', cfg.numDecoderLayers, 6);
  const specs = [
    ...Array.from({ length: nEnc }, (_, i) => layerSpecs(c, `encoder.layers.${i}.`, false)).flat(),
    ...normSpecs(c, 'encoder.norm.'),
    ...Array.from({ length: nDec }, (_, i) => layerSpecs(c, `decoder.layers.${i}.`, true)).flat(),
    ...normSpecs(c, 'decoder.norm.'),
  ];
  const w = readStateDict(OP, 'config.weights', cfg.weights, specs, c.quantize);
  const s: Stacks = {
    c,
    encoder: Array.from({ length: nEnc }, (_, i) => layerWeights(c, w, `encoder.layers.${i}.`, false, OP)),
    encoderNorm: normBlock(w, 'encoder.norm.', c.bias),
    decoder: Array.from({ length: nDec }, (_, i) => layerWeights(c, w, `decoder.layers.${i}.`, true, OP)),
    decoderNorm: normBlock(w, 'decoder.norm.', c.bias),
  };
  const weights = new ModuleWeights(host,
    [...s.encoder.flatMap(layerBlocks), s.encoderNorm, ...s.decoder.flatMap(layerBlocks), s.decoderNorm], 'Transformer');

  const module: Transformer = Object.freeze({
    encode(src: Float32Array, opts: TransformerEncodeOptions): Promise<Float32Array> {
      const F = 'Transformer.encode';
      let e: EncodePlan;
      try {
        e = planEncode(F, c, src, options(F, 'options', opts, false, ENCODE_KEYS));
      } catch (error) {
        return Promise.reject(error);
      }
      return weights.call('encode', (arena, threads) => {
        const x = arena.place(e.src.byteLength);
        const enc = encodePhases(arena, s, e, x, threads);
        enc.place();
        arena.commit();
        arena.writeF32(x, e.src);
        return { program: enc.phases(), outputs: [e.src.length], collect: () => arena.readF32(x, e.src.length) };
      });
    },
    decode(tgt: Float32Array, memory: TensorLike, opts: TransformerDecodeOptions): Promise<Float32Array> {
      const F = 'Transformer.decode';
      let d: DecodePlan;
      try {
        d = planDecode(F, c, tgt, memory, opts, DECODE_KEYS, tensors);
      } catch (error) {
        return Promise.reject(error);
      }
      return weights.call('decode', (arena, threads) => {
        const x = arena.place(d.tgt.byteLength);
        const mem = placeMemory(arena, d, F);
        const dec = decodePhases(arena, s, d, x, () => mem, threads);
        dec.place();
        arena.commit();
        arena.writeF32(x, d.tgt);
        writeInput(arena, mem, d.memory);
        return { program: dec.phases(), outputs: [d.tgt.length], collect: () => arena.readF32(x, d.tgt.length) };
      });
    },
    forward(src: Float32Array, tgt: Float32Array, opts: TransformerForwardOptions): Promise<Float32Array> {
      const F = 'Transformer.forward';
      let e: EncodePlan, d: DecodePlan;
      try {
        const o = options(F, 'options', opts, false, FORWARD_KEYS) as Partial<TransformerForwardOptions>;
        e = planEncode(F, c, src, o);
        // memory is the encoder's output: checked as src was; its data comes from the program.
        const { srcMask: _m, srcKeyPaddingMask: _p, srcIsCausal: _c, ...decodeOptions } = o;
        d = planDecode(F, c, tgt, src, decodeOptions, DECODE_KEYS, tensors);
        if (d.Ls !== e.Ls) throw new RangeError(`${F}: options.seqS is the length of src and of memory`);
      } catch (error) {
        return Promise.reject(error);
      }
      return weights.call('forward', (arena, threads) => {
        const xs = arena.place(e.src.byteLength);
        const xt = arena.place(d.tgt.byteLength);
        const enc = encodePhases(arena, s, e, xs, threads);
        const dec = decodePhases(arena, s, d, xt, () => xs, threads);
        enc.place();
        dec.place();
        arena.commit();
        arena.writeF32(xs, e.src);
        arena.writeF32(xt, d.tgt);
        return { program: [...enc.phases(), ...dec.phases()], outputs: [d.tgt.length], collect: () => arena.readF32(xt, d.tgt.length) };
      });
    },
    dispose: () => weights.dispose(module),
    ...asyncDisposer(() => weights.dispose(module)),
  });
  weights.track(module);
  return module;
}
