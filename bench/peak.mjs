// Measures this machine's WebAssembly SIMD peak (mul+add FLOP/s, and relaxed madd where the
// engine accepts it) and read bandwidth, on one thread. Prints JSON; used by bench/run.mjs.
import { readFileSync } from 'node:fs';
import { fastest } from './harness.mjs';
import { RELAXED_PROBE, MADD_FLOPS_PER_ITERATION, buildPeak, instantiatePeak } from './peak-probe.mjs';

const result = {};
for (const relaxed of WebAssembly.validate(RELAXED_PROBE) ? [false, true] : [false]) {
  const peak = instantiatePeak(readFileSync(await buildPeak(relaxed)));
  const iterations = 5_000_000;
  // Many short calls, then a pause: V8 tiers a function up (Liftoff → TurboFan) in the
  // background after enough calls, and a running call never switches tiers.
  for (const t0 = performance.now(); performance.now() - t0 < 500;) peak.madd(10_000);
  await new Promise((resolve) => setTimeout(resolve, 100));
  const ms = fastest(() => peak.madd(iterations), 25);
  result[relaxed ? 'relaxedMaddGflops' : 'mulAddGflops'] = (MADD_FLOPS_PER_ITERATION * iterations) / ms / 1e6;
  if (!relaxed) {
    const bytes = 64 << 20; // 64 MiB: far past the caches, written first so pages are real
    new Float32Array(peak.memory.buffer, 65536, bytes / 4).fill(1);
    for (const t0 = performance.now(); performance.now() - t0 < 300;) peak.stream(1 << 16);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const sms = fastest(() => peak.stream(bytes), 25);
    result.readGBps = bytes / sms / 1e6;
  }
}
console.log(JSON.stringify(result));
