// A BERT-base encoder layer (seq 128) on 2 threads in Deno: median and minimum of 25 forwards.
// Deno starts the pool's workers through node:worker_threads when the library comes from a
// file: URL, and as web Workers when it comes over http(s); run both and compare:
//   deno run -A bench/deno-workers.mjs file://$PWD/dist/index.js
//   (cd dist && python3 -m http.server 8741 &) ; deno run -A --reload=http://127.0.0.1:8741 bench/deno-workers.mjs http://127.0.0.1:8741/index.js
const url = Deno.args[0];
const { createEngine } = await import(url);
const d = 768, ff = 3072, seq = 128;
const r = (n, s) => { let x = s; return Float32Array.from({ length: n }, () => { x = (x * 1103515245 + 12345) % 2147483648; return (x / 2147483648 - 0.5) * 0.07; }); };
const weights = {
  'self_attn.in_proj_weight': r(3 * d * d, 1), 'self_attn.in_proj_bias': r(3 * d, 2), 'self_attn.out_proj.weight': r(d * d, 3), 'self_attn.out_proj.bias': r(d, 4),
  'linear1.weight': r(ff * d, 5), 'linear1.bias': r(ff, 6), 'linear2.weight': r(d * ff, 7), 'linear2.bias': r(d, 8),
  'norm1.weight': r(d, 9).map((v) => 1 + v), 'norm1.bias': r(d, 10), 'norm2.weight': r(d, 11).map((v) => 1 + v), 'norm2.bias': r(d, 12),
};
const engine = await createEngine({ threads: 2 });
const layer = engine.transformerEncoderLayer({ dModel: d, nhead: 12, dimFeedforward: ff, activation: 'gelu', weights });
const x = r(seq * d, 13).map((v) => v * 20);
for (let i = 0; i < 5; i++) await layer.forward(x, { batch: 1, seq });
const ts = [];
for (let i = 0; i < 25; i++) { const t0 = performance.now(); await layer.forward(x, { batch: 1, seq }); ts.push(performance.now() - t0); }
ts.sort((a, b) => a - b);
console.log(`${url.startsWith('http') ? 'web Workers   ' : 'worker_threads'} median ${ts[12].toFixed(2)} ms min ${ts[0].toFixed(2)} ms`);
await engine.dispose();
