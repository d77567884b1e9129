// The GEMM kernel's rate as a share of the peak probe, both measured in this process, in
// alternation, so the ratio holds even while the machine's load changes (per round; the median
// and the spread over the rounds are printed). Plain JavaScript with
// node:fs only, so it runs in every runtime that has it:
//   node bench/kernel-rate.mjs · deno run --allow-read bench/kernel-rate.mjs · bun bench/kernel-rate.mjs
// Needs dist/ (npm run build) and bench/results/peak-*.wasm (bench/runtimes.mjs builds both).
// Prints one JSON line per kernel build the runtime validates.
import { readFileSync } from 'node:fs';
import { gemmShareOfProbe } from './gemm-tiles.mjs';
import { randomF32 } from './harness.mjs';
import { RELAXED_PROBE } from './peak-probe.mjs';

const SHAPE = { m: 512, n: 768, k: 768 }; // GEMM 512×768×768 of the performance goals
const read = (file) => readFileSync(new URL(file, import.meta.url));

const runtime = globalThis.Deno ? `deno ${Deno.version.deno} (V8 ${Deno.version.v8})`
  : globalThis.Bun ? `bun ${Bun.version} (JavaScriptCore)`
  : `node ${process.version} (V8 ${process.versions.v8})`;

const builds = (WebAssembly.validate(RELAXED_PROBE) ? ['simd', 'relaxed'] : ['simd']).map((build) => ({
  build, kernelBytes: read(`../dist/kernels-${build}-unshared.wasm`), peakBytes: read(`./results/peak-${build}.wasm`),
}));
const shares = await gemmShareOfProbe(builds, SHAPE, randomF32(SHAPE.m * SHAPE.k, 1), randomF32(SHAPE.n * SHAPE.k, 2));
for (const { output, ...row } of shares) console.log(JSON.stringify({ runtime, ...row }));
