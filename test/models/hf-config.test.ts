// config.json keys of HF's GPT-2 and BERT that change the math: followed exactly or refused with
// an error naming the key (never read some other way). GPT-2's scale_attn_weights and
// scale_attn_by_inverse_layer_idx against the float64 reference of modeling_gpt2.py's attention
// (test/reference/gpt2.ts), forward and greedy generation, same bits at threads 1 and 2;
// GPT2Config's aliases; booleans that HF reads by truthiness; the activation names.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSafetensors, type BertConfig, type Engine } from '../../dist/index.js';
import { forcedEngines } from '../helpers/engines.js';
import { argmax, expectClose, expectSameBits } from '../helpers/compare.js';
import { randomGpt2 } from '../helpers/gpt2-weights.js';
import { referenceGpt2 } from '../reference/gpt2.js';
import { gelu, geluTanh, relu } from '../reference/activation.js';

const TOL = 2e-4;
const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};
/** The ACT2FN names the models take (src/models/activation.ts), as messages list them. */
const NAMES = '"gelu", "gelu_python", "gelu_new", "gelu_pytorch_tanh", "gelu_fast", "gelu_accurate", "relu"';
const CONFIG = { vocab_size: 41, n_positions: 24, n_embd: 24, n_layer: 3, n_head: 4, layer_norm_epsilon: 1e-5 };


let engines: Engine[];
beforeAll(async () => { engines = await forcedEngines([1, 2]); });
afterAll(async () => { await Promise.all(engines.map((e) => e.dispose())); });

