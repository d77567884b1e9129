// loadSafetensors / readSafetensors / writeSafetensors: files written from torch tensors
// (scripts/make_safetensors_fixtures.py), exact f16/bf16 conversion over every bit pattern,
// zero-copy views, byte-identical output to the reference layout, and hostile headers.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  f16BitsToF32, f32ToBf16Bits, f32ToF16Bits, loadSafetensors, readSafetensors, safetensorsShapes,
  writeSafetensors, type SafetensorsInput,
} from '../../src/io/safetensors.js';
import { quantizeSafetensors } from '../../src/io/quantize.js';

const DIR = new URL('../fixtures/safetensors/', import.meta.url);
type Expected = Record<string, { metadata: Record<string, string>;
  tensors: Record<string, { dtype: string; shape: number[]; values: (number | string)[] }> }>;
const expected = JSON.parse(readFileSync(new URL('expected.json', DIR), 'utf8')) as Expected;

/** The file's bytes in a fresh, 8-aligned buffer (readFileSync may hand out a pooled slice). */
function fixture(name: string): Uint8Array {
  return new Uint8Array(readFileSync(new URL(`${name}.safetensors`, DIR)));
}

function value(v: number | string): number {
  return v === 'nan' ? NaN : v === 'inf' ? Infinity : v === '-inf' ? -Infinity : v === '-0' ? -0 : (v as number);
}

function expectSameValues(actual: Float32Array, values: (number | string)[], what: string): void {
  expect(actual.length, what).toBe(values.length);
  for (let i = 0; i < values.length; i++) {
    const want = value(values[i]!);
    if (!Object.is(actual[i], want)) expect.fail(`${what}[${i}]: got ${actual[i]}, expected ${want}`);
  }
}

const bits32 = (x: number): number => new Uint32Array(new Float32Array([x]).buffer)[0]!;

describe('files written from torch tensors', () => {
  for (const name of ['f32', 'f16', 'bf16', 'mixed', 'linear']) {
    it(`${name}: values, dtypes, shapes and metadata as torch has them`, () => {
      const want = expected[name]!;
      const file = readSafetensors(fixture(name));
      expect(Object.keys(file.tensors).sort()).toEqual(Object.keys(want.tensors).sort());
      expect(file.metadata).toEqual(want.metadata);
      for (const [key, t] of Object.entries(want.tensors)) {
        expect(file.tensors[key]!.dtype, key).toBe(t.dtype);
        expect(file.tensors[key]!.shape, key).toEqual(t.shape);
        expectSameValues(file.tensors[key]!.data, t.values, `${name}/${key}`);
      }
      const weights = loadSafetensors(fixture(name));
      expect(Object.keys(weights).sort()).toEqual(Object.keys(want.tensors).sort());
      for (const [key, t] of Object.entries(want.tensors)) {
        expect(weights[safetensorsShapes][key]).toEqual(t.shape);
        expectSameValues(weights[key]!, t.values, `${name}/${key}`);
      }
    });

    it(`${name}: writeSafetensors gives the same bytes as the reference layout`, () => {
      const want = expected[name]!;
      const input: Record<string, SafetensorsInput> = {};
      for (const [key, t] of Object.entries(want.tensors)) {
        input[key] = { dtype: t.dtype as 'F32', shape: t.shape, data: Float32Array.from(t.values, value) };
      }
      const meta = Object.keys(want.metadata).length > 0 ? want.metadata : undefined;
      expect(Buffer.from(writeSafetensors(input, meta)).equals(Buffer.from(fixture(name)))).toBe(true);
    });
  }

  it('writeSafetensors refuses a header past the format\'s 100,000,000 bytes, as the reference writer does (readers refuse the file)', () => {
    const tensors = { a: { dtype: 'F32' as const, shape: [1], data: new Float32Array(1) } };
    // {"__metadata__":{"k":"…"},"a":{…}}: 78 bytes besides the value, padded to a multiple of 8
    const fits = writeSafetensors(tensors, { k: 'x'.repeat(100_000_000 - 78) });
    expect(Number(new DataView(fits.buffer).getBigUint64(0, true))).toBe(100_000_000);
    expect(loadSafetensors(fits).a).toEqual(new Float32Array(1));
    expect(() => writeSafetensors(tensors, { k: 'x'.repeat(100_000_000 - 77) }))
      .toThrow(new RangeError('writeSafetensors: header of 100000008 bytes (padded) exceeds the format\'s limit of 100000000 bytes: names and metadata too long'));
  });

  it('a state dict loads straight into weights keyed by torch names', () => {
    const w = loadSafetensors(fixture('linear'));
    expect(Object.keys(w).sort()).toEqual(['bias', 'weight']);
    expect(w[safetensorsShapes]).toEqual({ weight: [3, 4], bias: [3] });
    expect(w.weight).toBeInstanceOf(Float32Array);
  });

  it('int32: integer tensors read as f32 (the buffers checkpoints carry), dtype and bytes as stored', () => {
    const want = expected.int32!.tensors.ids!;
    const w = loadSafetensors(fixture('int32'));
    expect(Array.from(w.ids!)).toEqual(want.values);
    const r = readSafetensors(fixture('int32'));
    expect(r.tensors.ids!.dtype).toBe('I32');
    expect(Array.from(new Int32Array(r.tensors.ids!.bytes.slice().buffer))).toEqual(want.values);
  });

  it('int8: an I8 tensor without its scales is a RangeError naming it (int8 files: int8-safetensors.test.ts)', () => {
    // (the fixture has "q" [2, 3] I8 and a tensor "scale", not "q_scale"; readSafetensors gives q as stored)
    expect(() => loadSafetensors(fixture('int8'))).toThrow(RangeError);
    expect(() => loadSafetensors(fixture('int8'))).toThrow(/loadSafetensors: tensor "q" is I8/);
    expect(readSafetensors(fixture('int8')).tensors.q!.dtype).toBe('I8'); // as stored
  });
});

