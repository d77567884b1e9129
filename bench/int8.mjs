// quantize: 'int8' against f32 through the public API, 1 thread, interleaved: one nn.Linear
// (BERT-base FFN up: 512 rows, 768 → 3072), one BERT-base-geometry encoder layer
// (nn.TransformerEncoderLayer, d 768, 12 heads, FFN 3072, GELU, post-norm; batch 1 × seq), and
// a MiniLM-L6-geometry BertModel (hidden 384, 6 layers, 12 heads, FFN 1536; batch 8 × 128) with
// the cosine similarity of its mean-pooled embeddings (sentence-transformers' pooling, meanPool),
// with the relative RMS error of the int8 output against the f32 one (the f32 engine matches
// PyTorch to about 1e-6, test/ops/layers.test.ts). Weights follow torch's nn.Linear init
// (uniform ±1/√in), biases uniform ±0.1, LayerNorm weight 1 ± 0.1; x uniform with unit variance.
//   node bench/int8.mjs [--seq=512] [--rounds=9]
// Needs dist/ (npm run build). Prints one JSON line per measurement.
import { loadavg } from 'node:os';
import { createEngine, meanPool } from '../dist/index.js';
import { median, randomF32 } from './harness.mjs';

const args = process.argv.slice(2);
const opt = (name, fallback) => Number(args.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? fallback);
const seq = opt('seq', 512), rounds = opt('rounds', 9);

const relRms = (got, want) => {
  let num = 0, den = 0;
  for (let i = 0; i < want.length; i++) { num += (got[i] - want[i]) ** 2; den += want[i] ** 2; }
  return Math.sqrt(num / den);
};

/** Per round, one timed call of each (after two warm-up calls each); medians and the median
 * of the per-round ratios. */
async function interleave(f32, int8) {
  for (let i = 0; i < 2; i++) { await f32(); await int8(); }
  const a = [], b = [];
  for (let r = 0; r < rounds; r++) {
    let t = performance.now(); await f32(); a.push(performance.now() - t);
    t = performance.now(); await int8(); b.push(performance.now() - t);
  }
  return { f32Ms: +median(a).toFixed(2), int8Ms: +median(b).toFixed(2), speedup: +median(a.map((x, i) => x / b[i])).toFixed(2) };
}

const engine = await createEngine({ threads: 1 });
const d = 768, ff = 3072, heads = 12;
let seed = 1;
const linearInit = (out, inF) => randomF32(out * inF, seed++, 1 / Math.sqrt(inF));
const x = randomF32(seq * d, 999, Math.sqrt(3));

{
  const weights = { weight: linearInit(ff, d), bias: randomF32(ff, seed++, 0.1) };
  const f32 = engine.linear({ inFeatures: d, outFeatures: ff, weights });
  const int8 = engine.linear({ inFeatures: d, outFeatures: ff, weights, quantize: 'int8' });
  const load = loadavg()[0];
  const t = await interleave(() => f32.forward(x, { rows: seq }), () => int8.forward(x, { rows: seq }));
  const err = relRms(await int8.forward(x, { rows: seq }), await f32.forward(x, { rows: seq }));
  console.log(JSON.stringify({ what: `linear ${seq}x${d}->${ff} (BERT-base FFN up)`, threads: 1, kernels: engine.kernels, rounds, load1: +load.toFixed(2), ...t, relRms: +err.toExponential(2) }));
  await f32.dispose(); await int8.dispose();
}

