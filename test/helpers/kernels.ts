// Direct access to a kernel build for the kernel tests: one memory, the raw exports, and a
// bump allocator. Builds are read from dist/, the test-only ones from build/ (npm test builds
// first).
import { readFileSync } from 'node:fs';
import type { KernelExports } from '../../src/wasm/abi.js';
import { detectFeatures } from '../../src/features.js';
import type { KernelVariant } from '../../src/types.js';

/** The test-only builds (scripts/build.mjs): the baseline kernels with the int8 relaxed dot
 * emulated as x64 AVX-VNNI (unsigned), as Arm's sdot and x64 AVX-VNNI-INT8 (signed) and as Arm's
 * smull sequence with i16 pair sums (V8's Liftoff on Arm) compute it; shared memory only. */
export const DOT_EMULATIONS = ['dot-emulation-unsigned', 'dot-emulation-signed', 'dot-emulation-arm-smull'] as const;
/** engine.int8Dot each test build must give. */
export const EMULATED_INT8_DOT = {
  'dot-emulation-unsigned': 'relaxed_dot_i8x16_i7x16',
  'dot-emulation-signed': 'relaxed_dot_i8x16_i7x16_signed',
  'dot-emulation-arm-smull': 'relaxed_dot_i8x16_i7x16_signed',
} as const;
/** A test-only build whose emulated dot the probe must refuse (x64 without VNNI: pmaddubsw's
 * saturating pair sums); its engines run the i16 tile. */
export const REFUSED_EMULATION = 'dot-emulation-x64-pmaddubsw';
export type KernelBuild = KernelVariant | typeof DOT_EMULATIONS[number] | typeof REFUSED_EMULATION;

/** The bytes of a test-only build (build/), e.g. for createEngine's `wasm` option. */
export function emulationBytes(build: typeof DOT_EMULATIONS[number] | typeof REFUSED_EMULATION): Uint8Array {
  return readFileSync(`build/kernels-${build}.wasm`);
}

export interface KernelHarness {
  variant: KernelBuild;
  /** The build's bytes. */
  bytes: Uint8Array;
  wasm: KernelExports;
  memory: WebAssembly.Memory;
  /** Places a copy of `data` (or `length` zeros) and returns its byte address. */
  f32(data: ArrayLike<number> | number): number;
  u8(data: ArrayLike<number>): number;
  i32(data: ArrayLike<number>): number;
  read(ptr: number, length: number): Float32Array;
  reset(): void;
}

/** The kernel builds this process can run: baseline always, relaxed under the V8 flag. */
export function kernelVariants(): KernelVariant[] {
  return detectFeatures().relaxedSimd ? ['simd', 'relaxed'] : ['simd'];
}

export function loadKernels(variant: KernelBuild, shared = true): KernelHarness {
  const emulation = variant.startsWith('dot-emulation');
  if (emulation && !shared) throw new Error(`${variant} is a shared-memory build only`);
  const file = emulation ? `build/kernels-${variant}.wasm` : `dist/kernels-${variant}${shared ? '' : '-unshared'}.wasm`;
  const bytes = readFileSync(file);
  const module = new WebAssembly.Module(bytes);
  const memory = new WebAssembly.Memory({ initial: 64, maximum: 32768, shared });
  const wasm = new WebAssembly.Instance(module, { env: { memory } }).exports as unknown as KernelExports;
  let top = 64;
  const place = (bytes: number): number => {
    const at = top;
    top += Math.ceil(bytes / 16) * 16 + 16; // a 16-byte gap between buffers catches overruns
    const need = top - memory.buffer.byteLength;
    if (need > 0) memory.grow(Math.ceil(need / 65536));
    return at;
  };
  return {
    variant, bytes, wasm, memory,
    f32(data) {
      const length = typeof data === 'number' ? data : data.length;
      const at = place(length * 4);
      const view = new Float32Array(memory.buffer, at, length);
      if (typeof data === 'number') view.fill(0); else view.set(data);
      return at;
    },
    u8(data) {
      const at = place(data.length);
      new Uint8Array(memory.buffer, at, data.length).set(data);
      return at;
    },
    i32(data) {
      const at = place(data.length * 4);
      new Int32Array(memory.buffer, at, data.length).set(data);
      return at;
    },
    read(ptr, length) {
      return new Float32Array(memory.buffer, ptr, length).slice();
    },
    reset() {
      new Uint8Array(memory.buffer).fill(0);
      top = 64;
    },
  };
}
