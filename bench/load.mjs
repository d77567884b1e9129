// Time to a model's first output, from the file's bytes in memory, ours (loadSafetensors →
// engine.gpt2 / engine.bert → forward) against onnxruntime-web (InferenceSession.create → run),
// as a page does it after the download: GPT-2 small geometry (8 tokens, last logits) and the
// all-MiniLM-L6-v2 geometry (8 tokens, last_hidden_state), random weights. Each measurement runs
// in a fresh process: what this times is mostly memory the process touches for the first time
// (a page fault per 4 KiB, about 2.8 ms per MB on this VM in Node), which a long-lived process
// would hand back from its own free lists. Engine and ORT start-up (compiling the kernels,
// spawning workers) are one-off costs per page and are timed apart.
//   node bench/load.mjs [--rounds=N] [--threads=T] [gpt2|minilm]   (default 3 rounds, 1 thread, both)
// Writes the files once into bench/results/load/ (~2 GB: each model's f32 safetensors, its int8
// copies without and with --embeddings, the fp32 and q8 ONNX graphs of bench/peers/onnx-models.mjs
// quantized as transformers.js ships them); needs dist/ (npm run build). Prints one JSON line per
// configuration: medians over the rounds, in ms.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { median } from './harness.mjs';
import { GPT2_SMALL, MINILM_L6, bertWeights, gpt2Weights, tokenIds } from './models.mjs';

const dir = fileURLToPath(new URL('./results/load/', import.meta.url));
const file = (name) => dir + name;
const args = process.argv.slice(2);
const option = (name, fallback) => Number(args.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? fallback);
const PROMPT = 8; // tokens of the first forward
const MODELS = { gpt2: GPT2_SMALL, minilm: MINILM_L6 };

/** The configurations of a model: [label, side, file, quantize on load]. */
const configs = (model) => [
  [`${model}: ours f32`, 'ours', `${model}.safetensors`, false],
  [`${model}: ours int8 (int8 file)`, 'ours', `${model}-int8.safetensors`, true],
  [`${model}: ours int8 (int8 file with --embeddings)`, 'ours', `${model}-int8-emb.safetensors`, true],
  [`${model}: ours int8 (f32 file, quantize on load)`, 'ours', `${model}.safetensors`, true],
  [`${model}: onnxruntime-web fp32`, 'ort', `${model}.onnx`, false],
  [`${model}: onnxruntime-web q8`, 'ort', `${model}-q8.onnx`, false],
];

if (args[0] === '--child') await child(args[1], args[2], args[3], args[4] === 'true', Number(args[5]));
else await parent();

async function parent() {
  const rounds = option('rounds', 3), threads = option('threads', 1);
  const models = args.filter((a) => !a.startsWith('--'));
  for (const model of models.length ? models : Object.keys(MODELS)) {
    if (!MODELS[model]) throw new RangeError(`bench/load.mjs: unknown model ${JSON.stringify(model)}; one of ${Object.keys(MODELS).join(', ')}`);
    await writeFiles(model);
    const results = new Map(configs(model).map(([label]) => [label, []]));
    for (let r = 0; r < rounds; r++) {
      for (const [label, side, name, quantize] of configs(model)) {
        const out = execFileSync(process.execPath, [fileURLToPath(import.meta.url), '--child', model, side, name, String(quantize), String(threads)],
          { encoding: 'utf8', maxBuffer: 1 << 20 });
        results.get(label).push(JSON.parse(out.trim().split('\n').pop()));
      }
    }
    for (const [label, runs] of results) {
      const row = { config: label, threads, rounds, fileMB: Math.round(runs[0].fileBytes / 1e5) / 10 };
      for (const key of Object.keys(runs[0]).filter((k) => k !== 'fileBytes')) row[key] = Math.round(median(runs.map((x) => x[key])) * 10) / 10;
      console.log(JSON.stringify(row));
    }
  }
}

