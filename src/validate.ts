// Validation at the edge: every public entry point checks its arguments here before any
// memory is touched, so a bad call throws without side effects and the engine stays usable.
import { rangeError, typeError } from './errors.js';

type TypedArrayName = 'Float32Array' | 'Uint8Array' | 'Int32Array';

function tagOf(value: unknown): string | undefined {
  return ArrayBuffer.isView(value)
    ? (value as unknown as { [Symbol.toStringTag]?: string })[Symbol.toStringTag]
    : undefined;
}

/** A positive integer dimension (TypeError if not a number, RangeError if NaN, fractional, <= 0). */
export function dim(op: string, name: string, value: unknown): number {
  if (typeof value !== 'number') throw typeError(op, name, 'a positive integer', value);
  if (!Number.isInteger(value) || value <= 0 || value > 0x7fffffff) {
    throw rangeError(op, name, `must be a positive integer, got ${value}`);
  }
  return value;
}

/** An optional positive integer dimension; `fallback` when undefined. */
export function optionalDim(op: string, name: string, value: unknown, fallback: number): number {
  return value === undefined ? fallback : dim(op, name, value);
}

/** An optional boolean flag; `fallback` when undefined. */
export function flag(op: string, name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw typeError(op, name, 'a boolean', value);
  return value;
}

/** An optional finite number; `fallback` when undefined. */
export function finite(op: string, name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number') throw typeError(op, name, 'a finite number', value);
  if (!Number.isFinite(value)) throw rangeError(op, name, `must be a finite number, got ${value}`);
  return value;
}

/** Whether value is a typed array of the given class (by tag, so arrays from other realms pass). */
export function isArrayOf(value: unknown, name: TypedArrayName): boolean {
  return tagOf(value) === name;
}

/** A typed array of the given class and exact length; `shape` names the dims in the message. */
export function array<T extends Float32Array | Uint8Array | Int32Array>(
  op: string, arg: string, value: unknown, type: TypedArrayName, length: number, shape: string,
): T {
  if (!isArrayOf(value, type)) throw typeError(op, arg, `a ${type}`, value);
  const actual = (value as T).length;
  if (actual !== length) {
    throw rangeError(op, arg, `has length ${actual}, expected ${length} (${shape})`);
  }
  return value as T;
}

/** Total element count of a shape, with a RangeError when it exceeds what memory can hold. */
export function elements(op: string, arg: string, ...dims: number[]): number {
  let n = 1;
  for (const d of dims) n *= d;
  if (n > 0x3fffffff) throw rangeError(op, arg, `would need ${n} elements, more than a 32-bit memory holds`);
  return n;
}

/** An options object (undefined allowed when `optional`). */
export function options(op: string, name: string, value: unknown, optional: boolean): Record<string, unknown> {
  if (value === undefined && optional) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw typeError(op, name, 'an object', value);
  }
  return value as Record<string, unknown>;
}
