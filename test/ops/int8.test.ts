// quantize: 'int8' on the torch modules: engine.linear bit for bit against the plain-JS int8
// reference (test/reference/i8-gemm.ts) and within the quantization error of the f32 linear;
// the encoder layer, decoder layer and transformer within a few percent of their f32 selves;
// threads 1, 2 and 3 (pool forced) give identical bits; bad quantize options and non-finite
// weights are named before any work, and the engine stays usable. Where this project runs the
// baseline build, engines on the test builds that emulate the relaxed integer dot (build/: the
// baseline kernels with the int8 products on quads, as x64 AVX-VNNI, Arm's sdot and Arm's smull
// sequence compute them, its unsigned and signed modes, assembly/i8-gemm/i8-relaxed-dot.ts) at threads 1 and 3 run
// every check too, and must give the same bits as the others (the relaxed build's f32 parts
// differ from the baseline's, so its project leaves them out).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { quantizeInt8, type Engine } from '../../dist/index.js';
import { forcedEngines } from '../helpers/engines.js';
import { DOT_EMULATIONS, EMULATED_INT8_DOT, emulationBytes } from '../helpers/kernels.js';
import { expectSameBits } from '../helpers/compare.js';
import { randomF32, rng } from '../helpers/random.js';
import { i8Gemm, quantizeRows, quantizeWeight } from '../reference/i8-gemm.js';

let engines: Engine[] = [];
/** What each of `engines` is, for the messages. */
let labels: string[] = [];
beforeAll(async () => {
  engines = await forcedEngines();
  labels = engines.map((e) => `threads ${e.threads}`);
  for (const build of engines[0].kernels === 'simd' ? DOT_EMULATIONS : []) {
    const emulated = await forcedEngines([1, 3], { wasm: emulationBytes(build) });
    for (const e of emulated) expect(e.int8Dot, `${build}: engine.int8Dot`).toBe(EMULATED_INT8_DOT[build]);
    engines.push(...emulated);
    labels.push(...emulated.map((e) => `${build}, threads ${e.threads}`));
  }
});
afterAll(async () => {
  await Promise.all(engines.map((e) => e.dispose()));
});

/** Relative RMS error of `got` against `want`. */
function relRms(got: Float32Array, want: Float32Array): number {
  let num = 0, den = 0;
  for (let i = 0; i < want.length; i++) {
    num += (got[i] - want[i]) ** 2;
    den += want[i] ** 2;
  }
  return Math.sqrt(num / den);
}

/** Runs `run` on every engine and checks that they agree bit for bit; returns the output. */
async function same(run: (e: Engine) => Promise<unknown>): Promise<Float32Array> {
  const results = await Promise.all(engines.map(run)) as Float32Array[];
  results.slice(1).forEach((r, i) => expectSameBits(r, results[0], `${labels[i + 1]} vs ${labels[0]}`));
  return results[0];
}

