// The GEMM kernels of the benchmarks, on one memory of their own and tiled as the engine tiles
// them: A (m×k) and B (n×k, an nn.Linear weight) resident, B packed into panels once (a layer
// does it when it is created), A packed into strips on every call (as a forward call does),
// C = A·Bᵀ (m×n) computed item by item. Used by bench/shape.mjs and bench/kernel-rate.mjs;
// plain JavaScript with no Node-only API, so it runs in Node, Deno and Bun alike.
import { alternate, median } from './harness.mjs';
import { MADD_FLOPS_PER_ITERATION, instantiatePeak } from './peak-probe.mjs';

/** Columns of one GEMM item (GEMM_COL_BLOCK of src/parallel/phases.ts). */
export const GEMM_ITEM_COLS = 128;

/** Rows of one GEMM item: gemmRowBlock(k) of src/parallel/phases.ts, which the bundle does not
 * export; same constants (A strips within 384 KiB of L2, 16..128 rows in steps of 16). */
export function gemmItemRows(k) {
  return Math.max(16, Math.min(128, Math.floor((384 * 1024) / (k * 4 * 16)) * 16));
}

/**
 * Instantiates a kernel build (bytes of a `kernels-*-unshared.wasm`) on a memory sized for the
 * shape, copies B in and packs it. Returns:
 *   copyA()      A into the memory (a forward call's copy in)
 *   packed()     A packed into strips, then C by f32_gemm_packed over the engine's items
 *   unpacked()   C by f32_gemm_nt straight from A and B, same items (what packing buys)
 *   output()     a view of C
 */
export function createGemm(wasmBytes, { m, n, k }, a, b) {
  const rows = gemmItemRows(k), cols = GEMM_ITEM_COLS;
  const strips = Math.ceil(m / 4), panels = Math.ceil(n / 8);
  const bytes = (m * k + n * k + m * n + strips * 4 * k + panels * 8 * k) * 4;
  const memory = new WebAssembly.Memory({ initial: Math.ceil(bytes / 65536) + 2, maximum: 65536 });
  const wasm = new WebAssembly.Instance(new WebAssembly.Module(wasmBytes), { env: { memory } }).exports;
  // byte addresses: A, B, C row-major; A strips [k][4] and B panels [k][8] after them
  const pa = 65536, pb = pa + m * k * 4, pc = pb + n * k * 4, ap = pc + m * n * 4, bp = ap + strips * 4 * k * 4;
  const f32 = () => new Float32Array(memory.buffer);
  f32().set(b, pb / 4);
  wasm.f32_pack_panels_nt(n, k, pb, k, bp, 0, panels);
  return {
    copyA: () => f32().set(a, pa / 4),
    packed() {
      wasm.f32_pack_rows(m, k, pa, k, ap, 0, strips);
      for (let r = 0; r < m; r += rows) for (let j = 0; j < n; j += cols) {
        wasm.f32_gemm_packed(Math.min(rows, m - r), Math.min(cols, n - j), k, ap + r * k * 4, bp + j * k * 4, 0, pc + (r * n + j) * 4, n, 0, 0, 0);
      }
    },
    unpacked() {
      for (let r = 0; r < m; r += rows) for (let j = 0; j < n; j += cols) {
        wasm.f32_gemm_nt(Math.min(rows, m - r), Math.min(cols, n - j), k, pa + r * k * 4, k, pb + j * k * 4, k, 0, pc + (r * n + j) * 4, n, 1);
      }
    },
    output: () => new Float32Array(memory.buffer, pc, m * n),
  };
}

/**
 * The packed GEMM's rate as a share of the peak probe, the two timed in alternation in this
 * process (harness.mjs `alternate`), for every build given: `[{ build, kernelBytes, peakBytes }]`,
 * A and B the inputs. The ceiling of a round is the best probe of any build in that round: the
 * FP pipes are the machine's, but an engine may compile one probe worse than the other (Deno's
 * V8 15 runs the mul+add probe well below its madd probe). Returns per build the medians over
 * the rounds of the kernel's time (and its fastest), of the probe's and the kernel's GFLOP/s and of
 * the share, the share's spread, and C (to check).
 */
export async function gemmShareOfProbe(builds, shape, a, b, { rounds = 15, probeIterations = 2_000_000 } = {}) {
  const all = builds.map(({ build, kernelBytes, peakBytes }) => {
    const gemm = createGemm(kernelBytes, shape, a, b);
    gemm.copyA();
    return { build, gemm, peak: instantiatePeak(peakBytes) };
  });
  // Warm-up: many calls of each, so the engine has tiered them all up before anything is timed.
  for (const t0 = performance.now(); performance.now() - t0 < 1500 * all.length;) {
    for (const x of all) { x.peak.madd(20_000); x.gemm.packed(); }
  }
  await new Promise((resolve) => setTimeout(resolve, 100));
  const times = alternate(all.flatMap((x) => [() => x.peak.madd(probeIterations), () => x.gemm.packed()]), { rounds });
  const probe = all.map((_, i) => times[2 * i].map((ms) => (MADD_FLOPS_PER_ITERATION * probeIterations) / ms / 1e6));
  const kernel = all.map((_, i) => times[2 * i + 1].map((ms) => (2 * shape.m * shape.n * shape.k) / ms / 1e6));
  return all.map((x, i) => {
    const share = kernel[i].map((g, round) => g / Math.max(...probe.map((p) => p[round])));
    return {
      build: x.build, rounds, kernelMedianMs: median(times[2 * i + 1]), kernelMinMs: Math.min(...times[2 * i + 1]),
      probeGflops: median(probe[i]), kernelGflops: median(kernel[i]),
      share: median(share), shareBest: Math.max(...share), shareWorst: Math.min(...share),
      output: x.gemm.output().slice(),
    };
  });
}
