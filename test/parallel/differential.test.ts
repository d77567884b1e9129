// Randomized differential suite: a few hundred random attention and multi-head-attention problems
// (test/helpers/problems.ts), each run on engines of 1, 2 and 3 threads — the 2- and 3-thread ones
// with the pool forced, so even the smallest problem goes to the workers — which must give the
// same bits, and match the float64 reference within tolerances derived from the reduction lengths.
//
//   npx vitest run test/parallel/differential.test.ts                 300 problems, seed 14
//   npm run test:fuzz                                                 3000 problems, a random seed
//   WASM_ATTENTION_SEED=s WASM_ATTENTION_PROBLEMS=n                   any seed and count
//   WASM_ATTENTION_SEED=s WASM_ATTENTION_PROBLEM=17[,18...]           only those problems
//   WASM_ATTENTION_CASE='{"op":"attention",...}'                      one problem as printed
//
// A failure names the seed, the problem and its full description, with the command that runs it
// alone, then shrinks it (smaller shapes, options off one at a time) and prints the smallest
// problem that still fails.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, type AttentionResult, type Engine, type EngineTensor } from '../../dist/index.js';
import {
  attentionInputs, attentionReference, attentionTolerance, generateProblem, mhaInputs, mhaReference, mhaTolerance,
  problemName, shrinkCandidates, type AttentionProblem, type MhaProblem, type Problem, type Tolerance,
} from '../helpers/problems.js';

const DEFAULT_SEED = 14; // npm test: the same problems on every run
const THREADS = [1, 2, 3];
const FILE = 'test/parallel/differential.test.ts';
/** Failures reported in full before the rest of the run is skipped (one bug fails most problems). */
const MAX_FAILURES = 5;
/** Problems the shrink may run, and its time, for the first failure. */
const SHRINK_RUNS = 400;
const SHRINK_MS = 60_000;
/** A problem that takes longer has hung the pool: it fails with its description, the rest skip. */
const PROBLEM_MS = 60_000;

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

interface Case { index?: number; problem: Problem }

function cases(): Case[] {
  if (env.WASM_ATTENTION_CASE) return [{ problem: JSON.parse(env.WASM_ATTENTION_CASE) as Problem }];
  const indices = env.WASM_ATTENTION_PROBLEM !== undefined
    ? env.WASM_ATTENTION_PROBLEM.split(',').map((s) => wholeNumber('WASM_ATTENTION_PROBLEM', s.trim()))
    : Array.from({ length: count }, (_, i) => i);
  return indices.map((index) => ({ index, problem: generateProblem(seed, index) }));
}

const DEBUG = Symbol.for('wasm-attention.debug');
type Internals = { forcePool(on?: boolean): void; pool?: () => Promise<{ runs: number }> };
const internals = (e: Engine): Internals => (e as unknown as Record<symbol, () => Internals>)[DEBUG]();

// ---------------------------------------------------------------------------------------------
// One problem on every engine

/** Names the axes of a flat index: "b 1, h 0, i 5, j 3". */
type Axes = [string, number][];
function locate(flat: number, axes: Axes): string {
  const parts: string[] = [];
  for (let a = axes.length - 1, rest = flat; a >= 0; a--) {
    parts.unshift(`${axes[a][0]} ${rest % axes[a][1]}`);
    rest = Math.floor(rest / axes[a][1]);
  }
  return `[${parts.join(', ')}]`;
}

/** The first element whose bits differ, or undefined. */
function bitsDiffer(a: Float32Array, b: Float32Array, axes: Axes): string | undefined {
  if (a.length !== b.length) return `length ${a.length} vs ${b.length}`;
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length), ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  let first = -1, n = 0;
  for (let i = 0; i < ua.length; i++) if (ua[i] !== ub[i]) { if (first < 0) first = i; n++; }
  return first < 0 ? undefined
    : `${n} of ${a.length} differ, first at ${locate(first, axes)} (flat ${first}): ${a[first]} vs ${b[first]}`;
}

