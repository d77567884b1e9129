// npm run bench:runtimes: the GEMM kernel's rate as a share of the peak probe
// (bench/kernel-rate.mjs) in each runtime the library claims that can read files: Node (both
// builds; Node 20 gets --experimental-wasm-relaxed-simd for the relaxed one), Deno and Bun (their
// binaries from the devDependencies, scripts/runtime-binaries.mjs). Prints a markdown table.
//   node bench/runtimes.mjs [--bounds-checks]
// --bounds-checks adds a Deno run with V8's explicit wasm bounds checks off
// (--v8-flags=--no-wasm-bounds-checks), to show what they cost there: a diagnosis only, never a
// way to run (out-of-bounds accesses then go unchecked).
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { npmBinary } from '../scripts/runtime-binaries.mjs';
import { buildPeak, RELAXED_PROBE } from './peak-probe.mjs';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const SCRIPT = 'bench/kernel-rate.mjs';
const DENO_ARGS = ['run', '--no-config', '--no-remote', '--no-npm', '--no-prompt', '--allow-read=dist,bench'];
const binary = (name) => npmBinary(name).path; // undefined when missing: that runtime is left out, and said so
const deno = binary('deno'), bun = binary('bun');

await buildPeak(false);
await buildPeak(true);
const runs = [['Node', process.execPath, [SCRIPT]]];
if (!WebAssembly.validate(RELAXED_PROBE)) {
  runs.push(['Node, --experimental-wasm-relaxed-simd', process.execPath, ['--experimental-wasm-relaxed-simd', SCRIPT]]);
}
if (deno) {
  runs.push(['Deno', deno, [...DENO_ARGS, SCRIPT]]);
  if (process.argv.includes('--bounds-checks')) {
    runs.push(['Deno, --no-wasm-bounds-checks (diagnosis)', deno, [...DENO_ARGS, '--v8-flags=--no-wasm-bounds-checks', SCRIPT]]);
  }
}
if (bun) runs.push(['Bun', bun, [SCRIPT]]);

const rows = [];
for (const [label, command, args] of runs) {
  const r = spawnSync(command, args, { cwd: ROOT, encoding: 'utf8', timeout: 300_000 });
  if (r.status !== 0) throw new Error(`bench/runtimes.mjs: ${label} failed (${r.error?.message ?? `exit ${r.status}`}):\n${r.stderr}`);
  for (const line of r.stdout.split('\n')) if (line.startsWith('{')) rows.push({ label, ...JSON.parse(line) });
}
const missing = [!deno && 'Deno', !bun && 'Bun'].filter(Boolean);
console.log('GEMM 512×768×768 kernel (engine items, A packed per call), one thread, against the peak probes in the same process');
if (missing.length) console.log(`(not installed, run \`npm install\`: ${missing.join(', ')})`);
console.log('\n| runtime | build | probe GFLOP/s | kernel GFLOP/s | kernel / best probe of the round: median (worst–best) |');
console.log('|---|---|---|---|---|');
const pct = (x) => `${(100 * x).toFixed(0)}%`;
for (const r of rows) {
  console.log(`| ${r.label}: ${r.runtime} | ${r.build} | ${r.probeGflops.toFixed(1)} | ${r.kernelGflops.toFixed(1)} | ` +
    `${pct(r.share)} (${pct(r.shareWorst)}–${pct(r.shareBest)}) |`);
}
