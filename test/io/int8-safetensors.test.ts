// int8 safetensors files: quantizeInt8 gives the codes and scales of the engine's kernel bit for
// bit (the panels of i8_pack_panels_codes equal those of i8_pack_panels_nt, both layouts, every
// panel edge, ties); quantizeSafetensors → loadSafetensors round trips (lazy dequantization,
// `_scale` consumed, codes under safetensorsQuantized); a bad int8 file is named; and the engine
// with quantize 'int8' gives the same bits from the f32 file and from the int8 file
// (engine.linear, nn.TransformerEncoderLayer, engine.bert, engine.gpt2), threads 1 and 2.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  loadSafetensors, quantizeInt8, quantizeSafetensors, readSafetensors, safetensorsQuantized, safetensorsShapes,
  writeSafetensors, type Engine, type SafetensorsInput,
} from '../../dist/index.js';
import { kernelVariants, loadKernels } from '../helpers/kernels.js';
import { forcedEngines } from '../helpers/engines.js';
import { expectSameBits } from '../helpers/compare.js';
import { randomF32, randomInts, rng } from '../helpers/random.js';
import { i8PanelBytes } from '../../src/parallel/phases.js';

// k: every tail of the k pair and of the 16-k block the vectorized panels move (48, 272), and
// past 256, where their column sums leave i16 (272 codes of ±127 sum to ±34544).
const EDGES = [1, 3, 7, 8, 9, 16, 17, 33, 48, 272];

/** A seeded weight with an all-zero channel, two constant channels (codes all 127, all -127)
 * and exact ties (x·127/amax = n + 0.5). */
function weight(rows: number, cols: number, axis: 0 | 1, seed: number): Float32Array {
  const w = randomF32(rows * cols, seed, 0.3);
  const at = (c: number, kk: number): number => (axis === 0 ? c * cols + kk : kk * cols + c);
  const channels = axis === 0 ? rows : cols, length = axis === 0 ? cols : rows;
  if (channels > 1) for (let kk = 0; kk < length; kk++) w[at(1, kk)] = 0;
  if (channels > 3) for (let kk = 0; kk < length; kk++) [w[at(2, kk)], w[at(3, kk)]] = [0.25, -0.5];
  for (let kk = 0; kk < length; kk++) w[at(0, kk)] = kk === 0 ? 127 : (kk % 9) - 4.5; // inv = 1: ties
  return w;
}

describe.each(kernelVariants())('quantizeInt8 is the kernel quantization (%s)', (variant) => {
  const h = loadKernels(variant);
  const panelsOf = (ptr: number, n: number, k: number): Uint8Array =>
    new Uint8Array(h.memory.buffer.slice(ptr, ptr + Math.ceil(n / 8) * i8PanelBytes(k)));

  it.each([0, 1] as const)('axis %i: packed codes equal the f32 weight packed, every panel and k edge', (axis) => {
    for (const n of EDGES) {
      for (const k of EDGES) {
        h.reset();
        const seed = n * 100 + k;
        const rows = axis === 0 ? n : k, cols = axis === 0 ? k : n;
        const w = weight(rows, cols, axis, seed);
        // The kernel's quantization of W [n, k] (nn.Linear layout: transpose a Conv1D weight).
        const wnk = axis === 0 ? w : Float32Array.from({ length: n * k }, (_, i) => w[(i % k) * n + Math.floor(i / k)]!);
        const panels = Math.ceil(n / 8);
        const ref = h.u8(new Uint8Array(panels * i8PanelBytes(k)).fill(0xab));
        h.wasm.i8_pack_panels_nt(n, k, h.f32(wnk), k, ref, 0, panels);
        const { codes, scales } = quantizeInt8(w, rows, cols, axis);
        const q = h.u8(new Uint8Array(codes.buffer)), s = h.f32(scales);
        const got = h.u8(new Uint8Array(panels * i8PanelBytes(k)).fill(0xcd));
        const mid = panels >> 1;
        const [qsn, qsk] = axis === 0 ? [k, 1] : [1, n];
        h.wasm.i8_pack_panels_codes(n, k, q, qsn, qsk, s, got, 0, mid);
        h.wasm.i8_pack_panels_codes(n, k, q, qsn, qsk, s, got, mid, panels);
        const a = panelsOf(got, n, k), b = panelsOf(ref, n, k);
        const bad = a.findIndex((v, i) => v !== b[i]);
        if (bad >= 0) expect.fail(`axis ${axis}, n ${n}, k ${k} (seed ${seed}): panel byte ${bad}: ${a[bad]} vs ${b[bad]}`);
      }
    }
  });

  it('a column group of a Conv1D [in, out] (as GPT-2 packs Q, K and V apart) packs from its codes in place', () => {
    for (const [k, ng] of [[5, 3], [17, 8], [33, 9]] as const) {
      h.reset();
      const n = 3 * ng, w = weight(k, n, 1, k * 7 + ng);
      const { codes, scales } = quantizeInt8(w, k, n, 1);
      const q = h.u8(new Uint8Array(codes.buffer)), s = h.f32(scales);
      const panels = Math.ceil(ng / 8);
      for (let g = 0; g < 3; g++) {
        const sub = Float32Array.from({ length: ng * k }, (_, i) => w[(i % k) * n + g * ng + Math.floor(i / k)]!); // [ng, k]
        const ref = h.u8(new Uint8Array(panels * i8PanelBytes(k)));
        h.wasm.i8_pack_panels_nt(ng, k, h.f32(sub), k, ref, 0, panels);
        const got = h.u8(new Uint8Array(panels * i8PanelBytes(k)).fill(0xcd));
        h.wasm.i8_pack_panels_codes(ng, k, q + g * ng, 1, n, s + 4 * g * ng, got, 0, panels);
        expect(Buffer.from(panelsOf(got, ng, k)).equals(Buffer.from(panelsOf(ref, ng, k))), `k ${k}, group ${g} of ${ng}`).toBe(true);
      }
    }
  });
});

