// How a PyTorch fixture case is put to the library and checked: shared by the vitest suite
// (test/ops/torch-fixtures.test.ts) and the runtime smoke suite (suite.mjs, beside this file), so
// every runtime runs exactly the same checks. Runtime-neutral ESM, no imports.
//
// `check` is the caller's assertion pair: close(actual, expected, what) within the fixture
// tolerance, and absent(value, what) for a result that must be undefined.

/** Numbers, with the string "-inf" (JSON has no infinities). */
export const f32 = (values) => Float32Array.from(values, (x) => (x === '-inf' ? -Infinity : x));

/** A fixture mask {dtype, shape, data} as the array type the API takes. */
export const mask = (m) => (m ? (m.dtype === 'bool' ? Uint8Array.from(m.data) : f32(m.data)) : undefined);

/** engine.attention on one case of attention.json. */
export async function checkAttentionCase(engine, c, check) {
  const opts = { ...c.opts, attnMask: mask(c.attnMask), validLens: c.validLens ? Int32Array.from(c.validLens.data) : undefined };
  const r = await engine.attention(f32(c.q), f32(c.k), f32(c.v), opts);
  check.close(r.output, c.output, 'output');
  if (c.weights) check.close(r.weights, c.weights, 'weights');
  else check.absent(r.weights, 'weights');
}

/** A MultiHeadAttention layer on one case of mha.json: with distinct key and value arrays (the
 * separate projections) and, when query, key and value are equal, with one array (the fused one). */
export async function checkMhaCase(engine, c, check) {
  const weights = Object.fromEntries(Object.entries(c.weights).map(([name, w]) => [name, f32(w)]));
  const layer = engine.multiHeadAttention({ ...c.cfg, weights });
  try {
    const query = f32(c.query);
    const same = JSON.stringify(c.query) === JSON.stringify(c.key) && JSON.stringify(c.key) === JSON.stringify(c.value);
    const opts = {
      ...c.forward,
      keyPaddingMask: c.keyPaddingMask ? Uint8Array.from(c.keyPaddingMask) : undefined,
      attnMask: mask(c.attnMask),
    };
    const runs = [await layer.forward(query, f32(c.key), f32(c.value), opts)];
    if (same) runs.push(await layer.forward(query, query, query, opts));
    for (const r of runs) {
      check.close(r.output, c.output, 'output');
      if (c.attnWeights) check.close(r.weights, c.attnWeights, 'weights');
      else check.absent(r.weights, 'weights');
    }
  } finally {
    await layer.dispose();
  }
}
