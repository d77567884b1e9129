// Time to a model's first logits, from the file's bytes in memory: GPT-2 small geometry, ours
// (loadSafetensors → engine.gpt2 → forward) against onnxruntime-web (InferenceSession.create →
// run), as a page does it after the download. Each measurement runs in a fresh process: what
// this times is mostly memory the process touches for the first time (a page fault per 4 KiB,
// about 2.8 ms per MB on this VM in Node), which a long-lived process would hand back from its
// own free lists. Engine and ORT start-up (compiling the kernels, spawning workers) are one-off
// costs per page and are timed apart.
//   node bench/load.mjs [--rounds=N] [--threads=T]        (default 3 rounds, 1 thread)
// Writes the files once into bench/results/load/ (~1.8 GB: the f32 safetensors, its int8 copies
// without and with --embeddings, the fp32 and q8 ONNX graphs of bench/peers/onnx-models.mjs);
// needs dist/ (npm run build).
// Prints one JSON line per configuration: medians over the rounds, in ms.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { median } from './harness.mjs';
import { GPT2_SMALL, gpt2Weights, tokenIds } from './models.mjs';

const dir = fileURLToPath(new URL('./results/load/', import.meta.url));
const file = (name) => dir + name;
const args = process.argv.slice(2);
const option = (name, fallback) => Number(args.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? fallback);
const PROMPT = 8; // tokens of the first forward

/** The configurations: [label, side, file, quantize on load]. */
const CONFIGS = [
  ['ours f32', 'ours', 'gpt2.safetensors', false],
  ['ours int8 (int8 file)', 'ours', 'gpt2-int8.safetensors', true],
  ['ours int8 (int8 file with --embeddings)', 'ours', 'gpt2-int8-emb.safetensors', true],
  ['ours int8 (f32 file, quantize on load)', 'ours', 'gpt2.safetensors', true],
  ['onnxruntime-web fp32', 'ort', 'gpt2.onnx', false],
  ['onnxruntime-web q8', 'ort', 'gpt2-q8.onnx', false],
];

if (args[0] === '--child') await child(args[1], args[2], args[3] === 'true', Number(args[4]));
else await parent();

async function parent() {
  const rounds = option('rounds', 3), threads = option('threads', 1);
  await writeFiles();
  const results = new Map(CONFIGS.map(([label]) => [label, []]));
  for (let r = 0; r < rounds; r++) {
    for (const [label, side, name, quantize] of CONFIGS) {
      const out = execFileSync(process.execPath, [fileURLToPath(import.meta.url), '--child', side, name, String(quantize), String(threads)],
        { encoding: 'utf8', maxBuffer: 1 << 20 });
      results.get(label).push(JSON.parse(out.trim().split('\n').pop()));
    }
  }
  for (const [label, runs] of results) {
    const row = { config: label, threads, rounds };
    for (const key of Object.keys(runs[0])) row[key] = Math.round(median(runs.map((x) => x[key])) * 10) / 10;
    console.log(JSON.stringify(row));
  }
}

