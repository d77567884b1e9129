// The PyTorch-made suite (test/fixtures): F.scaled_dot_product_attention semantics (computed
// with torch ops, as torch 1.13 predates the function), nn.MultiheadAttention with random
// non-zero biases, and the sinusoidal positional encoding. Tolerance: 2e-4 abs + 2e-4 rel.
import { beforeAll, describe, expect, it } from 'vitest';
import { createEngine, positionalEncoding, type Engine } from '../../dist/index.js';
import { kernelVariants } from '../helpers/kernels.js';
import { f32, loadFixture, mask } from '../helpers/fixtures.js';
import { expectClose } from '../helpers/compare.js';

const ATOL = 2e-4;
const RTOL = 2e-4;
const attentionCases = loadFixture('attention');
const mhaCases = loadFixture('mha');
const peCases = loadFixture('positional-encoding');

const configs = kernelVariants().flatMap((kernels) => [1, 2].map((threads) => ({ kernels, threads })));

describe.each(configs)('PyTorch fixtures ($kernels, threads $threads)', ({ kernels, threads }) => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await createEngine({ threads, kernels });
    expect(engine.threads).toBe(threads);
    return () => engine.dispose();
  });

  it.each(attentionCases.map((c) => [c.name, c]))('attention: %s', async (_, c) => {
    const opts = {
      ...c.opts,
      attnMask: mask(c.attnMask),
      validLens: c.validLens ? Int32Array.from(c.validLens.data) : undefined,
    };
    const r = await engine.attention(f32(c.q), f32(c.k), f32(c.v), opts);
    expectClose(r.output, c.output, ATOL, RTOL, 'output');
    if (c.weights) expectClose(r.weights!, c.weights, ATOL, RTOL, 'weights');
    else expect(r.weights).toBeUndefined();
  });

  it.each(mhaCases.map((c) => [c.name, c]))('multi-head attention: %s', async (_, c) => {
    const weights = Object.fromEntries(Object.entries(c.weights).map(([k, v]) => [k, f32(v as number[])]));
    const layer = engine.multiHeadAttention({ ...c.cfg, weights });
    const query = f32(c.query);
    const same = JSON.stringify(c.query) === JSON.stringify(c.key) && JSON.stringify(c.key) === JSON.stringify(c.value);
    const opts = {
      ...c.forward,
      keyPaddingMask: c.keyPaddingMask ? Uint8Array.from(c.keyPaddingMask) : undefined,
      attnMask: mask(c.attnMask),
    };
    // Distinct arrays take the three-projection path; one array (self-attention) the fused one.
    const runs = [await layer.forward(query, f32(c.key), f32(c.value), opts)];
    if (same) runs.push(await layer.forward(query, query, query, opts));
    for (const r of runs) {
      expectClose(r.output, c.output, ATOL, RTOL, 'output');
      if (c.attnWeights) expectClose(r.weights!, c.attnWeights, ATOL, RTOL, 'weights');
      else expect(r.weights).toBeUndefined();
    }
  });
});

describe('PyTorch fixtures: positional encoding', () => {
  it.each(peCases.map((c) => [`${c.seqLen}×${c.dModel}`, c]))('%s', (_, c) => {
    expectClose(positionalEncoding(c.seqLen, c.dModel), c.pe, ATOL, RTOL, 'pe');
  });
});
