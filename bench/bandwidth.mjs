// Single-thread streaming-read bandwidth over a buffer as large as a model's weights, for the
// weight-streaming bound of the decode rows (bench/models.mjs weightStreamingBoundMs): the peak
// probe's peak_stream (four independent f32x4 sums, bench/peak/peak.ts) over `--mib` MiB
// (default 512: GPT-2 small's fp32 weights are 475 MiB), far past any cache. bench/peak.mjs's
// 64 MiB read can still be partly served by a large L3. Prints JSON { readGBps, mib }.
//   node bench/bandwidth.mjs [--mib=512]
// This is the one place the bound's bandwidth comes from: swap in another probe here.
import { readFileSync } from 'node:fs';
import { fastest } from './harness.mjs';
import { buildPeak, instantiatePeak } from './peak-probe.mjs';

/** Read GB/s (1e9 bytes/s) of one thread streaming `mib` MiB, the fastest of `reps` passes. */
export async function measureReadBandwidth({ mib = 512, reps = 7 } = {}) {
  if (!Number.isInteger(mib) || mib < 1 || mib > 3072) throw new RangeError(`bandwidth: mib must be an integer in 1..3072, got ${mib}`);
  const probe = instantiatePeak(readFileSync(await buildPeak(false)));
  const bytes = mib << 20, base = 65536;
  const pages = Math.ceil((base + bytes) / 65536) - probe.memory.buffer.byteLength / 65536;
  if (pages > 0) probe.memory.grow(pages);
  new Float32Array(probe.memory.buffer, base, bytes / 4).fill(1); // real pages, not the zero page
  for (const t0 = performance.now(); performance.now() - t0 < 300;) probe.stream(1 << 16); // tier up
  await new Promise((resolve) => setTimeout(resolve, 100));
  const ms = fastest(() => probe.stream(bytes), reps);
  return { readGBps: bytes / ms / 1e6, mib };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const mib = Number(process.argv.find((a) => a.startsWith('--mib='))?.slice(6) ?? 512);
  console.log(JSON.stringify(await measureReadBandwidth({ mib })));
}
