// What a typed array really is. Its kind, length and memory are read through the getters of
// %TypedArray%.prototype, which read the array's internal slots ([[TypedArrayName]],
// [[ArrayLength]], [[ViewedArrayBuffer]], [[ByteOffset]]): a faked Symbol.toStringTag, an own
// `length` property or a subclass's getters cannot change them, and an array of another realm
// answers like one of ours. Anything else (a Proxy, a plain object, a DataView) has no kind.

const TypedArrayPrototype = Object.getPrototypeOf(Uint8Array.prototype) as object;
const slot = (key: PropertyKey): ((this: unknown) => unknown) =>
  Object.getOwnPropertyDescriptor(TypedArrayPrototype, key)?.get as (this: unknown) => unknown;
const nameSlot = slot(Symbol.toStringTag);
const lengthSlot = slot('length');
const bufferSlot = slot('buffer');
const byteOffsetSlot = slot('byteOffset');

/** The typed-array kinds the API takes, and this realm's class of each. */
const CLASSES = { Float32Array, Uint8Array, Int32Array, Int8Array };
export type ArrayKind = keyof typeof CLASSES;
export interface ArrayOfKind { Float32Array: Float32Array; Uint8Array: Uint8Array; Int32Array: Int32Array; Int8Array: Int8Array }

/** The kind of a typed array ('Float32Array', 'Uint8Array', …); undefined for anything else. */
export function typedArrayName(value: unknown): string | undefined {
  return nameSlot.call(value) as string | undefined;
}

/** Elements of a typed array (of any kind; 0 once its buffer is detached). */
export function typedArrayLength(value: ArrayBufferView): number {
  return lengthSlot.call(value) as number;
}

/** The length a value declares: a typed array's real one (not a subclass's getter or an own
 * property), else its `length` property (an engine tensor's, an array's), else undefined — also
 * when reading it throws (a Proxy of a typed array reaches the getter with the Proxy as its
 * receiver), so that the caller's check names the argument. */
export function declaredLength(value: unknown): unknown {
  if (typedArrayName(value) !== undefined) return typedArrayLength(value as ArrayBufferView);
  if (typeof value !== 'object' || value === null) return undefined;
  try {
    return (value as { length?: unknown }).length;
  } catch {
    return undefined;
  }
}

/** A view of this realm's own class on the same memory as `value` (no copy), so that length,
 * byteLength, set and slice later read the array's slots, never a subclass's or an own property. */
export function plainView<K extends ArrayKind>(value: ArrayBufferView, kind: K): ArrayOfKind[K] {
  const Class = CLASSES[kind] as Float32ArrayConstructor; // one signature for the three
  const length = typedArrayLength(value);
  // A detached buffer cannot be viewed again; its array has no elements either way.
  if (length === 0) return new Class(0) as ArrayOfKind[K];
  return new Class(bufferSlot.call(value) as ArrayBufferLike, byteOffsetSlot.call(value) as number, length) as ArrayOfKind[K];
}
