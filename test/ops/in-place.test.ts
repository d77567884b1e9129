// `out` given as an input tensor of the same call (README, "ops' inputs and out"): gelu, softmax
// and layerNorm over x, layerNorm over its residual, matmul over a, b or both. Each must give
// the out-of-place call's bits, on 1, 2 and 3 threads (pool forced); a weight or bias as out is
// a RangeError, and the tensor keeps its contents.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine, EngineTensor } from '../../dist/index.js';
import { forcedEngines } from '../helpers/engines.js';
import { expectSameBits } from '../helpers/compare.js';
import { randomF32 } from '../helpers/random.js';

let engines: Engine[];
beforeAll(async () => { engines = await forcedEngines([1, 2, 3]); });
afterAll(async () => { await Promise.all(engines.map((e) => e.dispose())); });

/** Runs `call` with out = the tensor of `values` it is given, and returns what the tensor holds. */
async function inPlace(engine: Engine, values: Float32Array, call: (t: EngineTensor) => Promise<unknown>): Promise<Float32Array> {
  const t = engine.createTensor(values);
  try {
    expect(await call(t)).toBe(t);
    return await t.read();
  } finally {
    await t.dispose();
  }
}

describe('out as an input of the same call', () => {
  it('gelu, softmax and layerNorm over x; layerNorm over its residual', async () => {
    for (const [rows, cols] of [[1, 1], [3, 7], [37, 130], [64, 768]]) {
      const x = randomF32(rows * cols, rows + cols, 3), r = randomF32(rows * cols, rows * cols, 2);
      const w = randomF32(cols, cols, 1), b = randomF32(cols, cols + 1, 0.5);
      const mask = Uint8Array.from({ length: cols }, (_, i) => (i % 3 === 1 ? 0 : 1));
      for (const engine of engines) {
        const what = `${rows}×${cols}, threads ${engine.threads}`;
        for (const approximate of ['none', 'tanh'] as const) {
          expectSameBits(await inPlace(engine, x, (t) => engine.gelu(t, { approximate, out: t })),
            await engine.gelu(x, { approximate }) as Float32Array, `gelu ${approximate}, ${what}`);
        }
        const sm = { rows, cols, scale: 0.7, mask };
        expectSameBits(await inPlace(engine, x, (t) => engine.softmax(t, { ...sm, out: t })),
          await engine.softmax(x, sm) as Float32Array, `softmax, ${what}`);
        const ln = { rows, dim: cols, weight: w, bias: b, eps: 1e-5 };
        const want = await engine.layerNorm(x, { ...ln, residual: r }) as Float32Array;
        expectSameBits(await inPlace(engine, x, (t) => engine.layerNorm(t, { ...ln, residual: r, out: t })), want, `layerNorm x, ${what}`);
        const xt = engine.createTensor(x);
        expectSameBits(await inPlace(engine, r, (t) => engine.layerNorm(xt, { ...ln, residual: t, out: t })), want, `layerNorm residual, ${what}`);
        await xt.dispose();
      }
    }
  });

  it('matmul over a, over b, over both (batched, transB, alpha, bias)', async () => {
    for (const [batch, n] of [[1, 1], [2, 5], [3, 33], [1, 64]]) {
      const m = n, k = n; // square, so that C fits in A's and B's tensors
      const a = randomF32(batch * m * k, n, 1), b = randomF32(batch * k * n, n + 1, 1), bias = randomF32(n, n + 2);
      for (const transB of [false, true]) {
        const o = { m, k, n, batch, transB, alpha: 0.5, bias };
        for (const engine of engines) {
          const what = `batch ${batch}, ${n}², transB ${transB}, threads ${engine.threads}`;
          const want = await engine.matmul(a, b, o) as Float32Array;
          expectSameBits(await inPlace(engine, a, (t) => engine.matmul(t, b, { ...o, out: t })), want, `out = a, ${what}`);
          expectSameBits(await inPlace(engine, b, (t) => engine.matmul(a, t, { ...o, out: t })), want, `out = b, ${what}`);
          const same = await engine.matmul(a, a, o) as Float32Array;
          expectSameBits(await inPlace(engine, a, (t) => engine.matmul(t, t, { ...o, out: t })), same, `out = a = b, ${what}`);
        }
      }
    }
  });

  it('a weight or bias as out is a RangeError, and the tensor keeps its contents', async () => {
    const engine = engines[1]!;
    const x = randomF32(4 * 8, 1), w = randomF32(8, 2);
    const wt = engine.createTensor(w);
    await expect(engine.layerNorm(x, { rows: 4, dim: 8, weight: wt, out: wt })).rejects.toThrow(RangeError);
    // One row of 8 outputs: the bias tensor has out's length, so only the aliasing is wrong.
    await expect(engine.matmul(x.subarray(0, 8), randomF32(64, 3), { m: 1, k: 8, n: 8, bias: wt, out: wt })).rejects.toThrow(RangeError);
    expectSameBits(await wt.read(), w, 'the weight tensor');
    await wt.dispose();
  });
});
