// engine.createTensor: f32 tensors that live in the engine's memory (a resident block, like a
// layer's weights), so that data reused across calls — a KV cache above all — is copied in
// once and then read in place by every call. Writes, reads and dispose go through the engine's
// queue: they happen after every call queued before them, never during one.
import type { EngineTensor } from '../types.js';
import type { Arena } from '../wasm/arena.js';
import { ARENA_BASE, MAX_PAGES, PAGE_BYTES } from '../wasm/layout.js';
import { array, isArrayOf, typedArray } from '../validate.js';
import { rangeError, released, stateError, typeError } from '../errors.js';
import { asyncDisposer } from '../disposable.js';

const OP = 'createTensor';

/** Elements of the largest tensor the engine's memory can ever hold: all of it above the fixed
 * regions, when it has grown to its maximum and holds nothing else. */
export const MAX_TENSOR_LENGTH = Math.floor((MAX_PAGES * PAGE_BYTES - ARENA_BASE) / 4);
const tooLarge = (length: number): RangeError => rangeError(OP, `init (${length} elements)`, `exceeds the ` +
  `largest tensor the engine can hold, ${MAX_TENSOR_LENGTH} elements (its ${(MAX_PAGES * PAGE_BYTES) / 2 ** 30} GiB ` +
  `memory less ${ARENA_BASE} bytes of fixed regions, 4 bytes an element)`);

/** What a tensor needs of its engine: work between calls, through the engine's queue. */
export interface TensorHost {
  task<T>(work: (arena: Arena) => T): Promise<T>;
  /** Runs `work` at once if nothing is queued; undefined otherwise (then queue it with task). */
  now?<T>(work: (arena: Arena) => T): { value: T } | undefined;
}

/** The engine-side state behind a tensor handle. */
export interface TensorState {
  readonly length: number;
  /** Byte address of the block once it is resident (0 before, and after dispose). */
  ptr: number;
  disposed: boolean;
  /** Why the block could not be placed, if it could not. */
  failure?: unknown;
}

/** The tensors of one engine: handle → state (a handle from another engine is not in it). */
export type TensorRegistry = WeakMap<EngineTensor, TensorState>;

/** Frees the blocks of tensors that were garbage-collected without dispose(). */
const collected = typeof FinalizationRegistry === 'function'
  ? new FinalizationRegistry<{ host: TensorHost; state: TensorState }>(({ host, state }) => {
    void host.task((arena) => arena.release(state.ptr)).catch(() => undefined);
  })
  : undefined;

/** Checks `init` (a length or the initial data), queues the placement, returns the handle. */
export function createTensor(host: TensorHost, registry: TensorRegistry, init: unknown): EngineTensor {
  let length: number, data: Float32Array | undefined;
  const array = typedArray(init, 'Float32Array');
  if (typeof init === 'number') {
    if (!Number.isInteger(init) || init <= 0) {
      throw rangeError(OP, 'init', `must be a positive integer length or a Float32Array, got ${init}`);
    }
    if (init > MAX_TENSOR_LENGTH) throw tooLarge(init);
    length = init;
  } else if (array !== undefined) {
    if (array.length === 0) throw rangeError(OP, 'init', 'is an empty Float32Array');
    if (array.length > MAX_TENSOR_LENGTH) throw tooLarge(array.length);
    data = array; // copied below unless it goes into the engine at once
    length = data.length;
  } else {
    throw typeError(OP, 'init', 'a positive integer length or a Float32Array', init);
  }

  const state: TensorState = { length, ptr: 0, disposed: false };
  const place = (arena: Arena): void => {
    const ptr = arena.keep(length * 4, { what: `createTensor's tensor of ${length} elements` }, data === undefined);
    if (data) arena.writeF32(ptr, data);
    state.ptr = ptr;
  };
  // An idle engine places the tensor now, from the caller's array, and no room is a RangeError
  // from createTensor (as a module's weights are); a busy one queues it, with a copy (the caller
  // may change its array right away), and then no room is the tensor's: its uses reject with it.
  const placedNow = host.now?.(place) !== undefined;
  if (!placedNow) {
    if (data) data = data.slice();
    host.task(place).catch((error: unknown) => { state.failure = error; });
  }

  const live = (op: string): void => {
    if (state.disposed) throw stateError(`${op}: the tensor has been disposed`);
  };
  /** Checks offset, then that `count` elements from it fit (`what`: the argument giving count). */
  const range = (op: string, offset: unknown, count: number, what: string): number => {
    if (typeof offset !== 'number') throw typeError(op, 'offset', 'a non-negative integer', offset);
    if (!Number.isInteger(offset) || offset < 0 || offset > length) {
      throw rangeError(op, 'offset', `must be an integer in [0, ${length}] (the tensor's length), got ${offset}`);
    }
    if (offset + count > length) {
      throw rangeError(op, what, `of ${count} elements from offset ${offset} does not fit in the tensor's ${length}`);
    }
    return offset;
  };

  const tensor: EngineTensor = Object.freeze({
    length,
    write(data: Float32Array, offset: number = 0): Promise<void> {
      const op = 'EngineTensor.write';
      let source: Float32Array | undefined;
      try {
        live(op);
        source = typedArray(data, 'Float32Array');
        if (source === undefined) throw typeError(op, 'data', 'a Float32Array', data);
        range(op, offset, source.length, 'data');
      } catch (error) {
        return Promise.reject(error);
      }
      // The data as it is now: written at once on an idle engine, else copied and queued (the
      // caller may reuse its array before the write runs).
      const write = (values: Float32Array) => (arena: Arena): void => {
        resident(state, op);
        arena.writeF32(state.ptr + offset * 4, values);
      };
      try {
        if (host.now?.(write(source)) !== undefined) return Promise.resolve();
      } catch (error) {
        return Promise.reject(error);
      }
      return host.task(write(source.slice()));
    },
    read(offset: number = 0, count?: number): Promise<Float32Array> {
      const op = 'EngineTensor.read';
      try {
        live(op);
        if (count !== undefined && typeof count !== 'number') throw typeError(op, 'length', 'a non-negative integer', count);
        if (count !== undefined && (!Number.isInteger(count) || count < 0)) {
          throw rangeError(op, 'length', `must be a non-negative integer, got ${count}`);
        }
        range(op, offset, count ?? 0, 'length');
      } catch (error) {
        return Promise.reject(error);
      }
      const n = count ?? length - offset;
      return host.task((arena) => {
        resident(state, op);
        return arena.readF32(state.ptr + offset * 4, n);
      });
    },
    dispose(): Promise<void> {
      if (state.disposed) return Promise.resolve();
      state.disposed = true;
      collected?.unregister(tensor);
      // Queued now, after the placement (the queue runs in order): later work finds it freed.
      return released(host.task((arena) => {
        if (state.ptr !== 0) arena.release(state.ptr);
        state.ptr = 0;
      }));
    },
    ...asyncDisposer(() => tensor.dispose()),
  });
  registry.set(tensor, state);
  collected?.register(tensor, { host, state }, tensor);
  return tensor;
}