describe('engine.linear with quantize int8', () => {
  async function check(rows: number, inF: number, outF: number, bias: boolean, seed: number): Promise<void> {
    const weight = randomF32(outF * inF, seed, 0.1), b = bias ? randomF32(outF, seed + 1) : undefined;
    const x = randomF32(rows * inF, seed + 2, 2);
    const config = { inFeatures: inF, outFeatures: outF, bias, weights: b ? { weight, bias: b } : { weight } };
    const got = await same(async (e) => {
      const layer = e.linear({ ...config, quantize: 'int8' });
      try {
        return await layer.forward(x, { rows });
      } finally {
        await layer.dispose();
      }
    });
    const want = i8Gemm(quantizeRows(x, rows, inF, 255), quantizeWeight(weight, outF, inF), b);
    expectSameBits(got, want, `linear ${rows}x${inF}→${outF} (seed ${seed})`);
    const f32 = await engines[0].linear(config).forward(x, { rows }) as Float32Array;
    expect(relRms(got, f32), 'relative RMS error against f32').toBeLessThan(0.02);
  }

  it('bit for bit against the int8 reference, across tile edges', async () => {
    // 9 × 4300: k past the widening slot's 4256 (the GEMM tile widens the codes itself).
    for (const [rows, inF, outF] of [[1, 1, 1], [3, 5, 7], [4, 8, 8], [17, 33, 9], [65, 130, 129], [130, 67, 260], [9, 4300, 17]]) {
      await check(rows, inF, outF, true, rows * 7 + inF);
      await check(rows, inF, outF, false, rows * 11 + outF);
    }
  });

  it('1..4 rows (the int8 GEMV): bit for bit against the reference, several column items per thread count', async () => {
    for (const rows of [1, 2, 3, 4]) {
      for (const [inF, outF] of [[1, 9], [7, 129], [67, 300], [768, 1000]]) {
        await check(rows, inF, outF, (rows + inF) % 2 === 0, rows * 13 + outF);
      }
    }
  });

  it('an activation row holding ±inf or NaN gives NaN in that row only (GEMV and GEMM), as README says', async () => {
    const inF = 24, outF = 10;
    const config = { inFeatures: inF, outFeatures: outF, weights: { weight: randomF32(outF * inF, 3, 0.1), bias: randomF32(outF, 4) } };
    for (const rows of [1, 2, 4, 5, 9]) {
      const x = randomF32(rows * inF, 5, 2);
      const clean = await same((e) => e.linear({ ...config, quantize: 'int8' }).forward(x, { rows }) as Promise<Float32Array>);
      for (const bad of [Infinity, -Infinity, NaN]) {
        const row = rows - 1, y = x.slice();
        y[row * inF + 7] = bad;
        const got = await same((e) => e.linear({ ...config, quantize: 'int8' }).forward(y, { rows }) as Promise<Float32Array>);
        expect(Array.from(got.subarray(row * outF)).every(Number.isNaN), `rows ${rows}, ${bad}: the row is NaN`).toBe(true);
        expectSameBits(got.subarray(0, row * outF), clean.subarray(0, row * outF), `rows ${rows}, ${bad}: the other rows`);
      }
    }
  });

  it('finite extremes: a row whose range passes f32 stays finite, a row or channel below ~1e-36 counts as zero', async () => {
    const inF = 24, outF = 10;
    const weight = randomF32(outF * inF, 6, 0.1), bias = randomF32(outF, 7);
    for (let kk = 0; kk < inF; kk++) weight[3 * inF + kk] *= 1e-38; // channel 3: 127 / amax overflows f32
    const config = { inFeatures: inF, outFeatures: outF, weights: { weight, bias } };
    for (const rows of [1, 2, 4, 5, 9]) {
      const x = randomF32(rows * inF, 8 + rows, 2);
      x[0] = 3.4e38; // row 0: max − min overflows f32
      x[1] = -3.4e38;
      for (let kk = 0; kk < inF; kk++) x[(rows - 1) * inF + kk] *= rows > 1 ? 1e-37 : 1; // last row: 255 / range overflows
      const got = await same((e) => e.linear({ ...config, quantize: 'int8' }).forward(x, { rows }) as Promise<Float32Array>);
      expectSameBits(got, i8Gemm(quantizeRows(x, rows, inF, 255), quantizeWeight(weight, outF, inF), bias), `rows ${rows}: the reference`);
      expect(Array.from(got).every(Number.isFinite), `rows ${rows}: finite`).toBe(true);
      const f32 = await engines[0].linear(config).forward(x, { rows }) as Float32Array;
      expect(relRms(got.subarray(0, outF), f32.subarray(0, outF)), `rows ${rows}: row 0 against f32`).toBeLessThan(0.02);
      for (let i = 0; i < rows; i++) expect(got[i * outF + 3], `rows ${rows}, row ${i}: channel 3 is its bias`).toBe(bias[3]);
      if (rows > 1) expectSameBits(got.subarray((rows - 1) * outF), bias, `rows ${rows}: the tiny row gives the bias`);
    }
    // quantizeInt8 (the file writer) agrees with the engine: channel 3 all zero, scale 0.
    const { codes, scales } = quantizeInt8(weight, outF, inF, 0);
    expect(scales[3]).toBe(0);
    expect(Array.from(codes.subarray(3 * inF, 4 * inF)).every((q) => q === 0)).toBe(true);
  });

  it('seeded random shapes', async () => {
    const seed = Number(process.env.WASM_ATTENTION_SEED ?? 16);
    const next = rng(seed);
    for (let t = 0; t < 8; t++) {
      const rows = 1 + Math.floor(next() * 150), inF = 1 + Math.floor(next() * 200), outF = 1 + Math.floor(next() * 200);
      try {
        await check(rows, inF, outF, next() < 0.5, seed * 100 + t);
      } catch (error) {
        throw new Error(`seed ${seed}, case ${t} (${rows}x${inF}→${outF}): ${(error as Error).message}`);
      }
    }
  });

  it('names a bad quantize option or a non-finite weight before any work; the engine stays usable', () => {
    const e = engines[1];
    const weights = { weight: randomF32(12, 1), bias: randomF32(3, 2) };
    const base = { inFeatures: 4, outFeatures: 3, weights };
    expect(() => e.linear({ ...base, quantize: 'int4' as 'int8' })).toThrow(RangeError);
    expect(() => e.linear({ ...base, quantize: 'int4' as 'int8' })).toThrow(/config\.quantize.*'int8'.*"int4"/);
    expect(() => e.linear({ ...base, quantize: 8 as unknown as 'int8' })).toThrow(TypeError);
    expect(() => e.linear({ ...base, quantize: 8 as unknown as 'int8' })).toThrow(/config\.quantize/);
    const bad = weights.weight.slice();
    bad[5] = Number.NaN;
    expect(() => e.linear({ ...base, weights: { weight: bad }, bias: false, quantize: 'int8' }))
      .toThrow(/config\.weights\["weight"\] holds NaN at \[1, 1\]/);
    expect(() => e.linear({ inFeatures: 70000, outFeatures: 1, bias: false, weights: { weight: new Float32Array(70000) }, quantize: 'int8' }))
      .toThrow(/config\.inFeatures must be <= 65536/);
    return e.linear({ ...base, quantize: 'int8' }).forward(randomF32(8, 3), { rows: 2 }).then((y) => {
      expect((y as Float32Array).length).toBe(6);
    });
  });
});

