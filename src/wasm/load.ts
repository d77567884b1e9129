// Finding, compiling and instantiating the kernel module. The builds sit next to the bundled
// dist/index.js and are located only through static `new URL('./x.wasm', import.meta.url)`
// forms, which bundlers rewrite. A module is compiled once per (variant, memory kind) and
// may be instantiated many times on one memory (one instance per worker, later).
import type { KernelVariant } from '../types.js';
import type { KernelExports } from './abi.js';
import { MAX_PAGES } from './layout.js';
import { stateError } from '../errors.js';
import { SYNC_WASM, instantiateModule } from './sync-wasm.js';

/** Where a build lives. Shared builds import a shared memory; unshared ones a plain one. */
export function kernelUrl(variant: KernelVariant, shared: boolean): URL {
  if (variant === 'relaxed') {
    return shared
      ? new URL('./kernels-relaxed.wasm', import.meta.url)
      : new URL('./kernels-relaxed-unshared.wasm', import.meta.url);
  }
  return shared
    ? new URL('./kernels-simd.wasm', import.meta.url)
    : new URL('./kernels-simd-unshared.wasm', import.meta.url);
}

/** The bytes at a URL: file: through node:fs (Node, Deno, Bun), anything else through fetch. */
export async function fetchBytes(url: URL): Promise<ArrayBuffer> {
  if (url.protocol === 'file:') {
    const fs = 'node:fs/promises';
    const { readFile } = (await import(/* @vite-ignore */ fs)) as typeof import('node:fs/promises');
    const bytes = await readFile(url);
    return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  }
  const response = await fetch(url);
  if (!response.ok) throw stateError(`could not load ${url.href}: HTTP ${response.status}`);
  return response.arrayBuffer();
}

/** `bytes` compiled: synchronously in Node (SYNC_WASM), else through `WebAssembly.compile`. */
function compileBytes(bytes: BufferSource): Promise<WebAssembly.Module> {
  if (!SYNC_WASM) return WebAssembly.compile(bytes);
  try {
    return Promise.resolve(new WebAssembly.Module(bytes));
  } catch (error) {
    return Promise.reject(error);
  }
}

const compiled = new Map<string, Promise<WebAssembly.Module>>();

/** The compiled module of a build (compiled once per process). */
export function compileKernels(variant: KernelVariant, shared: boolean): Promise<WebAssembly.Module> {
  const key = `${variant}/${shared ? 'shared' : 'unshared'}`;
  let module = compiled.get(key);
  if (module === undefined) {
    const file = `kernels-${variant}${shared ? '' : '-unshared'}.wasm`;
    let where = file;
    module = (async () => {
      const url = kernelUrl(variant, shared); // a TypeError where import.meta.url is missing (workerd)
      where = url.href;
      return compileBytes(await fetchBytes(url));
    })().catch((cause: unknown) => {
      compiled.delete(key);
      throw stateError(`could not compile the ${variant} kernels (${where}): ${String(cause).replace(/\.$/, '')}. ` +
        'Where wasm cannot be fetched or compiled from bytes (Cloudflare Workers, strict CSPs), pass the ' +
        `compiled module as options.wasm (import kernels from 'wasm-attention/${file}')`);
    });
    compiled.set(key, module);
  }
  return module;
}

/** A memory the kernels accept: `initialPages`, growable to MAX_PAGES. */
export function createMemory(shared: boolean, initialPages = 16): WebAssembly.Memory {
  return new WebAssembly.Memory({ initial: initialPages, maximum: MAX_PAGES, shared });
}

/** Instantiates the kernels on `memory` (their only import). */
export async function instantiateKernels(
  module: WebAssembly.Module, memory: WebAssembly.Memory,
): Promise<KernelExports> {
  const instance = await instantiateModule(module, { env: { memory } });
  return instance.exports as unknown as KernelExports;
}

/** Kernels the caller supplies (for runtimes that forbid compiling from bytes, or strict CSPs). */
export type KernelSource = WebAssembly.Module | ArrayBuffer | ArrayBufferView | URL | string;

/** Compiles (or takes) a caller-supplied kernel module. */
export async function compileGiven(source: KernelSource): Promise<WebAssembly.Module> {
  if (source instanceof WebAssembly.Module) return source;
  try {
    if (source instanceof URL || typeof source === 'string') {
      return await compileBytes(await fetchBytes(new URL(source, import.meta.url)));
    }
    // Any view (a DataView, a Buffer, a typed array of any element size) as the bytes it spans:
    // WebAssembly.compile takes ArrayBuffers and typed arrays, not every ArrayBufferView.
    const bytes = ArrayBuffer.isView(source) ? new Uint8Array(source.buffer, source.byteOffset, source.byteLength) : source;
    return await compileBytes(bytes as BufferSource);
  } catch (cause) {
    throw stateError(`could not compile options.wasm: ${String(cause)}`);
  }
}

/** Instantiates a module on a new memory of the kind it imports (shared first, when allowed). */
export async function instantiateGiven(
  module: WebAssembly.Module, sharedAllowed: boolean,
): Promise<{ kernels: KernelExports; memory: WebAssembly.Memory; variant: KernelVariant }> {
  const kinds = sharedAllowed ? [true, false] : [false];
  let failure: unknown;
  for (const shared of kinds) {
    const memory = createMemory(shared);
    try {
      const kernels = await instantiateKernels(module, memory);
      if (!kernels.KERNEL_RELAXED_SIMD || typeof kernels.f32_attention !== 'function') {
        throw stateError('options.wasm is not a wasm-attention kernel build');
      }
      return { kernels, memory, variant: kernels.KERNEL_RELAXED_SIMD.value === 1 ? 'relaxed' : 'simd' };
    } catch (error) {
      if (!(error instanceof WebAssembly.LinkError)) throw error;
      failure = error;
    }
  }
  throw stateError(`options.wasm could not be instantiated: ${String(failure)}` +
    (sharedAllowed ? '' : ' (this runtime has no shared memory: use a kernels-*-unshared.wasm build)'));
}
