// The runtime smoke suite: one plain ESM module, run unchanged in Node, Deno, Bun, workerd and a
// browser page. Its imports are the runtime-neutral fixture checker it shares with the vitest
// suite (fixture-cases.mjs) and the int8 kernel check (int8-kernels.mjs); each runtime's harness (node.mjs, deno.mjs, bun.mjs,
// workerd/worker.mjs, browser/page.mjs) loads the library its own way, reads the PyTorch
// fixtures its own way and hands both in. No vitest here: a tiny runner prints one line per
// check and `N passed, M failed` last; the harness turns a failure into a non-zero exit.
//
//   const { passed, failed } = await runSuite({
//     runtime: 'deno',                              // for messages
//     lib: { createEngine, positionalEncoding },    // the built library (dist/index.js)
//     fixtures: { attention, mha, positionalEncoding }, // the parsed JSON files ({cases} or arrays)
//     configs: [{ threads: 1 }, { threads: 2 }, { threads: 3 }],  // one engine per entry, every fixture on each
//     expectKernels: 'relaxed',                     // optional: engine.kernels must be this
//     expectInt8Dot: 'relaxed_dot_i8x16_i7x16',     // optional: engine.int8Dot of the relaxed build
//     int8Kernels: module,                          // optional: kernels-relaxed-unshared.wasm, compiled, for
//                                                   // the kernel-level relaxed-dot check (int8-kernels.mjs)
//     engineOptions: { wasm: module },              // optional: merged into every createEngine call
//     checks: [{ name, fn }],                       // optional: runtime-specific checks
//     charGpt: { config, bytes, greedy },           // optional: models/char-gpt's config.json (parsed),
//                                                   // model.safetensors (Uint8Array or ArrayBuffer),
//                                                   // greedy.json (parsed)
//     bert: { expected, models },                   // optional: test/fixtures/bert/expected.json (parsed)
//                                                   // and, per case of BERT_CASES, { config, bytes }
//     tokenizer: cases,                             // optional: test/fixtures/tokenizer/cases.json (parsed)
//     print: console.log,                           // optional
//   });
//
// A config is { threads, expectThreads = threads, expectWarning?: RegExp, expectKernels?,
// engineOptions? }: createEngine({ threads, ...engineOptions }) must give engine.threads ===
// expectThreads and print exactly one console.warn matching expectWarning (none without it).
// When expectThreads > 1 the suite also proves the workers ran (the pool's run counter, through
// the engine's debug hook) and that the result has the same bits as on one thread.
//
// With charGpt, the shipped character-level GPT-2 (models/char-gpt/) is loaded once
// (lib.loadSafetensors) and, on the first configuration of each kernel build and thread count,
// engine.gpt2 generates greedily from greedy.json's first prompt: the 200 tokens must be
// PyTorch's. With bert, on the same configurations, BertModel, BertForMaskedLM (prefixed-cls),
// BertForSequenceClassification (classifier-3), BertForTokenClassification (token-classifier-5)
// and BertForQuestionAnswering (qa) give the PyTorch reference's outputs, with the same bits in
// every configuration of a kernel build. With tokenizer, lib.loadTokenizer encodes and decodes
// the fixture's texts (Unicode of every kind, through GPT-2's byte-level BPE and BERT's WordPiece)
// as HF's Rust tokenizers did: each runtime brings its own Unicode tables and regex engine.

import { checkAttentionCase, checkMhaCase } from './fixture-cases.mjs';
import { checkInt8Kernels } from './int8-kernels.mjs';

/** The BERT fixture cases the harnesses hand in (test/fixtures/bert/<case>/). */
export const BERT_CASES = ['prefixed-cls', 'classifier-3', 'token-classifier-5', 'qa'];

/** env.bert from a runtime's readers of files under test/fixtures/bert/: `json(path)` → parsed,
 * `bytes(path)` → Uint8Array or ArrayBuffer. */
export async function loadBert(json, bytes) {
  const models = {};
  for (const name of BERT_CASES) {
    models[name] = { config: await json(`${name}/config.json`), bytes: await bytes(`${name}/model.safetensors`) };
  }
  return { expected: await json('expected.json'), models };
}

export const ATOL = 2e-4;
export const RTOL = 2e-4;
const DEBUG = Symbol.for('wasm-attention.debug');

/** The runner: checks run one after another; a throw is a failure. */
export function createRunner(print = (line) => console.log(line)) {
  const lines = [];
  let passed = 0;
  let failed = 0;
  const out = (line) => {
    lines.push(line);
    print(line);
  };
  return {
    lines,
    get passed() { return passed; },
    get failed() { return failed; },
    note: (line) => out(`# ${line}`),
    async check(name, fn) {
      try {
        await fn();
        passed++;
        out(`ok - ${name}`);
      } catch (error) {
        failed++;
        const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
        out(`FAIL - ${name}: ${message}`);
      }
    },
    /** Prints the closing line and returns the totals. */
    finish() {
      out(`${passed} passed, ${failed} failed`);
      return { passed, failed, lines };
    },
  };
}

function fail(message) {
  throw new Error(message);
}

function assertEqual(actual, expected, what) {
  if (actual !== expected) fail(`${what}: got ${String(actual)}, expected ${String(expected)}`);
}

