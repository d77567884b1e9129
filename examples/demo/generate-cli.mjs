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

/** A decimal number (no hex, no Infinity, no blanks). */
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** The command line: { prompt, maxNewTokens, temperature, topK, topP, seed, threads }, every
 * value checked here, whether or not the decoding (greedy by default) would use it. */
function parse(argv) {
  const o = { ...DEFAULTS, threads: 1 };
  const given = new Set();
  let prompt;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--cli') continue;
    if (a === '--generate') {
      if (prompt !== undefined) fail('--generate: given twice');
      prompt = argv[++i];
      if (prompt === undefined || prompt in NUMBERS || prompt === '--generate' || prompt === '--cli') fail('--generate: give the prompt after it');
    } else if (a in NUMBERS) {
      const text = argv[++i];
      if (text === undefined || !DECIMAL.test(text)) fail(`${a}: expected a number, got ${JSON.stringify(text)}`);
      o[NUMBERS[a]] = Number(text);
      given.add(a);
    } else {
      fail(`unknown argument ${JSON.stringify(a)}`);
    }
  }
  if (prompt === undefined) fail('--generate: give the prompt after it');
  const check = (flag, ok, want) => { if (!ok) fail(`${flag}: expected ${want}, got ${o[NUMBERS[flag]]}`); };
  check('--max-tokens', Number.isInteger(o.maxNewTokens) && o.maxNewTokens >= 1, 'a positive integer');
  check('--temperature', o.temperature >= 0, 'a number >= 0 (0: greedy)');
  check('--top-k', Number.isInteger(o.topK) && o.topK >= 0 && o.topK < 2 ** 31, 'an integer in [0, 2^31) (0: off)');
  check('--top-p', o.topP >= 0 && o.topP <= 1, 'a number in [0, 1] (1: off; 0 keeps the most likely token)');
  check('--seed', Number.isInteger(o.seed) && o.seed >= 0 && o.seed < 2 ** 32, 'an integer in [0, 2^32)');
  check('--threads', Number.isInteger(o.threads) && o.threads >= 1 && o.threads <= 256, 'an integer in 1..256');
  return { ...o, prompt, given };
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
const positions = config.n_positions;
if (promptIds.length > positions) fail(`prompt: ${promptIds.length} characters, more than the model's ${positions} positions`);
if (promptIds.length + args.maxNewTokens - 1 > positions && !args.given.has('--max-tokens')) {
  args.maxNewTokens = positions - promptIds.length + 1; // the default, cut to what the positions hold
} else if (promptIds.length + args.maxNewTokens - 1 > positions) {
  fail(`--max-tokens: ${args.maxNewTokens} after a prompt of ${promptIds.length} would pass the model's ${positions} positions: ` +
    `at most ${positions - promptIds.length + 1}`);
}
// `| head` closes the pipe early: stop quietly, as a terminal tool does; another write error
// (a full disk) is a one-line message and status 1. The error event comes on a later turn of
// the event loop, which a one-thread engine's steps (promise continuations only) never give
// it: the loop yields one turn per token (outside the timed steps).
process.stdout.on('error', (error) => {
  if (error.code === 'EPIPE') process.exit(0);
  process.stderr.write(`cannot write the text: ${error.message}\n`);
  process.exit(1);
});

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
  await warmUp(model, promptIds.length);
  process.stdout.write(args.prompt);
  const ms = [];
  for await (const { id, ms: stepMs } of steps) {
    ms.push(stepMs);
    process.stdout.write(vocab.decode([id]));
    await new Promise((resolve) => setImmediate(resolve));
  }
  process.stdout.write('\n');
  const r = rates(ms);
  const decoding = r.tokens > 1
    ? `, decoding ${r.decodeTokensPerSecond.toFixed(0)} tokens/s (${(r.decodeMs / (r.tokens - 1)).toFixed(3)} ms per token)` : '';
  process.stderr.write(`\n${r.tokens} tokens on ${engine.threads} thread(s), ${engine.kernels} kernels: first token ` +
    `(prefill of ${promptIds.length}) ${r.firstMs.toFixed(2)} ms${decoding}\n`);
  await model.dispose();
} finally {
  await engine.dispose();
}
