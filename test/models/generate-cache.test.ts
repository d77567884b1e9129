// The KV cache of GPT2.generate is resident for the iterator's life only: a loop that runs to
// its end, or leaves it early with break, or an iterator dropped unfinished (no break or return:
// its finally never runs; released when it is collected, in a child process with --expose-gc)
// gives every byte back, and the engine decodes the same text afterwards.
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { createEngine, loadSafetensors, type Engine } from '../../dist/index.js';
import { charGptOnOneThread, CHAR_GPT_DIR as DIR } from '../helpers/char-gpt.js';

const config = JSON.parse(readFileSync(new URL('config.json', DIR), 'utf8'));
const greedy = JSON.parse(readFileSync(new URL('greedy.json', DIR), 'utf8'));
const DEBUG = Symbol.for('wasm-attention.debug');
const resident = (e: Engine): number =>
  (e as unknown as Record<symbol, () => { arena: { residentBytes: number } }>)[DEBUG]().arena.residentBytes;
// 2 · n_layer · (promptLength + maxNewTokens − 1) · n_embd f32, batch 1: the positions fed.
const cacheBytes = (promptLength: number, maxNewTokens: number): number =>
  2 * config.n_layer * (promptLength + maxNewTokens - 1) * config.n_embd * 4;

const charGpt = charGptOnOneThread(config);

/** Runs `body` in a child process with --expose-gc, after a preamble that imports the library
 * and reads the char-GPT (`config`, `weights`, the prompt `ids`, `collect(until)`: collections
 * until `until()` holds, at most 100); returns what the body printed, as JSON. */
function inChild(body: string, ids: readonly number[]): unknown {
  const dist = new URL('../../dist/index.js', import.meta.url).href;
  const script = `
    import { readFileSync } from 'node:fs';
    const { createEngine, loadSafetensors } = await import(${JSON.stringify(dist)});
    const dir = new URL(${JSON.stringify(DIR.href)});
    const config = JSON.parse(readFileSync(new URL('config.json', dir), 'utf8'));
    const weights = loadSafetensors(readFileSync(new URL('model.safetensors', dir)));
    const ids = ${JSON.stringify(ids)};
    const collect = async (until) => {
      for (let i = 0; i < 100 && !until(); i++) { globalThis.gc(); await new Promise((r) => setTimeout(r, 10)); }
    };
    ${body}`;
  const child = spawnSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], { timeout: 60_000, encoding: 'utf8' });
  expect(child.status, child.stderr).toBe(0);
  return JSON.parse(child.stdout.trim());
}

