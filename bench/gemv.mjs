// The decoding GEMV alone (f32_gemv_packed, one thread) against the read-bandwidth probe, in
// alternation in one process: the GPT-2 small tied lm_head (y[1, 50257] = x[1, 768]·wteᵀ,
// 154 MB of panels, past every cache) and, for comparison, the packed GEMM on the same panels
// (A packed as one 4-row strip, as decode ran before). Prints one JSON line: GB/s of each.
//   node bench/gemv.mjs [--kernels=simd|relaxed] [--rows=1] [--rounds=9]
import { readFileSync } from 'node:fs';
import { buildPeak } from './peak-probe.mjs';
import { alternate, randomF32 } from './harness.mjs';

const arg = (name, fallback) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback;
const variant = arg('kernels', 'simd');
const m = Number(arg('rows', 1));
const rounds = Number(arg('rounds', 9));
const n = 50257, k = 768, panels = Math.ceil(n / 8), bytes = panels * 8 * k * 4;

const memory = new WebAssembly.Memory({ initial: Math.ceil((2 * bytes + (8 << 20)) / 65536), maximum: 65536 });
const kernels = new WebAssembly.Instance(new WebAssembly.Module(readFileSync(new URL(`../dist/kernels-${variant}-unshared.wasm`, import.meta.url))),
  { env: { memory } }).exports;
const probe = new WebAssembly.Instance(new WebAssembly.Module(readFileSync(await buildPeak(false))), { env: { memory } }).exports;
// Layout: x [m, k] and its strip, y [m, n], then the panels, then the probe's own buffer.
const x = 1024, strip = x + 4 * k * 4, y = strip + 4 * k * 4, bp = Math.ceil((y + m * n * 4) / 65536) * 65536, buf = bp + bytes;
new Float32Array(memory.buffer, x, m * k).set(randomF32(m * k, 1));
const f32 = new Float32Array(memory.buffer, bp, bytes / 4);
for (let i = 0; i < f32.length; i += 1 << 20) f32.set(randomF32(Math.min(1 << 20, f32.length - i), i, 0.05), i);
new Float32Array(memory.buffer, buf, bytes / 4).fill(1);
kernels.f32_pack_rows(m, k, x, k, strip, 0, 1);

const fns = [
  () => kernels.f32_gemv_packed(m, n, k, x, k, bp, 0, y, n, 0, 0, 0),
  () => kernels.f32_gemm_packed(m, n, k, strip, bp, 0, y, n, 0, 0, 0),
  () => probe.peak_stream(buf, bytes),
];
for (const t0 = performance.now(); performance.now() - t0 < 1000;) fns.forEach((f) => f());
const times = alternate(fns, { rounds, reps: 3 });
const gbps = (ms) => bytes / ms / 1e6;
const median = (a) => [...a].sort((p, q) => p - q)[a.length >> 1];
const ratio = times[0].map((t, i) => times[2][i] / t); // per round: GEMV's share of the probe
console.log(JSON.stringify({
  bench: 'gemv-lm-head', variant, rows: m, bytes,
  gemvGBps: gbps(Math.min(...times[0])), gemmGBps: gbps(Math.min(...times[1])), probeGBps: gbps(Math.min(...times[2])),
  gemvOfProbeMedian: median(ratio),
}));
