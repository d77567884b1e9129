// engine.multiHeadAttention against a float64 reference: the three projection paths (one
// fused [3E] GEMM for self-attention, a fused [2E] one when key and value are one array,
// three otherwise), every mask, weights averaged and per head.
import { beforeAll, describe, expect, it } from 'vitest';
import { createEngine, type Engine, type MultiHeadAttention } from '../../dist/index.js';
import { kernelVariants } from '../helpers/kernels.js';
import { randomF32, randomMask } from '../helpers/random.js';
import { referenceMha, type RefMha } from '../reference/multi-head-attention.js';
import { expectClose } from '../helpers/compare.js';
import { paddedKeyLengths } from '../../src/ops/multi-head-attention.js';

function layerParams(E: number, H: number, kdim: number, vdim: number, seed: number, bias = true): RefMha {
  const s = 1 / Math.sqrt(E);
  return {
    E, H, kdim, vdim,
    wq: randomF32(E * E, seed, s), wk: randomF32(E * kdim, seed + 1, s), wv: randomF32(E * vdim, seed + 2, s),
    wo: randomF32(E * E, seed + 3, s),
    ...(bias ? { bq: randomF32(E, seed + 4), bk: randomF32(E, seed + 5), bv: randomF32(E, seed + 6), bo: randomF32(E, seed + 7) } : {}),
  };
}

