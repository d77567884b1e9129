// npm run bench: every shape of bench/shapes.mjs, each implementation in its own process —
// this library (each kernel build, threads 1..cores), onnxruntime-web's wasm backend (threads
// 1 and 2: its thread count is fixed per process), tfjs-backend-wasm (1 thread: its threaded
// build cannot start in Node) and plain JS — outputs cross-checked against plain JS. Prints a
// markdown table and writes the raw rows to bench/results/latest.json (or --out=FILE).
//   node bench/run.mjs [--quick] [--rounds=N] [--out=FILE] [--runtime=deno|chromium] [shape ...]
//   node bench/run.mjs --from=bench/results/latest.json     (prints the table of a saved run, all of its
//                                                             shapes; --rounds and shape names do not apply)
// The relaxed build is measured wherever the engine can run it (on Node 20 the children get
// --experimental-wasm-relaxed-simd). --runtime=deno runs every child (probes, ours, ORT, plain JS;
// no tfjs) in the Deno of the devDependencies instead: V8 15, as current Chrome, where the
// relaxed build's int8 GEMM gets the relaxed dot (engine.int8Dot) on an AVX-VNNI host.
// --runtime=chromium runs them (no tfjs) in pages of Debian's headless Chromium instead
// (bench/browser/child.mjs: cross-origin isolated, onnxruntime-web's browser build): where
// transformers.js users run both; the bandwidth probe alone stays in Node (its threads are
// node:worker_threads), and the peak probes are built here first (a page runs no compiler).
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SHAPES, KERNEL_ONLY, KERNEL_VS_PROBE, LAYER_GEMMS_VS_PROBE } from './shapes.mjs';
import { RELAXED_PROBE, buildPeak } from './peak-probe.mjs';
import { MODEL_KINDS } from './model-rows.mjs';
import { weightStreamingBoundMs } from './models.mjs';
import { mismatches } from './harness.mjs';
import { chromiumBinary, npmBinary } from '../scripts/runtime-binaries.mjs';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const names = args.filter((a) => !a.startsWith('--'));
const shapes = names.length ? names : Object.keys(SHAPES);
const here = (file) => fileURLToPath(new URL(file, import.meta.url));
const ortThreads = [...new Set([1, Math.min(2, availableParallelism())])];
const runtime = args.find((a) => a.startsWith('--runtime='))?.slice(10) ?? 'node';
if (!['node', 'deno', 'chromium'].includes(runtime)) throw new RangeError(`bench/run.mjs: --runtime must be node, deno or chromium, got ${JSON.stringify(runtime)}`);
const deno = runtime === 'deno' ? npmBinary('deno') : undefined;
if (deno?.error) throw new Error(`bench/run.mjs: --runtime=deno: ${deno.error}`);
const browser = runtime === 'chromium' ? chromiumBinary() : undefined;
if (browser && !browser.path) throw new Error(`bench/run.mjs: --runtime=chromium: ${browser.error ?? browser.absent}`);
/** The runtime other than Node that the children run in, for the table and the JSON. */
const other = deno ?? browser;

// Every implementation of a shape runs once per round, rounds one after another; each row keeps
// its best median over the rounds, so a burst of load on this shared machine during one
// process does not decide a ratio (every implementation gets the same treatment).
const rounds = quick ? 1 : Number(args.find((a) => a.startsWith('--rounds='))?.slice(9) ?? 3);
if (!Number.isInteger(rounds) || rounds < 1) throw new RangeError(`bench/run.mjs: --rounds must be a positive integer, got ${rounds}`);

