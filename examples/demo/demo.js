// The demo page: the shipped char-GPT generating (tokens per second on 1 and n threads) with any
// layer's and head's attention over its text; then attention maps for a sentence, and a timing panel.
import { createEngine, positionalEncoding } from '../../dist/index.js';
import { plainMultiHeadAttention } from '../../bench/peers/plain-js.mjs';
import { demoWeights, drawHeatmap, embed, heatmapSvg, layerFlops, seeded, tokenize } from './model.js';
import { CHAR_GPT, DEFAULTS, attentionMaps, generateOptions, headMap, loadCharGpt, rates, timedGenerate, warmUp } from './char-gpt.js';

const E = 64, H = 4;
const MAX_WORDS = 48; // the sentence maps stay readable
const $ = (id) => document.getElementById(id);
const status = (text) => { $('status').textContent = text; };
const genStatus = (text) => { $('gen-status').textContent = text; };
// The engine's diagnostic hook: where its last call ran (the pool's workers or the calling thread).
const DEBUG = Symbol.for('wasm-attention.debug');

// Until the model is in, a submit (a click, Enter) does nothing: a native one would reload the page.
for (const id of ['form', 'gen-form']) $(id).addEventListener('submit', (e) => e.preventDefault());
genStatus('loading the model…');
if (!crossOriginIsolated) {
  $('gen-form').insertAdjacentHTML('afterend', '<p class="note" id="isolation">One thread: this page is not ' +
    'cross-origin isolated (no COOP/COEP headers), so it has no SharedArrayBuffer for the engine\'s workers.</p>');
}

const threads = navigator.hardwareConcurrency > 1 && crossOriginIsolated ? Math.min(navigator.hardwareConcurrency, 4) : 1;
const engine = await createEngine({ threads });
const layer = engine.multiHeadAttention({ embedDim: E, numHeads: H, weights: demoWeights(E) });

// The char-GPT on a one-thread engine and on the n-thread one: the same weights in each.
const fetched = async (name, as) => {
  const res = await fetch(new URL(name, CHAR_GPT));
  if (!res.ok) throw new Error(`${new URL(name, CHAR_GPT)}: HTTP ${res.status}`);
  return res[as]();
};
const [config, bytes] = await Promise.all([fetched('config.json', 'json'), fetched('model.safetensors', 'arrayBuffer')]);
const engines = new Map([[1, threads === 1 ? engine : await createEngine({ threads: 1 })], [engine.threads, engine]]);
const gpts = new Map([...engines].map(([n, e]) => [n, loadCharGpt(e, config, new Uint8Array(bytes))]));
const { vocab } = gpts.get(1);
for (const { model } of gpts.values()) await warmUp(model);
const nThreads = engine.threads;
for (const [id, key] of [['prompt', 'prompt'], ['max-tokens', 'maxNewTokens'], ['temperature', 'temperature'],
  ['top-k', 'topK'], ['top-p', 'topP'], ['seed', 'seed']]) {
  if ($(id).value === $(id).defaultValue) $(id).value = String(DEFAULTS[key]); // not what was typed while loading
}
$('threads').innerHTML = nThreads > 1
  ? `<option value="both" selected>1, then ${nThreads}</option><option value="1">1</option><option value="${nThreads}">${nThreads}</option>`
  : '<option value="1" selected>1</option>';
if (nThreads === 1) {
  $('threads').title = crossOriginIsolated ? 'this machine reports one core'
    : 'the page is not cross-origin isolated (no COOP/COEP headers): no SharedArrayBuffer, so one thread';
}
$('layer').innerHTML = Array.from({ length: config.n_layer }, (_, i) => `<option value="${i}">${i}</option>`).join('');
$('head').innerHTML = '<option value="mean">mean</option>' +
  Array.from({ length: config.n_head }, (_, h) => `<option value="${h}"${h === 0 ? ' selected' : ''}>${h}</option>`).join('');
$('geometry').textContent = `${config.n_layer} layers, ${config.n_head} heads, ${config.n_embd} wide, in Hugging Face's format`;
{
  // FLOPs of one decoding step: the GEMMs (2 per weight) plus attention over 1..n_positions keys.
  const { n_layer: nl, n_embd: e, vocab_size: v, n_positions: p } = config;
  const gemm = 2 * (nl * 12 * e * e + e * v), keys = (c) => nl * 4 * e * c;
  $('step-flops').textContent = `${((gemm + keys(1)) / 1e6).toFixed(1)}–${((gemm + keys(p)) / 1e6).toFixed(1)}`;
}

const nextFrame = () => new Promise((resolve) => {
  requestAnimationFrame(() => setTimeout(resolve, 0));
  setTimeout(resolve, 100); // a hidden tab gets no frames
});
const where = (placement) => (placement === 'pool' ? 'workers' : 'calling thread');
const visible = (c) => ({ '\n': '⏎', ' ': '·' })[c] ?? c;

let generated = 0;
let attention; // { ids, maps, labels }: the last text's attention, kept for the layer and head selects

