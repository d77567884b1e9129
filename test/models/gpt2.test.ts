// engine.gpt2 against the PyTorch reference of modeling_gpt2.py (test/fixtures/make_gpt2_fixtures.py):
// HF checkpoints (config.json + model.safetensors; F32, F16 and BF16, with and without `transformer.`,
// tied and untied lm_head) give HF's logits, attentions and greedy tokens, at threads 1 and 2
// with the pool forced, with identical bits across threads; and the decoding path (the GEMV) on a
// random geometry: identical bits at threads 1/2/3, the GEMM's bits, greedy = full-forward argmax.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSafetensors, type Engine } from '../../dist/index.js';
import { forcedEngines } from '../helpers/engines.js';
import { expectClose, expectSameBits } from '../helpers/compare.js';
import { fixtureF32 } from '../helpers/fixtures.js';
import { randomF32 } from '../helpers/random.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const dir = new URL('../fixtures/gpt2/', import.meta.url);
const expected: Json[] = JSON.parse(readFileSync(new URL('expected.json', dir), 'utf8')).cases;
const checkpoint = (name: string): { config: Json; weights: Record<string, Float32Array> } => ({
  config: JSON.parse(readFileSync(new URL(`${name}/config.json`, dir), 'utf8')),
  weights: loadSafetensors(readFileSync(new URL(`${name}/model.safetensors`, dir))),
});
const TOL = 2e-4;

let engines: Engine[];
beforeAll(async () => { engines = await forcedEngines([1, 2]); });
afterAll(async () => { await Promise.all(engines.map((e) => e.dispose())); });

describe.each(expected.map((c) => [c.name, c]))('GPT-2 fixture %s', (name, c) => {
  it('logits (and attentions) match modeling_gpt2.py, same bits at threads 1 and 2', async () => {
    const results = [];
    for (const engine of engines) {
      const model = engine.gpt2(checkpoint(name));
      const out = await model.forward(c.inputIds, { batch: c.batch, seq: c.seq, outputAttentions: !!c.attentions });
      expectClose(out.logits, fixtureF32(c.logits), TOL, TOL, `${name} logits (threads ${engine.threads})`);
      if (c.attentions) {
        c.attentions.forEach((a: Json, i: number) => expectClose(out.attentions![i], fixtureF32(a), TOL, TOL, `attentions[${i}]`));
      }
      const masked = await model.forward(Int32Array.from(c.inputIds), { batch: c.batch, seq: c.seq, attentionMask: c.attentionMask });
      // Rows at padded positions (every key they see is padding) are not compared: HF gives them
      // a uniform average over finfo.min-shifted logits, and nothing reads them.
      const V = masked.logits.length / (c.batch * c.seq), want = fixtureF32(c.maskedLogits);
      c.attentionMask.forEach((on: number, row: number) => {
        if (on) expectClose(masked.logits.subarray(row * V, (row + 1) * V), want.subarray(row * V, (row + 1) * V), TOL, TOL, `${name} masked logits row ${row} (threads ${engine.threads})`);
      });
      results.push([out.logits, masked.logits]);
      await model.dispose();
    }
    expect(Buffer.from(results[1][0].buffer).equals(Buffer.from(results[0][0].buffer))).toBe(true);
    expect(Buffer.from(results[1][1].buffer).equals(Buffer.from(results[0][1].buffer))).toBe(true);
  });

  it('greedy generation with the KV cache gives the reference tokens', async () => {
    for (const engine of engines) {
      const model = engine.gpt2(checkpoint(name));
      const steps: number[][] = [];
      for await (const next of model.generate(c.prompt, { batch: 2, maxNewTokens: 10 })) steps.push(Array.from(next));
      const perSequence = [0, 1].flatMap((b) => steps.map((s) => s[b]));
      expect(perSequence, `threads ${engine.threads}`).toEqual(c.greedy);
      await model.dispose();
    }
  });
});

