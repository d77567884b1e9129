// npm start: multi-head self-attention over a sentence, in the terminal.
//   node examples/demo.mjs ["your sentence"] [--causal]
// Tokens get seeded embeddings plus the sinusoidal positional encoding; one attention layer
// with seeded weights runs on them; the head-averaged attention map is drawn as shades and a
// BERT-base-sized layer is timed against a plain-JavaScript loop.
import { createEngine, positionalEncoding } from '../dist/index.js';
import { randomF32 } from '../bench/harness.mjs';
import { plainMultiHeadAttention } from '../bench/peers/plain-js.mjs';

const args = process.argv.slice(2);
const causal = args.includes('--causal');
const sentence = args.find((a) => !a.startsWith('--')) ?? 'the quick brown fox jumps over the lazy dog';
const tokens = sentence.toLowerCase().split(/\s+/).filter(Boolean);

const E = 64, H = 4, L = tokens.length;
const hash = (word) => [...word].reduce((h, c) => Math.imul(h ^ c.charCodeAt(0), 16777619), 2166136261) >>> 0;
const pe = positionalEncoding(L, E);
const x = new Float32Array(L * E);
tokens.forEach((word, p) => {
  const embedding = randomF32(E, hash(word));
  for (let c = 0; c < E; c++) x[p * E + c] = embedding[c] + pe[p * E + c];
});
const s = 1 / Math.sqrt(E);
const weights = {
  inProjWeight: randomF32(3 * E * E, 1, 4 * s), inProjBias: randomF32(3 * E, 2, 0.1),
  outProjWeight: randomF32(E * E, 3, s), outProjBias: randomF32(E, 4, 0.1),
};

const engine = await createEngine();
const layer = engine.multiHeadAttention({ embedDim: E, numHeads: H, weights });
const { weights: map } = await layer.forward(x, x, x, { batch: 1, seqQ: L, seqK: L, causal });

const shades = ' ░▒▓█';
const width = Math.max(...tokens.map((t) => t.length));
console.log(`\nHead-averaged attention (${H} heads, embed ${E}${causal ? ', causal' : ''}; row = query, column = key)\n`);
console.log(' '.repeat(width + 1) + tokens.map((_, j) => String(j).padStart(2)).join(''));
tokens.forEach((word, i) => {
  const row = Array.from(map.subarray(i * L, (i + 1) * L), (w) => {
    const shade = shades[Math.min(shades.length - 1, Math.floor(w * L * 1.5))];
    return shade + shade;
  });
  console.log(`${word.padStart(width)} ${row.join('')}  ${i}`);
});

// Timing: one BERT-base attention layer (embed 768, 12 heads, seq 128) with projections.
const bE = 768, bH = 12, bL = 128;
const bert = {
  inProjWeight: randomF32(3 * bE * bE, 5, 0.03), inProjBias: randomF32(3 * bE, 6, 0.1),
  outProjWeight: randomF32(bE * bE, 7, 0.03), outProjBias: randomF32(bE, 8, 0.1),
};
const bx = randomF32(bL * bE, 9);
const big = engine.multiHeadAttention({ embedDim: bE, numHeads: bH, weights: bert });
const opts = { batch: 1, seqQ: bL, seqK: bL, needWeights: false };
for (let i = 0; i < 10; i++) await big.forward(bx, bx, bx, opts);
const time = async (fn, n) => {
  const t = performance.now();
  for (let i = 0; i < n; i++) await fn();
  return (performance.now() - t) / n;
};
const ours = await time(() => big.forward(bx, bx, bx, opts), 20);
const plain = await time(() => plainMultiHeadAttention(bx, bx, bx, 1, bL, bL, bE, bH, bert), 2);
const gflop = (4 * 2 * bL * bE * bE + 4 * bL * bL * bE) / 1e9;
console.log(`\nBERT-base attention layer, seq ${bL} (${engine.kernels} kernels, ${engine.threads} thread):`);
console.log(`  wasm-attention ${ours.toFixed(1)} ms (${(gflop / ours * 1e3).toFixed(1)} GFLOP/s)`);
console.log(`  plain JS       ${plain.toFixed(1)} ms (${(gflop / plain * 1e3).toFixed(1)} GFLOP/s), ${(plain / ours).toFixed(1)}× slower\n`);
await engine.dispose();
