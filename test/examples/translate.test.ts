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
