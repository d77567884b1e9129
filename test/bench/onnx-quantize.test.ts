// The bench's onnxruntime q8 peer (bench/peers/onnx-quantize.mjs, quantize_dynamic's rewrite in
// JavaScript): the weight codes and scales of quant_utils.py's formulas on hand-worked values,
// the node pattern quantize_dynamic emits (IntegerOps: DynamicQuantizeLinear → MatMulInteger →
// Cast → Mul(x_scale, W_scale) → Mul, Gemm split into MatMul + Add first, embedding Gathers on
// uint8 tables + DequantizeLinear), one quantized MatMul in onnxruntime-web against a plain-JS
// evaluation of those ops, and the whole q8 GPT-2 and BERT graphs (the torch-checked fixture
// geometry of test/bench/onnx-models.test.ts) within q8 error of their fp32 graphs.
import { describe, expect, it, beforeAll } from 'vitest';
import { readFileSync } from 'node:fs';
import { loadSafetensors } from '../../dist/index.js';
// @ts-expect-error: a JavaScript module of the bench, without types
import { bertGraph, bertLayerGraph, gpt2WithPastGraph } from '../../bench/peers/onnx-models.mjs';
// @ts-expect-error: likewise
import { encodeModel } from '../../bench/peers/onnx-proto.mjs';
import {
  quantizeAsymmetricUint8, quantizeDynamic, quantizeMatMulWeight, quantizeSymmetricInt8, TRANSFORMERS_JS_Q8,
// @ts-expect-error: likewise
} from '../../bench/peers/onnx-quantize.mjs';

type Ort = typeof import('onnxruntime-web');
type Session = Awaited<ReturnType<Ort['InferenceSession']['create']>>;
type Node = { opType: string; inputs: string[]; outputs: string[] };
type Init = { name: string; dims: number[]; data: Float32Array | Int8Array | Uint8Array };
type Graph = { nodes: Node[]; initializers: Init[]; inputs: { name: string }[]; outputs: { name: string }[] };

const fixture = (name: string, file: string) => new URL(`../fixtures/onnx-export/${name}/${file}`, import.meta.url);
const load = (name: string) => ({
  config: JSON.parse(readFileSync(fixture(name, 'config.json'), 'utf8')) as Record<string, number>,
  weights: loadSafetensors(readFileSync(fixture(name, 'model.safetensors'))) as Record<string, Float32Array>,
});
const count = (g: Graph) => g.nodes.reduce<Record<string, number>>((acc, n) => ({ ...acc, [n.opType]: (acc[n.opType] ?? 0) + 1 }), {});

function relRms(got: ArrayLike<number>, want: ArrayLike<number>): number {
  expect(got.length).toBe(want.length);
  let num = 0, den = 0;
  for (let i = 0; i < want.length; i++) { num += (got[i] - want[i]) ** 2; den += want[i] ** 2; }
  return Math.sqrt(num / den);
}

/** Seeded uniform values in [-scale, scale) (an LCG; the seed is in the test name). */
function uniform(n: number, seed: number, scale = 1): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return (s / 2 ** 32 * 2 - 1) * scale; });
}

/** numpy.round / ONNX's round-half-to-even. */
const rint = (x: number) => { const r = Math.round(x); return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r; };

/**
 * The quantized MatMul per the ONNX operator specs, in plain JS: DynamicQuantizeLinear (uint8:
 * scale = (max(0, x) - min(0, x)) / 255, zero point saturate(round(-min / scale)), q =
 * saturate(round(x / scale) + zp)), MatMulInteger with both zero points subtracted, exact i32
 * sums, then · x_scale·w_scale[n].
 */
function referenceQ8MatMul(x: Float32Array, M: number, K: number, codes: Int8Array, scales: Float32Array, N: number): Float32Array {
  let lo = 0, hi = 0;
  for (const v of x) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
  const scale = Math.fround((hi - lo) / 255);
  const zp = Math.min(255, Math.max(0, rint(-lo / scale)));
  const xq = Uint8Array.from(x, (v) => Math.min(255, Math.max(0, rint(Math.fround(v / scale)) + zp)));
  const y = new Float32Array(M * N);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let acc = 0;
      for (let k = 0; k < K; k++) acc += (xq[m * K + k] - zp) * codes[k * N + n];
      y[m * N + n] = Math.fround(acc) * Math.fround(scale * scales[scales.length === 1 ? 0 : n]);
    }
  }
  return y;
}

