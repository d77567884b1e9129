// Measures f32_gelu (both forms, both kernel builds) against the float64 reference of
// test/reference/activation.ts: every 256th f32 in [-16, 16] (2^-15 relative spacing, 8.6M
// values), a 1e-4 grid on [-16, 16], and every f32 in [1, 2) and [-2, -1) (16.8M). Prints the worst absolute error over max(1, |x|), the
// worst relative error and ulps where |gelu(x)| >= 1e-35 (below, results are subnormal or
// flushed), and where each occurs.
// Run: npm run build && node --experimental-wasm-relaxed-simd scripts/gelu-error.mjs
import { readFileSync } from 'node:fs';
import { transform } from 'esbuild';

const source = await transform(readFileSync(new URL('../test/reference/activation.ts', import.meta.url), 'utf8'), { loader: 'ts', format: 'esm' });
const { gelu, geluTanh } = await import(`data:text/javascript,${encodeURIComponent(source.code)}`);

const bits = new Uint32Array(1);
const asF32 = new Float32Array(bits.buffer);
const xs = [];
for (const sign of [0, 0x80000000]) {
  for (let b = 0; b <= 0x41800000; b += 256) { bits[0] = (b | sign) >>> 0; xs.push(asF32[0]); }
}
for (let i = -160000; i <= 160000; i++) xs.push(i * 1e-4);
// Every f32 of the binades [1, 2) and [-2, -1): where both forms are worst (the central
// polynomial's cancellation near -1.49, the tanh form's near -1.8 and 1.15), which the grids
// above step over (an independent review found errors past the numbers they gave).
const dense = new Float32Array(2 * 2 ** 23);
for (let i = 0; i < 2 ** 23; i++) {
  bits[0] = 0x3f800000 + i; dense[2 * i] = asF32[0];
  bits[0] = (0xbf800000 + i) >>> 0; dense[2 * i + 1] = asF32[0];
}
const x = new Float32Array(xs.length + dense.length);
x.set(xs);
x.set(dense, xs.length);
const n = x.length;
const ulp = (v) => 2 ** (Math.floor(Math.log2(Math.abs(v))) - 23);

const relaxedOk = (() => { try { return WebAssembly.validate(readFileSync(new URL('../dist/kernels-relaxed-unshared.wasm', import.meta.url))); } catch { return false; } })();
for (const build of relaxedOk ? ['simd', 'relaxed'] : ['simd']) {
  const memory = new WebAssembly.Memory({ initial: Math.ceil((2 * n * 4 + 65536) / 65536) + 1, maximum: 65536 });
  const module = new WebAssembly.Module(readFileSync(new URL(`../dist/kernels-${build}-unshared.wasm`, import.meta.url)));
  const wasm = new WebAssembly.Instance(module, { env: { memory } }).exports;
  const px = 65536, py = px + n * 4;
  for (const [approximate, name, ref] of [[0, 'exact', gelu], [1, 'tanh', geluTanh]]) {
    new Float32Array(memory.buffer, px, n).set(x);
    wasm.f32_gelu(n, px, py, approximate);
    const y = new Float32Array(memory.buffer, py, n);
    let abs = 0, absAt = 0, rel = 0, relAt = 0, ulps = 0, ulpAt = 0;
    const relBand = new Map(); // worst rel per integer band of x, for the tail profile
    for (let i = 0; i < n; i++) {
      const e = ref(x[i]), d = Math.abs(y[i] - e);
      const a = d / Math.max(1, Math.abs(x[i]));
      if (a > abs) { abs = a; absAt = x[i]; }
      if (Math.abs(e) >= 1e-35) {
        const r = d / Math.abs(e), u = d / ulp(e);
        if (r > rel) { rel = r; relAt = x[i]; }
        if (u > ulps) { ulps = u; ulpAt = x[i]; }
        const band = Math.floor(x[i]);
        relBand.set(band, Math.max(relBand.get(band) ?? 0, r));
      }
    }
    console.log(`${build} gelu ${name}: abs/max(1,|x|) ${abs.toExponential(2)} at ${absAt}; ` +
      `rel ${rel.toExponential(2)} at ${relAt}; ${ulps.toFixed(1)} ulp at ${ulpAt}`);
    console.log('  worst rel by band of x:', [...relBand].sort((p, q) => p[0] - q[0])
      .filter(([b]) => b >= -14 && b <= 3).map(([b, r]) => `[${b},${b + 1}) ${r.toExponential(1)}`).join(' '));
  }
}
