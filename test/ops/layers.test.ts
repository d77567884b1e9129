// The public ops (matmul, softmax, layerNorm, gelu) and the torch modules (nn.Linear,
// nn.TransformerEncoderLayer, nn.TransformerDecoderLayer, nn.Transformer) against PyTorch
// (test/fixtures/make_layer_fixtures.py: real nn modules, random non-zero parameters, float64
// slow path), within 2e-4 abs + rel, with the same bits on threads 1, 2 and 3 (pool forced).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine, EngineTensor } from '../../dist/index.js';
import { forcedEngines } from '../helpers/engines.js';
import { fixtureF32, loadFixture, type FixtureMask, type FixtureTensor } from '../helpers/fixtures.js';
import { expectClose, expectSameBits } from '../helpers/compare.js';

type Tensor = FixtureTensor;
type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const load = loadFixture;
const f32 = fixtureF32;
const mask = (m: FixtureMask | undefined): Uint8Array | Float32Array | undefined =>
  m === undefined ? undefined : m.dtype === 'bool' ? Uint8Array.from(m.data) : f32(m);

let engines: Engine[] = [];
beforeAll(async () => {
  engines = await forcedEngines();
});
afterAll(async () => {
  await Promise.all(engines.map((e) => e.dispose()));
});

const TOL = 2e-4;

/** Runs `run` on every engine: the same bits on each, and PyTorch's numbers within TOL. */
async function check(run: (e: Engine) => Promise<Float32Array | EngineTensor>, expected: Tensor): Promise<void> {
  const results = await Promise.all(engines.map(run)) as Float32Array[];
  for (const r of results.slice(1)) expectSameBits(r, results[0]);
  expectClose(results[0], f32(expected), TOL, TOL, 'output');
}

describe('ops against PyTorch', () => {
  it.each(load('layer-ops').map((c) => [c.name, c]))('%s', async (_, c) => {
    const x = c.inputs;
    if (c.op === 'matmul') {
      const { batch, m, k, n, transB, alpha } = c.config;
      await check((e) => e.matmul(f32(x.a), f32(x.b), { batch, m, k, n, transB, alpha, bias: x.bias ? f32(x.bias) : undefined }), c.expected.output);
    } else if (c.op === 'softmax') {
      const shape = c.config.shape as number[];
      const cols = shape[shape.length - 1], rows = f32(x.x).length / cols;
      // torch's bool mask here: True = keep (the op's convention)
      await check((e) => e.softmax(f32(x.x), { rows, cols, scale: c.config.scale, mask: mask(x.mask) }), c.expected.output);
    } else if (c.op === 'layerNorm') {
      const { rows, dim, eps } = c.config;
      await check((e) => e.layerNorm(f32(x.x), {
        rows, dim, eps, weight: x.weight && f32(x.weight), bias: x.bias && f32(x.bias), residual: x.residual && f32(x.residual),
      }), c.expected.output);
    } else {
      await check((e) => e.gelu(f32(x.x), { approximate: c.config.approximate }), c.expected.output);
    }
  });
});

describe('modules against PyTorch', () => {
  it.each(load('layers').map((c) => [c.name, c]))('%s', async (_, c) => {
    const weights = Object.fromEntries(Object.entries(c.weights as Record<string, Tensor>).map(([k, t]) => [k, f32(t)]));
    const { masks = {}, dims, inputs } = c;
    if (c.module === 'Linear') {
      const shape = dims.shape as number[];
      const rows = shape.slice(0, -1).reduce((a, b) => a * b, 1);
      await check((e) => e.linear({ ...c.config, weights }).forward(f32(inputs.input), { rows }), c.expected.output);
    } else if (c.module === 'TransformerEncoderLayer') {
      await check((e) => e.transformerEncoderLayer({ ...c.config, weights }).forward(f32(inputs.src), {
        batch: dims.batch, seq: dims.seq, srcMask: mask(masks.srcMask), srcKeyPaddingMask: mask(masks.srcKeyPaddingMask),
        isCausal: masks.isCausal,
      }), c.expected.output);
    } else if (c.module === 'TransformerDecoderLayer') {
      await check((e) => e.transformerDecoderLayer({ ...c.config, weights }).forward(f32(inputs.tgt), f32(inputs.memory), {
        batch: dims.batch, seqT: dims.tgtSeq, seqS: dims.memorySeq, tgtMask: mask(masks.tgtMask), memoryMask: mask(masks.memoryMask),
        tgtKeyPaddingMask: mask(masks.tgtKeyPaddingMask), memoryKeyPaddingMask: mask(masks.memoryKeyPaddingMask),
        tgtIsCausal: masks.tgtIsCausal,
      }), c.expected.output);
    } else {
      const options = {
        batch: dims.batch, seqS: dims.srcSeq, seqT: dims.tgtSeq,
        srcMask: mask(masks.srcMask), tgtMask: mask(masks.tgtMask), memoryMask: mask(masks.memoryMask),
        srcKeyPaddingMask: mask(masks.srcKeyPaddingMask), tgtKeyPaddingMask: mask(masks.tgtKeyPaddingMask),
        memoryKeyPaddingMask: mask(masks.memoryKeyPaddingMask), tgtIsCausal: masks.tgtIsCausal,
      };
      await check((e) => e.transformer({ ...c.config, weights }).forward(f32(inputs.src), f32(inputs.tgt), options), c.expected.output);
      // encode then decode (the greedy loop's split) gives the same bits as forward
      const e = engines[0];
      const model = e.transformer({ ...c.config, weights });
      const { srcMask, srcKeyPaddingMask, ...decodeOptions } = options;
      const memory = await model.encode(f32(inputs.src), { batch: dims.batch, seqS: dims.srcSeq, srcMask, srcKeyPaddingMask });
      const split = await model.decode(f32(inputs.tgt), memory, decodeOptions);
      expectSameBits(split, await model.forward(f32(inputs.src), f32(inputs.tgt), options));
      await model.dispose();
    }
  });
});

