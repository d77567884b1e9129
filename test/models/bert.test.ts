// engine.bert against the PyTorch reference of test/fixtures/make_bert_fixtures.py (HF's
// modeling_bert.py written out): HF layouts (config.json + model.safetensors, with and without
// the `bert.` prefix, gamma/beta, BF16 and F16, cls.* heads), padding masks, attentions;
// threads 1 and 2 with the pool forced give the same bits; meanPool; bad inputs named.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSafetensors, meanPool, readSafetensors, writeSafetensors, type BertConfig, type Engine, type SafetensorsInput } from '../../dist/index.js';
import { fixtureF32, type FixtureTensor } from '../helpers/fixtures.js';
import { expectClose, expectSameBits } from '../helpers/compare.js';
import { forcedEngines } from '../helpers/engines.js';
import { randomF32, randomInts, rng } from '../helpers/random.js';
import { referenceBert } from '../reference/bert.js';
import { referenceLinear } from '../reference/attention.js';
import { referenceLayerNorm } from '../reference/layer-norm.js';
import { gelu, geluTanh, relu } from '../reference/activation.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const dir = new URL('../fixtures/bert/', import.meta.url);
const cases: Json[] = JSON.parse(readFileSync(new URL('expected.json', dir), 'utf8')).cases;
const configOf = (name: string): BertConfig => JSON.parse(readFileSync(new URL(`${name}/config.json`, dir), 'utf8'));
const weightsOf = (name: string): Record<string, Float32Array> => loadSafetensors(readFileSync(new URL(`${name}/model.safetensors`, dir)));
const f32 = (t: FixtureTensor): Float32Array => fixtureF32(t);
const TOL = 2e-4;

let engines: Engine[];
beforeAll(async () => { engines = await forcedEngines([1, 2]); });
afterAll(async () => { await Promise.all(engines.map((e) => e.dispose())); });

describe('BertModel against the PyTorch reference', () => {
  it.each(cases.map((c) => [c.name, c]))('%s', async (name, c) => {
    const outputs = [];
    for (const engine of engines) {
      const model = engine.bert({ config: configOf(name), weights: weightsOf(name) });
      const out = await model.forward(new Int32Array(c.inputIds), {
        batch: c.batch, seq: c.seq, tokenTypeIds: c.tokenTypeIds, attentionMask: new Uint8Array(c.attentionMask),
        outputAttentions: c.attentions !== undefined,
      });
      const what = `${name}, threads ${engine.threads}`;
      expectClose(out.lastHiddenState, f32(c.lastHiddenState), TOL, TOL, `${what}: lastHiddenState`);
      if (c.pooledOutput) expectClose(out.pooledOutput!, f32(c.pooledOutput), TOL, TOL, `${what}: pooledOutput`);
      else expect(out.pooledOutput).toBeUndefined();
      if (c.attentions) {
        expect(out.attentions).toHaveLength(c.attentions.length);
        c.attentions.forEach((a: FixtureTensor, n: number) => expectClose(out.attentions![n], f32(a), TOL, TOL, `${what}: attentions[${n}]`));
      } else {
        expect(out.attentions).toBeUndefined();
      }
      outputs.push(out);
      await model.dispose();
    }
    expectSameBits(outputs[1].lastHiddenState, outputs[0].lastHiddenState, 'threads 2 vs 1');
    expectSameBits(outputs[1].pooledOutput, outputs[0].pooledOutput, 'pooled, threads 2 vs 1');
  });

  it('lists the keys a base model does not use, and reads keys with or without the prefix alike', async () => {
    const withCls = weightsOf('prefixed-cls');
    const extra = { ...withCls, 'bert.embeddings.position_ids': new Float32Array(32), 'classifier.weight': new Float32Array(4) };
    const model = engines[0].bert({ config: configOf('prefixed-cls'), weights: extra });
    expect([...model.unusedKeys].sort()).toEqual(
      [...Object.keys(withCls).filter((k) => k.startsWith('cls.')), 'bert.embeddings.position_ids', 'classifier.weight'].sort());
    const bare: Record<string, Float32Array> = {};
    for (const [k, v] of Object.entries(withCls)) if (k.startsWith('bert.')) bare[k.slice(5)] = v;
    const plain = engines[0].bert({ config: configOf('prefixed-cls'), weights: bare });
    expect(plain.unusedKeys).toEqual([]);
    const c = cases[0];
    const opts = { batch: c.batch, seq: c.seq, tokenTypeIds: c.tokenTypeIds, attentionMask: c.attentionMask };
    const [a, b] = await Promise.all([model.forward(c.inputIds, opts), plain.forward(c.inputIds, opts)]);
    expectSameBits(a.lastHiddenState, b.lastHiddenState, 'prefixed vs bare');
    await Promise.all([model.dispose(), plain.dispose()]);
  });

  it('a checkpoint with the I64 position_ids buffer (older transformers saved it) loads; the buffer is unused', async () => {
    const file = readSafetensors(readFileSync(new URL('prefixed-cls/model.safetensors', dir)));
    const tensors: Record<string, SafetensorsInput> = {};
    for (const [k, t] of Object.entries(file.tensors)) tensors[k] = { dtype: t.dtype, shape: t.shape, bytes: t.bytes };
    const config = configOf('prefixed-cls') as Json;
    const positions = config.max_position_embeddings as number;
    const ids = new Uint8Array(8 * positions);
    const view = new DataView(ids.buffer);
    for (let i = 0; i < positions; i++) view.setBigInt64(8 * i, BigInt(i), true);
    tensors['bert.embeddings.position_ids'] = { dtype: 'I64', shape: [1, positions], bytes: ids };
    const weights = loadSafetensors(writeSafetensors(tensors, file.metadata));
    expect(Array.from(weights['bert.embeddings.position_ids']!.subarray(0, 4))).toEqual([0, 1, 2, 3]);
    const model = engines[0].bert({ config: configOf('prefixed-cls'), weights });
    const base = engines[0].bert({ config: configOf('prefixed-cls'), weights: weightsOf('prefixed-cls') });
    expect(model.unusedKeys).toContain('bert.embeddings.position_ids');
    const c = cases[0];
    const opts = { batch: c.batch, seq: c.seq, tokenTypeIds: c.tokenTypeIds, attentionMask: c.attentionMask };
    const [a, b] = await Promise.all([model.forward(c.inputIds, opts), base.forward(c.inputIds, opts)]);
    expectSameBits(a.lastHiddenState, b.lastHiddenState, 'with the I64 buffer vs without');
    await Promise.all([model.dispose(), base.dispose()]);
  });

  it('a weight of the right length but another shape in the file is a RangeError naming it', () => {
    const file = readSafetensors(readFileSync(new URL('prefixed-cls/model.safetensors', dir)));
    const key = Object.keys(file.tensors).find((k) => k.endsWith('layer.0.attention.self.query.weight'))!;
    const H = file.tensors[key]!.shape[0]!;
    const tensors: Record<string, SafetensorsInput> = {};
    for (const [k, t] of Object.entries(file.tensors)) tensors[k] = { dtype: t.dtype, shape: k === key ? [H / 2, 2 * H] : t.shape, bytes: t.bytes };
    expect(() => engines[0].bert({ config: configOf('prefixed-cls'), weights: loadSafetensors(writeSafetensors(tensors, file.metadata)) }))
      .toThrow(new RegExp(`options\\.weights\\["${key.replace(/\./g, '\\.')}"\\] has shape \\[${H / 2}, ${2 * H}\\] in its safetensors file, expected \\[${H}, ${H}\\]`));
  });

  it('without a mask or token types: all attended, type 0', async () => {
    const c = cases[0];
    const model = engines[0].bert({ config: configOf(c.name), weights: weightsOf(c.name) });
    const ids = c.inputIds.slice(0, c.seq);
    const a = await model.forward(ids, { batch: 1, seq: c.seq });
    const b = await model.forward(ids, { batch: 1, seq: c.seq, attentionMask: new Array(c.seq).fill(1), tokenTypeIds: new Array(c.seq).fill(0) });
    expectSameBits(a.lastHiddenState, b.lastHiddenState);
    await model.dispose();
  });
});

