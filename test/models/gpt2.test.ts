// engine.gpt2 against the PyTorch reference of modeling_gpt2.py (test/fixtures/make_gpt2_fixtures.py):
// HF checkpoints (config.json + model.safetensors; F32, F16 and BF16, with and without `transformer.`,
// tied and untied lm_head) give HF's logits, attentions and greedy tokens, at threads 1 and 2
// with the pool forced, with identical bits across threads.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSafetensors, type Engine } from '../../dist/index.js';
import { forcedEngines } from '../helpers/engines.js';
import { expectClose } from '../helpers/compare.js';
import { fixtureF32 } from '../helpers/fixtures.js';

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
