// Measures this machine's WebAssembly SIMD peak (mul+add FLOP/s, and relaxed madd where the
// engine accepts it) and read bandwidth, on one thread. Prints JSON; used by bench/run.mjs.
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const here = (f) => fileURLToPath(new URL(f, import.meta.url));
const asc = fileURLToPath(new URL('../node_modules/assemblyscript/bin/asc.js', import.meta.url));
mkdirSync(here('./results/'), { recursive: true });

function build(relaxed) {
  const out = here(`./results/peak-${relaxed ? 'relaxed' : 'simd'}.wasm`);
  execFileSync(process.execPath, [asc, here('./peak/peak.ts'), '--runtime', 'stub', '--importMemory', '--initialMemory', '1',
    '--maximumMemory', '65536', '-O3', '--noAssert', '--use', 'abort=', '--enable', relaxed ? 'simd,relaxed-simd' : 'simd',
    '-o', out], { stdio: 'inherit' });
  return out;
}

function best(fn, reps = 25) {
  let min = Infinity;
  for (let r = 0; r < reps; r++) {
    const t = performance.now();
    fn();
    min = Math.min(min, performance.now() - t);
  }
  return min;
}

const { readFileSync } = await import('node:fs');
const result = {};
const relaxedOk = WebAssembly.validate(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 6, 1, 96, 1, 123, 1, 123,
  3, 2, 1, 0, 10, 13, 1, 11, 0, 32, 0, 32, 0, 32, 0, 253, 133, 2, 11]));
for (const relaxed of relaxedOk ? [false, true] : [false]) {
  const memory = new WebAssembly.Memory({ initial: 1100, maximum: 65536 });
  const { exports: k } = new WebAssembly.Instance(new WebAssembly.Module(readFileSync(build(relaxed))), { env: { memory } });
  const iterations = 5_000_000;
  new Float32Array(memory.buffer, 1024, 16).fill(1e-3);
  // Many short calls, then a pause: V8 tiers a function up (Liftoff → TurboFan) in the
  // background after enough calls, and a running call never switches tiers.
  for (const t0 = performance.now(); performance.now() - t0 < 500;) k.peak_madd(10_000, 1024);
  await new Promise((resolve) => setTimeout(resolve, 100));
  const ms = best(() => k.peak_madd(iterations, 1024));
  result[relaxed ? 'relaxedMaddGflops' : 'mulAddGflops'] = (10 * 4 * 2 * iterations) / ms / 1e6;
  if (!relaxed) {
    const bytes = 64 << 20; // 64 MiB: far past the caches, written first so pages are real
    new Float32Array(memory.buffer, 65536, bytes / 4).fill(1);
    for (const t0 = performance.now(); performance.now() - t0 < 300;) k.peak_stream(65536, 1 << 16);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const sms = best(() => k.peak_stream(65536, bytes));
    result.readGBps = bytes / sms / 1e6;
  }
}
console.log(JSON.stringify(result));
