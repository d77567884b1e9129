// Accuracy of 8-bit weights against fp32, ours (quantize: 'int8') and onnxruntime-web q8 (the graph
// transformers.js ships: bench/peers/onnx-quantize.mjs) on the same random-weight models and inputs
// as the -q8 bench rows (bench/shapes.mjs, bench/models.mjs):
//   (a) one BERT-base encoder layer, seq 512: relative RMS error of the output;
//   (b) the all-MiniLM-L6-v2 geometry, batch 8 × 128: relative RMS error of last_hidden_state and
//       the cosine similarity of the mean-pooled, normalized embeddings (sentence-transformers'
//       pooling; goal ≥ 0.999);
//   (c) GPT-2 small, prefill 128 tokens: relative RMS error of the logits and how many of the 128
//       positions keep the fp32 argmax.
// The fp32 reference is our f32 engine (within ~1e-6 of PyTorch, test/ops and test/models; the
// fp32 ORT graph's distance from it is printed too). ORT q8 runs with transformers.js's settings
// (TRANSFORMERS_JS_Q8: BERT per-channel with reduce_range, GPT-2 per-tensor) and with
// quantize_dynamic's defaults (per-tensor, full range).
// --weights=normal replaces every weight matrix and embedding table by a Gaussian of std 0.02
// (Hugging Face's initializer_range; biases and LayerNorms unchanged): per-tensor int8 scales
// follow the largest value, and a Gaussian's tails (about 5σ over a million values) make the
// steps 3× coarser than a uniform tensor's (√3σ) of the same RMS, as trained weights' tails do.
//   node bench/int8-accuracy.mjs [--weights=uniform|normal] [--out=docs/int8-accuracy.json]
// Needs dist/ (npm run build). One thread; timings are not taken.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createEngine, meanPool } from '../dist/index.js';
import { randomF32 } from './harness.mjs';
import { GPT2_SMALL, MINILM_L6, bertWeights, encoderLayerWeights, gpt2Weights, tokenIds } from './models.mjs';
import { SHAPES } from './shapes.mjs';
import { createOrtPeer } from './peers/onnxruntime.mjs';
import { TRANSFORMERS_JS_Q8 } from './peers/onnx-quantize.mjs';

const args = process.argv.slice(2);
const dist = args.find((a) => a.startsWith('--weights='))?.slice(10) ?? 'uniform';
if (dist !== 'uniform' && dist !== 'normal') throw new RangeError(`bench/int8-accuracy.mjs: --weights must be uniform or normal, got ${JSON.stringify(dist)}`);
const out = args.find((a) => a.startsWith('--out='))?.slice(6) ?? fileURLToPath(new URL(`../docs/int8-accuracy-${dist}.json`, import.meta.url));

/** With --weights=normal: each weight matrix and embedding table (not the norms) redrawn as
 * N(0, 0.02²) from its own uniform draws (Box–Muller on consecutive pairs); the rest as is. */
function weightsAs(w) {
  if (dist === 'uniform') return w;
  const out = {};
  for (const [key, v] of Object.entries(w)) {
    if (!/weight/.test(key) || /norm|LayerNorm|ln_/.test(key)) { out[key] = v; continue; }
    const g = new Float32Array(v.length);
    for (let i = 0; i < v.length; i += 2) {
      const u1 = (v[i] + 1) / 2 || 1e-12, u2 = ((v[i + 1] ?? v[0]) + 1) / 2;
      const r = 0.02 * Math.sqrt(-2 * Math.log(u1));
      g[i] = r * Math.cos(2 * Math.PI * u2);
      if (i + 1 < v.length) g[i + 1] = r * Math.sin(2 * Math.PI * u2);
    }
    out[key] = g;
  }
  return out;
}

const relRms = (got, want) => {
  let num = 0, den = 0;
  for (let i = 0; i < want.length; i++) { num += (got[i] - want[i]) ** 2; den += want[i] ** 2; }
  return +Math.sqrt(num / den).toExponential(3);
};
const argmaxRows = (x, rows, cols) => Array.from({ length: rows }, (_, r) => {
  let best = 0;
  for (let j = 1; j < cols; j++) if (x[r * cols + j] > x[r * cols + best]) best = j;
  return best;
});
const PER_TENSOR = { perChannel: false, reduceRange: false }; // quantize_dynamic's defaults
const label = (q) => `${q.perChannel ? 'per-channel' : 'per-tensor'}${q.reduceRange ? ', reduce_range' : ''}`;

const engine = await createEngine({ threads: 1 });
const peer = await createOrtPeer({ threads: 1 });
const result = { date: new Date().toISOString(), node: process.version, ort: peer.version, reference: 'wasm-attention f32', weights: dist, models: {} };
const log = (what, entry) => console.log(JSON.stringify({ what, ...entry }));

