// Threads 1 against threads 2 on the engine's benchmark shapes, interleaved in one process: the
// engines take turns (`reps` calls each, the order rotated every round), so a burst of load from
// other processes falls on every engine alike; prints the median and minimum of the per-round
// medians, the per-round ratio to threads 1, and the load average.
//   node bench/threads.mjs [--rounds=N] [--reps=N] [--kernels=simd|relaxed] [shape ...]
// Engines: "1", "2" (the dispatch policy of src/engine.ts), "2 pool" (every call forced onto the
// workers: the policy before issue 14 item 6 for every call above 1.5 MFLOP). Outputs must agree
// to the bit (the split into items never depends on the thread count).
import { loadavg } from 'node:os';
import { createEngine } from '../dist/index.js';
import { randomF32, median } from './harness.mjs';
import { SHAPES } from './shapes.mjs';

const DEBUG = Symbol.for('wasm-attention.debug');
const args = process.argv.slice(2);
const option = (name, fallback) => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback;
const rounds = Number(option('rounds', 16));
const repsOption = option('reps', undefined);
const kernels = option('kernels', 'simd');
const names = args.filter((a) => !a.startsWith('--'));
const shapes = names.length ? names : Object.keys(SHAPES).filter((n) => SHAPES[n].kind === 'mha' || SHAPES[n].kind === 'attention');

/** A call of `shape` on a new engine; `resident`: K and V as engine tensors. */
async function subject(shape, threads, forcePool, resident) {
  const engine = await createEngine({ threads, kernels });
  if (forcePool) engine[DEBUG]().forcePool();
  if (shape.kind === 'mha') {
    const { batch: B, seq: L, embed: E, heads: H } = shape, s = 1 / Math.sqrt(E);
    const weights = { inProjWeight: randomF32(3 * E * E, 1, s), inProjBias: randomF32(3 * E, 2, 0.1), outProjWeight: randomF32(E * E, 3, s), outProjBias: randomF32(E, 4, 0.1) };
    const x = randomF32(B * L * E, 5);
    const layer = engine.multiHeadAttention({ embedDim: E, numHeads: H, weights });
    return { engine, run: async () => (await layer.forward(x, x, x, { batch: B, seqQ: L, seqK: L })).output };
  }
  const n = (seq) => shape.batch * shape.heads * seq * shape.headDim;
  const q = randomF32(n(shape.seqQ), 1);
  let k = randomF32(n(shape.seqK), 2), v = randomF32(n(shape.seqK), 3);
  if (resident) [k, v] = [engine.createTensor(k), engine.createTensor(v)];
  const { batch, heads, seqQ, seqK, headDim, causal } = shape; // the attention options of the shape record
  const opts = { batch, heads, seqQ, seqK, headDim, causal, validLens: shape.validLens ? Int32Array.from(shape.validLens) : undefined };
  return { engine, run: async () => (await engine.attention(q, k, v, opts)).output };
}

const sameBits = (a, b) => a.length === b.length && a.every((x, i) => Object.is(x, b[i]));

for (const name of shapes) {
  const shape = SHAPES[name];
  if (!shape || (shape.kind !== 'mha' && shape.kind !== 'attention')) throw new RangeError(`bench/threads.mjs: ${name} is not an engine shape`);
  for (const resident of shape.residentKV ? [false, true] : [false]) {
    const subjects = [];
    for (const [label, threads, forcePool] of [['1', 1, false], ['2', 2, false], ['2 pool', 2, true]]) {
      subjects.push({ label, ...(await subject(shape, threads, forcePool, resident)), times: [] });
    }
    const outputs = [];
    for (const s of subjects) {
      const start = performance.now();
      while (performance.now() - start < 1500) await s.run(); // tier up; the policy learns its rates
      outputs.push(await s.run());
    }
    for (let i = 1; i < subjects.length; i++) if (!sameBits(outputs[i], outputs[0])) throw new Error(`${name}: ${subjects[i].label} differs from threads 1`);
    const t0 = performance.now();
    await subjects[0].run();
    const ms = performance.now() - t0; // about 20 ms of calls per engine and round
    const reps = Number(repsOption ?? Math.max(3, Math.min(15, Math.round(20 / ms))));
    for (let r = 0; r < rounds; r++) {
      for (let j = 0; j < subjects.length; j++) {
        const s = subjects[(j + r) % subjects.length];
        const t = [];
        for (let i = 0; i < reps; i++) {
          const t0 = performance.now();
          await s.run();
          t.push(performance.now() - t0);
        }
        s.times.push(median(t));
      }
    }
    console.log(`${shape.title}${resident ? ' (K/V resident)' : ''}, ${kernels}: ${rounds} rounds × ${reps} calls, load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
    for (const s of subjects) {
      const ratio = s.times.map((t, r) => t / subjects[0].times[r]);
      console.log(`  threads ${s.label.padEnd(6)} median ${median(s.times).toFixed(3)} ms, min ${Math.min(...s.times).toFixed(3)} ms` +
        (s === subjects[0] ? '' : `; per-round ratio to threads 1: median ${median(ratio).toFixed(2)}, slower in ${ratio.filter((x) => x > 1).length}/${rounds} rounds`));
    }
    for (const s of subjects) await s.engine.dispose();
  }
}
