// The demo in a terminal: the head-averaged attention map as shades, the timing table (threads
// 1..n next to a plain-JS loop), and the heatmaps written as SVG files to demo-output/.
//   npm start -- --cli ["your sentence"] [--causal]
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { createEngine, positionalEncoding } from '../../dist/index.js';
import { plainMultiHeadAttention } from '../../bench/peers/plain-js.mjs';
import { demoWeights, embed, heatmapSvg, layerFlops, seeded, tokenize } from './model.js';

const args = process.argv.slice(2).filter((a) => a !== '--cli');
const unknown = args.find((a) => a.startsWith('--') && a !== '--causal');
const sentences = args.filter((a) => !a.startsWith('--'));
if (unknown !== undefined || sentences.length > 1) {
  process.stderr.write(`${unknown !== undefined ? `unknown argument ${JSON.stringify(unknown)}` : 'give one sentence (in quotes)'}\n` +
    'usage: npm start -- --cli ["your sentence"] [--causal]   or   npm start -- --cli --generate "prompt" [...]\n');
  process.exit(2);
}
// `| head` closes the pipe early: stop quietly; another write error is one line and status 1.
process.stdout.on('error', (error) => {
  if (error.code === 'EPIPE') process.exit(0);
  process.stderr.write(`cannot write: ${error.message}\n`);
  process.exit(1);
});
const causal = args.includes('--causal');
const sentence = sentences[0] ?? "The animal didn't cross the street because it was too tired";
const tokens = tokenize(sentence);
if (tokens.length === 0) {
  process.stderr.write('the sentence has no words\nusage: npm start -- --cli ["your sentence"] [--causal]\n');
  process.exit(2);
}
const E = 64, H = 4, L = tokens.length;

const engine = await createEngine();
const layer = engine.multiHeadAttention({ embedDim: E, numHeads: H, weights: demoWeights(E) });
const pe = positionalEncoding(L, E);
const x = embed(tokens, E, pe);
const { weights } = await layer.forward(x, x, x, { batch: 1, seqQ: L, seqK: L, causal, averageWeights: false });
const mean = new Float32Array(L * L);
for (let h = 0; h < H; h++) for (let i = 0; i < L * L; i++) mean[i] += weights[h * L * L + i] / H;

const shades = ' ░▒▓█';
const width = Math.max(...tokens.map((t) => t.length));
console.log(`\nHead-averaged attention (${H} heads, embed ${E}${causal ? ', causal' : ''}; row = query, column = key)\n`);
// Each cell is two characters wide: column numbers as their last digit, with the tens on a line
// above from column 10 on, so 9 and 10 stay apart.
if (L > 10) console.log(' '.repeat(width + 1) + tokens.map((_, j) => (j >= 10 && j % 10 === 0 ? String(Math.floor(j / 10) % 10) : ' ').padStart(2)).join(''));
console.log(' '.repeat(width + 1) + tokens.map((_, j) => String(j % 10).padStart(2)).join(''));
tokens.forEach((word, i) => {
  const row = Array.from(mean.subarray(i * L, (i + 1) * L), (w) => shades[Math.min(shades.length - 1, Math.floor(w * L * 1.5))].repeat(2));
  console.log(`${word.padStart(width)} ${row.join('')}  ${i}`);
});

const out = new URL('../../demo-output/', import.meta.url);
mkdirSync(out, { recursive: true });
const labels = tokens.map((w, i) => `${w} ${i}`);
for (let h = 0; h < H; h++) {
  writeFileSync(new URL(`head-${h + 1}.svg`, out), heatmapSvg({ data: weights.subarray(h * L * L, (h + 1) * L * L),
    rows: L, cols: L, rowLabels: labels, colLabels: labels, title: `head ${h + 1}`, min: 0, max: 1 }));
}
writeFileSync(new URL('average.svg', out), heatmapSvg({ data: mean, rows: L, cols: L, rowLabels: labels, colLabels: labels,
  title: 'mean over heads', min: 0, max: 1 }));
writeFileSync(new URL('positional-encoding.svg', out), heatmapSvg({ data: positionalEncoding(32, E), rows: 32, cols: E,
  title: 'PE[position, dimension]', min: -1, max: 1, cell: 8 }));
console.log(`\nHeatmaps: ${H} heads, the average and the positional encoding, as SVG in demo-output/`);

// Timing: one BERT-base attention layer (embed 768, 12 heads, seq 128) with projections.
const bE = 768, bH = 12, bL = 128;
const w = { inProjWeight: seeded(3 * bE * bE, 5, 0.03), inProjBias: seeded(3 * bE, 6, 0.1),
  outProjWeight: seeded(bE * bE, 7, 0.03), outProjBias: seeded(bE, 8, 0.1) };
const bx = seeded(bL * bE, 9);
const gflop = layerFlops(bL, bE) / 1e9;
const time = async (fn, n) => {
  const t = performance.now();
  for (let i = 0; i < n; i++) await fn();
  return (performance.now() - t) / n;
};
console.log(`\nOne BERT-base attention layer, seq ${bL}, with projections (${gflop.toFixed(2)} GFLOP):\n`);
console.log('| implementation | threads | ms | GFLOP/s |\n|---|---|---|---|');
for (let n = 1; n <= availableParallelism(); n++) {
  const e = await createEngine({ threads: n });
  const big = e.multiHeadAttention({ embedDim: bE, numHeads: bH, weights: w });
  const opts = { batch: 1, seqQ: bL, seqK: bL, needWeights: false };
  for (let i = 0; i < 10; i++) await big.forward(bx, bx, bx, opts);
  const ms = await time(() => big.forward(bx, bx, bx, opts), 20);
  console.log(`| wasm-attention (${e.kernels}) | ${e.threads} | ${ms.toFixed(1)} | ${(gflop / ms * 1e3).toFixed(1)} |`);
  await e.dispose();
}
const plain = await time(() => plainMultiHeadAttention(bx, bx, bx, 1, bL, bL, bE, bH, w), 2);
console.log(`| plain JavaScript loop | 1 | ${plain.toFixed(1)} | ${(gflop / plain * 1e3).toFixed(1)} |\n`);
await engine.dispose();
