// The PyTorch-made suite (test/fixtures): F.scaled_dot_product_attention semantics (computed
// with torch ops, as torch 1.13 predates the function), nn.MultiheadAttention with random
// non-zero biases, and the sinusoidal positional encoding. Tolerance: 2e-4 abs + 2e-4 rel.
import { beforeAll, describe, expect, it } from 'vitest';
import { createEngine, positionalEncoding, type Engine } from '../../dist/index.js';
import { kernelVariants } from '../helpers/kernels.js';
import { loadFixture } from '../helpers/fixtures.js';
import { checkAttentionCase, checkMhaCase } from '../runtimes/fixture-cases.mjs';
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

  const check = {
    close: (actual: Float32Array, expected: number[], what: string) => expectClose(actual, expected, ATOL, RTOL, what),
    absent: (value: unknown) => expect(value).toBeUndefined(),
  };

  it.each(attentionCases.map((c) => [c.name, c]))('attention: %s', (_, c) => checkAttentionCase(engine, c, check));

  it.each(mhaCases.map((c) => [c.name, c]))('multi-head attention: %s', (_, c) => checkMhaCase(engine, c, check));
});

describe('PyTorch fixtures: positional encoding', () => {
  it.each(peCases.map((c) => [`${c.seqLen}×${c.dModel}`, c]))('%s', (_, c) => {
    expectClose(positionalEncoding(c.seqLen, c.dModel), c.pe, ATOL, RTOL, 'pe');
  });
});