/** The files, written once (their names carry what they hold; delete the folder to redo). */
async function writeFiles() {
  if (CONFIGS.every(([, , name]) => existsSync(file(name)))) return;
  mkdirSync(dir, { recursive: true });
  const { writeSafetensors, quantizeSafetensors } = await import('../dist/index.js');
  const { encodeModel } = await import('./peers/onnx-proto.mjs');
  const { gpt2WithPastGraph } = await import('./peers/onnx-models.mjs');
  const { quantizeDynamic } = await import('./peers/onnx-quantize.mjs');
  const { TRANSFORMERS_JS_Q8 } = await import('./peers/onnx-quantize.mjs');
  const c = GPT2_SMALL, E = c.n_embd, w = gpt2Weights(c);
  const shapes = { 'wte.weight': [c.vocab_size, E], 'wpe.weight': [c.n_positions, E] };
  for (let i = 0; i < c.n_layer; i++) {
    Object.assign(shapes, {
      [`h.${i}.attn.c_attn.weight`]: [E, 3 * E], [`h.${i}.attn.c_proj.weight`]: [E, E],
      [`h.${i}.mlp.c_fc.weight`]: [E, 4 * E], [`h.${i}.mlp.c_proj.weight`]: [4 * E, E],
    });
  }
  const tensors = {};
  for (const [key, data] of Object.entries(w)) tensors[key] = { dtype: 'F32', shape: shapes[key] ?? [data.length], data };
  const f32 = writeSafetensors(tensors);
  writeFileSync(file('gpt2.safetensors'), f32);
  writeFileSync(file('gpt2-int8.safetensors'), quantizeSafetensors(f32).bytes);
  writeFileSync(file('gpt2-int8-emb.safetensors'), quantizeSafetensors(f32, { embeddings: true }).bytes);
  const graph = gpt2WithPastGraph(c, w);
  writeFileSync(file('gpt2-q8.onnx'), encodeModel({ graph: quantizeDynamic(graph, TRANSFORMERS_JS_Q8.gpt2) }));
  writeFileSync(file('gpt2.onnx'), encodeModel({ graph }));
}

/** One measurement in this fresh process; prints one JSON line of ms. */
async function child(side, name, quantize, threads) {
  const c = GPT2_SMALL, ids = tokenIds(PROMPT, c.vocab_size, 11);
  const bytes = readFileSync(file(name));
  if (side === 'ours') {
    const { createEngine, loadSafetensors } = await import('../dist/index.js');
    let t = performance.now();
    const engine = await createEngine({ threads });
    const startMs = performance.now() - t;
    t = performance.now();
    const weights = loadSafetensors(bytes);
    const readMs = performance.now() - t;
    const model = engine.gpt2({ config: c, weights, ...(quantize ? { quantize: 'int8' } : {}) });
    const createMs = performance.now() - t - readMs;
    await model.forward(ids, { batch: 1, seq: PROMPT, logitsToKeep: 1 });
    const firstLogitsMs = performance.now() - t;
    t = performance.now();
    await model.forward(ids, { batch: 1, seq: PROMPT, logitsToKeep: 1 });
    const nextForwardMs = performance.now() - t;
    console.log(JSON.stringify({ startMs, readMs, createMs, firstLogitsMs, nextForwardMs }));
    await engine.dispose();
    return;
  }
  const { createOrtPeer } = await import('./peers/onnxruntime.mjs');
  let t = performance.now();
  const peer = await createOrtPeer({ threads }); // ORT's wasm and its threads, one probe session
  const startMs = performance.now() - t;
  const ort = await import('onnxruntime-web');
  t = performance.now();
  const session = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
  const createMs = performance.now() - t;
  const H = c.n_head, d = c.n_embd / H;
  const int64 = (values, dims) => new ort.Tensor('int64', BigInt64Array.from(values, BigInt), dims);
  const feeds = () => {
    const f = { input_ids: int64(ids, [1, PROMPT]), attention_mask: int64(new Array(PROMPT).fill(1), [1, PROMPT]),
      position_ids: int64(Array.from({ length: PROMPT }, (_, i) => i), [1, PROMPT]) };
    const empty = new ort.Tensor('float32', new Float32Array(0), [1, H, 0, d]);
    for (let i = 0; i < c.n_layer; i++) f[`past_key_values.${i}.key`] = f[`past_key_values.${i}.value`] = empty;
    return f;
  };
  await session.run(feeds());
  const firstLogitsMs = performance.now() - t;
  t = performance.now();
  await session.run(feeds());
  const nextForwardMs = performance.now() - t;
  console.log(JSON.stringify({ startMs, readMs: 0, createMs, firstLogitsMs, nextForwardMs }));
  await session.release();
  await peer.dispose();
}
