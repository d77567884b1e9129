// The README's hub flow end to end, on random weights with the real vocabularies' sizes:
// loadTokenizer's batches go into BertModel and GPT-2 generation as they come out.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, loadTokenizer, type Engine } from '../../dist/index.js';
import { expectClose } from '../helpers/compare.js';
import { randomF32 } from '../helpers/random.js';
import { bertTokenizerJson, gpt2TokenizerJson } from '../helpers/tokenizers.mjs';
import { referenceBert } from '../reference/bert.js';

let engine: Engine;
beforeAll(async () => { engine = await createEngine({ threads: 2 }); });
afterAll(async () => { await engine.dispose(); });

/** Random weights for every key of `shapes` ({ key: element count }), from `seed`. */
function randomWeights(shapes: Record<string, [number, number, number?]>, seed: number): Record<string, Float32Array> {
  const w: Record<string, Float32Array> = {};
  for (const [key, [n, scale, offset = 0]] of Object.entries(shapes)) w[key] = randomF32(n, seed++, scale).map((v) => v + offset);
  return w;
}

describe('loadTokenizer → BertModel', () => {
  it("encodeBatch's padded pairs give BertModel the float64 reference's hidden states", async () => {
    const tokenizer = loadTokenizer(bertTokenizerJson());
    const V = 30522, d = 16, I = 32, P = 64;
    const config = {
      vocab_size: V, hidden_size: d, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: I,
      max_position_embeddings: P, type_vocab_size: 2, layer_norm_eps: 1e-12, hidden_act: 'gelu',
    };
    const p = 'encoder.layer.0.';
    const w = randomWeights({
      'embeddings.word_embeddings.weight': [V * d, 1], 'embeddings.position_embeddings.weight': [P * d, 0.5],
      'embeddings.token_type_embeddings.weight': [2 * d, 0.5], 'embeddings.LayerNorm.weight': [d, 0.1, 1], 'embeddings.LayerNorm.bias': [d, 0.1],
      [`${p}attention.self.query.weight`]: [d * d, 0.4], [`${p}attention.self.query.bias`]: [d, 0.1],
      [`${p}attention.self.key.weight`]: [d * d, 0.4], [`${p}attention.self.key.bias`]: [d, 0.1],
      [`${p}attention.self.value.weight`]: [d * d, 0.4], [`${p}attention.self.value.bias`]: [d, 0.1],
      [`${p}attention.output.dense.weight`]: [d * d, 0.4], [`${p}attention.output.dense.bias`]: [d, 0.1],
      [`${p}attention.output.LayerNorm.weight`]: [d, 0.1, 1], [`${p}attention.output.LayerNorm.bias`]: [d, 0.1],
      [`${p}intermediate.dense.weight`]: [I * d, 0.4], [`${p}intermediate.dense.bias`]: [I, 0.1],
      [`${p}output.dense.weight`]: [d * I, 0.3], [`${p}output.dense.bias`]: [d, 0.1],
      [`${p}output.LayerNorm.weight`]: [d, 0.1, 1], [`${p}output.LayerNorm.bias`]: [d, 0.1],
    }, 7);
    const model = engine.bert({ config, weights: w });
    const { batch, seq, inputIds, attentionMask, tokenTypeIds } = tokenizer.encodeBatch(
      ['Where is the Eiffel tower?', 'Who wrote it?', 'A café in Zürich serves 東京 tea.'],
      { textPairs: ['It stands in Paris, France.', 'Nobody knows.', 'Really?'], truncation: true, maxLength: 24 },
    );
    expect(batch).toBe(3);
    expect(Array.from(attentionMask)).toContain(0);
    const { lastHiddenState } = await model.forward(inputIds, { batch, seq, attentionMask, tokenTypeIds });
    const want = referenceBert({ hidden: d, heads: 2, layers: 1, intermediate: I, eps: 1e-12 }, w, inputIds, tokenTypeIds, attentionMask, batch, seq);
    expectClose(lastHiddenState, want.lastHiddenState, 2e-4, 2e-4, 'lastHiddenState');
    await model.dispose();
  });
});

describe('loadTokenizer → GPT-2 generate', () => {
  it('left-padded prompts generate what each prompt generates alone, and decodeStream spells the tokens', async () => {
    const tokenizer = loadTokenizer(gpt2TokenizerJson());
    const V = 50257, E = 8, N = 32;
    const config = { vocab_size: V, n_positions: N, n_embd: E, n_layer: 1, n_head: 2, layer_norm_epsilon: 1e-5 };
    const h = 'h.0.';
    const weights = randomWeights({
      'wte.weight': [V * E, 0.5], 'wpe.weight': [N * E, 0.1], 'ln_f.weight': [E, 0.2, 1], 'ln_f.bias': [E, 0.2],
      [`${h}ln_1.weight`]: [E, 0.2, 1], [`${h}ln_1.bias`]: [E, 0.2], [`${h}ln_2.weight`]: [E, 0.2, 1], [`${h}ln_2.bias`]: [E, 0.2],
      [`${h}attn.c_attn.weight`]: [E * 3 * E, 0.4], [`${h}attn.c_attn.bias`]: [3 * E, 0.2],
      [`${h}attn.c_proj.weight`]: [E * E, 0.2], [`${h}attn.c_proj.bias`]: [E, 0.2],
      [`${h}mlp.c_fc.weight`]: [E * 4 * E, 0.2], [`${h}mlp.c_fc.bias`]: [4 * E, 0.2],
      [`${h}mlp.c_proj.weight`]: [4 * E * E, 0.1], [`${h}mlp.c_proj.bias`]: [E, 0.2],
    }, 11);
    const model = engine.gpt2({ config, weights });
    const prompts = ['The meaning of life is', 'Hello', 'Zürich 😀'];
    const padded = tokenizer.encodeBatch(prompts, { paddingSide: 'left', padTokenId: 50256 });
    const rows: number[][] = prompts.map(() => []);
    for await (const step of model.generate(padded.inputIds, { batch: padded.batch, attentionMask: padded.attentionMask, maxNewTokens: 6 })) {
      Array.from(step).forEach((id, b) => rows[b]!.push(id));
    }
    for (let b = 0; b < prompts.length; b++) {
      const alone: number[] = [];
      for await (const [id] of model.generate(tokenizer.encode(prompts[b]!).inputIds, { maxNewTokens: 6 })) alone.push(id!);
      expect(rows[b], `prompt ${b}`).toEqual(alone);
      const stream = tokenizer.decodeStream();
      const pieces = alone.map((id) => stream.step(id) ?? '').join('');
      const whole = tokenizer.decode(alone);
      expect(whole.startsWith(pieces)).toBe(true);
      if (!whole.endsWith('\ufffd')) expect(pieces).toBe(whole);
    }
    await model.dispose();
  });
});
