// The sinusoidal positional encoding of "Attention Is All You Need" (section 3.5).
import { dim, elements } from '../validate.js';

const OP = 'positionalEncoding';

/**
 * PE[p, 2i] = sin(p / 10000^(2i/dModel)), PE[p, 2i+1] = cos(p / 10000^(2i/dModel)).
 * Computed in float64 and rounded once to float32. An odd dModel ends with a sine column.
 * @returns [seqLen, dModel]
 */
export function positionalEncoding(seqLen: number, dModel: number): Float32Array {
  dim(OP, 'seqLen', seqLen);
  dim(OP, 'dModel', dModel);
  const pe = new Float32Array(elements(OP, 'seqLen·dModel', seqLen, dModel));
  const half = Math.ceil(dModel / 2);
  const inverseFrequency = new Float64Array(half);
  for (let i = 0; i < half; i++) inverseFrequency[i] = Math.pow(10000, -(2 * i) / dModel);
  for (let p = 0; p < seqLen; p++) {
    const row = p * dModel;
    for (let i = 0; i < half; i++) {
      const angle = p * inverseFrequency[i];
      pe[row + 2 * i] = Math.sin(angle);
      if (2 * i + 1 < dModel) pe[row + 2 * i + 1] = Math.cos(angle);
    }
  }
  return pe;
}
