import { describe, expect, it } from 'vitest';
import { Arena } from '../../src/wasm/arena.js';
import { ALIGN, ARENA_BASE, PAGE_BYTES } from '../../src/wasm/layout.js';

describe('Arena', () => {
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
  });
});