/** Runs every shape (bench/shape.mjs per implementation and round) and returns the results. */
async function measureAll() {
  // The machine is shared: the 1-minute load average at the start and the end goes with the run.
  const loadStart = loadavg()[0];
  // Both kernel builds: where relaxed SIMD is behind a flag (Node 20), every child gets the flag.
  const RELAXED_FLAG = '--experimental-wasm-relaxed-simd';
  const relaxedWith = (argv) => spawnSync(process.execPath,
    [...argv, '-e', `process.exit(WebAssembly.validate(new Uint8Array(${JSON.stringify([...RELAXED_PROBE])})) ? 0 : 1)`]).status === 0;
  // This process's Node flags, for every child; never its code: under `node -e` / `-p` the code
  // is in execArgv, and each child would run it again.
  const code = /^(-e|--eval|-p|--print)(=|$)/;
  const childArgv = process.execArgv.filter((a, i, all) => !code.test(a) && !/^(-e|--eval|-p|--print)$/.test(all[i - 1] ?? ''));
  if (!relaxedWith(childArgv) && relaxedWith([...childArgv, RELAXED_FLAG])) childArgv.push(RELAXED_FLAG);
  // A child: `script args` under this Node (with its flags), under Deno, or in a Chromium page.
  const nodeChild = (script, ...rest) => execFileSync(process.execPath, [...childArgv, here(script), ...rest],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 24,
      env: { ...process.env, ...(browser ? { WASM_ATTENTION_BENCH_PEAK_BUILT: '1' } : {}) } });
  const child = (script, ...rest) => browser ? nodeChild('./browser/child.mjs', script.replace(/^\.\//, ''), ...rest)
    : deno ? execFileSync(deno.path, ['run', '-A', '--quiet', here(script), ...rest], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 24 })
      : nodeChild(script, ...rest);
  if (browser) for (const relaxed of [false, true]) await buildPeak(relaxed);

  // This machine's ceilings, measured in the same run (bench/peak.mjs): before and after the
  // shapes, keeping the better of the two (a ceiling is what the machine can do when it is quiet).
  const probePeak = () => JSON.parse(child('./peak.mjs').trim().split('\n').pop());
  const peak = probePeak();
  // The decode rows' weight-streaming bound needs the read bandwidth over a buffer as large as
  // the weights (bench/bandwidth.mjs), measured like the probe: before and after, the better kept.
  const decoding = shapes.some((s) => SHAPES[s]?.kind === 'gpt2-decode');
  const probeBandwidth = () => JSON.parse((browser ? nodeChild : child)('./bandwidth.mjs').trim().split('\n').pop());
  if (decoding) peak.weightReadGBps = probeBandwidth().readGBps;
  // The model rows check ours against ORT through files of this run only (bench/model-rows.mjs).
  rmSync(here('./results/check/'), { recursive: true, force: true });

  const all = [];
  for (const shape of shapes) {
    // tfjs has no encoder-layer peer (a layer in tfjs ops would time tfjs's graph, not a model's).
    // Whole models: ORT first (ours is checked against its output), no plain JS, no tfjs.
    const model = MODEL_KINDS.has(SHAPES[shape]?.kind);
    // The -q8 layer has no plain-JS row (its f32 reference is the plain row of bert-layer-512).
    const runs = model ? [...ortThreads.map((t) => ['ort', '--threads', String(t)]), ['ours']]
      : [...(SHAPES[shape]?.q8 ? [] : [['plain']]), ['ours'], ...ortThreads.map((t) => ['ort', '--threads', String(t)]),
        ...(SHAPES[shape]?.kind === 'encoder-layer' || other ? [] : [['tfjs']])];
    for (let round = 0; round < rounds; round++) {
      for (const run of runs) {
        if (run[0] === 'plain' && round > 0) continue; // the reference is slow, and only a baseline
        const out = child('./shape.mjs', shape, ...run, ...(quick ? ['--quick'] : []));
        for (const line of out.split('\n')) if (line.startsWith('{')) all.push({ round, ...JSON.parse(line) });
      }
    }
  }
  const rows = [];
  for (const r of all) {
    const same = rows.findIndex((x) => x.shape === r.shape && x.impl === r.impl && x.threads === r.threads);
    if (same < 0) rows.push(r);
    else if (!r.skipped && (rows[same].skipped || r.median < rows[same].median)) rows[same] = r;
  }
  // A model row's cross-check is the worst over its rounds (a round can run before the other side).
  for (const r of rows.filter((x) => 'tokensMatch' in x)) {
    const checks = all.filter((x) => x.shape === r.shape && x.impl === r.impl && x.threads === r.threads && x.maxDiff !== null);
    r.maxDiff = checks.length ? Math.max(...checks.map((x) => x.maxDiff)) : null;
    const told = checks.filter((x) => x.tokensMatch !== null);
    r.tokensMatch = told.length ? told.every((x) => x.tokensMatch) : null;
  }

  for (const [key, value] of Object.entries(probePeak())) peak[key] = Math.max(peak[key] ?? 0, value);
  if (decoding) peak.weightReadGBps = Math.max(peak.weightReadGBps, probeBandwidth().readGBps);
  return { peak, rows, all, load: [loadStart, loadavg()[0]] };
}

