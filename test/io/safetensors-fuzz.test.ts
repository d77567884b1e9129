// A seeded fuzz of loadSafetensors and readSafetensors on damaged files: the committed fixtures
// (F32, F16, BF16, I32, mixed dtypes, int8 with scales, an HF GPT-2 checkpoint and its int8
// copy) cut short, with bytes of the header or of the data changed, with a forged header length,
// or with one entry of the header rewritten (dtype, shape, offsets, a tensor dropped or added, an
// I8 tensor's scale, the metadata). Every file must either load, each tensor then holding the
// elements its shape says (an int8 tensor's too, dequantized when read), or throw a TypeError or
// RangeError whose message starts `loadSafetensors: ` (`readSafetensors: `): never another error,
// never a value of another length. readSafetensors must reject it with the same error, named
// `readSafetensors: `, or read a file whose only fault is an int8 scale, which it does not pair.
//
// WASM_ATTENTION_SEED (default 0x5afe), WASM_ATTENTION_FILES (default 600; `npm run
// test:fuzz:inputs`: 20000), WASM_ATTENTION_FILE=i replays file i alone.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadSafetensors, quantizeSafetensors, readSafetensors, safetensorsShapes } from '../../dist/index.js';
import { callSeed, classOf, rand, type Rand } from '../helpers/bad-inputs.js';
import { wholeNumber } from '../helpers/differential.js';

const env = process.env;
const SEED = env.WASM_ATTENTION_SEED === undefined ? 0x5afe : wholeNumber('WASM_ATTENTION_SEED', env.WASM_ATTENTION_SEED);
const FILES = env.WASM_ATTENTION_FILES === undefined ? 600 : wholeNumber('WASM_ATTENTION_FILES', env.WASM_ATTENTION_FILES);
const ONLY = env.WASM_ATTENTION_FILE === undefined ? undefined : wholeNumber('WASM_ATTENTION_FILE', env.WASM_ATTENTION_FILE);

const read = (path: string) => new Uint8Array(readFileSync(new URL(`../fixtures/${path}`, import.meta.url)));
const gpt2 = read('gpt2/tiny-f32/model.safetensors');
const SOURCES: [string, Uint8Array][] = [
  ...['f32', 'f16', 'bf16', 'int32', 'int8', 'linear', 'mixed'].map((n): [string, Uint8Array] => [n, read(`safetensors/${n}.safetensors`)]),
  ['gpt2 tiny-f32', gpt2],
  ['gpt2 tiny-f32 int8', quantizeSafetensors(gpt2).bytes],
  ['bert f16', read('bert/f16-no-pooler/model.safetensors')],
];

/** A file's header (parsed) and data bytes. */
function split(bytes: Uint8Array): { header: Record<string, any>; data: Uint8Array } { // eslint-disable-line @typescript-eslint/no-explicit-any
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  return { header: JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))), data: bytes.subarray(8 + n) };
}

function join(headerText: string, data: Uint8Array, length?: bigint): Uint8Array {
  const text = new TextEncoder().encode(headerText);
  const out = new Uint8Array(8 + text.length + data.length);
  new DataView(out.buffer).setBigUint64(0, length ?? BigInt(text.length), true);
  out.set(text, 8);
  out.set(data, 8 + text.length);
  return out;
}

const DTYPES = ['F32', 'F16', 'BF16', 'I8', 'F64', 'I64', 'U64', 'I32', 'U32', 'I16', 'U16', 'U8', 'BOOL', 'f32', 'Q4_0', '', 'F8_E4M3'];
const NUMBERS = [0, 1, -1, 2, 3, 0.5, 1e9, 2 ** 32, 2 ** 53, -0, 7];

