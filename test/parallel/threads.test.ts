// The worker pool: identical bits for threads 1, 2 and 3; overlapping calls; crash injection;
// dispose semantics; memory growth.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createEngine, type Engine } from '../../dist/index.js';
import { randomF32, randomInts, randomMask, rng } from '../helpers/random.js';
import { expectSameBits } from '../helpers/compare.js';

const DEBUG = Symbol.for('wasm-attention.debug');
type Internals = {
  arena: { memory: WebAssembly.Memory }; pool?: () => Promise<{ runs: number; killWorker(i: number): Promise<void> }>;
  forcePool(on?: boolean): void;
};
const internals = (e: Engine): Internals => (e as unknown as Record<symbol, () => Internals>)[DEBUG]();

describe('worker pool', () => {
  const engines: Engine[] = [];
  beforeAll(async () => {
    for (const threads of [1, 2, 3]) engines.push(await createEngine({ threads, kernels: 'simd' }));
    // Calls this small would run on the calling thread (INLINE_BELOW_FLOPS): these tests are about
    // the pool. test/parallel/dispatch.test.ts covers the choice and its bits.
    for (const e of engines.slice(1)) internals(e).forcePool();
  });
  afterAll(async () => {
    await Promise.all(engines.map((e) => e.dispose()));
  });

  it('threads 1, 2, 3 give identical bits: attention with random shapes and masks', async () => {
    const next = rng(7);
    for (let trial = 0; trial < 12; trial++) {
      const pick = (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1));
      const batch = pick(1, 3), heads = pick(1, 4), seqQ = pick(1, 80), seqK = pick(1, 140), headDim = pick(1, 20);
      const o = {
        batch, heads, seqQ, seqK, headDim, causal: next() < 0.5, returnWeights: true,
        attnMask: next() < 0.5 ? randomMask(seqQ * seqK, trial) : randomF32(batch * heads * seqQ * seqK, trial),
        validLens: next() < 0.5 ? randomInts(batch, trial, 0, seqK) : undefined,
      };
      const q = randomF32(batch * heads * seqQ * headDim, trial), k = randomF32(batch * heads * seqK * headDim, trial + 1);
      const v = randomF32(batch * heads * seqK * headDim, trial + 2);
      const [r1, r2, r3] = await Promise.all(engines.map((e) => e.attention(q, k, v, o)));
      expectSameBits(r2.output, r1.output);
      expectSameBits(r3.output, r1.output);
      expectSameBits(r2.weights, r1.weights);
      expectSameBits(r3.weights, r1.weights);
    }
  });

  it('threads 1, 2, 3 give identical bits: multi-head attention (projections split too)', async () => {
    for (const [E, H, B, L, kdim] of [[96, 3, 2, 70, 96], [64, 4, 1, 130, 40], [48, 2, 3, 9, 48]]) {
      const s = 1 / Math.sqrt(E);
      const weights = kdim === E
        ? { inProjWeight: randomF32(3 * E * E, E, s), inProjBias: randomF32(3 * E, 1), outProjWeight: randomF32(E * E, 2, s), outProjBias: randomF32(E, 3) }
        : { qProjWeight: randomF32(E * E, 4, s), kProjWeight: randomF32(E * kdim, 5, s), vProjWeight: randomF32(E * kdim, 6, s),
          inProjBias: randomF32(3 * E, 1), outProjWeight: randomF32(E * E, 2, s), outProjBias: randomF32(E, 3) };
      const x = randomF32(B * L * E, 9), mem = randomF32(B * L * kdim, 10);
      const opts = { batch: B, seqQ: L, seqK: L, keyPaddingMask: randomMask(B * L, 3, 0.8), causal: true };
      const results = await Promise.all(engines.map((e) => {
        const layer = e.multiHeadAttention({ embedDim: E, numHeads: H, kdim, vdim: kdim, weights });
        return layer.forward(kdim === E ? x : x, kdim === E ? x : mem, kdim === E ? x : mem, opts);
      }));
      expectSameBits(results[1].output, results[0].output);
      expectSameBits(results[2].output, results[0].output);
      expectSameBits(results[1].weights, results[0].weights);
      expectSameBits(results[2].weights, results[0].weights);
    }
  });

  it('one thread runs on a plain memory (faster copies in and out), a pool on a shared one', () => {
    expect(engines.map((e) => internals(e).arena.memory.buffer instanceof SharedArrayBuffer)).toEqual([false, true, true]);
  });

  it('100 overlapping calls of different shapes all come back right', async () => {
    const [one, two] = engines;
    const E = 64, H = 4;
    const pool = await internals(two).pool!();
    const runsBefore = pool.runs;
    const weights = { inProjWeight: randomF32(3 * E * E, 1, 0.2), inProjBias: randomF32(3 * E, 2), outProjWeight: randomF32(E * E, 3, 0.2), outProjBias: randomF32(E, 4) };
    const a = one.multiHeadAttention({ embedDim: E, numHeads: H, weights });
    const b = two.multiHeadAttention({ embedDim: E, numHeads: H, weights });
    const calls = Array.from({ length: 100 }, (_, i) => {
      const B = 1 + (i % 3), L = 1 + ((i * 37) % 97);
      return { B, L, x: randomF32(B * L * E, 1000 + i), causal: i % 2 === 0 };
    });
    const parallel = await Promise.all(calls.map(({ B, L, x, causal }) => b.forward(x, x, x, { batch: B, seqQ: L, seqK: L, causal })));
    for (let i = 0; i < calls.length; i++) {
      const { B, L, x, causal } = calls[i];
      const expected = await a.forward(x, x, x, { batch: B, seqQ: L, seqK: L, causal });
      expectSameBits(parallel[i].output, expected.output);
      expectSameBits(parallel[i].weights, expected.weights);
    }
    expect(pool.runs - runsBefore).toBe(100); // forced: every call went to the workers
  });

  it('memory grows between calls only when a call needs more, and every worker sees it', async () => {
    const e = engines[1];
    const memory = internals(e).arena.memory;
    const run = (seq: number) => {
      const q = randomF32(2 * 4 * seq * 32, seq);
      return e.attention(q, q, q, { batch: 2, heads: 4, seqQ: seq, seqK: seq, headDim: 32, returnWeights: true });
    };
    const small = await run(64);
    const before = memory.buffer.byteLength;
    await run(64);
    expect(memory.buffer.byteLength).toBe(before); // same shape: no growth
    const big = await run(640); // > 10× the bytes (weights grow with seq²)
    expect(memory.buffer.byteLength).toBeGreaterThan(before);
    const reference = await engines[0].attention(randomF32(2 * 4 * 640 * 32, 640), randomF32(2 * 4 * 640 * 32, 640),
      randomF32(2 * 4 * 640 * 32, 640), { batch: 2, heads: 4, seqQ: 640, seqK: 640, headDim: 32, returnWeights: true });
    expectSameBits(big.output, reference.output);
    expectSameBits(big.weights, reference.weights);
    expect(small.output.length).toBe(2 * 4 * 64 * 32);
  });
});