/** The host's CPU: the VM can move between hosts (a Zen 4 and a Zen 5 have been seen), and the
 * ratios move with it. Family and model from /proc/cpuinfo where there is one (Linux). */
function hostCpu() {
  const cpu = { model: cpus()[0]?.model ?? 'unknown', cores: availableParallelism() };
  try {
    const info = readFileSync('/proc/cpuinfo', 'utf8');
    const field = (name) => Number(info.match(new RegExp(`^${name}\\s*:\\s*(\\d+)`, 'm'))?.[1]);
    Object.assign(cpu, { family: field('cpu family'), modelNumber: field('model') });
  } catch { /* not Linux: the model name is all there is */ }
  return cpu;
}

const from = args.find((a) => a.startsWith('--from='))?.slice(7);
const saved = from ? JSON.parse(readFileSync(from, 'utf8')) : undefined;
const { peak, rows, all, load } = saved ?? await measureAll();
const ceiling = (impl) => (impl.includes(' relaxed') ? peak.relaxedMaddGflops : peak.mulAddGflops);

const fmt = (x, digits = 2) => x.toFixed(digits);
const timed = rows.filter((r) => !r.skipped);
const host = saved?.cpu ?? (saved ? undefined : hostCpu());
if (saved?.runtime ?? other) console.log(`Runtime: ${saved?.runtime ?? other.version}.`);
if (host) console.log(`Host: ${host.model}${host.family ? ` (family ${host.family}, model ${host.modelNumber})` : ''}, ${host.cores} cores` +
  (load ? `, load average ${fmt(load[0], 1)} at the start, ${fmt(load[1], 1)} at the end.` : '.'));
console.log(`Peak probe (one thread): ${fmt(peak.mulAddGflops, 1)} GFLOP/s f32x4 mul+add (acc += a·b)` +
  (peak.relaxedMaddGflops ? `, ${fmt(peak.relaxedMaddGflops, 1)} GFLOP/s relaxed madd` : '') + `, read ${fmt(peak.readGBps, 1)} GB/s` +
  (peak.weightReadGBps ? ` (64 MiB), ${fmt(peak.weightReadGBps, 1)} GB/s over 512 MiB (bench/bandwidth.mjs)` : '') + '.\n');
