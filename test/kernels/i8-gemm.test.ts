// The int8 GEMM family (i8_pack_panels_nt, i8_pack_panels_nn, i8_quantize_rows, i8_gemm_packed) against the
// plain-JS reference (test/reference/i8-gemm.ts): the codes, scales and sums bit for bit, the
// product bit for bit (exact i32 sum, then the same f32 rescale), on sizes across every tile
// edge (strips of 4 rows, panels of 8 columns, k steps of 2 and 4), sub-tiles addressed as a
// phase item does, every epilogue, and seeded random shapes.
import { describe, expect, it } from 'vitest';
import { kernelVariants, loadKernels } from '../helpers/kernels.js';
import { randomF32, rng } from '../helpers/random.js';
import { expectClose, expectSameBits } from '../helpers/compare.js';
import { gelu, geluTanh, relu } from '../reference/activation.js';
import {
  dequantizeRows, dequantizeWeight, i8Gemm, quantizeRows, quantizeWeight, type QuantizedRows, type QuantizedWeight,
} from '../reference/i8-gemm.js';
import {
  ACTIVATION, i8GemmPhase, i8PanelBytes, i8StripBytes, i8WideScratchBytes as wideScratchBytes, scratchSlots,
} from '../../src/parallel/phases.js';
import { I8_GEMM_A_MAX } from '../../src/wasm/layout.js';

const EDGES = [1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 33];
const K_EDGES = [1, 2, 3, 4, 5, 6, 7, 8, 9, 13, 15, 16, 17, 31, 32, 33, 64, 67];

