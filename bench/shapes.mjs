// Benchmark shapes, named after the models they come from.

/** nn.MultiheadAttention self-attention with projections. */
export const MHA_SHAPES = [
  { name: 'BERT-base MHA, seq 128', batch: 1, seq: 128, embed: 768, heads: 12 },
  { name: 'BERT-base MHA, seq 512', batch: 1, seq: 512, embed: 768, heads: 12 },
];

/** FLOPs of one self-attention forward with projections: 4 linear layers + QKᵀ + P·V. */
export function mhaFlops({ batch, seq, embed }, causal = false) {
  const projections = 4 * 2 * batch * seq * embed * embed;
  const attention = 2 * 2 * batch * seq * seq * embed * (causal ? 0.5 : 1);
  return projections + attention;
}
