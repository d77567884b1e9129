// The engine's 2 GiB memory as a user meets its limit (README "Memory"): a tensor that finds no
// room on an idle engine is a RangeError from createTensor (as a module's weights are), on a busy
// one its uses reject; a generate whose KV cache cannot fit the memory at all is a RangeError at
// the call, naming options.batch, and one that cannot fit beside resident blocks rejects its
// first step naming the KV cache; the engine stays usable after each, with the same results.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, loadSafetensors, type Engine, type Gpt2 } from '../../dist/index.js';
import { MAX_TENSOR_LENGTH } from '../../src/ops/tensor.js';
import { CHAR_GPT_DIR } from '../helpers/char-gpt.js';

let engine: Engine, model: Gpt2;
beforeAll(async () => {
  engine = await createEngine({ threads: 1 });
  model = engine.gpt2({
    config: JSON.parse(readFileSync(new URL('config.json', CHAR_GPT_DIR), 'utf8')),
    weights: loadSafetensors(readFileSync(new URL('model.safetensors', CHAR_GPT_DIR))),
  });
});
afterAll(async () => {
  await model.dispose();
  await engine.dispose();
});

const x = Float32Array.from({ length: 64 }, (_, i) => (i - 32) / 8);
const greedy = async (): Promise<number[]> => {
  const out: number[] = [];
  for await (const step of model.generate([20, 30, 40], { maxNewTokens: 5 })) out.push(step[0]);
  return out;
};

describe('memory limits', () => {
  it('createTensor with no room: a RangeError from createTensor on an idle engine, rejected uses on a busy one', async () => {
    const want = await engine.gelu(x);
    const tokens = await greedy();
    const size = Math.floor(MAX_TENSOR_LENGTH * 0.55);
    const big = engine.createTensor(size);
    expect(() => engine.createTensor(size)).toThrow(RangeError);
    expect(() => engine.createTensor(size)).toThrow(new RegExp(
      `^wasm-attention: keeping ${size * 4} more bytes resident \\(createTensor's tensor of ${size} elements\\) needs \\d+ bytes of memory`));
    // Busy: the tensor is placed after the queued call, so its uses reject instead.
    const queued = engine.gelu(x);
    const late = engine.createTensor(size);
    await expect(late.read(0, 1)).rejects.toThrow(RangeError);
    expect(await queued).toEqual(want);
    // Usable, with the same results, and the space comes back.
    expect(await engine.gelu(x)).toEqual(want);
    expect(await greedy()).toEqual(tokens);
    await big.dispose();
    const again = engine.createTensor(size);
    expect(await again.read(size - 2, 2)).toEqual(new Float32Array(2));
    await again.dispose();
  }, 60_000);

  it('a model whose weights do not fit in what is free: a RangeError from the constructor before any packing, with the bytes; fits once the room is back', async () => {
    const tokens = await greedy();
    // The largest tensor of MAX_TENSOR_LENGTH less a power of two that fits beside the model
    // (4.4 MB) leaves less than one more model's room.
    let big;
    for (let cut = 1 << 18; !big; cut *= 2) {
      try { big = engine.createTensor(MAX_TENSOR_LENGTH - cut); } catch { /* too large: cut more */ }
    }
    const config = JSON.parse(readFileSync(new URL('config.json', CHAR_GPT_DIR), 'utf8'));
    const weights = loadSafetensors(readFileSync(new URL('model.safetensors', CHAR_GPT_DIR)));
    expect(() => engine.gpt2({ config, weights })).toThrow(
      /^wasm-attention: GPT2: the weights take \d+ bytes in the engine's memory, and \d+ are free \(\d+ above the resident blocks, 0 in holes between them, the largest 0\)/);
    expect(await greedy()).toEqual(tokens);
    await big.dispose();
    const again = engine.gpt2({ config, weights });
    expect(await greedy()).toEqual(tokens);
    await again.dispose();
  }, 60_000);

  it('generate: a KV cache past the memory is a RangeError naming options.batch at the call; one that does not fit beside a tensor rejects its first step; the cache holds this generation\'s positions only', async () => {
    const tokens = await greedy();
    // char-GPT: 4 layers × 128 wide: 4 KiB of K and V per position and sequence; a prompt of 200
    // and 57 new tokens feed 256 positions (n_positions): 1 MiB per sequence.
    expect(() => model.generate(new Array(2200 * 200).fill(5), { batch: 2200, maxNewTokens: 57 }))
      .toThrow(/^GPT2\.generate: options\.batch \(2200\) needs a KV cache of 2306867200 bytes \(2·n_layer·batch·\(promptLength \+ maxNewTokens − 1\)·n_embd·4\), more than the engine's \d+ bytes/);
    // The same batch with 2-token prompts and one new token: 2 positions, 18 MB, and each
    // sequence gets its token alone.
    const alone = (await model.generate([5, 5], { maxNewTokens: 1 }).next()).value as Int32Array;
    const wide = (await model.generate(new Array(2200 * 2).fill(5), { batch: 2200, maxNewTokens: 1 }).next()).value as Int32Array;
    expect(wide).toEqual(new Int32Array(2200).fill(alone[0]!));
    const hold = engine.createTensor(Math.floor(MAX_TENSOR_LENGTH * 0.55));
    const steps = model.generate(new Array(1000 * 200).fill(5), { batch: 1000, maxNewTokens: 57 });
    await expect(steps.next()).rejects.toThrow(
      /keeping 1048576000 more bytes resident \(GPT2\.generate's KV cache for 1000 sequences, resident until the iterator ends\) .*; generate fewer sequences at once/);
    await hold.dispose();
    expect(await greedy()).toEqual(tokens);
  }, 60_000);
});
