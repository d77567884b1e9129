// GPT-2 decode, ms per token: the GPT-2 small geometry (n_embd 768, 12 layers, 12 heads, vocab
// 50257, tied lm_head) with random weights, a prompt of --context tokens prefilled once, then
// --tokens greedy steps through engine.gpt2(...).generate, each step timed alone. Prints one JSON
// line per build (--dist): the median and minimum step, the weight bytes one step
// streams (fp32: every block's four projections and the tied lm_head) and, given --gbps (the
// read bandwidth at these threads, bench/bandwidth.mjs), the share of the weight-streaming bound
// (bytes ÷ bandwidth) that the median reaches; for a second build, the median of the per-step
// ratios to the first (steps alternate between builds).
//   node bench/decode.mjs [--threads=N] [--kernels=simd|relaxed] [--context=512] [--tokens=24]
//                         [--dist=DIR[,DIR2]] [--gbps=X] [--probe] [--layers=12] [--quantize=int8]
// --quantize=int8: the model's linear weights and lm_head in 8 bits (weightBytes then counts
// the int8 codes and their scales, bench/models.mjs gpt2DecodeWeightBytesInt8).
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { readFileSync } from 'node:fs';
import { randomF32 } from './harness.mjs';
import { buildPeak, instantiateStream } from './peak-probe.mjs';
import { STREAM_BYTES } from './bandwidth-probe.mjs';
import { gpt2DecodeWeightBytes, gpt2DecodeWeightBytesInt8 } from './models.mjs';

const arg = (name, fallback) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback;
const threads = Number(arg('threads', 1));
const kernels = arg('kernels', 'auto');
const context = Number(arg('context', 512));
const tokens = Number(arg('tokens', 24));
const layers = Number(arg('layers', 12));
const gbps = Number(arg('gbps', 0));
const quantize = arg('quantize', undefined);
if (quantize !== undefined && quantize !== 'int8') throw new RangeError(`--quantize must be int8, got ${quantize}`);
// --probe: after every round of steps, one pass of the read-bandwidth probe (256 MiB, this
// thread) is timed too, and each step is set against the bound of its own round: on a machine
// whose load moves, a share of the bound taken from two runs minutes apart means little.
const probe = process.argv.includes('--probe') ? instantiateStream(readFileSync(await buildPeak(false)), STREAM_BYTES) : undefined;
// --dist=A,B: builds to compare (each a dist/ directory), stepped in alternation in this process.
const dists = arg('dist', new URL('../dist', import.meta.url).pathname).split(',').map((d) => resolve(d));

const E = 768, V = 50257, I = 4 * E;
const config = { vocab_size: V, n_positions: 1024, n_embd: E, n_layer: layers, n_head: 12, layer_norm_epsilon: 1e-5 };
/** Random weights at GPT-2's init scale (std 0.02 ≈ uniform ±0.035), LayerNorms near identity. */
function gpt2Weights() {
  let seed = 1;
  const w = (n, scale = 0.035) => randomF32(n, seed++, scale);
  const ones = (n) => w(n, 0.1).map((v) => 1 + v);
  const weights = { 'wte.weight': w(V * E), 'wpe.weight': w(1024 * E, 0.01), 'ln_f.weight': ones(E), 'ln_f.bias': w(E, 0.01) };
  for (let i = 0; i < layers; i++) {
    const p = `h.${i}.`;
    Object.assign(weights, {
      [`${p}ln_1.weight`]: ones(E), [`${p}ln_1.bias`]: w(E, 0.01), [`${p}ln_2.weight`]: ones(E), [`${p}ln_2.bias`]: w(E, 0.01),
      [`${p}attn.c_attn.weight`]: w(E * 3 * E), [`${p}attn.c_attn.bias`]: w(3 * E, 0.01),
      [`${p}attn.c_proj.weight`]: w(E * E), [`${p}attn.c_proj.bias`]: w(E, 0.01),
      [`${p}mlp.c_fc.weight`]: w(E * I), [`${p}mlp.c_fc.bias`]: w(I, 0.01),
      [`${p}mlp.c_proj.weight`]: w(I * E), [`${p}mlp.c_proj.bias`]: w(E, 0.01),
    });
  }
  return weights;
}

const weights = gpt2Weights();
const prompt = Int32Array.from({ length: context }, (_, i) => (i * 7919) % V);
const runs = [];
for (const d of dists) {
  const { createEngine } = await import(pathToFileURL(`${d}/index.js`).href);
  const engine = await createEngine({ threads, kernels });
  runs.push({ dist: d, engine, model: engine.gpt2({ config, weights, ...(quantize ? { quantize } : {}) }), steps: [] });
}
/** A generate call per build, prefilled; then their decode steps in alternation (load on this
 * shared machine hits every build alike), each step timed alone. */
async function alternate(n, keep) {
  const its = runs.map((r) => r.model.generate(prompt, { maxNewTokens: n + 1 })[Symbol.asyncIterator]());
  for (const it of its) await it.next(); // the prefill
  for (let step = 0; step < n; step++) {
    for (let i = 0; i < runs.length; i++) {
      const t = performance.now();
      await its[i].next();
      if (keep) runs[i].steps.push(performance.now() - t);
    }
    if (probe) {
      const t = performance.now();
      probe.stream(STREAM_BYTES);
      if (keep) probeGBps.push(STREAM_BYTES / (performance.now() - t) / 1e6);
    }
  }
  for (const it of its) await it.return?.();
}
const probeGBps = [];
await alternate(8, false); // warm-up: tiers every kernel up
await alternate(tokens, true);
const weightBytes = quantize ? gpt2DecodeWeightBytesInt8(config) : gpt2DecodeWeightBytes(config);
const median = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];
for (const r of runs) {
  const row = {
    bench: 'gpt2-decode', context, threads, quantize: quantize ?? 'none', kernels: r.engine.kernels, dist: r.dist, median: median(r.steps),
    min: Math.min(...r.steps), steps: r.steps.length, weightBytes,
  };
  if (gbps > 0) Object.assign(row, { gbps, boundMs: weightBytes / gbps / 1e6, ofBound: weightBytes / gbps / 1e6 / row.median });
  if (probe) {
    const ofBound = r.steps.map((t, i) => weightBytes / probeGBps[i] / 1e6 / t);
    Object.assign(row, { probeGBpsMedian: median(probeGBps), probeGBpsMax: Math.max(...probeGBps), ofBoundSameRound: median(ofBound) });
  }
  if (r !== runs[0]) row.stepRatioToFirst = median(r.steps.map((t, i) => runs[0].steps[i] / t));
  console.log(JSON.stringify(row));
}
for (const r of runs) {
  await r.model.dispose();
  await r.engine.dispose();
}
