// The control block and program region: every slot and region derives from MAX_PHASES and none
// overlaps another; programs at and past the capacity run on the pool with every phase seeing
// the one before it (a phase p >= 8 once claimed items from the barrier of phase p - 8); a
// notify that lands after its EPOCH was served (the host descheduled between bump and notify)
// runs nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, type Engine } from '../../dist/index.js';
import { CTRL } from '../../src/parallel/protocol.js';
import { meanRowsPhase, PHASE_FIELDS, type Phase } from '../../src/parallel/phases.js';
import * as layout from '../../src/wasm/layout.js';
import type { Arena } from '../../src/wasm/arena.js';
import { expectSameBits } from '../helpers/compare.js';
import { randomF32 } from '../helpers/random.js';

describe('memory map of the pool', () => {
  it('no two control slots overlap, and all lie inside the control block', () => {
    const owner = new Map<number, string>();
    const claim = (slot: number, name: string) => {
      expect(owner.get(slot), `slot ${slot}: ${name} and ${owner.get(slot)}`).toBeUndefined();
      expect(slot).toBeGreaterThanOrEqual(0);
      expect(slot).toBeLessThan(layout.CONTROL_SLOTS);
      owner.set(slot, name);
    };
    for (const [name, slot] of Object.entries(CTRL)) {
      if (name !== 'NEXT' && name !== 'ARRIVE') claim(slot, name);
      else expect(slot).toBeGreaterThanOrEqual(layout.CONTROL_HEADER_SLOTS);
    }
    for (let p = 0; p < layout.MAX_PHASES; p++) {
      claim(CTRL.NEXT + p, `NEXT + ${p}`);
      claim(CTRL.ARRIVE + p, `ARRIVE + ${p}`);
    }
    expect(layout.CONTROL_SLOTS * 4).toBeLessThanOrEqual(layout.CONTROL_BYTES);
  });

  it('the regions follow each other: null page, control block, program region, arena', () => {
    expect(layout.CONTROL_OFFSET).toBeGreaterThanOrEqual(64);
    expect(layout.PROGRAM_OFFSET).toBeGreaterThanOrEqual(layout.CONTROL_OFFSET + layout.CONTROL_SLOTS * 4);
    expect(layout.PROGRAM_OFFSET % 8).toBe(0); // f64 records
    expect(layout.ARENA_BASE).toBeGreaterThanOrEqual(layout.PROGRAM_OFFSET + layout.MAX_PHASES * layout.PHASE_SLOTS * 8);
    expect(layout.ARENA_BASE % layout.ALIGN).toBe(0);
  });

  it('every phase kind fits its record, and the capacity holds a 12-layer forward pass', () => {
    for (const fields of Object.values(PHASE_FIELDS)) expect(1 + fields.length).toBeLessThanOrEqual(layout.PHASE_SLOTS);
    expect(layout.MAX_PHASES).toBeGreaterThanOrEqual(12 * 16);
  });
});

const DEBUG = Symbol.for('wasm-attention.debug');
type Built = { program: Phase[]; collect(): { output: Float32Array } };
type Internals = {
  arena: Arena;
  forcePool(on?: boolean): void;
  pool?: () => Promise<{ runs: number }>;
  call(build: (arena: Arena, threads: number) => Built): Promise<{ output: Float32Array }>;
};
const internals = (e: Engine): Internals => (e as unknown as Record<symbol, () => Internals>)[DEBUG]();

/** A chain of `phases` mean phases, each reading the previous one's output: x_{p+1} = (x_p + c_p) / 2
 * over n columns (several items a phase). Buffers alternate, so a phase that ran early or
 * skipped items leaves stale numbers that the chain carries to the end. */
function chain(input: Float32Array, constants: Float32Array, phases: number): (arena: Arena) => Built {
  const n = input.length;
  return (arena) => {
    const rows = [arena.place(2 * n * 4), arena.place(2 * n * 4)]; // [x | c] each
    arena.commit();
    arena.writeF32(rows[0], input);
    arena.writeF32(rows[0] + n * 4, constants);
    arena.writeF32(rows[1] + n * 4, constants);
    const program: Phase[] = [];
    for (let p = 0; p < phases; p++) {
      const from = rows[p % 2], to = rows[(p + 1) % 2];
      program.push(meanRowsPhase(1, 2, n, from, 0, n, to, 0));
    }
    return { program, collect: () => ({ output: arena.readF32(rows[phases % 2], n) }) };
  };
}

/** The chain in f32, as the kernel computes it: (x + c) · (1/2). */
function chainReference(input: Float32Array, constants: Float32Array, phases: number): Float32Array {
  const x = Float32Array.from(input);
  for (let p = 0; p < phases; p++) for (let j = 0; j < x.length; j++) x[j] = Math.fround(Math.fround(x[j] + constants[j]) * 0.5);
  return x;
}

