// One benchmark shape, one implementation, in this process (JIT state, caches and ORT's fixed
// thread count do not leak between measurements):
//   node bench/shape.mjs <shape> <plain|ours|ort|tfjs> [--threads N] [--quick]
// Prints one JSON line per configuration; outputs are compared with the plain-JS reference.
import { existsSync, readFileSync } from 'node:fs';
import { createEngine } from '../dist/index.js';
import { measure, maxAbsDiff, randomF32 } from './harness.mjs';
import { plainAttention, plainEncoderLayer, plainMultiHeadAttention } from './peers/plain-js.mjs';
import { SHAPES, KERNEL_ONLY, KERNEL_VS_PROBE, LAYER_GEMMS_VS_PROBE, encoderLayerGemms, flops } from './shapes.mjs';
import { createGemm, gemmShareOfProbe } from './gemm-tiles.mjs';
import { buildPeak } from './peak-probe.mjs';
import { MODEL_KINDS, runModelShape } from './model-rows.mjs';
import { encoderLayerWeights } from './models.mjs';
import { TRANSFORMERS_JS_Q8 } from './peers/onnx-quantize.mjs';

const [name, impl] = process.argv.slice(2);
const shape = SHAPES[name];
if (!shape) throw new RangeError(`bench/shape.mjs: unknown shape ${JSON.stringify(name)}; one of ${Object.keys(SHAPES).join(', ')}`);
const flag = (f) => process.argv.indexOf(f);
const quick = flag('--quick') >= 0;
const ortThreads = flag('--threads') >= 0 ? Number(process.argv[flag('--threads') + 1]) : 1;
const timing = quick ? { warmupMs: 300, runs: 3 } : { warmupMs: 1500, runs: 10 };
// 8-bit weights (the -q8 shapes): ours quantize: 'int8', ORT the q8 graph transformers.js ships.
const q8 = shape.q8 ? TRANSFORMERS_JS_Q8[shape.q8] : undefined;
const emit = (row) => console.log(JSON.stringify({ shape: name, title: shape.title, flops: flops(shape), ...row }));

if (MODEL_KINDS.has(shape.kind)) {
  // Whole models: ours and ORT check each other (no plain-JS reference), see bench/model-rows.mjs.
  if (impl !== 'ours' && impl !== 'ort') throw new RangeError(`bench/shape.mjs: ${name} runs with ours or ort only, got ${JSON.stringify(impl)}`);
  await runModelShape(name, shape, impl, { threads: ortThreads, quick, timing: quick ? timing : { warmupMs: 1500, runs: 5 }, measure, emit });
  process.exit(0);
}

// Inputs (deterministic) and the plain-JS reference output.
let inputs, runPlain;
if (shape.kind === 'gemm') {
  const { m, n, k } = shape;
  inputs = { a: randomF32(m * k, 1), b: randomF32(n * k, 2) };
  runPlain = () => {
    const c = new Float32Array(m * n);
    for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) {
      let acc = 0;
      for (let p = 0; p < k; p++) acc += inputs.a[i * k + p] * inputs.b[j * k + p];
      c[i * n + j] = acc;
    }
    return c;
  };
} else if (shape.kind === 'mha') {
  const { batch: B, seq: L, embed: E, heads: H } = shape, s = 1 / Math.sqrt(E);
  const weights = {
    inProjWeight: randomF32(3 * E * E, 1, s), inProjBias: randomF32(3 * E, 2, 0.1),
    outProjWeight: randomF32(E * E, 3, s), outProjBias: randomF32(E, 4, 0.1),
  };
  inputs = { weights, x: randomF32(B * L * E, 5) };
  runPlain = () => plainMultiHeadAttention(inputs.x, inputs.x, inputs.x, B, L, L, E, H, weights);
} else if (shape.kind === 'encoder-layer') {
  const { batch: B, seq: L, dModel: d } = shape;
  inputs = { weights: encoderLayerWeights(shape), x: randomF32(B * L * d, 5) };
  runPlain = () => plainEncoderLayer(inputs.x, B, L, shape, inputs.weights);
} else {
  const n = (seq) => shape.batch * shape.heads * seq * shape.headDim;
  inputs = { q: randomF32(n(shape.seqQ), 1), k: randomF32(n(shape.seqK), 2), v: randomF32(n(shape.seqK), 3) };
  runPlain = () => plainAttention(inputs.q, inputs.k, inputs.v, shape);
}
const reference = runPlain();

