// The shipped date translator (models/date-translator/) is self-consistent: its safetensors file
// loads with loadSafetensors, holds every weight that config.json implies under torch's names
// and shapes, and greedy.json agrees with the vocabulary helpers of examples/translate.
// (Translating through the engine, token for token against greedy.json, lives with the modules.)
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadSafetensors, readSafetensors, safetensorsShapes } from '../../src/io/safetensors.js';
// @ts-expect-error: a plain .mjs helper of the example
import { createVocab, loadConfig } from '../../examples/translate/vocab.mjs';

const DIR = new URL('../../models/date-translator/', import.meta.url);
const config = await loadConfig(new URL('config.json', DIR));
const greedy = JSON.parse(readFileSync(new URL('greedy.json', DIR), 'utf8'));
const bytes = new Uint8Array(readFileSync(new URL('model.safetensors', DIR)));

describe('date translator assets', () => {
  it('model.safetensors holds the nn.Transformer state dict and the embeddings, as F32', () => {
    const E = config.dModel, F = config.dimFeedforward, V = config.vocab.length;
    const want: Record<string, number[]> = {
      'src_embed.weight': [V, E], 'tgt_embed.weight': [V, E], 'generator.weight': [V, E], 'generator.bias': [V],
      'transformer.encoder.norm.weight': [E], 'transformer.encoder.norm.bias': [E],
      'transformer.decoder.norm.weight': [E], 'transformer.decoder.norm.bias': [E],
    };
    const layer = (pre: string, attn: string[]) => {
      for (const a of attn) {
        Object.assign(want, { [`${pre}${a}.in_proj_weight`]: [3 * E, E], [`${pre}${a}.in_proj_bias`]: [3 * E],
          [`${pre}${a}.out_proj.weight`]: [E, E], [`${pre}${a}.out_proj.bias`]: [E] });
      }
      Object.assign(want, { [`${pre}linear1.weight`]: [F, E], [`${pre}linear1.bias`]: [F],
        [`${pre}linear2.weight`]: [E, F], [`${pre}linear2.bias`]: [E] });
      for (let n = 1; n <= attn.length + 1; n++) Object.assign(want, { [`${pre}norm${n}.weight`]: [E], [`${pre}norm${n}.bias`]: [E] });
    };
    for (let i = 0; i < config.numEncoderLayers; i++) layer(`transformer.encoder.layers.${i}.`, ['self_attn']);
    for (let i = 0; i < config.numDecoderLayers; i++) layer(`transformer.decoder.layers.${i}.`, ['self_attn', 'multihead_attn']);
    const w = loadSafetensors(bytes);
    expect(w[safetensorsShapes]).toEqual(want);
    expect(w['src_embed.weight']!.buffer).toBe(bytes.buffer); // zero-copy
    for (const t of Object.values(readSafetensors(bytes).tensors)) expect(t.dtype).toBe('F32');
  });

  it('greedy.json agrees with the vocabulary helpers', () => {
    const vocab = createVocab(config);
    expect(greedy.items.length).toBeGreaterThanOrEqual(200);
    let correct = 0;
    for (const item of greedy.items) {
      expect(vocab.encodeSource(item.input)).toEqual(item.srcIds);
      expect(vocab.decodeTarget(item.outputIds)).toBe(item.output);
      expect(vocab.decodeTarget(item.targetIds)).toBe(item.target);
      expect(item.outputIds.length).toBeLessThanOrEqual(config.maxTgtLen - 1);
      correct += item.output === item.target ? 1 : 0;
    }
    expect(correct).toBe(greedy.correct);
    expect(greedy.accuracy).toBe(correct / greedy.items.length);
  });

  it('the vocabulary rejects what it cannot encode', () => {
    const vocab = createVocab(config);
    expect(vocab.encodeSource('  Twenty-First of  March 2024 ')).toEqual(vocab.encodeSource('twenty-first of march 2024'));
    expect(() => vocab.encodeSource('21/03/2024')).toThrow(/character "\/" is not in the vocabulary/);
    expect(() => vocab.encodeSource('')).toThrow(RangeError);
    expect(() => vocab.encodeSource('x'.repeat(config.maxSrcLen + 1))).toThrow(RangeError);
  });
});