/** hidden_act by seed, with the math HF's ACT2FN gives each name (the intermediate dense's and the
 * masked-LM head transform's): seeds 11..16 and 700.. cover them all. */
const HIDDEN_ACTS: readonly (readonly [string, (x: number) => number])[] = [
  ['gelu', gelu], ['gelu_new', geluTanh], ['relu', relu], ['gelu_python', gelu], ['gelu_pytorch_tanh', geluTanh],
  ['gelu_fast', geluTanh], ['gelu_accurate', geluTanh],
];

/** A seeded random BERT: hidden not a multiple of the GEMM panel (8) as well as one, heads
 * 1..4, trailing and interior padding, batch and seq across the strip and block edges; with the
 * weights of every head (`labels` of them for the classifiers) besides BertModel's. */
function randomBert(seed: number, labels = 3) {
  const r = rng(seed);
  const pick = (lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));
  const heads = pick(1, 4), hidden = heads * pick(2, 10), intermediate = pick(4, 70), layers = pick(1, 3);
  const vocab = pick(5, 40), maxPositions = pick(9, 20), typeVocab = pick(1, 3), B = pick(1, 4), L = pick(1, 9);
  const config = {
    vocab_size: vocab, hidden_size: hidden, num_hidden_layers: layers, num_attention_heads: heads,
    intermediate_size: intermediate, max_position_embeddings: maxPositions, type_vocab_size: typeVocab,
    layer_norm_eps: 1e-12, hidden_act: HIDDEN_ACTS[seed % HIDDEN_ACTS.length][0],
  };
  const w: Record<string, Float32Array> = {};
  const put = (key: string, n: number, scale: number, offset = 0): void => {
    w[key] = randomF32(n, seed * 1000 + Object.keys(w).length, scale).map((v) => v + offset);
  };
  put('embeddings.word_embeddings.weight', vocab * hidden, 1);
  put('embeddings.position_embeddings.weight', maxPositions * hidden, 0.5);
  put('embeddings.token_type_embeddings.weight', typeVocab * hidden, 0.5);
  put('embeddings.LayerNorm.weight', hidden, 0.1, 1);
  put('embeddings.LayerNorm.bias', hidden, 0.1);
  const s = 1.5 / Math.sqrt(hidden);
  for (let l = 0; l < layers; l++) {
    const p = `encoder.layer.${l}.`;
    for (const k of ['attention.self.query', 'attention.self.key', 'attention.self.value', 'attention.output.dense']) {
      put(`${p}${k}.weight`, hidden * hidden, s);
      put(`${p}${k}.bias`, hidden, 0.1);
    }
    put(`${p}intermediate.dense.weight`, intermediate * hidden, s);
    put(`${p}intermediate.dense.bias`, intermediate, 0.1);
    put(`${p}output.dense.weight`, hidden * intermediate, 1.5 / Math.sqrt(intermediate));
    put(`${p}output.dense.bias`, hidden, 0.1);
    for (const k of ['attention.output.LayerNorm', 'output.LayerNorm']) {
      put(`${p}${k}.weight`, hidden, 0.1, 1);
      put(`${p}${k}.bias`, hidden, 0.1);
    }
  }
  put('pooler.dense.weight', hidden * hidden, s);
  put('pooler.dense.bias', hidden, 0.1);
  const ids = randomInts(B * L, seed + 1, 0, vocab - 1), types = randomInts(B * L, seed + 2, 0, typeVocab - 1);
  const mask = Uint8Array.from({ length: B * L }, (_, i) => (i % L === 0 || r() < 0.75 ? 1 : 0));
  // The heads (drawn after the base model, so BertModel's weights do not depend on them).
  const heads_: Record<string, Float32Array> = {};
  const head = (key: string, n: number, scale: number, offset = 0): void => {
    heads_[key] = randomF32(n, seed * 1000 + 500 + Object.keys(heads_).length, scale).map((v) => v + offset);
  };
  head('classifier.weight', labels * hidden, s);
  head('classifier.bias', labels, 0.1);
  head('qa_outputs.weight', 2 * hidden, s);
  head('qa_outputs.bias', 2, 0.1);
  head('cls.predictions.transform.dense.weight', hidden * hidden, s);
  head('cls.predictions.transform.dense.bias', hidden, 0.1);
  head('cls.predictions.transform.LayerNorm.weight', hidden, 0.1, 1);
  head('cls.predictions.transform.LayerNorm.bias', hidden, 0.1);
  head('cls.predictions.bias', vocab, 0.1);
  const act = HIDDEN_ACTS[seed % HIDDEN_ACTS.length][1];
  return { config, w, heads: heads_, ids, types, mask, B, L, dims: { hidden, heads, layers, intermediate, eps: 1e-12, act } };
}