describe.each(kernelVariants())('i8-gemm (%s)', (variant) => {
  const h = loadKernels(variant);
  const aMax = I8_GEMM_A_MAX;
  const kPad = (k: number): number => Math.ceil(k / 4) * 4;
  // Code offsets of the layouts (assembly/i8-gemm/i8-gemm.ts).
  const stripCode = (r: number, kk: number): number => (kk >> 1) * 16 + r * 4 + (kk & 1) * 2;
  const panelCode = (c: number, kk: number): number => (kk >> 1) * 16 + c * 2 + (kk & 1);

  function bytes(ptr: number, length: number): DataView {
    return new DataView(h.memory.buffer.slice(ptr, ptr + length) as ArrayBuffer);
  }

  /** Packs W[n, k] in two panel ranges (as two phase items would). */
  function pack(w: Float32Array, n: number, k: number, ldw = k): number {
    const panels = Math.ceil(n / 8), mid = panels >> 1;
    const pw = h.f32(w);
    const bp = h.u8(new Uint8Array(panels * i8PanelBytes(k)).fill(0xab)); // every byte must be written
    h.wasm.i8_pack_panels_nt(n, k, pw, ldw, bp, 0, mid);
    h.wasm.i8_pack_panels_nt(n, k, pw, ldw, bp, mid, panels);
    return bp;
  }

  function quantize(a: Float32Array, m: number, k: number, lda = k): number {
    const strips = Math.ceil(m / 4), mid = strips >> 1;
    const pa = h.f32(a);
    const ap = h.u8(new Uint8Array(strips * i8StripBytes(k)).fill(0xab));
    h.wasm.i8_quantize_rows(m, k, pa, lda, ap, 0, mid);
    h.wasm.i8_quantize_rows(m, k, pa, lda, ap, mid, strips);
    return ap;
  }

  /** The packed panels read back as [n, k] codes, scales and sums; padding checked to be 0. */
  function unpackPanels(bp: number, n: number, k: number): QuantizedWeight {
    const panels = Math.ceil(n / 8), size = i8PanelBytes(k);
    const v = bytes(bp, panels * size);
    const out: QuantizedWeight = { n, k, codes: new Int8Array(n * k), scale: new Float32Array(n), colsum: new Int32Array(n) };
    for (let p = 0; p < panels; p++) {
      for (let c = 0; c < 8; c++) {
        const j = p * 8 + c, base = p * size;
        const scale = v.getFloat32(base + c * 4, true), sum = v.getInt32(base + 32 + c * 4, true);
        for (let kk = 0; kk < kPad(k); kk++) {
          const q = v.getInt8(base + 64 + panelCode(c, kk));
          if (j < n && kk < k) out.codes[j * k + kk] = q;
          else expect(q, `panel padding (column ${j}, k ${kk})`).toBe(0);
        }
        if (j < n) {
          out.scale[j] = scale;
          out.colsum[j] = sum;
        } else {
          expect([scale, sum], `padding column ${j}`).toEqual([0, 0]);
        }
      }
    }
    return out;
  }

  function unpackStrips(ap: number, m: number, k: number): QuantizedRows {
    const strips = Math.ceil(m / 4), size = i8StripBytes(k);
    const v = bytes(ap, strips * size);
    const out: QuantizedRows = { m, k, codes: new Uint8Array(m * k), scale: new Float32Array(m), zero: new Int32Array(m) };
    for (let s = 0; s < strips; s++) {
      for (let r = 0; r < 4; r++) {
        const i = s * 4 + r, base = s * size;
        const scale = v.getFloat32(base + r * 4, true), zero = v.getInt32(base + 16 + r * 4, true);
        for (let kk = 0; kk < kPad(k); kk++) {
          const q = v.getUint16(base + 32 + stripCode(r, kk), true);
          if (i < m && kk < k) out.codes[i * k + kk] = q;
          else expect(q, `strip padding (row ${i}, k ${kk})`).toBe(0);
        }
        if (i < m) {
          out.scale[i] = scale;
          out.zero[i] = zero;
        } else {
          expect([scale, zero], `padding row ${i}`).toEqual([0, 0]);
        }
      }
    }
    return out;
  }

  function expectQuantizedWeight(got: QuantizedWeight, want: QuantizedWeight, what: string): void {
    expect(got.codes, `${what}: codes`).toEqual(want.codes);
    expectSameBits(got.scale, want.scale, `${what}: scales`);
    expect(got.colsum, `${what}: column sums`).toEqual(want.colsum);
  }

  function expectQuantizedRows(got: QuantizedRows, want: QuantizedRows, what: string): void {
    expect(got.codes, `${what}: codes`).toEqual(want.codes);
    expectSameBits(got.scale, want.scale, `${what}: scales`);
    expect(got.zero, `${what}: zero points`).toEqual(want.zero);
  }

  it('weights: codes, scales and sums equal the reference for every n, k tail (strided W)', () => {
    for (const n of EDGES) {
      for (const k of [1, 3, 4, 6, 13, 33]) {
        h.reset();
        const ldw = k + 3;
        const w = randomF32(n * ldw, n * 100 + k, 0.5);
        if (n > 2) w.fill(0, 2 * ldw, 2 * ldw + k); // an all-zero output channel: scale 0, codes 0
        const got = unpackPanels(pack(w, n, k, ldw), n, k);
        expectQuantizedWeight(got, quantizeWeight(w, n, k, ldw), `W ${n}x${k}`);
      }
    }
  });

  it('weights [in, out] (Conv1D, i8_pack_panels_nn): every byte of the panels of the transpose, every n, k tail', () => {
    for (const n of EDGES) {
      for (const k of [1, 2, 3, 4, 5, 6, 13, 33, 67]) {
        h.reset();
        const ldb = n + 5; // B[k, n] strided; W = Bᵀ [n, k] dense
        const b = randomF32(k * ldb, n * 1000 + k + 7, 0.5);
        if (n > 2) for (let kk = 0; kk < k; kk++) b[kk * ldb + 2] = 0; // an all-zero output channel
        const w = new Float32Array(n * k);
        for (let j = 0; j < n; j++) for (let kk = 0; kk < k; kk++) w[j * k + kk] = b[kk * ldb + j];
        const panels = Math.ceil(n / 8), mid = panels >> 1, size = panels * i8PanelBytes(k);
        const nt = pack(w, n, k);
        const pb = h.f32(b);
        const nn = h.u8(new Uint8Array(size).fill(0xcd)); // every byte must be written
        h.wasm.i8_pack_panels_nn(k, n, pb, ldb, nn, 0, mid); // in two panel ranges, as two phase items
        h.wasm.i8_pack_panels_nn(k, n, pb, ldb, nn, mid, panels);
        const got = new Uint8Array(h.memory.buffer, nn, size), want = new Uint8Array(h.memory.buffer, nt, size);
        expect(Buffer.from(got).equals(Buffer.from(want)), `B ${k}x${n} (ldb ${ldb})`).toBe(true);
        expectQuantizedWeight(unpackPanels(nn, n, k), quantizeWeight(w, n, k), `B ${k}x${n}`);
      }
    }
  });

  it('weights: round trip within half a step, the largest magnitude exact (±127)', () => {
    const n = 19, k = 77;
    const w = randomF32(n * k, 42, 3);
    const q = unpackPanels(pack(w, n, k), n, k);
    const back = dequantizeWeight(q);
    for (let j = 0; j < n; j++) {
      let amax = 0;
      for (let kk = 0; kk < k; kk++) {
        const x = w[j * k + kk];
        amax = Math.max(amax, Math.abs(x));
        expect(Math.abs(back[j * k + kk] - x), `W[${j}, ${kk}]`).toBeLessThanOrEqual(q.scale[j] * 0.5 * (1 + 1e-5));
      }
      expect(Math.max(...Array.from(q.codes.subarray(j * k, (j + 1) * k), Math.abs))).toBe(127);
      expect(q.scale[j]).toBe(Math.fround(amax / 127));
    }
  });

  it('activations: codes, scales and zero points equal the reference for every m, k tail', () => {
    for (const m of EDGES) {
      for (const k of K_EDGES) {
        h.reset();
        const lda = k + 2;
        const a = randomF32(m * lda, m * 1000 + k, 2);
        if (m > 3) a.fill(0, 3 * lda, 3 * lda + k); // an all-zero row
        if (m > 1) for (let kk = 0; kk < k; kk++) a[lda + kk] = Math.abs(a[lda + kk]) + 0.1; // a one-sided row: zero point 0
        if (m > 2) for (let kk = 0; kk < k; kk++) a[2 * lda + kk] = -Math.abs(a[2 * lda + kk]); // zero point aMax
        const got = unpackStrips(quantize(a, m, k, lda), m, k);
        const want = quantizeRows(a, m, k, aMax, lda);
        expectQuantizedRows(got, want, `A ${m}x${k}`);
        if (m > 1) expect(got.zero[1]).toBe(0);
        if (m > 2 && k > 0) expect(got.zero[2]).toBe(aMax);
      }
    }
  });

  it('activations: round trip within half a step; 0 is exact', () => {
    const m = 9, k = 131;
    const a = randomF32(m * k, 7, 4);
    for (let i = 0; i < m; i++) a[i * k + i] = 0;
    const q = unpackStrips(quantize(a, m, k), m, k);
    const back = dequantizeRows(q);
    for (let i = 0; i < m; i++) {
      expect(back[i * k + i], `row ${i}: 0`).toBe(0);
      for (let kk = 0; kk < k; kk++) {
        expect(Math.abs(back[i * k + kk] - a[i * k + kk]), `A[${i}, ${kk}]`).toBeLessThanOrEqual(q.scale[i] * 0.5 * (1 + 1e-5));
      }
    }
  });

  it('activations: a row with NaN or ±inf gets scale NaN, its neighbours are unaffected', () => {
    const m = 5, k = 9;
    const a = randomF32(m * k, 3);
    a[1 * k + 4] = Number.NaN;
    a[3 * k + 8] = Number.POSITIVE_INFINITY;
    const q = unpackStrips(quantize(a, m, k), m, k);
    expect(Array.from(q.scale, Number.isNaN)).toEqual([false, true, false, true, false]);
    const want = quantizeRows(a, m, k, aMax);
    for (const i of [0, 2, 4]) expect(q.codes.subarray(i * k, (i + 1) * k)).toEqual(want.codes.subarray(i * k, (i + 1) * k));
  });

  it('activations: NaN, +inf or -inf anywhere in a row (the 8-wide min/max pass or its tail) makes its scale NaN; -0 is +0', () => {
    for (const k of [8, 9, 16, 23, 37]) {
      for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
        for (let at = 0; at < k; at += at < 3 || at > k - 4 ? 1 : 5) {
          const m = 6;
          const a = randomF32(m * k, 7 * k + at, 3);
          a[2 * k + at] = bad;
          for (let kk = 0; kk < k; kk++) a[4 * k + kk] = kk % 3 === 0 ? -0 : 0; // a row of zeros, some negative
          a[5 * k + (at % k)] = -0; // a zero of either sign among values
          const q = unpackStrips(quantize(a, m, k), m, k);
          const where = `k ${k}, ${bad} at ${at}`;
          expect(Array.from(q.scale, Number.isNaN), where).toEqual([false, false, true, false, false, false]);
          const want = quantizeRows(a.map((x) => (Object.is(x, -0) ? 0 : x)), m, k, aMax);
          for (const i of [0, 1, 3, 4, 5]) {
            expect(q.codes.subarray(i * k, (i + 1) * k), `${where}: row ${i}`).toEqual(want.codes.subarray(i * k, (i + 1) * k));
            expect(q.scale[i], `${where}: scale ${i}`).toBe(want.scale[i]);
          }
        }
      }
    }
  });

  /** Quantizes and packs, runs the GEMM over C in two row blocks × two column blocks (the way
   * phase items address it), and compares with the reference bit for bit (tolerance only for
   * GELU, whose polynomial is the f32 kernels' own). */
  function check(m: number, n: number, k: number, opts: { bias?: boolean; residual?: boolean; activation?: number; seed?: number } = {}): void {
    h.reset();
    const seed = opts.seed ?? m * 10007 + n * 101 + k;
    const a = randomF32(m * k, seed, 2);
    const w = randomF32(n * k, seed + 1, 0.2);
    const bias = opts.bias ? randomF32(n, seed + 2) : undefined;
    const residual = opts.residual ? randomF32(m * n, seed + 3) : undefined;
    const activation = opts.activation ?? ACTIVATION.none;
    const ldc = n + 3;
    const c0 = randomF32(m * ldc, seed + 4);
    const bp = pack(w, n, k), ap = quantize(a, m, k);
    const pc = h.f32(c0), pbias = bias ? h.f32(bias) : 0;
    const ldr = n + 1;
    let pr = 0;
    if (residual) {
      const r = new Float32Array(m * ldr);
      for (let i = 0; i < m; i++) r.set(residual.subarray(i * n, (i + 1) * n), i * ldr);
      pr = h.f32(r);
    }
    const strips = Math.ceil(m / 4), panels = Math.ceil(n / 8);
    const rCut = Math.min(m, 4 * Math.max(1, strips >> 1)), cCut = Math.min(n, 8 * Math.max(1, panels >> 1));
    // Without scratch (codes widened in the tile), then with it (each panel widened once into
    // scratch that holds stale values): the same bits.
    const scratch = h.f32(randomF32(wideScratchBytes(k) / 4, seed + 5, 1e6));
    let first: Float32Array | undefined;
    for (const at of [0, scratch]) {
      new Float32Array(h.memory.buffer, pc, c0.length).set(c0);
      for (const [r0, r1] of [[0, rCut], [rCut, m]]) {
        for (const [c0_, c1] of [[0, cCut], [cCut, n]]) {
          if (r1 <= r0 || c1 <= c0_) continue;
          h.wasm.i8_gemm_packed(r1 - r0, c1 - c0_, k, ap + (r0 / 4) * i8StripBytes(k), bp + (c0_ / 8) * i8PanelBytes(k),
            pbias === 0 ? 0 : pbias + c0_ * 4, pc + (r0 * ldc + c0_) * 4, ldc, activation,
            pr === 0 ? 0 : pr + (r0 * ldr + c0_) * 4, ldr, at);
        }
      }
      if (first === undefined) first = h.read(pc, m * ldc);
      else expectSameBits(h.read(pc, m * ldc), first, `${m}x${n}x${k}: widened panels against widening in the tile`);
    }
    const out = h.read(pc, m * ldc);
    const got = new Float32Array(m * n);
    for (let i = 0; i < m; i++) {
      got.set(out.subarray(i * ldc, i * ldc + n), i * n);
      for (let j = n; j < ldc; j++) expect(out[i * ldc + j], `C padding of row ${i}`).toBe(c0[i * ldc + j]);
    }
    const act = [(x: number) => x, relu, gelu, geluTanh][activation];
    const want = i8Gemm(quantizeRows(a, m, k, aMax), quantizeWeight(w, n, k), bias, act, residual);
    const what = `${m}x${n}x${k} act ${activation}${bias ? ' bias' : ''}${residual ? ' residual' : ''} (seed ${seed})`;
    if (activation === ACTIVATION.gelu || activation === ACTIVATION.geluTanh) expectClose(got, want, 2e-6, 2e-6, what);
    else expectSameBits(got, want, what);
  }

  it('product: every m, n across the tile edges, bit for bit', () => {
    for (const m of EDGES) for (const n of EDGES) check(m, n, 13, { bias: true });
  });

  it('product: every k tail (k steps of 2, padding to 4), bit for bit', () => {
    for (const k of [...K_EDGES, 128, 255, 768]) check(5, 11, k);
  });

  it('epilogue: bias, each activation, residual, bit for bit (GELU to its polynomial)', () => {
    for (const activation of Object.values(ACTIVATION)) {
      for (const [m, n, k] of [[7, 9, 13], [17, 33, 31], [4, 8, 4]]) {
        check(m, n, k, { bias: true, residual: true, activation });
        check(m, n, k, { activation });
      }
    }
  });

  it('an int8 GEMM phase takes the scratch slot only when it holds a widened panel', () => {
    const slots = scratchSlots(4096);
    expect(wideScratchBytes(4256)).toBeLessThanOrEqual(slots.bytes);
    expect(wideScratchBytes(4260)).toBeGreaterThan(slots.bytes);
    for (const [k, wide] of [[768, true], [3072, true], [4256, true], [4260, false]] as const) {
      const p = i8GemmPhase(8, 8, k, 64, 128, 0, 256, 8, { scratch: slots });
      expect([p.scratch, p.scratchBytes], `k ${k}`).toEqual(wide ? [4096, slots.bytes] : [0, 0]);
    }
    expect(i8GemmPhase(8, 8, 768, 64, 128, 0, 256, 8).scratch, 'no slot given').toBe(0);
  });

  it('the largest sums stay exact: k = 4096 with every code at its extreme', () => {
    const m = 5, n = 9, k = 4096;
    h.reset();
    const a = new Float32Array(m * k).fill(1);
    for (let kk = 0; kk < k; kk += 7) a[kk] = -1; // row 0 spans [-1, 1], zero point mid-range
    const w = new Float32Array(n * k).fill(-0.5);
    const bp = pack(w, n, k), ap = quantize(a, m, k);
    const pc = h.f32(m * n);
    const want = i8Gemm(quantizeRows(a, m, k, aMax), quantizeWeight(w, n, k));
    h.wasm.i8_gemm_packed(m, n, k, ap, bp, 0, pc, n, ACTIVATION.none, 0, n, 0);
    expectSameBits(h.read(pc, m * n), want, 'extreme codes');
    h.wasm.i8_gemm_packed(m, n, k, ap, bp, 0, pc, n, ACTIVATION.none, 0, n, h.f32(wideScratchBytes(k) / 4));
    expectSameBits(h.read(pc, m * n), want, 'extreme codes, widened panels');
  });

  it('seeded random shapes, bit for bit', () => {
    const seed = Number(process.env.WASM_ATTENTION_SEED ?? 20261203);
    const next = rng(seed);
    for (let t = 0; t < 40; t++) {
      const m = 1 + Math.floor(next() * 40), n = 1 + Math.floor(next() * 40), k = 1 + Math.floor(next() * 200);
      const activation = Math.floor(next() * 4);
      try {
        check(m, n, k, { bias: next() < 0.5, residual: next() < 0.5, activation, seed: seed + t });
      } catch (error) {
        throw new Error(`seed ${seed}, case ${t}: ${(error as Error).message}`);
      }
    }
  });
});


describe('i8-gemm: builds', () => {
  it.runIf(kernelVariants().includes('relaxed'))('the baseline and relaxed builds give identical bits (GELU aside: its polynomial uses each build\'s f32 madd)', () => {
    const [m, n, k] = [37, 45, 301];
    const a = randomF32(m * k, 11, 3), w = randomF32(n * k, 12, 0.1), bias = randomF32(n, 13);
    const outputs = kernelVariants().map((variant) => {
      const h = loadKernels(variant);
      const strips = Math.ceil(m / 4), panels = Math.ceil(n / 8);
      const ap = h.u8(new Uint8Array(strips * i8StripBytes(k))), bp = h.u8(new Uint8Array(panels * i8PanelBytes(k)));
      h.wasm.i8_pack_panels_nt(n, k, h.f32(w), k, bp, 0, panels);
      h.wasm.i8_quantize_rows(m, k, h.f32(a), k, ap, 0, strips);
      const pc = h.f32(m * n);
      h.wasm.i8_gemm_packed(m, n, k, ap, bp, h.f32(bias), pc, n, ACTIVATION.relu, 0, 0, 0);
      return h.read(pc, m * n);
    });
    expectSameBits(outputs[1], outputs[0], 'relaxed vs baseline');
  });
});
