// The shipped date translator (models/date-translator/) through engine.transformer: greedy
// decoding of every held-out sentence gives PyTorch's greedy token ids (greedy.json), token for
// token, on one thread and on two (the pool forced, so the workers decode too).
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { createEngine, type Engine } from '../../dist/index.js';
// @ts-expect-error: a plain ES module of the example, no types
import { createTranslator } from '../../examples/translate/translator.mjs';

interface Item { input: string; srcIds: number[]; outputIds: number[]; target: string }
const greedy = JSON.parse(readFileSync(new URL('../../models/date-translator/greedy.json', import.meta.url), 'utf8')) as
  { items: Item[]; accuracy: number };

const DEBUG = Symbol.for('wasm-attention.debug');
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
