// Randomized differential suite for the int8 path (`quantize: 'int8'` on engine.linear): random
// shapes (GEMV rows 1..4 and GEMM rows past them, k and n across every tile tail, now and then k
// past the GEMM's widening slot), inputs that stress the per-row quantization (shifted, one-sided,
// outliers, constant and all-zero rows) and weights with all-zero rows, each run on engines of
// threads 1, 2 and 3 (pool forced) and on the test builds that emulate the relaxed integer dot
// (build/: the quad path in its unsigned and its signed mode, the latter also as Arm's smull
// sequence computes it; threads 1 and 3). Every engine
// must give the bits of the plain-JS int8 reference (test/reference/i8-gemm.ts): the sums are
// exact integers, and no activation runs, so every build and dot instruction agrees.
//
//   npx vitest run test/parallel/int8-differential.test.ts            300 problems, seed 15
//   npm run test:fuzz                                                  3000 problems, a random seed
//   WASM_ATTENTION_SEED=s WASM_ATTENTION_INT8_PROBLEMS=n               any seed and count
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../dist/index.js';
import { forcedEngines } from '../helpers/engines.js';
import { DOT_EMULATIONS, emulationBytes } from '../helpers/kernels.js';
import { rng } from '../helpers/random.js';
import { i8Gemm, quantizeRows, quantizeWeight } from '../reference/i8-gemm.js';
import { I8_GEMM_A_MAX } from '../../src/wasm/layout.js';

const DEFAULT_SEED = 15;
const env = process.env;
const fuzz = env.WASM_ATTENTION_FUZZ === '1';
const seed = env.WASM_ATTENTION_SEED !== undefined ? Number(env.WASM_ATTENTION_SEED) >>> 0
  : fuzz ? crypto.getRandomValues(new Uint32Array(1))[0] : DEFAULT_SEED;
const count = env.WASM_ATTENTION_INT8_PROBLEMS !== undefined ? Number(env.WASM_ATTENTION_INT8_PROBLEMS)
  : fuzz ? 3000 : 300;
if (!Number.isInteger(count) || count < 0) throw new Error(`WASM_ATTENTION_INT8_PROBLEMS must be a whole number`);

interface Problem {
  rows: number; inF: number; outF: number; bias: boolean;
  /** How the input rows are drawn (the per-row quantization's cases). */
  input: 'plain' | 'shifted' | 'one-sided' | 'outliers' | 'constant-rows' | 'zero-rows';
  /** Weight rows (output channels) set to zero: sw = 0. */
  zeroWeightRows: boolean;
}

/** Problem `index` of `seed`: a function of the two only, so a failure can be run again. */
function problemOf(index: number): Problem {
  const next = rng((seed ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0);
  const pick = (lo: number, hi: number): number => lo + Math.floor(next() * (hi - lo + 1));
  const rowsKind = next();
  const rows = rowsKind < 0.35 ? pick(1, 4) : rowsKind < 0.85 ? pick(5, 40) : pick(41, 130);
  const wide = next() < 0.04; // k past the GEMM's widening slot (4256): the tile widens in its loop
  const inF = wide ? pick(4257, 4400) : next() < 0.15 ? pick(300, 1100) : pick(1, 300);
  const outF = next() < 0.1 ? pick(300, 700) : pick(1, 140);
  const inputs: Problem['input'][] = ['plain', 'shifted', 'one-sided', 'outliers', 'constant-rows', 'zero-rows'];
  return { rows, inF, outF, bias: next() < 0.7, input: inputs[pick(0, inputs.length - 1)], zeroWeightRows: next() < 0.2 };
}

function dataOf(p: Problem, index: number): { x: Float32Array; weight: Float32Array; bias?: Float32Array } {
  const next = rng((seed * 31 + index * 7919 + 1) >>> 0);
  const normal = (): number => (next() + next() + next() - 1.5) * 2;
  const x = new Float32Array(p.rows * p.inF);
  for (let r = 0; r < p.rows; r++) {
    const row = x.subarray(r * p.inF, (r + 1) * p.inF);
    const special = next() < 0.3;
    for (let i = 0; i < p.inF; i++) {
      let v = normal();
      if (p.input === 'shifted') v += 3;
      else if (p.input === 'one-sided') v = Math.abs(v) - 0.17; // a GELU output's range
      else if (p.input === 'outliers' && next() < 0.02) v *= 60;
      row[i] = v;
    }
    if (special && p.input === 'constant-rows') row.fill(normal());
    if (special && p.input === 'zero-rows') row.fill(0);
  }
  const weight = new Float32Array(p.outF * p.inF);
  for (let i = 0; i < weight.length; i++) weight[i] = normal() * 0.08;
  if (p.zeroWeightRows) for (let j = 0; j < p.outF; j += 3) weight.fill(0, j * p.inF, (j + 1) * p.inF);
  const bias = p.bias ? Float32Array.from({ length: p.outF }, normal) : undefined;
  return { x, weight, bias };
}

let engines: Engine[] = [];
let labels: string[] = [];
beforeAll(async () => {
  console.log(`int8 differential: seed ${seed}, ${count} problems (WASM_ATTENTION_SEED=${seed} repeats this run)`);
  engines = await forcedEngines([1, 2, 3]);
  labels = engines.map((e) => `${e.kernels} build, threads ${e.threads}`);
  for (const build of DOT_EMULATIONS) {
    const emulated = await forcedEngines([1, 3], { wasm: emulationBytes(build) });
    engines.push(...emulated);
    labels.push(...emulated.map((e) => `${build}, threads ${e.threads}`));
  }
});
afterAll(async () => {
  await Promise.all(engines.map((e) => e.dispose()));
});

describe(`int8 differential: ${count} random linears, seed ${seed}, every engine bit for bit with the int8 reference`, () => {
  it('every problem', async () => {
    for (let index = 0; index < count; index++) {
      const p = problemOf(index);
      const { x, weight, bias } = dataOf(p, index);
      const want = i8Gemm(quantizeRows(x, p.rows, p.inF, I8_GEMM_A_MAX), quantizeWeight(weight, p.outF, p.inF), bias);
      for (const [e, engine] of engines.entries()) {
        const layer = engine.linear({
          inFeatures: p.inF, outFeatures: p.outF, bias: p.bias, weights: bias ? { weight, bias } : { weight }, quantize: 'int8',
        });
        let got: Float32Array;
        try {
          got = await layer.forward(x, { rows: p.rows }) as Float32Array;
        } finally {
          await layer.dispose();
        }
        const ua = new Uint32Array(got.buffer, got.byteOffset, got.length), ub = new Uint32Array(want.buffer);
        const at = ua.findIndex((v, i) => v !== ub[i]);
        if (got.length !== want.length || at >= 0) {
          expect.fail(`seed ${seed}, problem ${index} ${JSON.stringify(p)} on ${labels[e]}: ` +
            (got.length !== want.length ? `length ${got.length}, expected ${want.length}`
              : `[row ${Math.floor(at / p.outF)}, column ${at % p.outF}] = ${got[at]}, the reference ${want[at]}`) +
            ` (WASM_ATTENTION_SEED=${seed} WASM_ATTENTION_INT8_PROBLEMS=${index + 1} npx vitest run test/parallel/int8-differential.test.ts)`);
        }
      }
    }
  }, 600_000);
});