describe('bias: false (torch >= 2.1\'s bias=False)', () => {
  // torch 1.13 has no bias argument: a module without biases is checked against the same module
  // with every bias zero, which differs from it at most in the sign of a zero (x + 0 is +0 for
  // x = -0): equal values at threads 1, 2 and 3, f32 and int8; and the state dict has no bias keys.
  const isBias = (key: string): boolean => /(^|\.)(in_proj_bias|bias)$/.test(key);
  const equalValues = (a: Float32Array, b: Float32Array, what: string): void => {
    expect(a.length, what).toBe(b.length);
    for (let i = 0; i < a.length; i++) if (!(a[i] === b[i] || (Number.isNaN(a[i]) && Number.isNaN(b[i])))) expect.fail(`${what}[${i}]: ${a[i]} vs ${b[i]}`);
  };
  const names = ['enc_E12_h3_b2_s8_causal_gelu', 'enc_E10_h5_b2_s6_floatMask_pre', 'dec_E30_h5_b2_t6_s8_causal_tgtPad_memPad',
    'transformer_E32_h4_enc2_dec2_b2_s12_t8_boolSrc_srcPad_pre'];
  for (const quantize of [undefined, 'int8'] as const) {
    it.each(names)(`%s${quantize ? ' (int8)' : ''}`, async (name) => {
      const c = load('layers').find((x) => x.name === name)!;
      const all = Object.fromEntries(Object.entries(c.weights as Record<string, Tensor>).map(([k, t]) => [k, f32(t)]));
      const zeroed = Object.fromEntries(Object.entries(all).map(([k, v]) => [k, isBias(k) ? new Float32Array(v.length) : v]));
      const without = Object.fromEntries(Object.entries(all).filter(([k]) => !isBias(k)));
      expect(Object.keys(without).length).toBeLessThan(Object.keys(all).length);
      const { masks = {}, dims, inputs } = c;
      const run = (e: Engine, weights: Record<string, Float32Array>, bias: boolean): Promise<Float32Array> => {
        const config = { ...c.config, weights, bias, ...(quantize ? { quantize } : {}) };
        if (c.module === 'TransformerEncoderLayer') {
          return e.transformerEncoderLayer(config).forward(f32(inputs.src), {
            batch: dims.batch, seq: dims.seq, srcMask: mask(masks.srcMask), srcKeyPaddingMask: mask(masks.srcKeyPaddingMask), isCausal: masks.isCausal,
          });
        }
        if (c.module === 'TransformerDecoderLayer') {
          return e.transformerDecoderLayer(config).forward(f32(inputs.tgt), f32(inputs.memory), {
            batch: dims.batch, seqT: dims.tgtSeq, seqS: dims.memorySeq, tgtMask: mask(masks.tgtMask), memoryMask: mask(masks.memoryMask),
            tgtKeyPaddingMask: mask(masks.tgtKeyPaddingMask), memoryKeyPaddingMask: mask(masks.memoryKeyPaddingMask), tgtIsCausal: masks.tgtIsCausal,
          });
        }
        return e.transformer(config).forward(f32(inputs.src), f32(inputs.tgt), {
          batch: dims.batch, seqS: dims.srcSeq, seqT: dims.tgtSeq, srcMask: mask(masks.srcMask), tgtMask: mask(masks.tgtMask),
          memoryMask: mask(masks.memoryMask), srcKeyPaddingMask: mask(masks.srcKeyPaddingMask),
          tgtKeyPaddingMask: mask(masks.tgtKeyPaddingMask), memoryKeyPaddingMask: mask(masks.memoryKeyPaddingMask), tgtIsCausal: masks.tgtIsCausal,
        });
      };
      const want = await run(engines[0], zeroed, true);
      const got = await Promise.all(engines.map((e) => run(e, without, false)));
      for (const g of got.slice(1)) expectSameBits(g, got[0]);
      equalValues(got[0], want, name);
      // bias: false with a bias key in the state dict: the file and the config disagree
      const key = Object.keys(all).find(isBias)!;
      expect(() => run(engines[0], { ...without, [key]: all[key] }, false)).toThrow(RangeError);
      expect(() => run(engines[0], { ...without, [key]: all[key] }, false)).toThrow(new RegExp(key.replace(/\./g, '\\.')));
      // and bias: true (the default) without them names the first missing one
      expect(() => run(engines[0], without, true)).toThrow(/bias/);
    });
  }
});