let ort: Ort;
beforeAll(async () => {
  ort = await import('onnxruntime-web');
  ort.env.wasm.numThreads = 1;
  ort.env.logLevel = 'error';
});
const open = (graph: Graph): Promise<Session> =>
  ort.InferenceSession.create(encodeModel({ graph }), { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
const int64 = (values: number[], dims: number[]) => new ort.Tensor('int64', BigInt64Array.from(values, BigInt), dims);

describe('bench/peers/onnx-quantize.mjs: quantize_dynamic as transformers.js runs it', () => {
  it('int8 weights: symmetric, scale 2·absmax / 254 (or / 128 with reduce_range), halves to even', () => {
    // reduce_range: absmax 64 → scale 128 / 128 = 1 exactly; -2.5 → -2, 3.5 → 4, 0.5 → 0.
    const r = quantizeSymmetricInt8(Float32Array.of(64, -2.5, 3.5, 0.5, -64, 1.5), true);
    expect(r.scale).toBe(1);
    expect(Array.from(r.codes)).toEqual([64, -2, 4, 0, -64, 2]);
    // Full range: absmax 127 → scale 254 / 254 = 1; the tensor's minimum sets it when larger.
    const f = quantizeSymmetricInt8(Float32Array.of(-127, 10.5, 11.5, 126.4), false);
    expect(f.scale).toBe(1);
    expect(Array.from(f.codes)).toEqual([-127, 10, 12, 126]);
    // An all-zero tensor: scale 1, codes 0 (compute_scale_zp's tiny-scale rule).
    expect(quantizeSymmetricInt8(new Float32Array(3), false).scale).toBe(1);
    // Per column of B [K = 2, N = 3]: each column its own scale.
    const w = quantizeMatMulWeight(Float32Array.of(64, 1, -32, -32, 0.5, 16), 2, 3, { perChannel: true, reduceRange: true });
    expect(Array.from(w.scales)).toEqual([1, 1 / 64, 0.5]);
    expect(Array.from(w.codes)).toEqual([64, 64, -64, -32, 32, 32]);
  });

  it('uint8 embedding tables: asymmetric over [min(x, 0), max(x, 0)], zero point round(-rmin / scale)', () => {
    // rmin -1, rmax 3: scale 4/255, zero point round(63.75) = 64; -1 → -64 + 64 = 0, 3 → 191 + 64 = 255.
    const q = quantizeAsymmetricUint8(Float32Array.of(-1, 3, 0));
    expect(q.scale).toBe(Math.fround(4 / 255));
    expect(q.zeroPoint).toBe(64);
    expect(Array.from(q.codes)).toEqual([0, 255, 64]);
  });

  it('one MatMul + Add: the node pattern, and onnxruntime-web agrees with the ops computed in JS (seed 7)', async () => {
    const M = 5, K = 19, N = 7;
    const w = uniform(K * N, 7, 0.3), bias = uniform(N, 8, 0.1), x = uniform(M * K, 9, 2);
    for (const options of [TRANSFORMERS_JS_Q8.gpt2, TRANSFORMERS_JS_Q8.bert]) {
      const graph: Graph = quantizeDynamic({
        name: 'linear',
        nodes: [{ opType: 'Gemm', inputs: ['x', 'w', 'b'], outputs: ['y'] }],
        initializers: [{ name: 'w', dims: [K, N], data: w }, { name: 'b', dims: [N], data: bias }],
        inputs: [{ name: 'x', shape: [M, K] }],
        outputs: [{ name: 'y', shape: [M, N] }],
      }, options);
      expect(graph.nodes.map((n) => n.opType)).toEqual(['DynamicQuantizeLinear', 'MatMulInteger', 'Cast', 'Mul', 'Mul', 'Add']);
      const [dql, mi, cast, scales, mul, add] = graph.nodes;
      expect(mi.inputs).toEqual([dql.outputs[0], 'w_quantized', dql.outputs[2], 'w_zero_point']);
      expect(cast.inputs).toEqual(mi.outputs);
      expect(scales.inputs).toEqual([dql.outputs[1], 'w_scale']);
      expect(mul.inputs).toEqual([cast.outputs[0], scales.outputs[0]]);
      expect(add.inputs).toEqual([mul.outputs[0], 'b']);
      const init = Object.fromEntries(graph.initializers.map((t) => [t.name, t]));
      expect(Object.keys(init).sort()).toEqual(['b', 'w_quantized', 'w_scale', 'w_zero_point']);
      expect(init.w_scale.dims).toEqual(options.perChannel ? [N] : []);
      expect(init.w_quantized.data).toBeInstanceOf(Int8Array);

      const session = await open(graph);
      const got = (await session.run({ x: new ort.Tensor('float32', x, [M, K]) })).y.data as Float32Array;
      const want = referenceQ8MatMul(x, M, K, init.w_quantized.data as Int8Array, init.w_scale.data as Float32Array, N).map((v, i) => v + bias[i % N]);
      for (let i = 0; i < want.length; i++) expect(Math.abs(got[i] - want[i]), `${JSON.stringify(options)} y[${i}]`).toBeLessThan(1e-5 * (1 + Math.abs(want[i])));
      await session.release();
    }
  });

  it('GPT-2 with past: every Conv1D and lm_head quantized, attention products f32; logits within q8 error', async () => {
    const { config, weights } = load('gpt2');
    const fp32 = gpt2WithPastGraph(config, weights) as Graph;
    const q8 = quantizeDynamic(fp32, TRANSFORMERS_JS_Q8.gpt2) as Graph;
    const L = config.n_layer, ops = count(q8);
    expect(ops.Gemm).toBeUndefined();
    expect(ops.MatMulInteger).toBe(4 * L + 1);
    expect(ops.DynamicQuantizeLinear).toBe(4 * L + 1); // one per distinct input: c_attn, c_proj, c_fc, mlp.c_proj, lm_head
    expect(ops.MatMul).toBe(2 * L); // Q·Kᵀ and P·V: MatMulConstBOnly
    expect(ops.DequantizeLinear).toBe(2); // wte and wpe, gathered as uint8
    expect(q8.initializers.filter((t) => t.data instanceof Float32Array && t.data.length > 4 * config.n_embd)).toEqual([]);
    // op_types_to_quantize = ['MatMul']: the embedding tables stay f32.
    const matmulOnly = count(quantizeDynamic(fp32, { ...TRANSFORMERS_JS_Q8.gpt2, opTypes: ['MatMul'] }) as Graph);
    expect([matmulOnly.MatMulInteger, matmulOnly.DequantizeLinear, matmulOnly.Gather]).toEqual([4 * L + 1, undefined, count(fp32).Gather]);

    const H = config.n_head, d = config.n_embd / H;
    const feeds = (ids: number[]) => {
      const f: Record<string, unknown> = {
        input_ids: int64(ids, [1, ids.length]), attention_mask: int64(ids.map(() => 1), [1, ids.length]),
        position_ids: int64(ids.map((_, i) => i), [1, ids.length]),
      };
      for (let i = 0; i < L; i++) for (const kind of ['key', 'value']) f[`past_key_values.${i}.${kind}`] = new ort.Tensor('float32', new Float32Array(0), [1, H, 0, d]);
      return f as Parameters<Session['run']>[0];
    };
    const [a, b] = [await open(fp32), await open(q8)];
    const prompt = [3, 17, 42, 5, 61, 0, 9, 33];
    const [ya, yb] = [await a.run(feeds(prompt)), await b.run(feeds(prompt))];
    const err = relRms(yb.logits.data as Float32Array, ya.logits.data as Float32Array);
    expect(err).toBeGreaterThan(1e-4); // it did quantize
    expect(err).toBeLessThan(0.1);
    await Promise.all([a.release(), b.release()]);
  });

  it('BERT: Q, K and V share one DynamicQuantizeLinear, per-channel scales; last_hidden_state within q8 error', async () => {
    const { config, weights } = load('bert');
    const fp32 = bertGraph(config, weights) as Graph;
    const q8 = quantizeDynamic(fp32, TRANSFORMERS_JS_Q8.bert) as Graph;
    const L = config.num_hidden_layers, ops = count(q8);
    expect(ops.MatMulInteger).toBe(6 * L);
    expect(ops.DynamicQuantizeLinear).toBe(4 * L);
    expect(ops.MatMul).toBe(2 * L);
    expect(ops.DequantizeLinear).toBe(3); // word, token type and position embeddings
    const scale = q8.initializers.find((t) => t.name === 'encoder.layer.0.intermediate.dense.weight.T_scale');
    expect(scale?.dims).toEqual([config.intermediate_size]);

    const dims = [2, 6];
    const feeds = () => ({
      input_ids: int64([1, 7, 30, 2, 49, 11, 4, 4, 8, 0, 13, 21], dims),
      attention_mask: int64([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0], dims),
      token_type_ids: int64([0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0], dims),
    });
    const [a, b] = [await open(fp32), await open(q8)];
    const [ya, yb] = [await a.run(feeds()), await b.run(feeds())];
    const err = relRms(yb.last_hidden_state.data as Float32Array, ya.last_hidden_state.data as Float32Array);
    expect(err).toBeGreaterThan(1e-4);
    expect(err).toBeLessThan(0.1);
    await Promise.all([a.release(), b.release()]);
  });

  it('one BERT layer on hidden states (the q8 layer row): fp32 graph equals the engine-free reference, q8 close (seed 11)', async () => {
    const d = 16, H = 4, ff = 32, B = 2, S = 5;
    let seed = 11;
    const w: Record<string, Float32Array> = {
      'self_attn.in_proj_weight': uniform(3 * d * d, seed++, 0.25), 'self_attn.in_proj_bias': uniform(3 * d, seed++, 0.1),
      'self_attn.out_proj.weight': uniform(d * d, seed++, 0.25), 'self_attn.out_proj.bias': uniform(d, seed++, 0.1),
      'linear1.weight': uniform(ff * d, seed++, 0.25), 'linear1.bias': uniform(ff, seed++, 0.1),
      'linear2.weight': uniform(d * ff, seed++, 0.18), 'linear2.bias': uniform(d, seed++, 0.1),
      'norm1.weight': uniform(d, seed++, 0.1).map((v) => 1 + v), 'norm1.bias': uniform(d, seed++, 0.1),
      'norm2.weight': uniform(d, seed++, 0.1).map((v) => 1 + v), 'norm2.bias': uniform(d, seed++, 0.1),
    };
    const x = uniform(B * S * d, seed++, 1.7);
    const shape = { dModel: d, nhead: H, ff, eps: 1e-12 };
    const fp32 = bertLayerGraph(shape, w) as Graph;
    const q8 = quantizeDynamic(fp32, TRANSFORMERS_JS_Q8.bert) as Graph;
    expect(count(q8).MatMulInteger).toBe(6);
    const run = async (g: Graph) => {
      const s = await open(g);
      const y = (await s.run({ x: new ort.Tensor('float32', x, [B, S, d]) })).y.data as Float32Array;
      await s.release();
      return y;
    };
    // @ts-expect-error: a JavaScript module of the bench, without types
    const { plainEncoderLayer } = await import('../../bench/peers/plain-js.mjs');
    const want = plainEncoderLayer(x, B, S, { dModel: d, nhead: H, ff, activation: 'gelu', eps: 1e-12 }, w) as Float32Array;
    expect(relRms(await run(fp32), want)).toBeLessThan(1e-5);
    const err = relRms(await run(q8), want);
    expect(err).toBeGreaterThan(1e-4);
    expect(err).toBeLessThan(0.1);
  });
});
