// What every torch module of the engine shares: its state dict read through one table of
// expected keys and shapes (every loading error names the key), and its weights kept resident
// in the engine's memory — uploaded once, queued before any forward, released by dispose() or
// garbage collection.
import type { Arena } from '../wasm/arena.js';
import type { KernelExports } from '../wasm/abi.js';
import { array, fileShape, options } from '../validate.js';
import { released, stateError } from '../errors.js';
import { quantizedSource } from '../io/safetensors.js';
import type { BuiltCall } from './attention.js';

/** One expected entry of a state dict: its key and shape (named dims for messages). */
export interface ParamSpec {
  key: string;
  shape: number[];
  dims: string;
}

/** Checks a state dict against the table: every key present as a Float32Array of its shape's
 * length, no key unknown (RangeError naming it, with a suggestion). `name` is the argument. */
export function readStateDict(
  op: string, name: string, value: unknown, specs: readonly ParamSpec[],
): Record<string, Float32Array> {
  const dict = options(op, name, value, false, specs.map((s) => s.key));
  const out: Record<string, Float32Array> = {};
  for (const s of specs) {
    const length = s.shape.reduce((a, b) => a * b, 1);
    out[s.key] = array(op, `${name}[${JSON.stringify(s.key)}]`, dict[s.key], 'Float32Array', length,
      `${s.dims} = [${s.shape.join(', ')}]`);
    fileShape(op, `${name}[${JSON.stringify(s.key)}]`, value as object, s.key, s.shape);
  }
  return out;
}

/** A block of weights that lives in the engine's memory while its module does. */
export interface Resident {
  /** Puts the block in memory (between calls). */
  upload(arena: Arena, kernels: KernelExports): void;
  /** Byte address of the block (0 before the upload and after the release). */
  readonly resident: number;
  release(arena: Arena): void;
}

/** What a module needs of its engine: calls and between-call tasks, both through its queue. */
export interface ModuleHost {
  call<T>(build: (arena: Arena, threads: number) => BuiltCall<T>): Promise<T>;
  task<T>(work: (arena: Arena, kernels: KernelExports) => T): Promise<T>;
}

/** Frees the weights of modules that were garbage-collected without dispose(). */
const collected = typeof FinalizationRegistry === 'function'
  ? new FinalizationRegistry<{ host: ModuleHost; blocks: readonly Resident[] }>(({ host, blocks }) => {
    void host.task((arena) => blocks.forEach((b) => b.release(arena))).catch(() => undefined);
  })
  : undefined;

/** The lifecycle of a module's weights: queued upload (all blocks or none), calls that fail
 * clearly if the upload did, idempotent dispose. */
export class ModuleWeights {
  private readonly uploaded: Promise<void>;
  private uploadError: unknown;
  private disposed = false;

  constructor(private readonly host: ModuleHost, private readonly blocks: readonly Resident[], private readonly op: string) {
    this.uploaded = host.task((arena, kernels) => {
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
    });
    this.uploaded.catch((error: unknown) => { this.uploadError = error; });
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

/** The int8 codes and scales of a weight [rows, cols] that `loadSafetensors` dequantized from
 * an int8 file with its output channels along `axis` (copies: modules own their parameters),
 * or undefined: an int8 module packs these with i8_pack_panels_codes instead of quantizing the
 * f32 values again (same bits). nn.Linear [out, in]: axis 0 (the default); GPT-2 Conv1D
 * [in, out]: axis 1, codes [in, out] (channel stride 1, reduction stride out). */
export function int8Codes(weight: Float32Array, rows: number, cols: number, axis: 0 | 1 = 0): Int8Codes | undefined {
  const q = quantizedSource(weight);
  if (q === undefined || q.axis !== axis || q.shape[0] !== rows || q.shape[1] !== cols) return undefined;
  return { codes: q.codes.slice(), scales: q.scales.slice() };
}

/** Where keepPacked staged a weight's int8 codes and scales (byte addresses). */
export interface StagedCodes { q: number; s: number }

/** Keeps a resident block of `floats` and fills it between calls: `weight` (and the int8 `codes`
 * of some weights, if any) is staged in the call arena, `pack(staging, block, staged)` packs
 * it (GEMM panels), and `rest` (biases) follows at `restOffset` floats. The block is released
 * again if anything fails. Returns its address. */
export function keepPacked(
  arena: Arena, floats: number, weight: Float32Array,
  pack: (staging: number, block: number, staged: StagedCodes[]) => void,
  rest?: { offset: number; data: Float32Array }, codes: readonly Int8Codes[] = [],
): number {
  const ptr = arena.keep(floats * 4);
  try {
    const staging = arena.place(weight.byteLength);
    const staged = codes.map((c) => ({ s: arena.place(c.scales.byteLength), q: arena.place(c.codes.byteLength) }));
    arena.commit();
    arena.writeF32(staging, weight);
    codes.forEach((c, i) => {
      arena.writeF32(staged[i]!.s, c.scales);
      arena.writeU8(staged[i]!.q, new Uint8Array(c.codes.buffer, c.codes.byteOffset, c.codes.byteLength));
    });
    pack(staging, ptr, staged);
    if (rest) arena.writeF32(ptr + rest.offset * 4, rest.data);
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
  constructor(parts: Float32Array[]) {
    this.raw = parts.map((p) => p.slice()); // torch modules own their parameters
    let offset = 0;
    for (const p of parts) {
      this.offsets.push(offset);
      offset += p.length;
    }
  }
  /** Byte address of part i (once resident). */
  at(i: number): number {
    return this.resident + this.offsets[i] * 4;
  }
  upload(arena: Arena): void {
    if (!this.raw) throw stateError('the weights were already uploaded');
    const ptr = arena.keep(this.raw.reduce((n, p) => n + p.length, 0) * 4);
    this.raw.forEach((p, i) => arena.writeF32(ptr + this.offsets[i] * 4, p));
    this.resident = ptr;
    this.raw = undefined;
  }
  release(arena: Arena): void {
    if (this.resident !== 0) arena.release(this.resident);
    this.resident = 0;
  }
}
