// Feature detection, once per process (the first engine's result serves the next): tiny probe
// modules are validated (never run), and the result is one record the engine exposes.
import type { Features } from './types.js';

/** A module with one function of type `sig`, body `body` (locals declaration included). */
function probe(sig: number[], body: number[]): Uint8Array<ArrayBuffer> {
  const type = [0x01, 0x60, ...sig];        // one func type
  const code = [0x01, body.length, ...body]; // one body
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // \0asm, version 1
    0x01, type.length, ...type,                     // type section
    0x03, 0x02, 0x01, 0x00,                         // function section: func 0 has type 0
    0x0a, code.length, ...code,                     // code section
  ]);
}

// (func (result v128) i32.const 0 i32x4.splat)
const SIMD_PROBE = probe([0x00, 0x01, 0x7b], [0x00, 0x41, 0x00, 0xfd, 0x11, 0x0b]);

// (func (param v128) (result v128) local.get 0 local.get 0 local.get 0 f32x4.relaxed_madd)
const RELAXED_SIMD_PROBE = probe(
  [0x01, 0x7b, 0x01, 0x7b],
  [0x00, 0x20, 0x00, 0x20, 0x00, 0x20, 0x00, 0xfd, 0x85, 0x02, 0x0b],
);

function validates(bytes: Uint8Array<ArrayBuffer>): boolean {
  try {
    return WebAssembly.validate(bytes);
  } catch {
    return false;
  }
}

/** Shared memory needs SharedArrayBuffer and, in a browser, cross-origin isolation. */
function sharedMemoryAvailable(): boolean {
  if (typeof SharedArrayBuffer === 'undefined') return false;
  if ((globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === false) return false;
  try {
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
    return memory.buffer instanceof SharedArrayBuffer;
  } catch {
    return false;
  }
}

let detected: Features | undefined;

/** The features of this JavaScript engine (computed on first use). */
export function detectFeatures(): Features {
  detected ??= Object.freeze({
    simd: validates(SIMD_PROBE),
    relaxedSimd: validates(RELAXED_SIMD_PROBE),
    sharedMemory: sharedMemoryAvailable(),
  });
  return detected;
}

/** Exposed for tests: the probe bytes. */
export const PROBES = { simd: SIMD_PROBE, relaxedSimd: RELAXED_SIMD_PROBE } as const;
