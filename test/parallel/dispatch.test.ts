// Where a pool engine runs a call (src/engine.ts, PoolExecutor.place): on the workers, on the
// calling thread in the engine's shared memory, or on the calling thread in its plain memory
// (calls that read no resident block, with their input copies deferred until then). Every
// placement gives the bits of threads 1, and the forcePool test hook still forces the pool.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, type Engine } from '../../dist/index.js';
import { INLINE_BELOW_FLOPS, INLINE_FLOPS_PER_COPIED_BYTE, PathChooser } from '../../src/engine.js';
import { randomF32 } from '../helpers/random.js';
import { expectSameBits } from '../helpers/compare.js';

const DEBUG = Symbol.for('wasm-attention.debug');
type Internals = {
  arena: { memory: WebAssembly.Memory };
  pool?: () => Promise<{ runs: number }>;
  forcePool(on?: boolean): void;
  placement(): string | undefined;
};
const internals = (e: Engine): Internals => (e as unknown as Record<symbol, () => Internals>)[DEBUG]();

describe('dispatch policy of a pool engine', () => {
  let one: Engine, two: Engine, forced: Engine;
  beforeAll(async () => {
    one = await createEngine({ threads: 1, kernels: 'simd' });
    two = await createEngine({ threads: 2, kernels: 'simd' });
    forced = await createEngine({ threads: 2, kernels: 'simd' });
    internals(forced).forcePool();
  });
  afterAll(async () => {
    await Promise.all([one, two, forced].map((e) => e.dispose()));
  });

  /** Runs `call` on the three engines; checks the bits agree and returns where `two` ran it and
   * how many pool runs it took. */
  async function placed(call: (e: Engine) => Promise<{ output: Float32Array; weights?: Float32Array }>) {
    const pool = await internals(two).pool!();
    const forcedPool = await internals(forced).pool!();
    const [runs, forcedRuns] = [pool.runs, forcedPool.runs];
    const [r1, r2, rf] = [await call(one), await call(two), await call(forced)];
    expectSameBits(r2.output, r1.output);
    expectSameBits(rf.output, r1.output);
    if (r1.weights) expectSameBits(r2.weights, r1.weights);
    expect(forcedPool.runs - forcedRuns).toBeGreaterThan(0); // forcePool still forces
    expect(internals(forced).placement()).toBe('pool');
    return { where: internals(two).placement(), poolRuns: pool.runs - runs };
  }

  it('decode with K/V passed in runs on the calling thread in the plain memory, same bits', async () => {
    const o = { batch: 1, heads: 12, seqQ: 1, seqK: 1024, headDim: 64 };
    const q = randomF32(12 * 64, 1), k = randomF32(12 * 1024 * 64, 2), v = randomF32(12 * 1024 * 64, 3);
    expect(await placed((e) => e.attention(q, k, v, o))).toEqual({ where: 'inline-plain', poolRuns: 0 });
    // bigger than INLINE_BELOW_FLOPS, but not worth the slower copy into shared memory (4096 keys: 12.6 MFLOP, 25 MB in)
    const o4 = { ...o, seqK: 4096 };
    const k4 = randomF32(12 * 4096 * 64, 4), v4 = randomF32(12 * 4096 * 64, 5);
    const flops = 2 * 12 * 4096 * 128;
    expect(flops).toBeGreaterThan(INLINE_BELOW_FLOPS);
    expect(flops).toBeLessThan(INLINE_BELOW_FLOPS + INLINE_FLOPS_PER_COPIED_BYTE * (k4.byteLength + v4.byteLength));
    expect(await placed((e) => e.attention(q, k4, v4, o4))).toEqual({ where: 'inline-plain', poolRuns: 0 });
    // and the engine's memory is still the shared one
    expect(internals(two).arena.memory.buffer instanceof SharedArrayBuffer).toBe(true);
  });

  it('decode with K/V resident runs on the calling thread in the shared memory, same bits', async () => {
    const o = { batch: 1, heads: 12, seqQ: 1, seqK: 1024, headDim: 64 };
    const q = randomF32(12 * 64, 1), k = randomF32(12 * 1024 * 64, 2), v = randomF32(12 * 1024 * 64, 3);
    const tensors = [one, two, forced].map((e) => ({ e, k: e.createTensor(k), v: e.createTensor(v) }));
    const of = (e: Engine) => tensors.find((t) => t.e === e)!;
    // only k resident: the program still reads a resident block, so it cannot move
    expect(await placed((e) => e.attention(q, of(e).k, v, o))).toEqual({ where: 'inline', poolRuns: 0 });
    expect(await placed((e) => e.attention(q, of(e).k, of(e).v, o))).toEqual({ where: 'inline', poolRuns: 0 });
    for (const t of tensors) { t.k.dispose(); t.v.dispose(); }
  });

  it('calls that the pool wins go to the workers', async () => {
    const o = { batch: 1, heads: 8, seqQ: 256, seqK: 256, headDim: 64, causal: true };
    const q = randomF32(8 * 256 * 64, 6), k = randomF32(8 * 256 * 64, 7), v = randomF32(8 * 256 * 64, 8);
    expect(await placed((e) => e.attention(q, k, v, o))).toEqual({ where: 'pool', poolRuns: 1 });
  });

  it('multi-head attention (weights resident): small calls inline in the shared memory, large ones on the pool', async () => {
    const E = 64, H = 4, s = 1 / Math.sqrt(E);
    const weights = { inProjWeight: randomF32(3 * E * E, 1, s), inProjBias: randomF32(3 * E, 2), outProjWeight: randomF32(E * E, 3, s), outProjBias: randomF32(E, 4) };
    const layers = new Map([one, two, forced].map((e) => [e, e.multiHeadAttention({ embedDim: E, numHeads: H, weights })]));
    for (const [L, where] of [[9, 'inline'], [300, 'pool']] as const) {
      const x = randomF32(L * E, L);
      const opts = { batch: 1, seqQ: L, seqK: L, causal: true };
      expect((await placed((e) => layers.get(e)!.forward(x, x, x, opts))).where).toBe(where);
    }
  });

  it('calls of every placement interleaved on one engine, growing both memories, all come back right', async () => {
    const shapes = [[1, 4, 1, 3000], [1, 8, 200, 200], [2, 3, 1, 40], [1, 12, 1, 9000], [1, 8, 256, 256]];
    const calls = shapes.map(([batch, heads, seqQ, seqK], i) => {
      const o = { batch, heads, seqQ, seqK, headDim: 32 };
      const q = randomF32(batch * heads * seqQ * 32, 10 + i);
      const k = randomF32(batch * heads * seqK * 32, 20 + i), v = randomF32(batch * heads * seqK * 32, 30 + i);
      return (e: Engine) => e.attention(q, k, v, o);
    });
    const expected = [];
    for (const call of calls) expected.push(await call(one));
    const results = await Promise.all([...calls, ...calls].map((call) => call(two)));
    results.forEach((r, i) => expectSameBits(r.output, expected[i % calls.length].output));
  });
});

