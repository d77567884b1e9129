// The shipped char-GPT (models/char-gpt/) in a terminal: the prompt, then each generated character
// as it comes, on stdout; the rates (first token, decoding tokens per second) on stderr, so
// `> file` keeps only the text.
//   npm start -- --cli --generate "And the LORD said" [--max-tokens 100] [--temperature 0.8]
//     [--top-k 20] [--top-p 0.9] [--seed 0] [--threads 1]
// Temperature 0 (the default) is greedy; top-k and top-p then do nothing. Exit status 2 on a bad
// argument (a prompt character the model does not know, a value out of range), naming it.
import { readFile } from 'node:fs/promises';
import { createEngine } from '../../dist/index.js';
import { CHAR_GPT, DEFAULTS, charVocab, generateOptions, loadCharGpt, rates, timedGenerate, warmUp } from './char-gpt.js';

const USAGE = 'usage: npm start -- --cli --generate "prompt" [--max-tokens N] [--temperature T] [--top-k K] [--top-p P] ' +
  '[--seed S] [--threads N]';
const NUMBERS = { '--max-tokens': 'maxNewTokens', '--temperature': 'temperature', '--top-k': 'topK', '--top-p': 'topP',
  '--seed': 'seed', '--threads': 'threads' };

function fail(message) {
  process.stderr.write(`${message}\n${USAGE}\n`);
  process.exit(2);
}

/** The command line: { prompt, maxNewTokens, temperature, topK, topP, seed, threads }. */
function parse(argv) {
  const o = { ...DEFAULTS, threads: 1 };
  let prompt;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--cli') continue;
    if (a === '--generate') {
      prompt = argv[++i];
      if (prompt === undefined) fail('--generate: give the prompt after it');
    } else if (a in NUMBERS) {
      const text = argv[++i];
      const value = Number(text);
      if (text === undefined || text.trim() === '' || !Number.isFinite(value)) fail(`${a}: expected a number, got ${JSON.stringify(text)}`);
      o[NUMBERS[a]] = value;
    } else {
      fail(`unknown argument ${JSON.stringify(a)}`);
    }
  }
  if (prompt === undefined) fail('--generate: give the prompt after it');
  if (!Number.isInteger(o.threads) || o.threads < 1) fail(`--threads: expected a positive integer, got ${o.threads}`);
  return { ...o, prompt };
}

const args = parse(process.argv.slice(2));
const config = JSON.parse(await readFile(new URL('config.json', CHAR_GPT), 'utf8'));
let promptIds;
try {
  promptIds = charVocab(config).encode(args.prompt);
  if (promptIds.length === 0) throw new RangeError('prompt: give at least one character');
} catch (error) {
  fail(error.message);
}

const engine = await createEngine({ threads: args.threads });
try {
  const { model, vocab } = loadCharGpt(engine, config, await readFile(new URL('model.safetensors', CHAR_GPT)));
  let steps;
  try {
    steps = timedGenerate(model, promptIds, generateOptions(args)); // checks the options, runs nothing yet
  } catch (error) {
    if (error instanceof RangeError || error instanceof TypeError) fail(error.message);
    throw error;
  }
  await warmUp(model);
  process.stdout.write(args.prompt);
  const ms = [];
  for await (const { id, ms: stepMs } of steps) {
    ms.push(stepMs);
    process.stdout.write(vocab.decode([id]));
  }
  process.stdout.write('\n');
  const r = rates(ms);
  process.stderr.write(`\n${r.tokens} tokens on ${engine.threads} thread(s), ${engine.kernels} kernels: first token ` +
    `(prefill of ${promptIds.length}) ${r.firstMs.toFixed(2)} ms, decoding ${r.decodeTokensPerSecond.toFixed(0)} tokens/s ` +
    `(${(r.decodeMs / Math.max(1, r.tokens - 1)).toFixed(3)} ms per token)\n`);
  await model.dispose();
} finally {
  await engine.dispose();
}