/** Largest |a - e| - rtol·|e| must be <= atol; NaN must match NaN. */
export function assertClose(actual, expected, what, atol = ATOL, rtol = RTOL) {
  if (!actual) fail(`${what}: missing`);
  assertEqual(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i];
    const e = expected[i] === '-inf' ? -Infinity : expected[i];
    if (a === e) continue;
    if (Number.isNaN(a) || Number.isNaN(e) || Math.abs(a - e) - rtol * Math.abs(e) > atol) {
      fail(`${what}[${i}] = ${a}, expected ${e} (|diff| ${Math.abs(a - e).toExponential(2)}, ` +
        `atol ${atol}, rtol ${rtol})`);
    }
  }
}

function assertSameBits(actual, expected, what) {
  assertEqual(actual.length, expected.length, `${what}: length`);
  const a = new Uint32Array(actual.buffer, actual.byteOffset, actual.length);
  const b = new Uint32Array(expected.buffer, expected.byteOffset, expected.length);
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) fail(`${what}[${i}] = ${actual[i]}, expected ${expected[i]} bit for bit`);
  }
}

/** Awaits fn() (a throw or a rejection) and checks the error's class. */
async function assertRejects(fn, ErrorClass, what) {
  let error;
  try {
    await fn();
  } catch (e) {
    error = e;
  }
  if (error === undefined) fail(`${what}: did not throw (expected ${ErrorClass.name})`);
  if (!(error instanceof ErrorClass)) {
    fail(`${what}: threw ${error?.name ?? typeof error} (${error?.message ?? error}), expected ${ErrorClass.name}`);
  }
}

const casesOf = (file) => (Array.isArray(file) ? file : file?.cases) ?? fail('a fixture file has no cases');

/** A deterministic generator of values in [0, 1) (mulberry32). */
function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Deterministic values in [-1, 1). */
function random(n, seed) {
  const next = rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = next() * 2 - 1;
  return out;
}

/** float64 SDPA of one [seqQ, d] slice (causal optional): the oracle of the pool checks. */
function referenceAttention(q, k, v, { batch, heads, seqQ, seqK, headDim, causal }) {
  const out = new Float64Array(batch * heads * seqQ * headDim);
  const scale = 1 / Math.sqrt(headDim);
  const s = new Float64Array(seqK);
  for (let bh = 0; bh < batch * heads; bh++) {
    const qo = bh * seqQ * headDim, ko = bh * seqK * headDim;
    for (let i = 0; i < seqQ; i++) {
      let max = -Infinity;
      const limit = causal ? Math.min(i + 1, seqK) : seqK;
      for (let j = 0; j < limit; j++) {
        let dot = 0;
        for (let d = 0; d < headDim; d++) dot += q[qo + i * headDim + d] * k[ko + j * headDim + d];
        s[j] = dot * scale;
        if (s[j] > max) max = s[j];
      }
      let sum = 0;
      for (let j = 0; j < limit; j++) sum += (s[j] = Math.exp(s[j] - max));
      for (let j = 0; j < limit; j++) {
        const p = s[j] / sum;
        for (let d = 0; d < headDim; d++) out[qo + i * headDim + d] += p * v[ko + j * headDim + d];
      }
    }
  }
  return out;
}

/** y[r, o] = x[r, :] · W[o, :] + b[o] (nn.Linear), float64. */
function linear(x, rows, inDim, w, b, outDim) {
  const y = new Float64Array(rows * outDim);
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < outDim; o++) {
      let acc = b ? b[o] : 0;
      for (let c = 0; c < inDim; c++) acc += x[r * inDim + c] * w[o * inDim + c];
      y[r * outDim + o] = acc;
    }
  }
  return y;
}

/** float64 nn.MultiheadAttention self-attention (batch 1, no masks): output only. */
function referenceSelfAttention(x, seq, E, H, { inProjWeight, inProjBias, outProjWeight, outProjBias }) {
  const qkv = linear(x, seq, E, inProjWeight, inProjBias, 3 * E);
  const D = E / H;
  const split = (part) => {
    const t = new Float64Array(H * seq * D); // [H, seq, D]
    for (let s = 0; s < seq; s++) {
      for (let h = 0; h < H; h++) {
        for (let d = 0; d < D; d++) t[(h * seq + s) * D + d] = qkv[s * 3 * E + part * E + h * D + d];
      }
    }
    return t;
  };
  const heads = referenceAttention(split(0), split(1), split(2),
    { batch: 1, heads: H, seqQ: seq, seqK: seq, headDim: D, causal: false });
  const context = new Float64Array(seq * E);
  for (let h = 0; h < H; h++) {
    for (let s = 0; s < seq; s++) {
      for (let d = 0; d < D; d++) context[s * E + h * D + d] = heads[(h * seq + s) * D + d];
    }
  }
  return linear(context, seq, E, outProjWeight, outProjBias, E);
}