if (impl === 'plain') {
  const t = await measure(runPlain, { warmupMs: quick ? 0 : 1500, runs: 3, maxMs: 20000 });
  emit({ impl: 'plain JS', threads: 1, ...t, maxDiff: 0 });
} else if (impl === 'ours') {
  const probe = await createEngine();
  const variants = probe.features.relaxedSimd ? ['simd', 'relaxed'] : ['simd'];
  const cores = (await import('node:os')).availableParallelism();
  await probe.dispose();
  /** The bytes of a kernel build's unshared module (the GEMM rows instantiate it themselves). */
  const kernelBytes = (build) => readFileSync(new URL(`../dist/kernels-${build}-unshared.wasm`, import.meta.url));
  for (const kernels of variants) {
    if (shape.kind === 'gemm') {
      // The kernels themselves, one thread, tiled as the engine tiles them (bench/gemm-tiles.mjs).
      // The unpacked A·Bᵀ kernel (f32_gemm_nt) is timed as well, for what packing buys.
      const gemm = createGemm(kernelBytes(kernels), shape, inputs.a, inputs.b);
      // With the copies in and out, as ORT and tfjs are timed.
      const packed = async () => { gemm.copyA(); gemm.packed(); return gemm.output().slice(); };
      const unpacked = async () => { gemm.copyA(); gemm.unpacked(); return gemm.output().slice(); };
      // The GEMM alone, for % of peak: A already in memory, packed and multiplied, C left there.
      gemm.copyA();
      const kernel = async () => gemm.packed();
      for (const [label, run] of [['', packed], [' (unpacked f32_gemm_nt)', unpacked], [KERNEL_ONLY, kernel]]) {
        await run();
        const t = await measure(run, timing);
        const out = label === KERNEL_ONLY ? gemm.output() : await run();
        emit({ impl: `wasm-attention ${kernels}${label}`, threads: 1, ...t, maxDiff: maxAbsDiff(out, reference) });
      }
      continue;
    }
    for (let threads = 1; threads <= cores; threads++) {
      const engine = await createEngine({ threads, kernels });
      let run;
      if (shape.kind === 'encoder-layer') {
        const { batch, seq, dModel, nhead, ff: dimFeedforward, activation, eps: layerNormEps } = shape;
        const layer = engine.transformerEncoderLayer({ dModel, nhead, dimFeedforward, activation, layerNormEps, normFirst: false, weights: inputs.weights, ...(q8 ? { quantize: 'int8' } : {}) });
        run = () => layer.forward(inputs.x, { batch, seq });
      } else if (shape.kind === 'mha') {
        const { batch: B, seq: L, embed: E, heads: H } = shape;
        const layer = engine.multiHeadAttention({ embedDim: E, numHeads: H, weights: inputs.weights });
        const opts = { batch: B, seqQ: L, seqK: L, needWeights: false };
        run = async () => (await layer.forward(inputs.x, inputs.x, inputs.x, opts)).output;
      } else {
        const { kind, title, residentKV, ...dims } = shape; // the engine rejects keys that are not options
        const opts = { ...dims, validLens: shape.validLens ? Int32Array.from(shape.validLens) : undefined };
        run = async () => (await engine.attention(inputs.q, inputs.k, inputs.v, opts)).output;
        if (shape.residentKV) {
          // The KV cache kept in the engine (createTensor): copied in once, read in place.
          const k = engine.createTensor(inputs.k), v = engine.createTensor(inputs.v);
          const cached = async () => (await engine.attention(inputs.q, k, v, opts)).output;
          const out = await cached();
          const t = await measure(cached, timing);
          emit({ impl: `wasm-attention ${kernels} (K/V resident)`, threads, ...t, maxDiff: maxAbsDiff(out, reference) });
        }
      }
      const out = await run();
      const t = await measure(run, timing);
      emit({ impl: `wasm-attention ${kernels}${q8 ? ' int8' : ''}`, threads, ...t, maxDiff: maxAbsDiff(out, reference) });
      await engine.dispose();
    }
  }
  if (shape.kind === 'encoder-layer' && !q8) {
    // The layer's four GEMMs (encoderLayerGemms), each timed alone, kernel only, in alternation
    // with the peak probe as the GEMM shapes are; one row per build with their sum and the
    // FLOP-weighted share: Σ share·time / Σ time = (GEMM FLOPs at the probe's rate) / (GEMM time).
    const builds = [];
    for (const build of variants) {
      const file = new URL(`./results/peak-${build}.wasm`, import.meta.url);
      builds.push({ build, kernelBytes: kernelBytes(build), peakBytes: readFileSync(existsSync(file) ? file : await buildPeak(build === 'relaxed')) });
    }
    const perBuild = Object.fromEntries(variants.map((b) => [b, []]));
    for (const [i, g] of encoderLayerGemms(shape).entries()) {
      const a = randomF32(g.m * g.k, 20 + i), b = randomF32(g.n * g.k, 30 + i, 1 / Math.sqrt(g.k)); // B at nn.Linear's scale
      // Spot check: the first and the last row of C against plain dot products.
      const rowDiff = (c) => {
        let worst = 0;
        for (const r of [0, g.m - 1]) for (let j = 0; j < g.n; j++) {
          let acc = 0;
          for (let p = 0; p < g.k; p++) acc += a[r * g.k + p] * b[j * g.k + p];
          worst = Math.max(worst, Math.abs(acc - c[r * g.n + j]));
        }
        return worst;
      };
      for (const r of await gemmShareOfProbe(builds, g, a, b, { rounds: quick ? 3 : 9 })) {
        perBuild[r.build].push({ ...g, ms: r.kernelMedianMs, minMs: r.kernelMinMs, share: r.share, shareWorst: r.shareWorst, shareBest: r.shareBest, maxDiff: rowDiff(r.output) });
      }
    }
    for (const [build, gemms] of Object.entries(perBuild)) {
      const sum = (f) => gemms.reduce((acc, g) => acc + f(g), 0);
      const ms = sum((g) => g.ms);
      emit({ impl: `wasm-attention ${build}${LAYER_GEMMS_VS_PROBE}`, threads: 1, flops: sum((g) => 2 * g.m * g.n * g.k),
        median: ms, min: sum((g) => g.minMs), runs: quick ? 3 : 9, share: sum((g) => g.share * g.ms) / ms,
        shareWorst: sum((g) => g.shareWorst * g.ms) / ms, shareBest: sum((g) => g.shareBest * g.ms) / ms,
        gemms, maxDiff: Math.max(...gemms.map((g) => g.maxDiff)) });
    }
  }
  if (shape.kind === 'gemm') {
    // The kernel and the peak probe timed in alternation, every build in the same rounds: the share
    // holds while the machine's load changes, which the rows above, timed minutes away from the
    // run's probe, cannot promise on a shared VM.
    // run.mjs builds the probes before any shape; a shape run on its own builds them if need be
    const peakFile = async (build) => {
      const file = new URL(`./results/peak-${build}.wasm`, import.meta.url);
      return existsSync(file) ? file : buildPeak(build === 'relaxed');
    };
    const builds = [];
    for (const build of variants) {
      builds.push({ build, kernelBytes: kernelBytes(build), peakBytes: readFileSync(await peakFile(build)) });
    }
    for (const r of await gemmShareOfProbe(builds, shape, inputs.a, inputs.b, { rounds: quick ? 3 : 15 })) {
      emit({ impl: `wasm-attention ${r.build}${KERNEL_VS_PROBE}`, threads: 1, median: r.kernelMedianMs, min: r.kernelMinMs,
        runs: r.rounds, share: r.share, shareWorst: r.shareWorst, shareBest: r.shareBest, maxDiff: maxAbsDiff(r.output, reference) });
    }
  }
} else if (impl === 'ort') {
  const { createOrtPeer } = await import('./peers/onnxruntime.mjs');
  const peer = await createOrtPeer({ threads: ortThreads });
  let run;
  if (shape.kind === 'gemm') {
    const model = await peer.gemm({ ...shape, weight: inputs.b });
    run = () => model.run(inputs.a);
  } else if (shape.kind === 'encoder-layer' && q8) {
    const model = await peer.bertLayer({ ...shape, weights: inputs.weights, q8 });
    run = () => model.run(inputs.x);
  } else if (shape.kind === 'encoder-layer') {
    const model = await peer.encoderLayer({ ...shape, weights: inputs.weights });
    run = () => model.run(inputs.x);
  } else if (shape.kind === 'mha') {
    const model = await peer.mha({ ...shape, weights: inputs.weights });
    run = () => model.run(inputs.x);
  } else {
    const model = await peer.attentionCore(shape); // validLens (padded shapes) become a constant in the graph
    run = () => model.run(inputs.q, inputs.k, inputs.v);
  }
  const out = await run();
  const t = await measure(run, timing);
  const label = q8 ? ` q8 (${q8.perChannel ? 'per-channel' : 'per-tensor'}${q8.reduceRange ? ', reduce_range' : ''}; unfused BertLayer)` : '';
  emit({ impl: `onnxruntime-web ${peer.version}${label}`, threads: ortThreads, ...t, maxDiff: maxAbsDiff(out, reference) });
  await peer.dispose();
} else if (impl === 'tfjs' && shape.kind === 'encoder-layer') {
  throw new RangeError('bench/shape.mjs: the tfjs peer has no encoder layer (bench/run.mjs does not ask for one)');
} else if (impl === 'tfjs') { // tfjs-backend-wasm: one thread (its threaded build cannot start in Node)
  const { createTfjsPeer } = await import('./peers/tfjs.mjs');
  const peer = await createTfjsPeer();
  let run;
  if (shape.kind === 'gemm') {
    const model = peer.gemm({ ...shape, weight: inputs.b });
    run = () => model.run(inputs.a);
  } else if (shape.kind === 'mha') {
    const model = peer.mha({ ...shape, weights: inputs.weights });
    run = () => model.run(inputs.x);
  } else {
    const model = peer.attentionCore(shape); // validLens / causal: an additive mask tensor made once
    run = () => model.run(inputs.q, inputs.k, inputs.v);
  }
  const out = await run();
  const t = await measure(run, timing);
  emit({ impl: `tfjs-backend-wasm ${peer.version}`, threads: 1, ...t, maxDiff: maxAbsDiff(out, reference) });
  await peer.dispose();
} else {
  throw new RangeError(`bench/shape.mjs: implementation must be plain, ours, ort or tfjs, got ${JSON.stringify(impl)}`);
}
