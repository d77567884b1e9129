// npm run bench: this library (each kernel build this Node accepts) against the plain-JS peer
// on the shapes of bench/shapes.mjs, outputs cross-checked. Prints a markdown table and writes
// bench/results/latest.json.
//   node bench/run.mjs [--quick]        (--experimental-wasm-relaxed-simd adds the relaxed build)
import { mkdirSync, writeFileSync } from 'node:fs';
import { createEngine } from '../dist/index.js';
import { measure, maxAbsDiff, randomF32 } from './harness.mjs';
import { plainMultiHeadAttention } from './peers/plain-js.mjs';
import { MHA_SHAPES, mhaFlops } from './shapes.mjs';

const quick = process.argv.includes('--quick');
const timing = quick ? { warmupMs: 300, runs: 3 } : { warmupMs: 1500, runs: 10 };
const probe = await createEngine();
const variants = probe.features.relaxedSimd ? ['simd', 'relaxed'] : ['simd'];
await probe.dispose();

const rows = [];
for (const shape of MHA_SHAPES) {
  const { batch: B, seq: L, embed: E, heads: H } = shape;
  const s = 1 / Math.sqrt(E);
  const weights = {
    inProjWeight: randomF32(3 * E * E, 1, s), inProjBias: randomF32(3 * E, 2, 0.1),
    outProjWeight: randomF32(E * E, 3, s), outProjBias: randomF32(E, 4, 0.1),
  };
  const x = randomF32(B * L * E, 5);
  const flops = mhaFlops(shape);
  const plainOut = plainMultiHeadAttention(x, x, x, B, L, L, E, H, weights);
  const plain = await measure(() => plainMultiHeadAttention(x, x, x, B, L, L, E, H, weights),
    { warmupMs: quick ? 0 : 1500, runs: 3 });
  rows.push({ shape: shape.name, impl: 'plain JS', threads: 1, ...plain, gflops: flops / plain.median / 1e6, maxDiff: 0 });
  for (const kernels of variants) {
    const engine = await createEngine({ threads: 1, kernels });
    const layer = engine.multiHeadAttention({ embedDim: E, numHeads: H, weights });
    const opts = { batch: B, seqQ: L, seqK: L, needWeights: false };
    const out = (await layer.forward(x, x, x, opts)).output;
    const t = await measure(() => layer.forward(x, x, x, opts), timing);
    rows.push({
      shape: shape.name, impl: `wasm-attention (${kernels})`, threads: 1, ...t,
      gflops: flops / t.median / 1e6, maxDiff: maxAbsDiff(out, plainOut), vsPlain: plain.median / t.median,
    });
    await engine.dispose();
  }
}

const fmt = (x, digits = 2) => x.toFixed(digits);
console.log('| shape | implementation | threads | median ms | min ms | GFLOP/s | × plain JS | max |Δ| vs plain JS |');
console.log('|---|---|---|---|---|---|---|---|');
for (const r of rows) {
  console.log(`| ${r.shape} | ${r.impl} | ${r.threads} | ${fmt(r.median)} | ${fmt(r.min)} | ${fmt(r.gflops, 1)} | ` +
    `${r.vsPlain ? fmt(r.vsPlain, 1) + '×' : '—'} | ${r.maxDiff.toExponential(1)} |`);
}
mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
writeFileSync(new URL('./results/latest.json', import.meta.url), JSON.stringify({
  node: process.version, date: new Date().toISOString(), rows,
}, null, 2));
