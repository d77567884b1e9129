// f32_attention at the kernel boundary: query-row and key ranges of one slice, strided views
// (a head of a [seq, embed] row), and the scratch contract.
import { describe, expect, it } from 'vitest';
import { kernelVariants, loadKernels } from '../helpers/kernels.js';
import { randomF32 } from '../helpers/random.js';
import { referenceAttention } from '../reference/attention.js';
import { expectClose } from '../helpers/compare.js';
import { ATTENTION_ROW_KEY_BLOCK, ATTENTION_SCRATCH_BYTES } from '../../src/wasm/layout.js';

describe.each(kernelVariants())('f32-attention (%s)', (variant) => {
  const h = loadKernels(variant);

  it('rows q0..q1 and keys k0..k1 of a strided head view equal attention over that range', () => {
    // seqQ spans several query chunks (ATTENTION_QUERY_CHUNK rows), so ranges cross chunk edges
    // and end in partial chunks, packed (>= 8 rows) and not.
    const seqQ = 150, seqK = 150, embed = 40, d = 8, head = 3; // head 3 of 5: columns 24..32
    for (const [q0, q1, k0, k1] of [[0, 150, 0, 150], [5, 6, 0, 150], [3, 18, 64, 150], [8, 12, 7, 70], [22, 23, 149, 150],
      [3, 140, 64, 150], [60, 131, 0, 150], [0, 69, 7, 70], [149, 150, 0, 1]]) {
      h.reset();
      const q = randomF32(seqQ * embed, 1), k = randomF32(seqK * embed, 2), v = randomF32(seqK * embed, 3);
      const pq = h.f32(q), pk = h.f32(k), pv = h.f32(v);
      const o0 = randomF32(seqQ * embed, 4);
      const po = h.f32(o0), pw = h.f32(seqQ * seqK), scratch = h.f32(ATTENTION_SCRATCH_BYTES / 4);
      const col = head * d * 4;
      h.wasm.f32_attention(pq + col, embed, pk + col, embed, pv + col, embed, po + col, embed, d, d,
        q0, q1, k0, k1, 0.3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, pw, seqK, scratch, 0, 0);
      // reference over the same rows and keys, gathered into [rows, d]
      const rows = q1 - q0, keys = k1 - k0;
      const gather = (x: Float32Array, r0: number, n: number) => {
        const out = new Float32Array(n * d);
        for (let r = 0; r < n; r++) for (let c = 0; c < d; c++) out[r * d + c] = x[(r0 + r) * embed + head * d + c];
        return out;
      };
      const ref = referenceAttention(gather(q, q0, rows), gather(k, k0, keys), gather(v, k0, keys),
        { batch: 1, heads: 1, seqQ: rows, seqK: keys, headDim: d, headDimV: d, scale: 0.3 });
      const o = h.read(po, seqQ * embed), w = h.read(pw, seqQ * seqK);
      const gotO = new Float32Array(rows * d), gotW = new Float32Array(rows * keys);
      for (let r = 0; r < rows; r++) {
        for (let c = 0; c < d; c++) gotO[r * d + c] = o[(q0 + r) * embed + head * d + c];
        for (let j = 0; j < keys; j++) gotW[r * keys + j] = w[(q0 + r) * seqK + k0 + j];
      }
      expectClose(gotO, ref.output, 2e-6, 1e-5, `output ${q0}..${q1} × ${k0}..${k1}`);
      expectClose(gotW, ref.weights, 2e-6, 1e-5, `weights ${q0}..${q1} × ${k0}..${k1}`);
      // nothing outside the rows and the head's columns was written
      for (let i = 0; i < seqQ * embed; i++) {
        const r = Math.floor(i / embed), c = i % embed;
        if (r >= q0 && r < q1 && c >= head * d && c < (head + 1) * d) continue;
        if (o[i] !== o0[i]) throw new Error(`output element ${i} (row ${r}, column ${c}) was written`);
      }
      expect(h.read(pq, q.length)).toEqual(q);
    }
  });

  it('the running max moves when a block passes it by more than 1, judged on the difference (f32 spacing 2 at 2^24)', () => {
    // Keys 0..1023 at m0 = 2^24 + 2, the rest at m0 + 2: m0 + 1 rounds to m0 + 2 in f32 (a tie
    // to even), so comparing against m + 1 kept m at m0 and weights reached e^2. The difference
    // is exact there. Rows 1 (1024-key steps) and 4 (the tile's 64-key blocks); stats out.
    const seqK = 2048, m0 = 2 ** 24 + 2;
    for (const rows of [1, 4]) {
      h.reset();
      const pq = h.f32(new Float32Array(rows).fill(1));
      const pk = h.f32(Float32Array.from({ length: seqK }, (_, j) => (j < 1024 ? m0 : m0 + 2)));
      const pv = h.f32(new Float32Array(seqK).fill(1)), po = h.f32(rows), pst = h.f32(2 * rows);
      const scratch = h.f32(ATTENTION_SCRATCH_BYTES / 4);
      h.wasm.f32_attention(pq, 1, pk, 1, pv, 1, po, 1, 1, 1, 0, rows, 0, seqK, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, scratch, pst, 0);
      const st = h.read(pst, 2 * rows);
      for (let r = 0; r < rows; r++) {
        expect(st[2 * r], `rows ${rows}, row ${r}: m`).toBe(m0 + 2);
        expect(st[2 * r + 1], `rows ${rows}, row ${r}: l`).toBeCloseTo(1024 + 1024 * Math.exp(-2), 1);
      }
    }
  });

  it('one query row over several ATTENTION_ROW_KEY_BLOCK steps: masks, key ranges, weights, stats', () => {
    // A chunk of one row steps ATTENTION_ROW_KEY_BLOCK keys at a time (its S row in the scratch
    // it never packs): key counts past one and two steps, not multiples of 4, a float mask with
    // -inf, a bool mask, a key mask, every key of the first step masked, weights out.
    const d = 8, embed = 24, col = 8 * 4;
    for (const [seqK, k0, masks] of [[2103, 0, 'float'], [1029, 5, 'bool'], [3001, 0, 'firstStep'], [1100, 70, 'key']] as const) {
      h.reset();
      const rows = 3, i0 = 2; // query row i0 of 3: a one-row range inside a slice
      const q = randomF32(rows * embed, 11), k = randomF32(seqK * embed, 12), v = randomF32(seqK * embed, 13);
      const add = Float32Array.from(randomF32(rows * seqK, 14, 2), (x, i) => (masks === 'firstStep' && i % seqK < ATTENTION_ROW_KEY_BLOCK) ||
        (masks === 'float' && i % 7 === 3) ? -Infinity : x);
      const bool = Uint8Array.from({ length: rows * seqK }, (_, i) => (i % 5 === 1 ? 1 : 0));
      const keyFlags = Uint8Array.from({ length: seqK }, (_, j) => (j % 9 === 4 ? 1 : 0));
      const useAdd = masks === 'float' || masks === 'firstStep', useBool = masks === 'bool', useKey = masks === 'key';
      const pq = h.f32(q), pk = h.f32(k), pv = h.f32(v), po = h.f32(rows * embed), pw = h.f32(rows * seqK);
      const padd = h.f32(add), pbool = h.u8(bool), pkey = h.u8(keyFlags), scratch = h.f32(ATTENTION_SCRATCH_BYTES / 4);
      h.wasm.f32_attention(pq + col, embed, pk + col, embed, pv + col, embed, po + col, embed, d, d,
        i0, i0 + 1, k0, seqK, 0.4, 0, useAdd ? padd : 0, seqK, useBool ? pbool : 0, seqK, 1, useKey ? pkey : 0, 1, 0, 0,
        pw, seqK, scratch, 0, 0);
      const keys = seqK - k0;
      const gather = (x: Float32Array, r0: number, n: number) => {
        const out = new Float32Array(n * d);
        for (let r = 0; r < n; r++) for (let c = 0; c < d; c++) out[r * d + c] = x[(r0 + r) * embed + 8 + c];
        return out;
      };
      const ref = referenceAttention(gather(q, i0, 1), gather(k, k0, keys), gather(v, k0, keys), {
        batch: 1, heads: 1, seqQ: 1, seqK: keys, headDim: d, headDimV: d, scale: 0.4,
        attend: (b, hh, i, j) => !(useBool && bool[i0 * seqK + k0 + j]) && !(useKey && keyFlags[k0 + j]),
        bias: useAdd ? (b, hh, i, j) => add[i0 * seqK + k0 + j] : undefined,
      });
      const o = h.read(po, rows * embed), w = h.read(pw, rows * seqK);
      const what = `${masks}, ${keys} keys from ${k0}`;
      expectClose(o.subarray(i0 * embed + 8, i0 * embed + 8 + d), ref.output, 2e-6, 1e-5, `output, ${what}`);
      expectClose(w.subarray(i0 * seqK + k0, (i0 + 1) * seqK), ref.weights, 2e-6, 1e-5, `weights, ${what}`);
    }
  });
});
