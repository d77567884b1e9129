// The peak probe (bench/peak/peak.ts): building it (Node only: runs asc) and running it
// (plain JavaScript, so bench/kernel-rate.mjs runs it in Node, Deno and Bun alike).

/** Bytes of a module using one relaxed-SIMD instruction: validates where relaxed SIMD is on. */
export const RELAXED_PROBE = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 6, 1, 96, 1, 123, 1, 123,
  3, 2, 1, 0, 10, 13, 1, 11, 0, 32, 0, 32, 0, 32, 0, 253, 133, 2, 11]);

/** Compiles bench/peak/peak.ts with the kernels' asc flags into bench/results/peak-{simd,relaxed}.wasm;
 * returns the file's path. */
export async function buildPeak(relaxed) {
  const { execFileSync } = await import('node:child_process');
  const { mkdirSync } = await import('node:fs');
  const { fileURLToPath } = await import('node:url');
  const here = (f) => fileURLToPath(new URL(f, import.meta.url));
  mkdirSync(here('./results/'), { recursive: true });
  const out = here(`./results/peak-${relaxed ? 'relaxed' : 'simd'}.wasm`);
  execFileSync(process.execPath, [here('../node_modules/assemblyscript/bin/asc.js'), here('./peak/peak.ts'),
    '--runtime', 'stub', '--importMemory', '--initialMemory', '1', '--maximumMemory', '65536', '-O3', '--noAssert',
    '--use', 'abort=', '--enable', relaxed ? 'simd,relaxed-simd' : 'simd', '-o', out], { stdio: 'inherit' });
  return out;
}

/** FLOPs of one peak_madd iteration: 10 accumulators × 4 lanes × (multiply + add). */
export const MADD_FLOPS_PER_ITERATION = 10 * 4 * 2;

/** Instantiates a built probe on its own memory (1100 pages: 64 MiB of stream buffer past 64 KiB)
 * with 16 operand floats at byte 1024. */
export function instantiatePeak(wasmBytes) {
  const memory = new WebAssembly.Memory({ initial: 1100, maximum: 65536 });
  const { exports } = new WebAssembly.Instance(new WebAssembly.Module(wasmBytes), { env: { memory } });
  new Float32Array(memory.buffer, 1024, 16).fill(1e-3);
  return {
    memory,
    /** `iterations` of the 10-chain multiply-add loop. */
    madd: (iterations) => exports.peak_madd(iterations, 1024),
    /** Sums `bytes` (a multiple of 64) from byte 65536. */
    stream: (bytes) => exports.peak_stream(65536, bytes),
  };
}

/** Instantiates a built probe on a memory of 64 KiB + `bytes` (a multiple of 64), the stream
 * buffer written first so that its pages are real. */
export function instantiateStream(wasmBytes, bytes) {
  const pages = 1 + Math.ceil(bytes / 65536);
  const memory = new WebAssembly.Memory({ initial: pages, maximum: 65536 });
  const { exports } = new WebAssembly.Instance(new WebAssembly.Module(wasmBytes), { env: { memory } });
  new Float32Array(memory.buffer, 65536, bytes / 4).fill(1);
  return {
    /** Sums `n` bytes (a multiple of 64, at most the buffer) from byte 65536. */
    stream: (n) => exports.peak_stream(65536, n),
  };
}
