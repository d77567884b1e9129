// The demo page: attention maps for a sentence, and a timing panel.
import { createEngine, positionalEncoding } from '../../dist/index.js';
import { plainMultiHeadAttention } from '../../bench/peers/plain-js.mjs';
import { demoWeights, embed, heatmapSvg, layerFlops, seeded, tokenize } from './model.js';

const E = 64, H = 4;
const $ = (id) => document.getElementById(id);
const status = (text) => { $('status').textContent = text; };

const threads = navigator.hardwareConcurrency > 1 && crossOriginIsolated ? Math.min(navigator.hardwareConcurrency, 4) : 1;
const engine = await createEngine({ threads });
const layer = engine.multiHeadAttention({ embedDim: E, numHeads: H, weights: demoWeights(E) });

async function attend() {
  const tokens = tokenize($('sentence').value).slice(0, 48);
  if (tokens.length === 0) return;
  const L = tokens.length;
  const pe = positionalEncoding(L, E);
  const x = embed(tokens, E, pe);
  const causal = $('causal').checked;
  const t = performance.now();
  const { weights } = await layer.forward(x, x, x, { batch: 1, seqQ: L, seqK: L, causal, averageWeights: false });
  const ms = performance.now() - t;
  const labels = tokens.map((w, i) => `${w} ${i}`);
  $('heads').innerHTML = Array.from({ length: H }, (_, h) => heatmapSvg({
    data: weights.subarray(h * L * L, (h + 1) * L * L), rows: L, cols: L, rowLabels: labels, colLabels: labels,
    title: `head ${h + 1}`, min: 0, cell: Math.max(10, Math.min(22, Math.floor(360 / L))),
  })).join('');
  const mean = new Float32Array(L * L);
  for (let h = 0; h < H; h++) for (let i = 0; i < L * L; i++) mean[i] += weights[h * L * L + i] / H;
  $('average').innerHTML = heatmapSvg({ data: mean, rows: L, cols: L, rowLabels: labels, colLabels: labels,
    title: 'mean over heads', min: 0, cell: Math.max(12, Math.min(26, Math.floor(520 / L))) });
  const pePlot = positionalEncoding(Math.max(L, 32), E);
  $('pe').innerHTML = heatmapSvg({ data: pePlot, rows: Math.max(L, 32), cols: E, title: 'PE[position, dimension]',
    min: -1, max: 1, cell: 8 });
  status(`${L} tokens, ${engine.threads} thread(s), ${engine.kernels} kernels, ${ms.toFixed(2)} ms`);
}

async function timing() {
  // Let the heatmaps finish layout and paint first: the renderer's threads compete with the
  // workers on a small machine.
  await new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 500)));
  const bE = 768, bH = 12, bL = 128;
  const w = { inProjWeight: seeded(3 * bE * bE, 5, 0.03), inProjBias: seeded(3 * bE, 6, 0.1),
    outProjWeight: seeded(bE * bE, 7, 0.03), outProjBias: seeded(bE, 8, 0.1) };
  const x = seeded(bL * bE, 9);
  const gflop = layerFlops(bL, bE) / 1e9;
  const row = (name, n, ms) => {
    $('timing').tBodies[0].insertAdjacentHTML('beforeend',
      `<tr><td>${name}</td><td>${n}</td><td>${ms.toFixed(1)}</td><td>${(gflop / ms * 1e3).toFixed(1)}</td></tr>`);
  };
  const maxThreads = crossOriginIsolated ? Math.min(navigator.hardwareConcurrency || 1, 4) : 1;
  for (let n = 1; n <= maxThreads; n++) {
    const e = n === engine.threads ? engine : await createEngine({ threads: n });
    const big = e.multiHeadAttention({ embedDim: bE, numHeads: bH, weights: w });
    const opts = { batch: 1, seqQ: bL, seqK: bL, needWeights: false };
    for (let i = 0; i < 15; i++) await big.forward(x, x, x, opts);
    const t = performance.now();
    for (let i = 0; i < 20; i++) await big.forward(x, x, x, opts);
    row(`wasm-attention (${e.kernels})`, e.threads, (performance.now() - t) / 20);
    await big.dispose();
    if (e !== engine) await e.dispose();
  }
  const t = performance.now();
  plainMultiHeadAttention(x, x, x, 1, bL, bL, bE, bH, w);
  row('plain JavaScript loop', 1, performance.now() - t);
  document.body.dataset.timing = 'done';
}

$('form').addEventListener('submit', (e) => { e.preventDefault(); void attend(); });
$('causal').addEventListener('change', () => void attend());
await attend();
document.body.dataset.ready = 'true';
if (!new URLSearchParams(location.search).has('notiming')) void timing();
