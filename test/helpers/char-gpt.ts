// The shipped char-GPT (models/char-gpt/) on a one-thread engine, for the test files that
// generate with it: made before the file's tests, disposed after them.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll } from 'vitest';
import { createEngine, loadSafetensors, type Engine, type Gpt2 } from '../../dist/index.js';

export const CHAR_GPT_DIR = new URL('../../models/char-gpt/', import.meta.url);

/** Registers the file's beforeAll / afterAll; the getters give the engine and model inside tests. */
export function charGptOnOneThread(config: Record<string, unknown>): { engine(): Engine; model(): Gpt2 } {
  let engine: Engine, model: Gpt2;
  beforeAll(async () => {
    engine = await createEngine({ threads: 1 });
    model = engine.gpt2({ config, weights: loadSafetensors(readFileSync(new URL('model.safetensors', CHAR_GPT_DIR))) });
  });
  afterAll(async () => {
    await model.dispose();
    await engine.dispose();
  });
  return { engine: () => engine, model: () => model };
}
