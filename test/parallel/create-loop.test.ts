// A Node script that creates, uses and disposes engines in a loop, with nothing else keeping its
// event loop alive, must not hang. It used to, in a third to two thirds of runs of 2000 iterations
// (depending on what the loop does besides; a review's soak script found it): createEngine
// awaited V8's asynchronous WebAssembly.instantiate, and Node waits for such a task in
// NodePlatform::DrainTasks, which can deadlock with a concurrent compiler job (nodejs/node#54918;
// the process sat in futex_wait for good). The kernels are now compiled and instantiated
// synchronously in Node (src/wasm/sync-wasm.ts). The hang is a race: before the change one child
// of 2000 iterations hung in 2 of 6 runs (20 s limit), so three of them catch it most times; after
// it, none of 6 did.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const INDEX = new URL('../../dist/index.js', import.meta.url).href;

const CHILD = `
const { createEngine } = await import(${JSON.stringify(INDEX)});
const rand = (n, s = 0.2) => { const a = new Float32Array(n); for (let i = 0; i < n; i++) a[i] = (Math.random() * 2 - 1) * s; return a; };
const E = 32, V = 50, P = 64, I = 4 * E;
const config = { vocab_size: V, n_positions: P, n_embd: E, n_layer: 1, n_head: 4, activation_function: 'gelu_new', layer_norm_epsilon: 1e-5, model_type: 'gpt2' };
const weights = { 'wte.weight': rand(V * E, 0.5), 'wpe.weight': rand(P * E, 0.1), 'ln_f.weight': rand(E).map((x) => 1 + x), 'ln_f.bias': rand(E),
  'h.0.ln_1.weight': rand(E).map((x) => 1 + x), 'h.0.ln_1.bias': rand(E), 'h.0.ln_2.weight': rand(E).map((x) => 1 + x), 'h.0.ln_2.bias': rand(E),
  'h.0.attn.c_attn.weight': rand(E * 3 * E, 0.4), 'h.0.attn.c_attn.bias': rand(3 * E), 'h.0.attn.c_proj.weight': rand(E * E),
  'h.0.attn.c_proj.bias': rand(E), 'h.0.mlp.c_fc.weight': rand(E * I), 'h.0.mlp.c_fc.bias': rand(I),
  'h.0.mlp.c_proj.weight': rand(I * E, 0.1), 'h.0.mlp.c_proj.bias': rand(E) };
const tick = () => new Promise((r) => setTimeout(r, 0));
for (let i = 1; i <= 2000; i++) {
  const engine = await createEngine({ threads: 1 });
  const model = engine.gpt2({ config, weights });
  const t = engine.createTensor(rand(1000));
  await model.forward([1, 2, 3], { batch: 1, seq: 3 });
  await engine.matmul(t, rand(1000), { m: 10, k: 100, n: 10 });
  await engine.dispose();
  if (i % 200 === 0) {
    for (let g = 0; g < 3; g++) { globalThis.gc(); await tick(); }
    await new Promise((r) => setTimeout(r, 50));
    for (let g = 0; g < 3; g++) { globalThis.gc(); await tick(); }
  }
}
console.log('done');
`;

describe('engines created in a loop by a script with an otherwise idle event loop', () => {
  it('three processes of 2000 engines each finish (no hang in NodePlatform::DrainTasks)', () => {
    for (let run = 0; run < 3; run++) {
      const r = spawnSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', CHILD], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
      expect(r.error, `run ${run}: the process did not finish within 30 s (hung?); stdout: ${r.stdout}`).toBeUndefined();
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout.trim()).toBe('done');
    }
  }, 120_000);
});
