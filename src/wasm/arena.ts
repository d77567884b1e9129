// The engine's one WebAssembly.Memory, above the fixed regions: resident blocks (layer weights,
// kept across calls) and, above them, a bump arena for the current call. A call first places all
// its buffers (place: offsets only, nothing touched), then commits (one grow if the call needs
// more memory), then writes and runs; reset() frees them for the next call. keep()/release()
// manage resident blocks (first fit, coalescing) and may only run between calls, which the
// engine's queue guarantees. A call built through fit() that would grow the memory is placed
// again in a hole that a released block left below later ones, when one holds it: memory never
// shrinks, so growing past a free hole would keep its bytes unused for the engine's life. Views
// are re-created whenever the memory's buffer changed (grow detaches or replaces it).
//
// A call's input copies may be deferred (deferWrites, then flush): the engine decides after the
// program is built whether it runs on the pool, and a call that runs on the calling thread and
// reads no resident block can then be placed in a plain memory instead (runOn): V8 copies into a
// SharedArrayBuffer with relaxed-atomic stores, 1.6–2.4× slower than a memcpy into a plain buffer.
import { ALIGN, MAX_PAGES, ARENA_BASE, PAGE_BYTES } from './layout.js';
import { stateError } from '../errors.js';

/** A free range of the resident region, [at, at + bytes). */
interface Hole { at: number; bytes: number }

/** commit()'s signal to fit(): place the call again, in one of `holes` (smallest first), or,
 * when there are none, elsewhere (it did not fit in the hole it was placed in). Never reaches a
 * caller of fit(). */
class Relocate {
  constructor(readonly holes: readonly Hole[]) {}
}

/** A call measured above the resident blocks may need up to this many bytes less in a hole
 * whose start is aligned otherwise (each 128-byte aligned buffer pads by up to 112 bytes). */
const FIT_SLACK = 4096;
/** At most this many holes are tried for one call (each try is one more build). */
const FIT_TRIES = 8;

export class Arena {
  readonly memory: WebAssembly.Memory;
  private top = ARENA_BASE;
  /** End of the resident region = start of the call arena. */
  private base = ARENA_BASE;
  private readonly holes: Hole[] = [];
  /** The hole the current call is placed in (fit), or undefined: above the resident blocks. */
  private region: { at: number; end: number } | undefined;
  /** Inside fit()'s first build: a commit that would grow the memory may relocate the call. */
  private fitting = false;
  /** Every byte at or above this address has never been handed out (a call's buffer or a
   * block), so it still holds the zeros a WebAssembly memory starts and grows with. */
  private dirty = ARENA_BASE;
  private readonly kept = new Map<number, number>();
  private buffer: ArrayBuffer | SharedArrayBuffer | undefined;
  private f32View = new Float32Array(0);
  private u8View = new Uint8Array(0);
  private i32View = new Int32Array(0);
  /** Copies of the current call not yet made (deferWrites), or undefined: copies go straight in. */
  private pending: { at: number; src: Float32Array | Uint8Array | Int32Array }[] | undefined;
  private pendingBytes = 0;
  /** The memory the current call's views point at: `memory`, or a plain one (runOn) until reset(). */
  private target: WebAssembly.Memory;

  /** `maxPages`: the maximum the memory was created with. */
  constructor(memory: WebAssembly.Memory, private readonly maxPages = MAX_PAGES) {
    this.memory = memory;
    this.target = memory;
  }

  /** Reserves `bytes` at an `align`-byte boundary (default 16) and returns its address; memory
   * is not grown yet. */
  place(bytes: number, align = ALIGN): number {
    const at = Math.ceil(this.top / align) * align;
    this.top = at + Math.ceil(bytes / ALIGN) * ALIGN;
    if (this.top > this.dirty) this.dirty = this.top;
    return at;
  }

  /** Bytes placed so far (including the null guard). */
  get used(): number {
    return this.top;
  }

