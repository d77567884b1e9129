// `await using` on every handle with dispose(): the engine, tensors, the PyTorch modules and the
// HF models answer Symbol.asyncDispose (where the runtime defines it, as Node 20.4+ does) with
// their own dispose(): at the block's end the handle is disposed, its memory given back.
import { describe, expect, it } from 'vitest';
import { createEngine, type Engine } from '../../dist/index.js';
import { randomF32 } from '../helpers/random.js';
import { randomGpt2 } from '../helpers/gpt2-weights.js';

const residentBytes = (engine: Engine): number =>
  (engine as unknown as Record<symbol, () => { arena: { residentBytes: number } }>)[Symbol.for('wasm-attention.debug')]().arena.residentBytes;

const D = 16, H = 2, FF = 24;
const linearDict = (p: string, out: number, inp: number, seed: number): Record<string, Float32Array> =>
  ({ [`${p}weight`]: randomF32(out * inp, seed, 0.3), [`${p}bias`]: randomF32(out, seed + 1, 0.1) });
const normDict = (p: string): Record<string, Float32Array> =>
  ({ [`${p}weight`]: new Float32Array(D).fill(1), [`${p}bias`]: new Float32Array(D) });

/** nn.TransformerEncoderLayer(D, H, FF).state_dict() keys, random values. */
const encoderDict = (p = ''): Record<string, Float32Array> => ({
  [`${p}self_attn.in_proj_weight`]: randomF32(3 * D * D, 1, 0.3), [`${p}self_attn.in_proj_bias`]: randomF32(3 * D, 2, 0.1),
  ...linearDict(`${p}self_attn.out_proj.`, D, D, 3), ...linearDict(`${p}linear1.`, FF, D, 5), ...linearDict(`${p}linear2.`, D, FF, 7),
  ...normDict(`${p}norm1.`), ...normDict(`${p}norm2.`),
});

/** nn.TransformerDecoderLayer(D, H, FF).state_dict() keys, random values. */
const decoderDict = (p = ''): Record<string, Float32Array> => ({
  ...encoderDict(p), [`${p}multihead_attn.in_proj_weight`]: randomF32(3 * D * D, 8, 0.3),
  [`${p}multihead_attn.in_proj_bias`]: randomF32(3 * D, 9, 0.1), ...linearDict(`${p}multihead_attn.out_proj.`, D, D, 10),
  ...normDict(`${p}norm3.`),
});

/** A BertModel state dict (HF keys without `bert.`), one layer. */
const bertDict = (): Record<string, Float32Array> => {
  const p = 'encoder.layer.0.';
  return {
    'embeddings.word_embeddings.weight': randomF32(30 * D, 11, 0.5), 'embeddings.position_embeddings.weight': randomF32(12 * D, 12, 0.2),
    'embeddings.token_type_embeddings.weight': randomF32(2 * D, 13, 0.2), ...normDict('embeddings.LayerNorm.'),
    ...linearDict(`${p}attention.self.query.`, D, D, 14), ...linearDict(`${p}attention.self.key.`, D, D, 16),
    ...linearDict(`${p}attention.self.value.`, D, D, 18), ...linearDict(`${p}attention.output.dense.`, D, D, 20),
    ...normDict(`${p}attention.output.LayerNorm.`), ...linearDict(`${p}intermediate.dense.`, FF, D, 22),
    ...linearDict(`${p}output.dense.`, D, FF, 24), ...normDict(`${p}output.LayerNorm.`), ...linearDict('pooler.dense.', D, D, 26),
  };
};
const BERT_CONFIG = {
  vocab_size: 30, hidden_size: D, num_hidden_layers: 1, num_attention_heads: H, intermediate_size: FF, hidden_act: 'gelu',
  max_position_embeddings: 12, type_vocab_size: 2, layer_norm_eps: 1e-12,
};
const GPT2_CONFIG = { vocab_size: 30, n_positions: 12, n_embd: D, n_layer: 1, n_head: H, layer_norm_epsilon: 1e-5 };

