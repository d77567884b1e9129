// Randomized differential suite for the public ops and modules (test/helpers/op-problems.ts):
// engine.matmul, softmax, layerNorm, gelu, linear (f32), transformerEncoderLayer,
// transformerDecoderLayer and transformer (f32 and int8), and the int8 multiHeadAttention, with
// random shapes at the kernels' edges, masks of every kind, inputs as arrays or tensors, and
// results into new arrays, `out` tensors or in place. Each problem runs on engines of 1, 2 and 3
// threads (the 2- and 3-thread ones with the pool forced), which must give the same bits and
// match the float64 reference within tolerances derived from the problem; the inputs must come
// back unchanged. A last round runs the passed problems again, eight at a time on each engine,
// and each must give the bits it gave alone.
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
import type { Engine } from '../../dist/index.js';
import {
  bitsDiffer, digest, disposeEngines, locate, problemTests, runCases, runSettings, sameInputs, type Axes, type SuiteState,
} from '../helpers/differential.js';
import { forcedEngines, internals } from '../helpers/engines.js';
import { generateOpProblem, looseCount, opCase, opProblemName, opShrinkCandidates, type OpProblem } from '../helpers/op-problems.js';

const FILE = 'test/parallel/ops-differential.test.ts';
const THREADS = [1, 2, 3];
/** Problems in flight at once on each engine in the concurrent round. */
const CONCURRENT = 8;

const run = runSettings(21); // seed 21 in npm test: the same problems on every run
const { seed } = run;
const all = runCases('WASM_ATTENTION_OP_CASE', run, generateOpProblem);

/** The largest error / tolerance seen per op, printed at the end (how close the bounds are). */
const worstRatio = new Map<string, { ratio: number; name: string }>();

function notClose(p: OpProblem, actual: Float32Array, expected: Float64Array, atol: (i: number) => number, axes: Axes): string | undefined {
  if (actual.length !== expected.length) return `length ${actual.length}, expected ${expected.length}`;
  let worst = 0, at = -1, n = 0, ratio = 0;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i], e = expected[i], tol = atol(i);
    if (Number.isNaN(a) && Number.isNaN(e)) continue;
    const diff = Number.isNaN(a) || Number.isNaN(e) ? Infinity : Math.abs(a - e);
    ratio = Math.max(ratio, diff / tol);
    if (!(diff <= tol)) { // a NaN tolerance fails too
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
/** The digest of each checked problem's result. */
const digests = new Map<OpProblem, number>();
/** Problems that passed, with their digests, for the concurrent round. */
const passed: { label: string; problem: OpProblem; digest: number }[] = [];

/** Runs a problem on every engine; undefined when it passes, else what went wrong. */
async function check(p: OpProblem): Promise<string | undefined> {
  try {
    const c = opCase(p);
    const copies = c.inputs.map((a) => a.slice());
    const results = await Promise.all(engines.map((e) => c.run(e)));
    const changed = sameInputs(copies, c.inputs);
    if (changed) return changed;
    ran++;
    for (let t = 1; t < results.length; t++) {
      const d = bitsDiffer(results[t], results[0], c.axes);
      if (d) return `threads ${THREADS[t]} (pool) and 1 give different bits: ${d}`;
    }
    digests.set(p, digest(results[0]));
    const { expected, atol } = c.reference();
    const far = notClose(p, results[0], expected, atol, c.axes);
    return far && `does not match the float64 reference: ${far}`;
  } catch (error) {
    return `threw ${(error as Error).name}: ${(error as Error).message}`;
  }
}

const state: SuiteState = { failures: [], hung: false };
if (run.fuzz || process.env.WASM_ATTENTION_SEED !== undefined) {
  console.log(`ops differential: seed ${seed}, ${all.length} problems (WASM_ATTENTION_SEED=${seed} repeats this run)`);
}

describe(`ops differential: ${all.length} random problems, seed ${seed}, threads ${THREADS.join('/')} (pool forced)`, () => {
  beforeAll(async () => {
    engines = await forcedEngines(THREADS);
  });
  afterAll(async () => {
    await disposeEngines(engines, state);
    const ratios = [...worstRatio].map(([op, w]) => `  ${op}: ${w.ratio.toFixed(3)} (${w.name})`).join('\n');
    const [loose, tight] = looseCount;
    console.log(`ops differential (seed ${seed}): largest error / tolerance per op:\n${ratios}\n` +
      `  int8 layers: ${tight} of ${loose + tight} elements at the f32 bound, the rest where a code may flip`);
    if (state.failures.length > 0) console.error(`ops differential: ${state.failures.length} failed (seed ${seed}); first:\n${state.failures[0]}`);
  });

  problemTests({
    title: 'ops differential', file: FILE, caseVariable: 'WASM_ATTENTION_OP_CASE', seed, name: opProblemName, check,
    shrinkCandidates: opShrinkCandidates,
    passed: (label, problem) => passed.push({ label, problem, digest: digests.get(problem)! }),
  }, all, state);

  it(`concurrent: the passed problems again, ${CONCURRENT} at a time on each engine, give the same bits`, async (ctx) => {
    if (state.hung) ctx.skip('an earlier problem hung the engines');
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
    if (state.hung) ctx.skip('an earlier problem hung the engines');
    for (const e of engines.slice(1)) expect((await internals(e).pool!()).runs).toBeGreaterThanOrEqual(ran);
  });
});
