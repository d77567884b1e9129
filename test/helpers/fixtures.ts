// Readers of the PyTorch fixtures (test/fixtures/make_fixtures.py writes them).
import { readFileSync } from 'node:fs';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export function loadFixture(name: string): Json[] {
  return JSON.parse(readFileSync(new URL(`../fixtures/${name}.json`, import.meta.url), 'utf8')).cases;
}

/** Numbers, with the string "-inf" (JSON has no infinities). */
export function f32(values: (number | string)[]): Float32Array {
  return Float32Array.from(values, (x) => (x === '-inf' ? -Infinity : (x as number)));
}

/** A fixture mask {dtype, shape, data} as the array type the API takes. */
export function mask(m: { dtype: 'bool' | 'float'; data: (number | string)[] } | undefined): Uint8Array | Float32Array | undefined {
  if (!m) return undefined;
  return m.dtype === 'bool' ? Uint8Array.from(m.data as number[]) : f32(m.data);
}