describe('failure policy', () => {
  it('a worker killed mid-call rejects that call naming the cause; the engine recovers', async () => {
    const e = await createEngine({ threads: 2 });
    const q = randomF32(8 * 1024 * 64, 1);
    const o = { batch: 1, heads: 8, seqQ: 1024, seqK: 1024, headDim: 64 };
    const expected = await e.attention(q, q, q, o);
    const pool = await internals(e).pool!();
    const call = e.attention(q, q, q, o);
    await new Promise((r) => setTimeout(r, 5));
    await pool.killWorker(1);
    await expect(call).rejects.toThrow(/worker 1 exited/);
    const again = await e.attention(q, q, q, o); // a new pool
    expectSameBits(again.output, expected.output);
    await e.dispose();
  });

  it('dispose: idempotent, rejects queued calls, lets the Node process exit', async () => {
    const e = await createEngine({ threads: 2 });
    const q = randomF32(4 * 256 * 32, 1);
    const o = { batch: 1, heads: 4, seqQ: 256, seqK: 256, headDim: 32 };
    const calls = [e.attention(q, q, q, o), e.attention(q, q, q, o), e.attention(q, q, q, o)];
    const disposing = e.dispose();
    await Promise.all([disposing, e.dispose()]);
    const settled = await Promise.allSettled(calls);
    expect(settled.some((s) => s.status === 'rejected')).toBe(true);
    for (const s of settled) if (s.status === 'rejected') expect(String(s.reason)).toMatch(/disposed/);
    await expect(e.attention(q, q, q, o)).rejects.toThrow(/disposed/);

    const script = `import('${new URL('../../dist/index.js', import.meta.url).href}').then(async ({ createEngine }) => {
      const e = await createEngine({ threads: 2 });
      const q = new Float32Array(64);
      await e.attention(q, q, q, { batch: 1, heads: 1, seqQ: 8, seqK: 8, headDim: 8 });
      await e.dispose();
      console.log('disposed');
    });`;
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { timeout: 20000, encoding: 'utf8' });
    expect(child.stdout.trim(), child.stderr).toBe('disposed');
    expect(child.status).toBe(0); // exited by itself, not killed by the timeout
  });
});