describe('zero-copy', () => {
  it('F32 at a 4-aligned absolute offset is a view on the input; a Node Buffer and an ArrayBuffer work', () => {
    const bytes = fixture('f32');
    const w = loadSafetensors(bytes);
    expect(w.weight!.buffer).toBe(bytes.buffer);
    const before = w.weight![0]!;
    bytes[w.weight!.byteOffset + 3]! ^= 0x80; // flip the sign bit of weight[0] in the file
    expect(w.weight![0]).toBe(-before);
    expect(loadSafetensors(bytes.buffer).weight!.buffer).toBe(bytes.buffer);
    expect(loadSafetensors(Buffer.from(fixture('f32'))).bias).toEqual(loadSafetensors(fixture('f32')).bias);
  });

  it('F32 at an unaligned offset is copied, with the same values', () => {
    const src = fixture('f32');
    const big = new Uint8Array(src.length + 1);
    big.set(src, 1);
    const bytes = big.subarray(1);
    const w = loadSafetensors(bytes);
    expect(w.weight!.buffer).not.toBe(big.buffer);
    expect(w.weight).toEqual(loadSafetensors(src).weight);
    const t = expected.f32!.tensors.cube!;
    expectSameValues(w.cube!, t.values, 'cube');
  });

  it('F32 copied from an unaligned offset keeps every bit, NaN payloads included, as an aligned view does', () => {
    const patterns = Uint32Array.of(0x7f800001, 0xff800123, 0x7fc00000, 0xffc00001, 0x80000000, 0x00000001, 0x3f800000);
    const tensors = { x: { dtype: 'F32' as const, shape: [patterns.length], bytes: new Uint8Array(patterns.buffer) } };
    const aligned = writeSafetensors(tensors);
    const big = new Uint8Array(aligned.length + 1);
    big.set(aligned, 1);
    for (const bytes of [aligned, big.subarray(1)]) {
      const x = loadSafetensors(bytes).x!;
      expect(Array.from(new Uint32Array(x.buffer, x.byteOffset, x.length))).toEqual(Array.from(patterns));
    }
  });

  it('bytes in a SharedArrayBuffer read as from a plain one (browsers\' TextDecoder refuses shared views)', () => {
    const src = fixture('f32');
    const shared = new Uint8Array(new SharedArrayBuffer(src.length));
    shared.set(src);
    const w = loadSafetensors(shared);
    expect(w.weight).toEqual(loadSafetensors(src).weight);
    // what the reader hands TextDecoder: never a view on shared memory
    const decode = TextDecoder.prototype.decode;
    const seen: string[] = [];
    TextDecoder.prototype.decode = function (this: TextDecoder, input?: AllowSharedBufferSource, options?: TextDecodeOptions) {
      const buffer = input && 'buffer' in input ? input.buffer : input;
      seen.push(Object.prototype.toString.call(buffer));
      return decode.call(this, input, options);
    };
    try {
      loadSafetensors(shared);
      readSafetensors(shared);
    } finally {
      TextDecoder.prototype.decode = decode;
    }
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.every((kind) => kind === '[object ArrayBuffer]')).toBe(true);
  });

  it('F16/BF16 at odd offsets convert the same', () => {
    const src = fixture('mixed');
    const big = new Uint8Array(src.length + 3);
    big.set(src, 3);
    const a = loadSafetensors(big.subarray(3));
    const b = loadSafetensors(src);
    for (const k of Object.keys(b)) expect(a[k], k).toEqual(b[k]);
  });
});