{
  const w = {
    'self_attn.in_proj_weight': linearInit(3 * d, d), 'self_attn.in_proj_bias': randomF32(3 * d, seed++, 0.1),
    'self_attn.out_proj.weight': linearInit(d, d), 'self_attn.out_proj.bias': randomF32(d, seed++, 0.1),
    'linear1.weight': linearInit(ff, d), 'linear1.bias': randomF32(ff, seed++, 0.1),
    'linear2.weight': linearInit(d, ff), 'linear2.bias': randomF32(d, seed++, 0.1),
    'norm1.weight': Float32Array.from(randomF32(d, seed++, 0.1), (v) => 1 + v), 'norm1.bias': randomF32(d, seed++, 0.1),
    'norm2.weight': Float32Array.from(randomF32(d, seed++, 0.1), (v) => 1 + v), 'norm2.bias': randomF32(d, seed++, 0.1),
  };
  const config = { dModel: d, nhead: heads, dimFeedforward: ff, activation: 'gelu', layerNormEps: 1e-12, weights: w };
  const f32 = engine.transformerEncoderLayer(config);
  const int8 = engine.transformerEncoderLayer({ ...config, quantize: 'int8' });
  const opts = { batch: 1, seq };
  const load = loadavg()[0];
  const t = await interleave(() => f32.forward(x, opts), () => int8.forward(x, opts));
  const err = relRms(await int8.forward(x, opts), await f32.forward(x, opts));
  console.log(JSON.stringify({ what: `BERT-base encoder layer, seq ${seq}`, threads: 1, kernels: engine.kernels, rounds, load1: +load.toFixed(2), ...t, relRms: +err.toExponential(2) }));
}
{
  // MiniLM-L6 geometry (all-MiniLM-L6-v2's config; vocabulary cut to 1000: the tables are gathers).
  const hidden = 384, layers = 6, inter = 1536, vocab = 1000, B = 8, L = 128;
  const config = {
    vocab_size: vocab, hidden_size: hidden, num_hidden_layers: layers, num_attention_heads: 12,
    intermediate_size: inter, max_position_embeddings: 512, type_vocab_size: 2, layer_norm_eps: 1e-12, hidden_act: 'gelu',
  };
  const w = {
    'embeddings.word_embeddings.weight': randomF32(vocab * hidden, seed++, 0.05),
    'embeddings.position_embeddings.weight': randomF32(512 * hidden, seed++, 0.05),
    'embeddings.token_type_embeddings.weight': randomF32(2 * hidden, seed++, 0.05),
    'embeddings.LayerNorm.weight': Float32Array.from(randomF32(hidden, seed++, 0.1), (v) => 1 + v),
    'embeddings.LayerNorm.bias': randomF32(hidden, seed++, 0.1),
  };
  const linear = (name, out, inF) => {
    w[`${name}.weight`] = linearInit(out, inF);
    w[`${name}.bias`] = randomF32(out, seed++, 0.1);
  };
  const norm = (name) => {
    w[`${name}.weight`] = Float32Array.from(randomF32(hidden, seed++, 0.1), (v) => 1 + v);
    w[`${name}.bias`] = randomF32(hidden, seed++, 0.1);
  };
  for (let n = 0; n < layers; n++) {
    const p = `encoder.layer.${n}.`;
    for (const k of ['query', 'key', 'value']) linear(`${p}attention.self.${k}`, hidden, hidden);
    linear(`${p}attention.output.dense`, hidden, hidden);
    norm(`${p}attention.output.LayerNorm`);
    linear(`${p}intermediate.dense`, inter, hidden);
    linear(`${p}output.dense`, hidden, inter);
    norm(`${p}output.LayerNorm`);
  }
  const f32 = engine.bert({ config, weights: w });
  const int8 = engine.bert({ config, weights: w, quantize: 'int8' });
  const next = ((s) => () => { s = (s * 16807) % 2147483647; return s; })(12345);
  const ids = Int32Array.from({ length: B * L }, () => next() % vocab);
  const mask = Uint8Array.from({ length: B * L }, (_, i) => (i % L < L - 8 * (i / L | 0) ? 1 : 0)); // row b: 8·b padding
  const opts = { batch: B, seq: L, attentionMask: mask };
  const load = loadavg()[0];
  const t = await interleave(() => f32.forward(ids, opts), () => int8.forward(ids, opts));
  const a = (await f32.forward(ids, opts)).lastHiddenState, b = (await int8.forward(ids, opts)).lastHiddenState;
  const pool = (x) => meanPool(x, mask, { batch: B, seq: L, hidden, normalize: true });
  const pa = pool(a), pb = pool(b);
  let worst = 1;
  for (let r = 0; r < B; r++) {
    let dot = 0;
    for (let j = 0; j < hidden; j++) dot += pa[r * hidden + j] * pb[r * hidden + j];
    worst = Math.min(worst, dot);
  }
  console.log(JSON.stringify({
    what: `MiniLM-L6 geometry BertModel, batch ${B} x ${L}`, threads: 1, kernels: engine.kernels, rounds, load1: +load.toFixed(2), ...t,
    relRms: +relRms(b, a).toExponential(2), minCosineMeanPooled: +worst.toFixed(6),
  }));
}
await engine.dispose();