describe('GPT-2 config flags', () => {
  const weights = randomGpt2(CONFIG, 7, 0.6); // scores spread enough that their scale matters
  const ids = [3, 17, 40, 0, 22, 9, 31, 5, 12];
  const ref = (flags: { scaleAttnWeights?: boolean; scaleAttnByInverseLayerIdx?: boolean }, seq: ArrayLike<number>) =>
    referenceGpt2({ embd: CONFIG.n_embd, heads: CONFIG.n_head, layers: CONFIG.n_layer, vocab: CONFIG.vocab_size, inner: 4 * CONFIG.n_embd,
      eps: CONFIG.layer_norm_epsilon, ...flags }, weights, seq);

  const cases = [
    { name: 'scale_attn_weights false', config: { scale_attn_weights: false }, flags: { scaleAttnWeights: false } },
    { name: 'scale_attn_by_inverse_layer_idx true', config: { scale_attn_by_inverse_layer_idx: true }, flags: { scaleAttnByInverseLayerIdx: true } },
    { name: 'both', config: { scale_attn_weights: false, scale_attn_by_inverse_layer_idx: true },
      flags: { scaleAttnWeights: false, scaleAttnByInverseLayerIdx: true } },
  ];
  for (const c of cases) {
    it(`${c.name}: logits and greedy tokens as modeling_gpt2.py's attention, threads 1 and 2 alike`, async () => {
      const want = ref(c.flags, ids);
      // The flag must matter here, or the test could not fail.
      const plain = ref({}, ids);
      expect(want.reduce((m, v, i) => Math.max(m, Math.abs(v - plain[i])), 0)).toBeGreaterThan(0.05);
      // Greedy tokens of the reference, one position at a time.
      const tokens: number[] = [];
      const seq = ids.slice(0, 4);
      for (let step = 0; step < 8; step++) {
        const logits = ref(c.flags, seq);
        const next = argmax(logits, (seq.length - 1) * CONFIG.vocab_size, CONFIG.vocab_size);
        tokens.push(next);
        seq.push(next);
      }
      const outs: Float32Array[] = [];
      for (const engine of engines) {
        const model = engine.gpt2({ config: { ...CONFIG, ...c.config }, weights });
        expect(model.config.scaleAttnWeights).toBe(c.flags.scaleAttnWeights ?? true);
        expect(model.config.scaleAttnByInverseLayerIdx).toBe(c.flags.scaleAttnByInverseLayerIdx ?? false);
        const { logits } = await model.forward(ids, { batch: 1, seq: ids.length });
        expectClose(logits, want, TOL, TOL, `${c.name} logits, threads ${engine.threads}`);
        outs.push(logits);
        const got: number[] = [];
        for await (const step of model.generate(ids.slice(0, 4), { maxNewTokens: 8 })) got.push(step[0]);
        expect(got, `${c.name} greedy tokens, threads ${engine.threads}`).toEqual(tokens);
        await model.dispose();
      }
      expectSameBits(outs[1], outs[0], `${c.name}: threads 2 against 1`);
    });
  }

  it('GPT2Config aliases (hidden_size, …) read as their keys; an alias that disagrees is a RangeError naming both', async () => {
    const base = engines[0].gpt2({ config: CONFIG, weights });
    const want = (await base.forward(ids, { batch: 1, seq: ids.length })).logits;
    const { n_embd, n_positions, n_head, n_layer, ...rest } = CONFIG;
    const aliased = engines[0].gpt2({
      config: { ...rest, hidden_size: n_embd, max_position_embeddings: n_positions, num_attention_heads: n_head, num_hidden_layers: n_layer },
      weights,
    });
    expectSameBits((await aliased.forward(ids, { batch: 1, seq: ids.length })).logits, want, 'aliases only');
    const both = engines[0].gpt2({ config: { ...CONFIG, num_attention_heads: n_head, hidden_size: n_embd }, weights });
    expectSameBits((await both.forward(ids, { batch: 1, seq: ids.length })).logits, want, 'aliases equal to their keys');
    expect(() => engines[0].gpt2({ config: { ...CONFIG, num_attention_heads: 2 }, weights }))
      .toThrow(/gpt2: config\.num_attention_heads \(2\) disagrees with config\.n_head \(4\)/);
    expect(() => engines[0].gpt2({ config: { ...CONFIG, num_hidden_layers: 2 }, weights })).toThrow(RangeError);
    expect(() => engines[0].gpt2({ config: { ...rest, n_positions, n_head, n_layer, hidden_size: 'wide' }, weights }))
      .toThrow(/config\.hidden_size/);
    await Promise.all([base.dispose(), aliased.dispose(), both.dispose()]);
  });

  it('flags HF reads by truthiness must be booleans: a TypeError naming the key, and the engine stays usable', async () => {
    for (const [key, value] of [['scale_attn_weights', 0], ['scale_attn_weights', null], ['scale_attn_weights', 'yes'],
      ['scale_attn_by_inverse_layer_idx', 1], ['scale_attn_by_inverse_layer_idx', 'true'], ['tie_word_embeddings', 0]] as const) {
      expect(() => engines[0].gpt2({ config: { ...CONFIG, [key]: value }, weights }), `${key}: ${JSON.stringify(value)}`)
        .toThrow(new RegExp(`^gpt2: config\\.${key} must be a boolean`));
      try { engines[0].gpt2({ config: { ...CONFIG, [key]: value }, weights }); } catch (e) { expect(e).toBeInstanceOf(TypeError); }
    }
    const model = engines[0].gpt2({ config: CONFIG, weights });
    expectClose((await model.forward(ids, { batch: 1, seq: ids.length })).logits, ref({}, ids), TOL, TOL, 'after the refusals');
    await model.dispose();
  });

  it('add_cross_attention: the blocks\' cross-attention weights load as unused (HF runs them only with encoder_hidden_states)', async () => {
    const E = CONFIG.n_embd, cross: Record<string, Float32Array> = {};
    for (let l = 0; l < CONFIG.n_layer; l++) {
      const p = `transformer.h.${l}.`;
      Object.assign(cross, {
        [`${p}crossattention.c_attn.weight`]: new Float32Array(E * 2 * E).fill(0.3), [`${p}crossattention.c_attn.bias`]: new Float32Array(2 * E),
        [`${p}crossattention.q_attn.weight`]: new Float32Array(E * E).fill(0.3), [`${p}crossattention.q_attn.bias`]: new Float32Array(E),
        [`${p}crossattention.c_proj.weight`]: new Float32Array(E * E).fill(0.3), [`${p}crossattention.c_proj.bias`]: new Float32Array(E),
        [`${p}ln_cross_attn.weight`]: new Float32Array(E).fill(1), [`${p}ln_cross_attn.bias`]: new Float32Array(E),
        // the mask buffers its attention module registers, as the self-attention's
        [`${p}crossattention.bias`]: new Float32Array(CONFIG.n_positions ** 2), [`${p}crossattention.masked_bias`]: new Float32Array(1),
      });
    }
    const base = engines[0].gpt2({ config: CONFIG, weights });
    const want = (await base.forward(ids, { batch: 1, seq: ids.length })).logits;
    await base.dispose();
    for (const e of engines) {
      const model = e.gpt2({ config: { ...CONFIG, add_cross_attention: true }, weights: { ...weights, ...cross } });
      expect([...model.unusedKeys].sort()).toEqual(Object.keys(cross).sort());
      expectSameBits((await model.forward(ids, { batch: 1, seq: ids.length })).logits, want, `threads ${e.threads}`);
      await model.dispose();
    }
    expect(() => engines[0].gpt2({ config: CONFIG, weights: { ...weights, ...cross } }))
      .toThrow(/weights\["transformer\.h\.0\.crossattention\.c_attn\.weight"\] is a cross-attention weight, but config\.add_cross_attention is not true/);
    expect(() => engines[0].gpt2({ config: { ...CONFIG, add_cross_attention: true },
      weights: { ...weights, 'h.3.ln_cross_attn.weight': new Float32Array(E) } })).toThrow(/has layer index 3, but config\.n_layer is 3/);
    expect(() => engines[0].gpt2({ config: { ...CONFIG, add_cross_attention: 1 }, weights })).toThrow(/config\.add_cross_attention must be a boolean/);
  });

  it('activation_function: each HF name of an epilogue\'s activation as modeling_gpt2.py runs it (the same bits per form); others are refused by name', async () => {
    const base = engines[0].gpt2({ config: CONFIG, weights });
    const want = (await base.forward(ids, { batch: 1, seq: ids.length })).logits;
    const forms = [
      { names: ['gelu_new', 'gelu_pytorch_tanh', 'gelu_fast', 'gelu_accurate'], act: geluTanh },
      { names: ['gelu', 'gelu_python'], act: gelu },
      { names: ['relu'], act: relu },
    ];
    const plain = referenceGpt2({ embd: CONFIG.n_embd, heads: CONFIG.n_head, layers: CONFIG.n_layer, vocab: CONFIG.vocab_size,
      inner: 4 * CONFIG.n_embd, eps: CONFIG.layer_norm_epsilon }, weights, ids);
    for (const form of forms) {
      const ref = referenceGpt2({ embd: CONFIG.n_embd, heads: CONFIG.n_head, layers: CONFIG.n_layer, vocab: CONFIG.vocab_size,
        inner: 4 * CONFIG.n_embd, eps: CONFIG.layer_norm_epsilon, act: form.act }, weights, ids);
      // The activation must matter here, or the test could not fail: erf and tanh GELU differ by
      // less than 5e-4 anywhere, so each name's logits must also be 10 times closer to their own
      // form's reference than to the default's.
      const apart = maxDiff(ref, plain);
      if (form.act !== geluTanh) expect(apart).toBeGreaterThan(1e-4);
      let first: Float32Array | undefined;
      for (const name of form.names) {
        for (const engine of engines) {
          const model = engine.gpt2({ config: { ...CONFIG, activation_function: name }, weights });
          const logits = (await model.forward(ids, { batch: 1, seq: ids.length })).logits;
          expectClose(logits, ref, TOL, TOL, `${name}, threads ${engine.threads}`);
          if (form.act !== geluTanh) expect(maxDiff(logits, ref), name).toBeLessThan(apart / 10);
          if (first) expectSameBits(logits, first, `${name}, threads ${engine.threads}`);
          first ??= logits;
          await model.dispose();
        }
      }
      if (form.act === geluTanh) expectSameBits(first!, want, 'the default, gelu_new');
    }
    // model_type: GPT-2's or none (ImageGPT, with GPT-2's key names, runs other math)
    expect(() => engines[0].gpt2({ config: { ...CONFIG, model_type: 'imagegpt' }, weights }))
      .toThrow(new RangeError('gpt2: config.model_type must be \'gpt2\' (or absent), got "imagegpt"'));
    expect(() => engines[0].gpt2({ config: { ...CONFIG, model_type: 2 }, weights })).toThrow(TypeError);
    void engines[0].gpt2({ config: { ...CONFIG, model_type: 'gpt2' }, weights }).dispose();
    for (const act of ['quick_gelu', 'silu', 'gelu_10', 'swish', 'Gelu_new', 'toString']) {
      expect(() => engines[0].gpt2({ config: { ...CONFIG, activation_function: act }, weights }))
        .toThrow(new RangeError(`gpt2: config.activation_function must be one of ${NAMES} (the activations implemented), got "${act}"`));
    }
    // values JSON has no form for were a bare "Do not know how to serialize a BigInt" (found by
    // test/models/model-constructor-fuzz.test.ts)
    for (const act of [7, 2n, Symbol('gelu_new'), null, ['gelu_new']]) {
      expect(() => engines[0].gpt2({ config: { ...CONFIG, activation_function: act }, weights }))
        .toThrow(new TypeError(`gpt2: config.activation_function must be a string (${NAMES}), got ${
          act === null ? 'null' : Array.isArray(act) ? 'Array(1)' : typeof act === 'number' ? '7' : typeof act}`));
    }
    expect(() => engines[0].gpt2({ config: { ...CONFIG, hidden_size: 2n }, weights }))
      .toThrow(/gpt2: config\.hidden_size \(bigint\) disagrees with config\.n_embd \(24\)/);
    await base.dispose();
  });
});

