// Memory bandwidth available to WebAssembly: `threads` workers, each streaming its own buffer
// (256 MiB by default, far past every cache) through bench/peak/peak.ts's peak_stream (four
// independent f32x4 sums, 64 bytes an iteration), all released at once. The denominator of the
// "% of the weight-streaming bound" of a decode step (bench/decode.mjs, docs/PERFORMANCE.md).
// Node only (worker_threads; the probe is built with asc by bench/peak-probe.mjs).
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { readFileSync } from 'node:fs';
import { buildPeak, instantiateStream } from './peak-probe.mjs';

/** Default bytes streamed per thread per pass: 256 MiB. */
export const STREAM_BYTES = 256 << 20;

/**
 * Read bandwidth of `threads` concurrent streams, GB/s (1e9 bytes/s), the best of `rounds`
 * passes (a ceiling: what the machine does when it is quiet). Each pass every worker reads its
 * whole buffer once; the pass takes as long as its slowest worker.
 */
export async function measureBandwidth(threads, { bytes = STREAM_BYTES, rounds = 10 } = {}) {
  const wasm = readFileSync(await buildPeak(false));
  // Slots: [0] go (pass number), [1] workers done with the pass; then per worker its pass ms.
  const sync = new Int32Array(new SharedArrayBuffer(8 + 8 * threads));
  const times = new Float64Array(sync.buffer, 8, threads);
  const workers = Array.from({ length: threads }, (_, id) =>
    new Worker(new URL(import.meta.url), { workerData: { bandwidthProbe: true, wasm, bytes, rounds, sync: sync.buffer, id } }));
  const ready = workers.map((w) => new Promise((resolve, reject) => {
    w.once('message', resolve);
    w.once('error', reject);
  }));
  try {
    await Promise.all(ready); // every buffer written and the stream loop tiered up
    let best = 0;
    for (let round = 1; round <= rounds; round++) {
      Atomics.store(sync, 1, 0);
      Atomics.store(sync, 0, round);
      Atomics.notify(sync, 0);
      while (Atomics.load(sync, 1) < threads) await new Promise((resolve) => setTimeout(resolve, 1));
      best = Math.max(best, (threads * bytes) / Math.max(...times) / 1e6);
    }
    return best;
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

if (!isMainThread && workerData?.bandwidthProbe) {
  const { wasm, bytes, rounds, id } = workerData;
  const sync = new Int32Array(workerData.sync);
  const times = new Float64Array(workerData.sync, 8, sync.length / 2 - 1);
  const probe = instantiateStream(wasm, bytes);
  for (const t0 = performance.now(); performance.now() - t0 < 300;) probe.stream(1 << 16);
  parentPort.postMessage('ready');
  for (let round = 1; round <= rounds; round++) {
    // A wake-up is no go: the notify of the pass before can land late, after this worker served it.
    while (Atomics.load(sync, 0) < round) Atomics.wait(sync, 0, round - 1);
    const t = performance.now();
    probe.stream(bytes);
    times[id] = performance.now() - t;
    Atomics.add(sync, 1, 1);
  }
}
