// The memory map is defined once per side; the two must agree.
import { describe, expect, it } from 'vitest';
import { kernelVariants, loadKernels } from '../helpers/kernels.js';
import * as layout from '../../src/wasm/layout.js';

describe.each(kernelVariants())('layout (%s)', (variant) => {
  it('the kernel globals equal the host mirror', () => {
    const { wasm } = loadKernels(variant);
    expect(wasm.ALIGN.value).toBe(layout.ALIGN);
    expect(wasm.GEMM_STRIP_ROWS.value).toBe(layout.GEMM_STRIP_ROWS);
    expect(wasm.GEMM_PANEL_COLS.value).toBe(layout.GEMM_PANEL_COLS);
    expect(wasm.ATTENTION_QUERY_TILE.value).toBe(layout.ATTENTION_QUERY_TILE);
    expect(wasm.ATTENTION_QUERY_CHUNK.value).toBe(layout.ATTENTION_QUERY_CHUNK);
    expect(wasm.ATTENTION_KEY_BLOCK.value).toBe(layout.ATTENTION_KEY_BLOCK);
    expect(wasm.ATTENTION_SCRATCH_BYTES.value).toBe(layout.ATTENTION_SCRATCH_BYTES);
    expect(wasm.ATTENTION_ROW_KEY_BLOCK.value).toBe(layout.ATTENTION_ROW_KEY_BLOCK);
    // A one-row chunk's S row starts at the QP region and must end inside the slot (QP and KP).
    expect(layout.ATTENTION_ROW_KEY_BLOCK).toBeLessThanOrEqual(
      (layout.ATTENTION_QUERY_CHUNK + layout.ATTENTION_KEY_BLOCK) * layout.ATTENTION_PACKED_DIM);
    expect(wasm.I8_GEMM_K_ALIGN.value).toBe(layout.I8_GEMM_K_ALIGN);
    expect(wasm.I8_GEMM_STRIP_HEADER.value).toBe(layout.I8_GEMM_STRIP_HEADER);
    expect(wasm.I8_GEMM_PANEL_HEADER.value).toBe(layout.I8_GEMM_PANEL_HEADER);
    expect(wasm.I8_GEMM_A_MAX.value).toBe(layout.I8_GEMM_A_MAX);
  });

  it('each build names itself: KERNEL_RELAXED_SIMD and KERNEL_SHARED_MEMORY', () => {
    for (const shared of [true, false]) {
      const { wasm } = loadKernels(variant, shared);
      expect(wasm.KERNEL_RELAXED_SIMD.value).toBe(variant === 'relaxed' ? 1 : 0);
      expect(wasm.KERNEL_SHARED_MEMORY.value).toBe(shared ? 1 : 0);
    }
  });

  it('both memory kinds load: shared and unshared builds', () => {
    expect(loadKernels(variant, true).memory.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(loadKernels(variant, false).memory.buffer).toBeInstanceOf(ArrayBuffer);
  });

  it('the module imports only env.memory and writes no data at instantiation', async () => {
    const { readFileSync } = await import('node:fs');
    const module = new WebAssembly.Module(readFileSync(`dist/kernels-${variant}.wasm`));
    expect(WebAssembly.Module.imports(module)).toEqual([{ module: 'env', name: 'memory', kind: 'memory' }]);
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 32768, shared: true });
    new Uint8Array(memory.buffer).fill(0xab);
    new WebAssembly.Instance(module, { env: { memory } });
    expect(new Uint8Array(memory.buffer).every((x) => x === 0xab)).toBe(true);
  });
});
