// The whole-model shapes of bench/shapes.mjs (kinds gpt2-prefill, gpt2-decode, bert-model), one
// implementation per process, called by bench/shape.mjs. Both sides get the same random state
// dict (bench/models.mjs): engine.gpt2 / engine.bert take it as a weights object, and ORT as the
// initializers of the graphs of ./peers/onnx-models.mjs.
//
// There is no plain-JS reference here (a GPT-2 prefill is 32 GFLOP), so the two implementations
// check each other: each process writes what it computed (logits or hidden states, and the greedy
// tokens) to bench/results/check/ and compares it with the other side's file when there is one.
// bench/run.mjs clears that folder first and runs ORT before ours in every round, so ours is
// always compared with the ORT run of the same bench, and ORT (from round 2) with ours.
//
// Shapes with `q8` (bench/shapes.mjs) run 8-bit weights on both sides: ORT the graph as
// transformers.js's q8 files hold it (quantize_dynamic with TRANSFORMERS_JS_Q8[shape.q8]), ours
// `quantize: 'int8'`. Their outputs differ by both sides' quantization error (bench/int8-accuracy.mjs
// measures each against fp32); the greedy tokens may differ too.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createEngine } from '../dist/index.js';
import { maxAbsDiff, median } from './harness.mjs';
import { GPT2_SMALL, MINILM_L6, bertWeights, gpt2DecodeWeightBytes, gpt2DecodeWeightBytesInt8, gpt2Flops, gpt2Weights, tokenIds } from './models.mjs';
import { TRANSFORMERS_JS_Q8 } from './peers/onnx-quantize.mjs';

export const MODEL_KINDS = new Set(['gpt2-prefill', 'gpt2-decode', 'bert-model']);

const checkDir = new URL('./results/check/', import.meta.url);
const checkFile = (name, side, ext) => new URL(`${name}.${side}.${ext}`, checkDir);

/** Saves this side's output and tokens; returns the max abs difference from the other side's
 * output (null before it has run) and whether the greedy tokens agree (null likewise). */
function crossCheck(name, side, output, tokens) {
  mkdirSync(checkDir, { recursive: true });
  writeFileSync(checkFile(name, side, 'f32'), new Uint8Array(output.buffer, output.byteOffset, output.byteLength));
  writeFileSync(checkFile(name, side, 'json'), JSON.stringify({ tokens: tokens ? Array.from(tokens) : null }));
  const other = side === 'ours' ? 'ort' : 'ours';
  if (!existsSync(checkFile(name, other, 'f32'))) return { maxDiff: null, tokensMatch: null };
  const theirs = new Float32Array(new Uint8Array(readFileSync(checkFile(name, other, 'f32'))).buffer);
  // A length that differs is a mismatch of the run (maxAbsDiff: Infinity), not a crash of it.
  const theirTokens = JSON.parse(readFileSync(checkFile(name, other, 'json'), 'utf8')).tokens;
  // Over the steps both ran (a --quick run decodes fewer).
  const tokensMatch = tokens && theirTokens ? tokens.every((t, i) => i >= theirTokens.length || t === theirTokens[i]) : null;
  return { maxDiff: maxAbsDiff(output, theirs), tokensMatch };
}

/** Index of the largest value (greedy decoding; the first on a tie, as torch.argmax). */
function argmax(row) {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
}

/** Times a generator of steps: `warmup` untimed steps after the first (the prefill), then
 * `timed` steps; returns the median and minimum step in ms and every token. */
async function timeSteps(steps, warmup, timed) {
  const times = [], tokens = [];
  let t = performance.now();
  for await (const token of steps) {
    const now = performance.now();
    if (tokens.length > warmup) times.push(now - t);
    tokens.push(token);
    t = performance.now();
    if (tokens.length === 1 + warmup + timed) break;
  }
  return { median: median(times), min: Math.min(...times), runs: times.length, steps: times, tokens };
}

/**
 * Runs one model shape with one implementation and emits its rows.
 * @param {string} name  the shape's key in SHAPES
 * @param {object} shape
 * @param {'ours' | 'ort'} impl
 * @param {{ threads: number, quick: boolean, timing: object, measure: Function, emit: (row: object) => void }} o
 */