describe('GPT-2 checkpoints', () => {
  it('lists buffers as unused and reads both key forms', () => {
    const a = engines[0].gpt2(checkpoint('tiny-f32'));
    expect(a.unusedKeys).toContain('transformer.h.0.attn.bias');
    expect(a.unusedKeys).toContain('transformer.h.1.attn.masked_bias');
    expect(a.config).toMatchObject({ vocabSize: 64, nEmbd: 32, nHead: 4, nLayer: 2, tiedLmHead: false });
    const b = engines[0].gpt2(checkpoint('small-f16'));
    expect(b.unusedKeys).toEqual([]);
    expect(b.config.tiedLmHead).toBe(true);
    void a.dispose();
    void b.dispose();
  });

  it('names bad configs, keys and inputs', async () => {
    const engine = engines[0];
    const { config, weights } = checkpoint('small-f16');
    const without = { ...config };
    delete without.n_head;
    expect(() => engine.gpt2({ config: without, weights })).toThrow(TypeError);
    expect(() => engine.gpt2({ config: without, weights })).toThrow(/config\.n_head/);
    expect(() => engine.gpt2({ config: { ...config, activation_function: 'relu' }, weights })).toThrow(/activation_function/);
    expect(() => engine.gpt2({ config, weights: { ...weights, 'h.2.ln_1.weight': weights['h.0.ln_1.weight'] } }))
      .toThrow(/weights\["h\.2\.ln_1\.weight"\] has layer index 2/);
    expect(() => engine.gpt2({ config, weights: { ...weights, 'h.0.attn.q_proj.weight': weights['h.0.ln_1.weight'] } }))
      .toThrow(RangeError);
    const missing = { ...weights };
    delete missing['ln_f.bias'];
    expect(() => engine.gpt2({ config, weights: missing })).toThrow(/ln_f\.bias/);
    const model = engine.gpt2({ config, weights });
    await expect(model.forward([1, 2, 100], { batch: 1, seq: 3 })).rejects.toThrow(/inputIds\[2\]/);
    await expect(model.forward([1, 2, -1], { batch: 1, seq: 3 })).rejects.toThrow(RangeError);
    await expect(model.forward(new Int32Array(33), { batch: 1, seq: 33 })).rejects.toThrow(/n_positions/);
    await expect(model.forward([1, 2], { batch: 1, seq: 3 })).rejects.toThrow(/inputIds/);
    expect(() => model.generate([1, 2, 3], { maxNewTokens: 31 })).toThrow(/maxNewTokens/);
    expect(() => model.generate([1, 2, 300], { maxNewTokens: 3 })).toThrow(/promptIds\[2\]/);
    await model.dispose();
  });

  it('samples reproducibly from a seed, and stops at a stop token', async () => {
    const model = engines[0].gpt2(checkpoint('tiny-f32'));
    const draw = async (seed: number): Promise<number[]> => {
      const out: number[] = [];
      for await (const t of model.generate([5, 6, 7], { maxNewTokens: 8, temperature: 0.9, topK: 20, topP: 0.95, seed,
        repetitionPenalty: 1.2 })) out.push(t[0]);
      return out;
    };
    const a = await draw(7);
    expect(a).toHaveLength(8);
    expect(await draw(7)).toEqual(a);
    const stopped: number[] = [];
    for await (const t of model.generate([5, 6, 7], { maxNewTokens: 8, stopTokens: [a[0]], temperature: 0.9, topK: 20,
      topP: 0.95, seed: 7, repetitionPenalty: 1.2 })) stopped.push(t[0]);
    expect(stopped).toEqual([a[0]]);
    await model.dispose();
  });
});