describe('programs on the pool (forced), up to and past the capacity', () => {
  const engines: Engine[] = [];
  beforeAll(async () => {
    for (const threads of [2, 3]) {
      const e = await createEngine({ threads, kernels: 'simd' });
      internals(e).forcePool();
      engines.push(e);
    }
  });
  afterAll(async () => {
    await Promise.all(engines.map((e) => e.dispose()));
  });

  // 9 and 17 phases straddle the old collision (NEXT = 8, ARRIVE = 16); the rest straddle the capacity.
  const lengths = [1, 9, 17, layout.MAX_PHASES - 1, layout.MAX_PHASES, layout.MAX_PHASES + 1, 2 * layout.MAX_PHASES + 3];
  it.each(lengths)('%i phases: every phase sees the one before it, on 2 and 3 threads', async (phases) => {
    const n = 3 * 4096 + 5; // 4 items a phase, the last one ragged
    const input = randomF32(n, phases, 100), constants = randomF32(n, phases + 1, 100);
    const expected = chainReference(input, constants, phases);
    for (const e of engines) {
      const pool = await internals(e).pool!();
      const before = pool.runs;
      const { output } = await internals(e).call(chain(input, constants, phases));
      expectSameBits(output, expected);
      expect(pool.runs - before).toBe(Math.ceil(phases / layout.MAX_PHASES));
    }
  });
});

describe('a late notify', () => {
  // The host bumps EPOCH, then notifies. Descheduled between the two, it lets a spinning worker
  // serve the whole call and fall asleep on the new EPOCH before the notify lands. Workers that
  // took that wake-up for a command ran the finished program again, over the host's next
  // dispatch: items claimed from its counters, DONE counted early, a barrier reset under them
  // (a hang in char-gpt's test, about one in 50 000 decode steps under load). The test sends
  // such notifies directly, with the workers asleep on the EPOCH they served.
  it('wakes the workers but runs nothing: the control block is untouched and the next call is exact', async () => {
    for (const threads of [2, 3]) {
      const e = await createEngine({ threads, kernels: 'simd' });
      try {
        internals(e).forcePool();
        const ctrl = new Int32Array(internals(e).arena.memory.buffer, layout.CONTROL_OFFSET, layout.CONTROL_SLOTS);
        const n = 3 * 4096 + 5, phases = 5;
        for (let round = 0; round < 3; round++) {
          const input = randomF32(n, 40 + round, 100), constants = randomF32(n, 50 + round, 100);
          const { output } = await internals(e).call(chain(input, constants, phases));
          expectSameBits(output, chainReference(input, constants, phases));
          const served = Int32Array.from(ctrl);
          expect(served[CTRL.DONE]).toBe(threads);
          await new Promise((r) => setTimeout(r, 20)); // past the workers' spin: asleep on EPOCH
          for (let i = 0; i < 4; i++) {
            Atomics.notify(ctrl, CTRL.EPOCH);
            await new Promise((r) => setTimeout(r, 5));
          }
          await new Promise((r) => setTimeout(r, 20));
          expect(Array.from(ctrl), `threads ${threads}, round ${round}`).toEqual(Array.from(served));
        }
      } finally {
        await e.dispose();
      }
    }
  });
});

describe('a replaced pool', () => {
  // Pool.create bumps CTRL.GEN; a worker whose pool was replaced (in browsers, Deno and Bun
  // terminate() returns before the thread stops) must stop rather than serve the new pool's
  // calls: claims from its counters, a count in DONE, writes from its scratch slot. Here GEN is
  // bumped under a live pool, as a newer pool would: its workers leave at the next call, which
  // fails naming the exit, and the call after it runs on a new pool, exact.
  it('stops its workers at the next call; the engine recovers with exact results', async () => {
    const e = await createEngine({ threads: 2, kernels: 'simd' });
    try {
      internals(e).forcePool();
      const ctrl = new Int32Array(internals(e).arena.memory.buffer, layout.CONTROL_OFFSET, layout.CONTROL_SLOTS);
      const n = 3 * 4096 + 5, phases = 3;
      const input = randomF32(n, 60, 100), constants = randomF32(n, 61, 100);
      const expected = chainReference(input, constants, phases);
      expectSameBits((await internals(e).call(chain(input, constants, phases))).output, expected);
      const old = await internals(e).pool!();
      const generation = Atomics.add(ctrl, CTRL.GEN, 1) + 1;
      await expect(internals(e).call(chain(input, constants, phases))).rejects.toThrow(/worker \d exited with code 0/);
      expectSameBits((await internals(e).call(chain(input, constants, phases))).output, expected);
      expect(await internals(e).pool!()).not.toBe(old);
      expect(Atomics.load(ctrl, CTRL.GEN)).toBe(generation + 1);
    } finally {
      await e.dispose();
    }
  });
});