/** A small mixed state dict: an nn.Linear, a GPT-2 Conv1D, an embedding, a norm, an F16 weight. */
function smallFile(seed: number): Record<string, SafetensorsInput> {
  return {
    'lin.weight': { dtype: 'F32', shape: [5, 7], data: randomF32(35, seed, 0.5) },
    'lin.bias': { dtype: 'F32', shape: [5], data: randomF32(5, seed + 1) },
    'h.0.attn.c_attn.weight': { dtype: 'F32', shape: [7, 9], data: randomF32(63, seed + 2, 0.2) },
    'wte.weight': { dtype: 'F32', shape: [11, 7], data: randomF32(77, seed + 3) },
    'ln_f.weight': { dtype: 'F32', shape: [7], data: randomF32(7, seed + 4) },
    'half.weight': { dtype: 'F16', shape: [3, 4], data: randomF32(12, seed + 5) },
  };
}

describe('quantizeSafetensors → loadSafetensors', () => {
  const input = writeSafetensors(smallFile(3), { format: 'pt' });
  const result = quantizeSafetensors(input);
  const original = readSafetensors(input).tensors;

  it('quantizes the 2-D weights, not embeddings or norms; axis 1 for Conv1D; metadata kept and extended', () => {
    expect(result.quantized.map((t) => [t.name, t.axis]).sort()).toEqual([['h.0.attn.c_attn.weight', 1], ['half.weight', 0], ['lin.weight', 0]]);
    expect(result.kept.sort()).toEqual(['lin.bias', 'ln_f.weight', 'wte.weight']);
    const file = readSafetensors(result.bytes);
    expect(file.metadata.format).toBe('pt');
    expect(JSON.parse(file.metadata.quantization!).axes).toEqual({ 'lin.weight': 0, 'h.0.attn.c_attn.weight': 1, 'half.weight': 0 });
    expect(file.tensors['lin.weight_scale']!.shape).toEqual([5, 1]);
    expect(file.tensors['h.0.attn.c_attn.weight_scale']!.shape).toEqual([1, 9]);
    expect(file.tensors['lin.weight']!.dtype).toBe('I8');
    expect(result.inputBytes).toBe(input.byteLength);
    expect(result.outputBytes).toBe(result.bytes.byteLength);
  });

  it('loads as f32 (code·scale), lazily, with the codes under safetensorsQuantized; the error is as reported', () => {
    const w = loadSafetensors(result.bytes);
    expect(Object.keys(w).sort()).toEqual(Object.keys(original).sort());
    expect(Object.getOwnPropertyDescriptor(w, 'lin.weight')!.get).toBeTypeOf('function'); // not yet dequantized
    let errorSq = 0, normSq = 0;
    for (const t of result.quantized) {
      const [rows, cols] = t.shape;
      const q = w[safetensorsQuantized][t.name]!;
      expect(q.axis).toBe(t.axis);
      expect(q.shape).toEqual([rows, cols]);
      expect(w[safetensorsShapes][t.name]).toEqual([rows, cols]);
      const want = quantizeInt8(original[t.name]!.data, rows, cols, t.axis);
      expect(Array.from(q.codes)).toEqual(Array.from(want.codes));
      expectSameBits(q.scales, want.scales, `${t.name} scales`);
      const deq = w[t.name]!;
      expect(w[t.name]).toBe(deq); // cached
      let e = 0, n = 0;
      for (let i = 0; i < rows * cols; i++) {
        const channel = t.axis === 0 ? Math.floor(i / cols) : i % cols;
        expect(deq[i]).toBe(Math.fround(q.codes[i]! * q.scales[channel]!));
        const x = original[t.name]!.data[i]!;
        e += (x - deq[i]!) ** 2;
        n += x * x;
      }
      expect(t.relativeRmsError).toBeCloseTo(Math.sqrt(e / n), 12);
      expect(t.relativeRmsError).toBeGreaterThan(0);
      expect(t.relativeRmsError).toBeLessThan(0.02);
      errorSq += e;
      normSq += n;
    }
    expect(result.relativeRmsError).toBeCloseTo(Math.sqrt(errorSq / normSq), 12);
    for (const k of result.kept) expectSameBits(w[k], original[k]!.data, k);
    expect(readSafetensors(result.bytes).tensors['half.weight']).toBeDefined();
    // A file without I8 has no quantized entries.
    expect(loadSafetensors(input)[safetensorsQuantized]).toEqual({});
  });

  it('quantizing an int8 file again changes nothing', () => {
    const again = quantizeSafetensors(result.bytes);
    expect(again.quantized).toEqual([]);
    const a = loadSafetensors(again.bytes), b = loadSafetensors(result.bytes);
    for (const k of Object.keys(b)) expectSameBits(a[k], b[k], k);
  });

  it('nothing quantized or dropped: the input\'s bytes, copied (an int8 file, or a choice that matches nothing)', () => {
    for (const [bytes, options] of [[result.bytes, {}], [input, { include: () => false }]] as const) {
      const same = quantizeSafetensors(bytes, options);
      expect(same.quantized).toEqual([]);
      expect(same.bytes).toEqual(bytes);
      expect(same.bytes.buffer).not.toBe(bytes.buffer); // a copy: the caller may change either
      expect(same.outputBytes).toBe(bytes.byteLength);
    }
    // From an ArrayBuffer too (a view of part of a larger one is read as its own bytes).
    const padded = new Uint8Array(input.byteLength + 8);
    padded.set(input, 4);
    expect(quantizeSafetensors(padded.subarray(4, 4 + input.byteLength), { include: () => false }).bytes).toEqual(input);
    expect(quantizeSafetensors(input.slice().buffer, { include: () => false }).bytes).toEqual(input);
    // Tensors left out, nothing quantized: the others as they were, and the metadata too (no
    // "quantization" entry describing no I8 tensor).
    const names = Object.keys(original), gone = names[0]!;
    const less = quantizeSafetensors(input, { include: () => false, drop: (name) => name === gone });
    expect(less.dropped).toEqual([gone]);
    const read = readSafetensors(less.bytes);
    expect(read.metadata).toEqual(readSafetensors(input).metadata);
    expect(Object.keys(read.tensors)).toEqual(names.slice(1));
    for (const name of names.slice(1)) expect(read.tensors[name]!.bytes).toEqual(readSafetensors(input).tensors[name]!.bytes);
  });

  it('a tensor named __proto__ is quantized or passed through like any other (no plain-object setter swallows it)', () => {
    const w = randomF32(6 * 5, 91, 0.3), other = randomF32(4, 92);
    const q = quantizeSafetensors(writeSafetensors({ ['__proto__']: { dtype: 'F32', shape: [6, 5], data: w }, other: { dtype: 'F32', shape: [4], data: other } }),
      { include: (name) => name === '__proto__' });
    const back = loadSafetensors(q.bytes);
    expect(Object.keys(back).sort()).toEqual(['__proto__', 'other']);
    expect(back[safetensorsQuantized]['__proto__']!.codes.length).toBe(30);
    expect(back.other).toEqual(other);
    // an I8 __proto__ passed through keeps its scales and its metadata axis
    const again = quantizeSafetensors(q.bytes);
    const r = readSafetensors(again.bytes);
    expect(Object.keys(r.tensors).sort()).toEqual(['__proto__', '__proto___scale', 'other']);
    expect(JSON.parse(r.metadata.quantization!).axes).toEqual({ ['__proto__']: 0 });
    expect(Array.from(loadSafetensors(again.bytes)['__proto__']!)).toEqual(Array.from(back['__proto__']!));
  });

  it('bad options and arguments are named: an unknown option key (a typo), quantizeInt8\'s rows, cols, axis and weight', () => {
    const bytes = writeSafetensors({ w: { dtype: 'F32', shape: [2, 2], data: new Float32Array(4) } });
    expect(() => quantizeSafetensors(bytes, { includ: () => true } as never)).toThrow(RangeError);
    expect(() => quantizeSafetensors(bytes, { includ: () => true } as never)).toThrow(/options\.includ is not a known key \(did you mean options\.include\?\)/);
    expect(() => quantizeSafetensors(bytes, null as never)).toThrow(TypeError);
    const w = new Float32Array(6);
    expect(() => quantizeInt8(w, 2, 3, 2 as never)).toThrow(/quantizeInt8: axis must be 0 \(the channels are the rows\) or 1 \(the columns\), got 2/);
    expect(() => quantizeInt8(w, 2, 4, 0)).toThrow(/quantizeInt8: weight has length 6, expected rows·cols = 2·4/);
    expect(() => quantizeInt8(w, -2, -3, 0)).toThrow(/quantizeInt8: rows must be a non-negative integer, got -2/);
    expect(() => quantizeInt8(w, '2' as never, 3, 0)).toThrow(TypeError);
    expect(() => quantizeInt8(Array.from(w) as never, 2, 3, 0)).toThrow(/quantizeInt8: weight must be a Float32Array/);
    expect(() => quantizeInt8(Float32Array.of(1, NaN, 3, 4, 5, 6), 2, 3, 1)).toThrow(/holds NaN at \[0, 1\]; int8 quantization needs finite weights/);
    expect(quantizeInt8(w, 2, 3, 1).scales.length).toBe(3);
  });

  it('names a non-finite weight', () => {
    const bad = smallFile(4);
    (bad['lin.weight'] as { data: Float32Array }).data[9] = NaN;
    expect(() => quantizeSafetensors(writeSafetensors(bad))).toThrow(/tensor "lin\.weight" holds NaN at \[1, 2\]/);
  });
});

