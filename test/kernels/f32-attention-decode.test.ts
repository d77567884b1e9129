// f32_attention_decode at the kernel boundary: one query row against keys k0..k1 for every head
// at once, heads side by side in each K/V row. Random seeded shapes (heads, head dims that are
// and are not multiples of 4 and 16, row padding, key ranges), masks shared by the heads (a
// float mask with -inf, key flags both ways, every key masked), both output modes (normalised,
// and a part's unnormalised O with (m, l)). Each case must match the float64 reference and,
// with headDim % 4 == 0, give the same bits as f32_attention's one-row path over the same keys.
import { describe, expect, it } from 'vitest';
import { kernelVariants, loadKernels } from '../helpers/kernels.js';
import { randomF32, rng } from '../helpers/random.js';
import { referenceAttention } from '../reference/attention.js';
import { expectClose } from '../helpers/compare.js';
import { ATTENTION_SCRATCH_BYTES } from '../../src/wasm/layout.js';

const SEED = 20261204;
const CASES = 120;

describe.each(kernelVariants())('f32-attention-decode (%s)', (variant) => {
  const h = loadKernels(variant);

  it(`random heads, dims, strides, key ranges and masks (seed ${SEED}): the reference, and the per-head kernel's bits`, () => {
    const next = rng(SEED);
    const int = (lo: number, hi: number): number => lo + Math.floor(next() * (hi - lo + 1));
    for (let c = 0; c < CASES; c++) {
      const heads = int(2, 9), d = c % 3 === 0 ? 4 * int(1, 20) : int(1, 70), dv = c % 4 === 0 ? 16 * int(1, 4) : int(1, 70);
      const seqK = int(1, 300), k0 = int(0, seqK - 1), k1 = int(k0 + 1, seqK);
      const kHead = d + int(0, 2), ldk = heads * kHead + int(0, 3), vHead = dv + int(0, 2), ldv = heads * vHead + int(0, 3);
      const qHead = d + int(0, 3), oHead = dv + int(0, 3);
      const mask = (['none', 'float', 'key', 'keyInvert', 'allMasked'] as const)[int(0, 4)];
      const stats = next() < 0.5;
      const scale = 0.2 + next();
      const what = `case ${c} (seed ${SEED}): heads ${heads}, d ${d}, dv ${dv}, keys ${k0}..${k1} of ${seqK}, mask ${mask}, ${stats ? 'stats' : 'normalised'}`;

      h.reset();
      const q = randomF32(heads * qHead, 100 + c), k = randomF32(seqK * ldk, 200 + c), v = randomF32(seqK * ldv, 300 + c);
      const add = Float32Array.from(randomF32(seqK, 400 + c, 2), (x, j) => (mask === 'allMasked' || (mask === 'float' && j % 5 === 2) ? -Infinity : x));
      const flags = Uint8Array.from({ length: seqK }, (_, j) => (j % 3 === 1 ? 1 : 0));
      const useAdd = mask === 'float' || mask === 'allMasked', useKey = mask === 'key' || mask === 'keyInvert';
      const invert = mask === 'key' ? 1 : 0; // 'key': a set flag masks; 'keyInvert': a set flag attends
      const pq = h.f32(q), pk = h.f32(k), pv = h.f32(v), padd = h.f32(add), pflags = h.u8(flags);
      const o0 = randomF32(heads * oHead, 500 + c);
      const po = h.f32(o0), pst = h.f32(heads * 2 + 1), scratch = h.f32(ATTENTION_SCRATCH_BYTES / 4);
      h.wasm.f32_attention_decode(heads, pq, qHead, pk, ldk, kHead, pv, ldv, vHead, po, oHead, d, dv, k0, k1, scale,
        useAdd ? padd : 0, useKey ? pflags : 0, invert, scratch, stats ? pst : 0, 2);
      const o = h.read(po, heads * oHead), st = h.read(pst, heads * 2 + 1);

      for (let hh = 0; hh < heads; hh++) {
        // Only head hh's first dv values of its output row are written.
        for (let x = dv; x < oHead; x++) expect(o[hh * oHead + x], `${what}: head ${hh} column ${x} written`).toBe(o0[hh * oHead + x]);
        const keys = k1 - k0;
        const gather = (x: Float32Array, ld: number, hs: number, n: number) => {
          const out = new Float32Array(keys * n);
          for (let j = 0; j < keys; j++) for (let e = 0; e < n; e++) out[j * n + e] = x[(k0 + j) * ld + hh * hs + e];
          return out;
        };
        const ref = referenceAttention(q.subarray(hh * qHead, hh * qHead + d), gather(k, ldk, kHead, d), gather(v, ldv, vHead, dv), {
          batch: 1, heads: 1, seqQ: 1, seqK: keys, headDim: d, headDimV: dv, scale,
          attend: useKey ? (b, x, i, j) => (flags[k0 + j] !== 0) !== (invert === 1) : undefined,
          bias: useAdd ? (b, x, i, j) => add[k0 + j] : undefined,
        });
        const row = o.subarray(hh * oHead, hh * oHead + dv);
        if (stats) {
          // Unnormalised: O / l is the attention; every key masked leaves (LOWEST, 0) and zeros.
          const l = st[hh * 2 + 1];
          if (l === 0) expect(Array.from(row).every((x) => x === 0), `${what}: head ${hh} masked part`).toBe(true);
          else expectClose(row.map((x) => x / l), ref.output, 2e-6, 1e-5, `${what}: head ${hh}`);
        } else {
          expectClose(row, ref.output, 2e-6, 1e-5, `${what}: head ${hh}`);
        }
        if (d % 4 !== 0) continue;
        // The per-head one-row kernel over the same keys: the same bits (output, m and l).
        const po1 = h.f32(dv), pst1 = h.f32(2);
        h.wasm.f32_attention(pq + hh * qHead * 4, d, pk + hh * kHead * 4, ldk, pv + hh * vHead * 4, ldv, po1, dv, d, dv,
          0, 1, k0, k1, scale, 0, useAdd ? padd : 0, 0, 0, 0, 0, useKey ? pflags : 0, invert, 0, 0, 0, 0, scratch, stats ? pst1 : 0, 0);
        expect(h.read(po1, dv), `${what}: head ${hh} against f32_attention`).toEqual(row);
        if (stats) expect(h.read(pst1, 2), `${what}: head ${hh} (m, l) against f32_attention`).toEqual(st.subarray(hh * 2, hh * 2 + 2));
      }
      expect(st[heads * 2], `${what}: stats past the last head written`).toBe(0);
      expect(h.read(pq, q.length)).toEqual(q);
    }
  });

  // The kernel reads a byte of every page of the part's K and V rows before the products
  // (common/memory.ts touchPages): with V's last value, then K's, flush against the end of the
  // memory, any byte past the rows would trap. Same bits as the same call on K and V placed
  // with room after them.
  it('K and V ending at the last byte of the memory: no read past them, the same bits', () => {
    const next = rng(SEED + 1);
    const int = (lo: number, hi: number): number => lo + Math.floor(next() * (hi - lo + 1));
    for (let c = 0; c < 24; c++) {
      const g = loadKernels(variant);
      const heads = int(1, 12), d = int(1, 80), dv = int(1, 80);
      const kHead = d + int(0, 3), ldk = heads * kHead + int(0, 9), vHead = dv + int(0, 3), ldv = heads * vHead + int(0, 9);
      const seqK = int(1, 700), k0 = int(0, seqK - 1), k1 = int(k0 + 1, seqK);
      const what = `case ${c} (seed ${SEED + 1}): heads ${heads}, d ${d}, dv ${dv}, ldk ${ldk}, ldv ${ldv}, keys ${k0}..${k1}`;
      const q = randomF32(heads * d, 600 + c), k = randomF32(seqK * ldk, 700 + c), v = randomF32(seqK * ldv, 800 + c);
      const pq = g.f32(q), scratch = g.f32(ATTENTION_SCRATCH_BYTES / 4);
      const run = (pk: number, pv: number): Float32Array => {
        const po = g.f32(heads * dv);
        g.wasm.f32_attention_decode(heads, pq, d, pk, ldk, kHead, pv, ldv, vHead, po, dv, d, dv, k0, k1, 0.125, 0, 0, 0, scratch, 0, 2);
        return g.read(po, heads * dv);
      };
      const roomy = run(g.f32(k), g.f32(v));
      // Elements of K (V) up to the last one the call reads: row k1 - 1, head heads - 1, column d - 1 (dv - 1).
      const kUsed = (k1 - 1) * ldk + (heads - 1) * kHead + d, vUsed = (k1 - 1) * ldv + (heads - 1) * vHead + dv;
      g.memory.grow(Math.ceil((kUsed + vUsed) * 4 / 65536) + 1);
      const end = g.memory.buffer.byteLength, pv = end - vUsed * 4, pk = pv - kUsed * 4;
      new Float32Array(g.memory.buffer, pk, kUsed).set(k.subarray(0, kUsed));
      new Float32Array(g.memory.buffer, pv, vUsed).set(v.subarray(0, vUsed));
      expect(run(pk, pv), what).toEqual(roomy);
    }
  });
});