/** One mutation of a header entry (in place); returns what it did. */
function mutateHeader(header: Record<string, any>, r: Rand): string { // eslint-disable-line @typescript-eslint/no-explicit-any
  const names = Object.keys(header).filter((k) => k !== '__metadata__');
  const name = r.pick(names);
  const e = header[name];
  const choice = r.int(0, 9);
  if (choice === 0) { e.dtype = r.pick(DTYPES); return `"${name}".dtype = ${JSON.stringify(e.dtype)}`; }
  if (choice === 1) {
    const shape = [...e.shape];
    const op = r.int(0, 4);
    if (op === 0) shape.push(r.pick([1, 2, 0]));
    else if (op === 1) shape.pop();
    else if (op === 2 && shape.length > 0) shape[r.int(0, shape.length - 1)] = r.pick(NUMBERS);
    else if (op === 3 && shape.length > 0) shape[r.int(0, shape.length - 1)] *= 2;
    else shape.reverse();
    e.shape = shape;
    return `"${name}".shape = ${JSON.stringify(shape)}`;
  }
  if (choice === 2) {
    const [b, end] = e.data_offsets as [number, number];
    const d = r.pick([1, -1, 2, 4, -4, 8, 1 << 20]);
    e.data_offsets = r.pick([[b + d, end + d], [b, end + d], [b + d, end], [end, b], [b, b]]);
    return `"${name}".data_offsets = ${JSON.stringify(e.data_offsets)}`;
  }
  if (choice === 3) { delete header[name]; return `dropped "${name}"`; }
  if (choice === 4) {
    const other = r.pick(names);
    header[`${name}.copy`] = { ...header[other] };
    return `added "${name}.copy" over the bytes of "${other}"`;
  }
  if (choice === 5) {
    const scale = names.find((n) => n.endsWith('_scale'));
    if (scale !== undefined) {
      const s = header[scale];
      const op = r.int(0, 2);
      if (op === 0) s.dtype = r.pick(['F16', 'BF16', 'I8', 'F64']);
      else if (op === 1) s.shape = [...s.shape, 1];
      else delete header[scale];
      return `scale "${scale}": ${op === 0 ? `dtype ${s.dtype}` : op === 1 ? 'shape gains a dim' : 'dropped'}`;
    }
  }
  if (choice === 6) {
    const junk = r.pick([null, 3, 'x', [], { a: 1 }, { quantization: '{"w": 7}' }, { quantization: 'not json' }, { quantization: '{"x": 1}' }]);
    header.__metadata__ = junk;
    return `__metadata__ = ${JSON.stringify(junk)}`;
  }
  if (choice === 7) { e.shape = r.pick(['2', null, {}, [[2]], ['2']]); return `"${name}".shape = ${JSON.stringify(e.shape)}`; }
  if (choice === 8) { e.data_offsets = r.pick([null, [0], ['0', '4'], [0, 4, 8], {}, [0.5, 4]]); return `"${name}".data_offsets = ${JSON.stringify(e.data_offsets)}`; }
  header[name] = r.pick([null, 7, 'x', [], {}]);
  return `"${name}" = ${JSON.stringify(header[name])}`;
}

/** A damaged copy of `bytes`, and a description of the damage. */
function damage(bytes: Uint8Array, r: Rand): [Uint8Array, string] {
  const { header, data } = split(bytes);
  const headerLength = bytes.length - 8 - data.length;
  const kind = r.int(0, 9);
  if (kind === 0) { const n = r.int(0, bytes.length - 1); return [bytes.slice(0, n), `cut at ${n} of ${bytes.length} bytes`]; }
  if (kind === 1) {
    const out = bytes.slice();
    const flips = r.int(1, 3);
    for (let i = 0; i < flips; i++) out[8 + r.int(0, headerLength - 1)] = r.int(0, 255);
    return [out, `${flips} header byte(s) changed`];
  }
  if (kind === 2) {
    const n = r.pick([0n, 1n, BigInt(headerLength - 1), BigInt(headerLength + 1), BigInt(bytes.length), 2n ** 40n, 2n ** 64n - 1n]);
    return [join(JSON.stringify(header), data, n), `header length ${n} for ${headerLength}`];
  }
  if (kind === 3 && data.length > 0) {
    const out = bytes.slice();
    const flips = r.int(1, 8);
    for (let i = 0; i < flips; i++) out[8 + headerLength + r.int(0, data.length - 1)] = r.int(0, 255);
    return [out, `${flips} data byte(s) changed`];
  }
  if (kind === 4) {
    // the same header with the padding the format allows (trailing spaces)
    return [join(JSON.stringify(header) + ' '.repeat(r.int(1, 9)), data), 'header padded with spaces (valid)'];
  }
  if (kind === 5) return [join(JSON.stringify(header), data.subarray(0, Math.max(0, data.length - r.int(1, 64)))), 'data cut short'];
  if (kind === 6) return [join(JSON.stringify(header), new Uint8Array([...data, ...new Uint8Array(r.int(1, 16))])), 'bytes after the last tensor'];
  const what = mutateHeader(header, r);
  return [join(JSON.stringify(header), data), what];
}

