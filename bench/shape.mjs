// One benchmark shape in this process (so JIT state and caches do not leak between shapes):
//   node bench/shape.mjs <shape> [--quick]
// Prints one JSON line per implementation × configuration.
import { createEngine } from '../dist/index.js';
import { measure, maxAbsDiff, randomF32 } from './harness.mjs';
import { plainAttention, plainMultiHeadAttention } from './peers/plain-js.mjs';
import { SHAPES, flops } from './shapes.mjs';

const name = process.argv[2];
const shape = SHAPES[name];
if (!shape) throw new RangeError(`bench/shape.mjs: unknown shape ${JSON.stringify(name)}; one of ${Object.keys(SHAPES).join(', ')}`);
const quick = process.argv.includes('--quick');
const timing = quick ? { warmupMs: 300, runs: 3 } : { warmupMs: 1500, runs: 10 };
const work = flops(shape);
const emit = (row) => console.log(JSON.stringify({ shape: name, title: shape.title, flops: work, ...row }));

// Inputs and the plain-JS reference output.
let inputs, reference, runPlain;
if (shape.kind === 'mha') {
  const { batch: B, seq: L, embed: E, heads: H } = shape, s = 1 / Math.sqrt(E);
  const weights = {
    inProjWeight: randomF32(3 * E * E, 1, s), inProjBias: randomF32(3 * E, 2, 0.1),
    outProjWeight: randomF32(E * E, 3, s), outProjBias: randomF32(E, 4, 0.1),
  };
  inputs = { weights, x: randomF32(B * L * E, 5) };
  runPlain = () => plainMultiHeadAttention(inputs.x, inputs.x, inputs.x, B, L, L, E, H, weights);
} else {
  const n = (seq) => shape.batch * shape.heads * seq * shape.headDim;
  inputs = { q: randomF32(n(shape.seqQ), 1), k: randomF32(n(shape.seqK), 2), v: randomF32(n(shape.seqK), 3) };
  runPlain = () => plainAttention(inputs.q, inputs.k, inputs.v, shape);
}
reference = runPlain();
const plain = await measure(runPlain, { warmupMs: quick ? 0 : 1500, runs: 3, maxMs: 20000 });
emit({ impl: 'plain JS', threads: 1, ...plain, maxDiff: 0 });

const probe = await createEngine();
const variants = probe.features.relaxedSimd ? ['simd', 'relaxed'] : ['simd'];
const cores = (await import('node:os')).availableParallelism();
await probe.dispose();
for (const kernels of variants) {
  for (let threads = 1; threads <= cores; threads++) {
    const engine = await createEngine({ threads, kernels });
    let run;
    if (shape.kind === 'mha') {
      const { batch: B, seq: L, embed: E, heads: H } = shape;
      const layer = engine.multiHeadAttention({ embedDim: E, numHeads: H, weights: inputs.weights });
      const opts = { batch: B, seqQ: L, seqK: L, needWeights: false };
      run = async () => (await layer.forward(inputs.x, inputs.x, inputs.x, opts)).output;
    } else {
      const opts = { ...shape, validLens: shape.validLens ? Int32Array.from(shape.validLens) : undefined };
      run = async () => (await engine.attention(inputs.q, inputs.k, inputs.v, opts)).output;
    }
    const out = await run();
    const t = await measure(run, timing);
    emit({ impl: `wasm-attention ${kernels}`, threads, ...t, maxDiff: maxAbsDiff(out, reference) });
    await engine.dispose();
  }
}
