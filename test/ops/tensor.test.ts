// engine.createTensor: tensors in the engine's memory, read in place by attention (a KV cache),
// with kvCapacity for caches that grow one position per decoding step.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, type Engine } from '../../dist/index.js';
import { DEBUG } from '../../src/engine.js';
import { MAX_TENSOR_LENGTH } from '../../src/ops/tensor.js';
import { ARENA_BASE, MAX_PAGES, PAGE_BYTES } from '../../src/wasm/layout.js';
import type { Arena } from '../../src/wasm/arena.js';
import { kernelVariants } from '../helpers/kernels.js';
import { randomF32 } from '../helpers/random.js';
import { expectSameBits } from '../helpers/compare.js';

const arenaOf = (engine: Engine): Arena => (engine as unknown as Record<symbol, () => { arena: Arena }>)[DEBUG]().arena;

/** Positions 0..seqK of every (batch, head) of a [batch·heads, cap, d] cache, as [batch·heads, seqK, d]. */
function slicePositions(cache: Float32Array, slices: number, cap: number, seqK: number, d: number): Float32Array {
  const out = new Float32Array(slices * seqK * d);
  for (let s = 0; s < slices; s++) out.set(cache.subarray(s * cap * d, (s * cap + seqK) * d), s * seqK * d);
  return out;
}

