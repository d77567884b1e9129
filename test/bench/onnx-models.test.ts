// The bench's whole-model ONNX graphs (bench/peers/onnx-models.mjs, built in JavaScript) against
// torch.onnx.export's graphs of the same models (bench/models/export_onnx.py, torch 1.13, opset
// 17; small geometry, committed in test/fixtures/onnx-export/): on the same weights,
// onnxruntime-web gives the same outputs for both, the GPT-2 graph through an empty past (the
// prompt) and a non-empty one (a decode step, fed the first call's present), and both graphs
// have the same number of each compute op.
import { describe, expect, it, beforeAll } from 'vitest';
import { readFileSync } from 'node:fs';
import { loadSafetensors } from '../../dist/index.js';
// @ts-expect-error: a JavaScript module of the bench, without types
import { bertGraph, gpt2WithPastGraph } from '../../bench/peers/onnx-models.mjs';
// @ts-expect-error: likewise
import { encodeModel } from '../../bench/peers/onnx-proto.mjs';

type Ort = typeof import('onnxruntime-web');
type Session = Awaited<ReturnType<Ort['InferenceSession']['create']>>;
type Graph = { nodes: { opType: string }[] };

const fixture = (name: string, file: string) => new URL(`../fixtures/onnx-export/${name}/${file}`, import.meta.url);
const load = (name: string) => ({
  config: JSON.parse(readFileSync(fixture(name, 'config.json'), 'utf8')) as Record<string, number>,
  weights: loadSafetensors(readFileSync(fixture(name, 'model.safetensors'))),
  torchOnnx: new Uint8Array(readFileSync(fixture(name, 'model.onnx'))),
  torchOps: (JSON.parse(readFileSync(fixture(name, 'ops.json'), 'utf8')) as { ops: Record<string, number> }).ops,
});

/** The ops that compute (shape arithmetic differs: torch derives shapes at run time, node by node). */
const COMPUTE = ['Gemm', 'MatMul', 'Softmax', 'LayerNormalization', 'Where', 'Split', 'Transpose', 'Tanh', 'Erf', 'Mul', 'Div'];
const computeOps = (ops: Record<string, number>) => Object.fromEntries(COMPUTE.map((op) => [op, ops[op] ?? 0]));
const count = (g: Graph) => g.nodes.reduce<Record<string, number>>((acc, n) => ({ ...acc, [n.opType]: (acc[n.opType] ?? 0) + 1 }), {});

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

let ort: Ort;
beforeAll(async () => {
  ort = await import('onnxruntime-web');
  ort.env.wasm.numThreads = 1;
  ort.env.logLevel = 'error';
});
const open = (bytes: Uint8Array): Promise<Session> =>
  ort.InferenceSession.create(bytes, { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
const int64 = (values: number[], dims: number[]) => new ort.Tensor('int64', BigInt64Array.from(values, BigInt), dims);

describe('bench/peers/onnx-models.mjs against torch.onnx.export', () => {
  it('GPT-2 with past: same logits and present K/V for a prompt (empty past) and a decode step', async () => {
    const { config, weights, torchOnnx, torchOps } = load('gpt2');
    const graph = gpt2WithPastGraph(config, weights) as Graph;
    expect(computeOps(count(graph))).toEqual(computeOps(torchOps));
    const ours = await open(encodeModel({ graph }));
    const torch = await open(torchOnnx);
    const H = config.n_head, d = config.n_embd / config.n_head;
    const feeds = (ids: number[], past?: Record<string, unknown>) => {
      const P = past ? (past['present.0.key'] as { dims: number[] }).dims[2] : 0, L = ids.length;
      const f: Record<string, unknown> = {
        input_ids: int64(ids, [1, L]), attention_mask: int64(new Array(P + L).fill(1), [1, P + L]),
        position_ids: int64(ids.map((_, i) => P + i), [1, L]),
      };
      for (let i = 0; i < config.n_layer; i++) {
        for (const kind of ['key', 'value']) {
          f[`past_key_values.${i}.${kind}`] = past?.[`present.${i}.${kind}`] ?? new ort.Tensor('float32', new Float32Array(0), [1, H, 0, d]);
        }
      }
      return f as Parameters<Session['run']>[0];
    };
    const prompt = [3, 17, 42, 5, 61, 0, 9];
    const [a, b] = await Promise.all([ours.run(feeds(prompt)), torch.run(feeds(prompt))]);
    for (const name of torch.outputNames) {
      expect(a[name].dims, name).toEqual(b[name].dims);
      expect(maxAbsDiff(a[name].data as Float32Array, b[name].data as Float32Array), name).toBeLessThan(1e-5);
    }
    // One decode step, each graph fed its own present: past 7, one token at position 7.
    const [a2, b2] = await Promise.all([ours.run(feeds([33], a)), torch.run(feeds([33], b))]);
    expect(a2.logits.dims).toEqual([1, 1, config.vocab_size]);
    expect(a2['present.1.value'].dims).toEqual([1, H, 8, d]);
    for (const name of torch.outputNames) {
      expect(maxAbsDiff(a2[name].data as Float32Array, b2[name].data as Float32Array), name).toBeLessThan(1e-5);
    }
    await Promise.all([ours.release(), torch.release()]);
  });

  it('BERT: same last_hidden_state, batch 2 × seq 6, padding in the mask', async () => {
    const { config, weights, torchOnnx, torchOps } = load('bert');
    const graph = bertGraph(config, weights) as Graph;
    expect(computeOps(count(graph))).toEqual(computeOps(torchOps));
    const ours = await open(encodeModel({ graph }));
    const torch = await open(torchOnnx);
    const dims = [2, 6];
    const feeds = () => ({
      input_ids: int64([1, 7, 30, 2, 49, 11, 4, 4, 8, 0, 13, 21], dims),
      attention_mask: int64([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0], dims),
      token_type_ids: int64([0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0], dims),
    });
    const [a, b] = await Promise.all([ours.run(feeds()), torch.run(feeds())]);
    expect(a.last_hidden_state.dims).toEqual([2, 6, config.hidden_size]);
    expect(maxAbsDiff(a.last_hidden_state.data as Float32Array, b.last_hidden_state.data as Float32Array)).toBeLessThan(1e-5);
    await Promise.all([ours.release(), torch.release()]);
  });
});
