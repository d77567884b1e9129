// What every torch module of the engine shares: its state dict read through one table of
// expected keys and shapes (every loading error names the key), and its weights kept resident
// in the engine's memory — uploaded once, before any forward (at once when the engine is idle,
// else queued), released by dispose() or garbage collection.
import type { Arena } from '../wasm/arena.js';
import { ARENA_BASE, MAX_PAGES, PAGE_BYTES } from '../wasm/layout.js';
import type { KernelExports } from '../wasm/abi.js';
import { array, fileShape, options } from '../validate.js';
import { released, stateError } from '../errors.js';
import { quantizedSource, unreadQuantized, type SafetensorsQuantizedTensor } from '../io/safetensors.js';
import type { BuiltCall } from './attention.js';

/** One expected entry of a state dict: its key and shape (named dims for messages). */
export interface ParamSpec {
  key: string;
  shape: number[];
  dims: string;
  /** An nn.Linear weight [out, in] that quantize 'int8' keeps as int8: from an int8 file, its
   * codes are packed without reading it (int8Source). */
  int8?: boolean;
}

/** Checks a state dict against the table: every key present as a Float32Array of its shape's
 * length, no key unknown (RangeError naming it, with a suggestion). `name` is the argument. */
export function readStateDict(
  op: string, name: string, value: unknown, specs: readonly ParamSpec[], quantize?: 'int8',
): Record<string, Float32Array> {
  const dict = options(op, name, value, false, specs.map((s) => s.key));
  const out: Record<string, Float32Array> = {};
  for (const s of specs) {
    const length = s.shape.reduce((a, b) => a * b, 1);
    const given = quantize && s.int8 ? int8Source(dict, s.key, s.shape[0]!, s.shape[1]!, 0) : dict[s.key];
    out[s.key] = isCodesOnly(given) ? given as Float32Array : array(op, `${name}[${JSON.stringify(s.key)}]`, given, 'Float32Array', length,
      `${s.dims} = [${s.shape.join(', ')}]`);
    fileShape(op, `${name}[${JSON.stringify(s.key)}]`, value as object, s.key, s.shape);
  }
  return out;
}

/** A block of weights that lives in the engine's memory while its module does. Until its
 * upload it may hold the caller's own arrays: the upload runs inside the module's constructor
 * when the engine is idle, and own() copies them first when it has to wait in the queue. */
export interface Resident {
  /** Puts the block in memory (between calls). */
  upload(arena: Arena, kernels: KernelExports): void;
  /** Copies whatever caller arrays the block still refers to (before a queued upload). */
  own?(): void;
  /** Bytes the block keeps resident once uploaded. */
  readonly bytes: number;
  /** Byte address of the block (0 before the upload and after the release). */
  readonly resident: number;
  release(arena: Arena): void;
}

/** What a module needs of its engine: calls and between-call tasks, both through its queue. */
export interface ModuleHost {
  call<T>(build: (arena: Arena, threads: number) => BuiltCall<T>): Promise<T>;
  task<T>(work: (arena: Arena, kernels: KernelExports) => T): Promise<T>;
  /** Runs `work` at once if nothing is queued; undefined otherwise (queue it with task). */
  now?<T>(work: (arena: Arena, kernels: KernelExports) => T): { value: T } | undefined;
}

/** Frees the weights of modules that were garbage-collected without dispose(). */
const collected = typeof FinalizationRegistry === 'function'
  ? new FinalizationRegistry<{ host: ModuleHost; blocks: readonly Resident[] }>(({ host, blocks }) => {
    void host.task((arena) => blocks.forEach((b) => b.release(arena))).catch(() => undefined);
  })
  : undefined;