  /** Grows the memory (once) so every placed buffer exists; `resident`: for a block keep()
   * places, which the message names instead of a call (`what` says what it is, by default a
   * tensor or a module's weights, and `hint` what to do, by default free or quantize some);
   * `staging`: the buffers that weights are packed from. Inside fit(), a call that would grow the
   * memory while a hole holds it (or that overflows the hole it was placed in) is placed again
   * instead (fit catches the signal). */
  commit(resident?: number, staging = false, what?: { what: string; hint?: string }): void {
    if (this.region) {
      if (this.top <= this.region.end) return;
      throw new Relocate([]);
    }
    const have = this.memory.buffer.byteLength;
    if (this.top <= have) return;
    if (this.fitting) {
      // The holes that may hold the call (its size here, less what other alignments may save),
      // smallest first: fit() tries each until one does.
      const need = this.top - this.base;
      const holes = this.holes.filter((h) => h.bytes >= need - FIT_SLACK).sort((a, b) => a.bytes - b.bytes || a.at - b.at);
      if (holes.length > 0) throw new Relocate(holes.slice(0, FIT_TRIES));
    }
    const pages = Math.ceil((this.top - have) / PAGE_BYTES);
    if (have / PAGE_BYTES + pages > this.maxPages) {
      const limit = this.maxPages * PAGE_BYTES;
      // Objects dropped without dispose() are released by FinalizationRegistry callbacks, which
      // run only after a garbage collection and only when the event loop turns: a loop of awaited
      // calls that settle at once never lets them run.
      const gc = 'tensors, models and generate iterators dropped without dispose() are freed only after a garbage collection, ' +
        'once the event loop turns (a loop of awaited calls may never yield), so dispose() them';
      const free = this.holes.reduce((sum, h) => sum + h.bytes, 0);
      // A call or staging goes in a hole only when the hole holds all of it (fit).
      const largest = this.holes.reduce((max, h) => Math.max(max, h.bytes), 0);
      const holes = free === 0 ? '' : `; ${free} bytes are free below resident blocks made later, ` +
        `in holes of at most ${largest} bytes, which a call uses only when one holds all its memory (create long-lived tensors and models first, or dispose the later ones)`;
      const hint = `dispose tensors or models that are no longer used (${gc}), or keep a model's weights as int8 (quantize: 'int8') if they are not already`;
      throw new RangeError(staging
        ? `wasm-attention: packing a module's weights needs ${this.top} bytes of memory (its fixed regions and resident blocks so far and ` +
          `${this.top - this.base} bytes of staging), more than the ${limit} bytes the engine can address; ${hint}${holes}`
        : resident === undefined
          ? `wasm-attention: this call needs ${this.top} bytes of working memory (${this.top - this.base} above the resident blocks), ` +
            `more than the ${limit} bytes the engine can address; split the batch, or free resident blocks (${gc})${holes}`
          : `wasm-attention: keeping ${resident} more bytes resident (${what?.what ?? "a tensor or a module's weights"}) needs ${this.top} bytes ` +
            `of memory, more than the ${limit} bytes the engine can address; ${what?.hint ? `${what.hint} (${gc})` : hint}`);
    }
    try {
      this.memory.grow(pages);
    } catch (cause) {
      throw stateError(`could not grow memory to ${this.top} bytes: ${String(cause)}`);
    }
  }

  /**
   * Runs `build`, which places a call's buffers and commits them (then may write and build its
   * program). When the commit would grow the memory and holes below later resident blocks may
   * hold the call, builds it again in each, smallest first, until one holds it at that hole's
   * alignment (at most FIT_TRIES); if none does, once more above the resident blocks. So `build`
   * must not write before it commits, nor change anything that a later build would see (every
   * call places, commits, then writes), and it may run up to FIT_TRIES + 2 times.
   */
  fit<T>(build: () => T): T {
    if (this.holes.length === 0 || this.region) return build();
    const start = this.top;
    let holes: readonly Hole[];
    this.fitting = true;
    try {
      return build();
    } catch (error) {
      if (!(error instanceof Relocate) || error.holes.length === 0) throw error;
      holes = error.holes;
    } finally {
      this.fitting = false;
    }
    for (const hole of holes) {
      this.restart(start, { at: hole.at, end: hole.at + hole.bytes });
      try {
        return build();
      } catch (error) {
        if (!(error instanceof Relocate)) throw error;
      }
    }
    this.restart(start, undefined);
    return build();
  }

  /** Forgets the placements (and deferred copies) of a build that fit() runs again. */
  private restart(start: number, region: { at: number; end: number } | undefined): void {
    this.region = region;
    this.top = region?.at ?? start;
    if (this.pending) {
      this.pending.length = 0;
      this.pendingBytes = 0;
    }
  }