/** The tensor's address; throws unless its block is in memory. Work queued before dispose()
 * still finds it there (the block is released by a task queued after that work). */
export function resident(state: TensorState, op: string): number {
  if (state.ptr === 0) {
    throw state.failure ?? stateError(`${op}: the tensor ${state.disposed ? 'has been disposed' : 'is not in memory'}`);
  }
  return state.ptr;
}

/** An op's f32 input: the caller's array (copied in by the call) or a tensor of the engine
 * (read in place). */
export type Input = Float32Array | TensorState;
export const isTensor = (x: Input): x is TensorState => !ArrayBuffer.isView(x);

/** Checks an f32 input of `length` elements (`shape` names the dims in the message): a
 * Float32Array or a live tensor of this engine. */
export function tensorInput(
  op: string, name: string, value: unknown, length: number, shape: string, tensors?: TensorRegistry,
): Input {
  const state = tensors?.get(value as EngineTensor);
  if (state) {
    // A disposed handle is no longer a tensor this call can take: a TypeError naming the argument.
    if (state.disposed) throw new TypeError(`${op}: ${name} is a tensor that has been disposed`);
    if (state.length !== length) throw rangeError(op, name, `has length ${state.length}, expected ${length} (${shape})`);
    return state;
  }
  if (!isArrayOf(value, 'Float32Array')) throw typeError(op, name, 'a Float32Array or a tensor of this engine', value);
  return array(op, name, value, 'Float32Array', length, shape);
}

/** Checks `options.out`: undefined, or a live tensor of this engine of exactly `length` elements. */
export function tensorOutput(
  op: string, value: unknown, length: number, shape: string, tensors?: TensorRegistry,
): TensorState | undefined {
  if (value === undefined) return undefined;
  const state = tensors?.get(value as EngineTensor);
  if (!state) throw typeError(op, 'options.out', 'a tensor of this engine (engine.createTensor)', value);
  if (state.disposed) throw new TypeError(`${op}: options.out is a tensor that has been disposed`);
  if (state.length !== length) throw rangeError(op, 'options.out', `has length ${state.length}, expected ${length} (${shape})`);
  return state;
}

/** The address an input is read from: a tensor's own block, or a buffer placed for the copy. */
export function placeInput(arena: Arena, x: Input, op: string): number {
  return isTensor(x) ? resident(x, op) : arena.place(x.byteLength);
}

/** Copies an array input to its placed buffer (after the commit); tensors are already there. */
export function writeInput(arena: Arena, ptr: number, x: Input): void {
  if (!isTensor(x)) arena.writeF32(ptr, x);
}
