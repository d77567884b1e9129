// GPT2.generate: autoregressive decoding with a KV cache resident in the engine. Per layer, K and
// V live in [batch, rows, n_embd] blocks kept between calls, rows = promptLength + maxNewTokens − 1
// (the positions this generation feeds the model, at most n_positions); each step's K/V projection
// GEMMs write straight into the rows at the current position, and the attention reads head h as
// the strided view k + h·d, row stride n_embd, over past + 1 keys. The prompt is one causal call
// (prefill); then one call per token, whose logits are read out for the last position only.
import type { Gpt2Generation, Gpt2GenerateOptions } from '../types.js';
import { dim, elements, keysOf, options } from '../validate.js';
import { rangeError, typeError } from '../errors.js';
import { ARENA_BASE, MAX_PAGES, PAGE_BYTES } from '../wasm/layout.js';
import type { ModuleHost, ModuleWeights } from '../ops/modules.js';
import {
  buildStep, F32_MIN, maskValues, tokenIds, type Gpt2Hparams, type Gpt2Weights, type KvBlocks, type StepProgram,
} from './gpt2.js';
import { penalize, pick, prng, unsampleable, type Sampling } from './sampling.js';
import { asyncDisposer } from '../disposable.js';

const OP = 'GPT2.generate';
const KEYS = keysOf<Gpt2GenerateOptions>({
  batch: true, attentionMask: true, maxNewTokens: true, temperature: true, topK: true, topP: true, seed: true, stopTokens: true,
  repetitionPenalty: true,
});

/** The KV cache block of one iterator (-1 before it is kept and once it is released). */
interface CacheLease {
  host: ModuleHost;
  base: number;
  /** The model until the loop ends: the running iterator and `abandoned` hold the lease, so a
   * model that only its iterator refers to (`engine.gpt2(…).generate(…)`) keeps its weights
   * while it generates, and not after (not in the context: a finished generator keeps that). */
  model: object | undefined;
}

/** Releases the cache of an iterator that was dropped unfinished: a loop that stops calling
 * next() without break or return never reaches the iterator's finally, and would otherwise
 * keep its cache (75.5 MB for GPT-2 small) for the engine's life. */
const abandoned = typeof FinalizationRegistry === 'function'
  ? new FinalizationRegistry<CacheLease>((lease) => {
    const { host, base } = lease;
    if (base < 0) return;
    lease.base = -1;
    void host.task((arena) => arena.release(base)).catch(() => undefined);
  })
  : undefined;

export interface GenerateContext {
  hp: Gpt2Hparams;
  m: Gpt2Weights;
  weights: ModuleWeights;
  host: ModuleHost;
}

/** A non-negative integer option (topK: 0 = off). */
function count(name: string, value: unknown): number {
  if (typeof value !== 'number') throw typeError(OP, name, 'a number', value);
  if (!(Number.isInteger(value) && value >= 0 && value <= 0x7fffffff)) {
    throw rangeError(OP, name, `must be an integer in [0, 2^31), got ${value}`);
  }
  return value;
}

function positive(name: string, value: unknown, fallback: number, max = Infinity, zero = false): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number') throw typeError(OP, name, 'a number', value);
  if (!(Number.isFinite(value) && (zero ? value >= 0 : value > 0) && value <= max)) {
    const range = max === Infinity ? (zero ? '>= 0' : '> 0') : `in ${zero ? '[0' : '(0'}, ${max}]`;
    throw rangeError(OP, name, `must be a finite number ${range}, got ${value}`);
  }
  return value;
}

/** Checks the call now (a bad argument throws before anything is queued), then returns the
 * iterator: one Int32Array [batch] of new token ids per step. */
