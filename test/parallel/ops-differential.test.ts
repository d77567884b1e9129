// Randomized differential suite for the public ops and modules (test/helpers/op-problems.ts):
// engine.matmul, softmax, layerNorm, gelu, linear (f32), transformerEncoderLayer,
// transformerDecoderLayer and transformer (f32 and int8), and the int8 multiHeadAttention, with random shapes at the kernels' edges, masks of every kind, inputs
// as arrays or tensors, and results into new arrays, `out` tensors or in place. Each problem runs
// on engines of 1, 2 and 3 threads (the 2- and 3-thread ones with the pool forced), which must
// give the same bits and match the float64 reference within tolerances derived from the
// problem; the inputs must come back unchanged. A last round runs the passed problems again, eight
// at a time on each engine, and each must give the bits it gave alone.
//
//   npx vitest run test/parallel/ops-differential.test.ts             300 problems, seed 21
//   npm run test:fuzz                                                 3000 problems, a random seed
//   WASM_ATTENTION_SEED=s WASM_ATTENTION_PROBLEMS=n                   any seed and count
//   WASM_ATTENTION_SEED=s WASM_ATTENTION_PROBLEM=17[,18...]           only those problems
//   WASM_ATTENTION_OP_CASE='{"op":"matmul",...}'                      one problem as printed
//
// A failure names the seed, the problem and its full description, with the command that runs it
// alone, then shrinks it and prints the smallest problem that still fails.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, type Engine } from '../../dist/index.js';
import { generateOpProblem, opCase, opProblemName, opShrinkCandidates, type OpProblem } from '../helpers/op-problems.js';

const DEFAULT_SEED = 21; // npm test: the same problems on every run
const THREADS = [1, 2, 3];
const FILE = 'test/parallel/ops-differential.test.ts';
const MAX_FAILURES = 5;
const SHRINK_RUNS = 300;
const SHRINK_MS = 60_000;
const PROBLEM_MS = 60_000;
/** Problems in flight at once on each engine in the concurrent round. */
const CONCURRENT = 8;

const env = process.env;
const fuzz = env.WASM_ATTENTION_FUZZ === '1';
const seed = env.WASM_ATTENTION_SEED !== undefined ? wholeNumber('WASM_ATTENTION_SEED', env.WASM_ATTENTION_SEED) >>> 0
  : fuzz ? crypto.getRandomValues(new Uint32Array(1))[0] : DEFAULT_SEED;
const count = env.WASM_ATTENTION_PROBLEMS !== undefined ? wholeNumber('WASM_ATTENTION_PROBLEMS', env.WASM_ATTENTION_PROBLEMS)
  : fuzz ? 3000 : 300;

