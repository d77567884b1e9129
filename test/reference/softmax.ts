// Float64 references of the row softmax and its scaled, masked form (torch.softmax(x * scale +
// mask, -1)), written like the math. A row of all -inf gives zeros (the library's contract).

/** softmax of one row: exp(x − max x)/Σ; zeros for an all -inf row, NaN for a NaN or +inf. */
export function referenceSoftmax(x: ArrayLike<number>): Float64Array {
  const out = new Float64Array(x.length);
  let max = -Infinity;
  for (let i = 0; i < x.length; i++) max = Math.max(max, x[i]);
  if (max === -Infinity) return out;
  let sum = 0;
  for (let i = 0; i < x.length; i++) sum += (out[i] = Math.exp(x[i] - max));
  for (let i = 0; i < x.length; i++) out[i] /= sum;
  return out;
}

/** Row r: softmax(fround(x[r]·scale) + add[r] + (keep[r] == 0 ? -inf : 0)); ldAdd / ldBool 0
 * broadcast one mask row; the result is dense [rows, cols]. x·scale is rounded to f32 first,
 * as torch's x * scale is a float32 tensor. */
export function referenceSoftmaxScaled(
  rows: number, cols: number, x: ArrayLike<number>, ldx: number, scale: number,
  add: ArrayLike<number> | undefined, ldAdd: number, keep: ArrayLike<number> | undefined, ldBool: number,
): Float64Array {
  const y = new Float64Array(rows * cols);
  const z = new Float64Array(cols);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < cols; j++) {
      z[j] = Math.fround(x[r * ldx + j] * scale) + (add ? add[r * ldAdd + j] : 0) +
        (keep && keep[r * ldBool + j] === 0 ? -Infinity : 0);
    }
    y.set(referenceSoftmax(z), r * cols);
  }
  return y;
}