describe('GPT-2 decoding on the GEMV (rows <= GEMV_MAX_ROWS)', () => {
  // A random geometry whose projections are several GEMV items (columns cut at 64: n_embd 72 is
  // 2 items, n_inner 288 is 5, vocab 301 is 5), odd vocab (a partial last panel).
  const E = 72, I = 4 * E, V = 301, LAYERS = 2;
  const config = { vocab_size: V, n_positions: 32, n_embd: E, n_layer: LAYERS, n_head: 4 };
  const weights: Record<string, Float32Array> = {};
  let seed = 1;
  const w = (n: number, scale = 0.2): Float32Array => randomF32(n, seed++, scale);
  Object.assign(weights, { 'wte.weight': w(V * E), 'wpe.weight': w(32 * E), 'ln_f.weight': w(E).map((x) => 1 + x), 'ln_f.bias': w(E) });
  for (let i = 0; i < LAYERS; i++) {
    const p = `h.${i}.`;
    Object.assign(weights, {
      [`${p}ln_1.weight`]: w(E).map((x) => 1 + x), [`${p}ln_1.bias`]: w(E), [`${p}ln_2.weight`]: w(E).map((x) => 1 + x),
      [`${p}ln_2.bias`]: w(E), [`${p}attn.c_attn.weight`]: w(E * 3 * E), [`${p}attn.c_attn.bias`]: w(3 * E),
      [`${p}attn.c_proj.weight`]: w(E * E), [`${p}attn.c_proj.bias`]: w(E), [`${p}mlp.c_fc.weight`]: w(E * I),
      [`${p}mlp.c_fc.bias`]: w(I), [`${p}mlp.c_proj.weight`]: w(I * E, 0.1), [`${p}mlp.c_proj.bias`]: w(E),
    });
  }
  const ids = Array.from({ length: 8 }, (_, i) => (i * 37 + 5) % V);
  let three: Engine[];
  beforeAll(async () => { three = await forcedEngines([1, 2, 3]); });
  afterAll(async () => { await Promise.all(three.map((e) => e.dispose())); });

  it('threads 1, 2, 3 give identical bits (1 and 2 rows: every projection and the lm_head on the GEMV)', async () => {
    for (const [batch, seq] of [[1, 1], [1, 2], [2, 1]]) {
      const logits = [];
      for (const engine of three) {
        const model = engine.gpt2({ config, weights });
        logits.push((await model.forward(ids.slice(0, batch * seq), { batch, seq })).logits);
        await model.dispose();
      }
      expectSameBits(logits[1], logits[0], `threads 2, batch ${batch} seq ${seq}`);
      expectSameBits(logits[2], logits[0], `threads 3, batch ${batch} seq ${seq}`);
    }
  });

  it('the GEMV gives the GEMM\'s bits: one token per sequence in batches of 1 and 2 (GEMV) and of 5 (GEMM)', async () => {
    const model = three[0].gpt2({ config, weights });
    const five = (await model.forward(ids.slice(0, 5), { batch: 5, seq: 1 })).logits;
    for (let b = 0; b < 5; b++) {
      const one = (await model.forward(ids.slice(b, b + 1), { batch: 1, seq: 1 })).logits;
      expectSameBits(one, five.subarray(b * V, (b + 1) * V), `sequence ${b} alone`);
    }
    const two = (await model.forward(ids.slice(1, 3), { batch: 2, seq: 1 })).logits;
    expectSameBits(two, five.subarray(V, 3 * V), 'sequences 1 and 2 as a batch of 2');
    await model.dispose();
  });

  it('greedy decoding (GEMV steps) follows the argmax of a full forward (GEMM) at every step', async () => {
    const model = three[1].gpt2({ config, weights });
    const prompt = ids.slice(0, 3), tokens = [...prompt];
    for await (const next of model.generate(prompt, { maxNewTokens: 6 })) tokens.push(next[0]);
    const full = (await model.forward(tokens.slice(0, -1), { batch: 1, seq: tokens.length - 1 })).logits;
    for (let t = prompt.length; t < tokens.length; t++) {
      const row = full.subarray((t - 1) * V, t * V);
      let best = 0;
      for (let j = 1; j < V; j++) if (row[j] > row[best]) best = j;
      expect(tokens[t], `token ${t}`).toBe(best);
    }
    await model.dispose();
  });
});
