// Reading the PyTorch fixtures in Node (test/fixtures/make_fixtures.py writes them; how a case
// is run and checked lives in test/runtimes/fixture-cases.mjs, shared with the runtime smoke suite).
import { readFileSync } from 'node:fs';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export function loadFixture(name: string): Json[] {
  return JSON.parse(readFileSync(new URL(`../fixtures/${name}.json`, import.meta.url), 'utf8')).cases;
}

/** A tensor of the layer fixtures (make_layer_fixtures.py): base64 of little-endian f32. */
export type FixtureTensor = { shape: number[]; b64: string };
/** A mask of the layer fixtures: bool as 0/1 numbers, float as a tensor. */
export type FixtureMask = { dtype: 'bool'; shape: number[]; data: number[] } | ({ dtype: 'float' } & FixtureTensor);

export function fixtureF32(t: FixtureTensor): Float32Array {
  const bytes = Buffer.from(t.b64, 'base64');
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
}
