// The int8 GEMM family against the f32 packed GEMM on one nn.Linear forward, 1 thread, both
// kernel builds: pack (f32) or quantize (int8) the input, then the GEMM, cut into the same
// row × column items as the engine's phases. The two run in alternation (bench/harness.mjs
// alternate: per round the fastest of `reps` calls), so their ratio holds while the machine's
// load changes; medians over the rounds are printed with their ratio, round by round.
//   node bench/i8-gemm.mjs [m k n] [--rounds=N]        (default: BERT-base FFN up, 512 768 3072)
// Needs dist/ (npm run build). Prints one JSON line per kernel build the runtime validates
// (on Node 20, run it with --experimental-wasm-relaxed-simd to get the relaxed build too).
// Where the relaxed build finds the relaxed integer dot exact (engine.int8Dot; x64 AVX-VNNI in
// V8 15: `deno run -A bench/i8-gemm.mjs`), its int8 linear is also timed in that mode, in the
// same alternation, and its output checked to be the i16 tile's bit for bit.
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { alternate, median, randomF32 } from './harness.mjs';
import { RELAXED_PROBE } from './peak-probe.mjs';

const args = process.argv.slice(2);
const dims = args.filter((a) => !a.startsWith('--')).map(Number);
const [m, k, n] = dims.length === 3 ? dims : [512, 768, 3072];
const rounds = Number(args.find((a) => a.startsWith('--rounds='))?.slice(9) ?? 15);

const ceilDiv = (a, b) => Math.ceil(a / b);
const align16 = (x) => ceilDiv(x, 16) * 16;
// Item cut of src/parallel/phases.ts: 128 columns × gemmRowBlock rows (k <= 768: 128; int8 A
// i16 codes are half the f32 bytes, so the int8 rule is the f32 one at k / 2).
const rowBlock = (kk) => Math.max(16, Math.min(128, Math.floor(384 * 1024 / (kk * 4 * 16)) * 16));
const kp = ceilDiv(k, 4) * 4;
const stripBytes = 32 + 8 * kp, panelBytes = 64 + 8 * kp;