describe('key-split attention (decode: few query rows, many keys)', () => {
  it('matches the unsplit kernel within rounding and gives identical bits for threads 1, 2, 3', async () => {
    const engines = await Promise.all([1, 2, 3].map((threads) => createEngine({ threads, kernels: 'simd' })));
    try {
      for (const o of [
        { batch: 1, heads: 1, seqQ: 1, seqK: 1024, headDim: 64 },
        { batch: 1, heads: 12, seqQ: 1, seqK: 1031, headDim: 64, validLens: new Int32Array([700]) },
        { batch: 2, heads: 2, seqQ: 3, seqK: 2000, headDim: 16, causal: true },
        { batch: 1, heads: 2, seqQ: 5, seqK: 900, headDim: 8, attnMask: randomMask(5 * 900, 4, 0.2) },
        { batch: 1, heads: 1, seqQ: 2, seqK: 600, headDim: 8, attnMask: new Uint8Array(2 * 600) }, // all masked
      ]) {
        const q = randomF32(o.batch * o.heads * o.seqQ * o.headDim, 1);
        const k = randomF32(o.batch * o.heads * o.seqK * o.headDim, 2), v = randomF32(o.batch * o.heads * o.seqK * o.headDim, 3);
        const [a, b, c] = await Promise.all(engines.map((e) => e.attention(q, k, v, o)));
        expectSameBits(b.output, a.output);
        expectSameBits(c.output, a.output);
        // returnWeights disables the split: the single-pass result, to compare against
        const unsplit = await engines[0].attention(q, k, v, { ...o, returnWeights: true });
        for (let i = 0; i < a.output.length; i++) {
          expect(Math.abs(a.output[i] - unsplit.output[i])).toBeLessThan(2e-6);
        }
      }
    } finally {
      await Promise.all(engines.map((e) => e.dispose()));
    }
  });
});

