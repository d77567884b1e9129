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

/** Bit-for-bit equality of two Float32Arrays (fast on millions of elements). */
export function expectSameBits(actual: Float32Array | undefined, expected: Float32Array | undefined, what = 'value'): void {
  expect(actual === undefined, `${what}: presence`).toBe(expected === undefined);
  if (!actual || !expected) return;
  expect(actual.length, `${what}: length`).toBe(expected.length);
  const a = new Uint32Array(actual.buffer, actual.byteOffset, actual.length);
  const b = new Uint32Array(expected.buffer, expected.byteOffset, expected.length);
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) throw new Error(`${what}[${i}] = ${actual[i]}, expected ${expected[i]} (bits differ)`);
  }
}

/** The index of the largest of x[from .. from + n) (the first of ties), as torch.argmax of a row. */
export function argmax(x: ArrayLike<number>, from: number, n: number): number {
  let best = 0;
  for (let j = 1; j < n; j++) if (x[from + j] > x[from + best]) best = j;
  return best;
}
