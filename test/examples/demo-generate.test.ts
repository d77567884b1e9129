// `npm start -- --cli --generate "prompt"` (examples/demo/generate-cli.mjs, through start.mjs):
// what it streams to stdout is the prompt and then exactly the tokens engine.gpt2(...).generate
// gives with the same options (greedy and seeded sampling, threads 1 and 2), greedy equals
// PyTorch's (models/char-gpt/greedy.json); stderr has the rates; a bad argument exits 2 naming
// it. Also the demo's char-GPT helpers (examples/demo/char-gpt.js) that the page shares.
import { execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createEngine, loadSafetensors } from '../../dist/index.js';
import { charGptOnOneThread, CHAR_GPT_DIR as DIR } from '../helpers/char-gpt.js';
// @ts-expect-error: a plain ES module of the example, no types
import { charVocab, generateOptions, rates, warmUp } from '../../examples/demo/char-gpt.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const config = JSON.parse(readFileSync(new URL('config.json', DIR), 'utf8'));
const greedy = JSON.parse(readFileSync(new URL('greedy.json', DIR), 'utf8')) as
  { items: { prompt: string; promptIds: number[]; output: string; outputIds: number[] }[] };
const vocab = charVocab(config) as { encode(text: string): number[]; decode(ids: number[]): string };

interface Run { code: number | null; stdout: string; stderr: string }
/** Runs the CLI as `npm start -- --cli --generate …` does after its build (dist/ must be built). */
const cli = (...args: string[]): Promise<Run> => new Promise((resolve) => {
  execFile(process.execPath, ['examples/demo/start.mjs', '--cli', '--generate', ...args], { cwd: ROOT, timeout: 120_000 },
    (error, stdout, stderr) => resolve({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, stdout, stderr }));
});

const charGpt = charGptOnOneThread(config);

async function engineText(prompt: string, options: Record<string, number>): Promise<string> {
  const ids: number[] = [];
  for await (const next of charGpt.model().generate(vocab.encode(prompt), options as never)) ids.push(next[0]!);
  return vocab.decode(ids);
}

