// Accuracy of engine.gpt2 with quantize: 'int8' against the same model in f32 (which matches
// PyTorch fp32 to 2e-4, test/models/gpt2.test.ts), no timing:
//   fixtures   the golden GPT-2 fixture models (test/fixtures/gpt2/, make_gpt2_fixtures.py): six
//              random sequences of n_positions tokens each (648 prefill positions in all), top-1
//              agreement of the logits per position and their relative RMS error, once per token
//              seed (--seeds=77,78,79,80 by default: the figures move with the tokens, so the
//              README gives their range, not one draw);
//   gpt2-small GPT-2 small's geometry with the benchmark's random weights (bench/models.mjs,
//              uniform at about HF's init scale: logits within about ±1, so close calls between
//              the top two are common), one prefill of 128 tokens: the same two figures
//              (onnxruntime's q8 measured 5.3% and 124/128 in issue 16, on a model not given);
//   char-gpt   the shipped char-GPT (models/char-gpt/): greedy generation of 200 tokens after
//              each of greedy.json's 6 prompts, int8 against f32: tokens before the first
//              divergence.
//   node bench/gpt2-int8-accuracy.mjs [--skip-small] [--seeds=77,78,79,80]
// Needs dist/ (npm run build). Prints one JSON line per model.
import { readFileSync } from 'node:fs';
import { createEngine, loadSafetensors } from '../dist/index.js';
import { GPT2_SMALL, gpt2Weights, tokenIds } from './models.mjs';

const skipSmall = process.argv.includes('--skip-small');
const seedsArg = process.argv.find((a) => a.startsWith('--seeds='));
const seeds = (seedsArg ? seedsArg.slice('--seeds='.length) : '77,78,79,80').split(',').map(Number);
if (seeds.some((x) => !Number.isInteger(x))) throw new RangeError(`--seeds: integers separated by commas, got ${seedsArg}`);
const root = new URL('../', import.meta.url);
const engine = await createEngine({ threads: 1 });

/** Top-1 agreement and relative RMS error of int8 logits against f32 ones, [rows, vocab]. */
function compare(f32, int8, vocab) {
  let num = 0, den = 0, agree = 0;
  for (let i = 0; i < f32.length; i++) { num += (int8[i] - f32[i]) ** 2; den += f32[i] ** 2; }
  const rows = f32.length / vocab;
  for (let r = 0; r < rows; r++) agree += argmax(f32, r * vocab, vocab) === argmax(int8, r * vocab, vocab) ? 1 : 0;
  return { positions: rows, top1Agree: agree, relRms: num / den, sumSq: { num, den } };
}
function argmax(x, from, n) {
  let best = 0;
  for (let j = 1; j < n; j++) if (x[from + j] > x[from + best]) best = j;
  return best;
}

async function both(config, weights, ids, batch, seq) {
  const out = [];
  for (const quantize of [undefined, 'int8']) {
    const model = engine.gpt2({ config, weights, quantize });
    out.push((await model.forward(ids, { batch, seq })).logits);
    await model.dispose();
  }
  return compare(out[0], out[1], config.vocab_size);
}

const report = (what, c) => console.log(JSON.stringify({
  what, positions: c.positions, top1Agree: c.top1Agree, top1AgreePct: +(100 * c.top1Agree / c.positions).toFixed(2),
  relRmsPct: +(100 * Math.sqrt(c.sumSq.num / c.sumSq.den)).toFixed(2),
}));

// Fixtures: 6 sequences of n_positions random tokens per model, per seed.
const fixtures = ['tiny-f32', 'small-f16', 'odd-untied', 'bf16-buffers'].map((name) => {
  const dir = new URL(`test/fixtures/gpt2/${name}/`, root);
  const config = JSON.parse(readFileSync(new URL('config.json', dir), 'utf8'));
  return { name, config, weights: loadSafetensors(readFileSync(new URL('model.safetensors', dir))) };
});
for (const seed of seeds) {
  const total = { positions: 0, top1Agree: 0, sumSq: { num: 0, den: 0 } };
  for (const { name, config, weights } of fixtures) {
    const B = 6, L = config.n_positions;
    const c = await both(config, weights, tokenIds(B * L, config.vocab_size, seed), B, L);
    report(`fixture ${name} (n_embd ${config.n_embd}, ${config.n_layer} layers), token seed ${seed}`, c);
    total.positions += c.positions; total.top1Agree += c.top1Agree;
    total.sumSq.num += c.sumSq.num; total.sumSq.den += c.sumSq.den;
  }
  report(`fixtures, all positions, token seed ${seed}`, total);
}

if (!skipSmall) {
  const ids = tokenIds(128, GPT2_SMALL.vocab_size, 5);
  report('GPT-2 small geometry, bench weights, prefill 128', await both(GPT2_SMALL, gpt2Weights(GPT2_SMALL), ids, 1, 128));
}

// char-GPT: greedy, 200 tokens per prompt.
{
  const dir = new URL('models/char-gpt/', root);
  const config = JSON.parse(readFileSync(new URL('config.json', dir), 'utf8'));
  const weights = loadSafetensors(readFileSync(new URL('model.safetensors', dir)));
  const greedy = JSON.parse(readFileSync(new URL('greedy.json', dir), 'utf8'));
  const models = [engine.gpt2({ config, weights }), engine.gpt2({ config, weights, quantize: 'int8' })];
  const prompts = [];
  for (const item of greedy.items) {
    const [f32, int8] = await Promise.all(models.map(async (m) => {
      const out = [];
      for await (const t of m.generate(item.promptIds, { maxNewTokens: 200 })) out.push(t[0]);
      return out;
    }));
    const agree = f32.findIndex((t, i) => t !== int8[i]);
    prompts.push({
      prompt: item.prompt, f32EqualsPytorch: f32.every((t, i) => t === item.outputIds[i]),
      firstDivergence: agree < 0 ? null : agree, samePositions: f32.filter((t, i) => t === int8[i]).length,
    });
  }
  console.log(JSON.stringify({
    what: 'char-gpt greedy, 6 prompts x 200 tokens, int8 vs f32',
    identical: prompts.filter((p) => p.firstDivergence === null).length, prompts,
  }));
  await Promise.all(models.map((m) => m.dispose()));
}
await engine.dispose();
