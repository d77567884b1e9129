// The shipped character-level GPT-2 (models/char-gpt/) for the demo's page (demo.js) and its
// terminal (generate-cli.mjs): runtime-neutral ESM, no DOM, no Node APIs. Each caller reads the
// two files its own way (fetch, node:fs) and hands their contents here. Nothing depends on the
// weights: any GPT-2 in HF's format whose config.json lists a `char_vocab` works.
import { loadSafetensors } from '../../dist/index.js';

/** The model's folder: config.json (HF's GPT2Config plus `char_vocab`) and model.safetensors. */
export const CHAR_GPT = new URL('../../models/char-gpt/', import.meta.url);

/** The generation settings the demo starts with (greedy, 100 characters). */
export const DEFAULTS = Object.freeze({ prompt: 'And the LORD said', maxNewTokens: 100, temperature: 0, topK: 0, topP: 1, seed: 0 });

/**
 * config.char_vocab as a tokenizer: one token per character, the id its index.
 * `encode` throws a RangeError naming the first character that has no token.
 */
export function charVocab(config) {
  const chars = config?.char_vocab;
  if (!Array.isArray(chars) || chars.length !== config.vocab_size) {
    throw new TypeError(`config.char_vocab must be an array of config.vocab_size (${config?.vocab_size}) characters`);
  }
  const ids = new Map(chars.map((c, i) => [c, i]));
  return {
    size: chars.length,
    encode(text) {
      const out = [];
      for (const c of text) {
        const id = ids.get(c);
        if (id === undefined) {
          throw new RangeError(`prompt: the character ${JSON.stringify(c)} (U+${c.codePointAt(0).toString(16).toUpperCase()
            .padStart(4, '0')}) is not in the model's vocabulary: ${JSON.stringify(chars.join(''))}`);
        }
        out.push(id);
      }
      return out;
    },
    decode: (list) => Array.from(list, (id) => chars[id]).join(''),
  };
}

/** The model on `engine` from the files' contents: { model, vocab, config }. */
export function loadCharGpt(engine, config, safetensorsBytes) {
  const vocab = charVocab(config);
  const model = engine.gpt2({ config, weights: loadSafetensors(safetensorsBytes) });
  return { model, vocab, config };
}

/** Prefills of warmUp: two of the pool chooser's trial intervals (src/engine.ts, PathChooser). */
const PREFILL_ROUNDS = 16;

/**
 * Runs generations and drops them: the first call uploads the weights into the engine, and the
 * first calls of each path run code that is not optimised yet (V8 compiles wasm functions in a
 * baseline tier first, JavaScript likewise), so none of that counts in a measured run. The
 * prompt's length decides the prefill's path (one row: the decoding kernels; more: the GEMM's),
 * so warm up with the length about to run: with a 1-token prompt the default prompt's prefill
 * took 24–26 ms in Node instead of about 2. Then PREFILL_ROUNDS prefills alone: on a pool engine
 * a prefill of this model (about 30 MFLOP) is above the threshold where the engine times the
 * pool against the calling thread and keeps the faster, and it tries the calling thread only
 * once every 8 such calls; with two warm-up generations the measured prefill went to the pool
 * (2 threads, first token 9.7–10.9 ms in Node and about 30 ms on the page's load, against 1–3 ms
 * on the calling thread once both ways are timed).
 */
export async function warmUp(model, promptLength = DEFAULTS.prompt.length) {
  const positions = model.config.nPositions;
  const prompt = new Array(Math.max(1, Math.min(promptLength, positions))).fill(0);
  const maxNewTokens = Math.min(24, positions - prompt.length + 1);
  for (let round = 0; round < 2; round++) for await (const _ of model.generate(prompt, { maxNewTokens }));
  for (let round = 0; round < PREFILL_ROUNDS; round++) for await (const _ of model.generate(prompt, { maxNewTokens: 1 }));
}

/**
 * The generate() options from the demo's controls: temperature 0 is greedy (then top-k, top-p
 * and the seed play no part and are not passed); topK 0 and topP 1 are "off".
 */
export function generateOptions({ maxNewTokens, temperature = 0, topK = 0, topP = 1, seed = 0 }) {
  const o = { maxNewTokens };
  if (temperature === 0) return o;
  o.temperature = temperature;
  o.seed = seed;
  if (topK !== 0) o.topK = topK;
  if (topP !== 1) o.topP = topP;
  return o;
}

/**
 * model.generate for one sequence, timed: yields { id, ms } per token, `ms` the time spent in
 * that step of the engine (the first step is the prefill of the prompt plus the first token).
 * What the caller does between steps (painting, printing) is not counted. Bad options throw
 * here, as model.generate does, before anything runs.
 */
export function timedGenerate(model, promptIds, options) {
  return timed(model.generate(promptIds, options));
}

async function* timed(steps) {
  for (;;) {
    const t = performance.now();
    const { value, done } = await steps.next();
    const ms = performance.now() - t;
    if (done) return;
    yield { id: value[0], ms };
  }
}

/**
 * The rates of a timed run (the `ms` of each step): the first token's time (prefill) and the
 * decoding rate over the other steps, in tokens per second (NaN with a single token).
 */
export function rates(stepMs) {
  const decodeMs = stepMs.slice(1).reduce((a, b) => a + b, 0);
  return {
    tokens: stepMs.length,
    firstMs: stepMs[0] ?? NaN,
    decodeMs,
    decodeTokensPerSecond: stepMs.length > 1 ? (stepMs.length - 1) / (decodeMs / 1e3) : NaN,
  };
}

/**
 * Attention over a whole text (prompt + generated, cut to config.n_positions): one forward pass
 * with outputAttentions. Returns { ids, maps } with maps[layer] = [n_head, L, L] (row = query,
 * column = key).
 */
export async function attentionMaps(model, ids) {
  const cut = ids.slice(0, model.config.nPositions);
  const { attentions } = await model.forward(cut, { batch: 1, seq: cut.length, outputAttentions: true });
  return { ids: cut, maps: attentions };
}

/** One head's [L, L] map, or the mean over heads when head is 'mean'. */
export function headMap(layerMap, heads, L, head) {
  if (head !== 'mean') return layerMap.subarray(head * L * L, (head + 1) * L * L);
  const mean = new Float32Array(L * L);
  for (let h = 0; h < heads; h++) for (let i = 0; i < L * L; i++) mean[i] += layerMap[h * L * L + i] / heads;
  return mean;
}
