// The work split is a pure function of the problem: every output element belongs to exactly
// one item, and nothing depends on the thread count.
import { describe, expect, it } from 'vitest';
import {
  GEMM_A_BLOCK_BYTES, GEMM_MAX_ROW_BLOCK, GEMM_MIN_ROW_BLOCK, GEMV_MAX_ROWS, gemmPackedPhase, gemmRowBlock,
  gemvPackedPhase, I8_GEMV_MAX_ROWS, i8GemmPhase, i8GemvPhase, i8PanelBytes, i8ProjectionPhases, itemCount, meanRowsPhase,
  packRowsPhase, projectionPhases, runItem, PHASE_ATTENTION, PHASE_GEMM_PACKED, PHASE_GEMV_PACKED, PHASE_I8_GEMM,
  PHASE_I8_GEMV, PHASE_I8_QUANTIZE_ROWS, PHASE_PACK_ROWS, PHASE_ATTENTION_COMBINE, PHASE_ATTENTION_DECODE, type Phase,
} from '../../src/parallel/phases.js';
import {
  attentionPhase, attentionPhases, DECODE_KEY_CHUNK, decodeParts, decodeScratchBytes, keyParts, KEY_CHUNK, QUERY_BLOCK,
  takesDecodePath, type SliceProblem,
} from '../../src/ops/attention-slices.js';
import { decodePhase, encodeProgram } from '../../src/parallel/protocol.js';
import type { KernelExports } from '../../src/wasm/abi.js';
import { ATTENTION_SCRATCH_BYTES, MAX_PHASES, PHASE_SLOTS } from '../../src/wasm/layout.js';

/** A fake kernel table that records which outputs each item writes. */
function recorder() {
  const writes: string[] = [];
  const kernels = {
    f32_gemm_packed: (m: number, n: number, _k: number, _ap: number, _bp: number, _bias: number,
      c: number, ldc: number) => {
      for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) writes.push(`c${(c >> 2) + i * ldc + j}`);
    },
    f32_gemv_packed: (m: number, n: number, _k: number, _a: number, _lda: number, _bp: number, _bias: number,
      c: number, ldc: number) => {
      for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) writes.push(`c${(c >> 2) + i * ldc + j}`);
    },
    i8_gemv: (m: number, n: number, k: number, _ap: number, bp: number, _bias: number, c: number, ldc: number) => {
      // The panel an item starts at must be the one holding its column 0.
      const p0 = (bp - 8192) / i8PanelBytes(k);
      for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) writes.push(`c${(c >> 2) + i * ldc + j}@${p0 * 8 + j}`);
    },
    f32_pack_rows: (_m: number, _k: number, _a: number, _lda: number, _ap: number, s0: number, s1: number) => {
      for (let s = s0; s < s1; s++) writes.push(`s${s}`);
    },
    f32_attention: (...args: number[]) => {
      const [, , , , , , o, ldo, , dv, q0, q1] = args;
      for (let i = q0; i < q1; i++) for (let c = 0; c < dv; c++) writes.push(`o${(o >> 2) + i * ldo + c}`);
    },
    f32_attention_decode: (...args: number[]) => {
      const [heads, , , , , , , , , o, oHead, , dv, k0, k1, , , , , , stats, statsHead] = args;
      for (let h = 0; h < heads; h++) {
        for (let c = 0; c < dv; c++) writes.push(`o${(o >> 2) + h * oHead + c}`);
        if (stats !== 0) writes.push(`m${(stats >> 2) + h * statsHead}`);
      }
      writes.push(`keys${k0}..${k1}`);
    },
    f32_mean_rows: (_count: number, n: number, _x: number, _stride: number, y: number) => {
      for (let j = 0; j < n; j++) writes.push(`y${(y >> 2) + j}`);
    },
  } as unknown as KernelExports;
  return { writes, kernels };
}

function coverage(phase: Phase): string[] {
  const { writes, kernels } = recorder();
  for (let i = 0; i < itemCount(phase); i++) runItem(kernels, phase, i, 0);
  return writes;
}