describe('random geometries against the float64 reference', () => {
  const seeds = [11, 12, 13, 14, 15, 16];
  it.each(seeds)('seed %i', async (seed) => {
    const { config, w, ids, types, mask, B, L, dims } = randomBert(seed);
    const want = referenceBert(dims, w, ids, types, mask, B, L);
    const outs = [];
    for (const engine of engines) {
      const model = engine.bert({ config, weights: w });
      const out = await model.forward(ids, { batch: B, seq: L, tokenTypeIds: types, attentionMask: mask });
      const what = `seed ${seed} (${JSON.stringify(config)}, batch ${B}, seq ${L}), threads ${engine.threads}`;
      expectClose(out.lastHiddenState, want.lastHiddenState, TOL, TOL, what);
      expectClose(out.pooledOutput!, want.pooledOutput!, TOL, TOL, `${what}: pooled`);
      outs.push(out);
      // The same mask as a Float32Array of 0/1 (HF takes a float mask) or a number[]: the same bits.
      for (const m of [Float32Array.from(mask), Array.from(mask)]) {
        const again = await model.forward(ids, { batch: B, seq: L, tokenTypeIds: types, attentionMask: m });
        expectSameBits(again.lastHiddenState, out.lastHiddenState, `${what}: mask as ${m.constructor.name}`);
      }
      await model.dispose();
    }
    expectSameBits(outs[1].lastHiddenState, outs[0].lastHiddenState, `seed ${seed}: threads 2 vs 1`);
  });
});

describe('outputHiddenStates (HF\'s output_hidden_states)', () => {
  it('the embeddings\' output, then each layer\'s: layer k\'s is the last hidden state of the first k layers alone', async () => {
    const c = cases.find((x) => x.name === 'gamma-beta-bf16')!;
    const config = configOf(c.name), weights = weightsOf(c.name), layers = config.num_hidden_layers;
    const opts = { batch: c.batch, seq: c.seq, tokenTypeIds: c.tokenTypeIds, attentionMask: new Uint8Array(c.attentionMask) };
    for (const engine of engines) {
      const model = engine.bert({ config, weights });
      const out = await model.forward(c.inputIds, { ...opts, outputHiddenStates: true, outputAttentions: true });
      expect(out.hiddenStates).toHaveLength(layers + 1);
      expect(out.attentions).toHaveLength(layers);
      expectSameBits(out.hiddenStates![layers], out.lastHiddenState, 'the last hidden state');
      expectSameBits((await model.forward(c.inputIds, opts)).lastHiddenState, out.lastHiddenState, 'without the copies');
      for (let k = 1; k < layers; k++) {
        const keep = Object.fromEntries(Object.entries(weights).filter(([key]) => {
          const m = /encoder\.layer\.(\d+)\./.exec(key);
          return !m || Number(m[1]) < k;
        }));
        const first = engine.bert({ config: { ...config, num_hidden_layers: k }, weights: keep });
        expectSameBits(out.hiddenStates![k], (await first.forward(c.inputIds, opts)).lastHiddenState, `layer ${k}, threads ${engine.threads}`);
        await first.dispose();
      }
      // The embeddings' output: LayerNorm(word + position + token type), as the float64 reference.
      const d = config.hidden_size, n = c.batch * c.seq, e = new Float64Array(n * d);
      const wk = (name: string): Float32Array => weights[Object.keys(weights).find((k) => k.endsWith(name))!];
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < d; j++) {
          e[i * d + j] = wk('word_embeddings.weight')[c.inputIds[i] * d + j] + wk('position_embeddings.weight')[(i % c.seq) * d + j] +
            wk('token_type_embeddings.weight')[c.tokenTypeIds[i] * d + j];
        }
      }
      const ln = referenceLayerNorm(n, d, e, d, undefined, d, wk('embeddings.LayerNorm.gamma'), wk('embeddings.LayerNorm.beta'), config.layer_norm_eps);
      expectClose(out.hiddenStates![0], ln, TOL, TOL, `the embeddings' output, threads ${engine.threads}`);
      await model.dispose();
      // The heads return the base model's, bit for bit.
      const p = cases.find((x) => x.name === 'prefixed-cls')!;
      const popts = { batch: p.batch, seq: p.seq, outputHiddenStates: true };
      const baseModel = engine.bert({ config: configOf('prefixed-cls'), weights: weightsOf('prefixed-cls') });
      const want = (await baseModel.forward(p.inputIds, popts)).hiddenStates!;
      await baseModel.dispose();
      const mlm = engine.bertForMaskedLM({ config: configOf('prefixed-cls'), weights: weightsOf('prefixed-cls') });
      const m = await mlm.forward(p.inputIds, popts);
      expect(m.hiddenStates).toHaveLength(3);
      m.hiddenStates!.forEach((hs, i) => expectSameBits(hs, want[i], `BertForMaskedLM hiddenStates[${i}]`));
      await mlm.dispose();
    }
  });
});

