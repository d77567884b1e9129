// A 2-thread engine whose calls ran on its workers, never disposed: the process must end by
// itself once its work is done (Node, Deno and Bun; test/parallel/exit-without-dispose.test.ts).
// Prints `threads T runs R` (R: calls the pool ran).
const { createEngine } = await import(new URL('../../dist/index.js', import.meta.url).href);
const DEBUG = Symbol.for('wasm-attention.debug');
const engine = await createEngine({ threads: 2 });
const debug = engine[DEBUG]();
debug.forcePool();
const x = Float32Array.from({ length: 4096 }, (_, i) => (i % 64) / 16 - 2);
const y = await engine.gelu(x);
const w = await engine.matmul(x, x, { m: 64, k: 64, n: 64 });
if (!(y.length === 4096 && w.length === 4096 && Number.isFinite(w[0]))) throw new Error('wrong results');
console.log(`threads ${engine.threads} runs ${debug.pool ? (await debug.pool()).runs : 0}`);