function wholeNumber(name: string, text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a whole number, got '${text}'`);
  return n;
}

interface Case { index?: number; problem: OpProblem }

function cases(): Case[] {
  if (env.WASM_ATTENTION_OP_CASE) return [{ problem: JSON.parse(env.WASM_ATTENTION_OP_CASE) as OpProblem }];
  const indices = env.WASM_ATTENTION_PROBLEM !== undefined
    ? env.WASM_ATTENTION_PROBLEM.split(',').map((s) => wholeNumber('WASM_ATTENTION_PROBLEM', s.trim()))
    : Array.from({ length: count }, (_, i) => i);
  return indices.map((index) => ({ index, problem: generateOpProblem(seed, index) }));
}

const DEBUG = Symbol.for('wasm-attention.debug');
type Internals = { forcePool(on?: boolean): void; pool?: () => Promise<{ runs: number }> };
const internals = (e: Engine): Internals => (e as unknown as Record<symbol, () => Internals>)[DEBUG]();

type Axes = [string, number][];
function locate(flat: number, axes: Axes): string {
  const parts: string[] = [];
  for (let a = axes.length - 1, rest = flat; a >= 0; a--) {
    parts.unshift(`${axes[a][0]} ${rest % axes[a][1]}`);
    rest = Math.floor(rest / axes[a][1]);
  }
  return `[${parts.join(', ')}]`;
}

function bitsDiffer(a: Float32Array, b: Float32Array, axes: Axes): string | undefined {
  if (a.length !== b.length) return `length ${a.length} vs ${b.length}`;
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length), ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  let first = -1, n = 0;
  for (let i = 0; i < ua.length; i++) if (ua[i] !== ub[i]) { if (first < 0) first = i; n++; }
  return first < 0 ? undefined
    : `${n} of ${a.length} differ, first at ${locate(first, axes)} (flat ${first}): ${a[first]} vs ${b[first]}`;
}

/** The largest error / tolerance seen per op, printed at the end (how close the bounds are). */
const worstRatio = new Map<string, { ratio: number; name: string }>();

function notClose(p: OpProblem, actual: Float32Array, expected: Float64Array, atol: (i: number) => number, axes: Axes): string | undefined {
  if (actual.length !== expected.length) return `length ${actual.length}, expected ${expected.length}`;
  let worst = 0, at = -1, n = 0, ratio = 0;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i], e = expected[i], tol = atol(i);
    const diff = Number.isNaN(a) || Number.isNaN(e) ? (Number.isNaN(a) && Number.isNaN(e) ? 0 : Infinity) : Math.abs(a - e);
    ratio = Math.max(ratio, diff / tol);
    if (diff > tol) {
      n++;
      if (diff - tol > worst) { worst = diff - tol; at = i; }
    }
  }
  const kind = 'int8' in p && p.int8 ? `${p.op} int8` : p.op;
  if (ratio > (worstRatio.get(kind)?.ratio ?? -1)) worstRatio.set(kind, { ratio, name: opProblemName(p) });
  if (at < 0) return undefined;
  return `${n} of ${expected.length} out of tolerance, worst at ${locate(at, axes)} (flat ${at}): ` +
    `${actual[at]}, reference ${expected[at]} (|diff| ${Math.abs(actual[at] - expected[at]).toExponential(2)} > ${atol(at).toExponential(2)})`;
}

let engines: Engine[] = [];
let ran = 0;
/** Problems that passed, with a digest of their result's bits, for the concurrent round. */
const passed: { label: string; problem: OpProblem; digest: number }[] = [];

/** FNV-1a over a result's bits. */
function digest(x: Float32Array): number {
  const u = new Uint32Array(x.buffer, x.byteOffset, x.length);
  let h = 0x811c9dc5 ^ x.length;
  for (let i = 0; i < u.length; i++) h = Math.imul(h ^ u[i], 0x01000193);
  return h >>> 0;
}

/** The last check's result digest (set by check when it passes). */
let lastDigest = 0;

/** Runs a problem on every engine; undefined when it passes, else what went wrong. */
async function check(p: OpProblem): Promise<string | undefined> {
  try {
    const c = opCase(p);
    const copies = c.inputs.map((a) => a.slice());
    const results = await Promise.all(engines.map((e) => c.run(e)));
    for (let i = 0; i < copies.length; i++) {
      const d = bitsDiffer(c.inputs[i], copies[i], [['element', copies[i].length]]);
      if (d) return `input ${i} was changed by the call: ${d}`;
    }
    ran++;
    for (let t = 1; t < results.length; t++) {
      const d = bitsDiffer(results[t], results[0], c.axes);
      if (d) return `threads ${THREADS[t]} (pool) and 1 give different bits: ${d}`;
    }
    const { expected, atol } = c.reference();
    const far = notClose(p, results[0], expected, atol, c.axes);
    lastDigest = digest(results[0]);
    return far && `does not match the float64 reference: ${far}`;
  } catch (error) {
    return `threw ${(error as Error).name}: ${(error as Error).message}`;
  }
}

async function shrink(p: OpProblem, failure: string): Promise<{ problem: OpProblem; failure: string; steps: number }> {
  const start = Date.now();
  let runs = 0, steps = 0;
  search: for (;;) {
    for (const candidate of opShrinkCandidates(p)) {
      if (runs++ >= SHRINK_RUNS || Date.now() - start > SHRINK_MS) break search;
      const f = await check(candidate);
      if (f) {
        p = candidate;
        failure = f;
        steps++;
        continue search;
      }
    }
    break;
  }
  return { problem: p, failure, steps };
}

function command(vars: string): string {
  return `npm run build && ${vars} npx vitest run ${FILE}`;
}

const all = cases();
const failures: string[] = [];
let hung = false;
if (fuzz || env.WASM_ATTENTION_SEED !== undefined) {
  console.log(`ops differential: seed ${seed}, ${all.length} problems (WASM_ATTENTION_SEED=${seed} repeats this run)`);
}

describe(`ops differential: ${all.length} random problems, seed ${seed}, threads ${THREADS.join('/')} (pool forced)`, () => {
  beforeAll(async () => {
    engines = await Promise.all(THREADS.map((threads) => createEngine({ threads })));
    for (const e of engines) internals(e).forcePool();
  });
  afterAll(async () => {
    const disposed = Promise.all(engines.map((e) => e.dispose()));
    if (!hung) await disposed;
    const ratios = [...worstRatio].map(([op, w]) => `  ${op}: ${w.ratio.toFixed(3)} (${w.name})`).join('\n');
    console.log(`ops differential (seed ${seed}): largest error / tolerance per op:\n${ratios}`);
    if (failures.length > 0) console.error(`ops differential: ${failures.length} failed (seed ${seed}); first:\n${failures[0]}`);
  });

  for (const { index, problem } of all) {
    const label = index === undefined ? 'WASM_ATTENTION_OP_CASE' : `#${index}`;
    it(`${label} ${opProblemName(problem)}`, async (ctx) => {
      if (hung) ctx.skip('an earlier problem hung the engines');
      if (failures.length >= MAX_FAILURES) ctx.skip(`${MAX_FAILURES} problems failed already`);
      let timer: ReturnType<typeof setTimeout> | undefined;
      const failure = await Promise.race([
        check(problem),
        new Promise<string>((resolve) => { timer = setTimeout(() => resolve(`did not finish in ${PROBLEM_MS / 1000} s`), PROBLEM_MS); }),
      ]).finally(() => clearTimeout(timer));
      if (!failure) {
        passed.push({ label, problem, digest: lastDigest });
        return;
      }
      if (failure.startsWith('did not finish')) hung = true;
      const lines = [
        `ops differential problem ${label} failed${index === undefined ? '' : ` (seed ${seed})`}: ${failure}`,
        `  problem: ${opProblemName(problem)}`,
        `  ${JSON.stringify(problem)}`,
        `  reproduce: ${command(index === undefined ? `WASM_ATTENTION_OP_CASE='${JSON.stringify(problem)}'`
          : `WASM_ATTENTION_SEED=${seed} WASM_ATTENTION_PROBLEM=${index}`)}`,
      ];
      if (failures.length === 0 && !hung) {
        const small = await shrink(problem, failure);
        lines.push(small.steps > 0
          ? `  shrunk in ${small.steps} steps to: ${opProblemName(small.problem)}: ${small.failure}\n` +
            `  reproduce shrunk: ${command(`WASM_ATTENTION_OP_CASE='${JSON.stringify(small.problem)}'`)}`
          : '  (no smaller variant fails)');
      }
      const message = lines.join('\n');
      failures.push(message);
      throw new Error(message);
    }, PROBLEM_MS + SHRINK_MS + 30_000);
  }

  it(`concurrent: the passed problems again, ${CONCURRENT} at a time on each engine, give the same bits`, async (ctx) => {
    if (hung) ctx.skip('an earlier problem hung the engines');
    // Calls queued behind each other: modules are created (their weights copied, then packed
    // in turn), tensors written and read, and results made while other calls run.
    for (let at = 0; at < passed.length; at += CONCURRENT) {
      const group = passed.slice(at, at + CONCURRENT);
      const cases = group.map((g) => opCase(g.problem));
      const results = await Promise.all(engines.map((e) => Promise.all(cases.map((c) => c.run(e)))));
      results.forEach((perEngine, t) => perEngine.forEach((r, i) => {
        const g = group[i];
        if (digest(r) !== g.digest) {
          throw new Error(`problem ${g.label} (seed ${seed}) run ${CONCURRENT} at a time on ${THREADS[t]} thread(s) gives other bits ` +
            `than alone: ${opProblemName(g.problem)}\n  ${JSON.stringify(g.problem)}`);
        }
      }));
    }
  }, 600_000);

  it('the 2- and 3-thread engines ran every problem on their workers', async (ctx) => {
    if (hung) ctx.skip('an earlier problem hung the engines');
    for (const e of engines.slice(1)) expect((await internals(e).pool!()).runs).toBeGreaterThanOrEqual(ran);
  });
});