describe('result arrays made while the workers run (Arena.prepareOutputs)', () => {
  it('a pool call makes its result arrays during the run; the bits are the 1-thread engine\'s', async () => {
    const two = await createEngine({ threads: 2, kernels: 'simd' });
    const one = await createEngine({ threads: 1, kernels: 'simd' });
    internals(two).forcePool();
    const arena = (internals(two) as unknown as { arena: { prepareOutputs(l: readonly number[]): void } }).arena;
    const seen: number[][] = [];
    const original = arena.prepareOutputs.bind(arena);
    arena.prepareOutputs = (lengths) => {
      seen.push([...lengths]);
      original(lengths);
    };
    const q = randomF32(2 * 3 * 40 * 16, 1), k = randomF32(2 * 3 * 70 * 16, 2), v = randomF32(k.length, 3);
    const o = { batch: 2, heads: 3, seqQ: 40, seqK: 70, headDim: 16, returnWeights: true };
    const [r2, r1] = await Promise.all([two.attention(q, k, v, o), one.attention(q, k, v, o)]);
    expect(seen).toEqual([[2 * 3 * 40 * 16, 2 * 3 * 40 * 70]]);
    expectSameBits(r2.output, r1.output, 'attention output');
    expectSameBits(r2.weights!, r1.weights!, 'attention weights');
    const a = randomF32(33 * 47, 4), b = randomF32(47 * 29, 5);
    const mm = { m: 33, k: 47, n: 29 };
    expectSameBits(await two.matmul(a, b, mm) as Float32Array, await one.matmul(a, b, mm) as Float32Array, 'matmul');
    expect(seen[1]).toEqual([33 * 29]);
    // Into an engine tensor: no new array, nothing to prepare.
    const out = two.createTensor(new Float32Array(33 * 29));
    await two.matmul(a, b, { ...mm, out });
    expect(seen.length).toBe(2);
    await Promise.all([two.dispose(), one.dispose()]);
  });

  it('a failure while making them rejects the call after the workers are done; the engine stays usable', async () => {
    const two = await createEngine({ threads: 2, kernels: 'simd' });
    const one = await createEngine({ threads: 1, kernels: 'simd' });
    internals(two).forcePool();
    const arena = (internals(two) as unknown as { arena: { prepareOutputs(l: readonly number[]): void } }).arena;
    const original = arena.prepareOutputs.bind(arena);
    arena.prepareOutputs = () => {
      arena.prepareOutputs = original; // once
      throw new RangeError('Array buffer allocation failed');
    };
    // A call long enough that the workers are still in it when the hook throws: the rejection
    // must wait for them (DONE = 2), or the next call would be dispatched over a running one.
    const big = randomF32(8 * 1024 * 64, 7);
    const long = { batch: 1, heads: 8, seqQ: 1024, seqK: 1024, headDim: 64 };
    const pool = (await internals(two).pool!()) as unknown as { ctrl: Int32Array; runs: number };
    let doneAtRejection = -1;
    await expect(two.attention(big, big, big, long).catch((error) => {
      doneAtRejection = Atomics.load(pool.ctrl, 3); // CTRL.DONE
      throw error;
    })).rejects.toThrow(/allocation failed/);
    expect(doneAtRejection).toBe(2);
    const x = randomF32(64 * 96, 6);
    const ln = { rows: 64, dim: 96 };
    const runs = pool.runs;
    expectSameBits(await two.layerNorm(x, ln) as Float32Array, await one.layerNorm(x, ln) as Float32Array, 'the next call');
    expect((await internals(two).pool!()).runs).toBe(runs + 1); // the same pool served it
    await Promise.all([two.dispose(), one.dispose()]);
  });
});