describe('conversions', () => {
  it('every f16 bit pattern converts exactly and back (NaN stays NaN)', () => {
    const f32 = new Float32Array(1);
    const u32 = new Uint32Array(f32.buffer);
    for (let h = 0; h < 0x10000; h++) {
      u32[0] = f16BitsToF32(h);
      const x = f32[0]!;
      const exp = (h >>> 10) & 0x1f;
      const mant = h & 0x3ff;
      const sign = h & 0x8000 ? -1 : 1;
      const want = exp === 0x1f ? (mant ? NaN : sign * Infinity)
        : exp === 0 ? sign * mant * 2 ** -24 : sign * (1 + mant / 1024) * 2 ** (exp - 15);
      if (!Object.is(x, want)) expect.fail(`f16 0x${h.toString(16)}: ${x} != ${want}`);
      if (exp !== 0x1f || mant === 0) expect(f32ToF16Bits(x)).toBe(h);
      else expect((f32ToF16Bits(x) & 0x7c00) === 0x7c00 && (f32ToF16Bits(x) & 0x3ff) !== 0).toBe(true);
    }
  });

  it('f32 → f16 rounds to nearest even, overflows to inf, underflows to ±0', () => {
    const f16 = (h: number): number => new Float32Array(new Uint32Array([f16BitsToF32(h)]).buffer)[0]!;
    for (const h of [0x0000, 0x0001, 0x0002, 0x03ff, 0x0400, 0x3c00, 0x3c01, 0x7bfe, 0x8001, 0xbc00]) {
      const lo = f16(h);
      const hi = f16(h + 1);
      const mid = (lo + hi) / 2; // exact in f32
      expect(f32ToF16Bits(mid), `mid 0x${h.toString(16)}`).toBe(h % 2 === 0 ? h : h + 1);
      expect(f32ToF16Bits(Math.fround(mid + (hi - lo) / 64))).toBe(h + 1);
    }
    expect(f32ToF16Bits(65520)).toBe(0x7c00); // the midpoint of max and 2^16 rounds up to inf
    expect(f32ToF16Bits(65519)).toBe(0x7bff);
    expect(f32ToF16Bits(1e10)).toBe(0x7c00);
    expect(f32ToF16Bits(-1e10)).toBe(0xfc00);
    expect(f32ToF16Bits(2 ** -25)).toBe(0); // half the smallest subnormal: tie to even 0
    expect(f32ToF16Bits(Math.fround(2 ** -25 * 1.0001))).toBe(1);
    expect(f32ToF16Bits(-1e-30)).toBe(0x8000);
  });

  it('bf16 is the top half of f32, rounded to nearest even', () => {
    expect(f32ToBf16Bits(1)).toBe(0x3f80);
    const f = new Float32Array(1);
    const u = new Uint32Array(f.buffer);
    u[0] = 0x3f808000; // exactly between 0x3f80 and 0x3f81: to even
    expect(f32ToBf16Bits(f[0]!)).toBe(0x3f80);
    u[0] = 0x3f818000;
    expect(f32ToBf16Bits(f[0]!)).toBe(0x3f82);
    u[0] = 0x3f808001;
    expect(f32ToBf16Bits(f[0]!)).toBe(0x3f81);
    u[0] = 0x7f7fffff; // max f32 rounds to inf
    expect(f32ToBf16Bits(f[0]!)).toBe(0x7f80);
    expect(f32ToBf16Bits(NaN) & 0x7fc0).toBe(0x7fc0);
    expect(f32ToBf16Bits(-0)).toBe(0x8000);
    // Any NaN payload reads as NaN (torch 1.13 writes bf16 NaN as 0xffff).
    const file = writeSafetensors({ x: { dtype: 'BF16', shape: [1], data: new Float32Array(1) } });
    file.set([0xff, 0xff], file.length - 2);
    expect(loadSafetensors(file).x![0]).toBeNaN();
    expect(bits32(-0)).toBe(0x80000000);
  });
});