/** The lifecycle of a module's weights: the upload (all blocks or none), calls that fail
 * clearly if the upload did, idempotent dispose.
 *
 * When the engine is idle the blocks are packed into its memory here, from the caller's arrays,
 * and a failure (the weights do not fit) throws from the module's constructor with nothing
 * left resident. Otherwise every block first copies the arrays it refers to (own()), since the
 * caller may change them once the constructor returns, and the upload waits in the queue; a
 * failure then rejects the module's calls. Packing straight from the caller's arrays saves a
 * copy of every weight, and a first touch of fresh memory costs far more than the copy (a page
 * fault per 4 KiB: about 2.8 ms per MB in Node on a VM, bench/load.mjs). */
export class ModuleWeights {
  private uploadError: unknown;
  private disposed = false;

  constructor(private readonly host: ModuleHost, private readonly blocks: readonly Resident[], private readonly op: string) {
    const bytes = blocks.reduce((n, b) => n + b.bytes, 0);
    const upload = (arena: Arena, kernels: KernelExports): void => {
      // Weights that cannot fit in what other resident blocks leave fail before any block is
      // packed (packing fills holes block by block, so the check after a block would come late
      // and count what this module had already taken).
      const room = arena.room;
      if (bytes > room.above + room.holes) {
        throw new RangeError(`wasm-attention: ${op}: the weights take ${bytes} bytes in the engine's memory, and ` +
          `${room.above + room.holes} are free (${room.above} above the resident blocks, ${room.holes} in holes between them, ` +
          `the largest ${room.largestHole}); dispose tensors, models or generate iterators that are no longer used, or ` +
          `keep the weights as int8 (quantize: 'int8') if they are not already`);
      }
      const done: Resident[] = [];
      try {
        for (const b of blocks) {
          b.upload(arena, kernels);
          done.push(b);
        }
      } catch (error) {
        for (const b of done) b.release(arena);
        throw error;
      }
    };
    // Weights that cannot fit even in an empty engine fail here, before anything is packed.
    const capacity = MAX_PAGES * PAGE_BYTES - ARENA_BASE;
    if (bytes > capacity) {
      throw new RangeError(`wasm-attention: ${op}: the weights take ${bytes} bytes in the engine's memory, more than the ` +
        `${capacity} bytes it can hold (quantize: 'int8', unless they are int8 already, keeps the weight matrices in a quarter of their f32 bytes)`);
    }
    if (host.now?.(upload)) return;
    for (const b of blocks) b.own?.();
    host.task(upload).catch((error: unknown) => { this.uploadError = error; });
  }

  /** Whether dispose() has been called. */
  get isDisposed(): boolean {
    return this.disposed;
  }

  /** Registers the user-facing object so that its weights are freed when it is collected. */
  track(owner: object): void {
    collected?.register(owner, { host: this.host, blocks: this.blocks }, owner);
  }

  /** Queues a call; the upload was queued first, so it has run when the call builds. */
  call<T>(method: string, build: (arena: Arena, threads: number) => BuiltCall<T>): Promise<T> {
    if (this.disposed) return Promise.reject(stateError(`${this.op}.${method}: the module has been disposed`));
    return this.host.call((arena, threads) => {
      if (this.blocks.some((b) => b.resident === 0)) throw this.uploadError ?? stateError('the module weights are not in memory');
      return build(arena, threads);
    });
  }

  dispose(owner: object): Promise<void> {
    if (this.disposed) return Promise.resolve();
    this.disposed = true;
    collected?.unregister(owner);
    // Queued now, after the upload (the queue runs in order): later work finds the memory free.
    return released(this.host.task((arena) => this.blocks.forEach((b) => b.release(arena))));
  }
}

/** A weight already quantized to int8 (read from an int8 file): codes row-major in the
 * weight's shape (nn.Linear [out, in] or Conv1D [in, out]) and one scale per output channel. */
export interface Int8Codes {
  codes: Int8Array; // [out, in]
  scales: Float32Array; // [out]
}