async function generate() {
  const button = $('generate-button');
  if (button.disabled) return;
  button.disabled = true;
  try {
    const prompt = $('prompt').value;
    const runs = $('threads').value === 'both' ? [1, nThreads] : [Number($('threads').value)];
    const steps = new Map();
    let promptIds, opts, clamped = '';
    try {
      promptIds = vocab.encode(prompt);
      if (promptIds.length === 0) throw new RangeError('prompt: type at least one character');
      if (promptIds.length >= config.n_positions) {
        throw new RangeError(`prompt: ${promptIds.length} characters leave no room in config.n_positions (${config.n_positions})`);
      }
      const room = config.n_positions - promptIds.length; // so that the whole text fits the attention map
      // A blank field is its default ("off" for top-k and top-p), not Number('') = 0.
      const field = (id, key) => ($(id).value.trim() === '' ? DEFAULTS[key] : Number($(id).value));
      const asked = field('max-tokens', 'maxNewTokens');
      opts = generateOptions({
        maxNewTokens: Number.isInteger(asked) && asked > room ? room : asked, temperature: field('temperature', 'temperature'),
        topK: field('top-k', 'topK'), topP: field('top-p', 'topP'), seed: field('seed', 'seed'),
      });
      if (opts.maxNewTokens !== asked) clamped = `${opts.maxNewTokens} tokens: the prompt leaves room for no more in config.n_positions (${config.n_positions})`;
      // model.generate checks the options when called: a bad one is said here, before the last
      // text and its map are cleared.
      for (const n of runs) steps.set(n, timedGenerate(gpts.get(n).model, promptIds, opts));
    } catch (error) {
      for (const it of steps.values()) void it.return();
      genStatus(error.message);
      return;
    }
    $('rates').tBodies[0].replaceChildren();
    // The previous text's map goes: a layer or head picked during this run, or a failed run,
    // must not show it under this text.
    attention = undefined;
    const canvas = $('attention');
    canvas.getContext('2d').clearRect(0, 0, canvas.width, canvas.height);
    $('cell').textContent = 'the attention map follows once the text is complete';
    let first, note = '';
    for (const n of runs) {
      const e = engines.get(n);
      $('text').querySelector('.prompt').textContent = prompt;
      const out = $('text').querySelector('.generated');
      out.textContent = '';
      genStatus(`generating on ${n} thread(s)…`);
      const ids = [], ms = [], ran = new Map();
      let painted = performance.now();
      try {
        for await (const step of steps.get(n)) {
          ids.push(step.id);
          ms.push(step.ms);
          if (ids.length > 1) {
            const w = where(e[DEBUG]().placement());
            ran.set(w, (ran.get(w) ?? 0) + 1);
          }
          out.textContent += vocab.decode([step.id]);
          if (performance.now() - painted > 16) {
            await nextFrame();
            painted = performance.now();
          }
        }
      } catch (error) {
        for (const it of steps.values()) void it.return();
        genStatus(`${error.name}: ${error.message}`);
        return;
      }
      const r = rates(ms);
      $('rates').tBodies[0].insertAdjacentHTML('beforeend', `<tr><td>${n}</td><td>${r.tokens}</td><td>${r.firstMs.toFixed(2)}</td>` +
        `<td>${Number.isNaN(r.decodeTokensPerSecond) ? '–' : r.decodeTokensPerSecond.toFixed(0)}</td>` +
        `<td>${[...ran].map(([w, c]) => `${w} (${c})`).join(', ') || '–'}</td></tr>`);
      if (first && first.join() !== ids.join()) note = `${n} threads gave other tokens than 1 thread`;
      first ??= ids;
    }
    genStatus([note, clamped].filter(Boolean).join('; '));
    const all = [...promptIds, ...first];
    const { ids, maps } = await attentionMaps(gpts.get(nThreads).model, all);
    attention = { ids, maps, labels: ids.map((id) => visible(vocab.decode([id]))) };
    drawAttention();
    document.body.dataset.generated = String(++generated);
  } finally {
    button.disabled = false;
  }
}

function drawAttention() {
  if (!attention) return;
  const L = attention.ids.length;
  const l = Number($('layer').value), h = $('head').value === 'mean' ? 'mean' : Number($('head').value);
  const data = headMap(attention.maps[l], config.n_head, L, h);
  const canvas = $('attention');
  const geometry = drawHeatmap(canvas.getContext('2d'), { data, rows: L, cols: L, rowLabels: attention.labels,
    colLabels: attention.labels, cell: Math.max(2, Math.min(20, Math.floor(760 / L))), perRow: true });
  Object.assign(canvas.dataset, { rows: String(L), layer: String(l), head: String(h),
    left: String(geometry.left), top: String(geometry.top), cell: String(geometry.cell) });
  canvas.onmousemove = (event) => {
    const box = canvas.getBoundingClientRect();
    const j = Math.floor((event.clientX - box.left - geometry.left) / geometry.cell);
    const i = Math.floor((event.clientY - box.top - geometry.top) / geometry.cell);
    if (i < 0 || j < 0 || i >= L || j >= L) return;
    $('cell').textContent = `query ${i} “${attention.labels[i]}” → key ${j} “${attention.labels[j]}”: ${data[i * L + j].toFixed(4)}`;
  };
  $('cell').textContent = `layer ${l}, ${h === 'mean' ? 'mean over heads' : `head ${h}`}, ${L} characters; each row coloured from 0 to its largest weight (point at a cell for its value)`;
}

async function attend() {
  const all = tokenize($('sentence').value), tokens = all.slice(0, MAX_WORDS);
  if (tokens.length === 0) {
    status('type a sentence: it has no words');
    return;
  }
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
  const cut = all.length > L ? ` (the first ${L} of ${all.length})` : '';
  status(`${L} tokens${cut}, ${engine.threads} thread(s), ${engine.kernels} kernels, ${ms.toFixed(2)} ms`);
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
$('gen-form').addEventListener('submit', (e) => { e.preventDefault(); void generate(); });
$('layer').addEventListener('change', drawAttention);
$('head').addEventListener('change', drawAttention);
await attend();
document.body.dataset.ready = 'true';
await generate();
if (!new URLSearchParams(location.search).has('notiming')) void timing();