describe('PathChooser (pool or inline for large programs, by measured speed)', () => {
  /** Runs `calls` choices, each taking `ms[way]` for 100 MFLOP; returns how many went each way. */
  function drive(chooser: PathChooser, calls: number, ms: { pool: number; inline: number }) {
    const count = { pool: 0, inline: 0 };
    for (let i = 0; i < calls; i++) {
      const way = chooser.choose();
      count[way]++;
      chooser.record(way, ms[way], 100e6);
    }
    return count;
  }

  it('starts on the pool, tries inline now and then, less and less often while the pool wins', () => {
    const chooser = new PathChooser();
    const count = drive(chooser, 2000, { pool: 10, inline: 19 });
    expect(count.inline).toBeGreaterThan(0);
    expect(count.inline).toBeLessThan(2000 / 100); // backs off towards one in MAX_INTERVAL
  });

  it('moves to inline when the pool is slower (a loaded machine), and back when it recovers', () => {
    const chooser = new PathChooser();
    drive(chooser, 50, { pool: 10, inline: 19 });
    const loaded = drive(chooser, 1000, { pool: 25, inline: 19 });
    expect(loaded.pool).toBeLessThanOrEqual(Math.ceil(1000 / PathChooser.MAX_INTERVAL_INLINE) + 2); // one try in 16
    const quiet = drive(chooser, 1000, { pool: 10, inline: 19 });
    expect(quiet.inline).toBeLessThan(1000 / 20);
    // back on the pool within MAX_INTERVAL_INLINE calls of the machine quietening
    drive(chooser, 1000, { pool: 25, inline: 19 });
    const firstPool = Array.from({ length: 40 }, () => {
      const way = chooser.choose();
      chooser.record(way, way === 'pool' ? 10 : 19, 100e6);
      return way;
    }).indexOf('pool');
    expect(firstPool).toBeGreaterThanOrEqual(0);
    expect(firstPool).toBeLessThan(PathChooser.MAX_INTERVAL_INLINE);
  });
});