/** The int8 codes and scales of a weight [rows, cols] from an int8 file (an int8Source stand-in,
 * or an array `loadSafetensors` dequantized) with its output channels along `axis` (the
 * loader's arrays: a block copies them in own() when its upload is queued), or undefined: an
 * int8 module packs these with i8_pack_panels_codes instead of quantizing the f32 values again
 * (same bits). nn.Linear [out, in]: axis 0 (the default); GPT-2 Conv1D
 * [in, out]: axis 1, codes [in, out] (channel stride 1, reduction stride out). */
export function int8Codes(weight: Float32Array, rows: number, cols: number, axis: 0 | 1 = 0): Int8Codes | undefined {
  const q = CODES_ONLY.get(weight) ?? quantizedSource(weight);
  if (q === undefined || q.axis !== axis || q.shape[0] !== rows || q.shape[1] !== cols) return undefined;
  return { codes: q.codes, scales: q.scales };
}

/** Zero-length stand-ins for int8 weights packed from their file's codes (int8Source). */
const CODES_ONLY = new WeakMap<Float32Array, SafetensorsQuantizedTensor>();

/** `dict[key]` for a module that keeps it as int8 with its output channels along `axis` of
 * [rows, cols]: when it is an int8 file's weight of that layout that nobody has read since
 * `loadSafetensors` (unreadQuantized), a zero-length stand-in that only int8Codes reads, so its
 * f32 values are never made (a GPT-2 small int8 file: 124 MB of codes instead of 500 MB of f32;
 * unreadQuantized checks the codes and scales again, one pass: the caller may have changed the
 * file's bytes since loadSafetensors); otherwise the value itself, for the caller's usual checks. */
export function int8Source(dict: object, key: string, rows: number, cols: number, axis: 0 | 1): unknown {
  const q = unreadQuantized(dict, key);
  if (q === undefined || q.axis !== axis || q.shape[0] !== rows || q.shape[1] !== cols) return (dict as Record<string, unknown>)[key];
  const stand = new Float32Array(0);
  CODES_ONLY.set(stand, q);
  return stand;
}

/** An embedding table that its model gathers in JavaScript, in arrays of the model's own: f32
 * rows, or an int8 file's codes with one scale per row, whose rows read as code·scale rounded
 * to f32 (the values the file's f32 getter gives: the same bits, at a quarter of the memory). */
export type EmbeddingTable =
  | { readonly values: Float32Array; readonly codes?: undefined; readonly scales?: undefined }
  | { readonly values?: undefined; readonly codes: Int8Array; readonly scales: Float32Array };

/** Table `key` [rows, width] of `dict`, not yet copied: an unread int8 weight with per-row
 * scales gives its codes; anything else is read (`read`: the caller's checked f32 array). A
 * model validates every weight first, then keeps ownTable of each. */
export function embeddingTable(dict: object, key: string, rows: number, width: number, read: () => Float32Array): EmbeddingTable {
  const q = unreadQuantized(dict, key);
  if (q !== undefined && q.axis === 0 && q.shape[0] === rows && q.shape[1] === width) return { codes: q.codes, scales: q.scales };
  return { values: read() };
}

/** The model's own copy of a table (embeddingTable gives the caller's arrays). */
export const ownTable = (t: EmbeddingTable): EmbeddingTable =>
  t.values ? { values: t.values.slice() } : { codes: t.codes.slice(), scales: t.scales.slice() };

/** out[at + e] = row `row` of `table` (width `width`), e < width. */
export function readRow(table: EmbeddingTable, row: number, width: number, out: Float32Array, at: number): void {
  const from = row * width;
  if (table.values) {
    out.set(table.values.subarray(from, from + width), at);
    return;
  }
  const { codes, scales } = table, s = scales[row]!;
  for (let e = 0; e < width; e++) out[at + e] = codes[from + e]! * s;
}

/** out[at + e] += row `row` of `table`, rounded to f32 as an f32 addition. */
export function addRow(table: EmbeddingTable, row: number, width: number, out: Float32Array, at: number): void {
  const from = row * width;
  if (table.values) {
    const v = table.values;
    for (let e = 0; e < width; e++) out[at + e]! += v[from + e]!;
    return;
  }
  const { codes, scales } = table, s = scales[row]!;
  for (let e = 0; e < width; e++) out[at + e]! += Math.fround(codes[from + e]! * s);
}

