// Where a module's weights come from between its constructor and its first call. An idle engine
// packs them inside the constructor, straight from the caller's arrays; a busy one copies them
// first and packs them in its queue. Either way, changing the caller's arrays once the
// constructor has returned changes nothing. Weights that cannot fit fail in the constructor
// with nothing resident, and the engine stays usable.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, loadSafetensors, quantizeSafetensors, writeSafetensors, type Engine } from '../../dist/index.js';
import { ModuleWeights, type ModuleHost, type Resident } from '../../src/ops/modules.js';
import { randomF32 } from '../helpers/random.js';

const residentBytes = (engine: Engine): number =>
  (engine as unknown as Record<symbol, () => { arena: { residentBytes: number } }>)[Symbol.for('wasm-attention.debug')]().arena.residentBytes;

/** A small GPT-2 state dict (HF keys, Conv1D [in, out]). */
function gpt2Dict(E: number, layers: number, vocab: number, positions: number, seed: number): Record<string, Float32Array> {
  let s = seed;
  const r = (n: number, scale: number) => randomF32(n, s++, scale);
  const w: Record<string, Float32Array> = { 'wte.weight': r(vocab * E, 0.5), 'wpe.weight': r(positions * E, 0.1) };
  for (let i = 0; i < layers; i++) {
    Object.assign(w, {
      [`h.${i}.ln_1.weight`]: r(E, 1), [`h.${i}.ln_1.bias`]: r(E, 0.1),
      [`h.${i}.attn.c_attn.weight`]: r(E * 3 * E, 0.3), [`h.${i}.attn.c_attn.bias`]: r(3 * E, 0.1),
      [`h.${i}.attn.c_proj.weight`]: r(E * E, 0.3), [`h.${i}.attn.c_proj.bias`]: r(E, 0.1),
      [`h.${i}.ln_2.weight`]: r(E, 1), [`h.${i}.ln_2.bias`]: r(E, 0.1),
      [`h.${i}.mlp.c_fc.weight`]: r(E * 4 * E, 0.3), [`h.${i}.mlp.c_fc.bias`]: r(4 * E, 0.1),
      [`h.${i}.mlp.c_proj.weight`]: r(4 * E * E, 0.3), [`h.${i}.mlp.c_proj.bias`]: r(E, 0.1),
    });
  }
  w['ln_f.weight'] = r(E, 1);
  w['ln_f.bias'] = r(E, 0.1);
  return w;
}

/** A small BertForMaskedLM state dict (HF keys, nn.Linear [out, in], decoder tied) with shapes. */
function bertFile(d: number, layers: number, vocab: number, positions: number, seed: number): Record<string, { dtype: 'F32'; shape: number[]; data: Float32Array }> {
  let s = seed;
  const t = (shape: number[], scale: number, offset = 0) => ({ dtype: 'F32' as const, shape, data: randomF32(shape.reduce((a, b) => a * b, 1), s++, scale).map((v) => v + offset) });
  const linear = (p: string, out: number, inp: number) => ({ [`${p}.weight`]: t([out, inp], 0.3), [`${p}.bias`]: t([out], 0.1) });
  const norm = (p: string) => ({ [`${p}.weight`]: t([d], 0.1, 1), [`${p}.bias`]: t([d], 0.1) });
  const f: Record<string, { dtype: 'F32'; shape: number[]; data: Float32Array }> = {
    'bert.embeddings.word_embeddings.weight': t([vocab, d], 0.5), 'bert.embeddings.position_embeddings.weight': t([positions, d], 0.2),
    'bert.embeddings.token_type_embeddings.weight': t([2, d], 0.2), ...norm('bert.embeddings.LayerNorm'),
    ...linear('cls.predictions.transform.dense', d, d), ...norm('cls.predictions.transform.LayerNorm'), 'cls.predictions.bias': t([vocab], 0.1),
  };
  for (let i = 0; i < layers; i++) {
    const p = `bert.encoder.layer.${i}.`;
    Object.assign(f, linear(`${p}attention.self.query`, d, d), linear(`${p}attention.self.key`, d, d), linear(`${p}attention.self.value`, d, d),
      linear(`${p}attention.output.dense`, d, d), norm(`${p}attention.output.LayerNorm`), linear(`${p}intermediate.dense`, 4 * d, d),
      linear(`${p}output.dense`, d, 4 * d), norm(`${p}output.LayerNorm`));
  }
  return f;
}

