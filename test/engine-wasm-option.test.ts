// createEngine({ wasm }): kernels handed in as a compiled module, bytes or a URL (for runtimes
// that forbid compiling from bytes, and strict CSPs).
import { describe, expect, it, vi } from 'vitest';
import { readFileSync } from 'node:fs';
import { createEngine } from '../dist/index.js';
import { randomF32 } from './helpers/random.js';

const file = (name: string) => new URL(`../dist/${name}`, import.meta.url);
const q = randomF32(2 * 40 * 8, 1);
const o = { batch: 1, heads: 2, seqQ: 40, seqK: 40, headDim: 8, causal: true };

describe('options.wasm', () => {
  it('accepts a WebAssembly.Module, bytes, a URL and a URL string, all with the same results', async () => {
    const reference = await (await createEngine()).attention(q, q, q, o);
    const bytes = readFileSync(file('kernels-simd.wasm'));
    // Any ArrayBufferView the type admits: a DataView, and a view at an offset into a larger buffer.
    const padded = new Uint8Array(bytes.length + 12);
    padded.set(bytes, 8);
    const views = [new DataView(new Uint8Array(bytes).buffer), new DataView(padded.buffer, 8, bytes.length), new Uint8Array(padded.buffer, 8, bytes.length)];
    for (const wasm of [new WebAssembly.Module(bytes), bytes, new Uint8Array(bytes).buffer, ...views, file('kernels-simd.wasm'), file('kernels-simd.wasm').href]) {
      const e = await createEngine({ wasm, threads: 2 });
      expect(e.kernels).toBe('simd');
      expect(e.threads).toBe(2);
      expect((await e.attention(q, q, q, o)).output).toEqual(reference.output);
      await e.dispose();
    }
  });

  it('an unshared build runs on 1 thread and says why', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    const e = await createEngine({ wasm: readFileSync(file('kernels-simd-unshared.wasm')), threads: 2 });
    expect(e.threads).toBe(1);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0][0])).toMatch(/imports an unshared memory/);
    warn.mockRestore();
    expect((await e.attention(q, q, q, o)).output.length).toBe(2 * 40 * 8);
    await e.dispose();
  });

  it('rejects the wrong type, a combination with options.kernels, and a module that is not ours', async () => {
    await expect(createEngine({ wasm: 42 as never })).rejects.toThrow(/options\.wasm must be a WebAssembly\.Module, its bytes, or a URL, got 42/);
    await expect(createEngine({ wasm: file('kernels-simd.wasm'), kernels: 'simd' })).rejects.toThrow(/options\.kernels cannot be combined with options\.wasm/);
    await expect(createEngine({ wasm: new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]) })).rejects.toThrow(/not a wasm-attention kernel build/);
    await expect(createEngine({ wasm: new Uint8Array([1, 2, 3]) })).rejects.toThrow(/could not compile options\.wasm/);
  });
});