// Calls big enough (> 1.5 MFLOP) to go to the worker pool when threads > 1.
const BIG_ATTENTION = { batch: 1, heads: 4, seqQ: 128, seqK: 128, headDim: 64, causal: true };
const BIG_MHA = { E: 64, H: 4, seq: 64 };
const BIG_INT8 = { rows: 67, inF: 130, outF: 157 };
/** The seeded random int8 linears: how many, and the seed of their shapes and values. */
const INT8_RANDOM = { count: 120, seed: 0x5eed8 };
/** [rows, inFeatures, outFeatures, bias] of the int8 GEMM shapes: k ≡ 0, 1, 2, 3 mod 4. */
const INT8_SHAPES = [
  [5, 1, 1, true], [6, 2, 9, false], [7, 3, 16, true], [9, 5, 17, true], [13, 64, 8, false], [17, 255, 31, true],
  [33, 257, 40, true], [40, 768, 24, false], [77, 1027, 23, true], [12, 3072, 12, true],
];

function bigInputs() {
  const { batch, heads, seqQ, seqK, headDim } = BIG_ATTENTION;
  const { E, seq } = BIG_MHA;
  const q = random(batch * heads * seqQ * headDim, 1);
  const k = random(batch * heads * seqK * headDim, 2);
  const v = random(batch * heads * seqK * headDim, 3);
  const scaled = (a, by) => a.map((x) => x * by);
  const weights = {
    inProjWeight: scaled(random(3 * E * E, 4), 0.2),
    inProjBias: scaled(random(3 * E, 5), 0.2),
    outProjWeight: scaled(random(E * E, 6), 0.2),
    outProjBias: scaled(random(E, 7), 0.2),
  };
  const x = random(seq * E, 8);
  const { rows, inF, outF } = BIG_INT8;
  const int8 = { x: random(rows * inF, 9), weights: { weight: scaled(random(outF * inF, 10), 0.1), bias: random(outF, 11) } };
  int8.expected = linear(int8.x, rows, inF, int8.weights.weight, int8.weights.bias, outF);
  return {
    q, k, v, weights, x, int8,
    attention: referenceAttention(q, k, v, BIG_ATTENTION),
    mha: referenceSelfAttention(x, seq, E, BIG_MHA.H, weights),
  };
}

/** Every console.warn during fn() (passed on to the real console too). */
async function captureWarnings(fn) {
  const warnings = [];
  const original = console.warn;
  console.warn = (...args) => {
    warnings.push(args.map(String).join(' '));
    original.apply(console, args);
  };
  try {
    return { value: await fn(), warnings };
  } finally {
    console.warn = original;
  }
}

/** How many programs the engine's worker pool has run (undefined without a pool). */
async function poolRuns(engine) {
  const debug = engine[DEBUG];
  if (typeof debug !== 'function') fail('the engine has no debug hook (Symbol.for("wasm-attention.debug"))');
  const { pool } = debug.call(engine);
  return pool ? (await pool()).runs : undefined;
}

/** Greedy generation of the shipped char-GPT from greedy.json's first prompt, against PyTorch's. */
async function checkCharGpt(engine, charGpt) {
  const { config, weights, greedy } = charGpt;
  const item = greedy.items[0];
  const vocab = config.char_vocab;
  const model = engine.gpt2({ config, weights });
  try {
    const ids = [];
    for await (const next of model.generate(item.promptIds, { maxNewTokens: greedy.generatedTokens })) ids.push(next[0]);
    assertEqual(ids.length, item.outputIds.length, 'number of tokens');
    const at = ids.findIndex((id, i) => id !== item.outputIds[i]);
    if (at >= 0) {
      const text = ids.map((id) => vocab[id]).join('');
      fail(`token ${at} is ${ids[at]}, PyTorch's is ${item.outputIds[at]}: ${JSON.stringify(item.prompt + text)} ` +
        `against ${JSON.stringify(item.prompt + item.output)}`);
    }
  } finally {
    await model.dispose();
  }
}

/** A fixture tensor ({ shape, b64 }: little-endian f32) as a Float32Array (atob: every runtime has it). */
function fixtureF32({ b64 }) {
  const bin = atob(b64);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return new Float32Array(bytes.buffer);
}

/** BertModel and BertForMaskedLM on prefixed-cls, BertForSequenceClassification on classifier-3,
 * BertForTokenClassification on token-classifier-5, BertForQuestionAnswering on qa, against the
 * PyTorch reference (test/fixtures/make_bert_fixtures.py); returns the outputs. */
async function checkBert(engine, bert) {
  const outputs = {};
  const run = async (make, name, read) => {
    const c = bert.expected.cases.find((x) => x.name === name);
    const model = make({ config: bert.models[name].config, weights: bert.models[name].weights });
    try {
      const out = await model.forward(c.inputIds, {
        batch: c.batch, seq: c.seq, tokenTypeIds: c.tokenTypeIds, attentionMask: new Uint8Array(c.attentionMask),
      });
      return read(out, c);
    } finally {
      await model.dispose();
    }
  };
  await run((o) => engine.bert(o), 'prefixed-cls', (out, c) => {
    assertClose(out.lastHiddenState, fixtureF32(c.lastHiddenState), 'BertModel lastHiddenState');
    assertClose(out.pooledOutput, fixtureF32(c.pooledOutput), 'BertModel pooledOutput');
    outputs.hidden = out.lastHiddenState;
  });
  await run((o) => engine.bertForMaskedLM(o), 'prefixed-cls', (out, c) => {
    assertClose(out.logits, fixtureF32(c.maskedLMLogits), 'BertForMaskedLM logits');
    outputs.mlm = out.logits;
  });
  await run((o) => engine.bertForSequenceClassification(o), 'classifier-3', (out, c) => {
    assertClose(out.logits, fixtureF32(c.classifierLogits), 'BertForSequenceClassification logits');
    outputs.classifier = out.logits;
  });
  await run((o) => engine.bertForTokenClassification(o), 'token-classifier-5', (out, c) => {
    assertClose(out.logits, fixtureF32(c.tokenLogits), 'BertForTokenClassification logits');
    outputs.tagger = out.logits;
  });
  await run((o) => engine.bertForQuestionAnswering(o), 'qa', (out, c) => {
    assertClose(out.startLogits, fixtureF32(c.startLogits), 'BertForQuestionAnswering startLogits');
    assertClose(out.endLogits, fixtureF32(c.endLogits), 'BertForQuestionAnswering endLogits');
    outputs.start = out.startLogits;
    outputs.end = out.endLogits;
  });
  return outputs;
}