// The four heads on random geometries (seeded; the seed is in every message): against float64
// references of HF's head math on top of referenceBert, threads 1, 2 and 3 with the same bits,
// and with quantize 'int8' the same bits across threads. WASM_ATTENTION_BERT_HEAD_SEEDS picks how
// many seeds (default 40).
describe('BERT heads on random geometries, threads 1, 2, 3', () => {
  const count = Number(process.env.WASM_ATTENTION_BERT_HEAD_SEEDS ?? 40);
  const seeds = Array.from({ length: count }, (_, i) => 700 + i);
  let three: Engine[];
  beforeAll(async () => { three = await forcedEngines([1, 2, 3]); });
  afterAll(async () => { await Promise.all(three.map((e) => e.dispose())); });
  it.each(seeds)('seed %i', async (seed) => {
    const labels = 1 + (seed % 5);
    const { config, w, heads, ids, types, mask, B, L, dims } = randomBert(seed, labels);
    const { hidden: d, layers } = dims, V = config.vocab_size, n = B * L;
    const base = referenceBert(dims, w, ids, types, mask, B, L);
    const x = base.lastHiddenState, pooled = base.pooledOutput!;
    const lin = (a: ArrayLike<number>, rows: number, inDim: number, key: string, outDim: number): Float64Array =>
      referenceLinear(a, rows, inDim, heads[`${key}.weight`], outDim, heads[`${key}.bias`]);
    const t = lin(x, n, d, 'cls.predictions.transform.dense', d).map(dims.act);
    const tn = referenceLayerNorm(n, d, t, d, undefined, d, heads['cls.predictions.transform.LayerNorm.weight'],
      heads['cls.predictions.transform.LayerNorm.bias'], 1e-12);
    const want: Record<string, Float64Array> = {
      sequence: lin(pooled, B, d, 'classifier', labels),
      token: lin(x, n, d, 'classifier', labels),
      masked: referenceLinear(tn, n, d, w['embeddings.word_embeddings.weight'], V, heads['cls.predictions.bias']),
    };
    const qa = lin(x, n, d, 'qa_outputs', 2);
    want.start = qa.filter((_, i) => i % 2 === 0);
    want.end = qa.filter((_, i) => i % 2 === 1);
    const id2label = Object.fromEntries(Array.from({ length: labels }, (_, i) => [String(i), `L${i}`]));
    const weights = { ...w, ...heads };
    const opts = { batch: B, seq: L, tokenTypeIds: types, attentionMask: mask };
    const what = `seed ${seed} (hidden ${d}, heads ${dims.heads}, layers ${layers}, vocab ${V}, labels ${labels}, batch ${B}, seq ${L}, ${config.hidden_act})`;
    for (const quantize of [undefined, 'int8'] as const) {
      const runs: Record<string, Float32Array>[] = [];
      for (const engine of three) {
        const q = quantize ? { quantize } : {};
        const cfg = { ...config, id2label } as BertConfig;
        const seqModel = engine.bertForSequenceClassification({ config: cfg, weights, ...q });
        const tokModel = engine.bertForTokenClassification({ config: cfg, weights, ...q });
        const qaModel = engine.bertForQuestionAnswering({ config, weights, ...q });
        const mlmModel = engine.bertForMaskedLM({ config, weights, ...q });
        const qaOut = await qaModel.forward(ids, opts);
        const got: Record<string, Float32Array> = {
          sequence: (await seqModel.forward(ids, opts)).logits,
          token: (await tokModel.forward(ids, opts)).logits,
          masked: (await mlmModel.forward(ids, opts)).logits,
          start: qaOut.startLogits, end: qaOut.endLogits,
        };
        await Promise.all([seqModel, tokModel, qaModel, mlmModel].map((m) => m.dispose()));
        if (!quantize) {
          for (const k of Object.keys(want)) expectClose(got[k], want[k], TOL, TOL, `${what} ${k}, threads ${engine.threads}`);
        }
        runs.push(got);
      }
      for (const k of Object.keys(want)) {
        runs.slice(1).forEach((r, i) => expectSameBits(r[k], runs[0][k], `${what} ${quantize ?? 'f32'} ${k}, threads ${three[i + 1].threads} vs 1`));
      }
    }
  });
});

