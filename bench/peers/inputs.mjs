// Argument checks shared by the benchmark peers (each checks what it is handed before building
// a graph, so a wrong shape fails loudly instead of timing the wrong thing).

export function checkLength(name, a, expected) {
  if (!(a instanceof Float32Array)) throw new TypeError(`${name} must be a Float32Array`);
  if (a.length !== expected) throw new RangeError(`${name} has ${a.length} elements, expected ${expected}`);
}

/** nn.MultiheadAttention weights in torch layouts, for embed and heads. */
export function checkMhaWeights(embed, heads, { inProjWeight, inProjBias, outProjWeight, outProjBias }) {
  if (embed % heads !== 0) throw new RangeError(`embed ${embed} not divisible by heads ${heads}`);
  checkLength('inProjWeight', inProjWeight, 3 * embed * embed);
  checkLength('inProjBias', inProjBias, 3 * embed);
  checkLength('outProjWeight', outProjWeight, embed * embed);
  checkLength('outProjBias', outProjBias, embed);
}