async function runConfig(t, env, config, big, firstBits) {
  const { createEngine } = env.lib;
  const threads = config.threads;
  const expectThreads = config.expectThreads ?? threads;
  const expectKernels = config.expectKernels ?? env.expectKernels;
  const label = config.label ?? `threads ${threads}`;
  const options = { threads, ...env.engineOptions, ...config.engineOptions };
  const shown = Object.entries(options)
    .map(([key, value]) => `${key}: ${value instanceof WebAssembly.Module ? 'Module' : JSON.stringify(value)}`);
  const auto = options.wasm === undefined && (options.kernels ?? 'auto') === 'auto';
  let engine;
  await t.check(`[${label}] createEngine({ ${shown.join(', ')} }) gives threads ${expectThreads}` +
    (expectKernels ? `, kernels '${expectKernels}'` : ''), async () => {
    const { value, warnings } = await captureWarnings(() => createEngine(options));
    engine = value;
    assertEqual(engine.threads, expectThreads, 'engine.threads');
    if (expectKernels) assertEqual(engine.kernels, expectKernels, 'engine.kernels');
    if (engine.kernels !== 'simd' && engine.kernels !== 'relaxed') fail(`engine.kernels is ${engine.kernels}`);
    if (!['relaxed_dot_i8x16_i7x16', 'relaxed_dot_i8x16_i7x16_signed', 'dot_i16x8'].includes(engine.int8Dot)) fail(`engine.int8Dot is ${engine.int8Dot}`);
    if (engine.kernels === 'simd') assertEqual(engine.int8Dot, 'dot_i16x8', 'engine.int8Dot of the baseline build');
    else if (env.expectInt8Dot) assertEqual(engine.int8Dot, env.expectInt8Dot, 'engine.int8Dot');
    if (auto && (engine.kernels === 'relaxed') !== engine.features.relaxedSimd) {
      fail(`engine.kernels '${engine.kernels}' does not follow features.relaxedSimd ${engine.features.relaxedSimd}`);
    }
    if (config.expectWarning) {
      const matching = warnings.filter((w) => config.expectWarning.test(w));
      if (matching.length !== 1 || warnings.length !== 1) {
        fail(`expected exactly one console.warn matching ${config.expectWarning}, got ${JSON.stringify(warnings)}`);
      }
    } else if (warnings.length > 0) {
      fail(`unexpected console.warn: ${JSON.stringify(warnings)}`);
    }
    // Every call of a threaded engine goes to the workers, however small (the fixtures are):
    // the test hook of src/engine.ts, reached through the global symbol registry.
    if (expectThreads > 1) engine[Symbol.for('wasm-attention.debug')]().forcePool();
    t.note(`${env.runtime} [${label}]: kernels ${engine.kernels}, int8Dot ${engine.int8Dot}, threads ${engine.threads}, ` +
      `features ${JSON.stringify(engine.features)}`);
  });
  if (!engine) {
    t.note(`[${label}] no engine: the fixture checks of this configuration did not run`);
    await t.check(`[${label}] fixture checks`, () => fail('createEngine failed (see above)'));
    return;
  }

  const fixtureCheck = {
    close: (actual, expected, what) => assertClose(actual, expected, what),
    absent: (value, what) => assertEqual(value, undefined, what),
  };
  for (const c of casesOf(env.fixtures.attention)) {
    await t.check(`[${label}] attention: ${c.name}`, () => checkAttentionCase(engine, c, fixtureCheck));
  }
  for (const c of casesOf(env.fixtures.mha)) {
    await t.check(`[${label}] multi-head attention: ${c.name}`, () => checkMhaCase(engine, c, fixtureCheck));
  }

  // Calls large enough for the pool: checked against float64, and bit for bit against the first
  // configuration; with a pool, its run counter must have moved (the workers really ran).
  await t.check(`[${label}] attention ${Object.values(BIG_ATTENTION).join('×')} and self-attention ` +
    `E ${BIG_MHA.E} seq ${BIG_MHA.seq}` + (expectThreads > 1 ? ' on the worker pool' : ''), async () => {
    const before = await poolRuns(engine);
    if (expectThreads > 1 && before === undefined) fail('threads > 1 but the engine has no worker pool');
    const r = await engine.attention(big.q, big.k, big.v, BIG_ATTENTION);
    assertClose(r.output, big.attention, 'attention output', 1e-5, 1e-4);
    const layer = engine.multiHeadAttention({ embedDim: BIG_MHA.E, numHeads: BIG_MHA.H, weights: big.weights });
    const m = await layer.forward(big.x, big.x, big.x, { batch: 1, seqQ: BIG_MHA.seq, seqK: BIG_MHA.seq, needWeights: false });
    await layer.dispose();
    assertClose(m.output, big.mha, 'multi-head output', 1e-5, 1e-4);
    if (expectThreads > 1) {
      const after = await poolRuns(engine);
      if (!(after >= before + 2)) fail(`the worker pool ran ${after - before} programs, expected 2`);
    }
    const key = engine.kernels;
    if (firstBits[key]) {
      assertSameBits(r.output, firstBits[key].attention, `attention output vs [${firstBits[key].label}]`);
      assertSameBits(m.output, firstBits[key].mha, `multi-head output vs [${firstBits[key].label}]`);
    } else {
      firstBits[key] = { label, attention: r.output, mha: m.output };
    }
  });

  // The host bumps EPOCH and then notifies; a notify that lands after the workers served that
  // EPOCH and fell asleep on it again must run nothing (it once re-ran the finished program over
  // the next dispatch). Sent here directly to the sleeping workers, in every runtime's Worker.
  if (expectThreads > 1) {
    await t.check(`[${label}] a late notify to the sleeping workers runs nothing`, async () => {
      const { arena } = engine[DEBUG]();
      // src/wasm/layout.ts: CONTROL_OFFSET 64, 8 header slots, then NEXT and ARRIVE per phase.
      const ctrl = new Int32Array(arena.memory.buffer, 64, 8 + 2 * 256);
      const q = random(2 * 16 * 8, 21);
      const o = { batch: 1, heads: 2, seqQ: 16, seqK: 16, headDim: 8 };
      const expected = (await engine.attention(q, q, q, o)).output;
      const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
      await sleep(20); // past the workers' spin: asleep on EPOCH
      const served = Array.from(ctrl);
      for (let i = 0; i < 4; i++) {
        Atomics.notify(ctrl, 0);
        await sleep(5);
      }
      await sleep(20);
      const now = Array.from(ctrl);
      const moved = now.findIndex((v, i) => v !== served[i]);
      if (moved >= 0) fail(`control slot ${moved} moved from ${served[moved]} to ${now[moved]}: a worker ran the served call again`);
      assertSameBits((await engine.attention(q, q, q, o)).output, expected, 'the next call');
    });
  }

  const charGptKey = `${engine.kernels}, threads ${engine.threads}`;
  if (env.charGpt && !env.charGptDone.has(charGptKey)) {
    env.charGptDone.add(charGptKey);
    const { prompt, outputIds } = env.charGpt.greedy.items[0];
    await t.check(`[${label}] char-GPT (models/char-gpt): greedy ${outputIds.length} tokens after ` +
      `${JSON.stringify(prompt)} are PyTorch's`, () => checkCharGpt(engine, env.charGpt));
  }
  if (env.bert && !env.bertDone.has(charGptKey)) {
    env.bertDone.add(charGptKey);
    await t.check(`[${label}] BERT (test/fixtures/bert): BertModel and its four heads (MaskedLM, SequenceClassification, ` +
      'TokenClassification, QuestionAnswering) give PyTorch\'s outputs', async () => {
      const out = await checkBert(engine, env.bert);
      const key = `bert ${engine.kernels}`;
      if (firstBits[key]) {
        for (const what of ['hidden', 'mlm', 'classifier', 'tagger', 'start', 'end']) assertSameBits(out[what], firstBits[key][what], `BERT ${what} vs [${firstBits[key].label}]`);
      } else {
        firstBits[key] = { label, ...out };
      }
    });
  }
  // quantize: 'int8' (the int8 GEMM family): near float64 and the same bits in every
  // configuration, both kernel builds and both dot instructions (engine.int8Dot: the integer sums
  // are exact, and no activation runs); big enough (2.7 MFLOP) for the pool; its first 1..4 rows
  // (the int8 GEMV) the same bits as in the big call.
  await t.check(`[${label}] int8 linear ${BIG_INT8.rows}×${BIG_INT8.inF}→${BIG_INT8.outF}` +
    (expectThreads > 1 ? ' on the worker pool' : ''), async () => {
    const { rows, inF, outF } = BIG_INT8;
    const layer = engine.linear({ inFeatures: inF, outFeatures: outF, weights: big.int8.weights, quantize: 'int8' });
    const y = await layer.forward(big.int8.x, { rows });
    // 1..4 rows take the int8 GEMV (the rest the int8 GEMM): rows are quantized one by one, so
    // the first r rows alone give the first r rows of the big call, bit for bit.
    for (let r = 1; r <= 4; r++) {
      const head = await layer.forward(big.int8.x.subarray(0, r * inF), { rows: r });
      assertSameBits(head, y.subarray(0, r * outF), `int8 linear, the first ${r} rows alone (GEMV) vs in the big call (GEMM)`);
    }
    await layer.dispose();
    const err = relativeRms(y, big.int8.expected);
    if (!(err < 0.015)) fail(`relative RMS error ${err} against float64, expected < 0.015`);
    const key = 'int8';
    if (firstBits[key]) assertSameBits(y, firstBits[key].y, `int8 linear vs [${firstBits[key].label}]`);
    else firstBits[key] = { label, y };
  });

  // The int8 GEMM over odd shapes: every k tail (k is padded to 4), partial strips and panels,
  // with and without bias; the same bits in every configuration (as above) and near float64;
  // the first 1, 2 and 3 rows alone (the int8 GEMV) the same bits as in the big call.
  await t.check(`[${label}] int8 linear, ${INT8_SHAPES.length} shapes of 5..77 rows (the int8 GEMM) and their first rows (GEMV)`, async () => {
    for (const [i, [rows, inF, outF, bias]] of INT8_SHAPES.entries()) {
      await checkInt8Linear(engine, {
        rows, inF, outF, x: random(rows * inF, 100 + i), weight: random(outF * inF, 200 + i).map((w) => w * 0.1),
        b: bias ? random(outF, 300 + i) : undefined, maxErr: 0.02, gemvRows: 3, key: `int8/${i}`,
      }, label, firstBits);
    }
  });

  // Seeded random int8 linears (1..70 rows: GEMV and GEMM; k and n across every tail): the same
  // bits in every configuration, so in Deno and Chromium the relaxed dot (engine.int8Dot) against
  // the baseline build's i16 tile, and near float64. The seed is in the check's name.
  await t.check(`[${label}] int8 linear, ${INT8_RANDOM.count} random shapes (seed ${INT8_RANDOM.seed})`, async () => {
    const next = rng(INT8_RANDOM.seed);
    const pick = (lo, hi) => lo + Math.floor(next() * (hi - lo + 1));
    for (let i = 0; i < INT8_RANDOM.count; i++) {
      const rows = pick(1, 70), inF = i % 10 === 9 ? pick(700, 1100) : pick(1, 160), outF = pick(1, 70), bias = next() < 0.7;
      await checkInt8Linear(engine, {
        rows, inF, outF, x: random(rows * inF, 5000 + i).map((v) => v * (1 + 4 * next()) + (i % 4 === 0 ? 1.5 : 0)),
        weight: random(outF * inF, 6000 + i).map((w) => w * 0.1), b: bias ? random(outF, 7000 + i) : undefined,
        maxErr: 0.03, key: `int8-random/${i}`, where: ` (seed ${INT8_RANDOM.seed}, shape ${i})`,
      }, label, firstBits);
    }
  });

  await badInputs(t, label, engine, env.lib);

  await t.check(`[${label}] dispose: idempotent, later calls reject`, async () => {
    await engine.dispose();
    await engine.dispose();
    const q = new Float32Array(4);
    await assertRejects(() => engine.attention(q, q, q, { batch: 1, heads: 1, seqQ: 1, seqK: 1, headDim: 4 }),
      Error, 'attention after dispose');
  });
}

