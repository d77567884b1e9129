// The int8 kernels of the relaxed build with the relaxed dot on, in the mode the probe finds,
// against the same instance with it off (assembly/i8-gemm/i8-relaxed-dot.ts), bit for bit: the
// kernel-level twin of the suite's int8 linears, reaching what engine.linear does not
// (activations, a residual written in place, a row stride past k, the GEMM without a scratch
// slot, the GEMV of 3..8 rows). It means something only where the engine computes the relaxed
// dot exactly (Deno 2.9 and Chromium 156 on an AVX-VNNI host: mode 1; Arm: mode 2), or on the
// test builds that emulate it (test/kernels/i8-relaxed-dot.test.ts); elsewhere
// i8_relaxed_dot_exact is 0 and the check says so. Plain ESM, no imports: the Deno and browser
// harnesses hand in the compiled kernels-relaxed-unshared.wasm.

const SEED = 0x1b8d07;

/** Runs the comparison; returns { exact, mode, cases } or throws naming the case and the seed.
 * `shared`: the module imports a shared memory. */
export function checkInt8Kernels(module, shared = false) {
  const memory = new WebAssembly.Memory({ initial: 256, maximum: 4096, shared });
  const w = new WebAssembly.Instance(module, { env: { memory } }).exports;
  const mode = w.i8_relaxed_dot_exact(0);
  if (mode !== 1 && mode !== 2) return { exact: false, mode: 0, cases: 0 };
  let s = SEED;
  const next = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const kp = (k) => Math.ceil(k / 4) * 4;
  let top = 0;
  const alloc = (bytes) => {
    const at = top;
    top += Math.ceil(bytes / 16) * 16 + 64;
    if (top > memory.buffer.byteLength) memory.grow(Math.ceil((top - memory.buffer.byteLength) / 65536));
    return at;
  };
  const fill = (at, count, value) => {
    const f = new Float32Array(memory.buffer, at, count);
    for (let i = 0; i < count; i++) f[i] = value(i);
  };
  let cases = 0;
  const run = (m, k, n, activation) => {
    top = 1024;
    const lda = k + 3, strips = Math.ceil(m / 4), stripBytes = 32 + 8 * kp(k), panelBytes = 64 + 8 * kp(k);
    const a = alloc(m * lda * 4), weight = alloc(n * k * 4), bias = alloc(n * 4), residual = alloc(m * n * 4);
    const shift = next() < 0.3 ? 2 : 0;
    fill(a, m * lda, (i) => (next() * 2 - 1) * (i % 7 === 0 ? 40 : 1) + shift);
    fill(weight, n * k, () => (next() * 2 - 1) * 0.1);
    fill(bias, n, () => next() - 0.5);
    fill(residual, m * n, () => next() - 0.5);
    const panels = alloc(Math.ceil(n / 8) * panelBytes);
    w.i8_pack_panels_nt(n, k, weight, k, panels, 0, Math.ceil(n / 8));
    const scratch = alloc(16 * kp(k));
    const outputs = {};
    for (const on of [0, mode]) {
      if (w.i8_set_relaxed_dot(on) !== on) throw new Error(`i8_set_relaxed_dot(${on}) did not take`);
      for (const compact of m <= 2 ? [0, 1] : [0]) {
        const ap = alloc(strips * stripBytes);
        new Uint8Array(memory.buffer, ap, strips * stripBytes).fill(0xab); // every code byte must be written
        w.i8_quantize_rows(m, k, a, lda, ap, 0, strips, compact);
        const product = (name, call) => {
          const c = alloc(m * n * 4);
          new Float32Array(memory.buffer, c, m * n).set(new Float32Array(memory.buffer, residual, m * n));
          call(c); // the residual is C itself: added in place
          outputs[`${name}, relaxed dot ${on ? `on (mode ${on})` : 'off'}`] = new Uint32Array(memory.buffer, c, m * n).slice();
        };
        if (!compact) {
          for (const slot of [scratch, 0]) {
            product(`GEMM${slot ? '' : ' without scratch'}`, (c) =>
              w.i8_gemm_packed(m, n, k, ap, panels, bias, c, n, activation, c, n, slot));
          }
        }
        if (m <= 8) product(`GEMV${compact ? ' (compact)' : ''}`, (c) => w.i8_gemv(m, n, k, ap, panels, bias, c, n, activation, c, n, compact));
      }
    }
    w.i8_set_relaxed_dot(0);
    const [refName, ref] = Object.entries(outputs)[0];
    for (const [name, bits] of Object.entries(outputs)) {
      cases++;
      const at = bits.findIndex((b, i) => b !== ref[i]);
      if (at >= 0) {
        throw new Error(`int8 kernels m ${m} k ${k} n ${n} activation ${activation}: ${name} differs from ${refName} ` +
          `at ${at} (seed ${SEED})`);
      }
    }
  };
  for (let m = 1; m <= 9; m++) {
    for (const k of [1, 2, 3, 4, 5, 7, 8, 9, 13, 16, 17, 33, 67, 257]) for (const n of [1, 8, 9, 24]) run(m, k, n, (m + k + n) % 4);
  }
  for (let t = 0; t < 60; t++) {
    run(1 + Math.floor(next() * 40), 1 + Math.floor(next() * 1100), 1 + Math.floor(next() * 40), Math.floor(next() * 4));
  }
  return { exact: true, mode, cases };
}
