// Deterministic test data (mulberry32), so a failure reproduces.
import { rng } from './mulberry32.mjs';

export { rng };

/** Uniform values in [-scale, scale). */
export function randomF32(length: number, seed: number, scale = 1): Float32Array {
  const next = rng(seed);
  const out = new Float32Array(length);
  for (let i = 0; i < length; i++) out[i] = (next() * 2 - 1) * scale;
  return out;
}

/** 0/1 bytes, each 1 with probability p. */
export function randomMask(length: number, seed: number, p = 0.7): Uint8Array {
  const next = rng(seed);
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = next() < p ? 1 : 0;
  return out;
}

export function randomInts(length: number, seed: number, lo: number, hi: number): Int32Array {
  const next = rng(seed);
  const out = new Int32Array(length);
  for (let i = 0; i < length; i++) out[i] = lo + Math.floor(next() * (hi - lo + 1));
  return out;
}