/** One int8 nn.Linear y = x·Wᵀ (+ b) on `engine`: within maxErr (relative RMS) of float64, its
 * first 1..gemvRows rows alone (the int8 GEMV) the same bits as in the whole call, and the same
 * bits as in the first configuration that ran it (firstBits[key]). */
async function checkInt8Linear(engine, { rows, inF, outF, x, weight, b, maxErr, gemvRows = 0, key, where = '' }, label, firstBits) {
  const what = `int8 linear ${rows}×${inF}→${outF}${b ? '' : ' without bias'}${where}`;
  const layer = engine.linear({ inFeatures: inF, outFeatures: outF, bias: b !== undefined, weights: b ? { weight, bias: b } : { weight }, quantize: 'int8' });
  const y = await layer.forward(x, { rows });
  for (let r = 1; r <= Math.min(gemvRows, rows); r++) {
    assertSameBits(await layer.forward(x.subarray(0, r * inF), { rows: r }), y.subarray(0, r * outF),
      `${what}, the first ${r} rows alone (GEMV) vs in the big call (GEMM)`);
  }
  await layer.dispose();
  const err = relativeRms(y, linear(x, rows, inF, weight, b, outF));
  if (!(err < maxErr)) fail(`${what}: relative RMS error ${err} against float64`);
  if (firstBits[key]) assertSameBits(y, firstBits[key].y, `${what} vs [${firstBits[key].label}]`);
  else firstBits[key] = { label, y };
}

