// The shipped character-level GPT-2 (models/char-gpt/) is self-consistent: config.json is a
// GPT2Config with a character vocabulary, model.safetensors loads with loadSafetensors and holds
// GPT2LMHeadModel's weights under HF's names and layouts (Conv1D [in, out], lm_head tied and not
// saved), and greedy.json's ids are within the vocabulary and decode to its text.
// (Generating through engine.gpt2, token for token against greedy.json: char-gpt.test.ts.)
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadSafetensors, readSafetensors, safetensorsShapes } from '../../src/index.js';

const DIR = new URL('../../models/char-gpt/', import.meta.url);
const config = JSON.parse(readFileSync(new URL('config.json', DIR), 'utf8'));
const greedy = JSON.parse(readFileSync(new URL('greedy.json', DIR), 'utf8'));
const bytes = new Uint8Array(readFileSync(new URL('model.safetensors', DIR)));

describe('char-gpt assets', () => {
  it('config.json is a GPT2Config with a character vocabulary', () => {
    expect(config.model_type).toBe('gpt2');
    expect(config.architectures).toEqual(['GPT2LMHeadModel']);
    expect(config.activation_function).toBe('gelu_new');
    expect(config.n_inner).toBeNull();
    expect(config.layer_norm_epsilon).toBe(1e-5);
    for (const key of ['vocab_size', 'n_positions', 'n_embd', 'n_layer', 'n_head', 'bos_token_id', 'eos_token_id']) {
      expect(Number.isInteger(config[key]), key).toBe(true);
    }
    for (const key of ['resid_pdrop', 'embd_pdrop', 'attn_pdrop', 'initializer_range']) {
      expect(typeof config[key], key).toBe('number');
    }
    expect(config.n_embd % config.n_head).toBe(0);
    expect(config.char_vocab.length).toBe(config.vocab_size);
    expect(new Set(config.char_vocab).size).toBe(config.vocab_size);
    for (const c of config.char_vocab) expect([...c].length).toBe(1);
    expect(config.char_vocab[config.eos_token_id]).toBe('\n');
  });

  it('model.safetensors holds GPT2LMHeadModel under HF names and shapes, as F32', () => {
    const { vocab_size: V, n_positions: P, n_embd: E, n_layer: L } = config;
    const want: Record<string, number[]> = {
      'transformer.wte.weight': [V, E], 'transformer.wpe.weight': [P, E],
      'transformer.ln_f.weight': [E], 'transformer.ln_f.bias': [E],
    };
    for (let i = 0; i < L; i++) {
      const h = `transformer.h.${i}.`;
      Object.assign(want, {
        [`${h}ln_1.weight`]: [E], [`${h}ln_1.bias`]: [E],
        [`${h}attn.bias`]: [1, 1, P, P],
        [`${h}attn.c_attn.weight`]: [E, 3 * E], [`${h}attn.c_attn.bias`]: [3 * E],
        [`${h}attn.c_proj.weight`]: [E, E], [`${h}attn.c_proj.bias`]: [E],
        [`${h}ln_2.weight`]: [E], [`${h}ln_2.bias`]: [E],
        [`${h}mlp.c_fc.weight`]: [E, 4 * E], [`${h}mlp.c_fc.bias`]: [4 * E],
        [`${h}mlp.c_proj.weight`]: [4 * E, E], [`${h}mlp.c_proj.bias`]: [E],
      });
    }
    const w = loadSafetensors(bytes);
    expect(w[safetensorsShapes]).toEqual(want); // no lm_head.weight: tied to wte
    const { tensors, metadata } = readSafetensors(bytes);
    for (const t of Object.values(tensors)) expect(t.dtype).toBe('F32');
    expect(metadata).toEqual({ format: 'pt' });
    // attn.bias is the causal mask: 1 on and below the diagonal, 0 above.
    const mask = w['transformer.h.0.attn.bias']!;
    for (const [q, k] of [[0, 0], [0, 1], [5, 3], [P - 2, P - 1], [P - 1, P - 1], [P - 1, 0]]) {
      expect(mask[q! * P + k!]).toBe(k! <= q! ? 1 : 0);
    }
    for (const t of Object.values(w)) expect(t.every(Number.isFinite)).toBe(true);
  });

  it('greedy.json: ids within the vocabulary, the stated number of tokens, text that decodes', () => {
    const vocab: string[] = config.char_vocab;
    const decode = (ids: number[]) => ids.map((i) => vocab[i]).join('');
    expect(greedy.items.length).toBeGreaterThanOrEqual(4);
    for (const item of greedy.items) {
      expect(item.outputIds.length).toBe(greedy.generatedTokens);
      expect(greedy.generatedTokens).toBe(200);
      expect(item.promptIds.length + item.outputIds.length).toBeLessThanOrEqual(config.n_positions);
      for (const id of [...item.promptIds, ...item.outputIds]) {
        expect(Number.isInteger(id) && id >= 0 && id < config.vocab_size).toBe(true);
      }
      expect(decode(item.promptIds)).toBe(item.prompt);
      expect(decode(item.outputIds)).toBe(item.output);
      expect(item.margins.length).toBe(greedy.generatedTokens);
      expect(item.minMargin).toBeCloseTo(Math.min(...item.margins), 4);
    }
    expect(greedy.firstPromptLastLogits.length).toBe(config.vocab_size);
    // The first token generated after the first prompt is the argmax of those logits.
    const logits: number[] = greedy.firstPromptLastLogits;
    expect(logits.indexOf(Math.max(...logits))).toBe(greedy.items[0].outputIds[0]);
  });
});