describe('a bad int8 file is named before any work', () => {
  const codes = Int8Array.from(randomInts(12, 5, -127, 127));
  const file = (extra: Record<string, SafetensorsInput>, metadata?: Record<string, string>): Uint8Array =>
    writeSafetensors({ 'x.weight': { dtype: 'I8', shape: [3, 4], data: codes }, ...extra }, metadata);
  const scale = (shape: number[], values?: number[]): SafetensorsInput =>
    ({ dtype: 'F32', shape, data: Float32Array.from(values ?? Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => 0.01)) });

  it.each([
    ['no scale', {}, /tensor "x\.weight" is I8 but the file has no "x\.weight_scale"/],
    ['scale of the wrong shape', { 'x.weight_scale': scale([4, 1]) }, /"x\.weight_scale" has shape \[4, 1\]; for "x\.weight" \[3, 4\]/],
    ['scale of the wrong dtype', { 'x.weight_scale': { dtype: 'F16', shape: [3, 1], data: new Float32Array(3) } }, /"x\.weight_scale" has dtype F16/],
    ['a negative scale', { 'x.weight_scale': scale([3, 1], [0.1, -0.1, 0.1]) }, /"x\.weight_scale" holds -0\.1\d* at \[1\]/],
    ['a NaN scale', { 'x.weight_scale': scale([3], [0.1, 0.1, NaN]) }, /"x\.weight_scale" holds NaN at \[2\]/],
    ['an infinite scale', { 'x.weight_scale': scale([1, 4], [0.1, Infinity, 0, 0]) }, /"x\.weight_scale" holds Infinity at \[1\]/],
    ['a scale whose 127·scale overflows f32', { 'x.weight_scale': scale([3, 1], [0.1, 2.67e36, 3e38]) }, /"x\.weight_scale" holds 3\.\d+e\+38 at \[2\]; code·scale must stay finite/],
    ['a scale without its I8 tensor', { 'x.weight_scale': scale([3, 1]), 'y.weight_scale': scale([2]) }, /"y\.weight_scale" is a weight scale, but the file has no I8 "y\.weight"/],
    ['a scale of an F32 tensor', { 'x.weight_scale': scale([3, 1]), 'z.weight': scale([2, 2]), 'z.weight_scale': scale([2]) }, /"z\.weight_scale" is the scale of "z\.weight", which is F32, not I8/],
  ] as [string, Record<string, SafetensorsInput>, RegExp][])('%s', (_, extra, message) => {
    expect(() => loadSafetensors(file(extra))).toThrow(RangeError);
    expect(() => loadSafetensors(file(extra))).toThrow(message);
    // quantizeSafetensors (the CLI) passes I8 tensors through: it refuses the same files first
    expect(() => quantizeSafetensors(file(extra))).toThrow(message);
  });

  it('the first code of -128 is named wherever it sits: every byte alignment, word lane and tail', () => {
    const random = rng(128);
    for (let trial = 0; trial < 200; trial++) {
      const rows = 1 + Math.floor(random() * 5), cols = 1 + Math.floor(random() * 23), n = rows * cols;
      const data = Int8Array.from({ length: n }, () => Math.floor(random() * 255) - 127); // -127..127
      const first = Math.floor(random() * n);
      data[first] = -128;
      if (first + 1 < n && random() < 0.5) data[first + 1 + Math.floor(random() * (n - first - 1))] = -128;
      // A U8 tensor of 0..3 bytes sorts before the codes and shifts their byte offset.
      const pad = Math.floor(random() * 4);
      const tensors: Record<string, SafetensorsInput> = {
        'w.weight': { dtype: 'I8', shape: [rows, cols], data }, 'w.weight_scale': { dtype: 'F32', shape: [rows, 1], data: new Float32Array(rows).fill(0.5) },
      };
      if (pad > 0) tensors['a'] = { dtype: 'U8', shape: [pad], bytes: new Uint8Array(pad) };
      const at = `[${Math.floor(first / cols)}, ${first % cols}]`;
      expect(() => loadSafetensors(writeSafetensors(tensors)), `trial ${trial}: rows ${rows}, cols ${cols}, pad ${pad}, first ${first}`)
        .toThrow(`holds the code -128 at ${at};`);
      data.fill(127, first, first + 1);
      data.forEach((v, i) => { if (v === -128) data[i] = -127; });
      expect(() => loadSafetensors(writeSafetensors(tensors))).not.toThrow();
    }
  });

  it('a code of -128, an I8 tensor that is not 2-D, a bad quantization metadata', () => {
    const c = codes.slice();
    c[6] = -128;
    const bytes = writeSafetensors({ 'x.weight': { dtype: 'I8', shape: [3, 4], data: c }, 'x.weight_scale': scale([3]) });
    expect(() => loadSafetensors(bytes)).toThrow(/"x\.weight" holds the code -128 at \[1, 2\]/);
    const flat = writeSafetensors({ 'x.weight': { dtype: 'I8', shape: [12], data: codes }, 'x.weight_scale': scale([12]) });
    expect(() => loadSafetensors(flat)).toThrow(/"x\.weight" is I8 of shape \[12\]; an int8 weight must be 2-D/);
    expect(() => loadSafetensors(file({ 'x.weight_scale': scale([3]) }, { quantization: '{"axes": {"x.weight": 2}}' })))
      .toThrow(/"__metadata__" entry "quantization" axes\["x\.weight"\] must be 0 or 1, got 2/);
  });

  it('tensors named like Object.prototype members: a bare scale is along dim 0, a 2-D one needs no metadata', () => {
    for (const name of ['toString', 'constructor', 'hasOwnProperty', '__proto__', 'valueOf']) {
      const c = Int8Array.of(1, 2, 3, 4, 5, 6);
      const bare = loadSafetensors(writeSafetensors({ [name]: { dtype: 'I8', shape: [2, 3], data: c }, [`${name}_scale`]: { dtype: 'F32', shape: [2], data: Float32Array.of(1, 10) } }));
      expect(bare[safetensorsQuantized][name]!.axis, name).toBe(0);
      expect(Array.from(bare[name]!), name).toEqual([1, 2, 3, 40, 50, 60]);
      const columns = loadSafetensors(writeSafetensors({ [name]: { dtype: 'I8', shape: [2, 3], data: c }, [`${name}_scale`]: { dtype: 'F32', shape: [1, 3], data: Float32Array.of(1, 10, 100) } }));
      expect(Array.from(columns[name]!), name).toEqual([1, 20, 300, 4, 50, 600]);
    }
  });

  it('a bare [n] scale is along dim 0, or along the axis the metadata gives', () => {
    const w0 = loadSafetensors(file({ 'x.weight_scale': scale([3], [1, 2, 3]) }));
    expect(w0[safetensorsQuantized]['x.weight']!.axis).toBe(0);
    expect(w0['x.weight']![5]).toBe(codes[5]! * 2);
    const w1 = loadSafetensors(file({ 'x.weight_scale': scale([4], [1, 2, 3, 4]) }, { quantization: '{"axes": {"x.weight": 1}}' }));
    expect(w1[safetensorsQuantized]['x.weight']!.axis).toBe(1);
    expect(w1['x.weight']![6]).toBe(codes[6]! * 3);
    expect(() => loadSafetensors(file({ 'x.weight_scale': scale([4]) }))).toThrow(/must be \[3, 1\] \(channels along dim 0\), \[1, 4\] \(along dim 1\) or \[3\]/);
    // a 2-D scale names its axis itself: metadata that says the other one is a contradiction
    expect(() => loadSafetensors(file({ 'x.weight_scale': scale([3, 1]) }, { quantization: '{"axes": {"x.weight": 1}}' })))
      .toThrow(/"__metadata__" entry "quantization" axes\["x\.weight"\] is 1, but "x\.weight_scale" of shape \[3, 1\] holds the channels along dim 0/);
    expect(loadSafetensors(file({ 'x.weight_scale': scale([3, 1]) }, { quantization: '{"axes": {"x.weight": 0}}' }))[safetensorsQuantized]['x.weight']!.axis).toBe(0);
  });

  it('quantizeSafetensors passes an I8 tensor through with its metadata axis (a bare [n] scale stays along it)', () => {
    const square = Int8Array.from(randomInts(16, 8, -127, 127));
    const bytes = writeSafetensors({
      'x.weight': { dtype: 'I8', shape: [4, 4], data: square },
      'x.weight_scale': scale([4], [1, 10, 100, 1000]),
    }, { quantization: '{"axes": {"x.weight": 1}}' });
    const again = quantizeSafetensors(bytes);
    expect(again.kept.sort()).toEqual(['x.weight', 'x.weight_scale']);
    const a = loadSafetensors(again.bytes), b = loadSafetensors(bytes);
    expect(a[safetensorsQuantized]['x.weight']!.axis).toBe(1);
    expectSameBits(a['x.weight']!, b['x.weight']!, 'x.weight');
  });
});