/** sqrt(Σ(y − expected)² / Σ expected²). */
function relativeRms(y, expected) {
  let num = 0, den = 0;
  for (let i = 0; i < y.length; i++) {
    num += (y[i] - expected[i]) ** 2;
    den += expected[i] ** 2;
  }
  return Math.sqrt(num / den);
}

/** Bad arguments reject with TypeError / RangeError, and the engine stays usable. */
async function badInputs(t, label, engine, lib) {
  const shape = { batch: 1, heads: 2, seqQ: 3, seqK: 5, headDim: 4 };
  const q = random(1 * 2 * 3 * 4, 11);
  const k = random(1 * 2 * 5 * 4, 12);
  const v = random(1 * 2 * 5 * 4, 13);
  const attention = (overrides, qq = q) => () => engine.attention(qq, k, v, { ...shape, ...overrides });
  const E = 4;
  const layer = engine.multiHeadAttention({ embedDim: E, numHeads: 2, weights: {
    inProjWeight: random(3 * E * E, 14), inProjBias: random(3 * E, 15),
    outProjWeight: random(E * E, 16), outProjBias: random(E, 17) } });
  const x = random(2 * 3 * E, 18); // [batch 2, seq 3, E]
  const forward = (overrides, query = x) => () => layer.forward(query, x, x, { batch: 2, seqQ: 3, seqK: 3, ...overrides });
  const bad = [
    ['q as a Float64Array', TypeError, attention({}, Float64Array.from(q))],
    ['q as a plain Array', TypeError, attention({}, Array.from(q))],
    ['q of the wrong length', RangeError, attention({}, q.subarray(1))],
    ['q as a Uint8Array tagged Float32Array', TypeError, attention({},
      Object.defineProperty(new Uint8Array(q.length), Symbol.toStringTag, { value: 'Float32Array' }))],
    ['options.is_causal (not an option)', RangeError, attention({ is_causal: true })],
    ['heads NaN', RangeError, attention({ heads: NaN })],
    ['heads 1.5', RangeError, attention({ heads: 1.5 })],
    ['heads "2"', TypeError, attention({ heads: '2' })],
    ['seqK 0', RangeError, attention({ seqK: 0 })],
    ['attnMask as an Int32Array', TypeError, attention({ attnMask: new Int32Array(15) })],
    ['attnMask of the wrong length', RangeError, attention({ attnMask: new Uint8Array(14) })],
    ['validLens of the wrong length', RangeError, attention({ validLens: new Int32Array(2) })],
    ['validLens negative', RangeError, attention({ validLens: Int32Array.of(-1) })],
    ['options missing', TypeError, () => engine.attention(q, k, v)],
    ['numHeads not dividing embedDim', RangeError, () => engine.multiHeadAttention({
      embedDim: 10, numHeads: 3, weights: { inProjWeight: new Float32Array(300), inProjBias: new Float32Array(30),
        outProjWeight: new Float32Array(100), outProjBias: new Float32Array(10) } })],
    ['outProjWeight missing', TypeError, () => engine.multiHeadAttention({
      embedDim: 4, numHeads: 2, weights: { inProjWeight: new Float32Array(48), inProjBias: new Float32Array(12),
        outProjBias: new Float32Array(4) } })],
    ['forward: query of the wrong length', RangeError, forward({}, x.subarray(4))],
    ['forward: keyPaddingMask as an Int32Array', TypeError, forward({ keyPaddingMask: new Int32Array(6) })],
    ['forward: float keyPaddingMask of the wrong length', RangeError, forward({ keyPaddingMask: new Float32Array(5) })],
    ['forward: keyPaddingMask of the wrong length', RangeError, forward({ keyPaddingMask: new Uint8Array(5) })],
    ['forward: seqQ -1', RangeError, forward({ seqQ: -1 })],
    ['forward: options.key_padding_mask (not an option)', RangeError, forward({ key_padding_mask: new Uint8Array(6) })],
    ['createEngine({ threads: 0 })', RangeError, () => lib.createEngine({ threads: 0 })],
    ["createEngine({ threads: 'two' })", TypeError, () => lib.createEngine({ threads: 'two' })],
    ["createEngine({ kernels: 'avx' })", TypeError, () => lib.createEngine({ kernels: 'avx' })],
    ['createEngine({ wasm: 42 })', TypeError, () => lib.createEngine({ wasm: 42 })],
    ['positionalEncoding(0, 4)', RangeError, () => lib.positionalEncoding(0, 4)],
    ['positionalEncoding(2, 2.5)', RangeError, () => lib.positionalEncoding(2, 2.5)],
  ];
  for (const [name, ErrorClass, fn] of bad) {
    await t.check(`[${label}] rejects ${name} with ${ErrorClass.name}`, () => assertRejects(fn, ErrorClass, name));
  }
  await t.check(`[${label}] still usable after the bad calls`, async () => {
    const r = await engine.attention(q, k, v, shape);
    assertClose(r.output, referenceAttention(q, k, v, shape), 'output', 1e-5, 1e-4);
    const m = await layer.forward(x, x, x, { batch: 2, seqQ: 3, seqK: 3 });
    assertEqual(m.output.length, 2 * 3 * E, 'forward output length');
    if (!m.output.every(Number.isFinite)) fail('forward output is not finite');
    await layer.dispose();
  });
}

