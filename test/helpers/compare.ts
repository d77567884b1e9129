import { expect } from 'vitest';

/** Largest |actual - expected| - rtol·|expected| over all elements (<= atol means pass),
 * with the index of the worst element for the message. */
export function expectClose(
  actual: ArrayLike<number>, expected: ArrayLike<number>, atol: number, rtol: number, what = 'value',
): void {
  expect(actual.length, `${what}: length`).toBe(expected.length);
  let worst = -Infinity;
  let at = -1;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i], e = expected[i];
    if (Number.isNaN(a) !== Number.isNaN(e)) {
      worst = Infinity;
      at = i;
      break;
    }
    if (a === e) continue;
    const excess = Math.abs(a - e) - rtol * Math.abs(e);
    if (excess > worst) {
      worst = excess;
      at = i;
    }
  }
  if (worst > atol) {
    throw new Error(`${what}[${at}] = ${actual[at]}, expected ${expected[at]} ` +
      `(|diff| = ${Math.abs(actual[at] - expected[at]).toExponential(2)}, atol ${atol}, rtol ${rtol})`);
  }
}

/** Tolerance of an f32 dot product of length n with inputs of magnitude ~1: grows like √n
 * (random rounding errors), with a floor for short sums. */
export function dotTolerance(n: number, magnitude = 1): number {
  return 4e-7 * magnitude * Math.max(8, Math.sqrt(n) * 4);
}