describe.each([1, 2])('Symbol.asyncDispose, threads %i', (threads) => {
  it('every handle: `await using` disposes it at the end of its block, and gives its memory back', async () => {
    const engine = await createEngine({ threads });
    try {
      const before = residentBytes(engine);
      const x = randomF32(3 * D, 30);
      const handles = {
        tensor: () => engine.createTensor(64),
        linear: () => engine.linear({ inFeatures: D, outFeatures: FF, weights: linearDict('', FF, D, 31) as never }),
        multiHeadAttention: () => engine.multiHeadAttention({ embedDim: D, numHeads: H, weights: {
          inProjWeight: randomF32(3 * D * D, 40, 0.3), inProjBias: randomF32(3 * D, 41, 0.1),
          outProjWeight: randomF32(D * D, 42, 0.3), outProjBias: randomF32(D, 43, 0.1) } }),
        transformerEncoderLayer: () => engine.transformerEncoderLayer({ dModel: D, nhead: H, dimFeedforward: FF, weights: encoderDict() }),
        transformerDecoderLayer: () => engine.transformerDecoderLayer({ dModel: D, nhead: H, dimFeedforward: FF, weights: decoderDict() }),
        transformer: () => engine.transformer({ dModel: D, nhead: H, numEncoderLayers: 1, numDecoderLayers: 1, dimFeedforward: FF, weights: {
          ...encoderDict('encoder.layers.0.'), ...normDict('encoder.norm.'), ...decoderDict('decoder.layers.0.'), ...normDict('decoder.norm.') } }),
        gpt2: () => engine.gpt2({ config: GPT2_CONFIG, weights: randomGpt2(GPT2_CONFIG, 50) }),
        bert: () => engine.bert({ config: BERT_CONFIG, weights: bertDict() }),
        bertForSequenceClassification: () => engine.bertForSequenceClassification({
          config: { ...BERT_CONFIG, id2label: { 0: 'no', 1: 'yes' } }, weights: { ...bertDict(), ...linearDict('classifier.', 2, D, 60) } }),
      };
      for (const [name, make] of Object.entries(handles)) {
        let kept: { dispose(): Promise<void> } | undefined;
        {
          await using handle = make();
          expect(typeof (handle as unknown as Record<symbol, unknown>)[Symbol.asyncDispose], name).toBe('function');
          expect(residentBytes(engine), name).toBeGreaterThan(before);
          kept = handle;
        }
        expect(residentBytes(engine), `${name}: memory given back at the block's end`).toBe(before);
        // Disposed: a later use rejects (the tensor's read, the others' forward).
        const k = kept as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
        const use = name === 'tensor' ? k.read!()
          : name.startsWith('gpt2') || name.startsWith('bert') ? k.forward!([1, 2, 3], { batch: 1, seq: 3 })
            : name === 'multiHeadAttention' ? k.forward!(x, x, x, { batch: 1, seqQ: 3, seqK: 3 })
              : name === 'transformerDecoderLayer' ? k.forward!(x, x, { batch: 1, seqT: 3, seqS: 3 })
                : name === 'transformer' ? k.forward!(x, x, { batch: 1, seqS: 3, seqT: 3 })
                  : k.forward!(x, name === 'linear' ? { rows: 3 } : { batch: 1, seq: 3 });
        await expect(use, name).rejects.toThrow(/disposed/);
        await kept.dispose(); // still idempotent
      }
      // A generate loop left early through `await using`: its KV cache is given back.
      {
        await using model = engine.gpt2({ config: GPT2_CONFIG, weights: randomGpt2(GPT2_CONFIG, 70) });
        const withModel = residentBytes(engine);
        {
          await using steps = model.generate([1, 2, 3], { maxNewTokens: 5 });
          expect((await steps.next()).done).toBe(false);
          expect(residentBytes(engine), 'the KV cache').toBeGreaterThan(withModel);
        }
        expect(residentBytes(engine), 'the KV cache given back').toBe(withModel);
      }
      expect(residentBytes(engine)).toBe(before);
      // The engine is still usable after all of that.
      expect(await engine.gelu(Float32Array.of(0, 1), { approximate: 'none' })).toHaveLength(2);
    } finally {
      await engine.dispose();
    }
  }, 60_000);

  it('the engine: `await using` disposes it, later calls reject', async () => {
    let kept: Engine | undefined;
    {
      await using engine = await createEngine({ threads });
      expect(await engine.gelu(Float32Array.of(1), { approximate: 'tanh' })).toHaveLength(1);
      kept = engine;
    }
    await expect(kept.gelu(Float32Array.of(1), { approximate: 'tanh' })).rejects.toThrow(/dispos/);
  });
});
