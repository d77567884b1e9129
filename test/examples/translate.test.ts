// The shipped date translator (models/date-translator/) through engine.transformer: greedy
// decoding of every held-out sentence gives PyTorch's greedy token ids (greedy.json), token for
// token, on one thread and on two (the pool forced, so the workers decode too).
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { createEngine, type Engine } from '../../dist/index.js';
// @ts-expect-error: a plain ES module of the example, no types
import { createTranslator } from '../../examples/translate/translator.mjs';

interface Item { input: string; srcIds: number[]; outputIds: number[]; target: string }
const greedy = JSON.parse(readFileSync(new URL('../../models/date-translator/greedy.json', import.meta.url), 'utf8')) as
  { items: Item[]; accuracy: number };

const DEBUG = Symbol.for('wasm-attention.debug');
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const engines: Engine[] = [];
afterAll(async () => {
  await Promise.all(engines.map((e) => e.dispose()));
});

describe('date translator', () => {
  it.each([1, 2])('threads %i: every held-out sentence decodes to PyTorch\'s greedy ids', async (threads) => {
    const engine = await createEngine({ threads });
    engines.push(engine);
    if (threads > 1) (engine as unknown as Record<symbol, () => { forcePool(): void }>)[DEBUG]().forcePool();
    const translator = await createTranslator(engine);
    let correct = 0;
    for (const item of greedy.items) {
      expect(translator.vocab.encodeSource(item.input), item.input).toEqual(item.srcIds);
      const ids = await translator.translateIds(item.srcIds);
      expect(ids, item.input).toEqual(item.outputIds);
      if (translator.vocab.decodeTarget(ids) === item.target) correct++;
    }
    expect(greedy.items.length).toBeGreaterThanOrEqual(200);
    expect(correct / greedy.items.length).toBe(greedy.accuracy);
    await translator.dispose();
  });

  it('inputs outside the grammar: PyTorch\'s greedy ids, at most maxTgtLen − 1 of them when no EOS comes', async () => {
    // train.greedy_one (torch 1.13) on the committed weights; argmax margins 0.12 to 11.9.
    const torch: [string, number[]][] = [
      ['9', [15, 15, 15, 15, 15, 5, 15, 15, 15, 15, 15]],
      ['x'.repeat(64), [12, 12, 12, 12, 5, 7, 12, 5, 7, 12, 12]],
      ['hello world', [8, 6, 7, 8, 5, 6, 10, 5, 6, 6, 2]],
      ['31st of february 2023', [8, 6, 8, 9, 5, 6, 8, 5, 9, 7, 2]],
      ['the 3rd of july, 1899', [7, 15, 14, 15, 5, 6, 13, 5, 6, 9, 2]],
      ['aaaa aaaa aaaa', [6, 6, 6, 6, 5, 6, 6, 7, 7, 7, 2]],
      ['- - - -', [12, 12, 12, 12, 5, 6, 14, 5, 6, 12, 2]],
      ['0'.repeat(40), [6, 6, 6, 6, 5, 6, 6, 5, 6, 6, 2]],
    ];
    const engine = await createEngine({ threads: 1 });
    engines.push(engine);
    const translator = await createTranslator(engine);
    for (const [input, ids] of torch) expect(await translator.translateIds(translator.vocab.encodeSource(input)), input).toEqual(ids);
    await translator.dispose();
  });
});

describe('npm run example:translate (examples/translate/translate.mjs)', () => {
  const run = (...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> => new Promise((resolve) => {
    execFile(process.execPath, ['examples/translate/translate.mjs', ...args], { cwd: ROOT, timeout: 120_000 },
      (error, stdout, stderr) => resolve({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, stdout, stderr }));
  });

  it('translates each sentence; one it cannot take is reported and the others still run (exit 1)', async () => {
    const r = await run('twenty-first of march 2024', '', 'the 3rd of july, 1999', '--threads', '2');
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^twenty-first of march 2024 {2}→ {2}2024-03-21 /m);
    expect(r.stdout).toMatch(/^the 3rd of july, 1999 {2}→ {2}1999-07-03 /m);
    expect(r.stderr).toMatch(/^"": translate: the sentence has 0 characters/m);
  });

  it('-- ends the options: what follows is a sentence, even one that starts with --', async () => {
    const r = await run('--threads', '2', '--', '--threads', 'twenty-first of march 2024');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^--threads {2}→ {2}\S+ /m);
    expect(r.stdout).toMatch(/^twenty-first of march 2024 {2}→ {2}2024-03-21 /m);
  });

  it.each([
    [['--threads', 'abc'], /--threads: expected an integer in 1\.\.256, got "abc"/],
    [['--threads'], /--threads: expected an integer in 1\.\.256, got undefined/],
    [['--bogus', 'march 1st 2000'], /unknown option "--bogus"/],
  ])('bad argument %j: exit 2 naming it, nothing translated', async (args, message) => {
    const r = await run(...args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stdout).toBe('');
  });
});