/** The worst element out of tolerance against the reference, or undefined. */
function notClose(actual: Float32Array, expected: Float64Array, tol: Tolerance, axes: Axes): string | undefined {
  if (actual.length !== expected.length) return `length ${actual.length}, expected ${expected.length}`;
  let worst = 0, at = -1, n = 0;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i], e = expected[i];
    const excess = Number.isNaN(a) ? Infinity : Math.abs(a - e) - tol.atol - tol.rtol * Math.abs(e);
    if (excess > 0) {
      n++;
      if (excess > worst) { worst = excess; at = i; }
    }
  }
  if (at < 0) return undefined;
  const diff = Math.abs(actual[at] - expected[at]);
  return `${n} of ${expected.length} out of tolerance, worst at ${locate(at, axes)} (flat ${at}): ` +
    `${actual[at]}, reference ${expected[at]} (|diff| ${diff.toExponential(2)} > atol ${tol.atol.toExponential(2)}` +
    `${tol.rtol ? ` + rtol ${tol.rtol}·|reference|` : ''})`;
}

function sameInputs(before: Float32Array[], after: Float32Array[]): string | undefined {
  for (let i = 0; i < before.length; i++) {
    const d = bitsDiffer(after[i], before[i], [['element', after[i].length]]);
    if (d) return `input ${i} was changed by the call: ${d}`;
  }
  return undefined;
}

async function runAttention(e: Engine, p: AttentionProblem, x: ReturnType<typeof attentionInputs>): Promise<AttentionResult> {
  const tensors: EngineTensor[] = [];
  const input = (a: Float32Array, resident: boolean) => {
    if (!resident) return a;
    const t = e.createTensor(a);
    tensors.push(t);
    return t;
  };
  try {
    return await e.attention(input(x.q, p.tensors === 'qkv'), input(x.k, p.tensors !== 'none'),
      input(x.v, p.tensors !== 'none'), x.options);
  } finally {
    await Promise.all(tensors.map((t) => t.dispose()));
  }
}

async function runMha(e: Engine, p: MhaProblem, x: ReturnType<typeof mhaInputs>): Promise<AttentionResult> {
  const layer = e.multiHeadAttention({
    embedDim: p.embedDim, numHeads: p.numHeads, kdim: p.kdim, vdim: p.vdim, bias: p.bias, weights: x.weights,
  });
  try {
    return await layer.forward(x.query, x.key, x.value, x.options);
  } finally {
    await layer.dispose();
  }
}

let engines: Engine[] = [];
let ran = 0;

/** Runs a problem on every engine; undefined when it passes, else what went wrong. */
async function check(p: Problem): Promise<string | undefined> {
  try {
    let results: AttentionResult[], inputs: Float32Array[];
    let expected: { output: Float64Array; weights?: Float64Array }, tol: { output: Tolerance; weights: Tolerance };
    let outAxes: Axes, weightAxes: Axes;
    if (p.op === 'attention') {
      const x = attentionInputs(p);
      inputs = [x.q, x.k, x.v];
      const copies = inputs.map((a) => a.slice());
      results = await Promise.all(engines.map((e) => runAttention(e, p, x)));
      const bad = sameInputs(copies, inputs);
      if (bad) return bad;
      const ref = attentionReference(p, x);
      expected = { output: ref.output, weights: p.returnWeights ? ref.weights : undefined };
      tol = attentionTolerance(p);
      outAxes = [['b', p.batch], ['h', p.heads], ['i', p.seqQ], ['c', p.headDimV]];
      weightAxes = [['b', p.batch], ['h', p.heads], ['i', p.seqQ], ['j', p.seqK]];
    } else {
      const x = mhaInputs(p);
      inputs = [x.query, x.key, x.value];
      const copies = inputs.map((a) => a.slice());
      results = await Promise.all(engines.map((e) => runMha(e, p, x)));
      const bad = sameInputs(copies, inputs);
      if (bad) return bad;
      const ref = mhaReference(p, x);
      expected = { output: ref.output, weights: p.needWeights ? (p.averageWeights ? ref.averaged : ref.headWeights) : undefined };
      tol = mhaTolerance(p);
      outAxes = [['b', p.batch], ['i', p.seqQ], ['e', p.embedDim]];
      weightAxes = p.averageWeights ? [['b', p.batch], ['i', p.seqQ], ['j', p.seqK]]
        : [['b', p.batch], ['h', p.numHeads], ['i', p.seqQ], ['j', p.seqK]];
    }
    ran++;
    const [first] = results;
    for (let t = 1; t < results.length; t++) {
      const out = bitsDiffer(results[t].output, first.output, outAxes);
      if (out) return `output: threads ${THREADS[t]} (pool) and 1 give different bits: ${out}`;
      if ((results[t].weights === undefined) !== (first.weights === undefined)) return `weights: present on threads ${first.weights ? 1 : THREADS[t]} only`;
      const w = results[t].weights && bitsDiffer(results[t].weights!, first.weights!, weightAxes);
      if (w) return `weights: threads ${THREADS[t]} (pool) and 1 give different bits: ${w}`;
    }
    const out = notClose(first.output, expected.output, tol.output, outAxes);
    if (out) return `output does not match the float64 reference: ${out}`;
    if ((first.weights === undefined) !== (expected.weights === undefined)) {
      return `weights ${first.weights ? 'returned but not asked for' : 'asked for but not returned'}`;
    }
    const w = expected.weights && notClose(first.weights!, expected.weights, tol.weights, weightAxes);
    if (w) return `weights do not match the float64 reference: ${w}`;
    return undefined;
  } catch (error) {
    return `threw ${(error as Error).name}: ${(error as Error).message}`;
  }
}