describe('a float key padding mask is added, merged with any attention mask and causality', () => {
  // torch 1.13 adds a float key_padding_mask only when no attn_mask is given (the fixtures'
  // floatKeyPadding cases); torch >= 2.0 adds it to any mask, a bool one taken as -inf. Here:
  // the merged form equals a hand-merged per-slice float srcMask, and a 0 / -inf float padding
  // equals the bool one, bit for bit, at threads 1, 2 and 3.
  const c = load('layers').find((x) => x.name === 'enc_E12_h3_b2_s7_floatKeyPadding')!;
  const weights = Object.fromEntries(Object.entries(c.weights as Record<string, Tensor>).map(([k, t]) => [k, f32(t)]));
  const { batch: B, seq: L } = c.dims as { batch: number; seq: number };
  const H = c.config.nhead as number;
  const src = f32(c.inputs.src);
  const padding = f32(c.masks.srcKeyPaddingMask);
  const run = (opts: object): Promise<Float32Array[]> => Promise.all(engines.map(async (e) => {
    const layer = e.transformerEncoderLayer({ ...c.config, weights });
    try {
      return await layer.forward(src, { batch: B, seq: L, ...opts });
    } finally {
      await layer.dispose();
    }
  }));
  const same = (got: Float32Array[], want: Float32Array[], what: string): void => {
    got.forEach((g, i) => expectSameBits(g, want[0], `${what}, threads ${engines[i].threads}`));
    want.forEach((w, i) => expectSameBits(w, want[0], `${what} (reference), threads ${engines[i].threads}`));
  };

  it('with a bool srcMask and isCausal: the hand-merged float srcMask', async () => {
    const bool = Uint8Array.from({ length: L * L }, (_, i) => (i % L !== 0 && (i * 7) % 5 === 0 ? 1 : 0));
    const merged = new Float32Array(B * H * L * L);
    for (let b = 0; b < B; b++) {
      for (let h = 0; h < H; h++) {
        for (let i = 0; i < L * L; i++) merged[(b * H + h) * L * L + i] = (bool[i] ? -Infinity : 0) + padding[b * L + (i % L)];
      }
    }
    same(await run({ srcMask: bool, srcKeyPaddingMask: padding, isCausal: true }), await run({ srcMask: merged, isCausal: true }), 'bool mask');
  });

  it('with a float srcMask [L, L]: the hand-merged float srcMask', async () => {
    const plane = Float32Array.from({ length: L * L }, (_, i) => Math.sin(i) - 0.5);
    const merged = new Float32Array(B * H * L * L);
    for (let b = 0; b < B; b++) {
      for (let h = 0; h < H; h++) {
        for (let i = 0; i < L * L; i++) merged[(b * H + h) * L * L + i] = plane[i] + padding[b * L + (i % L)];
      }
    }
    same(await run({ srcMask: plane, srcKeyPaddingMask: padding }), await run({ srcMask: merged }), 'float mask');
  });

  it('0 / -inf padding equals the bool key padding mask', async () => {
    const bool = Uint8Array.from({ length: B * L }, (_, i) => (i % L >= L - 2 || i % 3 === 2 ? 1 : 0));
    const float = Float32Array.from(bool, (v) => (v ? -Infinity : 0));
    same(await run({ srcKeyPaddingMask: float }), await run({ srcKeyPaddingMask: bool }), '0 / -inf');
  });
});

