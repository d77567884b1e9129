// The int8 decoding GEMV alone (i8_gemv, one thread) against the f32 GEMV (f32_gemv_packed),
// the int8 GEMM on one strip (what int8 decoding ran before i8_gemv) and the read-bandwidth
// probe (bench/peak/peak.ts's peak_stream, as bench/bandwidth-probe.mjs runs it), in
// alternation in one process, on GPT-2 small's two largest decode matmuls:
//   lm_head  y[m, 50257] = x[m, 768]·wteᵀ   (int8 panels 39 MB, f32 154 MB)
//   c_fc     y[m, 3072]  = x[m, 768]·Wᵀ     (int8 2.4 MB, f32 9.4 MB: one of 12 layers)
// Each kernel reads its own copies of the panels in turn, at least ROTATE_BYTES of them, so
// every call streams its weights from memory as a decode step does (its 125 MB of int8 weights
// are past every cache), never from L3. The activation is quantized once, outside the timing
// (one row of k: negligible next to the weights). GB/s counts each kernel's own panel bytes;
// the int8 kernels read a quarter of the f32 bytes for the same weights, so their time against
// the f32 GEMV's is the decode speedup, and their GB/s against the probe's is their share of
// the weight-streaming bound. Prints one JSON line per shape.
//   node bench/i8-gemv.mjs [--kernels=simd|relaxed] [--rows=1] [--rounds=9] [--shape=lm_head|c_fc]
// With --kernels=relaxed where the relaxed integer dot is exact (engine.int8Dot; x64 AVX-VNNI in
// V8 15: `deno run -A bench/i8-gemv.mjs --kernels=relaxed`), the int8 GEMV is also timed in that
// mode (quad strips, the same panels), in the same alternation, and checked bit for bit.
// Needs dist/ (npm run build).
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { buildPeak } from './peak-probe.mjs';
import { alternate, median, randomF32 } from './harness.mjs';

const arg = (name, fallback) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback;
const variant = arg('kernels', 'simd');
const m = Number(arg('rows', 1));
const rounds = Number(arg('rounds', 9));
const SHAPES = { lm_head: { n: 50257, k: 768 }, c_fc: { n: 3072, k: 768 } };
const shapes = arg('shape', '') ? [arg('shape', '')] : Object.keys(SHAPES);
/** Bytes each kernel's panel copies add up to (past the last-level cache). */
const ROTATE_BYTES = 128 << 20;

const ceilDiv = (a, b) => Math.ceil(a / b);
const align = (x, to = 65536) => ceilDiv(x, to) * to;
// Sizes of src/parallel/phases.ts (i8PanelBytes, i8StripBytes).
const i8PanelBytes = (k) => 64 + 8 * ceilDiv(k, 4) * 4;
const i8StripBytes = (k) => 32 + 8 * ceilDiv(k, 4) * 4;

const kernelsWasm = new WebAssembly.Module(readFileSync(new URL(`../dist/kernels-${variant}-unshared.wasm`, import.meta.url)));
const probeWasm = new WebAssembly.Module(readFileSync(await buildPeak(false)));