/** Runs the whole suite; prints every check and `N passed, M failed` last. */
/** The three fixture files, read through a runtime's own `read(name) → parsed JSON`. */
export async function loadFixtures(read) {
  return {
    attention: await read('attention'),
    mha: await read('mha'),
    positionalEncoding: await read('positional-encoding'),
  };
}

/** threads 1, 2 and 3 (the pool forced), and 2 again with the baseline build forced where auto
 * picks relaxed. */
export const THREADED_CONFIGS = [
  { threads: 1 },
  { threads: 2 },
  { threads: 3 },
  { threads: 2, engineOptions: { kernels: 'simd' }, expectKernels: 'simd', label: 'threads 2, kernels simd' },
];

/** A check that the runtime offers what threads need (Worker only where the pool uses it). */
export function threadsCheck(runtime, needsWorker) {
  return {
    name: `${runtime}: ${needsWorker ? 'Worker and ' : ''}SharedArrayBuffer present`,
    fn: () => {
      if (needsWorker && typeof Worker !== 'function') throw new Error('no Worker');
      if (typeof SharedArrayBuffer !== 'function') throw new Error('no SharedArrayBuffer');
    },
  };
}

/** Every case of test/fixtures/tokenizer/cases.json: encode (ids, type ids, UTF-16 offsets) and
 * decode without special tokens, as HF's Rust tokenizers gave them. */