describe('bad inputs are named', () => {
  const name = 'prefixed-cls';
  it('config', () => {
    const weights = weightsOf(name);
    const { vocab_size: _, ...noVocab } = configOf(name);
    expect(() => engines[0].bert({ config: noVocab as BertConfig, weights })).toThrow(TypeError);
    expect(() => engines[0].bert({ config: noVocab as BertConfig, weights })).toThrow(/vocab_size/);
    // A Google bert_config.json has no layer_norm_eps: the error says what HF would use.
    const { layer_norm_eps: __, ...noEps } = configOf(name);
    expect(() => engines[0].bert({ config: noEps as BertConfig, weights }))
      .toThrow(new TypeError("bert: options.config.layer_norm_eps must be present (config.json of a BERT model; transformers' BertConfig defaults it to 1e-12: add that if the checkpoint was made with it), got undefined"));
    // ACT2FN names no epilogue computes, and values that are not names
    for (const act of ['quick_gelu', 'silu', 'gelu_10', 'tanh', 'GELU', '__proto__', 'constructor']) {
      expect(() => engines[0].bert({ config: { ...configOf(name), hidden_act: act }, weights }))
        .toThrow(new RangeError(`bert: options.config.hidden_act must be one of "gelu", "gelu_python", "gelu_new", "gelu_pytorch_tanh", "gelu_fast", "gelu_accurate", "relu" (the activations implemented), got "${act}"`));
    }
    for (const act of [1, null, ['gelu'], { fn: 'gelu' }]) {
      expect(() => engines[0].bert({ config: { ...configOf(name), hidden_act: act } as BertConfig, weights })).toThrow(TypeError);
      expect(() => engines[0].bert({ config: { ...configOf(name), hidden_act: act } as BertConfig, weights })).toThrow(/options\.config\.hidden_act must be a string/);
    }
    expect(() => engines[0].bert({ config: { ...configOf(name), num_attention_heads: 5 }, weights })).toThrow(/num_attention_heads/);
  });
  it('weights', () => {
    const config = configOf(name);
    const w = weightsOf(name);
    expect(() => engines[0].bert({ config, weights: { ...w, 'bert.encoder.layer.2.output.dense.bias': new Float32Array(32) } }))
      .toThrow(/"bert.encoder.layer.2.output.dense.bias"\] is layer 2, but config.num_hidden_layers is 2/);
    expect(() => engines[0].bert({ config, weights: { ...w, 'bert.encoder.layer.0.attention.self.rotary.weight': new Float32Array(32) } }))
      .toThrow(RangeError);
    const { ['bert.encoder.layer.1.intermediate.dense.bias']: _, ...missing } = w;
    expect(() => engines[0].bert({ config, weights: missing })).toThrow(/bert\.encoder\.layer\.1\.intermediate\.dense\.bias/);
    expect(() => engines[0].bert({ config, weights: { ...w, 'bert.pooler.dense.weight': new Float32Array(3) } }))
      .toThrow(/pooler\.dense\.weight.*length 3/);
    expect(() => engines[0].bert({ config, weights: { ...w, 'encoder.layer.0.output.dense.bias': new Float32Array(32) } }))
      .toThrow(/same weight/);
  });
  it('forward', async () => {
    const model = engines[0].bert({ config: configOf(name), weights: weightsOf(name) });
    const ids = [1, 2, 3, 60];
    await expect(model.forward(ids, { batch: 1, seq: 4 })).rejects.toThrow(/inputIds\[3\] is 60/);
    await expect(model.forward([1, -1], { batch: 1, seq: 2 })).rejects.toThrow(RangeError);
    // a string id is the wrong type, named as such (it read as the number 3)
    await expect(model.forward([1, '3' as unknown as number], { batch: 1, seq: 2 })).rejects
      .toThrow(new TypeError('BertModel.forward: inputIds[1] must be a number (an integer id), got "3"'));
    await expect(model.forward(new Int32Array(33), { batch: 1, seq: 33 })).rejects.toThrow(/max_position_embeddings/);
    await expect(model.forward([1, 2], { batch: 1, seq: 2, tokenTypeIds: [0, 2] })).rejects.toThrow(/tokenTypeIds\[1\]/);
    await expect(model.forward([1, 2], { batch: 1, seq: 2, attentionMask: [0, 0] })).rejects.toThrow(/row 0 attends to no token/);
    await expect(model.forward([1, 2], { batch: 1, seq: 2, attentionMask: Float32Array.from([1, 0.5]) })).rejects
      .toThrow(new RangeError('BertModel.forward: options.attentionMask[1] is 0.5, must be 1 (attend) or 0 (padding)'));
    await expect(model.forward([1, 2], { batch: 1, seq: 2, attentionMask: new Float64Array([1, 1]) as never })).rejects
      .toThrow(new TypeError('BertModel.forward: options.attentionMask must be an Int32Array, Uint8Array, Float32Array or number[], got Float64Array(2)'));
    // tokenTypeIds are ids: a Float32Array is refused there, as HF's embedding lookup refuses floats
    await expect(model.forward([1, 2], { batch: 1, seq: 2, tokenTypeIds: new Float32Array(2) as never })).rejects.toThrow(TypeError);
    await expect(model.forward([1, 2], { batch: 1, seq: 3 })).rejects.toThrow(/inputIds has length 2/);
    await expect(model.forward([1, 2], { batch: 1, seq: 2, mask: [1, 1] } as never)).rejects.toThrow(/options.mask/);
    await model.dispose();
  });
});

describe('meanPool', () => {
  const B = 3, L = 5, H = 4;
  const x = Float32Array.from({ length: B * L * H }, (_, i) => Math.sin(i * 1.7) * 3);
  const mask = [1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0];
  const plain = (normalize: boolean): number[] => {
    const out: number[] = [];
    for (let b = 0; b < B; b++) {
      const row = new Array(H).fill(0);
      let n = 0;
      for (let t = 0; t < L; t++) {
        if (!mask[b * L + t]) continue;
        n++;
        for (let j = 0; j < H; j++) row[j] += x[(b * L + t) * H + j];
      }
      const mean = row.map((v) => v / n);
      const norm = Math.hypot(...mean);
      out.push(...mean.map((v) => (normalize ? v / norm : v)));
    }
    return out;
  };
  it('averages attended tokens, optionally L2-normalised', () => {
    expectClose(meanPool(x, new Uint8Array(mask), { batch: B, seq: L, hidden: H }), plain(false), 1e-6, 1e-6);
    expectSameBits(meanPool(x, Float32Array.from(mask), { batch: B, seq: L, hidden: H }), meanPool(x, mask, { batch: B, seq: L, hidden: H }));
    const n = meanPool(x, mask, { batch: B, seq: L, hidden: H, normalize: true });
    expectClose(n, plain(true), 1e-6, 1e-6);
    for (let b = 0; b < B; b++) expect(Math.hypot(...n.subarray(b * H, (b + 1) * H))).toBeCloseTo(1, 6);
  });
  it('names bad input', () => {
    expect(() => meanPool(x, mask.slice(1), { batch: B, seq: L, hidden: H })).toThrow(/attentionMask has length 14/);
    expect(() => meanPool(x, mask, { batch: B, seq: L, hidden: 5 })).toThrow(/lastHiddenState/);
    expect(() => meanPool(x, [...mask.slice(1), 2], { batch: B, seq: L, hidden: H })).toThrow(/attentionMask\[14\]/);
    expect(() => meanPool(x, Float32Array.from([...mask.slice(1), 0.5]), { batch: B, seq: L, hidden: H }))
      .toThrow(new RangeError('meanPool: attentionMask[14] is 0.5, must be 0 or 1'));
    expect(() => meanPool(x, new Float64Array(mask) as never, { batch: B, seq: L, hidden: H }))
      .toThrow(/meanPool: attentionMask must be an Int32Array, Uint8Array, Float32Array or number\[\]/);
  });
});