/** Whether `weight` is int8Source's stand-in (its length is not the weight's). */
export const isCodesOnly = (weight: unknown): boolean => weight instanceof Float32Array && CODES_ONLY.has(weight);

/** A private copy of int8 codes (a block's own(): the upload waits in the queue). */
export const ownCodes = (c: Int8Codes | undefined): Int8Codes | undefined =>
  c && { codes: c.codes.slice(), scales: c.scales.slice() };

/** Where keepPacked staged a weight's int8 codes and scales (byte addresses). */
export interface StagedCodes { q: number; s: number }

/** Weights staged from several arrays, each at its float offset in one region of `floats`. */
export interface StagedParts {
  floats: number;
  parts: readonly (readonly [offset: number, data: Float32Array])[];
}

/** Keeps a resident block of `floats` and fills it between calls: `weight` (one array, or parts
 * written side by side, and the int8 `codes` of some weights, if any) is staged in the call
 * arena, `pack(staging, block, staged)` packs it (GEMM panels), and each of `rest` (biases) is
 * written at its float offset in the block. The block is released again if anything fails.
 * Returns its address. */
export function keepPacked(
  arena: Arena, floats: number, weight: Float32Array | StagedParts,
  pack: (staging: number, block: number, staged: StagedCodes[]) => void,
  rest: readonly { offset: number; data: Float32Array }[] = [], codes: readonly Int8Codes[] = [],
): number {
  const layout: StagedParts = weight instanceof Float32Array ? { floats: weight.length, parts: [[0, weight]] } : weight;
  const ptr = arena.keep(floats * 4);
  try {
    const { staging, staged } = arena.fit(() => { // in a hole, when one holds the staging
      const at = arena.place(layout.floats * 4);
      const parts = codes.map((c) => ({ s: arena.place(c.scales.byteLength), q: arena.place(c.codes.byteLength) }));
      arena.commit(undefined, true);
      return { staging: at, staged: parts };
    });
    for (const [offset, data] of layout.parts) arena.writeF32(staging + offset * 4, data);
    codes.forEach((c, i) => {
      arena.writeF32(staged[i]!.s, c.scales);
      arena.writeU8(staged[i]!.q, new Uint8Array(c.codes.buffer, c.codes.byteOffset, c.codes.byteLength));
    });
    pack(staging, ptr, staged);
    for (const r of rest) arena.writeF32(ptr + r.offset * 4, r.data);
  } catch (error) {
    arena.release(ptr);
    throw error;
  } finally {
    arena.reset();
  }
  return ptr;
}

/** A plain resident block: f32 arrays written one after another (LayerNorm weight and bias). */
export class PlainBlock implements Resident {
  resident = 0;
  private raw: Float32Array[] | undefined;
  private readonly offsets: number[] = [];
  readonly bytes: number;
  constructor(parts: Float32Array[]) {
    this.raw = parts; // the caller's arrays until the upload (own() copies them if it is queued)
    let offset = 0;
    for (const p of parts) {
      this.offsets.push(offset);
      offset += p.length;
    }
    this.bytes = offset * 4;
  }
  /** Byte address of part i (once resident). */
  at(i: number): number {
    return this.resident + this.offsets[i] * 4;
  }
  own(): void {
    this.raw = this.raw?.map((p) => p.slice()); // torch modules own their parameters
  }
  upload(arena: Arena): void {
    if (!this.raw) throw stateError('the weights were already uploaded');
    const ptr = arena.keep(this.bytes);
    this.raw.forEach((p, i) => arena.writeF32(ptr + this.offsets[i] * 4, p));
    this.resident = ptr;
    this.raw = undefined;
  }
  release(arena: Arena): void {
    if (this.resident !== 0) arena.release(this.resident);
    this.resident = 0;
  }
}