/** A model's files, written once (their names carry what they hold; delete the folder to redo). */
async function writeFiles(model) {
  if (configs(model).every(([, , name]) => existsSync(file(name)))) return;
  mkdirSync(dir, { recursive: true });
  const { writeSafetensors, quantizeSafetensors } = await import('../dist/index.js');
  const { encodeModel } = await import('./peers/onnx-proto.mjs');
  const { bertGraph, gpt2WithPastGraph } = await import('./peers/onnx-models.mjs');
  const { quantizeDynamic, TRANSFORMERS_JS_Q8 } = await import('./peers/onnx-quantize.mjs');
  const c = MODELS[model];
  const w = model === 'gpt2' ? gpt2Weights(c) : bertWeights(c);
  // 2-D shapes: GPT-2's Conv1D [in, out] and tables, BERT's nn.Linear [out, in] and tables.
  const shapes = {};
  if (model === 'gpt2') {
    const E = c.n_embd;
    Object.assign(shapes, { 'wte.weight': [c.vocab_size, E], 'wpe.weight': [c.n_positions, E] });
    for (let i = 0; i < c.n_layer; i++) {
      Object.assign(shapes, {
        [`h.${i}.attn.c_attn.weight`]: [E, 3 * E], [`h.${i}.attn.c_proj.weight`]: [E, E],
        [`h.${i}.mlp.c_fc.weight`]: [E, 4 * E], [`h.${i}.mlp.c_proj.weight`]: [4 * E, E],
      });
    }
  } else {
    const d = c.hidden_size, ff = c.intermediate_size;
    Object.assign(shapes, {
      'embeddings.word_embeddings.weight': [c.vocab_size, d], 'embeddings.position_embeddings.weight': [c.max_position_embeddings, d],
      'embeddings.token_type_embeddings.weight': [c.type_vocab_size, d],
    });
    for (let i = 0; i < c.num_hidden_layers; i++) {
      const p = `encoder.layer.${i}.`;
      for (const n of ['attention.self.query', 'attention.self.key', 'attention.self.value', 'attention.output.dense']) shapes[`${p}${n}.weight`] = [d, d];
      Object.assign(shapes, { [`${p}intermediate.dense.weight`]: [ff, d], [`${p}output.dense.weight`]: [d, ff] });
    }
  }
  const tensors = {};
  for (const [key, data] of Object.entries(w)) tensors[key] = { dtype: 'F32', shape: shapes[key] ?? [data.length], data };
  const f32 = writeSafetensors(tensors);
  writeFileSync(file(`${model}.safetensors`), f32);
  writeFileSync(file(`${model}-int8.safetensors`), quantizeSafetensors(f32).bytes);
  writeFileSync(file(`${model}-int8-emb.safetensors`), quantizeSafetensors(f32, { embeddings: true }).bytes);
  const graph = model === 'gpt2' ? gpt2WithPastGraph(c, w) : bertGraph(c, w);
  writeFileSync(file(`${model}-q8.onnx`), encodeModel({ graph: quantizeDynamic(graph, TRANSFORMERS_JS_Q8[model === 'gpt2' ? 'gpt2' : 'bert']) }));
  writeFileSync(file(`${model}.onnx`), encodeModel({ graph }));
}

/** One measurement in this fresh process; prints one JSON line of ms (and the file's size). */
async function child(model, side, name, quantize, threads) {
  const c = MODELS[model], gpt2 = model === 'gpt2', ids = tokenIds(PROMPT, c.vocab_size, 11);
  const bytes = readFileSync(file(name));
  const fileBytes = bytes.byteLength;
  if (side === 'ours') {
    const { createEngine, loadSafetensors } = await import('../dist/index.js');
    let t = performance.now();
    const engine = await createEngine({ threads });
    const startMs = performance.now() - t;
    t = performance.now();
    const weights = loadSafetensors(bytes);
    const readMs = performance.now() - t;
    const q = quantize ? { quantize: 'int8' } : {};
    const model = gpt2 ? engine.gpt2({ config: c, weights, ...q }) : engine.bert({ config: c, weights, ...q });
    const createMs = performance.now() - t - readMs;
    const run = () => (gpt2 ? model.forward(ids, { batch: 1, seq: PROMPT, logitsToKeep: 1 })
      : model.forward(ids, { batch: 1, seq: PROMPT, attentionMask: new Array(PROMPT).fill(1) }));
    await run();
    const firstOutputMs = performance.now() - t;
    t = performance.now();
    await run();
    const nextForwardMs = performance.now() - t;
    console.log(JSON.stringify({ fileBytes, startMs, readMs, createMs, firstOutputMs, nextForwardMs }));
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
  const int64 = (values, dims) => new ort.Tensor('int64', BigInt64Array.from(values, BigInt), dims);
  const feeds = () => {
    const f = { input_ids: int64(ids, [1, PROMPT]), attention_mask: int64(new Array(PROMPT).fill(1), [1, PROMPT]) };
    if (!gpt2) return { ...f, token_type_ids: int64(new Array(PROMPT).fill(0), [1, PROMPT]) };
    f.position_ids = int64(Array.from({ length: PROMPT }, (_, i) => i), [1, PROMPT]);
    const H = c.n_head, empty = new ort.Tensor('float32', new Float32Array(0), [1, H, 0, c.n_embd / H]);
    for (let i = 0; i < c.n_layer; i++) f[`past_key_values.${i}.key`] = f[`past_key_values.${i}.value`] = empty;
    return f;
  };
  await session.run(feeds());
  const firstOutputMs = performance.now() - t;
  t = performance.now();
  await session.run(feeds());
  const nextForwardMs = performance.now() - t;
  console.log(JSON.stringify({ fileBytes, startMs, readMs: 0, createMs, firstOutputMs, nextForwardMs }));
  await session.release();
  await peer.dispose();
}
