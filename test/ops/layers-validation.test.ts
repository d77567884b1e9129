// Bad input to the ops and modules: a TypeError / RangeError naming the argument or the
// state-dict key before any work, and the engine computes correctly afterwards.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, loadSafetensors, writeSafetensors, type Engine } from '../../dist/index.js';
import { randomF32 } from '../helpers/random.js';

let engine: Engine;
beforeAll(async () => {
  engine = await createEngine({ threads: 2 });
});
afterAll(async () => {
  await engine.dispose();
});

const d = 8, ff = 16;
function layerWeights(prefix = '', decoder = false): Record<string, Float32Array> {
  const w: Record<string, Float32Array> = {};
  let seed = 1;
  const put = (key: string, n: number) => { w[prefix + key] = randomF32(n, seed++, 0.3); };
  for (const a of decoder ? ['self_attn', 'multihead_attn'] : ['self_attn']) {
    put(`${a}.in_proj_weight`, 3 * d * d); put(`${a}.in_proj_bias`, 3 * d);
    put(`${a}.out_proj.weight`, d * d); put(`${a}.out_proj.bias`, d);
  }
  put('linear1.weight', ff * d); put('linear1.bias', ff); put('linear2.weight', d * ff); put('linear2.bias', d);
  for (const n of decoder ? ['norm1', 'norm2', 'norm3'] : ['norm1', 'norm2']) { put(`${n}.weight`, d); put(`${n}.bias`, d); }
  return w;
}
const config = (weights: Record<string, Float32Array>, extra: Record<string, unknown> = {}) =>
  ({ dModel: d, nhead: 2, dimFeedforward: ff, weights, ...extra });