describe('special values as torch', () => {
  it('layerNorm takes eps 0: the float64 layer norm within 2e-4, and a constant row is NaN', async () => {
    const rows = 5, dim = 33;
    const x = Float32Array.from({ length: rows * dim }, (_, i) => Math.sin(i * 1.7) * 3 + (i % 7));
    x.fill(2.5, 4 * dim, 5 * dim); // row 4 constant: variance 0, 1/sqrt(0 + 0) = inf, 0·inf = NaN
    const want = new Float32Array(rows * dim);
    for (let r = 0; r < rows; r++) {
      const row = Array.from(x.subarray(r * dim, (r + 1) * dim));
      const mean = row.reduce((a, b) => a + b, 0) / dim;
      const variance = row.reduce((a, b) => a + (b - mean) ** 2, 0) / dim;
      row.forEach((v, j) => { want[r * dim + j] = (v - mean) / Math.sqrt(variance); });
    }
    const results = await Promise.all(engines.map((e) => e.layerNorm(x, { rows, dim, eps: 0 })));
    for (const r of results.slice(1)) expectSameBits(r, results[0]);
    expectClose(results[0].subarray(0, 4 * dim), want.subarray(0, 4 * dim), TOL, TOL, 'eps 0');
    expect(Array.from(results[0].subarray(4 * dim)).every(Number.isNaN), 'a constant row with eps 0').toBe(true);
  });

  it('softmax: a row holding NaN or +inf is NaN, the same NaN on every thread count and kernel tier', async () => {
    const rows = 12, cols = 7 + 16; // a vector body and a scalar tail
    const x = Float32Array.from({ length: rows * cols }, (_, i) => Math.sin(i) * 3);
    for (let r = 0; r < rows; r++) if (r % 3 !== 2) x[r * cols + ((r * 5) % cols)] = r % 3 === 0 ? Number.NaN : Infinity;
    const mask = Uint8Array.from({ length: rows * cols }, (_, i) => (i % 5 === 0 ? 0 : 1));
    // Warm every engine's kernels (V8 tiers them up; the calling thread and fresh workers gave
    // NaNs of either sign before the kernel wrote its own)
    for (let i = 0; i < 300; i++) await Promise.all(engines.map((e) => e.softmax(x, { rows, cols, scale: 10, mask })));
    for (const options of [{ rows, cols }, { rows, cols, scale: 10, mask }]) {
      const results = await Promise.all(engines.map((e) => e.softmax(x, options))) as Float32Array[];
      for (const r of results.slice(1)) expectSameBits(r, results[0], `threads, mask ${options.mask !== undefined}`);
      const bits = new Uint32Array(results[0].buffer, results[0].byteOffset, results[0].length);
      for (let r = 0; r < rows; r++) {
        const row = Array.from(bits.subarray(r * cols, (r + 1) * cols));
        if (r % 3 === 2) expect(row.every((b) => (b & 0x7f800000) !== 0x7f800000), `row ${r} finite`).toBe(true);
        else expect(row.every((b) => b === 0x7fc00000), `row ${r}: 0x7fc00000 everywhere`).toBe(true);
      }
    }
  }, 60_000);

  it('softmax: a row with no finite logit left (masked, −inf in x, or x·scale overflowing to −inf) gives zeros (torch: NaN), as documented', async () => {
    const rows = 4, cols = 9;
    const x = Float32Array.from({ length: rows * cols }, (_, i) => Math.cos(i));
    x.fill(-Infinity, 0, cols); // row 0: −inf in x
    x.fill(-3e38, cols, 2 * cols); // row 1: −inf once scaled by 10
    const mask = new Uint8Array(rows * cols).fill(1).fill(0, 2 * cols, 3 * cols); // row 2: fully masked
    const results = await Promise.all(engines.map((e) => e.softmax(x, { rows, cols, scale: 10, mask }))) as Float32Array[];
    for (const r of results.slice(1)) expectSameBits(r, results[0]);
    expect(Array.from(results[0].subarray(0, 3 * cols))).toEqual(new Array(3 * cols).fill(0));
    const last = results[0].subarray(3 * cols);
    expect(Math.abs(last.reduce((a, b) => a + b, 0) - 1)).toBeLessThan(1e-6);
  });

  it('gelu: -inf gives NaN (torch: -inf·Φ(-inf) = -inf·0), +inf gives +inf, NaN stays NaN, in both forms', async () => {
    for (const approximate of ['none', 'tanh'] as const) {
      const x = Float32Array.of(-Infinity, Infinity, Number.NaN, -1, 0.5, -Infinity, 3);
      const results = await Promise.all(engines.map((e) => e.gelu(x, { approximate })));
      for (const r of results.slice(1)) expectSameBits(r, results[0]);
      const y = results[0];
      expect([Number.isNaN(y[0]), y[1], Number.isNaN(y[2]), Number.isNaN(y[5])], approximate).toEqual([true, Infinity, true, true]);
      for (const i of [3, 4, 6]) expect(Number.isFinite(y[i]), `${approximate} gelu(${x[i]})`).toBe(true);
    }
  });
});