describe("BertModel with quantize: 'int8'", () => {
  const relRms = (got: Float32Array, want: Float32Array): number => {
    let num = 0, den = 0;
    for (let i = 0; i < want.length; i++) { num += (got[i] - want[i]) ** 2; den += want[i] ** 2; }
    return Math.sqrt(num / den);
  };

  // The fixture models are tiny (hidden 24–48): a row of 24–48 values quantized to 8 bits, 2
  // layers; measured 1.6–2.4% relative RMS against PyTorch fp32 (BERT-base geometry: 0.2%,
  // bench/int8.mjs). The bound says the int8 path is right, not how accurate it is.
  it.each(cases.map((c) => [c.name, c]))('%s: near PyTorch fp32, same bits on threads 1 and 2', async (name, c) => {
    const outputs = [];
    for (const engine of engines) {
      const model = engine.bert({ config: configOf(name), weights: weightsOf(name), quantize: 'int8' });
      outputs.push(await model.forward(new Int32Array(c.inputIds), {
        batch: c.batch, seq: c.seq, tokenTypeIds: c.tokenTypeIds, attentionMask: new Uint8Array(c.attentionMask),
      }));
      await model.dispose();
    }
    expectSameBits(outputs[1].lastHiddenState, outputs[0].lastHiddenState, 'threads 2 vs 1');
    const err = relRms(outputs[0].lastHiddenState, f32(c.lastHiddenState));
    console.log(`bert int8 ${name}: relative RMS error ${err.toExponential(2)}`);
    expect(err, `${name}: relative RMS error of lastHiddenState`).toBeLessThan(0.04);
    expect(err, 'the int8 path ran').toBeGreaterThan(1e-5);
  });

  it('names an unknown quantize value and a non-finite encoder weight by its checkpoint key', () => {
    const name = 'prefixed-cls';
    expect(() => engines[0].bert({ config: configOf(name), weights: weightsOf(name), quantize: 'q8' as 'int8' }))
      .toThrow(/bert: options\.quantize must be 'int8'.*"q8"/);
    const weights = weightsOf(name);
    const key = Object.keys(weights).find((k) => k.endsWith('encoder.layer.0.intermediate.dense.weight'))!;
    weights[key] = weights[key].slice();
    weights[key][2] = Number.NaN;
    expect(() => engines[0].bert({ config: configOf(name), weights, quantize: 'int8' }))
      .toThrow(new RegExp(`options\\.weights\\["${key.replace(/\./g, '\\.')}"\\] holds NaN at \\[0, 2\\]`));
  });
});