for (const name of shapes) {
  const { n, k } = SHAPES[name];
  const panels = ceilDiv(n, 8);
  const f32Bytes = panels * 8 * k * 4, i8Bytes = panels * i8PanelBytes(k);
  const f32Copies = ceilDiv(ROTATE_BYTES, f32Bytes), i8Copies = ceilDiv(ROTATE_BYTES, i8Bytes);
  const probeBytes = align(Math.max(ROTATE_BYTES, f32Bytes));
  // Layout: x [m, k], its int8 strips, y [m, n] (one per kernel), W [n, k] f32 (staging), then
  // the f32 panel copies, the int8 panel copies and the probe's buffer, each 64 KiB aligned.
  const x = 1024, strips = align(x + m * k * 4, 16), yF32 = align(strips + ceilDiv(m, 4) * i8StripBytes(k), 16);
  const yI8 = align(yF32 + m * n * 4, 16), yGemm = align(yI8 + m * n * 4, 16);
  const stripsDot = align(yGemm + m * n * 4, 16), yDot = align(stripsDot + ceilDiv(m, 4) * i8StripBytes(k), 16);
  const w = align(yDot + m * n * 4);
  const f32At = align(w + n * k * 4), i8At = f32At + f32Copies * align(f32Bytes), buf = i8At + i8Copies * align(i8Bytes);
  const memory = new WebAssembly.Memory({ initial: ceilDiv(buf + probeBytes, 65536), maximum: 65536 });
  const kernels = new WebAssembly.Instance(kernelsWasm, { env: { memory } }).exports;
  const probe = new WebAssembly.Instance(probeWasm, { env: { memory } }).exports;

  new Float32Array(memory.buffer, x, m * k).set(randomF32(m * k, 1));
  const weight = new Float32Array(memory.buffer, w, n * k);
  for (let i = 0; i < weight.length; i += 1 << 20) weight.set(randomF32(Math.min(1 << 20, weight.length - i), i + 2, 0.05), i);
  kernels.f32_pack_panels_nt(n, k, w, k, f32At, 0, panels);
  kernels.i8_pack_panels_nt(n, k, w, k, i8At, 0, panels);
  const bytes = new Uint8Array(memory.buffer);
  for (let c = 1; c < f32Copies; c++) bytes.copyWithin(f32At + c * align(f32Bytes), f32At, f32At + f32Bytes);
  for (let c = 1; c < i8Copies; c++) bytes.copyWithin(i8At + c * align(i8Bytes), i8At, i8At + i8Bytes);
  new Float32Array(memory.buffer, buf, probeBytes / 4).fill(1);
  kernels.i8_quantize_rows(m, k, x, k, strips, 0, ceilDiv(m, 4));
  const dotMode = kernels.i8_relaxed_dot_exact(0); // 1 or 2 where exact (unsigned or signed reading), else 0
  const relaxedDot = dotMode === 1 || dotMode === 2;
  if (relaxedDot) { // the quad strips of the same rows; the mode is the instance's, so each call sets it
    kernels.i8_set_relaxed_dot(dotMode);
    kernels.i8_quantize_rows(m, k, x, k, stripsDot, 0, ceilDiv(m, 4));
    kernels.i8_set_relaxed_dot(0);
  }

  let nextF32 = 0, nextI8 = 0, nextGemm = 0;
  const fns = [
    () => kernels.i8_gemv(m, n, k, strips, i8At + (nextI8++ % i8Copies) * align(i8Bytes), 0, yI8, n, 0, 0, 0),
    () => kernels.f32_gemv_packed(m, n, k, x, k, f32At + (nextF32++ % f32Copies) * align(f32Bytes), 0, yF32, n, 0, 0, 0),
    () => kernels.i8_gemm_packed(m, n, k, strips, i8At + (nextGemm++ % i8Copies) * align(i8Bytes), 0, yGemm, n, 0, 0, 0, 0),
    () => probe.peak_stream(buf, probeBytes),
  ];
  let nextDot = 0;
  if (relaxedDot) {
    fns.push(() => {
      kernels.i8_set_relaxed_dot(dotMode);
      kernels.i8_gemv(m, n, k, stripsDot, i8At + (nextDot++ % i8Copies) * align(i8Bytes), 0, yDot, n, 0, 0, 0);
      kernels.i8_set_relaxed_dot(0);
    });
  }
  const sameBits = () => {
    if (!relaxedDot) return;
    fns[0](); fns[4]();
    const at = new Uint32Array(memory.buffer, yI8, m * n).findIndex((v, i) => v !== new Uint32Array(memory.buffer, yDot, m * n)[i]);
    if (at >= 0) throw new Error(`${name}: the relaxed-dot GEMV differs from the i16 one at ${at}`);
  };
  sameBits();
  // The GEMV and the GEMM give the same bits (test/kernels/i8-gemv.test.ts); checked here too.
  fns[0](); fns[2]();
  const same = new Uint32Array(memory.buffer, yI8, m * n).every((v, i) => v === new Uint32Array(memory.buffer, yGemm, m * n)[i]);
  if (!same) throw new Error(`${name}: i8_gemv and i8_gemm_packed disagree`);
  for (const t0 = performance.now(); performance.now() - t0 < 1000;) fns.forEach((f) => f()); // tier up
  const load = loadavg()[0];
  const [i8, f32, gemm, stream, dot] = alternate(fns, { rounds, reps: 3 });
  sameBits(); // again, in the code the timing ran
  const gbps = (b, ms) => +(b / ms / 1e6).toFixed(1);
  const perRound = (a, b) => +median(a.map((t, i) => b[i] / t)).toFixed(2);
  console.log(JSON.stringify({
    bench: `i8-gemv-${name}`, variant, rows: m, n, k, rounds, load1: +load.toFixed(2), i8Bytes, f32Bytes,
    i8GemvGBps: gbps(i8Bytes, median(i8)), i8GemmGBps: gbps(i8Bytes, median(gemm)), f32GemvGBps: gbps(f32Bytes, median(f32)),
    probeGBps: gbps(probeBytes, median(stream)),
    i8GemvOfProbe: +median(i8.map((t, i) => (i8Bytes / t) / (probeBytes / stream[i]))).toFixed(2),
    i8GemvSpeedupOverF32Gemv: perRound(i8, f32), i8GemvSpeedupOverI8Gemm: perRound(i8, gemm),
    ...(dot ? {
      relaxedDotGemvGBps: gbps(i8Bytes, median(dot)),
      relaxedDotGemvOfProbe: +median(dot.map((t, i) => (i8Bytes / t) / (probeBytes / stream[i]))).toFixed(2),
      relaxedDotSpeedupOverI16Gemv: perRound(dot, i8), relaxedDotSameBits: true,
    } : {}),
  }));
}
