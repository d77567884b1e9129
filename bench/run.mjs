// npm run bench: every shape of bench/shapes.mjs in its own process, this library (each kernel
// build, threads 1..cores) next to the peers, outputs cross-checked against plain JS.
// Prints a markdown table and writes bench/results/latest.json.
//   node bench/run.mjs [--quick] [shape ...]
// Add --experimental-wasm-relaxed-simd before bench/run.mjs on Node 20 for the relaxed build.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { SHAPES } from './shapes.mjs';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const names = args.filter((a) => !a.startsWith('--'));
const shapes = names.length ? names : Object.keys(SHAPES);
const here = (file) => fileURLToPath(new URL(file, import.meta.url));

const rows = [];
for (const shape of shapes) {
  const out = execFileSync(process.execPath, [...process.execArgv, here('./shape.mjs'), shape, ...(quick ? ['--quick'] : [])],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 24 });
  for (const line of out.split('\n')) if (line.startsWith('{')) rows.push(JSON.parse(line));
}

const fmt = (x, digits = 2) => x.toFixed(digits);
console.log('| shape | implementation | threads | median ms | min ms | GFLOP/s | × plain JS | × ours 1 thread | max abs diff vs plain JS |');
console.log('|---|---|---|---|---|---|---|---|---|');
for (const r of rows) {
  const plain = rows.find((p) => p.shape === r.shape && p.impl === 'plain JS');
  const one = rows.find((p) => p.shape === r.shape && p.impl === r.impl && p.threads === 1);
  console.log(`| ${r.title} | ${r.impl} | ${r.threads} | ${fmt(r.median)} | ${fmt(r.min)} | ${fmt(r.flops / r.median / 1e6, 1)} | ` +
    `${r.impl === 'plain JS' ? '—' : fmt(plain.median / r.median, 1) + '×'} | ${one && r !== one ? fmt(one.median / r.median, 2) + '×' : '—'} | ${r.maxDiff.toExponential(1)} |`);
}
mkdirSync(here('./results/'), { recursive: true });
writeFileSync(here('./results/latest.json'), JSON.stringify({ node: process.version, date: new Date().toISOString(), quick, rows }, null, 2));