export async function runModelShape(name, shape, impl, { threads, quick, timing, measure, emit }) {
  const gpt2 = shape.kind !== 'bert-model';
  const config = gpt2 ? GPT2_SMALL : MINILM_L6;
  const weights = gpt2 ? gpt2Weights(config) : bertWeights(config);
  const V = config.vocab_size;
  const decode = shape.kind === 'gpt2-decode';
  const ids = tokenIds(decode ? shape.context : shape.batch * shape.seq, V, 11);
  const steps = quick ? { warmup: 1, timed: 3 } : { warmup: shape.warmupSteps, timed: shape.timedSteps };
  const q8 = shape.q8 ? TRANSFORMERS_JS_Q8[shape.q8] : undefined;
  const weightBytes = decode ? (q8 ? gpt2DecodeWeightBytesInt8(config) : gpt2DecodeWeightBytes(config)) : undefined;

  if (impl === 'ort') {
    const { createOrtPeer } = await import('./peers/onnxruntime.mjs');
    const peer = await createOrtPeer({ threads });
    const impl = `onnxruntime-web ${peer.version}${q8 ? ` q8 (${q8.perChannel ? 'per-channel' : 'per-tensor'}${q8.reduceRange ? ', reduce_range' : ''})` : ''}`;
    if (shape.kind === 'bert-model') {
      const model = await peer.bert({ config, weights, q8 });
      const run = () => model.run(ids, shape);
      const out = await run();
      const t = await measure(run, timing);
      emit({ impl: `${impl} (last_hidden_state)`, threads, ...t, ...crossCheck(name, 'ort', out) });
    } else if (!decode) {
      const model = await peer.gpt2({ config, weights, q8 });
      const run = () => model.run(ids);
      const out = await run();
      const t = await measure(run, timing);
      const tokens = [argmax(out.logits.subarray((shape.seq - 1) * V))];
      emit({ impl: `${impl} (full logits + present K/V)`, threads, ...t, ...crossCheck(name, 'ort', out.logits, tokens) });
    } else {
      const model = await peer.gpt2({ config, weights, q8 });
      // transformers.js's loop: the prompt with an empty past, then one token per call, each
      // call's present fed back as the next call's past.
      let firstStep;
      async function* loop() {
        let { logits, present } = await model.run(ids);
        for (;;) {
          const token = argmax(logits.subarray(logits.length - V));
          yield token;
          ({ logits, present } = await model.run(Int32Array.of(token), present));
          firstStep ??= logits.slice();
        }
      }
      const { tokens, ...t } = await timeSteps(loop(), steps.warmup, steps.timed);
      emit({ impl: `${impl} (past_key_values in, present out)`, threads, ...t, weightBytes, ...crossCheck(name, 'ort', firstStep, tokens) });
    }
    await peer.dispose();
    return;
  }

  // Ours: every kernel build, threads 1..cores, as the other shapes.
  const probe = await createEngine();
  const builds = probe.features.relaxedSimd ? ['simd', 'relaxed'] : ['simd'];
  await probe.dispose();
  const cores = (await import('node:os')).availableParallelism();
  let check, firstLogits; // decode: the first configuration's logits (from a forward) and their check
  const quantize = q8 ? { quantize: 'int8' } : {};
  for (const kernels of builds) {
    for (let t = 1; t <= cores; t++) {
      const engine = await createEngine({ threads: t, kernels });
      const impl = `wasm-attention ${kernels}${q8 ? ' int8' : ''}`;
      const gpt2Model = gpt2 ? engine.gpt2({ config, weights, ...quantize }) : undefined;
      if (shape.kind === 'bert-model') {
        const model = engine.bert({ config, weights, ...quantize });
        const mask = new Uint8Array(ids.length).fill(1);
        const run = async () => (await model.forward(ids, { batch: shape.batch, seq: shape.seq, attentionMask: mask })).lastHiddenState;
        // Every configuration's own output against ORT's (a broken path must not borrow a result).
        const check = crossCheck(name, 'ours', await run());
        emit({ impl: `${impl} (lastHiddenState)`, threads: t, ...(await measure(run, timing)), ...check });
      } else if (!decode) {
        const model = gpt2Model;
        const forward = async () => (await model.forward(ids, { batch: 1, seq: shape.seq })).logits;
        const out = await forward();
        const check = crossCheck(name, 'ours', out, [argmax(out.subarray((shape.seq - 1) * V))]);
        emit({ impl: `${impl} (forward: full logits)`, threads: t, ...(await measure(forward, timing)), ...check });
        // generate's prefill: K/V written to the resident cache, logits of the last position only.
        const prefill = async () => {
          for await (const token of model.generate(ids, { maxNewTokens: 1 })) return token[0];
        };
        // Its token must be the forward's greedy token (and that one ORT's, as checked above).
        const same = (await prefill()) === argmax(out.subarray((shape.seq - 1) * V));
        emit({ impl: `${impl} (generate prefill: K/V resident, last-position logits)`, threads: t, ...(await measure(prefill, timing)),
          flops: gpt2Flops(config, { seq: shape.seq, logitRows: 1 }),
          maxDiff: check.maxDiff, tokensMatch: check.tokensMatch === null ? same && null : check.tokensMatch && same });
      } else {
        const model = gpt2Model;
        const { tokens, ...time } = await timeSteps((async function* () {
          for await (const token of model.generate(ids, { maxNewTokens: 1 + steps.warmup + steps.timed })) yield token[0];
        })(), steps.warmup, steps.timed);
        if (!check) {
          // The first decode step's logits: the last row of a forward over the prompt and its first token.
          const all = new Int32Array(ids.length + 1);
          all.set(ids);
          all[ids.length] = tokens[0];
          const logits = (await model.forward(all, { batch: 1, seq: all.length })).logits;
          firstLogits = logits.slice(ids.length * V);
          check = crossCheck(name, 'ours', firstLogits, tokens);
        }
        // The logits are checked once (a forward over the prompt and its first token); the tokens
        // of every configuration's own timed loop against ORT's.
        emit({ impl: `${impl} (generate: K/V resident)`, threads: t, ...time, weightBytes, maxDiff: check.maxDiff,
          tokensMatch: crossCheck(name, 'ours', firstLogits, tokens).tokensMatch });
      }
      await engine.dispose();
    }
  }
}