{ // (a) BERT-base encoder layer, seq 512.
  const shape = SHAPES['bert-layer-512-q8'];
  const { batch, seq, dModel, nhead, ff, activation, eps } = shape;
  const weights = weightsAs(encoderLayerWeights(shape)), x = randomF32(batch * seq * dModel, 5);
  const config = { dModel, nhead, dimFeedforward: ff, activation, layerNormEps: eps, weights };
  const opts = { batch, seq };
  const layerOutput = async (c) => {
    const layer = engine.transformerEncoderLayer(c);
    const y = await layer.forward(x, opts);
    await layer.dispose();
    return y;
  };
  const f32 = await layerOutput(config);
  const entry = { shape: shape.title, metric: 'relative RMS error of the layer output' };
  entry.oursInt8 = relRms(await layerOutput({ ...config, quantize: 'int8' }), f32);
  for (const [key, q8] of [['ortFp32', undefined], ['ortQ8', TRANSFORMERS_JS_Q8.bert], ['ortQ8PerTensor', PER_TENSOR]]) {
    const model = await peer.bertLayer({ ...shape, weights, q8 });
    entry[key] = relRms(await model.run(x), f32);
  }
  entry.ortQ8Settings = label(TRANSFORMERS_JS_Q8.bert);
  result.models.bertLayer512 = entry;
  log('bert-layer-512', entry);
  await peer.dispose();
}

{ // (b) MiniLM-L6 geometry, batch 8 × 128, no padding (as the bench rows).
  const { batch, seq } = SHAPES['minilm-8x128-q8'], config = MINILM_L6, hidden = config.hidden_size;
  const weights = weightsAs(bertWeights(config)), ids = tokenIds(batch * seq, config.vocab_size, 11);
  const mask = new Uint8Array(batch * seq).fill(1);
  const ours = async (quantize) => {
    const model = engine.bert({ config, weights, ...(quantize ? { quantize } : {}) });
    const h = (await model.forward(ids, { batch, seq, attentionMask: mask })).lastHiddenState;
    await model.dispose();
    return h;
  };
  const f32 = await ours();
  const pool = (h) => meanPool(h, mask, { batch, seq, hidden, normalize: true });
  const pooled = pool(f32);
  const cosines = (h) => {
    const p = pool(h), c = [];
    for (let b = 0; b < batch; b++) {
      let dot = 0;
      for (let j = 0; j < hidden; j++) dot += p[b * hidden + j] * pooled[b * hidden + j];
      c.push(dot);
    }
    return { min: +Math.min(...c).toFixed(6), mean: +(c.reduce((a, v) => a + v, 0) / batch).toFixed(6) };
  };
  const entry = { shape: SHAPES['minilm-8x128-q8'].title, metric: 'relative RMS error of last_hidden_state; cosine of mean-pooled embeddings (min, mean over the batch)' };
  const int8 = await ours('int8');
  entry.oursInt8 = { relRms: relRms(int8, f32), cosine: cosines(int8) };
  for (const [key, q8] of [['ortFp32', undefined], ['ortQ8', TRANSFORMERS_JS_Q8.bert], ['ortQ8PerTensor', PER_TENSOR]]) {
    const h = await (await peer.bert({ config, weights, q8 })).run(ids, { batch, seq });
    entry[key] = { relRms: relRms(h, f32), cosine: cosines(h) };
    await peer.dispose();
  }
  entry.ortQ8Settings = label(TRANSFORMERS_JS_Q8.bert);
  result.models.minilm8x128 = entry;
  log('minilm-8x128', entry);
}

{ // (c) GPT-2 small, prefill 128 tokens: all 128 positions' logits.
  const { seq } = SHAPES['gpt2-prefill-128-q8'], config = GPT2_SMALL, V = config.vocab_size;
  const weights = weightsAs(gpt2Weights(config)), ids = tokenIds(seq, V, 11);
  const f32Model = engine.gpt2({ config, weights });
  const f32 = (await f32Model.forward(ids, { batch: 1, seq })).logits;
  await f32Model.dispose();
  const top1 = argmaxRows(f32, seq, V);
  const score = (logits) => {
    const top = argmaxRows(logits, seq, V);
    return { relRms: relRms(logits, f32), argmaxAgreement: `${top.filter((t, i) => t === top1[i]).length}/${seq}` };
  };
  const entry = { shape: SHAPES['gpt2-prefill-128-q8'].title, metric: 'relative RMS error of the logits [128, vocab]; positions whose argmax is fp32\'s' };
  const model = engine.gpt2({ config, weights, quantize: 'int8' });
  entry.oursInt8 = score((await model.forward(ids, { batch: 1, seq })).logits);
  await model.dispose();
  for (const [key, q8] of [['ortFp32', undefined], ['ortQ8', TRANSFORMERS_JS_Q8.gpt2]]) {
    const { logits } = await (await peer.gpt2({ config, weights, q8 })).run(ids);
    entry[key] = score(logits);
    await peer.dispose();
  }
  entry.ortQ8Settings = label(TRANSFORMERS_JS_Q8.gpt2);
  result.models.gpt2Prefill128 = entry;
  log('gpt2-prefill-128', entry);
}

await engine.dispose();
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
