// A soak test of the worker pool's dispatch (npm run test:stress [-- --seconds=N --threads=T]):
// the shipped char-GPT decodes greedily on a forced T-thread pool (default 2) for N seconds
// (default 60), one dispatch per token, and every generation must equal PyTorch's greedy text
// (models/char-gpt/greedy.json), so an item skipped or run twice shows as a wrong token. A
// watchdog fails the run when no token arrives for 10 s and prints the control block, which says
// which side stopped. It found the late-notify race that made workers re-run a served call
// (about once in 50 000 decode steps on this 2-core machine; docs/DESIGN.md, the worker pool).
// It runs as is under Deno and Bun too (`deno run -A scripts/stress-pool.mjs`, `bun scripts/stress-pool.mjs`).
import { readFileSync } from 'node:fs';
import { createEngine, loadSafetensors } from '../dist/index.js';

// src/wasm/layout.ts and src/parallel/protocol.ts (the bundle does not export them); only the dump reads them.
const CONTROL_OFFSET = 64, CONTROL_HEADER_SLOTS = 8, MAX_PHASES = 256;
const CONTROL_SLOTS = CONTROL_HEADER_SLOTS + 2 * MAX_PHASES;

const arg = (name, fallback) => {
  const hit = process.argv.find((a) => a.startsWith(`--${name}=`));
  return hit ? Number(hit.slice(name.length + 3)) : fallback;
};
const seconds = arg('seconds', 60), threads = arg('threads', 2);
if (!(seconds > 0) || !(Number.isInteger(threads) && threads >= 2)) {
  console.error('usage: node scripts/stress-pool.mjs [--seconds=N > 0] [--threads=T >= 2] (one thread has no pool)');
  process.exit(2);
}
const DIR = new URL('../models/char-gpt/', import.meta.url);
const config = JSON.parse(readFileSync(new URL('config.json', DIR), 'utf8'));
const greedy = JSON.parse(readFileSync(new URL('greedy.json', DIR), 'utf8'));
const weights = loadSafetensors(readFileSync(new URL('model.safetensors', DIR)));

const engine = await createEngine({ threads });
const internals = engine[Symbol.for('wasm-attention.debug')]();
internals.forcePool();
const pool = await internals.pool();
const model = engine.gpt2({ config, weights });
const ctrl = new Int32Array(internals.arena.memory.buffer, CONTROL_OFFSET, CONTROL_SLOTS);

let tokens = 0, generations = 0, idle = 0, seen = -1;
const watchdog = setInterval(() => {
  idle = tokens === seen ? idle + 1 : 0;
  seen = tokens;
  if (idle < 10) return;
  const phases = ctrl[2];
  const slots = (from) => Array.from(ctrl.subarray(from, from + Math.min(phases, MAX_PHASES))).join(',');
  console.error(`stress-pool: no token for ${idle} s after ${tokens} tokens (${pool.runs} dispatches); control block ` +
    `EPOCH ${ctrl[0]} COMMAND ${ctrl[1]} PHASES ${phases} DONE ${ctrl[3]} ERROR ${ctrl[4]} GEN ${ctrl[5]}\n` +
    `  NEXT ${slots(CONTROL_HEADER_SLOTS)}\n  ARRIVE ${slots(CONTROL_HEADER_SLOTS + MAX_PHASES)}`);
  process.exit(1);
}, 1000);

const end = performance.now() + seconds * 1000;
while (performance.now() < end) {
  const item = greedy.items[generations % greedy.items.length];
  const out = [];
  for await (const next of model.generate(item.promptIds, { maxNewTokens: item.outputIds.length })) {
    out.push(next[0]);
    tokens++;
  }
  const at = out.findIndex((id, i) => id !== item.outputIds[i]);
  if (at >= 0) {
    console.error(`stress-pool: generation ${generations} (prompt ${JSON.stringify(item.prompt)}) left PyTorch's ` +
      `greedy text at token ${at}: ${out[at]} instead of ${item.outputIds[at]}`);
    process.exit(1);
  }
  generations++;
}
clearInterval(watchdog);
await model.dispose();
await engine.dispose();
console.log(`stress-pool: ${generations} generations, ${tokens} tokens, ${pool.runs} dispatches on ${threads} threads ` +
  `in ${seconds} s, every one equal to PyTorch's greedy text`);