  /** The hole the current call lies in ([at, end)), or undefined when it lies above the resident
   * blocks: addresses below residentEnd that are not in it belong to resident blocks. */
  get callRegion(): { readonly at: number; readonly end: number } | undefined {
    return this.region;
  }

  /** Frees every placed buffer (and drops deferred copies, and the plain memory of runOn). */
  reset(): void {
    this.prepared.length = 0;
    this.region = undefined;
    this.top = this.base;
    this.pending = undefined;
    this.pendingBytes = 0;
    this.target = this.memory;
  }

  /** End of the resident region: addresses in [ARENA_BASE, residentEnd) may belong to resident
   * blocks; the current call's buffers lie at or above it, or in callRegion. */
  get residentEnd(): number {
    return this.base;
  }

  /** From now until flush() (or runOn, or reset), write* records its copy instead of making it. */
  deferWrites(): void {
    this.pending ??= [];
  }

  /** Whether every copy of the current call is still deferred (none has gone into `memory`, and
   * no view was handed out since deferWrites), so the call could be placed in another memory. */
  get deferred(): boolean {
    return this.pending !== undefined;
  }

  /** Bytes of the deferred copies. */
  get deferredBytes(): number {
    return this.pendingBytes;
  }

  /** Makes the deferred copies into the current target memory and stops deferring. */
  flush(): void {
    const pending = this.pending;
    if (pending === undefined) return;
    this.pending = undefined;
    this.pendingBytes = 0;
    for (const { at, src } of pending) {
      if (src instanceof Float32Array) this.f32.set(src, at >>> 2);
      else if (src instanceof Int32Array) this.i32.set(src, at >>> 2);
      else this.u8.set(src, at);
    }
  }

  /** Runs the rest of the current call in `plain` instead of `memory`, at the same addresses:
   * grows it to cover every placed buffer, makes the deferred copies into it, and points reads at
   * it until reset(). Only for a call whose copies are all deferred and whose program reads no
   * resident block (those exist in `memory` only). */
  runOn(plain: WebAssembly.Memory): void {
    if (this.pending === undefined) throw stateError('runOn: the call has already written into its memory');
    const have = plain.buffer.byteLength;
    if (this.top > have) plain.grow(Math.ceil((this.top - have) / PAGE_BYTES));
    this.target = plain;
    this.flush();
  }

  /** A resident block of `bytes` (16-byte aligned) that survives reset(); between calls only.
   * `what`: the block's name and the hint for a RangeError when it does not fit (commit);
   * `zero`: the block reads as zeros (only its bytes that were used before are written). */
  keep(bytes: number, what?: { what: string; hint?: string }, zero = false): number {
    const size = Math.ceil(bytes / ALIGN) * ALIGN;
    const dirty = this.dirty;
    const hole = this.holes.findIndex((h) => h.bytes >= size);
    let at: number;
    if (hole >= 0) {
      at = this.holes[hole].at;
      this.holes[hole].at += size;
      this.holes[hole].bytes -= size;
      if (this.holes[hole].bytes === 0) this.holes.splice(hole, 1);
    } else {
      at = this.base;
      this.top = this.base + size;
      try {
        this.commit(size, false, what);
      } catch (error) {
        this.top = this.base; // nothing kept: the next call starts from a clean arena
        throw error;
      }
      this.base = this.top;
    }
    this.kept.set(at, size);
    // Zeros only where the block was used before: fresh pages are zero already, and writing them
    // would commit them (a 400 MB tensor never written would take 400 MB of RSS at once).
    if (zero && at < dirty) this.u8.fill(0, at, Math.min(at + size, dirty));
    if (at + size > this.dirty) this.dirty = at + size;
    return at;
  }

  /** Returns a resident block; between calls only. */
  release(at: number): void {
    const size = this.kept.get(at);
    if (size === undefined) return;
    this.kept.delete(at);
    this.holes.push({ at, bytes: size });
    this.holes.sort((a, b) => a.at - b.at);
    for (let i = this.holes.length - 1; i > 0; i--) { // coalesce neighbours
      const prev = this.holes[i - 1], next = this.holes[i];
      if (prev.at + prev.bytes === next.at) {
        prev.bytes += next.bytes;
        this.holes.splice(i, 1);
      }
    }
    const last = this.holes[this.holes.length - 1];
    if (last && last.at + last.bytes === this.base) { // give the top hole back to the call arena
      this.base = last.at;
      this.holes.pop();
    }
    this.top = this.base;
  }