const E = 16, VOCAB = 37, POSITIONS = 24;
const CONFIG = { vocab_size: VOCAB, n_positions: POSITIONS, n_embd: E, n_layer: 2, n_head: 2, layer_norm_epsilon: 1e-5, activation_function: 'gelu_new' };
const copy = (w: Record<string, Float32Array>) => Object.fromEntries(Object.entries(w).map(([k, v]) => [k, v.slice()]));
const spoil = (w: Record<string, Float32Array>) => Object.values(w).forEach((v) => v.fill(Number.NaN));
const ids = Int32Array.from({ length: 9 }, (_, i) => (i * 7 + 3) % VOCAB);

for (const threads of [1, 2]) {
  describe(`module weights, threads ${threads}`, () => {
    let engine: Engine;
    beforeAll(async () => { engine = await createEngine({ threads }); });
    afterAll(async () => { await engine.dispose(); });

    for (const quantize of [undefined, 'int8'] as const) {
      const q = quantize ? { quantize } : {};
      it(`${quantize ?? 'f32'}: an idle engine packs them in the constructor; a busy one copies them, then packs them in its queue`, async () => {
        const start = residentBytes(engine);
        const w = gpt2Dict(E, 2, VOCAB, POSITIONS, 5);
        const reference = engine.gpt2({ config: CONFIG, weights: copy(w), ...q });
        const expected = (await reference.forward(ids, { batch: 1, seq: ids.length })).logits;
        const before = residentBytes(engine);

        // Idle: resident once the constructor returns; the caller's arrays are not read again.
        const idle = engine.gpt2({ config: CONFIG, weights: w, ...q });
        expect(residentBytes(engine)).toBeGreaterThan(before);
        spoil(w);
        expect((await idle.forward(ids, { batch: 1, seq: ids.length })).logits).toEqual(expected);

        // Busy (a call in the queue): nothing resident yet, and the arrays were copied.
        const w2 = gpt2Dict(E, 2, VOCAB, POSITIONS, 5);
        const pending = reference.forward(ids, { batch: 1, seq: ids.length });
        const held = residentBytes(engine);
        const busy = engine.gpt2({ config: CONFIG, weights: w2, ...q });
        expect(residentBytes(engine)).toBe(held);
        spoil(w2);
        expect((await pending).logits).toEqual(expected);
        expect((await busy.forward(ids, { batch: 1, seq: ids.length })).logits).toEqual(expected);
        await Promise.all([reference.dispose(), idle.dispose(), busy.dispose()]);
        expect(residentBytes(engine)).toBe(start);
      });
    }

    for (const embeddings of [false, true]) {
      it(`an int8 file${embeddings ? ' with --embeddings' : ''}, read from its codes: the bits of its f32 reading, int8 and f32 models`, async () => {
        const w = gpt2Dict(E, 2, VOCAB, POSITIONS, 13);
        const tensors = Object.fromEntries(Object.entries(w).map(([k, v]) => {
          const rows = k === 'wte.weight' ? VOCAB : k === 'wpe.weight' ? POSITIONS : k.includes('mlp.c_proj') ? 4 * E : E;
          return [k, { dtype: 'F32' as const, shape: v.length === rows * (v.length / rows) && v.length > 4 * E ? [rows, v.length / rows] : [v.length], data: v }];
        }));
        const file = quantizeSafetensors(writeSafetensors(tensors), { embeddings }).bytes;
        for (const quantize of [undefined, 'int8'] as const) {
          const q = quantize ? { quantize } : {};
          // Reading every weight (the spread) makes the f32 arrays; the model then sees values, not codes.
          const read = (await engine.gpt2({ config: CONFIG, weights: { ...loadSafetensors(file) }, ...q }).forward(ids, { batch: 1, seq: ids.length })).logits;
          const codes = (await engine.gpt2({ config: CONFIG, weights: loadSafetensors(file), ...q }).forward(ids, { batch: 1, seq: ids.length })).logits;
          expect(codes).toEqual(read);
        }
      });
    }

    it('a Proxy (or any object but the loader\'s own result) over an int8 file is read, never taken for its codes', async () => {
      const w = gpt2Dict(E, 2, VOCAB, POSITIONS, 17);
      const shapes: Record<string, number[]> = {};
      for (const [key, v] of Object.entries(w)) {
        const rows = key === 'wte.weight' ? VOCAB : key === 'wpe.weight' ? POSITIONS : key.includes('mlp.c_proj') ? 4 * E : E;
        shapes[key] = v.length > 4 * E ? [rows, v.length / rows] : [v.length];
      }
      const file = quantizeSafetensors(writeSafetensors(Object.fromEntries(Object.entries(w).map(([k, v]) => [k, { dtype: 'F32' as const, shape: shapes[k]!, data: v }]))), { embeddings: true }).bytes;
      const replaced: Record<string, Float32Array> = { 'h.0.attn.c_proj.weight': new Float32Array(E * E).fill(0.01), 'wpe.weight': new Float32Array(POSITIONS * E).fill(0.2) };
      for (const quantize of [undefined, 'int8'] as const) {
        const q = quantize ? { quantize } : {};
        const proxy = new Proxy(loadSafetensors(file), { get: (target, key, receiver) => (typeof key === 'string' && key in replaced ? replaced[key] : Reflect.get(target, key, receiver)) });
        const plain = { ...loadSafetensors(file), ...replaced };
        const run = async (weights: Record<string, Float32Array>) => (await engine.gpt2({ config: CONFIG, weights, ...q }).forward(ids, { batch: 1, seq: ids.length })).logits;
        expect(await run(proxy)).toEqual(await run(plain));
      }
    });

    for (const embeddings of [false, true]) {
      it(`BERT (masked LM, tied decoder) from an int8 file${embeddings ? ' with --embeddings' : ''}: the bits of its f32 reading`, async () => {
        const config = { vocab_size: VOCAB, hidden_size: E, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 4 * E,
          max_position_embeddings: POSITIONS, type_vocab_size: 2, layer_norm_eps: 1e-12, hidden_act: 'gelu' };
        const file = quantizeSafetensors(writeSafetensors(bertFile(E, 2, VOCAB, POSITIONS, 21)), { embeddings }).bytes;
        const types = Array.from(ids, (_, i) => (i > 4 ? 1 : 0));
        for (const quantize of [undefined, 'int8'] as const) {
          const q = quantize ? { quantize } : {};
          const run = async (weights: Record<string, Float32Array>) =>
            (await engine.bertForMaskedLM({ config, weights, ...q }).forward(ids, { batch: 1, seq: ids.length, tokenTypeIds: types })).logits;
          expect(await run(loadSafetensors(file))).toEqual(await run({ ...loadSafetensors(file) }));
        }
      });
    }

    // Modules with a multi-head attention: its weights go to the engine from the caller's
    // arrays too (in_proj stacked or q/k/v apart, biases placed straight in the block).
    for (const quantize of [undefined, 'int8'] as const) {
      const q = quantize ? { quantize } : {};
      it(`${quantize ?? 'f32'}: attention weights (multiHeadAttention, encoder layer, BERT) are the module's own, idle or busy`, async () => {
        const D = 16, L = 5, x = randomF32(L * D, 40);
        const mhaWeights = (seed: number, separate: boolean): Record<string, Float32Array> => separate
          ? { qProjWeight: randomF32(D * D, seed), kProjWeight: randomF32(D * 8, seed + 1), vProjWeight: randomF32(D * 12, seed + 2),
            inProjBias: randomF32(3 * D, seed + 3), outProjWeight: randomF32(D * D, seed + 4), outProjBias: randomF32(D, seed + 5) }
          : { inProjWeight: randomF32(3 * D * D, seed), inProjBias: randomF32(3 * D, seed + 3), outProjWeight: randomF32(D * D, seed + 4),
            outProjBias: randomF32(D, seed + 5) };
        const key = randomF32(L * 8, 41), value = randomF32(L * 12, 42);
        const layerWeights = (seed: number): Record<string, Float32Array> => {
          let s = seed;
          const r = (n: number, scale = 0.3) => randomF32(n, s++, scale);
          return {
            'self_attn.in_proj_weight': r(3 * D * D), 'self_attn.in_proj_bias': r(3 * D), 'self_attn.out_proj.weight': r(D * D),
            'self_attn.out_proj.bias': r(D), 'linear1.weight': r(32 * D), 'linear1.bias': r(32), 'linear2.weight': r(D * 32), 'linear2.bias': r(D),
            'norm1.weight': r(D, 1), 'norm1.bias': r(D), 'norm2.weight': r(D, 1), 'norm2.bias': r(D),
          };
        };
        const bertConfig = { vocab_size: VOCAB, hidden_size: D, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 4 * D,
          max_position_embeddings: POSITIONS, type_vocab_size: 2, layer_norm_eps: 1e-12, hidden_act: 'gelu' };
        const bertWeights = (): Record<string, Float32Array> =>
          Object.fromEntries(Object.entries(bertFile(D, 2, VOCAB, POSITIONS, 30)).map(([k, v]) => [k, v.data]));
        const makers: [string, (w: Record<string, Float32Array>) => Promise<Float32Array>, () => Record<string, Float32Array>][] = [
          ['multiHeadAttention, in_proj', async (w) => (await engine.multiHeadAttention({ embedDim: D, numHeads: 2, weights: w, ...q })
            .forward(x, x, x, { batch: 1, seqQ: L, seqK: L })).output, () => mhaWeights(50, false)],
          ['multiHeadAttention, q/k/v apart', async (w) => (await engine.multiHeadAttention({ embedDim: D, numHeads: 2, kdim: 8, vdim: 12, weights: w, ...q })
            .forward(x, key, value, { batch: 1, seqQ: L, seqK: L })).output, () => mhaWeights(60, true)],
          ['transformerEncoderLayer', (w) => engine.transformerEncoderLayer({ dModel: D, nhead: 2, dimFeedforward: 32, weights: w, ...q })
            .forward(x, { batch: 1, seq: L }), () => layerWeights(70)],
          ['bertForMaskedLM', async (w) => (await engine.bertForMaskedLM({ config: bertConfig, weights: w, ...q })
            .forward(ids.subarray(0, L), { batch: 1, seq: L })).logits, bertWeights],
        ];
        for (const [name, run, weights] of makers) {
          const expected = await run(weights());
          const idleWeights = weights(), busyWeights = weights();
          // Idle: built (and packed) inside run's constructor; spoiled before the forward settles.
          const idle = run(idleWeights);
          spoil(idleWeights);
          expect(await idle, `${name}, idle`).toEqual(expected);
          // Busy: a call is queued when the module is built.
          const blocker = run(weights());
          const busy = run(busyWeights);
          spoil(busyWeights);
          await blocker;
          expect(await busy, `${name}, busy`).toEqual(expected);
        }
      });
    }

    it('BERT from an int8 file: its attention codes are the module\'s own, idle or busy', async () => {
      const config = { vocab_size: VOCAB, hidden_size: E, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 4 * E,
        max_position_embeddings: POSITIONS, type_vocab_size: 2, layer_norm_eps: 1e-12, hidden_act: 'gelu' };
      const file = quantizeSafetensors(writeSafetensors(bertFile(E, 2, VOCAB, POSITIONS, 23))).bytes;
      const run = (bytes: Uint8Array) => engine.bertForMaskedLM({ config, weights: loadSafetensors(bytes), quantize: 'int8' });
      const forward = async (m: ReturnType<typeof run>) => (await m.forward(ids, { batch: 1, seq: ids.length })).logits;
      const expected = await forward(run(file.slice()));
      const bytes1 = file.slice(), bytes2 = file.slice();
      const idle = run(bytes1);
      bytes1.fill(0);
      const blocker = forward(run(file.slice()));
      const busy = run(bytes2);
      bytes2.fill(0);
      await blocker;
      expect(await forward(idle)).toEqual(expected);
      expect(await forward(busy)).toEqual(expected);
    });

    it('int8 codes read from an int8 file: the same bits, whether packed at once or after a copy', async () => {
      const w = gpt2Dict(E, 2, VOCAB, POSITIONS, 9);
      const shapes: Record<string, number[]> = {};
      for (const [key, v] of Object.entries(w)) {
        const rows = key === 'wte.weight' ? VOCAB : key === 'wpe.weight' ? POSITIONS : key.includes('mlp.c_proj') ? 4 * E : E;
        shapes[key] = v.length === E || v.length === 3 * E || v.length === 4 * E ? [v.length] : [rows, v.length / rows];
      }
      const file = quantizeSafetensors(writeSafetensors(Object.fromEntries(Object.entries(w).map(([k, v]) => [k, { dtype: 'F32' as const, shape: shapes[k]!, data: v }])))).bytes;
      const expected = (await engine.gpt2({ config: CONFIG, weights: w, quantize: 'int8' }).forward(ids, { batch: 1, seq: ids.length })).logits;
      // The codes are views of the file's bytes: spoiling the bytes spoils any code not yet copied.
      const bytes1 = file.slice(), bytes2 = file.slice();
      const idle = engine.gpt2({ config: CONFIG, weights: loadSafetensors(bytes1), quantize: 'int8' });
      bytes1.fill(0);
      const blocker = engine.gpt2({ config: CONFIG, weights: w, quantize: 'int8' }).forward(ids, { batch: 1, seq: ids.length });
      const busy = engine.gpt2({ config: CONFIG, weights: loadSafetensors(bytes2), quantize: 'int8' });
      bytes2.fill(0);
      await blocker;
      expect((await idle.forward(ids, { batch: 1, seq: ids.length })).logits).toEqual(expected);
      expect((await busy.forward(ids, { batch: 1, seq: ids.length })).logits).toEqual(expected);
    });
  });
}

