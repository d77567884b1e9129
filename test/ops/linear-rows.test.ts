// engine.linear on decode-sized inputs: up to GEMV_MAX_ROWS rows the f32 layer runs the GEMV
// over its packed weights (x read in place), from 3 rows pack + GEMM. Checked on odd sizes
// against the float64 reference, threads 1/2/3 bit for bit, each row alone against the same
// row in a larger call (bit for bit in the baseline build; the relaxed build's GEMV rounds each
// product where its GEMM fuses, so within the dot-product tolerance there), and one engine
// tensor given as both x and out (the GEMV cannot read x in place then: it reads a copy).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine, EngineTensor } from '../../dist/index.js';
import { forcedEngines } from '../helpers/engines.js';
import { dotTolerance, expectClose, expectSameBits } from '../helpers/compare.js';
import { randomF32 } from '../helpers/random.js';
import { referenceGemm } from '../reference/attention.js';

let engines: Engine[];
beforeAll(async () => { engines = await forcedEngines([1, 2, 3]); });
afterAll(async () => { await Promise.all(engines.map((e) => e.dispose())); });

describe('Linear on 1..2 rows (the GEMV) and more (the GEMM)', () => {
  const IN = 37, OUT = 45, ROWS = 7;
  const weight = randomF32(OUT * IN, 1, 1 / Math.sqrt(IN)), bias = randomF32(OUT, 2, 0.1), x = randomF32(ROWS * IN, 3);

  it('matches the reference; threads 1/2/3 give the same bits; a row alone gives its bits in a larger call', async () => {
    const all: Float32Array[] = [];
    for (const engine of engines) {
      const layer = engine.linear({ inFeatures: IN, outFeatures: OUT, weights: { weight, bias } });
      const big = await layer.forward(x, { rows: ROWS }) as Float32Array;
      expectClose(big, referenceGemm(ROWS, OUT, IN, x, IN, weight, IN, true, 1, bias), dotTolerance(IN), 1e-6, 'rows 7');
      for (const rows of [1, 2, 3]) {
        for (const from of [0, 4]) {
          const part = x.subarray(from * IN, (from + rows) * IN);
          const y = await layer.forward(part, { rows }) as Float32Array;
          all.push(y);
          const what = `rows ${from}..${from + rows - 1} alone, ${engine.kernels}, threads ${engine.threads}`;
          expectClose(y, referenceGemm(rows, OUT, IN, part, IN, weight, IN, true, 1, bias), dotTolerance(IN), 1e-6, what);
          const inBig = big.subarray(from * OUT, (from + rows) * OUT);
          if (engine.kernels === 'simd' || rows > 2) expectSameBits(y, inBig, `${what} vs in the 7-row call`);
          else expectClose(y, inBig, dotTolerance(IN), 1e-6, `${what} vs in the 7-row call`);
        }
      }
      await layer.dispose();
    }
    const per = all.length / engines.length;
    for (let e = 1; e < engines.length; e++) {
      for (let i = 0; i < per; i++) expectSameBits(all[e * per + i], all[i], `threads ${engines[e].threads} vs 1, call ${i}`);
    }
  });

  it('one engine tensor as both x and out, 1 to 5 rows: the bits of separate buffers, every thread count', async () => {
    const square = randomF32(IN * IN, 4, 1 / Math.sqrt(IN));
    for (const engine of engines) {
      const layer = engine.linear({ inFeatures: IN, outFeatures: IN, weights: { weight: square, bias: bias.subarray(0, IN) } });
      for (const rows of [1, 2, 3, 5]) {
        const input = x.subarray(0, rows * IN);
        const want = await layer.forward(input, { rows }) as Float32Array;
        const t: EngineTensor = engine.createTensor(input);
        expect(await layer.forward(t, { rows, out: t })).toBe(t);
        // In place, 1-2 rows run the GEMV on a copy of x, 3+ the GEMM as always: the same kernel,
        // so the same bits in both builds (the relaxed GEMV rounds where its GEMM fuses).
        expectSameBits(await t.read(), want, `rows ${rows} in place, threads ${engine.threads}`);
        await t.dispose();
      }
      await layer.dispose();
    }
  });
});
