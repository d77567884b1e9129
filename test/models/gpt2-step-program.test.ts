// GPT-2 decode steps reuse the previous step's program (buildStep's `prev`): patched, it must be
// the program a fresh build gives, phase for phase and field for field, at every position of a
// long decode: across the attention's key-part boundaries (rebuilt there), on the all-heads
// decode kernel and the per-head one (one head: one key part, then split past 512 keys), f32 (GEMV and, for 3
// sequences, the GEMM) and int8. Engine-level results of the same path are in gpt2.test.ts and
// char-gpt.test.ts (greedy tokens equal PyTorch's over 200 steps).
import { describe, expect, it } from 'vitest';
import { buildStep, gpt2Hparams, gpt2Specs, gpt2Weights, type KvBlocks, type StepProgram } from '../../src/models/gpt2.js';
import { Arena } from '../../src/wasm/arena.js';
import { PHASE_ATTENTION } from '../../src/parallel/phases.js';
import { randomF32 } from '../helpers/random.js';
import type { Quantize } from '../../src/types.js';

interface Case { heads: number; batch: number; quantize?: Quantize; positions?: number; masked?: boolean }
const CASES: Case[] = [
  // One head: the per-head kernel, one key part up to SPLIT_MIN_KEYS (512) keys, then a key
  // split and its combine phase.
  { heads: 4, batch: 1 }, { heads: 4, batch: 1, quantize: 'int8' }, { heads: 1, batch: 1, positions: 640 },
  { heads: 2, batch: 3 }, { heads: 2, batch: 2, quantize: 'int8' },
  // A prompt mask (generate's attentionMask): the key bias at a fixed n_positions stride.
  { heads: 4, batch: 2, masked: true }, { heads: 2, batch: 3, quantize: 'int8', masked: true },
];

/** The embedding tables of a plain state dict, as the model keeps them. */
const tablesOf = (w: Record<string, Float32Array>) => ({ 'wte.weight': { values: w['wte.weight']! }, 'wpe.weight': { values: w['wpe.weight']! } });

describe('GPT-2 decode steps: the previous program, patched, equals a fresh build', () => {
  for (const c of CASES) {
    it(`heads ${c.heads}, batch ${c.batch}, ${c.quantize ?? 'f32'}${c.masked ? ', masked prompt' : ''}`, () => {
      const config = { vocab_size: 40, n_positions: c.positions ?? 420, n_embd: 32, n_layer: 2, n_head: c.heads };
      const hp = gpt2Hparams(config);
      const w: Record<string, Float32Array> = {};
      let seed = 11;
      for (const s of gpt2Specs(hp)) w[s.key] = randomF32(s.shape.reduce((a, b) => a * b, 1), seed++, 0.1);
      const m = gpt2Weights(hp, w, tablesOf(w), undefined, c.quantize);
      // The engine resets its arena after every call; each side has its own, as in two engines.
      const memory = (): Arena => new Arena(new WebAssembly.Memory({ initial: 1, maximum: 1024 }), 1024);
      const kept = memory(), fresh = memory();
      const block = c.batch * hp.positions * hp.embd * 4;
      const cache: KvBlocks = {
        k: [1 << 24, (1 << 24) + 2 * block], v: [(1 << 24) + block, (1 << 24) + 3 * block], rows: hp.positions,
      };
      const prompt = 5, ids = (L: number): Int32Array => Int32Array.from({ length: c.batch * L }, (_, i) => i % hp.vocab);
      // Sequence b's first b prompt positions are padding.
      const bias = new Float32Array(c.batch * hp.positions);
      for (let b = 0; b < c.batch; b++) for (let t = 0; t < b; t++) bias[b * hp.positions + t] = -3.4028234663852886e38;
      let prev: StepProgram | undefined, reused = 0, rebuilt = 0, split = false;
      for (let past = 0, L = prompt; past + L <= hp.positions; past += L, L = 1) {
        const masked = c.masked ? { keyBias: bias, keyBiasRows: hp.positions } : {};
        const s = { batch: c.batch, seq: L, past, outputAttentions: false, lastOnly: true, ...masked };
        const before = prev;
        prev = buildStep(kept, 2, hp, m, ids(L), s, cache, prev);
        if (prev === before) reused++;
        else rebuilt++;
        const want = buildStep(fresh, 2, hp, m, ids(L), { ...s }, cache);
        split ||= want.program.some((ph) => ph.kind === PHASE_ATTENTION && ph.kParts > 1);
        if (JSON.stringify(prev.program) !== JSON.stringify(want.program)) {
          expect(prev.program, `past ${past}`).toEqual(want.program);
        }
        kept.reset();
        fresh.reset();
      }
      // The prompt, the first step, then one rebuild where the attention's parts change.
      expect(reused).toBeGreaterThan(hp.positions - prompt - 10);
      expect(rebuilt).toBeGreaterThanOrEqual(2);
      if (c.heads === 1) expect(split, 'the per-head attention split its keys').toBe(true);
    });
  }

  it('builds anew when the call differs: a mask, attention weights, another batch', () => {
    const hp = gpt2Hparams({ vocab_size: 10, n_positions: 64, n_embd: 8, n_layer: 1, n_head: 2 });
    const w: Record<string, Float32Array> = {};
    for (const s of gpt2Specs(hp)) w[s.key] = randomF32(s.shape.reduce((a, b) => a * b, 1), 3, 0.1);
    const m = gpt2Weights(hp, w, tablesOf(w), undefined);
    const arena = new Arena(new WebAssembly.Memory({ initial: 1, maximum: 64 }), 64);
    const cache: KvBlocks = { k: [1 << 20], v: [(1 << 20) + (1 << 16)], rows: hp.positions };
    const step = (past: number, prev?: StepProgram, extra: object = {}, batch = 1): StepProgram => {
      const built = buildStep(arena, 1, hp, m, new Int32Array(batch), {
        batch, seq: 1, past, outputAttentions: false, lastOnly: true, ...extra,
      }, cache, prev);
      arena.reset();
      return built;
    };
    const first = step(3);
    expect(step(4, first)).toBe(first);
    expect(step(5, first, { keyBias: new Float32Array(6) })).not.toBe(first);
    // A key bias of a fixed stride is patched like no bias, but not across a change of stride
    // or from no bias to a bias.
    const bias = { keyBias: new Float32Array(hp.positions), keyBiasRows: hp.positions };
    const biased = step(5, undefined, bias);
    expect(step(6, biased, bias)).toBe(biased);
    expect(step(7, biased, { keyBias: new Float32Array(8) })).not.toBe(biased);
    expect(step(7, biased)).not.toBe(biased);
    expect(step(7, first, bias)).not.toBe(first);
    expect(step(5, first, { outputAttentions: true })).not.toBe(first);
    expect(step(5, first, {}, 2)).not.toBe(first);
    expect(step(5, first, { lastOnly: false })).not.toBe(first);
  });
});