/** A state dict of one layer with torch's names (random, non-zero). */
function layerWeights(d: number, ff: number, decoder: boolean, seed: number): Record<string, Float32Array> {
  const w: Record<string, Float32Array> = {};
  let s = seed;
  const put = (key: string, n: number, scale: number): void => { w[key] = randomF32(n, s++, scale); };
  for (const a of decoder ? ['self_attn', 'multihead_attn'] : ['self_attn']) {
    put(`${a}.in_proj_weight`, 3 * d * d, 1 / Math.sqrt(d));
    put(`${a}.in_proj_bias`, 3 * d, 0.1);
    put(`${a}.out_proj.weight`, d * d, 1 / Math.sqrt(d));
    put(`${a}.out_proj.bias`, d, 0.1);
  }
  put('linear1.weight', ff * d, 1 / Math.sqrt(d));
  put('linear1.bias', ff, 0.1);
  put('linear2.weight', d * ff, 1 / Math.sqrt(ff));
  put('linear2.bias', d, 0.1);
  for (const n of decoder ? ['norm1', 'norm2', 'norm3'] : ['norm1', 'norm2']) {
    w[`${n}.weight`] = Float32Array.from(randomF32(d, s++, 0.2), (v) => 1 + v);
    put(`${n}.bias`, d, 0.1);
  }
  return w;
}