describe('npm start -- --cli --generate', () => {
  it.each([1, 2])('greedy, threads %i: the prompt, then the engine\'s greedy tokens; rates on stderr', async (threads) => {
    const prompt = 'And the LORD said', n = 24;
    const run = await cli(prompt, '--max-tokens', String(n), '--threads', String(threads));
    expect(run.code, run.stderr).toBe(0);
    const want = await engineText(prompt, { maxNewTokens: n });
    expect(want.length).toBe(n);
    expect(run.stdout).toBe(`${prompt}${want}\n`);
    const rate = new RegExp(`^${n} tokens on ${threads} thread\\(s\\), \\w+ kernels: first token \\(prefill of ${prompt.length}\\) ` +
      '([0-9.]+) ms, decoding ([0-9]+) tokens/s', 'm').exec(run.stderr);
    expect(rate, run.stderr).not.toBeNull();
    expect(Number(rate![1])).toBeGreaterThan(0);
    expect(Number(rate![2])).toBeGreaterThan(0);
  });

  it('greedy equals PyTorch\'s (greedy.json) for 40 tokens', async () => {
    const item = greedy.items[1]!;
    const run = await cli(item.prompt, '--max-tokens', '40');
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toBe(`${item.prompt}${item.output.slice(0, 40)}\n`);
  });

  it('seeded sampling (temperature, top-k, top-p) gives the engine\'s tokens, and the seed matters', async () => {
    const prompt = 'Blessed are';
    const [a, b] = await Promise.all([
      cli(prompt, '--max-tokens', '30', '--temperature', '0.9', '--top-k', '20', '--top-p', '0.95', '--seed', '11', '--threads', '2'),
      cli(prompt, '--max-tokens', '30', '--temperature', '0.9', '--top-k', '20', '--top-p', '0.95', '--seed', '12'),
    ]);
    expect(a.code, a.stderr).toBe(0);
    expect(b.code, b.stderr).toBe(0);
    const options = { maxNewTokens: 30, temperature: 0.9, topK: 20, topP: 0.95 };
    expect(a.stdout).toBe(`${prompt}${await engineText(prompt, { ...options, seed: 11 })}\n`);
    expect(b.stdout).toBe(`${prompt}${await engineText(prompt, { ...options, seed: 12 })}\n`);
    expect(a.stdout).not.toBe(b.stdout);
  });

  it('without --max-tokens, a long prompt generates what the positions leave (the default is cut, not an error)', async () => {
    const prompt = 'And the LORD said unto Moses, '.repeat(8).slice(0, 230);
    const run = await cli(prompt);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout.length).toBe(230 + 256 - 230 + 1 + 1); // the prompt, 27 characters, a newline
    expect(run.stderr).toMatch(/27 tokens on 1 thread/);
  });

  it.each([
    [['Caf\u00e9'], /"\u00e9" \(U\+00E9\) is not in the model's vocabulary/],
    [['The', '--max-tokens', '0'], /--max-tokens: expected a positive integer, got 0/],
    [['The', '--max-tokens', '300'], /--max-tokens: 300 after a prompt of 3 would pass the model's 256 positions: at most 254/],
    [['The', '--max-tokens', '0x10'], /--max-tokens: expected a number, got "0x10"/],
    [['x'.repeat(300)], /prompt: 300 characters, more than the model's 256 positions/],
    [['The', '--temperature', '-1'], /--temperature: expected a number >= 0/],
    [['The', '--top-p', '1.5', '--temperature', '1'], /--top-p: expected a number in \[0, 1\]/],
    [['The', '--top-p', '1.5'], /--top-p: expected a number in \[0, 1\]/], // checked under greedy decoding too
    [['The', '--top-k', '-1'], /--top-k: expected an integer in \[0, 2\^31\)/],
    [['The', '--top-k', '1e30'], /--top-k: expected an integer in \[0, 2\^31\)/], // checked under greedy decoding too
    [['The', '--seed', '1.5'], /--seed: expected an integer in \[0, 2\^32\), got 1\.5/],
    [['The', '--seed', '-1'], /--seed: expected an integer in \[0, 2\^32\), got -1/],
    [['The', '--top-k', 'many'], /--top-k: expected a number, got "many"/],
    [['The', '--threads', '0'], /--threads: expected an integer in 1\.\.256/],
    [['The', '--verbose'], /unknown argument "--verbose"/],
    [['The', '--generate', 'again'], /--generate: given twice/],
    [['--max-tokens', '5'], /--generate: give the prompt after it/],
    [[], /--generate: give the prompt/],
    [[''], /prompt: give at least one character/],
  ])('bad argument %j: exit 2, stderr names it, nothing on stdout', async (args, message) => {
    const run = await cli(...args);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(message);
    expect(run.stderr).toMatch(/^usage: npm start -- --cli --generate/m);
    expect(run.stdout).toBe('');
  });
});

describe('npm start -- --cli: the terminal tools stop cleanly', () => {
  it('a reader that closes the pipe early (| head -c 10) stops the generation at once, status 0', async () => {
    const child = spawn(process.execPath, ['examples/demo/start.mjs', '--cli', '--generate', 'And', '--max-tokens', '250'],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const first = await new Promise<string>((resolve) => child.stdout.once('data', (d: Buffer) => resolve(d.toString())));
    child.stdout.destroy(); // as head does once it has its bytes
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(first.startsWith('And')).toBe(true);
    expect(code).toBe(0);
    expect(stderr, 'no rates line: it stopped before the end').not.toMatch(/tokens on 1 thread/);
  });

  it('the attention CLI, read by a reader that closes the pipe early (| head -3): status 0, no stack trace', async () => {
    const child = spawn(process.execPath, ['examples/demo/start.mjs', '--cli', 'one two three four five six seven eight nine ten eleven twelve'],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const first = await new Promise<string>((resolve) => child.stdout.once('data', (d: Buffer) => resolve(d.toString())));
    child.stdout.destroy();
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(first).toMatch(/Head-averaged attention/);
    expect(code, stderr).toBe(0);
    expect(stderr).not.toMatch(/EPIPE|Error/);
  });

  it('the attention CLI names a sentence without words: status 2, no stack trace', async () => {
    const run = await new Promise<Run>((resolve) => {
      execFile(process.execPath, ['examples/demo/start.mjs', '--cli', ' '], { cwd: ROOT, timeout: 120_000 },
        (error, stdout, stderr) => resolve({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, stdout, stderr }));
    });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^the sentence has no words\nusage: npm start -- --cli/);
  });
});

describe('examples/demo/char-gpt.js', () => {
  it('charVocab: one id per character, decode inverts encode, an unknown character is a RangeError naming it', () => {
    const text = greedy.items[0]!.prompt;
    expect(vocab.encode(text)).toEqual(greedy.items[0]!.promptIds);
    expect(vocab.decode(vocab.encode(text))).toBe(text);
    expect(vocab.encode('\n ')).toEqual([config.char_vocab.indexOf('\n'), config.char_vocab.indexOf(' ')]);
    expect(() => vocab.encode('ok~')).toThrow(RangeError);
    expect(() => vocab.encode('ok~')).toThrow(/"~" \(U\+007E\)/);
    expect(() => charVocab({ ...config, char_vocab: config.char_vocab.slice(1) })).toThrow(TypeError);
  });

  it('generateOptions: temperature 0 is greedy (no top-k/top-p passed); top-k 0 and top-p 1 are off', () => {
    expect(generateOptions({ maxNewTokens: 5, temperature: 0, topK: 3, topP: 0.5, seed: 9 })).toEqual({ maxNewTokens: 5 });
    expect(generateOptions({ maxNewTokens: 5, temperature: 0.7, topK: 0, topP: 1, seed: 9 }))
      .toEqual({ maxNewTokens: 5, temperature: 0.7, seed: 9 });
    expect(generateOptions({ maxNewTokens: 5, temperature: 1.2, topK: 4, topP: 0.8, seed: 2 }))
      .toEqual({ maxNewTokens: 5, temperature: 1.2, seed: 2, topK: 4, topP: 0.8 });
  });

  it('warmUp on a 2-thread engine: the prefill timed both on the workers and on the calling thread', async () => {
    // Without the prefills after the two generations, the chooser had only timed the pool, and
    // the measured run's first token went there (9.7-10.9 ms in Node against 1-3 ms inline).
    const engine = await createEngine({ threads: 2 });
    try {
      const model = engine.gpt2({ config, weights: loadSafetensors(readFileSync(new URL('model.safetensors', DIR))) });
      await warmUp(model, greedy.items[0]!.promptIds.length);
      const debug = (engine as unknown as Record<symbol, () => { chooser(): { rate: { pool: number; inline: number } } | undefined }>)[
        Symbol.for('wasm-attention.debug')]!();
      const rate = debug.chooser()!.rate;
      expect(Number.isNaN(rate.pool), 'pool timed').toBe(false);
      expect(Number.isNaN(rate.inline), 'calling thread timed').toBe(false);
    } finally {
      await engine.dispose();
    }
  });

  it('rates: the first step apart, decoding tokens/s over the others', () => {
    expect(rates([10, 2, 2, 4])).toEqual({ tokens: 4, firstMs: 10, decodeMs: 8, decodeTokensPerSecond: 375 });
    const one = rates([5]);
    expect(one.tokens).toBe(1);
    expect(Number.isNaN(one.decodeTokensPerSecond)).toBe(true);
  });
});
