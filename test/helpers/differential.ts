// The harness shared by the seeded differential suites (test/parallel/differential.test.ts for
// attention, test/parallel/ops-differential.test.ts for the ops and layers): the run's seed and
// count from the environment, the engines' test hooks, bit comparisons that name the element,
// and one test per problem whose failure prints the seed, the problem, a shrunk problem and the
// commands that rerun each.
import { it } from 'vitest';
import type { Engine } from '../../dist/index.js';

export function wholeNumber(name: string, text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a whole number, got '${text}'`);
  return n;
}

export interface RunSettings {
  /** npm run test:fuzz (WASM_ATTENTION_FUZZ=1): a random seed and 3000 problems. */
  fuzz: boolean;
  seed: number;
  count: number;
}

/** WASM_ATTENTION_SEED and WASM_ATTENTION_PROBLEMS, else the fuzz run's or npm test's. */
export function runSettings(defaultSeed: number): RunSettings {
  const env = process.env;
  const fuzz = env.WASM_ATTENTION_FUZZ === '1';
  const seed = env.WASM_ATTENTION_SEED !== undefined ? wholeNumber('WASM_ATTENTION_SEED', env.WASM_ATTENTION_SEED) >>> 0
    : fuzz ? crypto.getRandomValues(new Uint32Array(1))[0] : defaultSeed;
  const count = env.WASM_ATTENTION_PROBLEMS !== undefined ? wholeNumber('WASM_ATTENTION_PROBLEMS', env.WASM_ATTENTION_PROBLEMS)
    : fuzz ? 3000 : 300;
  return { fuzz, seed, count };
}

export interface Case<P> { index?: number; problem: P }

/** The run's problems: the one in `caseVariable` (JSON), or those WASM_ATTENTION_PROBLEM lists, or
 * 0 .. count − 1. */
export function runCases<P>(caseVariable: string, run: RunSettings, generate: (seed: number, index: number) => P): Case<P>[] {
  const env = process.env;
  const one = env[caseVariable];
  if (one) return [{ problem: JSON.parse(one) as P }];
  const indices = env.WASM_ATTENTION_PROBLEM !== undefined
    ? env.WASM_ATTENTION_PROBLEM.split(',').map((s) => wholeNumber('WASM_ATTENTION_PROBLEM', s.trim()))
    : Array.from({ length: run.count }, (_, i) => i);
  return indices.map((index) => ({ index, problem: generate(run.seed, index) }));
}

/** Names the axes of a flat index: "b 1, h 0, i 5, j 3". */
export type Axes = [string, number][];
export function locate(flat: number, axes: Axes): string {
  const parts: string[] = [];
  for (let a = axes.length - 1, rest = flat; a >= 0; a--) {
    parts.unshift(`${axes[a][0]} ${rest % axes[a][1]}`);
    rest = Math.floor(rest / axes[a][1]);
  }
  return `[${parts.join(', ')}]`;
}

/** The first element whose bits differ, or undefined. */
export function bitsDiffer(a: Float32Array, b: Float32Array, axes: Axes): string | undefined {
  if (a.length !== b.length) return `length ${a.length} vs ${b.length}`;
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length), ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  let first = -1, n = 0;
  for (let i = 0; i < ua.length; i++) if (ua[i] !== ub[i]) { if (first < 0) first = i; n++; }
  return first < 0 ? undefined
    : `${n} of ${a.length} differ, first at ${locate(first, axes)} (flat ${first}): ${a[first]} vs ${b[first]}`;
}

/** FNV-1a over a result's bits. */
export function digest(x: Float32Array): number {
  const u = new Uint32Array(x.buffer, x.byteOffset, x.length);
  let h = 0x811c9dc5 ^ x.length;
  for (let i = 0; i < u.length; i++) h = Math.imul(h ^ u[i], 0x01000193);
  return h >>> 0;
}

/** Arrays a call must have left as they were (their copies from before it). */
export function sameInputs(before: (Float32Array | Uint8Array)[], after: (Float32Array | Uint8Array)[]): string | undefined {
  for (let i = 0; i < before.length; i++) {
    const a = after[i], b = before[i];
    const d = a instanceof Float32Array && b instanceof Float32Array ? bitsDiffer(a, b, [['element', a.length]])
      : a.length !== b.length || a.some((v, j) => v !== b[j]) ? `a ${a.constructor.name} of ${a.length}` : undefined;
    if (d) return `input ${i} was changed by the call: ${d}`;
  }
  return undefined;
}

/** Failures reported in full before the rest of the run is skipped (one bug fails most problems). */
const MAX_FAILURES = 5;
/** Problems the shrink may run, and its time, for the first failure. */
const SHRINK_RUNS = 400;
const SHRINK_MS = 60_000;
/** A problem that takes longer has hung the pool: it fails with its description, the rest skip. */
const PROBLEM_MS = 60_000;

/** The check, or a failure once it has taken PROBLEM_MS (a hung pool). */
async function timed(check: Promise<string | undefined>): Promise<string | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    check,
    new Promise<string>((resolve) => { timer = setTimeout(() => resolve(`did not finish in ${PROBLEM_MS / 1000} s`), PROBLEM_MS); }),
  ]).finally(() => clearTimeout(timer));
}

export interface Suite<P> {
  /** "differential", "ops differential": the start of each failure's message. */
  title: string;
  /** The test file, for the commands that rerun a problem. */
  file: string;
  /** The environment variable that runs one problem given as JSON. */
  caseVariable: string;
  seed: number;
  name: (p: P) => string;
  /** Runs a problem on every engine: undefined when it passes, else what went wrong. */
  check: (p: P) => Promise<string | undefined>;
  /** Variants of a failing problem, each smaller in one respect, for a greedy shrink. */
  shrinkCandidates: (p: P) => P[];
  /** Called with each problem that passed. */
  passed?: (label: string, p: P) => void;
}

/** The suite's state: failures so far, and whether a problem hung the engines (the later ones
 * and the suite's own last tests skip). */
export interface SuiteState { failures: string[]; hung: boolean }

/** Disposes the suite's engines; after a hung call, without waiting (a hung call never settles;
 * its workers are terminated all the same). */
export async function disposeEngines(engines: Engine[], state: SuiteState): Promise<void> {
  const disposed = Promise.all(engines.map((e) => e.dispose()));
  if (!state.hung) await disposed;
}

/** What kind of failure a message reports: "threw TypeError", "does not match the float64
 * reference", "threads # (pool) and # give different bits", … (numbers blanked). */
const failureKind = (f: string): string => f.replace(/\d+/g, '#').split(':')[0];

/** Greedy shrink: keeps taking the first smaller variant that still fails the same way (a
 * variant that fails otherwise, a throw where the values differed, say, is another problem). */
async function shrink<P>(s: Suite<P>, state: SuiteState, p: P, failure: string): Promise<{ problem: P; failure: string; steps: number }> {
  const start = Date.now();
  let runs = 0, steps = 0;
  search: for (;;) {
    for (const candidate of s.shrinkCandidates(p)) {
      if (runs++ >= SHRINK_RUNS || Date.now() - start > SHRINK_MS) break search;
      const f = await timed(s.check(candidate));
      if (f?.startsWith('did not finish')) { // the engines are stuck: the later problems skip
        state.hung = true;
        return { problem: candidate, failure: f, steps: steps + 1 };
      }
      if (f && failureKind(f) === failureKind(failure)) {
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

/** One `it` per case, inside the caller's describe. */
export function problemTests<P>(s: Suite<P>, cases: Case<P>[], state: SuiteState): void {
  const command = (vars: string) => `npm run build && ${vars} npx vitest run ${s.file}`;
  for (const { index, problem } of cases) {
    const label = index === undefined ? s.caseVariable : `#${index}`;
    it(`${label} ${s.name(problem)}`, async (ctx) => {
      if (state.hung) ctx.skip('an earlier problem hung the engines');
      if (state.failures.length >= MAX_FAILURES) ctx.skip(`${MAX_FAILURES} problems failed already`);
      const failure = await timed(s.check(problem));
      if (!failure) {
        s.passed?.(label, problem);
        return;
      }
      if (failure.startsWith('did not finish')) state.hung = true;
      const lines = [
        `${s.title} problem ${label} failed${index === undefined ? '' : ` (seed ${s.seed})`}: ${failure}`,
        `  problem: ${s.name(problem)}`,
        `  ${JSON.stringify(problem)}`,
        `  reproduce: ${command(index === undefined ? `${s.caseVariable}='${JSON.stringify(problem)}'`
          : `WASM_ATTENTION_SEED=${s.seed} WASM_ATTENTION_PROBLEM=${index}`)}`,
      ];
      if (state.failures.length === 0 && !state.hung) {
        const small = await shrink(s, state, problem, failure);
        lines.push(small.steps > 0
          ? `  shrunk in ${small.steps} steps to: ${s.name(small.problem)}: ${small.failure}\n` +
            `  reproduce shrunk: ${command(`${s.caseVariable}='${JSON.stringify(small.problem)}'`)}`
          : '  (no smaller variant fails)');
      }
      const message = lines.join('\n');
      state.failures.push(message);
      throw new Error(message);
    }, PROBLEM_MS + SHRINK_MS + 30_000);
  }
}