const product = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

/** Sources loadSafetensors reads undamaged (safetensors/int8 is an I8 tensor without its scales,
 * readSafetensors' example: only readSafetensors reads it). */
const LOADS = new Set(SOURCES.filter(([, b]) => { try { loadSafetensors(b); return true; } catch { return false; } }).map(([n]) => n));

describe(`damaged safetensors files are read or named (seed ${SEED})`, () => {
  it(`${ONLY !== undefined ? `file ${ONLY}` : `${FILES} files`}`, () => {
    const tally = { loaded: 0, rejected: 0, types: new Map<string, number>() };
    for (let i = ONLY ?? 0; ONLY !== undefined ? i === ONLY : i < FILES; i++) {
      const r = rand(callSeed(SEED, i));
      const [source, clean] = r.pick(SOURCES);
      const [bytes, what] = damage(clean, r);
      const where = `file ${i} (${source}: ${what})\n  replay: WASM_ATTENTION_SEED=${SEED} WASM_ATTENTION_FILE=${i} npx vitest run test/io/safetensors-fuzz.test.ts`;
      let weights: ReturnType<typeof loadSafetensors> | undefined;
      let error: unknown;
      try {
        weights = loadSafetensors(bytes);
        // every tensor read (an int8 one dequantized now), of the length its shape gives
        const shapes = weights[safetensorsShapes];
        for (const key of Object.keys(weights)) {
          const value = weights[key];
          expect(value, `${where}\n  "${key}"`).toBeInstanceOf(Float32Array);
          expect(value.length, `${where}\n  "${key}" against its shape ${JSON.stringify(shapes[key])}`).toBe(product(shapes[key]));
        }
      } catch (e) {
        if ((e as Error)?.name === 'AssertionError') throw e;
        error = e;
      }
      let readError: unknown;
      try {
        const file = readSafetensors(bytes);
        for (const t of Object.values(file.tensors)) {
          // an I8 tensor reads as its codes (readSafetensors pairs no scales)
          expect(t.data.length, `${where}\n  readSafetensors`).toBe(product(t.shape));
        }
      } catch (e) {
        if ((e as Error)?.name === 'AssertionError') throw e;
        readError = e;
      }
      // Both read the file through one parser, each naming itself in its errors; loadSafetensors
      // then pairs each I8 tensor with its scales, which readSafetensors leaves to its caller: a
      // file it rejects, loadSafetensors rejects too.
      if (readError !== undefined) {
        expect(error, `${where}\n  readSafetensors rejected a file loadSafetensors read: ${(readError as Error).message}`).toBeDefined();
        expect(classOf(readError), where).toBe(classOf(error));
        expect((readError as Error).message, where).toBe((error as Error).message.replace(/^loadSafetensors: /, 'readSafetensors: '));
      }
      if (error === undefined) {
        tally.loaded++;
        continue;
      }
      tally.rejected++;
      const kind = classOf(error), message = (error as Error).message;
      tally.types.set(kind, (tally.types.get(kind) ?? 0) + 1);
      expect(kind === 'TypeError' || kind === 'RangeError', `${where}\n  threw ${kind}: ${message}`).toBe(true);
      expect(message, where).toMatch(/^loadSafetensors: /);
      if (/\(valid\)$/.test(what) && LOADS.has(source)) expect.fail(`${where}\n  a valid file was rejected: ${message}`);
    }
    console.log(`safetensors fuzz (seed ${SEED}): ${tally.loaded} files read, ${tally.rejected} rejected (${[...tally.types].map(([k, n]) => `${k} ${n}`).join(', ')})`);
  }, 600_000);
});