describe('int8 files: what the metadata and options.drop may not break', () => {
  const scale = (shape: number[], values?: number[]): SafetensorsInput =>
    ({ dtype: 'F32', shape, data: values ? Float32Array.from(values) : new Float32Array(shape[0]! * (shape[1] ?? 1)).fill(0.01) });
  const square = Int8Array.from(randomInts(16, 9, -127, 127));
  const int8File = () => writeSafetensors({
    'x.weight': { dtype: 'I8', shape: [4, 4], data: square }, 'x.weight_scale': scale([4, 1], [1, 2, 3, 4]),
    'y.weight': new Float32Array(16).fill(0.5),
  });

  it('a "quantization" metadata entry is read only where an I8 tensor needs its axis', () => {
    const plain = writeSafetensors({ 'y.weight': new Float32Array(4) }, { quantization: 'none' });
    expect(loadSafetensors(plain)['y.weight']).toEqual(new Float32Array(4));
    expect(quantizeSafetensors(plain).quantized).toEqual([]);
    const unrelated = writeSafetensors({ 'x.weight': { dtype: 'I8', shape: [4, 4], data: square }, 'x.weight_scale': scale([4, 1]) },
      { quantization: '{"axes": {"no.such.weight": 2}}' });
    expect(loadSafetensors(unrelated)[safetensorsQuantized]['x.weight']!.axis).toBe(0);
  });

  it('options.drop leaves out an I8 weight with its scales, and refuses to leave out only the scales', () => {
    const r = quantizeSafetensors(int8File(), { drop: (name) => name === 'x.weight' });
    expect(r.dropped.sort()).toEqual(['x.weight', 'x.weight_scale']);
    expect(Object.keys(loadSafetensors(r.bytes)).sort()).toEqual(['y.weight']);
    expect(() => quantizeSafetensors(int8File(), { drop: (name) => name.endsWith('_scale') })).toThrow(
      /quantizeSafetensors: options\.drop leaves out "x\.weight_scale" but keeps the I8 tensor "x\.weight"/);
  });
});

