// Which form of WebAssembly compilation and instantiation to use, and instantiation in that form;
// its own module so that the worker script can import it without the kernel URLs of load.ts.

/**
 * Whether to compile and instantiate synchronously: in Node (and Bun, which answers to the same
 * test). V8's asynchronous `WebAssembly.compile` / `instantiate` settle through a platform task,
 * and a Node process whose event loop has nothing else pending waits for such tasks in
 * `NodePlatform::DrainTasks`, which can deadlock with a concurrent compiler job
 * (nodejs/node#54918, open at Node 20.20): a script creating engines in a loop hung for good after a
 * few hundred of them (threads 1 and 2). The synchronous forms post no task, and the kernels
 * (150–190 KB) compile in milliseconds. Browsers, Deno and workerd keep the asynchronous forms
 * (a page's main thread may refuse to compile a larger module synchronously).
 */
export const SYNC_WASM = typeof process !== 'undefined' && typeof process.versions?.node === 'string' &&
  typeof (globalThis as { Deno?: unknown }).Deno === 'undefined' &&
  (globalThis as { navigator?: { userAgent?: unknown } }).navigator?.userAgent !== 'Cloudflare-Workers';

/** `module` instantiated with `imports`: synchronously where SYNC_WASM, else asynchronously. */
export async function instantiateModule(module: WebAssembly.Module, imports: WebAssembly.Imports): Promise<WebAssembly.Instance> {
  return SYNC_WASM ? new WebAssembly.Instance(module, imports) : WebAssembly.instantiate(module, imports);
}