  /** What resident blocks may still take (between calls): `above`, the bytes from the end of the
   * resident region to the most the memory can grow to, and `holes` (their total and the largest)
   * below it, which blocks fill first fit. */
  get room(): { above: number; holes: number; largestHole: number } {
    let holes = 0, largestHole = 0;
    for (const h of this.holes) {
      holes += h.bytes;
      largestHole = Math.max(largestHole, h.bytes);
    }
    return { above: this.maxPages * PAGE_BYTES - this.base, holes, largestHole };
  }

  /** Bytes held by resident blocks. */
  get residentBytes(): number {
    let total = 0;
    for (const size of this.kept.values()) total += size;
    return total;
  }

  private refresh(): void {
    const buffer = this.target.buffer;
    if (buffer === this.buffer) return;
    this.buffer = buffer;
    this.f32View = new Float32Array(buffer);
    this.u8View = new Uint8Array(buffer);
    this.i32View = new Int32Array(buffer);
  }

  // A view handed out lets the caller write past the deferral: make the deferred copies first.
  get f32(): Float32Array {
    this.flush();
    this.refresh();
    return this.f32View;
  }

  get u8(): Uint8Array {
    this.flush();
    this.refresh();
    return this.u8View;
  }

  get i32(): Int32Array {
    this.flush();
    this.refresh();
    return this.i32View;
  }

  /** Copies `src` to address `at` (a placed buffer of the right type and size). */
  writeF32(at: number, src: Float32Array): void {
    if (this.defer(at, src)) return;
    this.f32.set(src, at >>> 2);
  }

  writeU8(at: number, src: Uint8Array): void {
    if (this.defer(at, src)) return;
    this.u8.set(src, at);
  }

  writeI32(at: number, src: Int32Array): void {
    if (this.defer(at, src)) return;
    this.i32.set(src, at >>> 2);
  }

  /** Records a copy while deferring (the engine makes it before any await, so `src` cannot change). */
  private defer(at: number, src: Float32Array | Uint8Array | Int32Array): boolean {
    if (this.pending === undefined) return false;
    this.pending.push({ at, src });
    this.pendingBytes += src.byteLength;
    return true;
  }

  /** A copy (not a view) of `length` f32 at `at`, safe to keep after reset or grow. */
  readF32(at: number, length: number): Float32Array {
    const i = this.prepared.findIndex((a) => a.length === length);
    if (i < 0) {
      // Not slice(): on a view of shared memory it took twice as long for small outputs.
      const out = new Float32Array(length);
      out.set(this.f32.subarray(at >>> 2, (at >>> 2) + length));
      return out;
    }
    const out = this.prepared.splice(i, 1)[0];
    out.set(this.f32.subarray(at >>> 2, (at >>> 2) + length));
    return out;
  }

  /** Arrays for the current call's readF32, made by prepareOutputs. */
  private readonly prepared: Float32Array[] = [];

  /**
   * Makes the arrays the current call will return, of `lengths` elements, and touches one element
   * per 4 KiB page of each: the calling thread runs this while the workers run the program.
   * A fresh array costs a page fault per 4 KiB page on its first write: about 3.5 ms per MB in a
   * Chromium page, 2.7 ms in Node (docs/PERFORMANCE.md). readF32 after the run then copies into
   * these arrays instead of faulting them in. The pages are faulted alongside the workers, not
   * after them. Lengths with no readF32 call are dropped at reset().
   */
  prepareOutputs(lengths: readonly number[]): void {
    for (const length of lengths) {
      const out = new Float32Array(length);
      for (let i = 0; i < length; i += 1024) out[i] = 0;
      this.prepared.push(out);
    }
  }

  /** Copies `out.length` f32 at `at` into `out` (a buffer the caller reuses call after call: a
   * fresh array of a GPT-2 logits row pays a page fault per 4 KiB on first write). */
  readF32Into(at: number, out: Float32Array): Float32Array {
    out.set(this.f32.subarray(at >>> 2, (at >>> 2) + out.length));
    return out;
  }
}