export function generate(
  ctx: GenerateContext, model: object, promptIds: Int32Array | readonly number[], opts: Gpt2GenerateOptions,
): Gpt2Generation {
  const { hp } = ctx;
  const o = options(OP, 'options', opts, false, KEYS) as Partial<Gpt2GenerateOptions>;
  const B = o.batch === undefined ? 1 : dim(OP, 'options.batch', o.batch);
  if (!Array.isArray(promptIds) && !ArrayBuffer.isView(promptIds)) {
    throw typeError(OP, 'promptIds', 'an Int32Array or an array of token ids', promptIds);
  }
  const total = (promptIds as ArrayLike<number>).length;
  if (total % B !== 0 || total === 0) {
    throw rangeError(OP, 'promptIds', `has length ${total}, expected a positive multiple of options.batch (${B})`);
  }
  const P = total / B;
  // A copy: the iterator reads the prompt at its first next(), the caller may change it before.
  const prompt = tokenIds(OP, 'promptIds', promptIds, hp, total, `batch·promptLength = ${B}·${P}`);
  const maxNew = dim(OP, 'options.maxNewTokens', o.maxNewTokens);
  // The model is fed the prompt and every new token but the last: P + maxNew − 1 positions.
  if (P > hp.positions) {
    throw rangeError(OP, 'promptIds', `holds prompts of ${P} tokens, more than config.n_positions (${hp.positions})`);
  }
  if (P + maxNew - 1 > hp.positions) {
    throw rangeError(OP, 'options.maxNewTokens', `(${maxNew}) plus the prompt (${P}) would pass config.n_positions ` +
      `(${hp.positions}): at most ${hp.positions - P + 1} new tokens`);
  }
  // temperature 0 (the default) is greedy whatever topK / topP say, as HF's do_sample=False;
  // topK 0 and topP 1 turn their warper off, as in HF.
  const temperature = positive('options.temperature', o.temperature, 0, Infinity, true);
  const topK = o.topK === undefined ? 0 : count('options.topK', o.topK);
  const topP = positive('options.topP', o.topP, 1, 1, true);
  const s: Sampling = {
    greedy: temperature === 0,
    temperature: temperature === 0 ? 1 : temperature, topK, topP,
    repetitionPenalty: positive('options.repetitionPenalty', o.repetitionPenalty, 1),
  };
  if (o.seed !== undefined && typeof o.seed !== 'number') throw typeError(OP, 'options.seed', 'an integer', o.seed);
  if (o.seed !== undefined && !(Number.isInteger(o.seed) && o.seed >= 0 && o.seed < 2 ** 32)) {
    throw rangeError(OP, 'options.seed', `must be an integer in [0, 2^32) (the PRNG's 32-bit state), got ${o.seed}`);
  }
  let stop: Int32Array = new Int32Array(0);
  if (o.stopTokens !== undefined) {
    const ids = o.stopTokens as unknown;
    const n = Array.isArray(ids) || ArrayBuffer.isView(ids) ? (ids as ArrayLike<number>).length : -1;
    if (n < 0) throw typeError(OP, 'options.stopTokens', 'an Int32Array or an array of token ids', ids);
    stop = tokenIds(OP, 'options.stopTokens', ids, hp, n, 'token ids');
  }
  // The cache holds the positions this generation feeds the model, not n_positions: GPT-2 small's
  // 1024 would take 75.5 MB per sequence, a 24-token reply to a 40-token prompt 4.6 MB.
  const rows = P + maxNew - 1;
  elements(OP, 'KV cache', hp.layers, 2, B, rows, hp.embd);
  const cacheBytes = 2 * hp.layers * B * rows * hp.embd * 4;
  if (cacheBytes > MAX_PAGES * PAGE_BYTES - ARENA_BASE) {
    const limit = `more than the engine's ${MAX_PAGES * PAGE_BYTES - ARENA_BASE} bytes of memory less its fixed regions`;
    throw B > 1
      ? rangeError(OP, 'options.batch', `(${B}) needs a KV cache of ${cacheBytes} bytes (2·n_layer·batch·(promptLength + maxNewTokens − 1)·n_embd·4), ${limit}; generate fewer sequences at once`)
      : rangeError(OP, 'options.maxNewTokens', `(${maxNew}) with a prompt of ${P} needs a KV cache of ${cacheBytes} bytes (2·n_layer·(promptLength + maxNewTokens − 1)·n_embd·4), ${limit}`);
  }
  const padding = o.attentionMask === undefined ? undefined : promptPadding(o.attentionMask, B, P, hp.positions);
  const lease: CacheLease = { host: ctx.host, base: -1, model };
  const iterator = run(ctx, lease, prompt, B, P, rows, maxNew, s, prng(o.seed ?? 0), new Set(stop), stop[0] ?? 0, padding);
  abandoned?.register(iterator, lease, lease);
  // `await using`: return() (the cache given back), as a runtime with explicit resource management
  // gives every async generator; where only the symbol exists (Node 20), the iterator's own.
  if (!(Symbol.asyncDispose in iterator)) Object.assign(iterator, asyncDisposer(async () => { await iterator.return(undefined); }));
  return iterator as Gpt2Generation;
}

/** What a prompt mask fixes for the whole loop, as HF's generate derives it from attention_mask
 * (GPT-2's prepare_inputs_for_generation): the key bias, and the position ids. */
interface PromptPadding {
  /** f32 [B, n_positions]: finfo.min at each padded prompt position, 0 elsewhere (the tokens
   * generated later attend: HF extends the mask with ones). */
  keyBias: Float32Array;
  /** The prompt's position ids [B·P]: cumsum(mask) − 1, and 1 where the mask is 0. */
  positions: Int32Array;
  /** Attended prompt tokens per sequence: the k-th generated token (k = 1, 2, ...) that is fed
   * back sits at position attended[b] + k − 1. */
  attended: Int32Array;
}