describe('the KV cache of generate', () => {
  const item = greedy.items[0];

  it('is kept while the loop runs and released when it ends or breaks', async () => {
    const engine = charGpt.engine(), model = charGpt.model();
    await model.forward(item.promptIds, { batch: 1, seq: item.promptIds.length }); // weights uploaded
    const weights = resident(engine);
    const out: number[] = [];
    for await (const [id] of model.generate(item.promptIds, { maxNewTokens: 20 })) {
      expect(resident(engine)).toBe(weights + cacheBytes(item.promptIds.length, 20));
      out.push(id!);
    }
    expect(out).toEqual(item.outputIds.slice(0, 20));
    expect(resident(engine)).toBe(weights);
    for await (const [id] of model.generate(item.promptIds, { maxNewTokens: 20 })) {
      if (id !== undefined) break;
    }
    expect(resident(engine)).toBe(weights);
  });

  it('of an iterator dropped unfinished is released once the iterator is collected', () => {
    const r = inChild(`
      const engine = await createEngine({ threads: 1 });
      const arena = engine[Symbol.for('wasm-attention.debug')]().arena;
      const model = engine.gpt2({ config, weights });
      await model.forward(ids, { batch: 1, seq: ids.length });
      const resident = arena.residentBytes;
      // A loop that stops calling next() after two tokens (in a function of its own: the frame
      // of a running async function would still hold its last iterator).
      const twoTokens = async () => {
        const it = model.generate(ids, { maxNewTokens: 50 });
        return [(await it.next()).value[0], (await it.next()).value[0]];
      };
      const started = [];
      for (let i = 0; i < 3; i++) started.push(...(await twoTokens()));
      const held = arena.residentBytes - resident;
      await collect(() => arena.residentBytes === resident);
      const after = arena.residentBytes - resident;
      const out = [];
      for await (const [id] of model.generate(ids, { maxNewTokens: 20 })) out.push(id);
      await model.dispose();
      await engine.dispose();
      console.log(JSON.stringify({ held, after, started, out }));`, item.promptIds) as { held: number; after: number; started: number[]; out: number[] };
    expect(r.held).toBe(3 * cacheBytes(item.promptIds.length, 50));
    expect(r.after).toBe(0);
    expect(r.started).toEqual(Array.from({ length: 3 }, () => item.outputIds.slice(0, 2)).flat());
    expect(r.out).toEqual(item.outputIds.slice(0, 20));
  });

  it('keeps the weights of a model that only its running iterator refers to, and frees both after', () => {
    // engine.gpt2(…).generate(…): collections during the loop must not free the model's weights
    // (they did: the next step rejected "the module weights are not in memory"); once the
    // iterator is dropped, collection frees its cache and then the model's weights.
    const results = inChild(`
      const results = [];
      for (const threads of [1, 2]) {
        const engine = await createEngine({ threads });
        const arena = engine[Symbol.for('wasm-attention.debug')]().arena;
        const run = async () => {
          const it = engine.gpt2({ config, weights }).generate(ids, { maxNewTokens: 30 });
          const out = [];
          for (let step = 0; step < 30; step++) {
            const r = await it.next();
            if (r.done) break;
            out.push(r.value[0]);
            if (step === 3) await collect(() => false);
          }
          return out;
        };
        const out = await run().catch((e) => e.message);
        const heldAfterLoop = arena.residentBytes;
        await collect(() => arena.residentBytes === 0);
        // A finished iterator that is still referenced holds neither its cache nor the model.
        const finished = engine.gpt2({ config, weights }).generate(ids, { maxNewTokens: 3 });
        for await (const _ of finished);
        await collect(() => arena.residentBytes === 0);
        results.push({ threads, out, heldAfterLoop, after: arena.residentBytes, finished: finished !== undefined });
        await engine.dispose();
      }
      console.log(JSON.stringify(results));`, item.promptIds) as { threads: number; out: unknown; heldAfterLoop: number; after: number }[];
    for (const r of results) {
      expect(r.out, `threads ${r.threads}`).toEqual(item.outputIds.slice(0, 30));
      expect(r.heldAfterLoop, `threads ${r.threads}`).toBeGreaterThan(0); // an unfinished iterator: its cache until it is collected
      expect(r.after, `threads ${r.threads}`).toBe(0);
    }
  });
  for (const threads of [1, 2]) {
    it(`decodes in a hole that a disposed tensor left, with the same tokens and no growth (threads ${threads})`, async () => {
      const engine = await createEngine({ threads });
      const arena = (engine as unknown as Record<symbol, () => { arena: { residentEnd: number; memory: WebAssembly.Memory } }>)[DEBUG]().arena;
      const model = engine.gpt2({ config, weights: loadSafetensors(readFileSync(new URL('model.safetensors', DIR))) });
      await model.forward(item.promptIds, { batch: 1, seq: item.promptIds.length });
      const big = engine.createTensor((cacheBytes(item.promptIds.length, 40) >> 2) + (8 << 20 >> 2)); // the cache and 8 MiB more
      const pin = engine.createTensor(16);
      await pin.read();
      await big.dispose();
      const bytes = arena.memory.buffer.byteLength;
      expect(bytes - arena.residentEnd).toBeLessThan(1 << 20); // a step's working memory does not fit above the blocks
      const out: number[] = [];
      for await (const [id] of model.generate(item.promptIds, { maxNewTokens: 40 })) out.push(id!);
      expect(out).toEqual(item.outputIds.slice(0, 40));
      expect(arena.memory.buffer.byteLength).toBe(bytes);
      await engine.dispose();
    });
  }
});