function setup(build) {
  const module = new WebAssembly.Module(readFileSync(new URL(`../dist/kernels-${build}-unshared.wasm`, import.meta.url)));
  const memory = new WebAssembly.Memory({ initial: 1, maximum: 32768 });
  const w = new WebAssembly.Instance(module, { env: { memory } }).exports;
  let top = 64;
  const place = (bytes) => { const at = top; top += align16(bytes); return at; };
  const x = place(m * k * 4), weight = place(n * k * 4), bias = place(n * 4), y = place(m * n * 4), y8 = place(m * n * 4);
  const y8d = place(m * n * 4);
  const strips = place(ceilDiv(m, 4) * 4 * k * 4), panels = place(ceilDiv(n, 8) * 8 * k * 4);
  const strips8 = place(ceilDiv(m, 4) * stripBytes), panels8 = place(ceilDiv(n, 8) * panelBytes);
  const scratch = place(16 * kp); // one thread's slot: each panel's codes widened there once, as the engine does
  memory.grow(ceilDiv(top, 65536));
  const f32 = new Float32Array(memory.buffer);
  f32.set(randomF32(m * k, 1), x / 4);
  f32.set(randomF32(n * k, 2, 0.05), weight / 4);
  f32.set(randomF32(n, 3), bias / 4);
  w.f32_pack_panels_nt(n, k, weight, k, panels, 0, ceilDiv(n, 8));
  w.i8_pack_panels_nt(n, k, weight, k, panels8, 0, ceilDiv(n, 8));
  const items = (rb, gemm) => {
    for (let r0 = 0; r0 < m; r0 += rb) for (let c0 = 0; c0 < n; c0 += 128) gemm(r0, c0, Math.min(rb, m - r0), Math.min(128, n - c0));
  };
  const rbF = rowBlock(k), rb8 = rowBlock(Math.ceil(k / 2));
  const f32Linear = () => {
    w.f32_pack_rows(m, k, x, k, strips, 0, ceilDiv(m, 4));
    items(rbF, (r0, c0, rows, cols) => w.f32_gemm_packed(rows, cols, k, strips + r0 * k * 4, panels + c0 * k * 4,
      bias + c0 * 4, y + (r0 * n + c0) * 4, n, 0, 0, 0));
  };
  const dotMode = w.i8_relaxed_dot_exact(0); // 1 or 2 where exact (unsigned or signed reading), else 0
  const relaxedDot = dotMode === 1 || dotMode === 2;
  const i8LinearIn = (mode, out) => () => {
    w.i8_set_relaxed_dot(mode); // per instance: the strips' layout and the tile follow it
    w.i8_quantize_rows(m, k, x, k, strips8, 0, ceilDiv(m, 4));
    items(rb8, (r0, c0, rows, cols) => w.i8_gemm_packed(rows, cols, k, strips8 + (r0 / 4) * stripBytes,
      panels8 + (c0 / 8) * panelBytes, bias + c0 * 4, out + (r0 * n + c0) * 4, n, 0, 0, 0, scratch));
  };
  const i8Linear = i8LinearIn(0, y8);
  const i8DotLinear = relaxedDot ? i8LinearIn(dotMode, y8d) : undefined;
  const quantizeOnly = () => {
    w.i8_set_relaxed_dot(0);
    w.i8_quantize_rows(m, k, x, k, strips8, 0, ceilDiv(m, 4));
  };
  // Relative RMS error of the int8 output against the f32 one.
  f32Linear(); i8Linear();
  const a = new Float32Array(memory.buffer, y, m * n), b = new Float32Array(memory.buffer, y8, m * n);
  let num = 0, den = 0;
  for (let i = 0; i < a.length; i++) { num += (a[i] - b[i]) ** 2; den += a[i] ** 2; }
  // The relaxed dot's output against the i16 tile's (both just run), bit for bit.
  const sameBits = () => {
    if (!i8DotLinear) return;
    i8Linear();
    i8DotLinear();
    const u = new Uint32Array(memory.buffer, y8, m * n), v = new Uint32Array(memory.buffer, y8d, m * n);
    const at = u.findIndex((bits, i) => bits !== v[i]);
    if (at >= 0) throw new Error(`bench/i8-gemm.mjs: the relaxed dot's output differs from the i16 tile's at ${at}`);
  };
  sameBits();
  return { f32Linear, i8Linear, i8DotLinear, quantizeOnly, sameBits, relRms: Math.sqrt(num / den) };
}

const builds = WebAssembly.validate(RELAXED_PROBE) ? ['simd', 'relaxed'] : ['simd'];
for (const build of builds) {
  const s = setup(build);
  const timed = [s.f32Linear, s.i8Linear, s.quantizeOnly, ...(s.i8DotLinear ? [s.i8DotLinear] : [])];
  for (let i = 0; i < 3; i++) for (const f of timed) f(); // tier up
  const load = loadavg()[0];
  const [f32, i8, q, dot] = alternate(timed, { rounds, reps: 2 });
  s.sameBits(); // again, in the code the timing ran (optimised by now)
  const flop = 2 * m * n * k;
  const ratio = median(f32.map((t, i) => t / i8[i]));
  console.log(JSON.stringify({
    build, m, k, n, rounds, load1: +load.toFixed(2),
    f32Ms: +median(f32).toFixed(2), i8Ms: +median(i8).toFixed(2), quantizeMs: +median(q).toFixed(2),
    f32Gflops: +(flop / median(f32) / 1e6).toFixed(1), i8Gops: +(flop / median(i8) / 1e6).toFixed(1),
    speedup: +ratio.toFixed(2), relRmsVsF32: +s.relRms.toExponential(2),
    ...(dot ? {
      relaxedDotMs: +median(dot).toFixed(2), relaxedDotGops: +(flop / median(dot) / 1e6).toFixed(1),
      relaxedDotSpeedupOverI16: +median(i8.map((t, i) => t / dot[i])).toFixed(2), relaxedDotSameBits: true,
    } : {}),
  }));
}
