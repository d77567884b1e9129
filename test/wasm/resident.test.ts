import { describe, expect, it } from 'vitest';
import { Arena } from '../../src/wasm/arena.js';
import { ARENA_BASE } from '../../src/wasm/layout.js';

describe('Arena resident blocks', () => {
  it('keep() places blocks below the call arena; release() reuses and coalesces holes', () => {
    const arena = new Arena(new WebAssembly.Memory({ initial: 1, maximum: 100 }), 100);
    const a = arena.keep(100), b = arena.keep(5000), c = arena.keep(16);
    expect([a, b, c]).toEqual([ARENA_BASE, ARENA_BASE + 112, ARENA_BASE + 112 + 5008]);
    const call = arena.place(8);
    expect(call).toBe(c + 16); // the call arena starts above the resident blocks
    arena.reset();
    arena.release(b);
    expect(arena.keep(4000)).toBe(b); // first fit into the hole
    arena.release(a);
    arena.release(b); // a and b coalesce
    expect(arena.keep(5000 + 112)).toBe(a);
    arena.release(a);
    arena.release(c); // the top block: the call arena moves down again
    expect(arena.residentBytes).toBe(0);
    expect(arena.place(8)).toBe(ARENA_BASE);
  });
});
