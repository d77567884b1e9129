// Readable float64 references, written like the math: no tiling, no tricks.

export type MaskFn = (b: number, h: number, i: number, j: number) => boolean; // true = attend
export type BiasFn = (b: number, h: number, i: number, j: number) => number;  // added to the logit

export interface RefAttention {
  batch: number; heads: number; seqQ: number; seqK: number; headDim: number; headDimV: number;
  scale: number;
  attend?: MaskFn;
  bias?: BiasFn;
}

/** softmax(scale·q·kᵀ + bias + mask)·v for [batch, heads, seq, dim] tensors, as torch's math
 * path computes it: a mask is added (masked: + -inf), so a NaN or +inf logit stays NaN and
 * makes its row NaN, and every key is multiplied by its probability, so a non-finite v value
 * reaches a row through 0·v even where the key is masked. The one departure is the library's
 * contract for a row whose every logit is -inf: zero weights (torch: NaN), so its output is
 * Σ 0·v (zeros for finite v). */
export function referenceAttention(
  q: ArrayLike<number>, k: ArrayLike<number>, v: ArrayLike<number>, p: RefAttention,
): { output: Float64Array; weights: Float64Array } {
  const { batch, heads, seqQ, seqK, headDim: d, headDimV: dv } = p;
  const output = new Float64Array(batch * heads * seqQ * dv);
  const weights = new Float64Array(batch * heads * seqQ * seqK);
  const logits = new Float64Array(seqK);
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < heads; h++) {
      const slice = b * heads + h;
      for (let i = 0; i < seqQ; i++) {
        // logits[j] = scale · q_i · k_j + bias - (masked ? inf : 0)
        let max = -Infinity;
        let nan = false;
        for (let j = 0; j < seqK; j++) {
          let dot = 0;
          for (let c = 0; c < d; c++) dot += q[(slice * seqQ + i) * d + c] * k[(slice * seqK + j) * d + c];
          let s = dot * p.scale + (p.bias ? p.bias(b, h, i, j) : 0);
          if (p.attend && !p.attend(b, h, i, j)) s += -Infinity;
          logits[j] = s;
          if (Number.isNaN(s)) nan = true;
          else max = Math.max(max, s);
        }
        const w = weights.subarray((slice * seqQ + i) * seqK, (slice * seqQ + i + 1) * seqK);
        if (nan || max > -Infinity) { // else fully masked: zero weights
          let sum = 0;
          for (let j = 0; j < seqK; j++) sum += (logits[j] = Math.exp(logits[j] - max)); // NaN if nan or max = +inf
          for (let j = 0; j < seqK; j++) w[j] = logits[j] / sum;
        }
        // output_i = Σ_j w_j · v_j over every key
        for (let c = 0; c < dv; c++) {
          let acc = 0;
          for (let j = 0; j < seqK; j++) acc += w[j] * v[(slice * seqK + j) * dv + c];
          output[(slice * seqQ + i) * dv + c] = acc;
        }
      }
    }
  }
  return { output, weights };
}

/** C[m, n] = A[m, k] · B (B [k, n], or [n, k] when transB) · alpha + bias[n], with row strides. */
export function referenceGemm(
  m: number, n: number, k: number,
  a: ArrayLike<number>, lda: number, b: ArrayLike<number>, ldb: number, transB: boolean,
  alpha = 1, bias?: ArrayLike<number>,
): Float64Array {
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let acc = 0;
      for (let p = 0; p < k; p++) acc += a[i * lda + p] * (transB ? b[j * ldb + p] : b[p * ldb + j]);
      c[i * n + j] = acc * alpha + (bias ? bias[j] : 0);
    }
  }
  return c;
}

/** y = x·Wᵀ + b for x [rows, in], W [out, in]. */
export function referenceLinear(
  x: ArrayLike<number>, rows: number, inDim: number, w: ArrayLike<number>, outDim: number, bias?: ArrayLike<number>,
): Float64Array {
  return referenceGemm(rows, outDim, inDim, x, inDim, w, inDim, true, 1, bias);
}