/** Greedy shrink: keeps taking the first smaller variant that still fails. */
async function shrink(p: Problem, failure: string): Promise<{ problem: Problem; failure: string; steps: number }> {
  const start = Date.now();
  let runs = 0, steps = 0;
  search: for (;;) {
    for (const candidate of shrinkCandidates(p)) {
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

// ---------------------------------------------------------------------------------------------

const all = cases();
const failures: string[] = [];
let hung = false;
if (fuzz || env.WASM_ATTENTION_SEED !== undefined) {
  console.log(`differential: seed ${seed}, ${all.length} problems (WASM_ATTENTION_SEED=${seed} repeats this run)`);
}

describe(`differential: ${all.length} random problems, seed ${seed}, threads ${THREADS.join('/')} (pool forced)`, () => {
  beforeAll(async () => {
    engines = await Promise.all(THREADS.map((threads) => createEngine({ threads })));
    for (const e of engines) internals(e).forcePool();
  });
  afterAll(async () => {
    const disposed = Promise.all(engines.map((e) => e.dispose()));
    if (!hung) await disposed; // a hung call never settles: its workers are terminated all the same
    if (failures.length > 0) console.error(`differential: ${failures.length} failed (seed ${seed}); first:\n${failures[0]}`);
  });

  for (const { index, problem } of all) {
    const label = index === undefined ? 'WASM_ATTENTION_CASE' : `#${index}`;
    it(`${label} ${problemName(problem)}`, async (ctx) => {
      if (hung) ctx.skip('an earlier problem hung the engines');
      if (failures.length >= MAX_FAILURES) ctx.skip(`${MAX_FAILURES} problems failed already`);
      let timer: ReturnType<typeof setTimeout> | undefined;
      const failure = await Promise.race([
        check(problem),
        new Promise<string>((resolve) => { timer = setTimeout(() => resolve(`did not finish in ${PROBLEM_MS / 1000} s`), PROBLEM_MS); }),
      ]).finally(() => clearTimeout(timer));
      if (!failure) return;
      if (failure.startsWith('did not finish')) hung = true;
      const lines = [
        `differential problem ${label} failed${index === undefined ? '' : ` (seed ${seed})`}: ${failure}`,
        `  problem: ${problemName(problem)}`,
        `  ${JSON.stringify(problem)}`,
        `  reproduce: ${command(index === undefined ? `WASM_ATTENTION_CASE='${JSON.stringify(problem)}'`
          : `WASM_ATTENTION_SEED=${seed} WASM_ATTENTION_PROBLEM=${index}`)}`,
      ];
      if (failures.length === 0 && !hung) {
        const small = await shrink(problem, failure);
        if (small.steps > 0) {
          lines.push(
            `  shrunk in ${small.steps} steps to: ${problemName(small.problem)}: ${small.failure}`,
            `  reproduce shrunk: ${command(`WASM_ATTENTION_CASE='${JSON.stringify(small.problem)}'`)}`,
          );
        } else {
          lines.push('  (no smaller variant fails)');
        }
      }
      const message = lines.join('\n');
      failures.push(message);
      throw new Error(message);
    }, PROBLEM_MS + SHRINK_MS + 30_000);
  }

  it('the 2- and 3-thread engines ran every problem on their workers', async (ctx) => {
    if (hung) ctx.skip('an earlier problem hung the engines');
    for (const e of engines.slice(1)) expect((await internals(e).pool!()).runs).toBeGreaterThanOrEqual(ran);
  });
});