console.log('| shape | implementation | threads | median ms | min ms | GFLOP/s | % of 1-thread peak × threads | ORT ms / ours ms (same threads) | the same, of the minima over all rounds | tfjs ms / ours ms | × plain JS | max abs diff vs plain JS (models: ours vs ORT) |');
console.log('|---|---|---|---|---|---|---|---|---|---|---|---|');
// The fastest run of a row in any round: what the machine gives when it is quiet.
const fastest = (r) => Math.min(...all.filter((x) => !x.skipped && x.shape === r.shape && x.impl === r.impl && x.threads === r.threads).map((x) => x.min));
for (const r of timed) {
  const plain = timed.find((p) => p.shape === r.shape && p.impl === 'plain JS');
  const ort = timed.find((p) => p.shape === r.shape && p.impl.startsWith('onnxruntime') && p.threads === r.threads);
  const tfjs = timed.find((p) => p.shape === r.shape && p.impl.startsWith('tfjs'));
  // Not the generate-prefill row: it runs the lm_head on the last position only, ORT's graph on
  // all of them (the forward row is the like-for-like one).
  const comparable = r.impl.startsWith('wasm-attention') && !r.impl.endsWith(KERNEL_ONLY) && !r.impl.endsWith(KERNEL_VS_PROBE) &&
    !r.impl.endsWith(LAYER_GEMMS_VS_PROBE) && !r.impl.includes('(generate prefill');
  const vsOrt = comparable && ort ? `${fmt(ort.median / r.median)}×` : '—';
  const vsOrtMin = comparable && ort ? `${fmt(fastest(ort) / fastest(r))}×` : '—';
  const vsTfjs = comparable && tfjs && r.threads === 1 ? `${fmt(tfjs.median / r.median)}×` : '—';
  const gflops = r.flops / r.median / 1e6;
  // Rows timed in alternation with the probe carry their own share (median over the rounds).
  const ofPeak = r.impl === 'plain JS' ? '—' : r.share !== undefined
    ? `${fmt(100 * r.share, 0)}% (rounds: ${fmt(100 * r.shareWorst, 0)}–${fmt(100 * r.shareBest, 0)}%)`
    : `${fmt(100 * gflops / (ceiling(r.impl) * r.threads), 0)}%`;
  // Model rows: the difference between our output and ORT's, and whether the greedy tokens agree.
  const diff = !('tokensMatch' in r) ? r.maxDiff.toExponential(1)
    : `${r.maxDiff === null ? 'not checked' : r.maxDiff.toExponential(1)}${r.tokensMatch === null ? '' : r.tokensMatch ? ', same tokens' : SHAPES[r.shape]?.q8 ? ', tokens differ (two different quantizations)' : ', TOKENS DIFFER'}`;
  console.log(`| ${r.title} | ${r.impl} | ${r.threads} | ${fmt(r.median)} | ${fmt(r.min)} | ${fmt(gflops, 1)} | ${ofPeak} | ` +
    `${vsOrt} | ${vsOrtMin} | ${vsTfjs} | ${r.impl === 'plain JS' || !plain ? '—' : fmt(plain.median / r.median, 1) + '×'} | ${diff} |`);
}
const decodeRows = timed.filter((r) => r.weightBytes);
if (decodeRows.length && peak.weightReadGBps) {
  // Each shape's own weight bytes: fp32 for gpt2-decode-512, int8 (+ scales) for its -q8 twin.
  console.log('\nWeight-streaming bound of a decode step: the weights a token must read (KV cache not counted) ÷ ' +
    `${fmt(peak.weightReadGBps, 1)} GB/s (one thread reading 512 MiB).\n`);
  console.log('| shape | implementation | threads | weights MB per token | bound ms per token | median ms per token | % of the 1-thread weight-streaming bound |');
  console.log('|---|---|---|---|---|---|---|');
  for (const r of decodeRows) {
    const bound = weightStreamingBoundMs(r.weightBytes, peak.weightReadGBps);
    console.log(`| ${r.title} | ${r.impl} | ${r.threads} | ${fmt(r.weightBytes / 1e6, 1)} | ${fmt(bound)} | ${fmt(r.median)} | ${fmt(100 * bound / r.median, 0)}% |`);
  }
}
for (const r of timed.filter((x) => x.gemms)) {
  console.log(`\n${r.title}, ${r.impl.replace(LAYER_GEMMS_VS_PROBE, '')}: the layer's GEMMs alone, one thread, alternating with the probe: ` +
    r.gemms.map((g) => `${g.m}×${g.n}×${g.k} ${fmt(g.ms)} ms ${fmt(100 * g.share, 0)}%`).join(', ') + '.');
}
for (const r of rows.filter((x) => x.skipped)) console.log(`\n${r.impl}, ${r.threads} thread(s), on ${r.title}: skipped (${r.skipped}).`);
if (!saved) {
  const out = args.find((a) => a.startsWith('--out='))?.slice(6) ?? here('./results/latest.json');
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify({ node: process.version, ...(other ? { runtime: other.version } : {}), cpu: host, load, date: new Date().toISOString(), quick, rounds, peak, rows, all }, null, 2));
}
// A ratio against a different computation means nothing: a row whose output is off (beyond
// 1e-3 of the reference, or of another length) or whose greedy tokens differ fails the run.
// int8 rows against ORT q8 compare two quantizations: only a missing or truncated output fails.
// Every round counts, not only the row's fastest one.
const wrong = mismatches(all, (r) => Boolean(SHAPES[r.shape]?.q8));
for (const r of wrong) {
  console.error(`bench: MISMATCH on ${r.title}, ${r.impl}, ${r.threads} thread(s)${r.round === undefined ? '' : `, round ${r.round}`}: ` +
    `max diff ${r.maxDiff}${r.tokensMatch === false ? ', tokens differ' : ''}`);
}
if (wrong.length > 0) process.exitCode = 1;