function checkTokenizerCases(lib, { tokenizers, cases }) {
  const loaded = {};
  for (const [name, json] of Object.entries(tokenizers)) loaded[name] = lib.loadTokenizer(json);
  cases.forEach((c, i) => {
    const tokenizer = loaded[c.tokenizer];
    const e = tokenizer.encode(c.text, c.pair === undefined ? {} : { textPair: c.pair });
    const what = `case ${i} (${c.tokenizer}, text ${JSON.stringify(c.text)})`;
    assertEqual(JSON.stringify(Array.from(e.inputIds)), JSON.stringify(c.ids), `${what} ids`);
    assertEqual(JSON.stringify(Array.from(e.tokenTypeIds)), JSON.stringify(c.typeIds), `${what} type ids`);
    assertEqual(JSON.stringify(e.offsets), JSON.stringify(c.offsets), `${what} offsets`);
    assertEqual(tokenizer.decode(e.inputIds, { skipSpecialTokens: true }), c.decoded, `${what} decode`);
  });
}

export async function runSuite(env) {
  const t = createRunner(env.print);
  const started = Date.now();
  t.note(`${env.runtime}: ${casesOf(env.fixtures.attention).length} attention, ${casesOf(env.fixtures.mha).length} ` +
    `multi-head, ${casesOf(env.fixtures.positionalEncoding).length} positional-encoding cases; ` +
    `configurations: ${env.configs.map((c) => c.label ?? `threads ${c.threads}`).join(', ')}`);

  for (const check of env.checks ?? []) await t.check(check.name, check.fn);
  if (env.int8Kernels) {
    await t.check('int8 kernels (relaxed build): the relaxed dot on against off, bit for bit', () => {
      const { exact, mode, cases } = checkInt8Kernels(env.int8Kernels);
      if (!exact && env.expectInt8Dot?.startsWith('relaxed_dot')) fail('i8_relaxed_dot_exact is 0 where the relaxed dot was expected');
      t.note(exact ? `int8 kernels: ${cases} products (GEMM, GEMV) the same bits with the relaxed dot (mode ${mode})`
        : 'int8 kernels: the relaxed dot is not exact in this engine; nothing to compare');
    });
  }

  let charGpt;
  if (env.charGpt) {
    await t.check('char-GPT: models/char-gpt/model.safetensors loads with loadSafetensors', () => {
      const { config, bytes, greedy } = env.charGpt;
      const weights = env.lib.loadSafetensors(bytes);
      assertEqual(Object.keys(weights).length, 4 + 13 * config.n_layer, 'number of tensors');
      charGpt = { config, greedy, weights };
    });
    // Bytes in shared memory (a page that hands a file to its workers): browsers' TextDecoder
    // refuses a shared view, so the header must be decoded from a copy.
    if (typeof SharedArrayBuffer === 'function' && globalThis.crossOriginIsolated !== false) {
      await t.check('char-GPT: the same file from a SharedArrayBuffer loads the same tensors', () => {
        const { bytes } = env.charGpt; // an ArrayBuffer or a Uint8Array, as the runtime read it
        const shared = new Uint8Array(new SharedArrayBuffer(bytes.byteLength));
        shared.set(ArrayBuffer.isView(bytes) ? new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength) : new Uint8Array(bytes));
        const fromShared = env.lib.loadSafetensors(shared);
        for (const key of Object.keys(charGpt.weights)) assertClose(fromShared[key], charGpt.weights[key], key, 0, 0);
      });
    }
  }

  for (const c of casesOf(env.fixtures.positionalEncoding)) {
    await t.check(`positional encoding ${c.seqLen}×${c.dModel}`, () => {
      assertClose(env.lib.positionalEncoding(c.seqLen, c.dModel), c.pe, 'pe');
    });
  }

  if (env.tokenizer) {
    await t.check(`tokenizers: loadTokenizer gives HF's ids, type ids, offsets and text on ${env.tokenizer.cases.length} texts`, () => {
      checkTokenizerCases(env.lib, env.tokenizer);
    });
  }

  const big = bigInputs();
  const firstBits = {};
  let bert;
  if (env.bert) {
    await t.check(`BERT: the fixture checkpoints (${BERT_CASES.join(', ')}) load with loadSafetensors`, () => {
      const models = {};
      for (const name of BERT_CASES) {
        const { config, bytes } = env.bert.models[name];
        models[name] = { config, weights: env.lib.loadSafetensors(bytes) };
      }
      bert = { expected: env.bert.expected, models };
    });
  }
  // charGpt, bert: undefined when they did not load
  const runEnv = { ...env, charGpt, charGptDone: new Set(), bert, bertDone: new Set() };
  for (const config of env.configs) await runConfig(t, runEnv, config, big, firstBits);

  t.note(`${env.runtime}: ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return t.finish();
}