describe('round trips', () => {
  it('F32, F16 and BF16 tensors with metadata and odd names', () => {
    const a = Float32Array.from({ length: 35 }, (_, i) => Math.sin(i) * 100);
    const file = writeSafetensors({
      'encoder.layers.0.self_attn.in_proj_weight': { dtype: 'F32', shape: [5, 7], data: a },
      half: { dtype: 'F16', shape: [7, 5], data: a },
      brain: { dtype: 'BF16', shape: [35], data: a },
      plain: a.subarray(3, 9),
      ['__proto__']: { dtype: 'F32', shape: [0], data: new Float32Array(0) },
      scalar: { dtype: 'F32', shape: [], data: new Float32Array([2]) },
    } as Record<string, SafetensorsInput>, { format: 'pt', 'ключ': 'значение' });
    expect(file.length % 4).toBe(0);
    const r = readSafetensors(file);
    expect(r.metadata).toEqual({ format: 'pt', 'ключ': 'значение' });
    expect(r.tensors['encoder.layers.0.self_attn.in_proj_weight']!.data).toEqual(a);
    expect(r.tensors.plain!.shape).toEqual([6]);
    expect(r.tensors.plain!.data).toEqual(a.subarray(3, 9));
    expect(r.tensors.scalar).toEqual({ dtype: 'F32', shape: [], data: new Float32Array([2]), bytes: new Uint8Array(new Float32Array([2]).buffer) });
    expect(Object.keys(r.tensors)).toContain('__proto__');
    expect(Object.getPrototypeOf(r.tensors)).toBe(Object.prototype);
    for (let i = 0; i < a.length; i++) {
      expect(f32ToF16Bits(r.tensors.half!.data[i]!)).toBe(f32ToF16Bits(a[i]!));
      expect(bits32(r.tensors.brain!.data[i]!)).toBe(f32ToBf16Bits(a[i]!) << 16 >>> 0);
      expect(Math.abs(r.tensors.half!.data[i]! - a[i]!)).toBeLessThanOrEqual(Math.abs(a[i]!) * 2 ** -11 + 2 ** -25);
    }
  });

  it('F64, I64, U64, I32, U32, I16, U16, U8 and BOOL read as the nearest f32; their bytes write back unchanged', () => {
    const le = (size: number, values: (number | bigint)[], set: (v: DataView, at: number, x: never) => void): Uint8Array => {
      const out = new Uint8Array(size * values.length);
      const view = new DataView(out.buffer);
      values.forEach((x, i) => set(view, i * size, x as never));
      return out;
    };
    const big = 2n ** 40n + 1n; // not an f32: rounds to 2^40
    const cases: [string, number, Uint8Array, number[]][] = [
      ['F64', 8, le(8, [0.1, -1e300, 3], (v, at, x) => v.setFloat64(at, x, true)), [Math.fround(0.1), -Infinity, 3]],
      // Past 2^53 rounded once, to the nearest f32: 2^60 + 2^36 + 1 is above the tie at 2^60 + 2^36
      // (through f64 it would round to the tie, then to even: 2^60); ties go to even.
      ['I64', 8, le(8, [0n, 511n, -7n, big, 2n ** 60n + 2n ** 36n + 1n, -(2n ** 60n + 2n ** 36n + 1n), 2n ** 60n + 2n ** 36n, 2n ** 60n + 3n * 2n ** 36n, -(2n ** 63n)],
        (v, at, x) => v.setBigInt64(at, x, true)), [0, 511, -7, 2 ** 40, 2 ** 60 + 2 ** 37, -(2 ** 60 + 2 ** 37), 2 ** 60, 2 ** 60 + 2 ** 38, -(2 ** 63)]],
      ['U64', 8, le(8, [5n, 2n ** 63n, 2n ** 64n - 1n, 2n ** 60n + 2n ** 36n + 1n], (v, at, x) => v.setBigUint64(at, x, true)),
        [5, 2 ** 63, 2 ** 64, 2 ** 60 + 2 ** 37]],
      ['I32', 4, le(4, [-(2 ** 31), 16777217], (v, at, x) => v.setInt32(at, x, true)), [-(2 ** 31), 16777216]],
      ['U32', 4, le(4, [2 ** 32 - 1], (v, at, x) => v.setUint32(at, x, true)), [2 ** 32]],
      ['I16', 2, le(2, [-32768, 9], (v, at, x) => v.setInt16(at, x, true)), [-32768, 9]],
      ['U16', 2, le(2, [65535], (v, at, x) => v.setUint16(at, x, true)), [65535]],
      ['U8', 1, Uint8Array.of(0, 200, 255), [0, 200, 255]],
      ['BOOL', 1, Uint8Array.of(0, 1, 1, 0), [0, 1, 1, 0]],
    ];
    const input: Record<string, SafetensorsInput> = {};
    // An odd-sized tensor first, so the wider ones land at unaligned absolute offsets too.
    input.odd = { dtype: 'U8', shape: [3], bytes: Uint8Array.of(1, 2, 3) };
    for (const [dtype, size, bytes] of cases) {
      input[`t.${dtype}`] = { dtype: dtype as 'I64', shape: [bytes.length / size], bytes };
    }
    const file = writeSafetensors(input);
    const w = loadSafetensors(file), r = readSafetensors(file);
    for (const [dtype, , bytes, values] of cases) {
      expect(Array.from(w[`t.${dtype}`]!), dtype).toEqual(values);
      expect(r.tensors[`t.${dtype}`]!.dtype).toBe(dtype);
      expect(Array.from(r.tensors[`t.${dtype}`]!.bytes), `${dtype} bytes`).toEqual(Array.from(bytes));
    }
    // every tensor's stored bytes, written back, make the same file
    const again = writeSafetensors(Object.fromEntries(Object.entries(r.tensors).map(([k, x]) => [k, { dtype: x.dtype, shape: x.shape, bytes: x.bytes }])));
    expect(Buffer.from(again).equals(Buffer.from(file))).toBe(true);
    expect(() => writeSafetensors({ x: { dtype: 'I64', shape: [2], bytes: new Uint8Array(15) } })).toThrow(
      /tensors\["x"\]\.bytes has 15 bytes, expected 16 for shape \[2\] of I64/);
    expect(() => writeSafetensors({ x: { dtype: 'I64', shape: [2], data: new Float32Array(2) } as unknown as SafetensorsInput })).toThrow(
      /must be F32, F16, BF16 \(with f32 data\) or I8 \(with an Int8Array\), got "I64"; other dtypes .* as \{dtype, shape, bytes\}/);
  });

  it('shapes are under a non-enumerable symbol; the record has only tensor names', () => {
    const w = loadSafetensors(writeSafetensors({ x: { dtype: 'F32', shape: [2, 3], data: new Float32Array(6) } }));
    expect(Object.keys(w)).toEqual(['x']);
    expect({ ...w }).toEqual({ x: new Float32Array(6) });
    expect(JSON.stringify(Object.keys(w))).toBe('["x"]');
    expect(w[safetensorsShapes]).toEqual({ x: [2, 3] });
    expect(Object.getOwnPropertyDescriptor(w, safetensorsShapes)!.enumerable).toBe(false);
  });

  it('writeSafetensors rejects bad input with a named error', () => {
    expect(() => writeSafetensors({ x: { dtype: 'F32', shape: [2, 2], data: new Float32Array(3) } })).toThrow(
      /writeSafetensors: tensors\["x"\]\.data has length 3, expected 4/);
    expect(() => writeSafetensors({ x: { dtype: 'I4' as 'F32', shape: [1], data: new Float32Array(1) } })).toThrow(RangeError);
    expect(() => writeSafetensors({ x: { dtype: 'I8' as 'F32', shape: [1], data: new Float32Array(1) } })).toThrow(
      /tensors\["x"\]\.data must be a Int8Array \(dtype I8\)/);
    expect(() => writeSafetensors({ x: [1, 2] as unknown as Float32Array })).toThrow(TypeError);
    expect(() => writeSafetensors({ x: new Float32Array(1) }, { a: 1 as unknown as string })).toThrow(TypeError);
    // The header's metadata key is not a tensor name: no file the reader refuses.
    expect(() => writeSafetensors({ __metadata__: new Float32Array(1) })).toThrow(
      /writeSafetensors: tensors\["__metadata__"\] is the header key the format reserves for the metadata/);
  });
});

