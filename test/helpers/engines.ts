// Engines for the threaded tests: threads 1, 2, 3, with the pool forced on the threaded ones so
// every call — however small — runs on the workers (the engine's test hook).
import { createEngine, type Engine, type EngineOptions } from '../../dist/index.js';

const DEBUG = Symbol.for('wasm-attention.debug');

/** Sends every call of `engine` to its workers (no-op on one thread). */
export function forcePool(engine: Engine): Engine {
  (engine as unknown as Record<symbol, () => { forcePool(): void }>)[DEBUG]().forcePool();
  return engine;
}

/** One engine per thread count, the pool forced. */
export async function forcedEngines(threads: number[] = [1, 2, 3], options: EngineOptions = {}): Promise<Engine[]> {
  return Promise.all(threads.map(async (n) => forcePool(await createEngine({ ...options, threads: n }))));
}