/** Checks options.attentionMask (0/1, [B, P]) and derives the loop's key bias and positions. */
function promptPadding(value: unknown, B: number, P: number, rows: number): PromptPadding {
  const mask = maskValues(OP, 'options.attentionMask', value, B * P, `batch·promptLength = ${B}·${P}`);
  const keyBias = new Float32Array(B * rows), positions = new Int32Array(B * P), attended = new Int32Array(B);
  for (let b = 0; b < B; b++) {
    let count = 0;
    for (let t = 0; t < P; t++) {
      const m = mask[b * P + t];
      if (m !== 0 && m !== 1) {
        throw rangeError(OP, `options.attentionMask[${b * P + t}]`, `must be 0 (padding) or 1 (attend), got ${m}`);
      }
      count += m;
      positions[b * P + t] = m === 1 ? count - 1 : 1;
      if (m === 0) {
        keyBias[b * rows + t] = Math.fround(F32_MIN);
        // HF's position 1 at padding: wpe needs that row.
        if (rows < 2) throw rangeError(OP, `options.attentionMask[${b * P + t}]`, 'is 0 (padding, HF\'s position 1), but config.n_positions is 1');
      }
    }
    attended[b] = count;
  }
  return { keyBias, positions, attended };
}

async function* run(
  ctx: GenerateContext, lease: CacheLease, prompt: Int32Array, B: number, P: number, rows: number, maxNew: number, s: Sampling,
  random: () => number, stop: Set<number>, pad: number, padding?: PromptPadding,
): AsyncGenerator<Int32Array, void, undefined> {
  const { hp, m, weights, host } = ctx;
  const block = B * rows * hp.embd * 4;
  // The cache: K and V per layer, [B, rows, E] each, resident until the iterator ends (or,
  // dropped unfinished, is collected: `abandoned`).
  const base = lease.base = await host.task((arena) => arena.keep(2 * hp.layers * block, {
    what: `GPT2.generate's KV cache for ${B} sequence${B === 1 ? '' : 's'}, resident until the iterator ends`,
    hint: B > 1 ? 'generate fewer sequences at once (options.batch), fewer new tokens, or dispose tensors, models and other iterators'
      : 'generate fewer new tokens (options.maxNewTokens) from a shorter prompt, or dispose tensors, models and other iterators',
  }));
  const cache: KvBlocks = {
    k: Array.from({ length: hp.layers }, (_, i) => base + 2 * i * block),
    v: Array.from({ length: hp.layers }, (_, i) => base + (2 * i + 1) * block),
    rows,
  };
  const seen: number[][] = Array.from({ length: B }, (_, b) => Array.from(prompt.subarray(b * P, (b + 1) * P)));
  const done = new Uint8Array(B);
  // The last position's logits, read into one buffer for the whole loop (penalized in place).
  const logitsRow = new Float32Array(B * hp.vocab);
  try {
    let ids = prompt, past = 0, L = P;
    // The last step's program: each decode step patches it (buildStep) rather than building
    // its phases again (GPT-2 small: about 120 f32, 170 int8).
    let built: StepProgram | undefined;
    // With a mask: the key bias keeps one [B, n_positions] layout for the whole loop, so each
    // decoding step patches the last one's program as without it.
    const masked = padding ? { keyBias: padding.keyBias, keyBiasRows: hp.positions } : {};
    const stepPositions = new Int32Array(B);
    for (let step = 0; step < maxNew; step++) {
      let positions: Int32Array | undefined;
      if (padding && step === 0) positions = padding.positions;
      else if (padding) {
        for (let b = 0; b < B; b++) stepPositions[b] = padding.attended[b] + step - 1;
        positions = stepPositions;
      }
      const logits = await weights.call('generate', (arena, threads) => {
        built = buildStep(arena, threads, hp, m, ids,
          { batch: B, seq: L, past, outputAttentions: false, lastOnly: true, ...masked, positions }, cache, built);
        const { program, run: r } = built;
        return { program, collect: () => arena.readF32Into(r.logits, logitsRow) };
      });
      const next = new Int32Array(B);
      for (let b = 0; b < B; b++) {
        // A sequence past its stop token gets the first stop token and draws no random number:
        // HF pads finished sequences with pad_token_id, which it takes from eos_token_id[0] when
        // unset (GPT-2 has none).
        if (done[b] !== 0) {
          next[b] = pad;
          continue;
        }
        const row = logits.subarray(b * hp.vocab, (b + 1) * hp.vocab);
        // NaN logits (NaN weights or inputs reach them): greedy takes the first, as torch.argmax;
        // sampling has no distribution to draw from there, nor where a logit is +inf or every
        // logit −inf, and HF's torch.multinomial raises on each.
        const bad = s.greedy ? undefined : unsampleable(row);
        if (bad !== undefined) {
          throw rangeError(OP, `the logits of sequence ${b} at step ${step}`,
            `${bad}: sampling needs finite logits, as HF's does (greedy decoding, temperature 0, takes torch.argmax's token: the first NaN, else the first of the largest)`);
        }
        const wide = penalize(row, seen[b], s.repetitionPenalty);
        next[b] = pick(row, s, random, wide);
        seen[b].push(next[b]);
        if (stop.has(next[b])) done[b] = 1;
      }
      // The caller gets its own array: what it does with it cannot change the next step's input.
      yield next.slice();
      if (done.every((x) => x === 1)) return;
      past += L;
      L = 1;
      ids = next;
    }
  } finally {
    abandoned?.unregister(lease);
    lease.base = -1;
    lease.model = undefined;
    await host.task((arena) => arena.release(base)).catch(() => undefined);
  }
}
