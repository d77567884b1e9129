// Read bandwidth available to WebAssembly at 1..2 threads (bench/bandwidth-probe.mjs), as JSON:
//   node bench/bandwidth.mjs [--bytes=MiB] [--rounds=N]
import { availableParallelism } from 'node:os';
import { measureBandwidth, STREAM_BYTES } from './bandwidth-probe.mjs';

const arg = (name, fallback) => Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback);
const bytes = arg('bytes', STREAM_BYTES / 2 ** 20) * 2 ** 20;
const rounds = arg('rounds', 10);
const result = { bytesPerThread: bytes };
for (let t = 1; t <= Math.min(2, availableParallelism()); t++) result[`readGBps${t}`] = await measureBandwidth(t, { bytes, rounds });
console.log(JSON.stringify(result));