// The heads (HF's BertForSequenceClassification, BertForMaskedLM, BertForTokenClassification and
// BertForQuestionAnswering) against the same PyTorch reference: classifier(pooler(x)) on the
// classifier-3 checkpoint (bert. prefix, id2label of 3), cls.predictions on prefixed-cls (a
// pretraining checkpoint: its pooler and cls.seq_relationship are unused by the masked-LM model),
// the per-token classifier on token-classifier-5 and qa_outputs on qa.
describe('BERT heads against the PyTorch reference', () => {
  const input = (c: Json) => [new Int32Array(c.inputIds), {
    batch: c.batch, seq: c.seq, tokenTypeIds: c.tokenTypeIds, attentionMask: new Uint8Array(c.attentionMask),
  }] as const;

  it('BertForSequenceClassification: logits [batch, num_labels], labels from id2label, same bits at threads 1 and 2', async () => {
    const c = cases.find((x) => x.name === 'classifier-3')!;
    const outs = [];
    for (const engine of engines) {
      const model = engine.bertForSequenceClassification({ config: configOf(c.name), weights: weightsOf(c.name) });
      expect(model.labels).toEqual(['NEGATIVE', 'NEUTRAL', 'POSITIVE']);
      expect(model.unusedKeys).toEqual([]);
      const out = await model.forward(...input(c));
      expect(out.logits).toHaveLength(c.batch * 3);
      expectClose(out.logits, f32(c.classifierLogits), TOL, TOL, `classifier logits, threads ${engine.threads}`);
      outs.push(out.logits);
      // The same checkpoint as a BertModel: the classifier is not its.
      const base = engine.bert({ config: configOf(c.name), weights: weightsOf(c.name) });
      expect([...base.unusedKeys].sort()).toEqual(['classifier.bias', 'classifier.weight']);
      await base.dispose();
      await model.dispose();
    }
    expectSameBits(outs[1], outs[0], 'threads 2 vs 1');
  });

  it('BertForSequenceClassification: labels without id2label, and bad configs and weights named', () => {
    const c = cases.find((x) => x.name === 'classifier-3')!;
    const { id2label: _, label2id: __, ...noLabels } = configOf(c.name) as Json;
    const weights = weightsOf(c.name);
    // HF's default is 2 labels: the file's 3-row classifier then disagrees, named by its key.
    expect(() => engines[0].bertForSequenceClassification({ config: noLabels as BertConfig, weights }))
      .toThrow(/bertForSequenceClassification: options\.weights\["classifier\.weight"\].*\[num_labels, hidden_size\] = \[2, 40\]/);
    const three = engines[0].bertForSequenceClassification({ config: { ...noLabels, num_labels: 3 } as BertConfig, weights });
    expect(three.labels).toEqual(['LABEL_0', 'LABEL_1', 'LABEL_2']);
    void three.dispose();
    expect(() => engines[0].bertForSequenceClassification({ config: { ...configOf(c.name), id2label: { 0: 'a', 2: 'b' } } as BertConfig, weights }))
      .toThrow(/options\.config\.id2label\["2"\] must be keyed by the ids 0\.\.1/);
    // A num_labels beside id2label that disagrees: HF warns and takes id2label.
    const warned = engines[0].bertForSequenceClassification({ config: { ...configOf(c.name), num_labels: 4 } as BertConfig, weights });
    expect(warned.labels).toHaveLength(3);
    void warned.dispose();
    expect(() => engines[0].bertForSequenceClassification({ config: { ...configOf(c.name), id2label: 'abc' } as BertConfig, weights }))
      .toThrow(TypeError);
    const { 'bert.pooler.dense.bias': ___, ...noPooler } = weights;
    expect(() => engines[0].bertForSequenceClassification({ config: configOf(c.name), weights: noPooler }))
      .toThrow(/options\.weights\["bert\.pooler\.dense\.bias"\]/);
    expect(() => engines[0].bertForSequenceClassification({ config: configOf(c.name), weights: { ...weights, 'classifier.scale': new Float32Array(3) } }))
      .toThrow(/options\.weights\["classifier\.scale"\] is not a key of BertForSequenceClassification/);
  });

  it('BertForMaskedLM: logits [batch, seq, vocab]; the decoder tied when absent; f32 and int8; same bits at threads 1 and 2', async () => {
    const c = cases.find((x) => x.name === 'prefixed-cls')!;
    const all = weightsOf(c.name);
    const { 'cls.predictions.decoder.weight': _, ...tied } = all;
    const want = f32(c.maskedLMLogits);
    for (const quantize of [undefined, 'int8'] as const) {
      const outs = [];
      for (const engine of engines) {
        for (const weights of [all, tied]) {
          const model = engine.bertForMaskedLM({ config: configOf(c.name), weights, ...(quantize ? { quantize } : {}) });
          expect([...model.unusedKeys].sort()).toEqual(
            ['bert.pooler.dense.bias', 'bert.pooler.dense.weight', 'cls.seq_relationship.bias', 'cls.seq_relationship.weight']);
          const out = await model.forward(...input(c));
          expect(out.logits).toHaveLength(c.batch * c.seq * 60);
          if (quantize) {
            const rms = Math.sqrt(out.logits.reduce((a, x, i) => a + (x - want[i]) ** 2, 0) / want.reduce((a, x) => a + x * x, 0));
            expect(rms, 'int8 masked-LM logits, relative RMS against fp32').toBeLessThan(0.05);
            expect(rms, 'the int8 path ran').toBeGreaterThan(1e-5);
          } else {
            expectClose(out.logits, want, TOL, TOL, `masked-LM logits, threads ${engine.threads}`);
          }
          outs.push(out.logits);
          await model.dispose();
        }
      }
      outs.slice(1).forEach((o, i) => expectSameBits(o, outs[0], `${quantize ?? 'f32'} run ${i + 1} vs 0`));
    }
  });

  it('BertForTokenClassification and BertForQuestionAnswering: per-token logits, f32 and int8 encoders, same bits at threads 1 and 2', async () => {
    const tc = cases.find((x) => x.name === 'token-classifier-5')!, qa = cases.find((x) => x.name === 'qa')!;
    for (const quantize of [undefined, 'int8'] as const) {
      const outs: Float32Array[][] = [];
      for (const engine of engines) {
        const tagger = engine.bertForTokenClassification({ config: configOf(tc.name), weights: weightsOf(tc.name), ...(quantize ? { quantize } : {}) });
        expect(tagger.labels).toEqual(['O', 'B-PER', 'I-PER', 'B-LOC', 'I-LOC']);
        expect(tagger.unusedKeys).toEqual([]);
        const t = await tagger.forward(...input(tc));
        expect(t.logits).toHaveLength(tc.batch * tc.seq * 5);
        const reader = engine.bertForQuestionAnswering({ config: configOf(qa.name), weights: weightsOf(qa.name), ...(quantize ? { quantize } : {}) });
        const a = await reader.forward(...input(qa));
        expect(a.startLogits).toHaveLength(qa.batch * qa.seq);
        const want = [f32(tc.tokenLogits), f32(qa.startLogits), f32(qa.endLogits)], got = [t.logits, a.startLogits, a.endLogits];
        ['token logits', 'start logits', 'end logits'].forEach((what, i) => {
          if (quantize) {
            const rms = Math.sqrt(got[i].reduce((acc, x, j) => acc + (x - want[i][j]) ** 2, 0) / want[i].reduce((acc, x) => acc + x * x, 0));
            expect(rms, `int8 ${what}, relative RMS against fp32`).toBeLessThan(0.06);
            expect(rms, 'the int8 path ran').toBeGreaterThan(1e-6);
          } else {
            expectClose(got[i], want[i], TOL, TOL, `${what}, threads ${engine.threads}`);
          }
        });
        outs.push(got);
        await Promise.all([tagger.dispose(), reader.dispose()]);
      }
      outs[1].forEach((o, i) => expectSameBits(o, outs[0][i], `${quantize ?? 'f32'} output ${i}, threads 2 vs 1`));
    }
    // A batch of 3 × 16 (the per-token linear on the GEMM, an int8 encoder): each sequence's
    // logits are its bits alone; one token (the GEMV) runs too.
    const tagger = engines[1].bertForTokenClassification({ config: configOf(tc.name), weights: weightsOf(tc.name), quantize: 'int8' });
    const ids = Array.from({ length: 3 * 16 }, (_, i) => (i * 7 + 1) % 50);
    const batch = (await tagger.forward(ids, { batch: 3, seq: 16 })).logits;
    const alone = (await tagger.forward(ids.slice(16, 32), { batch: 1, seq: 16 })).logits;
    expectSameBits(batch.subarray(16 * 5, 32 * 5), alone, 'sequence 1 in the batch vs alone');
    expect((await tagger.forward(ids.slice(0, 1), { batch: 1, seq: 1 })).logits).toHaveLength(5);
    expect(() => engines[0].bertForQuestionAnswering({ config: configOf(qa.name), weights: { ...weightsOf(qa.name), 'qa_outputs.weight': new Float32Array(3 * 24) } }))
      .toThrow(/bertForQuestionAnswering: options\.weights\["qa_outputs\.weight"\].*\[2 \(start, end\), hidden_size\]/);
    expect(() => engines[0].bertForTokenClassification({ config: { ...configOf(tc.name), id2label: { 0: 'O', 1: 'B' } } as BertConfig, weights: weightsOf(tc.name) }))
      .toThrow(/options\.weights\["classifier\.weight"\].*\[num_labels, hidden_size\] = \[2, 24\]/);
    await tagger.dispose();
  });

  it('heads: one label (a cross-encoder), head keys under bert. are not the head\'s, a checkpoint without the head is named', async () => {
    const c = cases.find((x) => x.name === 'classifier-3')!;
    const weights = weightsOf(c.name);
    const three = engines[0].bertForSequenceClassification({ config: configOf(c.name), weights });
    const one = engines[0].bertForSequenceClassification({
      config: { ...configOf(c.name), id2label: { 0: 'LABEL_0' } } as BertConfig,
      weights: { ...weights, 'classifier.weight': weights['classifier.weight'].subarray(0, 40), 'classifier.bias': weights['classifier.bias'].subarray(0, 1) },
    });
    const [l3, l1] = [(await three.forward(...input(c))).logits, (await one.forward(...input(c))).logits];
    expectSameBits(l1, Float32Array.from({ length: c.batch }, (_, b) => l3[3 * b]), 'one label: the first of three');
    await Promise.all([three.dispose(), one.dispose()]);
    const under: Record<string, Float32Array> = { ...weights };
    under['bert.classifier.weight'] = under['classifier.weight'];
    under['bert.classifier.bias'] = under['classifier.bias'];
    delete under['classifier.weight'];
    delete under['classifier.bias'];
    expect(() => engines[0].bertForSequenceClassification({ config: configOf(c.name), weights: under }))
      .toThrow(/options\.weights\["classifier\.weight"\] must be present: the checkpoint has no BertForSequenceClassification head/);
    const base = engines[0].bert({ config: configOf(c.name), weights: under });
    expect([...base.unusedKeys].sort()).toEqual(['bert.classifier.bias', 'bert.classifier.weight']);
    void base.dispose();
    const pretraining = weightsOf('prefixed-cls');
    expect(() => engines[0].bertForSequenceClassification({ config: configOf('prefixed-cls'), weights: pretraining }))
      .toThrow(TypeError);
    expect(() => engines[0].bertForQuestionAnswering({ config: configOf('prefixed-cls'), weights: pretraining }))
      .toThrow(/no BertForQuestionAnswering head/);
    expect(() => engines[0].bertForMaskedLM({ config: { ...configOf('prefixed-cls'), is_decoder: true }, weights: pretraining }))
      .toThrow(/options\.config\.is_decoder must be false/);
  });

  it('BertForMaskedLM: the decoder read when given, tie_word_embeddings, gamma/beta, a NaN in the tied decoder with int8', async () => {
    const c = cases.find((x) => x.name === 'prefixed-cls')!;
    const all = weightsOf(c.name);
    const logits = async (weights: Record<string, Float32Array>, extra: object = {}): Promise<Float32Array> => {
      const model = engines[0].bertForMaskedLM({ config: configOf(c.name), weights, ...extra });
      try {
        return (await model.forward(...input(c))).logits;
      } finally {
        await model.dispose();
      }
    };
    const base = await logits(all);
    // A decoder other than the word embeddings is used as given (transformers v5: both present, not tied).
    const zero = await logits({ ...all, 'cls.predictions.decoder.weight': new Float32Array(60 * 32) });
    const bias = all['cls.predictions.bias'];
    expectSameBits(zero, Float32Array.from({ length: zero.length }, (_, i) => bias[i % 60]), 'a zero decoder gives the bias');
    const { 'cls.predictions.decoder.weight': _, ...tied } = all;
    expect(() => engines[0].bertForMaskedLM({ config: { ...configOf(c.name), tie_word_embeddings: false }, weights: tied }))
      .toThrow(/"cls\.predictions\.decoder\.weight"\] must be present: config\.tie_word_embeddings is false/);
    const renamed: Record<string, Float32Array> = {};
    for (const [k, v] of Object.entries(all)) renamed[k.replace('transform.LayerNorm.weight', 'transform.LayerNorm.gamma').replace('transform.LayerNorm.bias', 'transform.LayerNorm.beta')] = v;
    expect(Object.keys(renamed)).toContain('cls.predictions.transform.LayerNorm.gamma');
    expectSameBits(await logits(renamed), base, 'gamma/beta in the head');
    const nan = { ...tied, 'bert.embeddings.word_embeddings.weight': all['bert.embeddings.word_embeddings.weight'].slice() };
    nan['bert.embeddings.word_embeddings.weight'][5] = Number.NaN;
    expect(() => engines[0].bertForMaskedLM({ config: configOf(c.name), weights: nan, quantize: 'int8' }))
      .toThrow(/"bert\.embeddings\.word_embeddings\.weight"\] \(the tied cls\.predictions decoder\) holds NaN at \[0, 5\]/);
  });

  it('BertForMaskedLM: the decoder bias under either name, and bad weights named', async () => {
    const c = cases.find((x) => x.name === 'prefixed-cls')!;
    const all = weightsOf(c.name);
    const { 'cls.predictions.bias': bias, ...renamed } = all;
    const a = engines[0].bertForMaskedLM({ config: configOf(c.name), weights: all });
    const b = engines[0].bertForMaskedLM({ config: configOf(c.name), weights: { ...renamed, 'cls.predictions.decoder.bias': bias } });
    const both = engines[0].bertForMaskedLM({ config: configOf(c.name), weights: { ...all, 'cls.predictions.decoder.bias': bias.slice() } });
    const [x, y, z] = await Promise.all([a, b, both].map(async (m) => (await m.forward(...input(c))).logits));
    expectSameBits(y, x, 'bias as cls.predictions.decoder.bias');
    expectSameBits(z, x, 'both spellings');
    await Promise.all([a, b, both].map((m) => m.dispose()));
    const other = bias.slice();
    other[5] += 1;
    expect(() => engines[0].bertForMaskedLM({ config: configOf(c.name), weights: { ...all, 'cls.predictions.decoder.bias': other } }))
      .toThrow(/"cls\.predictions\.decoder\.bias"\] differs from cls\.predictions\.bias at \[5\]/);
    expect(() => engines[0].bertForMaskedLM({ config: configOf(c.name), weights: renamed }))
      .toThrow(/bertForMaskedLM: options\.weights\["cls\.predictions\.bias"\]/);
    const { 'cls.predictions.transform.LayerNorm.weight': __, ...noNorm } = all;
    expect(() => engines[0].bertForMaskedLM({ config: configOf(c.name), weights: noNorm }))
      .toThrow(/cls\.predictions\.transform\.LayerNorm\.weight/);
    expect(() => engines[0].bertForMaskedLM({ config: configOf(c.name), weights: { ...all, 'cls.predictions.decoder.weight': new Float32Array(7) } }))
      .toThrow(/cls\.predictions\.decoder\.weight.*length 7/);
    const model = engines[0].bertForMaskedLM({ config: configOf(c.name), weights: all });
    await expect(model.forward([1, 60], { batch: 1, seq: 2 })).rejects.toThrow(/BertForMaskedLM\.forward: inputIds\[1\] is 60/);
    expect((await model.forward([1, 2], { batch: 1, seq: 2 })).logits).toHaveLength(120);
    await model.dispose();
  });
});
