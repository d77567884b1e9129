// Read bandwidth available to WebAssembly (bench/bandwidth-probe.mjs: each thread streams its own
// buffer through bench/peak/peak.ts's peak_stream, four independent f32x4 sums), as JSON:
//   node bench/bandwidth.mjs [--mib=512] [--rounds=N]
// readGBps is one thread over `mib` MiB (default 512: GPT-2 small's fp32 weights are 475 MiB, far
// past any cache; bench/peak.mjs's 64 MiB read can still be partly served by a large L3): the
// denominator of the decode rows' weight-streaming bound (bench/run.mjs, bench/decode.mjs).
// readGBps1 / readGBps2 are 1 and 2 concurrent streams over the same size per thread.
// This is the one place the bound's bandwidth comes from: swap in another probe here.
import { availableParallelism } from 'node:os';
import { measureBandwidth } from './bandwidth-probe.mjs';

/** Read GB/s (1e9 bytes/s) of one thread streaming `mib` MiB, the best of `rounds` passes. */
export async function measureReadBandwidth({ mib = 512, rounds = 7 } = {}) {
  if (!Number.isInteger(mib) || mib < 1 || mib > 3072) throw new RangeError(`bandwidth: mib must be an integer in 1..3072, got ${mib}`);
  return { readGBps: await measureBandwidth(1, { bytes: mib << 20, rounds }), mib };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const arg = (name, fallback) => Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback);
  const mib = arg('mib', 512), rounds = arg('rounds', 7);
  const result = await measureReadBandwidth({ mib, rounds });
  result.readGBps1 = result.readGBps;
  if (availableParallelism() >= 2) result.readGBps2 = await measureBandwidth(2, { bytes: mib << 20, rounds });
  console.log(JSON.stringify(result));
}
