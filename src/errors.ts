// Every error the library throws is made here, so messages share one form:
// "<op>: <argument> <what is wrong> (<the rule>)".
import { typedArrayLength, typedArrayName } from './typed-array.js';

/** Short description of a value for messages: its type and, for arrays, its length (a typed
 * array by its real kind and length, whatever its Symbol.toStringTag says). */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  const kind = typedArrayName(value);
  if (kind !== undefined) return `${kind}(${typedArrayLength(value as ArrayBufferView)})`;
  if (ArrayBuffer.isView(value)) return `DataView(${value.byteLength})`;
  if (Array.isArray(value)) return `Array(${value.length})`;
  if (typeof value === 'number') return String(value);
  if (typeof value === 'string') return quote(value);
  return typeof value;
}

/** `text` in JSON quotes for a message, cut to its first `max` characters when longer (a
 * hostile file's names and dtypes can be megabytes). */
export function quote(text: string, max = 200): string {
  return text.length <= max ? JSON.stringify(text) : `${JSON.stringify(text.slice(0, max))}… (${text.length} characters)`;
}

/** A value as JSON for a message (`"relu"`, `true`, `[1, 2]`), cut like {@link quote}; its
 * description when JSON has no form for it (a bigint, a symbol, a function, a cycle). */
export function json(value: unknown, max = 200): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch {
    text = undefined;
  }
  if (text === undefined) return describe(value);
  return text.length <= max ? text : `${text.slice(0, max)}… (${text.length} characters)`;
}

/** A shape (or any list of numbers) for a message: `[2, 3]`, or its first 8 and last 2 entries
 * and its length when it has more than 12. */
export function shapeText(shape: readonly unknown[]): string {
  if (shape.length <= 12) return `[${shape.join(', ')}]`;
  return `[${shape.slice(0, 8).join(', ')}, …, ${shape.slice(-2).join(', ')}] (${shape.length} dims)`;
}

/** A value of the wrong type (wrong array class, a string where a number belongs, …). */
export function typeError(op: string, arg: string, expected: string, value: unknown): TypeError {
  return new TypeError(`${op}: ${arg} must be ${expected}, got ${describe(value)}`);
}

/** A value of the right type outside its allowed range or of the wrong length. */
export function rangeError(op: string, arg: string, problem: string): RangeError {
  return new RangeError(`${op}: ${arg} ${problem}`);
}

/** The engine cannot do what was asked (disposed, unsupported feature, not yet built). */
export function stateError(message: string): Error {
  return new Error(`wasm-attention: ${message}`);
}

/** The errors engineDisposedError made (so released() knows them by identity, not by text). */
const engineDisposed = new WeakSet<Error>();

/** The rejection of work queued on (or after) a disposed engine. */
export function engineDisposedError(): Error {
  const error = stateError('the engine has been disposed');
  engineDisposed.add(error);
  return error;
}

/**
 * Queues the release of a resource's memory and settles when it is done: a dispose() queued now,
 * in order, so the work queued after it already finds the memory free. An engine disposed
 * before the release ran took the memory with it, so that rejection is a success here: a
 * resource's dispose() never fails because its engine went first.
 */
export function released(release: Promise<void>): Promise<void> {
  return release.catch((error: unknown) => {
    if (!(error instanceof Error && engineDisposed.has(error))) throw error;
  });
}