describe('failure policy: review regressions', () => {
  it('after a worker dies mid-call, a queued call of another shape still gets exact results', async () => {
    const two = await createEngine({ threads: 2, kernels: 'simd' });
    const one = await createEngine({ threads: 1, kernels: 'simd' });
    const big = randomF32(8 * 2048 * 64, 1);
    const first = two.attention(big, big, big, { batch: 1, heads: 8, seqQ: 2048, seqK: 2048, headDim: 64 });
    const q = randomF32(4 * 8 * 2048 * 64 / 4, 2), k = randomF32(q.length, 3), v = randomF32(q.length, 4);
    const o = { batch: 4, heads: 8, seqQ: 512, seqK: 512, headDim: 64 };
    const second = two.attention(q, k, v, o);
    await new Promise((r) => setTimeout(r, 30));
    await (await internals(two).pool!()).killWorker(1);
    await expect(first).rejects.toThrow(/worker 1 exited/);
    expectSameBits((await second).output, (await one.attention(q, k, v, o)).output, 'queued call after the crash');
    await Promise.all([two.dispose(), one.dispose()]);
  });

  it('dispose() while a call replaces a dead pool: the call rejects and no new pool is started', async () => {
    // (found in review) The call awaits the dead pool's terminate(); a dispose() in that gap
    // terminated only the dead pool, and the call then started a new one that nothing stopped.
    const e = await createEngine({ threads: 2 });
    internals(e).forcePool();
    const q = randomF32(4 * 64 * 32, 1);
    const o = { batch: 1, heads: 4, seqQ: 64, seqK: 64, headDim: 32 };
    await e.attention(q, q, q, o);
    type Closable = { runs: number; killWorker(i: number): Promise<void>; failed?: Error; closed: boolean };
    const dead = (await internals(e).pool!()) as unknown as Closable;
    await dead.killWorker(1); // dies while idle: the next call finds the pool failed
    for (let i = 0; i < 100 && !dead.failed; i++) await new Promise((r) => setTimeout(r, 5));
    expect(dead.failed).toBeDefined();
    const call = e.attention(q, q, q, o);
    for (let i = 0; i < 1e6 && !dead.closed; i++) await Promise.resolve(); // the call is in terminate()
    expect(dead.closed).toBe(true);
    await e.dispose();
    await expect(call).rejects.toThrow(/disposed/);
    expect(await internals(e).pool!()).toBe(dead);
  });

  it('a replacement pool that cannot start fails its call only: the next call starts one (Node)', () => {
    // (found in review) The rejected start was kept and rethrown to every later call: the engine
    // stayed unusable after the cause was gone. The child runs a copy of dist/, whose worker.js
    // is moved away while the replacement starts and then put back.
    const dir = mkdtempSync(join(tmpdir(), 'wasm-attention-pool-'));
    cpSync(fileURLToPath(new URL('../../dist/', import.meta.url)), join(dir, 'dist'), { recursive: true });
    const script = `
      import { renameSync } from 'node:fs';
      const { createEngine } = await import(${JSON.stringify(pathToFileURL(join(dir, 'dist', 'index.js')).href)});
      const worker = ${JSON.stringify(join(dir, 'dist', 'worker.js'))};
      const e = await createEngine({ threads: 2 });
      const hooks = e[Symbol.for('wasm-attention.debug')]();
      hooks.forcePool();
      const n = 96, a = Float32Array.from({ length: n * n }, (_, i) => Math.sin(i)), b = a.map((x) => x * x - 0.25);
      const expected = Array.from(await e.matmul(a, b, { m: n, k: n, n }));
      await (await hooks.pool()).killWorker(0);
      renameSync(worker, worker + '.away');
      const failed = await e.matmul(a, b, { m: n, k: n, n }).then(() => 'resolved', (err) => err.message);
      renameSync(worker + '.away', worker);
      const later = [];
      for (let i = 0; i < 3; i++) later.push(Array.from(await e.matmul(a, b, { m: n, k: n, n })).every((x, j) => Object.is(x, expected[j])));
      await e.dispose();
      console.log(JSON.stringify({ failed, later }));`;
    try {
      const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { timeout: 30000, encoding: 'utf8' });
      expect(child.status, child.stderr).toBe(0);
      const r = JSON.parse(child.stdout.trim());
      expect(r.failed).toMatch(/could not start/);
      expect(r.later).toEqual([true, true, true]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a second dispose() settles only once the first has terminated the workers', async () => {
    const e = await createEngine({ threads: 2 });
    const pool = (await internals(e).pool!()) as unknown as { closed: boolean };
    let first = false;
    const disposing = e.dispose().then(() => { first = true; });
    await e.dispose();
    expect(first).toBe(true);
    expect(pool.closed).toBe(true);
    await disposing;
  });

  it('dispose() during a call resolves and lets code after it run (Node)', () => {
    const script = `import('${new URL('../../dist/index.js', import.meta.url).href}').then(async ({ createEngine }) => {
      const e = await createEngine({ threads: 2 });
      const q = new Float32Array(8 * 1024 * 64).fill(0.5);
      const o = { batch: 1, heads: 8, seqQ: 1024, seqK: 1024, headDim: 64 };
      const calls = [e.attention(q, q, q, o), e.attention(q, q, q, o)].map((p) => p.then(() => 'ok', (err) => String(err.message)));
      await new Promise((r) => setTimeout(r, 10));
      await e.dispose();
      console.log(JSON.stringify(await Promise.all(calls)));
      console.log('after dispose');
    });`;
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { timeout: 30000, encoding: 'utf8' });
    expect(child.status, child.stderr).toBe(0);
    expect(child.stdout).toMatch(/after dispose/);
    expect(child.stdout).toMatch(/disposed/);
  });
});
