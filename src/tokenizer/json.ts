// Reading tokenizer.json: each field is checked where it is read, and an error names its path
// in the file (`model.merges[12]`, `normalizer.type`).
import { describe } from '../errors.js';

export type Json = Record<string, unknown>;

const OP = 'loadTokenizer';

/** A TypeError naming a field of tokenizer.json. */
export function fileError(path: string, problem: string): TypeError {
  return new TypeError(`${OP}: tokenizer.json ${path} ${problem}`);
}

/** A component this library does not implement: the file is valid, but cannot be run exactly. */
export function unsupported(path: string, what: string): never {
  throw fileError(path, `is ${what}, which wasm-attention's tokenizer does not implement`);
}

type Kind = 'string' | 'number' | 'boolean' | 'object' | 'array';

function isKind(value: unknown, kind: Kind): boolean {
  if (kind === 'array') return Array.isArray(value);
  if (kind === 'object') return typeof value === 'object' && value !== null && !Array.isArray(value);
  return typeof value === kind;
}

/** json[key], which must be present and of `kind`. */
export function field(json: Json, key: string, path: string, kind: Kind): unknown {
  const value = json[key];
  if (!isKind(value, kind)) throw fileError(`${path}.${key}`, `must be ${kind === 'array' || kind === 'object' ? `an ${kind}` : `a ${kind}`}, got ${describe(value)}`);
  return value;
}

/** json[key] if present and not null, else `fallback`. */
export function optionalField<T>(json: Json, key: string, path: string, kind: Kind, fallback: T): unknown {
  const value = json[key];
  return value === undefined || value === null ? fallback : field(json, key, path, kind);
}

export function optionalBoolean(json: Json, key: string, path: string, fallback: boolean): boolean {
  return optionalField(json, key, path, 'boolean', fallback) as boolean;
}

/** An object (a JSON object, not an array or null). */
export function asObject(value: unknown, path: string): Json {
  if (!isKind(value, 'object')) throw fileError(path, `must be an object, got ${describe(value)}`);
  return value as Json;
}

/** json[key] as an integer in lo..2^31-1 if present and not null, else `fallback`. */
export function optionalInteger(json: Json, key: string, path: string, lo: number, fallback: number): number {
  const value = optionalField(json, key, path, 'number', fallback) as number;
  if (!Number.isInteger(value) || value < lo || value > 0x7fffffff) throw fileError(`${path}.${key}`, `must be an integer ≥ ${lo}, got ${describe(value)}`);
  return value;
}
