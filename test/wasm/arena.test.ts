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

  it('a failing call or block names the free holes and the largest, the garbage-collection caveat, and a block\'s own name and hint', () => {
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
      `${8 * PAGE_BYTES} bytes are free below resident blocks made later, in holes of at most ${8 * PAGE_BYTES} bytes, ` +
      'which a call uses only when one holds all its memory'));
    arena.reset();
    // The hole serves a block that fits in it: no growth, the same address.
    expect(arena.keep(4 * PAGE_BYTES)).toBe(big);
    expect(() => arena.keep(20 * PAGE_BYTES, { what: 'a KV cache', hint: 'generate fewer sequences at once' })).toThrow(
      /keeping \d+ more bytes resident \(a KV cache\) needs \d+ bytes of memory, more than the \d+ bytes the engine can address; generate fewer sequences at once \(tensors, models/);
  });

  it('fit: a call that would grow the memory goes in the smallest hole that holds it, else above the blocks', () => {
    const pages = 64;
    const memory = new WebAssembly.Memory({ initial: 1, maximum: pages, shared: true });
    const arena = new Arena(memory, pages);
    const big = arena.keep(8 * PAGE_BYTES);
    arena.keep(16); // between the holes: they do not coalesce
    const small = arena.keep(2 * PAGE_BYTES);
    const pin = arena.keep(1024); // above both: their space stays below the call arena once released
    arena.release(big);
    arena.release(small);
    expect(arena.callRegion).toBe(undefined);
    const grown = memory.buffer.byteLength;
    const build = (bytes: number[]) => arena.fit(() => {
      const at = bytes.map((b) => arena.place(b));
      arena.commit();
      return at;
    });

    // 1.5 pages: the 2-page hole (smallest that holds it), not the 8-page one; no growth
    const [a, b] = build([PAGE_BYTES, PAGE_BYTES / 2]);
    expect(a).toBe(small);
    expect(b).toBe(small + PAGE_BYTES);
    expect(arena.callRegion).toEqual({ at: small, end: small + 2 * PAGE_BYTES });
    expect(arena.residentEnd).toBe(pin + 1024);
    arena.writeF32(b, new Float32Array([1, 2]));
    expect(Array.from(arena.readF32(b, 2))).toEqual([1, 2]);
    arena.reset();
    expect(arena.callRegion).toBe(undefined);

    // 5 pages: only the big hole holds it; 8 pages fill it; 8 pages and 16 bytes go above the blocks
    expect(build([5 * PAGE_BYTES])).toEqual([big]);
    arena.reset();
    expect(build([8 * PAGE_BYTES])).toEqual([big]);
    arena.reset();
    expect(memory.buffer.byteLength).toBe(grown);
    expect(build([8 * PAGE_BYTES, 16])).toEqual([pin + 1024, pin + 1024 + 8 * PAGE_BYTES]);
    expect(memory.buffer.byteLength).toBeGreaterThan(grown);
    arena.reset();
    // A call that fits above the blocks without growing stays there.
    expect(build([PAGE_BYTES])).toEqual([pin + 1024]);
    arena.reset();

    // A build that fails for another reason propagates, and the next call starts clean.
    expect(() => arena.fit(() => {
      arena.place(9 * PAGE_BYTES);
      arena.commit();
      throw new TypeError('bad');
    })).toThrow(TypeError);
    arena.reset();
    expect(arena.place(16)).toBe(arena.residentEnd);
  });

  it('fit: a hole that holds the call by size but not once aligned: tried, then above the blocks (3 builds); one build when no hole can hold it', () => {
    const arena = new Arena(new WebAssembly.Memory({ initial: 1, maximum: 32 }), 32);
    expect(ARENA_BASE % 128).toBe(0);
    const hole = arena.keep(4 * PAGE_BYTES + 16);
    arena.keep(96); // the call arena starts at 112 mod 128
    arena.release(hole);
    expect(arena.residentEnd % 128).toBe(112);
    let builds = 0;
    // above the blocks: 16 bytes, then 4 pages at the next 128-byte boundary (no padding), 16 + 4
    // pages: the hole's size; in the hole, 112 bytes of padding: it overflows, so above after all
    const call = (): number[] => {
      builds++;
      const at = [arena.place(16), arena.place(4 * PAGE_BYTES, 128)];
      arena.commit();
      return at;
    };
    const top = arena.residentEnd;
    expect(arena.fit(call)).toEqual([top, top + 16]);
    expect(builds).toBe(3);
    arena.reset();
    builds = 0;
    expect(() => arena.fit(() => { builds++; arena.place(40 * PAGE_BYTES); arena.commit(); })).toThrow(RangeError);
    expect(builds).toBe(1);
    arena.reset();
  });

  it('fit: each hole at its own alignment: past one the call overflows, into a larger one; into one smaller than the size measured above the blocks', () => {
    const X = 4 * PAGE_BYTES;
    const call = (arena: Arena) => (): number[] => {
      const at = [arena.place(16), arena.place(X, 128)];
      arena.commit();
      return at;
    };
    {
      const memory = new WebAssembly.Memory({ initial: 1, maximum: 64 });
      const arena = new Arena(memory, 64);
      const a = arena.keep(16 + X); // 0 mod 128: the call's 16 bytes, then 112 of padding: overflows
      arena.keep(16);
      const b = arena.keep(X + 4096); // 32 mod 128: 16 bytes, 80 of padding, fits
      arena.keep(80); // the call arena at 112 mod 128: there the call is 16 + X bytes, exactly a
      arena.release(a);
      arena.release(b);
      expect([a % 128, b % 128, arena.residentEnd % 128]).toEqual([0, 32, 112]);
      const bytes = memory.buffer.byteLength;
      expect(arena.fit(call(arena))).toEqual([b, b + 96]);
      expect(memory.buffer.byteLength).toBe(bytes);
      arena.reset();
    }
    {
      const memory = new WebAssembly.Memory({ initial: 1, maximum: 64 });
      const arena = new Arena(memory, 64);
      arena.keep(112);
      const c = arena.keep(X + 16); // 112 mod 128: no padding, X + 16 bytes
      arena.keep(16); // the call arena at 16 mod 128: there the call is X + 112 bytes, more than c
      arena.release(c);
      expect([c % 128, arena.residentEnd % 128]).toEqual([112, 16]);
      const bytes = memory.buffer.byteLength;
      expect(arena.fit(call(arena))).toEqual([c, c + 16]);
      expect(memory.buffer.byteLength).toBe(bytes);
      arena.reset();
    }
  });

  it('keep(…, zero): zeros what calls and blocks used before, and leaves memory never handed out unwritten', () => {
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 64 });
    const arena = new Arena(memory, 64);
    const call = arena.place(4 * PAGE_BYTES); // a call's buffers, written
    arena.commit();
    arena.u8.fill(0xab, call, call + 4 * PAGE_BYTES);
    arena.reset();
    const before = memory.buffer.byteLength;
    // over the call's bytes and fresh memory past them: the call's bytes are cleared
    const block = arena.keep(8 * PAGE_BYTES, undefined, true);
    expect(block).toBe(call);
    expect(memory.buffer.byteLength).toBeGreaterThan(before);
    expect(arena.u8.subarray(block, block + 8 * PAGE_BYTES).every((b) => b === 0)).toBe(true);
    arena.u8[block + 6 * PAGE_BYTES] = 5; // the block's own content
    arena.release(block);
    // kept again: all of it was used, all of it is cleared
    const again = arena.keep(8 * PAGE_BYTES, undefined, true);
    expect(again).toBe(block);
    expect(arena.u8.subarray(again, again + 8 * PAGE_BYTES).every((b) => b === 0)).toBe(true);
    // a fresh block above everything: its bytes are not written (the marker stays)
    const top = arena.residentEnd;
    arena.u8[top + 100] = 9;
    const fresh = arena.keep(PAGE_BYTES, undefined, true);
    expect(fresh).toBe(top);
    expect(arena.u8[top + 100]).toBe(9);
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
