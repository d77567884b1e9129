// The layer fixtures (test/fixtures/make_layer_fixtures.py) decode as documented in
// test/fixtures/README.md: every tensor's bytes match its shape, weights carry torch's
// state_dict names, masks are well formed. The ops and modules themselves are tested elsewhere.
import { fixtureF32, loadFixture, type FixtureMask, type FixtureTensor } from '../helpers/fixtures.js';
import { describe, expect, it } from 'vitest';

type Tensor = FixtureTensor;
type Mask = FixtureMask;
type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const load = loadFixture;
const f32 = fixtureF32;
const count = (shape: number[]): number => shape.reduce((a, b) => a * b, 1);

function checkTensor(t: Tensor, what: string): void {
  const data = f32(t);
  expect(data.length, what).toBe(count(t.shape));
  for (const x of data) if (Number.isNaN(x) || x === Infinity) expect.fail(`${what}: ${x}`);
}

describe('layer-ops.json', () => {
  it.each(load('layer-ops').map((c) => [c.name, c]))('%s', (_, c) => {
    expect(['matmul', 'softmax', 'layerNorm', 'gelu']).toContain(c.op);
    for (const [k, t] of Object.entries(c.inputs as Record<string, Tensor | Mask>)) {
      if ('data' in t) expect(t.data.length).toBe(count(t.shape));
      else checkTensor(t as Tensor, k);
    }
    checkTensor(c.expected.output, 'output');
    if (c.op === 'matmul') {
      const { batch, m, n } = c.config;
      expect(c.expected.output.shape).toEqual([batch, m, n]);
    }
  });
});

describe('layers.json', () => {
  const cases = load('layers');
  it.each(cases.map((c) => [c.name, c]))('%s', (_, c) => {
    for (const [k, t] of Object.entries(c.weights as Record<string, Tensor>)) checkTensor(t, k);
    for (const t of Object.values(c.inputs as Record<string, Tensor>)) checkTensor(t, 'input');
    checkTensor(c.expected.output, 'output');
    for (const [k, m] of Object.entries(c.masks as Record<string, Mask | boolean>)) {
      if (typeof m === 'boolean') expect(k).toMatch(/[iI]sCausal$/);
      else if (m.dtype === 'bool') expect(m.data.length).toBe(count(m.shape));
      else expect(f32(m).length).toBe(count(m.shape));
    }
    const E = c.config.dModel;
    if (c.module === 'TransformerEncoderLayer') {
      expect(c.weights['self_attn.in_proj_weight'].shape).toEqual([3 * E, E]);
      expect(c.weights['norm2.bias'].shape).toEqual([E]);
      expect(c.expected.output.shape).toEqual(c.inputs.src.shape);
    }
    if (c.module === 'TransformerDecoderLayer') {
      expect(c.weights['multihead_attn.out_proj.bias'].shape).toEqual([E]);
      expect(c.weights['norm3.weight'].shape).toEqual([E]);
    }
    if (c.module === 'Transformer') {
      const last = c.config.numDecoderLayers - 1;
      for (const k of ['encoder.layers.0.self_attn.in_proj_weight', 'encoder.norm.weight', 'decoder.norm.bias',
        `decoder.layers.${last}.multihead_attn.out_proj.bias`]) expect(c.weights, k).toHaveProperty([k]);
      expect(c.expected.output.shape).toEqual(c.inputs.tgt.shape);
    }
  });

  it('covers every module, norm placement, activation and mask kind', () => {
    const seen = new Set<string>();
    for (const c of cases) {
      seen.add(c.module);
      if (c.config.normFirst !== undefined) seen.add(`normFirst=${c.config.normFirst}`);
      if (c.config.activation) seen.add(c.config.activation);
      for (const [k, m] of Object.entries(c.masks as Record<string, Mask | boolean>)) {
        seen.add(typeof m === 'boolean' ? k : `${k}:${m.dtype}`);
      }
    }
    for (const k of ['Linear', 'TransformerEncoderLayer', 'TransformerDecoderLayer', 'Transformer', 'normFirst=true',
      'normFirst=false', 'relu', 'gelu', 'srcMask:bool', 'srcMask:float', 'srcKeyPaddingMask:bool', 'isCausal',
      'tgtMask:bool', 'tgtMask:float', 'memoryMask:bool', 'memoryMask:float', 'tgtKeyPaddingMask:bool',
      'memoryKeyPaddingMask:bool', 'tgtIsCausal']) expect(seen, k).toContain(k);
  });
});