function concat(...parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

function torchWeights(p: RefMha) {
  const bias = p.bq ? { inProjBias: concat(p.bq, p.bk!, p.bv!), outProjBias: p.bo } : {};
  return p.kdim === p.E && p.vdim === p.E
    ? { inProjWeight: concat(p.wq, p.wk, p.wv), outProjWeight: p.wo, ...bias }
    : { qProjWeight: p.wq, kProjWeight: p.wk, vProjWeight: p.wv, outProjWeight: p.wo, ...bias };
}

describe.each(kernelVariants())('multiHeadAttention (%s)', (variant) => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await createEngine({ threads: 1, kernels: variant });
    return () => engine.dispose();
  });

  it('self-attention (fused QKV projection), BERT-like head size 64, odd sequence', async () => {
    const E = 128, H = 2, B = 2, L = 37;
    const p = layerParams(E, H, E, E, 1);
    const layer = engine.multiHeadAttention({ embedDim: E, numHeads: H, weights: torchWeights(p) });
    const x = randomF32(B * L * E, 9);
    const copy = x.slice();
    const r = await layer.forward(x, x, x, { batch: B, seqQ: L, seqK: L });
    const ref = referenceMha(p, x, x, x, B, L, L);
    expectClose(r.output, ref.output, 2e-5, 1e-4, 'output');
    expectClose(r.weights!, ref.averaged, 1e-6, 1e-4, 'averaged weights');
    expect(x).toEqual(copy);
    // the same numbers through the three-projection path
    const r2 = await layer.forward(x, x.slice(), x.slice(), { batch: B, seqQ: L, seqK: L });
    expectClose(r2.output, ref.output, 2e-5, 1e-4, 'output (separate projections)');
  });

  it('cross-attention with kdim != vdim != embedDim, per-head weights, key = value array', async () => {
    for (const [kdim, vdim] of [[5, 11], [7, 7], [16, 3]]) {
      const E = 12, H = 3, B = 3, Lq = 5, Lk = 9;
      const p = layerParams(E, H, kdim, vdim, kdim * 10 + vdim);
      const layer = engine.multiHeadAttention({ embedDim: E, numHeads: H, kdim, vdim, weights: torchWeights(p) });
      expect([layer.kdim, layer.vdim]).toEqual([kdim, vdim]);
      const q = randomF32(B * Lq * E, 1), k = randomF32(B * Lk * kdim, 2);
      const v = kdim === vdim ? k : randomF32(B * Lk * vdim, 3);
      const r = await layer.forward(q, k, v, { batch: B, seqQ: Lq, seqK: Lk, averageWeights: false });
      const ref = referenceMha(p, q, k, v, B, Lq, Lk);
      expectClose(r.output, ref.output, 2e-5, 1e-4, 'output');
      expectClose(r.weights!, ref.headWeights, 1e-6, 1e-4, 'per-head weights');
    }
  });

  /** Every attnMask (none, bool [Lq, Lk], float per batch·head) × causal against the reference,
   * with the key padding mask's part given by keyAllowed / keyAdd; `check` sees each result. */
  async function maskSweep(
    layer: MultiHeadAttention, p: RefMha, B: number, Lq: number, Lk: number, seed: number,
    keyPaddingMask: Uint8Array | Float32Array, keyAllowed: (b: number, j: number) => boolean,
    keyAdd?: (b: number, j: number) => number, check: (output: Float32Array) => void = () => {},
  ): Promise<void> {
    const { E, H } = p;
    const x = randomF32(B * Lq * E, seed), mem = randomF32(B * Lk * E, seed + 1);
    const bool2 = randomMask(Lq * Lk, seed + 2, 0.3);
    const float3 = randomF32(B * H * Lq * Lk, seed + 3, 2);
    for (const attnMask of [undefined, bool2, float3]) {
      for (const causal of [false, true]) {
        const r = await layer.forward(x, mem, mem, { batch: B, seqQ: Lq, seqK: Lk, keyPaddingMask, attnMask, causal });
        const add = (b: number, h: number, i: number, j: number): number =>
          (keyAdd?.(b, j) ?? 0) + (attnMask instanceof Float32Array ? attnMask[((b * H + h) * Lq + i) * Lk + j] : 0);
        const ref = referenceMha(p, x, mem, mem, B, Lq, Lk,
          (b, h, i, j) => keyAllowed(b, j) && !(causal && j > i) && !(attnMask instanceof Uint8Array && attnMask[i * Lk + j] !== 0),
          keyAdd || attnMask instanceof Float32Array ? add : undefined);
        const what = `mask ${attnMask?.constructor.name} causal ${causal} bias ${p.bq !== undefined}`;
        expectClose(r.output, ref.output, 2e-5, 1e-4, `output, ${what}`);
        expectClose(r.weights!, ref.averaged, 1e-6, 1e-4, `weights, ${what}`);
        check(r.output);
      }
    }
  }

  it('key padding + bool / float attention masks (2-D and per batch·head) + causal, bias=false', async () => {
    const E = 16, H = 4, B = 2, Lq = 6, Lk = 6;
    for (const bias of [true, false]) {
      const p = layerParams(E, H, E, E, 3, bias);
      const layer = engine.multiHeadAttention({ embedDim: E, numHeads: H, bias, weights: torchWeights(p) });
      const keyPaddingMask = new Uint8Array([0, 0, 1, 0, 1, 0, /* batch 1: */ 1, 1, 1, 1, 1, 1]);
      await maskSweep(layer, p, B, Lq, Lk, 4, keyPaddingMask, (b, j) => keyPaddingMask[b * Lk + j] === 0, undefined, (output) => {
        // batch 1 has every key padded: its output rows are exactly outProjBias (or 0)
        for (let i = 0; i < Lq; i++) {
          expect(Array.from(output.subarray((Lq + i) * E, (Lq + i + 1) * E))).toEqual(Array.from(p.bo ?? new Float32Array(E)));
        }
      });
      await layer.dispose();
    }
  });

  it('a float key padding mask is added, with no / bool / float attention masks and causal (torch >= 2.0 merging)', async () => {
    const E = 16, H = 4, B = 2, Lq = 5, Lk = 7;
    const p = layerParams(E, H, E, E, 13);
    const layer = engine.multiHeadAttention({ embedDim: E, numHeads: H, weights: torchWeights(p) });
    const keyPaddingMask = Float32Array.from(randomF32(B * Lk, 16, 2), (v, i) => (i % Lk !== 0 && i % 4 === 3 ? -Infinity : v));
    await maskSweep(layer, p, B, Lq, Lk, 14, keyPaddingMask, (b, j) => keyPaddingMask[b * Lk + j] !== -Infinity,
      (b, j) => keyPaddingMask[b * Lk + j]);
    await layer.dispose();
  });

  it('trailing key padding over several key blocks (blocks past it skipped), with and without interior padding', async () => {
    const E = 16, H = 2, B = 4, Lq = 9, Lk = 150, lens = [150, 100, 37, 0];
    const p = layerParams(E, H, E, E, 21);
    const layer = engine.multiHeadAttention({ embedDim: E, numHeads: H, weights: torchWeights(p) });
    const x = randomF32(B * Lq * E, 22), mem = randomF32(B * Lk * E, 23);
    for (const interior of [false, true]) {
      const keyPaddingMask = new Uint8Array(B * Lk);
      for (let b = 0; b < B; b++) for (let j = lens[b]; j < Lk; j++) keyPaddingMask[b * Lk + j] = 1;
      if (interior) keyPaddingMask[1 * Lk + 70] = keyPaddingMask[2 * Lk + 3] = 1;
      for (const causal of [false, true]) {
        const r = await layer.forward(x, mem, mem, { batch: B, seqQ: Lq, seqK: Lk, keyPaddingMask, causal, averageWeights: false });
        const ref = referenceMha(p, x, mem, mem, B, Lq, Lk, (b, h, i, j) => keyPaddingMask[b * Lk + j] === 0 && !(causal && j > i));
        expectClose(r.output, ref.output, 2e-5, 1e-4, `output interior=${interior} causal=${causal}`);
        expectClose(r.weights!, ref.headWeights, 1e-6, 1e-4, `weights interior=${interior} causal=${causal}`);
      }
    }
  });

  it('trailing key padding on a key-split call (decode: one query, 600 keys, no weights)', async () => {
    const E = 16, H = 2, B = 2, Lq = 1, Lk = 600, lens = [530, 0];
    const p = layerParams(E, H, E, E, 24);
    const layer = engine.multiHeadAttention({ embedDim: E, numHeads: H, weights: torchWeights(p) });
    const x = randomF32(B * Lq * E, 25), mem = randomF32(B * Lk * E, 26);
    const keyPaddingMask = new Uint8Array(B * Lk);
    for (let b = 0; b < B; b++) for (let j = lens[b]; j < Lk; j++) keyPaddingMask[b * Lk + j] = 1;
    const r = await layer.forward(x, mem, mem, { batch: B, seqQ: Lq, seqK: Lk, keyPaddingMask, needWeights: false });
    const ref = referenceMha(p, x, mem, mem, B, Lq, Lk, (b, h, i, j) => keyPaddingMask[b * Lk + j] === 0);
    expectClose(r.output, ref.output, 2e-5, 1e-4, 'output');
    expect(Array.from(r.output.subarray(E, 2 * E))).toEqual(Array.from(p.bo!)); // batch 1: every key padded
  });

  it('needWeights: false returns no weights and the same output', async () => {
    const E = 8, H = 2;
    const p = layerParams(E, H, E, E, 8);
    const layer = engine.multiHeadAttention({ embedDim: E, numHeads: H, weights: torchWeights(p) });
    const x = randomF32(3 * 4 * E, 1);
    const a = await layer.forward(x, x, x, { batch: 3, seqQ: 4, seqK: 4 });
    const b = await layer.forward(x, x, x, { batch: 3, seqQ: 4, seqK: 4, needWeights: false });
    expect(b.weights).toBeUndefined();
    expect(b.output).toEqual(a.output);
  });

  it('weights are copied at creation: changing the caller arrays later changes nothing', async () => {
    const E = 8, H = 2;
    const p = layerParams(E, H, E, E, 11);
    const weights = torchWeights(p);
    const layer = engine.multiHeadAttention({ embedDim: E, numHeads: H, weights });
    const x = randomF32(4 * E, 2);
    const before = await layer.forward(x, x, x, { batch: 1, seqQ: 4, seqK: 4 });
    weights.inProjWeight!.fill(0);
    weights.outProjBias!.fill(5);
    const after = await layer.forward(x, x, x, { batch: 1, seqQ: 4, seqK: 4 });
    expect(after.output).toEqual(before.output);
  });

  it('overlapping calls of different shapes all come back right', async () => {
    const E = 16, H = 2;
    const p = layerParams(E, H, E, E, 12);
    const layer = engine.multiHeadAttention({ embedDim: E, numHeads: H, weights: torchWeights(p) });
    const shapes = Array.from({ length: 24 }, (_, i) => [1 + (i % 3), 1 + ((i * 7) % 19)]);
    const inputs = shapes.map(([B, L], i) => randomF32(B * L * E, 100 + i));
    const results = await Promise.all(shapes.map(([B, L], i) =>
      layer.forward(inputs[i], inputs[i], inputs[i], { batch: B, seqQ: L, seqK: L, needWeights: false })));
    shapes.forEach(([B, L], i) => {
      const ref = referenceMha(p, inputs[i], inputs[i], inputs[i], B, L, L);
      expectClose(results[i].output, ref.output, 2e-5, 1e-4, `call ${i}`);
    });
  });
});

