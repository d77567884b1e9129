// meanPool: sentence-transformers' mean pooling (as all-MiniLM-L6-v2 uses it) over the attended
// tokens of a [batch, seq, hidden] output, optionally L2-normalised (its Normalize module):
//   pooled[b] = Σ_t mask[b,t]·x[b,t] / max(Σ_t mask[b,t], 1e-9);  normalize: pooled / max(‖pooled‖₂, 1e-12)
// Accumulated in float64, rounded to f32 once.
import type { IntegerArray, MeanPoolOptions } from '../types.js';
import { array, dim, elements, flag, keysOf, options, typedArray } from '../validate.js';
import { rangeError, typeError } from '../errors.js';

const OP = 'meanPool';
const OPTION_KEYS = keysOf<MeanPoolOptions>({ batch: true, seq: true, hidden: true, normalize: true });

/** x [batch, seq, hidden], attentionMask [batch, seq] (1 = attend; undefined: all) → [batch, hidden]. */
export function meanPool(lastHiddenState: Float32Array, attentionMask: IntegerArray | Float32Array | undefined, opts: MeanPoolOptions): Float32Array {
  const o = options(OP, 'options', opts, false, OPTION_KEYS) as Partial<MeanPoolOptions>;
  const B = dim(OP, 'options.batch', o.batch), L = dim(OP, 'options.seq', o.seq), H = dim(OP, 'options.hidden', o.hidden);
  const x = array(OP, 'lastHiddenState', lastHiddenState, 'Float32Array', elements(OP, 'lastHiddenState', B, L, H),
    `batch·seq·hidden = ${B}·${L}·${H}`);
  const normalize = flag(OP, 'options.normalize', o.normalize, false);
  let mask: ArrayLike<number> | undefined;
  if (attentionMask !== undefined) {
    mask = typedArray(attentionMask, 'Int32Array', 'Uint8Array', 'Float32Array') ??
      (Array.isArray(attentionMask) ? attentionMask as number[] : undefined);
    if (mask === undefined) throw typeError(OP, 'attentionMask', 'an Int32Array, Uint8Array, Float32Array or number[]', attentionMask);
    if (mask.length !== B * L) throw rangeError(OP, 'attentionMask', `has length ${mask.length}, expected batch·seq = ${B * L}`);
    for (let i = 0; i < mask.length; i++) {
      if (mask[i] !== 0 && mask[i] !== 1) throw rangeError(OP, `attentionMask[${i}]`, `is ${String(mask[i])}, must be 0 or 1`);
    }
  }
  const out = new Float32Array(B * H);
  const sum = new Float64Array(H);
  for (let b = 0; b < B; b++) {
    sum.fill(0);
    let count = 0;
    for (let t = 0; t < L; t++) {
      const m = mask ? mask[b * L + t] : 1;
      if (m === 0) continue;
      count += m;
      const row = (b * L + t) * H;
      for (let j = 0; j < H; j++) sum[j] += x[row + j];
    }
    const mean = sum.map((s) => s / Math.max(count, 1e-9));
    const scale = normalize ? 1 / Math.max(Math.sqrt(mean.reduce((a, v) => a + v * v, 0)), 1e-12) : 1;
    for (let j = 0; j < H; j++) out[b * H + j] = mean[j] * scale;
  }
  return out;
}
