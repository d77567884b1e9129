// Engines for the threaded tests: threads 1, 2, 3, with the pool forced on the threaded ones so
// every call — however small — runs on the workers (the engine's test hook).
import { createEngine, type Engine, type EngineOptions } from '../../dist/index.js';
import type { Arena } from '../../src/wasm/arena.js';

const DEBUG = Symbol.for('wasm-attention.debug');

/** The engine's test hooks (engine[DEBUG]()): the pool forced, its run count, the arena. */
export interface Internals {
  forcePool(on?: boolean): void;
  pool?: () => Promise<{ runs: number }>;
  arena: Arena;
}
export const internals = (e: Engine): Internals => (e as unknown as Record<symbol, () => Internals>)[DEBUG]();

/** Sends every call of `engine` to its workers (no-op on one thread). */
export function forcePool(engine: Engine): Engine {
  internals(engine).forcePool();
  return engine;
}

/** One engine per thread count, the pool forced. */
export async function forcedEngines(threads: number[] = [1, 2, 3], options: EngineOptions = {}): Promise<Engine[]> {
  return Promise.all(threads.map(async (n) => forcePool(await createEngine({ ...options, threads: n }))));
}