describe('BERT config flags', () => {
  const dir = new URL('../fixtures/bert/', import.meta.url);
  const config: BertConfig = JSON.parse(readFileSync(new URL('prefixed-cls/config.json', dir), 'utf8'));
  const weights = loadSafetensors(readFileSync(new URL('prefixed-cls/model.safetensors', dir)));

  it('tie_word_embeddings must be a boolean; add_cross_attention must be false (HF refuses it without is_decoder)', () => {
    for (const value of [0, null, 'false']) {
      expect(() => engines[0].bertForMaskedLM({ config: { ...config, tie_word_embeddings: value } as BertConfig, weights }))
        .toThrow(/bertForMaskedLM: options\.config\.tie_word_embeddings must be a boolean/);
      expect(() => engines[0].bert({ config: { ...config, tie_word_embeddings: value } as BertConfig, weights }))
        .toThrow(TypeError);
    }
    expect(() => engines[0].bert({ config: { ...config, add_cross_attention: true } as BertConfig, weights }))
      .toThrow(/bert: options\.config\.add_cross_attention must be false/);
    expect(() => engines[0].bertForMaskedLM({ config: { ...config, add_cross_attention: 1 } as BertConfig, weights }))
      .toThrow(/options\.config\.add_cross_attention must be a boolean/);
    for (const [key, value] of [['is_decoder', 2n], ['is_decoder', 'false'], ['position_embedding_type', 2n], ['position_embedding_type', 0]] as const) {
      expect(() => engines[0].bert({ config: { ...config, [key]: value } as BertConfig, weights }))
        .toThrow(new RegExp(`^bert: options\\.config\\.${key} must be `));
      expect(() => engines[0].bert({ config: { ...config, [key]: value } as BertConfig, weights })).toThrow(TypeError);
    }
    expect(() => engines[0].bert({ config: { ...config, position_embedding_type: 'relative_key' } as BertConfig, weights }))
      .toThrow(new RangeError('bert: options.config.position_embedding_type must be \'absolute\', got "relative_key"'));
    // A RoBERTa-family base model has BertModel's keys but its own position ids: refused by its
    // model_type, where it ran as BERT with other numbers.
    for (const type of ['roberta', 'xlm-roberta', 'electra']) {
      expect(() => engines[0].bert({ config: { ...config, model_type: type } as BertConfig, weights }))
        .toThrow(new RegExp(`^bert: options\\.config\\.model_type must be 'bert' \\(or absent\\), got "${type}"`));
      expect(() => engines[0].bertForMaskedLM({ config: { ...config, model_type: type } as BertConfig, weights })).toThrow(RangeError);
    }
    expect(() => engines[0].bert({ config: { ...config, model_type: 1 } as unknown as BertConfig, weights })).toThrow(TypeError);
    for (const ok of [{ add_cross_attention: false }, { tie_word_embeddings: true }, { tie_word_embeddings: false }, { model_type: 'bert' }]) {
      void engines[0].bert({ config: { ...config, ...ok } as BertConfig, weights }).dispose();
    }
  });
});