describe('work split', () => {
  it('GEMM tiles cover every output element exactly once (edges included)', () => {
    for (const [m, n] of [[1, 1], [63, 129], [64, 128], [65, 257], [512, 2304], [3, 5]]) {
      const w = coverage(gemmPackedPhase(m, n, 7, 4096, 8192, 0, 0, n + 3));
      expect(w.length).toBe(m * n);
      expect(new Set(w).size).toBe(m * n);
    }
  });

  it('GEMM row blocks keep the A strips of an item within the L2 budget, and shrink with k', () => {
    expect(gemmRowBlock(768)).toBe(128);
    expect(gemmRowBlock(3072)).toBe(32);
    for (const k of [1, 7, 64, 768, 769, 1024, 3072, 4096, 6144, 100000]) {
      const rows = gemmRowBlock(k);
      expect(rows % GEMM_MIN_ROW_BLOCK).toBe(0);
      expect(rows).toBeGreaterThanOrEqual(GEMM_MIN_ROW_BLOCK);
      expect(rows).toBeLessThanOrEqual(GEMM_MAX_ROW_BLOCK);
      if (rows > GEMM_MIN_ROW_BLOCK) expect(rows * k * 4).toBeLessThanOrEqual(GEMM_A_BLOCK_BYTES);
      expect(gemmPackedPhase(300, 9, k, 4096, 8192, 0, 0, 9).rowBlock).toBe(rows);
    }
    const w = coverage(gemmPackedPhase(129, 130, 3072, 4096, 8192, 0, 0, 131));
    expect(w.length).toBe(129 * 130);
    expect(new Set(w).size).toBe(129 * 130);
  });

  it('GEMV items cover every output element exactly once, split over columns only', () => {
    for (const [m, n] of [[1, 1], [1, 63], [2, 64], [2, 65], [1, 50257], [4, 129]]) {
      const phase = gemvPackedPhase(m, n, 7, 4096, 7, 8192, 0, 65536, n + 3);
      const w = coverage(phase);
      expect(w.length).toBe(m * n);
      expect(new Set(w).size).toBe(m * n);
      expect(itemCount(phase)).toBe(Math.ceil(n / phase.colBlock));
      expect(phase.colBlock % 8).toBe(0);
    }
  });

  it('projectionPhases: the GEMV up to GEMV_MAX_ROWS rows, then A packed and the GEMM', () => {
    const kinds = (m: number): number[] => projectionPhases(m, 40, 9, 4096, 9, 8192, 16384, 0, 32768, 40).map((p) => p.kind);
    for (let m = 1; m <= GEMV_MAX_ROWS; m++) expect(kinds(m)).toEqual([PHASE_GEMV_PACKED]);
    expect(kinds(GEMV_MAX_ROWS + 1)).toEqual([PHASE_PACK_ROWS, PHASE_GEMM_PACKED]);
    expect(kinds(300)).toEqual([PHASE_PACK_ROWS, PHASE_GEMM_PACKED]);
  });

  it('int8 GEMV items cover every output element exactly once, split over columns only, each at its own panel', () => {
    for (const [m, n, k] of [[1, 1, 1], [1, 127, 7], [2, 128, 768], [3, 129, 13], [1, 50257, 768], [4, 3072, 768]]) {
      const phase = i8GemvPhase(m, n, k, 4096, 8192, 0, 65536, n + 3);
      const w = coverage(phase);
      expect(w.length).toBe(m * n);
      expect(new Set(w).size).toBe(m * n);
      for (const x of w) {
        const [c, col] = x.slice(1).split('@').map(Number);
        expect(((c - 65536 / 4) % (n + 3)), x).toBe(col); // column of C = column of B
      }
      expect(itemCount(phase)).toBe(Math.ceil(n / phase.colBlock));
      expect(phase.colBlock % 8).toBe(0);
    }
  });

  it('i8ProjectionPhases: quantize, then the int8 GEMV up to I8_GEMV_MAX_ROWS rows, else the int8 GEMM', () => {
    const kinds = (m: number): number[] => i8ProjectionPhases(m, 40, 9, 4096, 9, 8192, 16384, 0, 32768, 40).map((p) => p.kind);
    for (let m = 1; m <= I8_GEMV_MAX_ROWS; m++) expect(kinds(m)).toEqual([PHASE_I8_QUANTIZE_ROWS, PHASE_I8_GEMV]);
    expect(kinds(I8_GEMV_MAX_ROWS + 1)).toEqual([PHASE_I8_QUANTIZE_ROWS, PHASE_I8_GEMM]);
    expect(kinds(300)).toEqual([PHASE_I8_QUANTIZE_ROWS, PHASE_I8_GEMM]);
  });

  it('pack items cover every strip of rows exactly once', () => {
    for (const m of [1, 4, 5, 63, 64, 65, 512, 1027]) {
      const w = coverage(packRowsPhase(m, 7, 4096, 7, 8192));
      expect(w.length).toBe(Math.ceil(m / 4));
      expect(new Set(w).size).toBe(w.length);
    }
  });

  it('attention items cover every (batch, head, query row) once, in blocks of whole query tiles', () => {
    for (const [batch, heads, seqQ] of [[1, 1, 1], [2, 3, 33], [2, 3, 65], [1, 12, 512], [3, 2, QUERY_BLOCK + 1]]) {
      const dv = 2, o = { ptr: 4096, batch: heads * seqQ * dv, head: seqQ * dv, row: dv };
      const phase = attentionPhase({
        batch, heads, seqQ, seqK: 9, headDim: 4, headDimV: dv, scale: 1, causal: false,
        q: o, k: o, v: o, o,
      }, 0);
      expect(phase.kind).toBe(PHASE_ATTENTION);
      expect(phase.qBlock % 4).toBe(0);
      const w = coverage(phase);
      expect(w.length).toBe(batch * heads * seqQ * dv);
      expect(new Set(w).size).toBe(w.length);
    }
  });

  it('keys are split only for few query items over many keys, and never when weights are wanted', () => {
    const problem = (batch: number, heads: number, seqQ: number, seqK: number) => ({ batch, heads, seqQ, seqK, headDimV: 64 });
    expect(keyParts(problem(1, 1, 1, 1024), false)).toBe(1024 / KEY_CHUNK);
    expect(keyParts(problem(1, 12, 1, 1031), false)).toBe(Math.ceil(1031 / KEY_CHUNK));
    expect(keyParts(problem(1, 1, 1, 1024), true)).toBe(1);
    expect(keyParts(problem(1, 12, 512, 512), false)).toBe(1);
    // The boundary, in items of QUERY_BLOCK rows: 15 items split, 16 do not.
    expect(keyParts(problem(1, 15, 1, 1024), false)).toBe(1024 / KEY_CHUNK);
    expect(keyParts(problem(1, 16, 1, 1024), false)).toBe(1);
    expect(keyParts(problem(1, 8, QUERY_BLOCK, 1024), false)).toBe(1024 / KEY_CHUNK);
    expect(keyParts(problem(1, 8, QUERY_BLOCK + 1, 1024), false)).toBe(1);
    expect(keyParts(problem(1, 1, 1, 100), false)).toBe(1);
  });

  it('one query row over heads side by side in the K/V rows takes the all-heads decode kernel', () => {
    // GPT-2's decode step: [keys, heads·d] cache rows, one query row per sequence.
    const decode = (heads: number, seqK: number, extra: Partial<SliceProblem> = {}): SliceProblem => {
      const E = heads * 8, rows = { ptr: 4096, batch: seqK * E, head: 8, row: E };
      return {
        batch: 2, heads, seqQ: 1, seqK, headDim: 8, headDimV: 8, scale: 1, causal: false,
        q: { ...rows, batch: E }, k: rows, v: rows, o: { ...rows, ptr: 1 << 20, batch: E }, ...extra,
      };
    };
    expect(takesDecodePath(decode(12, 513))).toBe(true);
    expect(takesDecodePath(decode(12, 513, { addMask: { ptr: 64, batch: 513, head: 0, row: 0 } }))).toBe(true);
    expect(takesDecodePath(decode(12, 513, { keyMask: { ptr: 64, batch: 513, invert: true } }))).toBe(true);
    // Not: masks that differ per head or per query, a key bound, causal, weights, one head,
    // heads as separate blocks ([batch, heads, seq, d]), more heads than one scratch slot holds.
    expect(takesDecodePath(decode(12, 513, { addMask: { ptr: 64, batch: 12 * 513, head: 513, row: 0 } }))).toBe(false);
    expect(takesDecodePath(decode(12, 513, { boolMask: { ptr: 64, batch: 0, head: 0, row: 513, invert: false } }))).toBe(false);
    expect(takesDecodePath(decode(12, 513, { validLens: { ptr: 64, batch: 1, row: 0 } }))).toBe(false);
    expect(takesDecodePath(decode(12, 513, { causal: true }))).toBe(false);
    expect(takesDecodePath(decode(12, 513, { weights: { ptr: 64, batch: 12 * 513, head: 513, row: 513 } }))).toBe(false);
    expect(takesDecodePath(decode(1, 513))).toBe(false);
    const blocks = { ptr: 4096, batch: 12 * 513 * 8, head: 513 * 8, row: 8 };
    expect(takesDecodePath(decode(12, 513, { k: blocks, v: blocks }))).toBe(false);
    const most = Math.floor(ATTENTION_SCRATCH_BYTES / decodeScratchBytes(1, 8));
    expect(takesDecodePath(decode(most, 513))).toBe(true);
    expect(takesDecodePath(decode(most + 1, 513))).toBe(false);
    expect(takesDecodePath({ ...decode(12, 513), seqQ: 2 })).toBe(false);

    // Its items: one per (sequence, key part), every head; parts of DECODE_KEY_CHUNK keys.
    expect(decodeParts(decode(12, 513), false)).toBe(Math.ceil(513 / DECODE_KEY_CHUNK));
    expect(decodeParts(decode(12, DECODE_KEY_CHUNK), false)).toBe(1);
    for (const seqK of [1, DECODE_KEY_CHUNK, DECODE_KEY_CHUNK + 1, 513]) {
      const parts = decodeParts(decode(12, seqK), false);
      const split = parts > 1 ? { parts, partPtr: 1 << 22, statsPtr: 1 << 23 } : undefined;
      const program = attentionPhases(decode(12, seqK), 0, { decodeSplit: split, allKeys: 0 });
      expect(program.map((p) => p.kind)).toEqual(split ? [PHASE_ATTENTION_DECODE, PHASE_ATTENTION_COMBINE] : [PHASE_ATTENTION_DECODE]);
      expect(itemCount(program[0])).toBe(2 * parts);
      const w = coverage(program[0]);
      // Every (sequence, head, column) once per part, and each part's key range once per sequence.
      const keys = w.filter((x) => x.startsWith('keys'));
      expect(keys.length).toBe(2 * parts);
      expect(new Set(keys).size).toBe(parts);
      const outs = w.filter((x) => !x.startsWith('keys') && !x.startsWith('m'));
      expect(outs.length).toBe(2 * parts * 12 * 8);
      expect(new Set(outs).size).toBe(outs.length);
    }
    // Buffers without the decode split (placed for another shape) fall back to the per-head kernel.
    expect(attentionPhases(decode(12, 300), 0, { allKeys: 0 }).map((p) => p.kind)).toEqual([PHASE_ATTENTION]);
  });

  it('mean items cover every averaged element once', () => {
    const w = coverage(meanRowsPhase(3, 12, 5000, 0, 12 * 5000, 5000, 1 << 20, 5000));
    expect(w.length).toBe(3 * 5000);
    expect(new Set(w).size).toBe(w.length);
  });

  it('a program survives the trip through the shared-memory encoding', () => {
    const program: Phase[] = [
      packRowsPhase(5, 7, 64, 7, 1024),
      gemmPackedPhase(5, 6, 7, 1024, 128, 256, 512, 6),
      meanRowsPhase(2, 3, 4, 16, 12, 4, 32, 4),
      i8GemvPhase(2, 50257, 768, 1024, 2048, 4096, 8192, 50257, { activation: 3, residual: 8192, ldr: 50257 }),
      i8GemmPhase(5, 6, 7, 1024, 128, 256, 512, 6),
    ];
    const region = new Float64Array(MAX_PHASES * PHASE_SLOTS);
    encodeProgram(region, program);
    program.forEach((phase, i) => expect(decodePhase(region, i)).toEqual(phase));
  });
});