describe('Transformer modules with quantize int8', () => {
  const d = 64, ff = 160, nhead = 4, B = 2, L = 19;

  it('nn.TransformerEncoderLayer (post- and pre-norm, gelu): within 3% of f32, same bits on 1/2/3 threads', async () => {
    const weights = layerWeights(d, ff, false, 100);
    const x = randomF32(B * L * d, 7);
    for (const normFirst of [false, true]) {
      const config = { dModel: d, nhead, dimFeedforward: ff, activation: 'gelu' as const, normFirst, weights };
      const got = await same(async (e) => {
        const layer = e.transformerEncoderLayer({ ...config, quantize: 'int8' });
        try {
          return await layer.forward(x, { batch: B, seq: L });
        } finally {
          await layer.dispose();
        }
      });
      const f32 = await engines[0].transformerEncoderLayer(config).forward(x, { batch: B, seq: L }) as Float32Array;
      const err = relRms(got, f32);
      expect(err, `normFirst ${normFirst}`).toBeLessThan(0.03);
      expect(err, 'the int8 path ran (not f32)').toBeGreaterThan(1e-5);
    }
  });

  it('decode-sized calls (<= 4 rows: the int8 GEMV) give the bits of the same rows in a larger call (the int8 GEMM)', async () => {
    const weights = layerWeights(d, ff, false, 500);
    for (const [seq, copies] of [[1, 5], [2, 3], [4, 2]]) {
      const x = randomF32(seq * d, 11 + seq);
      const xs = new Float32Array(copies * seq * d);
      for (let b = 0; b < copies; b++) xs.set(x, b * seq * d);
      const config = { dModel: d, nhead, dimFeedforward: ff, activation: 'gelu' as const, weights, quantize: 'int8' as const };
      const small = await same((e) => e.transformerEncoderLayer(config).forward(x, { batch: 1, seq }));
      const large = await same((e) => e.transformerEncoderLayer(config).forward(xs, { batch: copies, seq }));
      for (let b = 0; b < copies; b++) {
        expectSameBits(large.subarray(b * seq * d, (b + 1) * seq * d), small, `seq ${seq}: batch entry ${b} of ${copies}`);
      }
    }
  });

  it('nn.TransformerDecoderLayer and nn.Transformer: within 3% of f32, same bits', async () => {
    const weights = layerWeights(d, ff, true, 200);
    const tgt = randomF32(B * L * d, 8), memory = randomF32(B * 11 * d, 9);
    const config = { dModel: d, nhead, dimFeedforward: ff, weights };
    const opts = { batch: B, seqT: L, seqS: 11 };
    const got = await same((e) => e.transformerDecoderLayer({ ...config, quantize: 'int8' }).forward(tgt, memory, opts));
    const f32 = await engines[0].transformerDecoderLayer(config).forward(tgt, memory, opts) as Float32Array;
    expect(relRms(got, f32)).toBeLessThan(0.03);

    const stack: Record<string, Float32Array> = {};
    const enc = layerWeights(d, ff, false, 300);
    for (const [k, v] of Object.entries(enc)) stack[`encoder.layers.0.${k}`] = v;
    for (const [k, v] of Object.entries(weights)) stack[`decoder.layers.0.${k}`] = v;
    for (const n of ['encoder.norm', 'decoder.norm']) {
      stack[`${n}.weight`] = new Float32Array(d).fill(1);
      stack[`${n}.bias`] = new Float32Array(d);
    }
    const tConfig = { dModel: d, nhead, dimFeedforward: ff, numEncoderLayers: 1, numDecoderLayers: 1, weights: stack };
    const src = randomF32(B * 11 * d, 10);
    const tOpts = { batch: B, seqS: 11, seqT: L };
    const gotT = await same((e) => e.transformer({ ...tConfig, quantize: 'int8' }).forward(src, tgt, tOpts));
    const f32T = await engines[0].transformer(tConfig).forward(src, tgt, tOpts) as Float32Array;
    expect(relRms(gotT, f32T)).toBeLessThan(0.03);
  });

  it('names a non-finite layer weight by its state-dict key', () => {
    const weights = layerWeights(d, ff, false, 400);
    weights['linear2.weight'][3] = Number.POSITIVE_INFINITY;
    expect(() => engines[0].transformerEncoderLayer({ dModel: d, nhead, dimFeedforward: ff, weights, quantize: 'int8' }))
      .toThrow(/transformerEncoderLayer: config\.weights\["linear2\.weight"\] holds Infinity at \[0, 3\]/);
    expect(() => engines[0].transformerEncoderLayer({ dModel: d, nhead, dimFeedforward: ff, weights, quantize: 'fp16' as 'int8' }))
      .toThrow(/config\.quantize/);
  });
});