describe('multiHeadAttention weights residency', () => {
  it('weights are uploaded once and freed by dispose(); a disposed layer rejects', async () => {
    const engine = await createEngine({ threads: 2 });
    const internals = (engine as unknown as Record<symbol, () => { arena: { residentBytes: number } }>)[Symbol.for('wasm-attention.debug')]();
    const E = 32, H = 2;
    const p = layerParams(E, H, E, E, 21);
    const layers = [0, 1, 2].map(() => engine.multiHeadAttention({ embedDim: E, numHeads: H, weights: torchWeights(p) }));
    const x = randomF32(2 * 50 * E, 1);
    const results = await Promise.all(layers.map((l) => l.forward(x, x, x, { batch: 2, seqQ: 50, seqK: 50 })));
    expect(results[1].output).toEqual(results[0].output);
    const perLayer = (4 * E * E + 4 * E) * 4;
    expect(internals.arena.residentBytes).toBe(3 * perLayer);
    await layers[1].dispose();
    await layers[1].dispose();
    expect(internals.arena.residentBytes).toBe(2 * perLayer);
    // The disposed state comes before the arguments, with round 1's message.
    for (const query of [x, x.subarray(1)]) {
      await expect(layers[1].forward(query, x, x, { batch: 2, seqQ: 50, seqK: 50 }))
        .rejects.toThrow('MultiHeadAttention.forward: the layer has been disposed');
    }
    const again = await layers[2].forward(x, x, x, { batch: 2, seqQ: 50, seqK: 50 });
    expect(again.output).toEqual(results[0].output);
    const fresh = engine.multiHeadAttention({ embedDim: E, numHeads: H, weights: torchWeights(p) }); // reuses the hole
    expect((await fresh.forward(x, x, x, { batch: 2, seqQ: 50, seqK: 50 })).output).toEqual(results[0].output);
    expect(internals.arena.residentBytes).toBe(3 * perLayer);
    await engine.dispose();
  });
});