describe('ModuleWeights', () => {
  /** Fake blocks: record what ran; `fail` makes its upload throw. */
  function blocks(sizes: number[], fail = -1) {
    const log: string[] = [];
    const list: Resident[] = sizes.map((bytes, i) => ({
      resident: 0,
      bytes,
      upload() { if (i === fail) throw new RangeError(`block ${i} does not fit`); log.push(`upload ${i}`); (this as { resident: number }).resident = 64 * (i + 1); },
      release() { log.push(`release ${i}`); (this as { resident: number }).resident = 0; },
      own() { log.push(`own ${i}`); },
    }));
    return { log, list };
  }
  /** A stand-in for the arena: only its room is read before the blocks upload themselves. */
  const arena = (above = 2 ** 31, holes = 0) => ({ room: { above, holes, largestHole: holes } }) as never;
  const host = (idle: boolean, log: string[], room = arena()): ModuleHost => ({
    call: () => Promise.reject(new Error('no calls here')),
    task: (work) => { log.push('queued'); return Promise.resolve().then(() => work(room, undefined as never)); },
    now: (work) => (idle ? { value: work(room, undefined as never) } : undefined),
  });

  it('weights larger than what is free: a RangeError before any block is packed, with the module\'s and the free bytes', async () => {
    const idle = blocks([4096, 4096]);
    expect(() => new ModuleWeights(host(true, idle.log, arena(4096, 4000)), idle.list, 'BERT')).toThrow(
      /^wasm-attention: BERT: the weights take 8192 bytes in the engine's memory, and 8096 are free \(4096 above the resident blocks, 4000 in holes between them, the largest 4000\); dispose/);
    expect(idle.log).toEqual([]);
    // Busy: the check runs when the upload's turn comes, and the calls reject with it.
    const busy = blocks([4096, 4096]);
    const weights = new ModuleWeights({ ...host(false, busy.log, arena(0, 8191)), call: (build) => Promise.resolve().then(() => build(undefined as never, 1)) as never }, busy.list, 'GPT2');
    await new Promise((resolve) => setTimeout(resolve, 0));
    await expect(weights.call('forward', () => { throw new Error('not reached'); })).rejects.toThrow(/GPT2: the weights take 8192 bytes .* and 8191 are free/);
    expect(busy.log).toEqual(['own 0', 'own 1', 'queued']);
  });

  it('weights larger than the engine can ever hold: a RangeError before anything is read or packed', () => {
    const { log, list } = blocks([2 ** 30, 2 ** 30 + 16]);
    expect(() => new ModuleWeights(host(true, log), list, 'GPT2')).toThrow(
      /^wasm-attention: GPT2: the weights take 2147483664 bytes in the engine's memory, more than the \d+ bytes it can hold \(quantize: 'int8'/);
    expect(log).toEqual([]);
  });

  it('idle: packed in the constructor; a failure throws there and releases the blocks packed before it', () => {
    const ok = blocks([16, 32]);
    new ModuleWeights(host(true, ok.log), ok.list, 'Linear');
    expect(ok.log).toEqual(['upload 0', 'upload 1']);
    const bad = blocks([16, 32, 48], 2);
    expect(() => new ModuleWeights(host(true, bad.log), bad.list, 'Linear')).toThrow('block 2 does not fit');
    expect(bad.log).toEqual(['upload 0', 'upload 1', 'release 0', 'release 1']);
  });

  it('busy: every block copies its arrays, then the upload is queued; a failure rejects the calls', async () => {
    const ok = blocks([16, 32]);
    new ModuleWeights(host(false, ok.log), ok.list, 'Linear');
    expect(ok.log).toEqual(['own 0', 'own 1', 'queued']);
    await Promise.resolve();
    await Promise.resolve();
    expect(ok.log).toEqual(['own 0', 'own 1', 'queued', 'upload 0', 'upload 1']);
    const bad = blocks([16, 32], 1);
    const weights = new ModuleWeights({ ...host(false, bad.log), call: (build) => Promise.resolve().then(() => build(undefined as never, 1)) as never }, bad.list, 'Linear');
    await new Promise((resolve) => setTimeout(resolve, 0));
    await expect(weights.call('forward', () => { throw new Error('not reached'); })).rejects.toThrow('block 1 does not fit');
    expect(bad.log).toEqual(['own 0', 'own 1', 'queued', 'upload 0', 'release 0']);
  });
});