describe('module construction', () => {
  const without = (key: string) => { const w = layerWeights(); delete w[key]; return w; };
  it('a state dict from a safetensors file: a weight stored in the other layout is a RangeError naming it', () => {
    const shapes: Record<string, number[]> = {
      'self_attn.in_proj_weight': [3 * d, d], 'self_attn.out_proj.weight': [d, d], 'linear2.weight': [d, ff],
      'linear1.weight': [d, ff], // nn.Linear stores [out, in] = [ff, d]
    };
    const w = layerWeights();
    const file = writeSafetensors(Object.fromEntries(Object.entries(w).map(([k, v]) => [k, { dtype: 'F32', shape: shapes[k] ?? [v.length], data: v }])));
    expect(() => engine.transformerEncoderLayer(config(loadSafetensors(file)))).toThrow(
      /config\.weights\["linear1\.weight"\] has shape \[8, 16\] in its safetensors file, expected \[16, 8\] \(the transpose/);
  });
  it.each([
    ['missing state-dict key', config(without('linear1.bias')), TypeError, /config\.weights\["linear1\.bias"\] must be a Float32Array, got undefined/],
    ['unknown state-dict key', config({ ...layerWeights(), 'linear3.weight': new Float32Array(4) }), RangeError, /config\.weights\["linear3\.weight"\] is not a known key/],
    ['wrong shape', config({ ...layerWeights(), 'linear2.weight': new Float32Array(10) }), RangeError, /config\.weights\["linear2\.weight"\] has length 10, expected 128 \(\[dModel, dimFeedforward\] = \[8, 16\]\)/],
    ['unknown activation', config(layerWeights(), { activation: 'swish' }), RangeError, /config\.activation must be 'relu' or 'gelu'/],
    ['activation not a string', config(layerWeights(), { activation: 3 }), TypeError, /config\.activation/],
    ['nhead not dividing dModel', config(layerWeights(), { nhead: 3 }), RangeError, /config\.nhead \(3\) must divide config\.dModel \(8\)/],
    ['batchFirst false', config(layerWeights(), { batchFirst: false }), RangeError, /config\.batchFirst must be true/],
    ['torch spelling', config(layerWeights(), { norm_first: true }), RangeError, /config\.norm_first is not a known key \(did you mean config\.normFirst\?\)/],
    ['eps negative', config(layerWeights(), { layerNormEps: -1e-5 }), RangeError, /config\.layerNormEps/],
  ])('encoder layer: %s', (_, c, Class, message) => {
    expect(() => engine.transformerEncoderLayer(c as never)).toThrow(Class);
    expect(() => engine.transformerEncoderLayer(c as never)).toThrow(message);
  });

  it('decoder layer and transformer name their keys', () => {
    const dec = layerWeights('', true);
    delete dec['norm3.weight'];
    expect(() => engine.transformerDecoderLayer(config(dec))).toThrow(/config\.weights\["norm3\.weight"\] must be a Float32Array/);
    const t: Record<string, Float32Array> = {
      ...layerWeights('encoder.layers.0.'), ...layerWeights('decoder.layers.0.', true),
      'encoder.norm.weight': randomF32(d, 1), 'encoder.norm.bias': randomF32(d, 2),
      'decoder.norm.weight': randomF32(d, 3), 'decoder.norm.bias': randomF32(d, 4),
    };
    const model = { ...config(t), numEncoderLayers: 1, numDecoderLayers: 1 };
    expect(() => engine.transformer({ ...model, numEncoderLayers: 2 })).toThrow(/config\.weights\["encoder\.layers\.1\.self_attn\.in_proj_weight"\] must be a Float32Array/);
    expect(() => engine.transformer({ ...model, weights: { ...t, 'decoder.layers.1.linear1.bias': randomF32(ff, 5) } }))
      .toThrow(/config\.weights\["decoder\.layers\.1\.linear1\.bias"\] is not a known key/);
    expect(() => engine.transformer(model)).not.toThrow();
  });

  it('a transformer of no decoder layers is decoder.norm(tgt), as torch builds it; one of no encoder layers is refused', async () => {
    // torch 1.13: nn.Transformer(num_decoder_layers=0) runs, its output decoder.norm(tgt); with
    // num_encoder_layers=0 its forward fails on layers[0].
    const t: Record<string, Float32Array> = {
      ...layerWeights('encoder.layers.0.'), 'encoder.norm.weight': randomF32(d, 1), 'encoder.norm.bias': randomF32(d, 2),
      'decoder.norm.weight': randomF32(d, 3), 'decoder.norm.bias': randomF32(d, 4),
    };
    const model = engine.transformer({ ...config(t), numEncoderLayers: 1, numDecoderLayers: 0, layerNormEps: 1e-6 });
    const src = randomF32(2 * 3 * d, 5), tgt = randomF32(2 * 4 * d, 6);
    const want = await engine.layerNorm(tgt, { rows: 8, dim: d, weight: t['decoder.norm.weight'], bias: t['decoder.norm.bias'], eps: 1e-6 });
    const o = { batch: 2, seqS: 3, seqT: 4, tgtIsCausal: true, memoryKeyPaddingMask: new Uint8Array([0, 0, 1, 0, 0, 0]) };
    expect(await model.forward(src, tgt, o)).toEqual(want);
    expect(await model.decode(tgt, await model.encode(src, { batch: 2, seqS: 3 }), o)).toEqual(want);
    expect(() => engine.transformer({ ...config({ ...t, ...layerWeights('decoder.layers.0.', true) }), numEncoderLayers: 1, numDecoderLayers: 0 }))
      .toThrow(/config\.weights\["decoder\.layers\.0\.[a-z_.]+"\] is not a known key/);
    expect(() => engine.transformer({ ...config(t), numEncoderLayers: 0, numDecoderLayers: 0 }))
      .toThrow(/config\.numEncoderLayers must be a positive integer, got 0/);
    await model.dispose();
  });
});

describe('module and op calls', () => {
  it('wrong shapes, masks and options are named; the engine stays usable', async () => {
    const layer = engine.transformerEncoderLayer(config(layerWeights()));
    const src = randomF32(2 * 5 * d, 9);
    const good = await layer.forward(src, { batch: 2, seq: 5 });
    await expect(layer.forward(src.subarray(1), { batch: 2, seq: 5 })).rejects.toThrow(/src has length 79, expected 80 \(batch·seq·dModel = 2·5·8\)/);
    await expect(layer.forward(src, { batch: 2, seq: 5, srcMask: new Uint8Array(24) })).rejects.toThrow(/options\.srcMask has length 24, expected 5·5 = 25 or batch·nhead·5·5 = 100/);
    await expect(layer.forward(src, { batch: 2, seq: 5, srcKeyPaddingMask: new Int32Array(10) as never }))
      .rejects.toThrow(/options\.srcKeyPaddingMask must be a Uint8Array \(non-zero = ignore that key\) or a Float32Array \(added\)/);
    await expect(layer.forward(src, { batch: 2, seq: 5, srcKeyPaddingMask: new Float32Array(9) }))
      .rejects.toThrow(/options\.srcKeyPaddingMask has length 9, expected 10 \(batch·5 = 2·5\)/);
    await expect(layer.forward(src, { batch: 2, seq: 5, is_causal: true } as never)).rejects.toThrow(/options\.is_causal is not a known key \(did you mean options\.isCausal\?\)/);
    await expect(engine.matmul(randomF32(6, 1), randomF32(5, 2), { m: 2, k: 3, n: 2 })).rejects.toThrow(/matmul: b has length 5, expected 6/);
    await expect(engine.matmul(randomF32(12, 1), randomF32(7, 2), { m: 2, k: 3, n: 2, batch: 2 }))
      .rejects.toThrow(/matmul: b has length 7, expected k·n = 3·2 = 6 \(one B for every batch entry\) or batch·k·n = 2·3·2 = 12/);
    await expect(engine.softmax(randomF32(6, 1), { rows: 2, cols: 3, mask: new Uint8Array(4) })).rejects.toThrow(/softmax: options\.mask has length 4, expected rows·cols = 6 or cols = 3/);
    await expect(engine.layerNorm(randomF32(6, 1), { rows: 2, dim: 3, weight: new Float32Array(2) })).rejects.toThrow(/layerNorm: options\.weight has length 2, expected 3/);
    await expect(engine.gelu(randomF32(6, 1), { approximate: 'fast' as never })).rejects.toThrow(/gelu: options\.approximate must be 'none' or 'tanh'/);
    const out = engine.createTensor(5);
    await expect(engine.gelu(randomF32(6, 1), { out })).rejects.toThrow(/gelu: options\.out has length 5, expected 6/);
    expect(await layer.forward(src, { batch: 2, seq: 5 })).toEqual(good);
    await layer.dispose();
    await expect(layer.forward(src, { batch: 2, seq: 5 })).rejects.toThrow(/disposed/);
  });

  it('a Proxy of a Float32Array is a TypeError naming the argument (reading its length threw a bare TypeError)', async () => {
    const x = randomF32(6, 1);
    const proxy = () => new Proxy(x, {});
    const named = (op: string, arg: string) => new RegExp(`^${op}: ${arg} must be a Float32Array or a tensor of this engine, got object`);
    await expect(engine.gelu(proxy())).rejects.toThrow(named('gelu', 'x'));
    await expect(engine.softmax(proxy(), { rows: 2, cols: 3 })).rejects.toThrow(named('softmax', 'x'));
    await expect(engine.layerNorm(proxy(), { rows: 2, dim: 3 })).rejects.toThrow(named('layerNorm', 'x'));
    await expect(engine.matmul(proxy(), x, { m: 2, k: 3, n: 2 })).rejects.toThrow(named('matmul', 'a'));
    await expect(engine.matmul(x, proxy(), { m: 2, k: 3, n: 2 })).rejects.toThrow(named('matmul', 'b'));
    expect(await engine.gelu(x)).toEqual(await engine.gelu(x.slice()));
  });

  it('out tensors chain ops without leaving the engine', async () => {
    const x = randomF32(4 * 8, 3);
    const t = engine.createTensor(4 * 8);
    expect(await engine.layerNorm(x, { rows: 4, dim: 8, out: t })).toBe(t);
    expect(await engine.gelu(t, { out: t })).toBe(t); // in place
    const direct = await engine.gelu(await engine.layerNorm(x, { rows: 4, dim: 8 }) as Float32Array) as Float32Array;
    expect(await t.read()).toEqual(direct);
    const c = engine.createTensor(4 * 3);
    const w = randomF32(3 * 8, 4);
    await engine.matmul(t, w, { m: 4, k: 8, n: 3, transB: true, out: c });
    expect(await c.read()).toEqual(await engine.matmul(direct, w, { m: 4, k: 8, n: 3, transB: true }));
  });
});