describe('multiHeadAttention: one array as query, key and value of different widths', () => {
  it('is not mistaken for self-attention when kdim/vdim differ from embedDim', async () => {
    const engine = await createEngine();
    const E = 4, H = 1, kdim = 8, vdim = 8;
    const p = layerParams(E, H, kdim, vdim, 31);
    const layer = engine.multiHeadAttention({ embedDim: E, numHeads: H, kdim, vdim, weights: torchWeights(p) });
    const x = randomF32(8, 5); // query [1, 2, 4] and key/value [1, 1, 8]: the same length
    const r = await layer.forward(x, x, x, { batch: 1, seqQ: 2, seqK: 1 });
    expectClose(r.output, referenceMha(p, x, x, x, 1, 2, 1).output, 2e-6, 1e-5, 'output');
    await engine.dispose();
  });
});

describe('paddedKeyLengths: where key_padding_mask stops letting keys through', () => {
  it('finds each batch entry’s bound and whether keys before it are masked too', () => {
    const mask = new Uint8Array([0, 0, 1, 1, /* */ 0, 1, 0, 1, /* */ 1, 1, 1, 1, /* */ 0, 0, 0, 0]);
    expect(paddedKeyLengths(mask, 4, 4)).toEqual({ lengths: new Int32Array([2, 3, 0, 4]), interior: true });
    expect(paddedKeyLengths(mask.subarray(0, 4), 1, 4)).toEqual({ lengths: new Int32Array([2]), interior: false });
    expect(paddedKeyLengths(mask.subarray(8), 2, 4)).toEqual({ lengths: new Int32Array([0, 4]), interior: false });
  });
});
