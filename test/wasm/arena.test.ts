import { describe, expect, it } from 'vitest';
import { Arena } from '../../src/wasm/arena.js';
import { ALIGN, ARENA_BASE, PAGE_BYTES } from '../../src/wasm/layout.js';

describe('Arena', () => {
  it('prepareOutputs: readF32 copies into a prepared array of its length, once; reset() drops the rest', () => {
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 64, shared: true });
    const arena = new Arena(memory, 64);
    const at = arena.place(5000 * 4);
    arena.commit();
    const values = Float32Array.from({ length: 5000 }, (_, i) => i - 0.5);
    arena.writeF32(at, values);
    arena.prepareOutputs([5000, 3, 5000]);
    const prepared = (arena as unknown as { prepared: Float32Array[] }).prepared;
    const [first, small, second] = prepared;
    const a = arena.readF32(at, 5000);
    expect(a).toBe(first); // the first of its length, filled
    expect(a.buffer instanceof SharedArrayBuffer).toBe(false); // a plain array, as slice() gives
    expect(Array.from(a)).toEqual(Array.from(values));
    const b = arena.readF32(at, 5000);
    expect(b).toBe(second);
    expect(b === a).toBe(false);
    expect(Array.from(b)).toEqual(Array.from(values));
    const c = arena.readF32(at, 5000); // none left of that length: a copy as before
    expect(c === a || c === b).toBe(false);
    expect(Array.from(c)).toEqual(Array.from(values));
    const d = arena.readF32(at, 2); // no prepared array of length 2: the small one stays
    expect(d === small).toBe(false);
    expect(prepared).toEqual([small]);
    arena.reset();
    expect(prepared).toEqual([]);
  });

  for (const shared of [false, true]) {
    it(`places aligned buffers, grows once when a call needs more, refreshes views (shared: ${shared})`, () => {
      const memory = new WebAssembly.Memory({ initial: 1, maximum: 64, shared });
      const arena = new Arena(memory, 64);
      const a = arena.place(3);
      const b = arena.place(17);
      expect(a).toBe(ARENA_BASE);
      expect(b % ALIGN).toBe(0);
      expect(b - a).toBe(ALIGN);
      const before = arena.f32;
      const big = arena.place(10 * PAGE_BYTES);
      arena.commit();
      expect(memory.buffer.byteLength).toBeGreaterThanOrEqual(big + 10 * PAGE_BYTES);
      expect(arena.f32 === before).toBe(false);
      expect(arena.f32.length).toBe(memory.buffer.byteLength / 4);
      arena.writeF32(big, new Float32Array([1, 2, 3]));
      expect(Array.from(arena.readF32(big, 3))).toEqual([1, 2, 3]);
      const pages = memory.buffer.byteLength;
      arena.reset();
      arena.place(10 * PAGE_BYTES);
      arena.commit();
      expect(memory.buffer.byteLength).toBe(pages); // same shape again: no growth
    });
  }

  it('fails with a RangeError, before writing, when a call needs more than the maximum', () => {
    const arena = new Arena(new WebAssembly.Memory({ initial: 1, maximum: 2 }), 2);
    arena.place(3 * PAGE_BYTES);
    expect(() => arena.commit()).toThrow(RangeError);
    expect(() => arena.commit()).toThrow(/this call needs \d+ bytes of working memory \(\d+ above the resident blocks\), .*; split the batch/);
  });

  it('a resident block that does not fit is a RangeError that says so (not a call), and keeps nothing', () => {
    const arena = new Arena(new WebAssembly.Memory({ initial: 1, maximum: 4 }), 4);
    expect(() => arena.keep(5 * PAGE_BYTES)).toThrow(RangeError);
    expect(() => arena.keep(5 * PAGE_BYTES)).toThrow(
      new RegExp(`keeping ${5 * PAGE_BYTES} more bytes resident \\(a tensor or a module's weights\\) needs \\d+ bytes .*; dispose tensors or models`));
    expect(arena.residentBytes).toBe(0);
    expect(arena.keep(PAGE_BYTES)).toBeGreaterThan(0);
  });

  it('a failing call or block names the holes only blocks can reuse, the garbage-collection caveat, and a block\'s own name and hint', () => {
    const pages = 16;
    const arena = new Arena(new WebAssembly.Memory({ initial: 1, maximum: pages }), pages);
    const big = arena.keep(8 * PAGE_BYTES);
    arena.keep(1024); // a small block above the big one pins the call arena above it
    arena.release(big);
    expect(arena.residentBytes).toBe(1024);
    arena.place(10 * PAGE_BYTES);
    expect(() => arena.commit()).toThrow(new RegExp(
      `this call needs \\d+ bytes of working memory \\(${10 * PAGE_BYTES} above the resident blocks\\), .*; split the batch, or free resident blocks ` +
      `\\(tensors, models and generate iterators dropped without dispose\\(\\) are freed only after a garbage collection.*\\); ` +
      `${8 * PAGE_BYTES} bytes are free below resident blocks made later, which only tensors and weights can reuse`));
    arena.reset();
    // The hole serves a block that fits in it: no growth, the same address.
    expect(arena.keep(4 * PAGE_BYTES)).toBe(big);
    expect(() => arena.keep(20 * PAGE_BYTES, { what: 'a KV cache', hint: 'generate fewer sequences at once' })).toThrow(
      /keeping \d+ more bytes resident \(a KV cache\) needs \d+ bytes of memory, more than the \d+ bytes the engine can address; generate fewer sequences at once \(tensors, models/);
  });

  it('deferred copies: made on flush, or into a plain memory at the same addresses (runOn) until reset', () => {
    const shared = new WebAssembly.Memory({ initial: 1, maximum: 64, shared: true });
    const plain = new WebAssembly.Memory({ initial: 1, maximum: 64 });
    const arena = new Arena(shared, 64);
    arena.deferWrites();
    const a = arena.place(4 * PAGE_BYTES);
    arena.commit();
    arena.writeF32(a, new Float32Array([1, 2, 3]));
    arena.writeI32(a + 16, new Int32Array([7]));
    expect(arena.deferred).toBe(true);
    expect(arena.deferredBytes).toBe(16);
    expect(new Float32Array(shared.buffer, a, 3)).toEqual(new Float32Array(3)); // not copied yet
    arena.runOn(plain);
    expect(plain.buffer.byteLength).toBeGreaterThanOrEqual(a + 4 * PAGE_BYTES); // grown to cover the call
    expect(Array.from(new Float32Array(plain.buffer, a, 3))).toEqual([1, 2, 3]);
    expect(new Int32Array(plain.buffer, a + 16, 1)[0]).toBe(7);
    expect(Array.from(arena.readF32(a, 3))).toEqual([1, 2, 3]); // reads follow the call
    expect(new Float32Array(shared.buffer, a, 3)).toEqual(new Float32Array(3));
    arena.reset();
    expect(arena.f32.buffer).toBe(shared.buffer);

    // a view handed out during the call makes the copies at once, and the call stays where it is
    arena.deferWrites();
    const b = arena.place(12);
    arena.writeF32(b, new Float32Array([4, 5, 6]));
    arena.f32[(b >>> 2) + 1] = 9;
    expect(arena.deferred).toBe(false);
    expect(() => arena.runOn(plain)).toThrow(/already written/);
    expect(Array.from(new Float32Array(shared.buffer, b, 3))).toEqual([4, 9, 6]);
    arena.reset();
  });
});
