// A tiny app that uses the package the way a user would (bare specifier), bundled by each
// bundler under test. It reports through document.body.dataset.result.
import { createEngine, positionalEncoding } from 'wasm-attention';

async function main() {
  const engine = await createEngine({ threads: 2 });
  const one = await createEngine({ threads: 1 });
  const B = 1, H = 4, L = 96, D = 16;
  const q = Float32Array.from({ length: B * H * L * D }, (_, i) => Math.sin(i * 0.37));
  const k = Float32Array.from(q, (x, i) => Math.cos(i * 0.11) * x);
  const o = { batch: B, heads: H, seqQ: L, seqK: L, headDim: D, causal: true, returnWeights: true };
  const [a, b] = await Promise.all([engine.attention(q, k, q, o), one.attention(q, k, q, o)]);
  const same = a.output.every((x, i) => Object.is(x, b.output[i]));
  // Row 0 of a causal attention sees only key 0: its output is v[0] exactly, its weight 1.
  const row0 = a.weights[0] === 1 && a.output.slice(0, D).every((x, i) => Math.abs(x - q[i]) < 1e-6);
  const pe = positionalEncoding(4, 4);
  const result = {
    threads: engine.threads, kernels: engine.kernels, isolated: globalThis.crossOriginIsolated === true,
    same, row0, pe: Array.from(pe.slice(4, 6), (x) => Number(x.toFixed(4))),
  };
  await engine.dispose();
  await one.dispose();
  return result;
}

main().then(
  (result) => { document.body.dataset.result = JSON.stringify(result); },
  (error) => { document.body.dataset.result = JSON.stringify({ error: String(error?.stack ?? error) }); },
);