describe('hostile and truncated files', () => {
  const enc = new TextEncoder();
  /** A file from a header (object or raw text), `data` bytes and optionally a forged N. */
  function build(header: unknown, data = 0, n?: bigint): Uint8Array {
    const text = enc.encode(typeof header === 'string' ? header : JSON.stringify(header));
    const out = new Uint8Array(8 + text.length + data);
    new DataView(out.buffer).setBigUint64(0, n ?? BigInt(text.length), true);
    out.set(text, 8);
    return out;
  }
  const t = (dtype: string, shape: unknown, offsets: unknown) => ({ dtype, shape, data_offsets: offsets });
  const good = build({ a: t('F32', [2], [0, 8]) }, 8);

  type Case = [string, () => Uint8Array | unknown, typeof TypeError | typeof RangeError, RegExp];
  const cases: Case[] = [
    ['empty file', () => new Uint8Array(0), RangeError, /file is 0 bytes, shorter than the 8-byte header length/],
    ['truncated length', () => new Uint8Array(5), RangeError, /file is 5 bytes/],
    ['header length beyond the file', () => good.subarray(0, 20), RangeError, /header length \d+ exceeds the 12 bytes after it/],
    ['huge header length', () => build('{}', 0, 2n ** 63n), RangeError, /header length 9223372036854775808 exceeds/],
    ['header length over the limit', () => { const f = new Uint8Array(8 + 100_000_008); new DataView(f.buffer).setBigUint64(0, 100_000_001n, true); return f; },
      RangeError, /header length 100000001 exceeds the limit of 100000000 bytes/],
    ['bad JSON', () => build('{"a": ', 0), TypeError, /header is not valid UTF-8 JSON/],
    ['invalid UTF-8', () => { const f = build('{"a":1}'); f[10] = 0xff; return f; }, TypeError, /header is not valid UTF-8 JSON/],
    ['zero header length', () => build('', 0), TypeError, /header is not valid UTF-8 JSON/],
    ['array header', () => build([1, 2]), TypeError, /header must be a JSON object, got Array\(2\)/],
    ['null header', () => build('null'), TypeError, /header must be a JSON object, got null/],
    ['number header', () => build('42'), TypeError, /header must be a JSON object, got 42/],
    ['entry not an object', () => build({ w: 3 }), TypeError, /tensor "w" must be an object \{dtype, shape, data_offsets\}, got 3/],
    ['a 100,000-dim shape of the wrong size: the message gives its ends and its length',
      () => build({ w: t('F32', Array(100_000).fill(1), [0, 8]) }, 8), RangeError,
      /^loadSafetensors: tensor "w" holds 8 bytes, but shape \[1, 1, 1, 1, 1, 1, 1, 1, …, 1, 1\] \(100000 dims\) of F32 needs 4$/],
    ['a megabyte dtype and name are cut in the message', () => build({ ['n'.repeat(1 << 20)]: t('x'.repeat(1 << 20), [1], [0, 4]) }, 4), RangeError,
      /^loadSafetensors: tensor "n{200}"… \(1048576 characters\) has unsupported dtype "x{200}"… \(1048576 characters\) \(supported: .{0,200}\)$/],
    ['dtype missing', () => build({ w: { shape: [1], data_offsets: [0, 4] } }, 4), TypeError, /tensor "w" dtype must be a string, got undefined/],
    ['unknown dtype', () => build({ w: t('Q4_K', [1], [0, 1]) }, 1), RangeError, /tensor "w" has unsupported dtype "Q4_K" \(supported: F32, F16, BF16, I8, F64, I64, U64, I32, U32, I16, U16, U8, BOOL\)/],
    ['shape not an array', () => build({ w: t('F32', 2, [0, 8]) }, 8), TypeError, /tensor "w" shape must be an array of integers, got 2/],
    ['shape with a string', () => build({ w: t('F32', ['2'], [0, 8]) }, 8), TypeError, /tensor "w" shape\[0\] must be a non-negative integer, got "2"/],
    ['negative shape', () => build({ w: t('F32', [2, -1], [0, 8]) }, 8), RangeError, /tensor "w" shape\[1\] must be a non-negative integer, got -1/],
    ['fractional shape', () => build({ w: t('F32', [1.5], [0, 6]) }, 8), RangeError, /tensor "w" shape\[0\] must be written as an integer \(the format reads a usize\), got 1\.5/],
    ['shape overflowing', () => build({ w: t('F32', [2 ** 30, 2 ** 30, 2 ** 30], [0, 8]) }, 8), RangeError, /tensor "w" shape .* more elements than a safe integer/],
    ['offsets not a pair', () => build({ w: t('F32', [2], [0]) }, 8), TypeError, /tensor "w" data_offsets must be an array of two integers/],
    ['offsets of strings', () => build({ w: t('F32', [2], ['0', '8']) }, 8), TypeError, /tensor "w" data_offsets must be/],
    ['negative offset', () => build({ w: t('F32', [2], [-8, 0]) }, 8), RangeError, /tensor "w" data_offsets \[-8, 0\] must be integers with 0 <= begin <= end/],
    ['begin after end', () => build({ w: t('F32', [0], [8, 4]) }, 8), RangeError, /tensor "w" data_offsets \[8, 4\]/],
    ['fractional offset', () => build({ w: t('F32', [1], [0.5, 4.5]) }, 8), RangeError, /tensor "w" data_offsets\[0\] must be written as an integer \(the format reads a usize\), got 0\.5/],
    ['offset out of range', () => build({ w: t('F32', [2], [4, 12]) }, 8), RangeError, /tensor "w" data_offsets \[4, 12\] end beyond the 8-byte data buffer/],
    ['truncated data', () => good.subarray(0, good.length - 1), RangeError, /tensor "a" data_offsets \[0, 8\] end beyond the 7-byte data buffer/],
    ['size mismatch', () => build({ w: t('F16', [3], [0, 8]) }, 8), RangeError, /tensor "w" holds 8 bytes, but shape \[3\] of F16 needs 6/],
    ['overlap', () => build({ a: t('F32', [2], [0, 8]), b: t('F32', [2], [4, 12]) }, 12), RangeError, /tensor "b" data_offsets \[4, 12\] overlap tensor "a" \[0, 8\]/],
    ['same bytes twice', () => build({ a: t('F32', [2], [0, 8]), b: t('BF16', [4], [0, 8]) }, 8), RangeError, /overlap tensor/],
    // The reference reader sorts empty tensors with the rest: one must sit between two others.
    ['an empty tensor inside another', () => build({ a: t('F32', [2], [0, 8]), e: t('F32', [0], [4, 4]) }, 8), RangeError,
      /tensor "e" data_offsets \[4, 4\] overlap tensor "a" \[0, 8\]/],
    ['a partial shape product past 2^53 (checked multiplication)', () => build({ w: t('F32', [2 ** 26, 2 ** 26, 2 ** 26, 0], [0, 0]) }, 0),
      RangeError, /tensor "w" shape \[67108864, 67108864, 67108864, 0\] has more elements than a safe integer/],
    ['metadata not an object', () => build({ __metadata__: 'x' }), TypeError, /"__metadata__" must be an object of strings/],
    ['metadata value not a string', () => build({ __metadata__: { epoch: 3 } }), TypeError, /"__metadata__" entry "epoch" must be a string, got 3/],
    ['not bytes', () => [1, 2, 3], TypeError, /loadSafetensors: bytes must be a Uint8Array \(or Node Buffer\) or an ArrayBuffer, got Array\(3\)/],
    ['a Float32Array', () => new Float32Array(4), TypeError, /bytes must be a Uint8Array/],
  ];
  it.each(cases)('%s', (_, make, Kind, message) => {
    const bytes = make();
    expect(() => loadSafetensors(bytes as Uint8Array)).toThrow(Kind);
    expect(() => loadSafetensors(bytes as Uint8Array)).toThrow(message);
    // readSafetensors reads through the same checks; its errors are named after it
    expect(() => readSafetensors(bytes as Uint8Array)).toThrow(new RegExp(message.source.replace(/loadSafetensors/g, 'readSafetensors'), message.flags));
    if (/^\^?loadSafetensors: /.test(message.source) || !message.source.includes('Safetensors')) {
      expect(() => readSafetensors(bytes as Uint8Array)).toThrow(/^readSafetensors: /);
      expect(() => quantizeSafetensors(bytes as Uint8Array)).toThrow(/^quantizeSafetensors: /);
    }
  });

  it('keys and numbers the text check must let through: escapes, nested values, metadata numbers-as-strings, spaces', () => {
    // "a\"b" and "a\\u0022b" are one key written two ways: JSON.parse reads both as a"b.
    expect(() => loadSafetensors(build('{"a\\"b": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, "a\\u0022b": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}', 8)))
      .toThrow(/header has the key "a\\"b" twice/);
    const f = build('{ "__metadata__" : { "x.y" : "1.0e3", "[" : "{" } , "a\\\\" : { "dtype" : "F32" , "shape" : [ 1 , 2 ] , "data_offsets" : [ 0 , 8 ] } }', 8);
    expect(readSafetensors(f).metadata).toEqual({ 'x.y': '1.0e3', '[': '{' });
    expect(loadSafetensors(f)['a\\']).toEqual(new Float32Array(2));
  });

  it('a well-formed file with zero-sized tensors reads', () => {
    const f = build({ a: t('F32', [1], [4, 8]), e: t('F16', [0, 3], [4, 4]), b: t('U8', [4], [0, 4]), __metadata__: { k: 'v' } }, 8);
    const r = readSafetensors(f);
    expect(r.tensors.e!.shape).toEqual([0, 3]);
    expect(r.tensors.e!.data.length).toBe(0);
    expect(r.metadata).toEqual({ k: 'v' });
    expect(loadSafetensors(good).a).toEqual(new Float32Array(2));
    // "__metadata__": null is no metadata, as the reference reader's Option reads it.
    expect(readSafetensors(build({ a: t('F32', [2], [0, 8]), __metadata__: null }, 8)).metadata).toEqual({});
  });

  // The format's rules, as the reference reader applies them: every byte of the data buffer
  // belongs to a tensor, and the header is the JSON object from its first byte.
  it.each([
    ['a hole between tensors', () => build({ a: t('F32', [1], [0, 4]), b: t('F32', [1], [8, 12]) }, 12),
      /tensor "b" data_offsets \[8, 12\] leave bytes 4\.\.8 of the data buffer unindexed/],
    ['a hole at the start', () => build({ a: t('F32', [1], [4, 8]) }, 8), /tensor "a" data_offsets \[4, 8\] leave bytes 0\.\.4/],
    ['trailing bytes', () => build({ a: t('F32', [2], [0, 8]) }, 12), /file has 4 bytes after the last tensor's data \(8 of 12 indexed\)/],
    ['a duplicated key (JSON keeps the last; here the first one\'s bytes would be a hole)',
      () => build('{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, "a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}', 8),
      /header has the key "a" twice \(the format disallows duplicate keys\)/],
    // Duplicates that leave no hole (found by a review): JSON.parse would keep the last of each.
    ['the same entry twice', () => build('{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, "a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}', 4),
      /header has the key "a" twice/],
    ['an entry with an unknown dtype, then a valid one', () => build('{"a": {"dtype": "Q4_K"}, "a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}', 4),
      /header has the key "a" twice/],
    ['a key twice inside an entry', () => build('{"a": {"dtype": "Q4_K", "dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}', 4),
      /tensor "a" has the key "dtype" twice/],
    ['__metadata__ twice', () => build('{"__metadata__": {"k": "v"}, "__metadata__": {"k": "w"}, "a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}', 4),
      /header has the key "__metadata__" twice/],
    ['a metadata key twice', () => build('{"__metadata__": {"k": "v", "k": "w"}, "a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}', 4),
      /"__metadata__" has the key "k" twice/],
    ['a shape written as 1.0', () => build('{"a": {"dtype": "F32", "shape": [1.0], "data_offsets": [0, 4]}}', 4),
      /tensor "a" shape\[0\] must be written as an integer \(the format reads a usize\), got 1\.0/],
    ['an offset written as 4e0', () => build('{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4e0]}}', 4),
      /tensor "a" data_offsets\[1\] must be written as an integer \(the format reads a usize\), got 4e0/],
    ['a header that does not start with {', () => build(' {"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}', 8),
      /header must start with "\{" \(0x7B; only trailing spaces may pad the JSON\), got byte 0x20/],
  ] as [string, () => Uint8Array, RegExp][])('%s is a RangeError', (_, make, message) => {
    expect(() => loadSafetensors(make())).toThrow(RangeError);
    expect(() => loadSafetensors(make())).toThrow(message);
    expect(() => readSafetensors(make())).toThrow(message);
  });
});