describe.each(kernelVariants())('engine tensors (%s)', (variant) => {
  for (const threads of [1, 2]) {
    describe(`threads ${threads}`, () => {
      let engine: Engine;
      beforeAll(async () => { engine = await createEngine({ threads, kernels: variant }); });
      afterAll(async () => { await engine.dispose(); });

      it('q, k, v as tensors give the same bits as arrays, and stay unchanged', async () => {
        const o = { batch: 2, heads: 3, seqQ: 37, seqK: 300, headDim: 24, headDimV: 20, causal: true };
        const q = randomF32(2 * 3 * 37 * 24, 1), k = randomF32(2 * 3 * 300 * 24, 2), v = randomF32(2 * 3 * 300 * 20, 3);
        const [tq, tk, tv] = [q, k, v].map((x) => engine.createTensor(x));
        q.fill(0); // createTensor copied the data: later changes to the array do not reach the tensor
        const fromTensors = await engine.attention(tq, tk, tv, { ...o, returnWeights: true });
        const fromArrays = await engine.attention(await tq.read(), k, v, { ...o, returnWeights: true });
        expectSameBits(fromTensors.output, fromArrays.output, 'output');
        expectSameBits(fromTensors.weights, fromArrays.weights, 'weights');
        expect(await tk.read()).toEqual(k);
        expect(await tv.read()).toEqual(v);
        // Mixed: only k and v resident.
        expectSameBits((await engine.attention(await tq.read(), tk, tv, o)).output, fromArrays.output, 'mixed');
        await Promise.all([tq, tk, tv].map((t) => t.dispose()));
      });

      it('a KV cache grown one position per step (kvCapacity) matches attention over the arrays', async () => {
        const B = 1, H = 4, d = 16, cap = 70;
        const kCache = engine.createTensor(B * H * cap * d), vCache = engine.createTensor(B * H * cap * d);
        const keys = randomF32(B * H * cap * d, 11), values = randomF32(B * H * cap * d, 12);
        for (let t = 0; t < cap; t++) {
          // Append position t of every head.
          for (let s = 0; s < B * H; s++) {
            const at = (s * cap + t) * d;
            void kCache.write(keys.subarray(at, at + d), at);
            void vCache.write(values.subarray(at, at + d), at);
          }
          if (t % 23 !== 22 && t !== cap - 1) continue;
          const q = randomF32(B * H * d, 100 + t), seqK = t + 1;
          const o = { batch: B, heads: H, seqQ: 1, seqK, headDim: d };
          const cached = await engine.attention(q, kCache, vCache, { ...o, kvCapacity: cap });
          const copied = await engine.attention(q, slicePositions(keys, B * H, cap, seqK, d),
            slicePositions(values, B * H, cap, seqK, d), o);
          expectSameBits(cached.output, copied.output, `step ${t}`);
        }
        await Promise.all([kCache.dispose(), vCache.dispose()]);
      });
    });
  }

  describe('memory growth', () => {
    for (const threads of [1, 2]) {
      it(`tensors and layer weights survive growth (threads ${threads}: ${threads === 1 ? 'plain' : 'shared'} memory)`, async () => {
        const engine = await createEngine({ threads, kernels: variant });
        const o = { batch: 1, heads: 2, seqQ: 5, seqK: 40, headDim: 16 };
        const q = randomF32(2 * 5 * 16, 31), k = randomF32(2 * 40 * 16, 32), v = randomF32(2 * 40 * 16, 33);
        const tk = engine.createTensor(k), tv = engine.createTensor(v);
        const E = 16, w = { inProjWeight: randomF32(3 * E * E, 34, 0.25), outProjWeight: randomF32(E * E, 35, 0.25), inProjBias: randomF32(3 * E, 36), outProjBias: randomF32(E, 37) };
        const layer = engine.multiHeadAttention({ embedDim: E, numHeads: 2, weights: w });
        const x = randomF32(3 * E, 38);
        const before = await engine.attention(q, tk, tv, o);
        const layerBefore = await layer.forward(x, x, x, { batch: 1, seqQ: 3, seqK: 3 });
        const memory = arenaOf(engine).memory;
        const pages = memory.buffer.byteLength;
        const n = 2 * 2048 * 64; // a call of ~10 MB of inputs grows the memory
        await engine.attention(randomF32(n, 39), randomF32(n, 40), randomF32(n, 41), { batch: 1, heads: 2, seqQ: 2048, seqK: 2048, headDim: 64, causal: true });
        expect(memory.buffer.byteLength).toBeGreaterThan(pages);
        expect(await tk.read()).toEqual(k);
        expectSameBits((await engine.attention(q, tk, tv, o)).output, before.output, 'attention on tensors after growth');
        expectSameBits((await layer.forward(x, x, x, { batch: 1, seqQ: 3, seqK: 3 })).output, layerBefore.output, 'layer after growth');
        await engine.dispose();
      });
    }
  });

  describe('holes left by disposed blocks', () => {
    type Hooks = { arena: Arena; forcePool(on?: boolean): void; forceInline(on?: boolean): void; placement(): string | undefined };
    const hooks = (engine: Engine): Hooks => (engine as unknown as Record<symbol, () => Hooks>)[DEBUG]();
    const m = 300, k = 700, n = 500; // a matmul of ~5 MB of working memory
    const a = randomF32(m * k, 51), b = randomF32(k * n, 52, 0.05), x = randomF32(7 * 1024, 53);
    const lw = { weight: randomF32(1024 * 1024, 54, 0.03), bias: randomF32(1024, 55) };
    let expected: { c: Float32Array; cResident: Float32Array; y: Float32Array };
    beforeAll(async () => {
      const fresh = await createEngine({ threads: 1, kernels: variant });
      const linear = fresh.linear({ inFeatures: 1024, outFeatures: 1024, weights: lw });
      expected = {
        c: await fresh.matmul(a, b, { m, k, n }),
        cResident: await fresh.matmul(fresh.createTensor(a), b, { m, k, n }),
        y: await linear.forward(x, { rows: 7 }),
      };
      await fresh.dispose();
    });

    // placement: which memory the 2-thread engine runs the call in (pool, shared or plain inline)
    for (const [threads, placement] of [[1, 'any'], [2, 'pool'], [2, 'inline']] as const) {
      it(`a call that would grow the memory runs in the hole, and module staging too (threads ${threads}, ${placement})`, async () => {
        const engine = await createEngine({ threads, kernels: variant });
        const h = hooks(engine);
        if (placement === 'pool') h.forcePool();
        if (placement === 'inline') h.forceInline();
        const big = engine.createTensor(4 << 20); // 16 MiB
        const pin = engine.createTensor(16);
        await pin.read();
        const end = h.arena.residentEnd;
        await big.dispose();
        expect(h.arena.residentEnd).toBe(end); // pin keeps the call arena above the hole
        const memory = h.arena.memory, bytes = memory.buffer.byteLength;
        expect(bytes - end).toBeLessThan(4 << 20); // the call does not fit above the blocks

        expectSameBits(await engine.matmul(a, b, { m, k, n }), expected.c, 'matmul in the hole');
        if (threads === 2) expect(h.placement()).toBe(placement === 'pool' ? 'pool' : 'inline-plain');
        // A resident input below the hole: the call must stay in the engine's memory.
        const ta = engine.createTensor(a);
        expectSameBits(await engine.matmul(ta, b, { m, k, n }), expected.cResident, 'matmul of a resident tensor in the hole');
        if (threads === 2) expect(h.placement()).toBe(placement === 'pool' ? 'pool' : 'inline');
        // A module's weights (4 MiB, first fit in the hole) and their staging (4 MiB, the rest of it).
        const linear = engine.linear({ inFeatures: 1024, outFeatures: 1024, weights: lw });
        expectSameBits(await linear.forward(x, { rows: 7 }), expected.y, 'linear packed from staging in the hole');
        expect(memory.buffer.byteLength).toBe(bytes);
        expect(await pin.read()).toEqual(new Float32Array(16));
        expect(await ta.read()).toEqual(a);
        // Once the hole is taken, a call goes above the blocks and grows the memory, as before.
        const filler = engine.createTensor(12 << 20 >> 2); // fills what the linear and ta left
        await filler.read();
        expectSameBits(await engine.matmul(a, b, { m, k, n }), expected.c, 'matmul above the blocks');
        expect(memory.buffer.byteLength).toBeGreaterThan(bytes);
        await engine.dispose();
      });
    }
  });

  describe('handles', () => {
    let engine: Engine;
    beforeAll(async () => { engine = await createEngine({ kernels: variant }); });
    afterAll(async () => { await engine.dispose(); });

    it('a new tensor of a length is zeros where a call and a disposed tensor wrote before', async () => {
      const e = await createEngine({ kernels: variant });
      // a call's working memory above the blocks, then a tensor over it: the call's bytes are cleared
      const n = 300 * 300;
      await e.matmul(randomF32(n, 61), randomF32(n, 62), { m: 300, k: 300, n: 300 });
      const over = e.createTensor(4 * n);
      expect((await over.read()).every((v) => v === 0)).toBe(true);
      // a disposed tensor's hole, reused: cleared
      const pin = e.createTensor(4);
      await over.dispose();
      const again = e.createTensor(4 * n);
      expect((await again.read()).every((v) => v === 0)).toBe(true);
      await Promise.all([again.dispose(), pin.dispose()]);
      await e.dispose();
    });

    it('write and read at offsets; a new tensor of a length is zeros', async () => {
      const t = engine.createTensor(10);
      expect(t.length).toBe(10);
      expect(await t.read()).toEqual(new Float32Array(10));
      await t.write(Float32Array.of(1, 2, 3), 4);
      expect(await t.read(3, 5)).toEqual(Float32Array.of(0, 1, 2, 3, 0));
      expect(await t.read(8)).toEqual(Float32Array.of(0, 0));
      expect(await t.read(10, 0)).toEqual(new Float32Array(0));
      await t.dispose();
    });

    it('createTensor(data): the caller may change its array at once, on an idle engine (placed now) and a busy one (copied)', async () => {
      const data = Float32Array.from({ length: 1000 }, (_, i) => i / 7);
      const expected = data.slice();
      const idle = engine.createTensor(data);
      data.fill(-1);
      data.set(expected);
      const small = engine.createTensor(5);
      const pending = small.read(); // the queue is busy from here on
      const busy = engine.createTensor(data);
      data.fill(-2);
      await pending;
      expect(await idle.read()).toEqual(expected);
      expect(await busy.read()).toEqual(expected);
      await Promise.all([idle.dispose(), busy.dispose(), small.dispose()]);
    });

    it('write(data) reads data when called: one scratch array reused for unawaited writes, idle and busy', async () => {
      const t = engine.createTensor(8);
      const scratch = new Float32Array(2);
      const writes: Promise<void>[] = [];
      for (let i = 0; i < 4; i++) {
        scratch.fill(i + 1);
        writes.push(t.write(scratch, 2 * i)); // the first runs at once, the rest queue behind it
        if (i === 0) writes.push(t.read().then(() => undefined)); // keeps the queue busy
      }
      scratch.fill(-1);
      await Promise.all(writes);
      expect(await t.read()).toEqual(Float32Array.of(1, 1, 2, 2, 3, 3, 4, 4));
      await t.dispose();
    });

    it('bad arguments are TypeError / RangeError naming them, before anything is queued', async () => {
      expect(() => engine.createTensor(0)).toThrow(RangeError);
      expect(() => engine.createTensor(1.5)).toThrow(/init/);
      expect(() => engine.createTensor(new Float32Array(0))).toThrow(RangeError);
      expect(() => engine.createTensor([1, 2] as unknown as Float32Array)).toThrow(TypeError);
      const tagged = new Uint8Array(8);
      Object.defineProperty(tagged, Symbol.toStringTag, { value: 'Float32Array' });
      expect(() => engine.createTensor(tagged as never)).toThrow(TypeError);
      expect(() => engine.createTensor(tagged as never)).toThrow(/^createTensor: init must be a positive integer length or a Float32Array, got Uint8Array\(8\)$/);
      const t = engine.createTensor(4);
      await expect(t.write(Float32Array.of(1, 2), 3)).rejects.toThrow(RangeError);
      await expect(t.write(Float32Array.of(1), -1)).rejects.toThrow(/offset/);
      await expect(t.write([1] as unknown as Float32Array)).rejects.toThrow(TypeError);
      await expect(t.read(2, 3)).rejects.toThrow(RangeError);
      await expect(t.read(0, 5)).rejects.toThrow(/^EngineTensor\.read: length of 5 elements from offset 0 does not fit in the tensor's 4$/);
      await expect(t.read(5)).rejects.toThrow(/^EngineTensor\.read: offset must be an integer in \[0, 4\]/);
      await expect(t.write(new Float32Array(5))).rejects.toThrow(/^EngineTensor\.write: data of 5 elements from offset 0 does not fit/);
      await expect(t.read(0, 1.5)).rejects.toThrow(RangeError); // a number, of the wrong value
      await expect(t.read(0, "1" as never)).rejects.toThrow(TypeError);
      await expect(t.write(tagged as never)).rejects.toThrow(/^EngineTensor\.write: data must be a Float32Array, got Uint8Array\(8\)$/);
      expect(await t.read()).toEqual(new Float32Array(4)); // nothing half-written
      await t.dispose();
    });

    it('a length past the largest tensor is a RangeError that gives the limit', async () => {
      // The engine's memory grows to MAX_PAGES (2 GiB); its fixed regions sit below ARENA_BASE.
      expect(MAX_TENSOR_LENGTH).toBe((MAX_PAGES * PAGE_BYTES - ARENA_BASE) / 4);
      expect(MAX_PAGES * PAGE_BYTES).toBe(2 ** 31);
      const limit = `exceeds the largest tensor the engine can hold, ${MAX_TENSOR_LENGTH} elements ` +
        `(its 2 GiB memory less ${ARENA_BASE} bytes of fixed regions, 4 bytes an element)`;
      expect(() => engine.createTensor(2 ** 30 + 1)).toThrow(RangeError);
      expect(() => engine.createTensor(2 ** 30 + 1)).toThrow(`createTensor: init (1073741825 elements) ${limit}`);
      expect(() => engine.createTensor(MAX_TENSOR_LENGTH + 1)).toThrow(`createTensor: init (${MAX_TENSOR_LENGTH + 1} elements) ${limit}`);
      expect(() => engine.createTensor(2 ** 53)).toThrow(RangeError);
      expect(() => engine.createTensor(Infinity)).toThrow(/init must be a positive integer length or a Float32Array, got Infinity/);
      const t = engine.createTensor(3); // the engine is unharmed
      expect(await t.read()).toEqual(new Float32Array(3));
      await t.dispose();
    });

    it('attention checks tensor lengths, kvCapacity, and that a tensor is this engine\'s', async () => {
      const o = { batch: 1, heads: 2, seqQ: 3, seqK: 5, headDim: 4 };
      const q = randomF32(24, 1), k = engine.createTensor(40), v = engine.createTensor(40);
      await expect(engine.attention(q, engine.createTensor(39), v, o)).rejects.toThrow(/k has length 39, expected 40/);
      await expect(engine.attention(q, k, v, { ...o, kvCapacity: 4 })).rejects.toThrow(/kvCapacity/);
      await expect(engine.attention(q, k, v, { ...o, kvCapacity: 6 })).rejects.toThrow(/expected 48 .*kvCapacity/);
      const other = await createEngine();
      const foreign = other.createTensor(40);
      await expect(engine.attention(q, foreign, v, o)).rejects.toThrow(TypeError);
      await expect(engine.attention(q, { length: 40 } as never, v, o)).rejects.toThrow(/tensor of this engine/);
      await other.dispose();
      expect((await engine.attention(q, k, v, o)).output).toHaveLength(24);
    });

    it('dispose: calls queued before still read the tensor, later ones reject; memory returns', async () => {
      const arena = arenaOf(engine);
      const before = arena.residentBytes;
      const o = { batch: 1, heads: 1, seqQ: 2, seqK: 8, headDim: 4 };
      const k = engine.createTensor(randomF32(32, 5)), v = engine.createTensor(randomF32(32, 6));
      expect(arena.residentBytes).toBe(before + 2 * 128); // an idle engine places them at once
      const queued = engine.attention(randomF32(8, 7), k, v, o);
      const disposed = k.dispose();
      await expect(queued).resolves.toBeDefined();
      await disposed;
      await k.dispose(); // idempotent
      await expect(engine.attention(randomF32(8, 7), k, v, o)).rejects.toThrow(/disposed/);
      await expect(k.write(Float32Array.of(1))).rejects.toThrow(/disposed/);
      await expect(k.read()).rejects.toThrow(/disposed/);
      await v.dispose();
      expect(arena.residentBytes).toBe(before);
    });

    it('a disposed engine makes no tensors', async () => {
      const e = await createEngine();
      await e.dispose();
      expect(() => e.createTensor(4)).toThrow(/disposed/);
    });

    it('dispose() not awaited: work queued after it already finds the memory free', async () => {
      const arena = arenaOf(engine);
      const before = arena.residentBytes;
      for (let i = 0; i < 50; i++) {
        const t = engine.createTensor(1 << 18); // 1 MiB
        void t.dispose();
      }
      const t = engine.createTensor(16);
      await t.read(); // queued after every dispose above
      expect(arena.residentBytes - before, 'only the last tensor is left').toBeLessThan(1024);
      await t.dispose();
      expect(arena.residentBytes).toBe(before);
    });

    it('a resource disposed after its engine (awaited or not) resolves; dispose stays idempotent', async () => {
      for (const threads of [1, 2]) {
        const e = await createEngine({ threads });
        const t = e.createTensor(8), u = e.createTensor(8);
        const layer = e.linear({ inFeatures: 4, outFeatures: 3, weights: { weight: randomF32(12, 1), bias: randomF32(3, 2) } });
        const mha = e.multiHeadAttention({ embedDim: 4, numHeads: 2, weights: { inProjWeight: randomF32(48, 3), inProjBias: randomF32(12, 4), outProjWeight: randomF32(16, 5), outProjBias: randomF32(4, 6) } });
        const early = t.dispose(); // not awaited before the engine goes
        await e.dispose();
        await expect(early).resolves.toBeUndefined();
        await expect(u.dispose()).resolves.toBeUndefined();
        await expect(layer.dispose()).resolves.toBeUndefined();
        await expect(mha.dispose()).resolves.toBeUndefined();
        await expect(u.dispose()).resolves.toBeUndefined();
        await expect(e.dispose()).resolves.toBeUndefined();
      }
    });
  });
});
