// The attention of one GPT-2 small decode step alone (one thread): 12 layers of a [1024, 768]
// K and V cache (12 heads of 64, 513 keys used), one query row, each layer's cache its own
// block so the step reads its 38 MB from memory, as generate does. Two kernels on the same
// memory, in alternation in one process:
//   per-head  f32_attention's one-row path, head by head, parts of KEY_CHUNK (256) keys, as
//             the engine ran every decode before f32_attention_decode
//   all-heads f32_attention_decode, parts of DECODE_KEY_CHUNK (128) keys, every head per call
// each followed by f32_attention_combine, as the engine runs them. Prints one JSON line: the
// median ms per step of each, the bytes read per step, and the largest difference of the two
// outputs (different key parts: a few ulp, not bits).
//   node bench/decode-attention.mjs [--kernels=simd|relaxed] [--keys=513] [--rounds=200]
// Needs dist/ (npm run build).
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { median, randomF32 } from './harness.mjs';

const arg = (name, fallback) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback;
const variant = arg('kernels', 'simd');
const keys = Number(arg('keys', 513));
const rounds = Number(arg('rounds', 200));
const LAYERS = 12, HEADS = 12, D = 64, E = HEADS * D, CAPACITY = 1024;
const PER_HEAD_CHUNK = 256, DECODE_CHUNK = 128; // src/ops/attention-slices.ts: KEY_CHUNK, DECODE_KEY_CHUNK
if (!(keys >= 1 && keys <= CAPACITY)) throw new RangeError(`--keys must be 1..${CAPACITY}`);

// Layout: q, a scratch slot, stats and parts, two outputs, then per layer K [CAPACITY, E] and V.
const q = 1 << 16, scratch = q + E * 4, stats = scratch + (1 << 17), parts = stats + (1 << 16);
const outs = [parts + (1 << 20), parts + (1 << 20) + E * 4], cache = 1 << 21;
const layerBytes = 2 * CAPACITY * E * 4;
const memory = new WebAssembly.Memory({ initial: Math.ceil((cache + LAYERS * layerBytes) / 65536), maximum: 65536 });
const kernels = new WebAssembly.Instance(
  new WebAssembly.Module(readFileSync(new URL(`../dist/kernels-${variant}-unshared.wasm`, import.meta.url))),
  { env: { memory } }).exports;
new Float32Array(memory.buffer, q, E).set(randomF32(E, 1));
for (let l = 0; l < LAYERS; l++) new Float32Array(memory.buffer, cache + l * layerBytes, 2 * CAPACITY * E).set(randomF32(2 * CAPACITY * E, 2 + l));
const scale = 1 / Math.sqrt(D);

function perHead(out) {
  const P = Math.ceil(keys / PER_HEAD_CHUNK);
  for (let l = 0; l < LAYERS; l++) {
    const k = cache + l * layerBytes, v = k + CAPACITY * E * 4;
    for (let h = 0; h < HEADS; h++) {
      for (let p = 0; p < P; p++) {
        kernels.f32_attention(q + h * D * 4, E, k + h * D * 4, E, v + h * D * 4, E, parts + (h * P + p) * D * 4, D, D, D,
          0, 1, p * PER_HEAD_CHUNK, Math.min(keys, (p + 1) * PER_HEAD_CHUNK), scale, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
          scratch, P > 1 ? stats + (h * P + p) * 8 : 0, 0);
      }
      if (P > 1) kernels.f32_attention_combine(P, 0, 1, D, parts + h * P * D * 4, D, D, stats + h * P * 8, 2, out + h * D * 4, E);
      else new Float32Array(memory.buffer, out + h * D * 4, D).set(new Float32Array(memory.buffer, parts + h * D * 4, D));
    }
  }
}

function allHeads(out) {
  const P = Math.ceil(keys / DECODE_CHUNK);
  for (let l = 0; l < LAYERS; l++) {
    const k = cache + l * layerBytes, v = k + CAPACITY * E * 4;
    if (P === 1) {
      kernels.f32_attention_decode(HEADS, q, D, k, E, D, v, E, D, out, D, D, D, 0, keys, scale, 0, 0, 0, scratch, 0, 0);
      continue;
    }
    for (let p = 0; p < P; p++) {
      kernels.f32_attention_decode(HEADS, q, D, k, E, D, v, E, D, parts + p * D * 4, P * D, D, D,
        p * DECODE_CHUNK, Math.min(keys, (p + 1) * DECODE_CHUNK), scale, 0, 0, 0, scratch, stats + p * 8, P * 2);
    }
    for (let h = 0; h < HEADS; h++) kernels.f32_attention_combine(P, 0, 1, D, parts + h * P * D * 4, D, D, stats + h * P * 8, 2, out + h * D * 4, E);
  }
}

const fns = [() => perHead(outs[0]), () => allHeads(outs[1])];
const times = fns.map(() => []);
for (let r = 0; r < rounds + 20; r++) {
  fns.forEach((fn, i) => {
    const t0 = performance.now();
    fn();
    if (r >= 20) times[i].push(performance.now() - t0); // the first rounds tier the code up
  });
}
const a = new Float32Array(memory.buffer, outs[0], E), b = new Float32Array(memory.buffer, outs[1], E);
let maxDiff = 0;
for (let i = 0; i < E; i++) maxDiff = Math.max(maxDiff, Math.abs(a[i] - b[i]));
const bytes = LAYERS * 2 * keys * E * 4;
console.log(JSON.stringify({
  bench: 'decode-attention', variant, keys, layers: LAYERS, heads: HEADS, headDim: D, bytes,
  perHeadMs: median(times[0]), allHeadsMs: median(times[1]),
  perHeadGBps: bytes / median(times[0]) / 1e6, allHeadsGBps: bytes / median(times[1]) / 1e6,
  maxDiff, loadavg: loadavg()[0],
}));
