// Float64 reference of F.layer_norm over the last dimension, with the residual add in front,
// written like the math.

/** y[r] = (s − mean s)/sqrt(var s + eps)·weight + bias, s = x[r] + residual[r] (biased variance);
 * rows of `dim` elements with strides ldx, ldr; the result is dense [rows, dim]. */
export function referenceLayerNorm(
  rows: number, dim: number, x: ArrayLike<number>, ldx: number, residual: ArrayLike<number> | undefined, ldr: number,
  weight: ArrayLike<number> | undefined, bias: ArrayLike<number> | undefined, eps: number,
): Float64Array {
  const y = new Float64Array(rows * dim);
  const s = new Float64Array(dim);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < dim; j++) s[j] = x[r * ldx + j] + (residual ? residual[r * ldr + j] : 0);
    let mean = 0;
    for (let j = 0; j < dim; j++) mean += s[j];
    mean /= dim;
    let variance = 0;
    for (let j = 0; j < dim; j++) variance += (s[j] - mean) ** 2;
    variance /= dim;
    const rstd = 1 / Math.sqrt(variance + eps);
    for (let j = 0; j < dim; j++) {
      y[r * dim + j] = (s[j] - mean) * rstd * (weight ? weight[j] : 1) + (bias ? bias[j] : 0);
    }
  }
  return y;
}
