// What a vector load costs the f32 GEMM tile of the baseline build (no FMA), measured in isolation:
//   node bench/tile-loads.mjs            (Node only: it runs asc; about 30 s)
// It writes AssemblyScript loops (bench/results/tile-loads.ts), compiles them with the kernels'
// flags and times each on operands that stay in L1, best of 15 rounds:
//   loads-N   the 4×8 tile's 16 multiplies and adds per k step, B's two vectors loaded, N of the
//             four A broadcasts loaded and the others held in registers (N = 0..4);
//   plain-A   the four A values as plain vector loads (A stored pre-broadcast), B loaded;
//   shuffle-A one A vector loaded and broadcast by four lane shuffles, B loaded;
//   tile-RxC  whole register tiles (R broadcasts × C/4 vectors of B per k step).
// Every loop here is a function's only loop, which TurboFan does not unroll; the kernel's k loop
// is nested three deep, which it unrolls ×3 (docs/PERFORMANCE.md, "Seventh session of 2026-12-06").
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const here = (f) => fileURLToPath(new URL(f, import.meta.url));

/** One loop of `rows` A broadcasts × `vectors` B vectors per k step; `a(r)` gives A value r. */
function loop(name, rows, vectors, a, prelude = '') {
  const acc = (r, v) => `c${r}_${v}`;
  const all = [];
  for (let r = 0; r < rows; r++) for (let v = 0; v < vectors; v++) all.push(acc(r, v));
  const body = [];
  if (prelude) body.push(`    ${prelude}`);
  for (let v = 0; v < vectors; v++) body.push(`    const b${v} = v128.load(pb, ${16 * v});`);
  for (let r = 0; r < rows; r++) {
    body.push(`    const a${r} = ${a(r)};`);
    for (let v = 0; v < vectors; v++) body.push(`    ${acc(r, v)} = f32x4.add(f32x4.mul(a${r}, b${v}), ${acc(r, v)});`);
  }
  const sum = all.reduce((s, c) => `f32x4.add(${s}, ${c})`, 'z');
  return `export function ${name.replace(/-/g, '_')}(iters: i32, p: usize, q: usize): f32 {
  const z = f32x4.splat(0);
  const r0 = v128.load_splat<f32>(q), r1 = v128.load_splat<f32>(q, 4), r2 = v128.load_splat<f32>(q, 8), r3 = v128.load_splat<f32>(q, 12);
  let ${all.map((c) => `${c} = z`).join(', ')};
  const end = p + <usize>iters * ${16 * vectors};
  let pa = q + 64;
  for (let pb = p; pb < end; pb += ${16 * vectors}) {
${body.join('\n')}
    pa += 64;
  }
  const s = ${sum};
  return f32x4.extract_lane(s, 0) + f32x4.extract_lane(s, 3) + f32x4.extract_lane(r0, 0) * 0 + f32x4.extract_lane(f32x4.add(r1, f32x4.add(r2, r3)), 1) * 0;
}
`;
}

const splat = (r) => `v128.load_splat<f32>(pa, ${4 * r})`;
const VARIANTS = [
  ...[0, 1, 2, 3, 4].map((n) => [`loads-${n}`, 4, 2, (r) => (r < n ? splat(r) : `r${r}`)]),
  ['plain-A', 4, 2, (r) => `v128.load(pa, ${16 * r})`],
  ['shuffle-A', 4, 2, (r) => `v128.shuffle<f32>(av, av, ${r}, ${r}, ${r}, ${r})`, 'const av = v128.load(pa);'],
  ['tile-4x8', 4, 2, splat], ['tile-2x16', 2, 4, splat], ['tile-5x8', 5, 2, splat], ['tile-3x12', 3, 3, splat],
  ['tile-6x8', 6, 2, splat], ['tile-4x12', 4, 3, splat],
];

mkdirSync(here('./results/'), { recursive: true });
const source = here('./results/tile-loads.ts'), wasm = here('./results/tile-loads.wasm');
writeFileSync(source, VARIANTS.map(([name, rows, vectors, a, prelude]) => loop(name, rows, vectors, a, prelude)).join('\n'));
execFileSync(process.execPath, [here('../node_modules/assemblyscript/bin/asc.js'), source, '--runtime', 'stub',
  '--importMemory', '--initialMemory', '1', '--maximumMemory', '65536', '-O3', '--noAssert', '--use', 'abort=',
  '--enable', 'simd', '-o', wasm], { stdio: 'inherit' });

const memory = new WebAssembly.Memory({ initial: 8, maximum: 65536 });
const w = new WebAssembly.Instance(new WebAssembly.Module(readFileSync(wasm)), { env: { memory } }).exports;
const f = new Float32Array(memory.buffer);
for (let i = 0; i < f.length; i++) f[i] = 1 + (i % 7) * 1e-3;
// B from byte 65536 (at most 384 steps × 64 bytes), A from 262144 + 64 (384 × 64): both in L1.
const iters = 384, calls = 3000, p = 65536, q = 262144;
const fns = VARIANTS.map(([name]) => w[name.replace(/-/g, '_')]);
for (const fn of fns) for (let r = 0; r < 50; r++) fn(iters, p, q);
const best = fns.map(() => Infinity);
for (let round = 0; round < 15; round++) {
  fns.forEach((fn, i) => {
    const t = performance.now();
    for (let c = 0; c < calls; c++) fn(iters, p, q);
    best[i] = Math.min(best[i], ((performance.now() - t) * 1e6) / (calls * iters));
  });
}
console.log('| loop | ns per k step | GFLOP/s |\n|---|---|---|');
VARIANTS.forEach(([name, rows, vectors], i) => {
  const flops = rows * vectors * 8;
  console.log(`| ${name} | ${best[i].toFixed(3)} | ${(flops / best[i]).toFixed(1)} |`);
});