describe("the engine with quantize 'int8': the int8 file gives the same bits as the f32 file", () => {
  let engines: Engine[];
  beforeAll(async () => { engines = await forcedEngines([1, 2]); });
  afterAll(async () => { await Promise.all(engines.map((e) => e.dispose())); });

  /** The f32 state dict and its int8 file, both loaded. */
  function both(tensors: Record<string, SafetensorsInput>): { f32: Record<string, Float32Array>; int8: Record<string, Float32Array> } {
    const bytes = writeSafetensors(tensors);
    return { f32: loadSafetensors(bytes), int8: loadSafetensors(quantizeSafetensors(bytes).bytes) };
  }

  it('engine.linear, across panel edges; without quantize the int8 file runs as f32 on its dequantized values', async () => {
    for (const [rows, inF, outF] of [[1, 1, 1], [3, 5, 7], [17, 33, 9], [5, 64, 130]]) {
      const seed = rows * 1000 + inF * 10 + outF;
      const { f32, int8 } = both({
        'weight': { dtype: 'F32', shape: [outF, inF], data: randomF32(outF * inF, seed, 0.3) },
        'bias': { dtype: 'F32', shape: [outF], data: randomF32(outF, seed + 1) },
      });
      const x = randomF32(rows * inF, seed + 2, 2);
      for (const e of engines) {
        const run = async (weights: Record<string, Float32Array>, quantize?: 'int8'): Promise<Float32Array> => {
          const layer = e.linear({ inFeatures: inF, outFeatures: outF, weights, quantize });
          try {
            return await layer.forward(x, { rows }) as Float32Array;
          } finally {
            await layer.dispose();
          }
        };
        const what = `linear ${rows}x${inF}→${outF}, threads ${e.threads} (seed ${seed})`;
        expectSameBits(await run(int8, 'int8'), await run(f32, 'int8'), what);
        const copies = { weight: Float32Array.from(int8.weight!), bias: int8.bias! }; // plain f32, no codes
        expectSameBits(await run(int8), await run(copies), `${what}, f32`);
      }
    }
  });

  it('a weight changed after loading is quantized as it now is, not packed from the file codes', async () => {
    const [outF, inF] = [9, 17];
    const { int8 } = both({ 'weight': { dtype: 'F32', shape: [outF, inF], data: randomF32(outF * inF, 91, 0.3) } });
    const x = randomF32(3 * inF, 92, 2);
    int8.weight![5] += 0.05;
    const edited = Float32Array.from(int8.weight!);
    const run = async (weight: Float32Array): Promise<Float32Array> => {
      const layer = engines[0].linear({ inFeatures: inF, outFeatures: outF, bias: false, weights: { weight }, quantize: 'int8' });
      try {
        return await layer.forward(x, { rows: 3 }) as Float32Array;
      } finally {
        await layer.dispose();
      }
    };
    expectSameBits(await run(int8.weight!), await run(edited), 'edited int8-file weight');
    int8.weight!.fill(0);
    expect([...await run(int8.weight!)].every((v) => v === 0)).toBe(true);
  });

  it('a channel at f32\'s largest magnitude: the file and the engine\'s own quantization give the same bits', async () => {
    const w = Float32Array.of(3.4028234663852886e38, 1e37, -2e36, 0.5, -3.4028234663852886e38, 7);
    const { f32, int8 } = both({ 'weight': { dtype: 'F32', shape: [2, 3], data: w } });
    const x = Float32Array.of(1e-30, 2e-31, -3e-31, 0.25, 1e-31, -1e-30, 1e-30, 0, 0, 0, 0, 1e-31);
    for (const e of engines) {
      for (const rows of [2, 4]) { // the GEMV and the GEMM
        const run = async (weights: Record<string, Float32Array>): Promise<Float32Array> => {
          const layer = e.linear({ inFeatures: 3, outFeatures: 2, bias: false, weights, quantize: 'int8' });
          try {
            return await layer.forward(x.subarray(0, rows * 3), { rows }) as Float32Array;
          } finally {
            await layer.dispose();
          }
        };
        const fromFile = await run(int8);
        expectSameBits(fromFile, await run(f32), `threads ${e.threads}, ${rows} rows`);
        expect(Array.from(fromFile).every(Number.isFinite), 'finite').toBe(true);
      }
    }
  });

  it('file bytes changed after loading (a code of -128, a NaN or negative scale) are named when a module takes them', async () => {
    const [outF, inF] = [6, 10];
    const bytes = quantizeSafetensors(writeSafetensors({
      'weight': { dtype: 'F32', shape: [outF, inF], data: randomF32(outF * inF, 93, 0.3) },
    })).bytes;
    const x = randomF32(2 * inF, 94, 2);
    const good = engines[0].linear({ inFeatures: inF, outFeatures: outF, bias: false, weights: loadSafetensors(bytes), quantize: 'int8' });
    const expected = await good.forward(x, { rows: 2 }) as Float32Array;
    await good.dispose();
    const edits: [string, (q: { codes: Int8Array; scales: Float32Array }) => void, RegExp][] = [
      ['code', (q) => { q.codes[13] = -128; }, /tensor "weight" holds the code -128 at \[1, 3\].*changed after loadSafetensors/],
      ['NaN scale', (q) => { q.scales[2] = NaN; }, /tensor "weight_scale" holds NaN at \[2\].*changed after loadSafetensors/],
      ['negative scale', (q) => { q.scales[0] = -1e30; }, /tensor "weight_scale" holds -1\.0+\d*e\+30 at \[0\]; scales must be finite and >= 0/],
    ];
    for (const [what, edit, message] of edits) {
      for (const read of [false, true]) {
        const copy = new Uint8Array(bytes);
        const weights = loadSafetensors(copy);
        edit((weights as Record<symbol, Record<string, { codes: Int8Array; scales: Float32Array }>>)[safetensorsQuantized]!['weight']!);
        if (read) void weights['weight']; // dequantized from the edited bytes, then taken as their codes
        for (const e of engines) {
          expect(() => e.linear({ inFeatures: inF, outFeatures: outF, bias: false, weights, quantize: 'int8' }),
            `${what}${read ? ', read' : ''}, threads ${e.threads}`)
            // read: the dequantized NaN meets the f32 check first
            .toThrow(read && what === 'NaN scale' ? /config\.weights\["weight"\] holds NaN at \[2, 0\]/ : message);
          const again = e.linear({ inFeatures: inF, outFeatures: outF, bias: false, weights: loadSafetensors(bytes), quantize: 'int8' });
          expectSameBits(await again.forward(x, { rows: 2 }) as Float32Array, expected, `after the ${what} error, threads ${e.threads}`);
          await again.dispose();
        }
      }
    }
  });

  it('nn.TransformerEncoderLayer (stacked in_proj_weight)', async () => {
    const d = 32, ff = 72, next = rng(41);
    const t: Record<string, SafetensorsInput> = {};
    const put = (key: string, shape: number[], scale: number): void => {
      const n = shape.reduce((a, b) => a * b, 1);
      t[key] = { dtype: 'F32', shape, data: Float32Array.from({ length: n }, () => (next() * 2 - 1) * scale) };
    };
    put('self_attn.in_proj_weight', [3 * d, d], 0.2);
    put('self_attn.in_proj_bias', [3 * d], 0.1);
    put('self_attn.out_proj.weight', [d, d], 0.2);
    put('self_attn.out_proj.bias', [d], 0.1);
    put('linear1.weight', [ff, d], 0.2);
    put('linear1.bias', [ff], 0.1);
    put('linear2.weight', [d, ff], 0.1);
    put('linear2.bias', [d], 0.1);
    for (const n of ['norm1', 'norm2']) {
      t[`${n}.weight`] = { dtype: 'F32', shape: [d], data: new Float32Array(d).fill(1) };
      put(`${n}.bias`, [d], 0.1);
    }
    const { f32, int8 } = both(t);
    expect(Object.keys(int8).sort()).toEqual(Object.keys(f32).sort());
    const x = randomF32(2 * 7 * d, 42);
    for (const e of engines) {
      const run = async (weights: Record<string, Float32Array>): Promise<Float32Array> => {
        const layer = e.transformerEncoderLayer({ dModel: d, nhead: 4, dimFeedforward: ff, weights, quantize: 'int8' });
        try {
          return await layer.forward(x, { batch: 2, seq: 7 }) as Float32Array;
        } finally {
          await layer.dispose();
        }
      };
      expectSameBits(await run(int8), await run(f32), `threads ${e.threads}`);
    }
  });

  it.each(['prefixed-cls', 'gamma-beta-bf16', 'f16-no-pooler'])('engine.bert on the fixture model %s', async (name) => {
    const dir = new URL(`../fixtures/bert/${name}/`, import.meta.url);
    const config = JSON.parse(readFileSync(new URL('config.json', dir), 'utf8'));
    const bytes = new Uint8Array(readFileSync(new URL('model.safetensors', dir)));
    const q = quantizeSafetensors(bytes);
    expect(q.quantized.filter((t) => /(^|\.)encoder\./.test(t.name)).length).toBe(6 * config.num_hidden_layers);
    const ids = randomInts(2 * 9, 5, 0, config.vocab_size - 1);
    for (const e of engines) {
      const run = async (file: Uint8Array): Promise<Float32Array[]> => {
        const model = e.bert({ config, weights: loadSafetensors(file), quantize: 'int8' });
        try {
          const out = await model.forward(ids, { batch: 2, seq: 9 });
          return [out.lastHiddenState, ...(out.pooledOutput ? [out.pooledOutput] : [])];
        } finally {
          await model.dispose();
        }
      };
      const [a, b] = [await run(q.bytes), await run(bytes)];
      a.forEach((t, i) => expectSameBits(t, b[i], `output ${i}, threads ${e.threads}`));
    }
  });

  it.each([
    ['prefixed-cls', 'bertForMaskedLM'], ['classifier-3', 'bertForSequenceClassification'],
    ['token-classifier-5', 'bertForTokenClassification'], ['qa', 'bertForQuestionAnswering'],
  ] as const)('the BERT head of %s (%s): the same bits from the int8 file; classifiers and qa_outputs stay f32 in it', async (name, make) => {
    const dir = new URL(`../fixtures/bert/${name}/`, import.meta.url);
    const config = JSON.parse(readFileSync(new URL('config.json', dir), 'utf8'));
    const bytes = new Uint8Array(readFileSync(new URL('model.safetensors', dir)));
    const q = quantizeSafetensors(bytes);
    expect(q.quantized.map((t) => t.name).filter((n) => /classifier|qa_outputs/.test(n))).toEqual([]);
    const ids = randomInts(2 * 9, 6, 0, config.vocab_size - 1);
    for (const e of engines) {
      const run = async (file: Uint8Array): Promise<Float32Array[]> => {
        const model = e[make]({ config, weights: loadSafetensors(file), quantize: 'int8' });
        try {
          const out = await model.forward(ids, { batch: 2, seq: 9 }) as unknown as Record<string, Float32Array>;
          return ['logits', 'startLogits', 'endLogits'].filter((k) => out[k]).map((k) => out[k]);
        } finally {
          await model.dispose();
        }
      };
      const [a, b] = [await run(q.bytes), await run(bytes)];
      expect(a.length).toBeGreaterThan(0);
      a.forEach((t, i) => expectSameBits(t, b[i], `${name} output ${i}, threads ${e.threads}`));
    }
  });

  it.each(['tiny-f32', 'odd-untied'])('engine.gpt2 on the fixture model %s: Conv1D [in, out] codes, prefill and KV-cache decoding', async (name) => {
    const dir = new URL(`../fixtures/gpt2/${name}/`, import.meta.url);
    const config = JSON.parse(readFileSync(new URL('config.json', dir), 'utf8'));
    const bytes = new Uint8Array(readFileSync(new URL('model.safetensors', dir)));
    const q = quantizeSafetensors(bytes);
    const conv = q.quantized.filter((t) => /(^|\.)h\.\d+\./.test(t.name));
    expect(conv.length).toBe(4 * config.n_layer);
    expect(conv.every((t) => t.axis === 1)).toBe(true);
    const ids = randomInts(2 * 7, 11, 0, config.vocab_size - 1);
    for (const e of engines) {
      const run = async (file: Uint8Array): Promise<[Float32Array, number[][]]> => {
        const model = e.gpt2({ config, weights: loadSafetensors(file), quantize: 'int8' });
        try {
          const { logits } = await model.forward(ids, { batch: 2, seq: 7 });
          const steps: number[][] = [];
          for await (const next of model.generate(ids.slice(0, 6), { batch: 2, maxNewTokens: 6 })) steps.push(Array.from(next));
          return [logits, steps];
        } finally {
          await model.dispose();
        }
      };
      const [a, b] = [await run(q.bytes), await run(bytes)];
      expectSameBits(a[0], b[0], `logits, threads ${e.threads}`);
      expect(a[1], `greedy tokens, threads ${e.threads}`).toEqual(b[1]);
    }
  });
});
