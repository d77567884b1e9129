// createEngine: detect features once, load the best kernel build, own the one memory and its
// arena, and run each call's program either on the calling thread (threads: 1) or on the
// worker pool. Calls are queued: one program at a time owns the arena.
import type {
  AttentionResult, Engine, EngineOptions, EngineTensor, Features, Int8Dot, KernelVariant, MultiHeadAttention,
  AttentionOptions, MultiHeadAttentionConfig, GeluOptions, LayerNormOptions, MatmulOptions, SoftmaxOptions, TensorLike,
  Linear, LinearConfig, Transformer, TransformerConfig, TransformerDecoderLayer, TransformerDecoderLayerConfig,
  TransformerEncoderLayer, TransformerEncoderLayerConfig, Gpt2, Gpt2Options, BertModel, BertModelOptions,
  BertForSequenceClassification, BertForMaskedLM, BertForTokenClassification, BertForQuestionAnswering,
} from './types.js';
import type { KernelExports } from './wasm/abi.js';
import { Arena } from './wasm/arena.js';
import { ARENA_BASE } from './wasm/layout.js';
import { compileGiven, compileKernels, createMemory, instantiateGiven, instantiateKernels } from './wasm/load.js';
import { detectFeatures } from './features.js';
import { keysOf, options } from './validate.js';
import { engineDisposedError, rangeError, stateError, typeError } from './errors.js';
import { buildAttention, planAttention, type BuiltCall } from './ops/attention.js';
import { createMultiHeadAttention, planMultiHeadAttention } from './ops/multi-head-attention.js';
import { createTensor, type TensorRegistry } from './ops/tensor.js';
import { buildMatmul, planMatmul } from './ops/matmul.js';
import { buildSoftmax, planSoftmax } from './ops/softmax.js';
import { buildLayerNorm, planLayerNorm } from './ops/layer-norm.js';
import { buildGelu, planGelu } from './ops/gelu.js';
import { createLinear } from './ops/linear.js';
import type { ModuleHost } from './ops/modules.js';
import { createTransformerEncoderLayer } from './ops/transformer-encoder-layer.js';
import { createTransformerDecoderLayer } from './ops/transformer-decoder-layer.js';
import { createTransformer } from './ops/transformer.js';
import { createGpt2 } from './models/gpt2.js';
import { createBert } from './models/bert.js';
import { programFlops, runInline, type Phase } from './parallel/phases.js';
import { Pool, workersAvailable } from './parallel/pool.js';
import { asyncDisposer } from './disposable.js';

const OP = 'createEngine';
const OPTION_KEYS = keysOf<EngineOptions>({ threads: true, kernels: true, wasm: true });

/** Cores the runtime reports (navigator.hardwareConcurrency, or Node's os.availableParallelism). */
async function availableCores(): Promise<number> {
  const reported = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency;
  if (reported && reported > 0) return reported;
  try {
    const name = 'node:os';
    const os = (await import(/* @vite-ignore */ name)) as typeof import('node:os');
    return os.availableParallelism?.() ?? os.cpus().length;
  } catch {
    return 1;
  }
}

function requestedThreads(value: unknown): number | 'auto' {
  if (value === undefined) return 1;
  if (value === 'auto') return value;
  if (typeof value !== 'number') throw typeError(OP, 'options.threads', "a positive integer or 'auto'", value);
  if (!Number.isInteger(value) || value < 1 || value > 256) {
    throw rangeError(OP, 'options.threads', `must be an integer in 1..256 or 'auto', got ${value}`);
  }
  return value;
}

function resolveVariant(value: unknown, features: Features): KernelVariant {
  if (value === undefined || value === 'auto') return features.relaxedSimd ? 'relaxed' : 'simd';
  if (value !== 'simd' && value !== 'relaxed') {
    throw typeError(OP, 'options.kernels', "'auto', 'simd' or 'relaxed'", value);
  }
  if (value === 'relaxed' && !features.relaxedSimd) {
    throw stateError("options.kernels = 'relaxed', but this engine does not validate relaxed SIMD " +
      '(Node 22+, Chrome 114+, Deno; Node 20 with --experimental-wasm-relaxed-simd)');
  }
  return value;
}

/** Why more than one thread cannot be had here, or undefined if it can. */
function singleThreadReason(features: Features): string | undefined {
  if (!features.sharedMemory) {
    return 'SharedArrayBuffer is unavailable (in a browser: the page is not cross-origin isolated). ' +
      "Serve it with 'Cross-Origin-Opener-Policy: same-origin' and 'Cross-Origin-Embedder-Policy: " +
      "require-corp' (or 'credentialless')";
  }
  if (!workersAvailable()) return 'this runtime cannot start workers';
  return undefined;
}

/** Creates an engine. Rejects with TypeError / RangeError for bad options, with an Error when
 * the runtime lacks WebAssembly SIMD, the kernels cannot be loaded or a worker cannot start. */
export async function createEngine(opts?: EngineOptions): Promise<Engine> {
  const o = options(OP, 'options', opts, true, OPTION_KEYS) as EngineOptions;
  const requested = requestedThreads(o.threads);
  const features = detectFeatures();
  if (!features.simd) {
    throw stateError('this WebAssembly engine lacks SIMD (needed: Node 16.4+, Chrome 91+, Firefox 89+, Safari 16.4+)');
  }
  let threads = requested === 'auto' ? await availableCores() : requested;
  let module: WebAssembly.Module, memory: WebAssembly.Memory, kernels: KernelExports, variant: KernelVariant;
  let reason: string | undefined; // why the engine cannot have more than one thread
  if (o.wasm !== undefined) {
    if (o.kernels !== undefined && o.kernels !== 'auto') {
      throw rangeError(OP, 'options.kernels', "cannot be combined with options.wasm (the module decides)");
    }
    const source = o.wasm as unknown;
    if (!(source instanceof WebAssembly.Module) && !(source instanceof ArrayBuffer) && !ArrayBuffer.isView(source) &&
        !(source instanceof URL) && typeof source !== 'string') {
      throw typeError(OP, 'options.wasm', 'a WebAssembly.Module, its bytes, or a URL', source);
    }
    module = await compileGiven(o.wasm);
    ({ kernels, memory, variant } = await instantiateGiven(module, features.sharedMemory));
    // A runtime that cannot have threads at all says so first: a shared build would not help there.
    reason = singleThreadReason(features) ?? (kernels.KERNEL_SHARED_MEMORY.value === 1 ? undefined
      : 'the kernel module imports an unshared memory; pass a shared build (kernels-simd.wasm)');
  } else {
    variant = resolveVariant(o.kernels, features);
    reason = singleThreadReason(features);
    // Shared memory only for a pool: one thread needs none, and V8 copies into and out of a
    // SharedArrayBuffer with relaxed-atomic stores, 2.4× slower than a plain memcpy (3 MB:
    // 0.16 vs 0.07 ms), which is most of a decoding step whose KV cache is passed in.
    const shared = threads > 1 && reason === undefined;
    module = await compileKernels(variant, shared);
    memory = createMemory(shared);
    kernels = await instantiateKernels(module, memory);
  }
  const relaxedDot = enableRelaxedDot(kernels);
  if (threads > 1 && reason !== undefined) {
    if (requested !== 'auto' || features.sharedMemory) {
      console.warn(`wasm-attention: ${threads} threads requested, running on 1: ${reason}.`);
    }
    threads = 1;
  }
  let executor: Executor;
  if (threads > 1) {
    // A plain memory with the unshared build, for calls the pool cannot win that read no resident
    // block (decoding with K and V passed in): they run there at one thread's speed, copies
    // included. Not with options.wasm (there is no unshared build to pair with it).
    const plain = o.wasm === undefined
      ? await (async () => {
        const plainMemory = createMemory(false);
        const plainKernels = await instantiateKernels(await compileKernels(variant, false), plainMemory);
        setRelaxedDot(plainKernels, relaxedDot, 'the plain-memory instance');
        return { memory: plainMemory, kernels: plainKernels };
      })()
      : undefined;
    executor = await PoolExecutor.create(threads, module, memory, kernels, plain, relaxedDot);
  } else {
    executor = new InlineExecutor(kernels);
  }
  const engine = new WasmEngine(features, variant, INT8_DOT[relaxedDot], new Arena(memory), executor, kernels);
  if (threads > 1) abandonedEngines?.register(engine, executor, engine);
  return engine;
}

/** Terminates the workers of engines garbage-collected without dispose() (their threads would
 * otherwise outlive them: 2 threads and 8 file descriptors per dropped 2-thread engine in Node).
 * Holds the executor, never the engine. */
const abandonedEngines = typeof FinalizationRegistry === 'function'
  ? new FinalizationRegistry<Executor>((executor) => { void executor.dispose().catch(() => undefined); })
  : undefined;

/** The int8 mode of an engine (assembly/i8-gemm/i8-relaxed-dot.ts): 0 the i16 pairs, 1 the
 * relaxed dot with unsigned activation codes, 2 with signed ones (codes less 128). */
type Int8Mode = 0 | 1 | 2;
const INT8_DOT: Record<Int8Mode, Int8Dot> = {
  0: 'dot_i16x8', 1: 'relaxed_dot_i8x16_i7x16', 2: 'relaxed_dot_i8x16_i7x16_signed',
};

/** Turns the int8 relaxed dot on in `kernels` in the mode the probe finds exact here
 * (i8_relaxed_dot_exact: never in the baseline build); the mode in effect. Probed on the calling
 * thread's instance, once per engine: every other instance on the memory is then set alike
 * (setRelaxedDot), since strips quantized on one thread are multiplied on another. */
function enableRelaxedDot(kernels: KernelExports): Int8Mode {
  if (typeof kernels.i8_relaxed_dot_exact !== 'function') return 0; // options.wasm of an older build
  const mode = kernels.i8_relaxed_dot_exact(0);
  if (mode !== 1 && mode !== 2) return 0;
  return kernels.i8_set_relaxed_dot(mode) === mode ? mode : 0;
}

/** Sets another instance of the engine's module to the engine's int8 mode. */
function setRelaxedDot(kernels: KernelExports, mode: Int8Mode, who: string): void {
  if (mode === 0) return; // every instance starts with the relaxed dot off
  if (kernels.i8_set_relaxed_dot(mode) !== mode) throw stateError(`${who} could not turn the int8 relaxed dot on`);
}

/** Runs programs: inline, or on a worker pool. A program's input copies may still be deferred
 * in the arena (Arena.deferWrites); the executor makes them where the program runs. */
interface Executor {
  readonly threads: number;
  /** `during`: work for the calling thread while the workers run the program (not called when
   * the program runs on the calling thread). */
  run(program: readonly Phase[], arena: Arena, during?: () => void): Promise<void> | void;
  dispose(): Promise<void>;
}

class InlineExecutor implements Executor {
  readonly threads = 1;
  constructor(private readonly kernels: KernelExports) {}
  run(program: readonly Phase[], arena: Arena): void {
    arena.flush();
    runInline(this.kernels, program);
  }
  async dispose(): Promise<void> {}
}

/** Programs below this many FLOPs (about 0.2 ms of one core at 40 GFLOP/s) run on the calling
 * thread of a pool engine. The pool saves at most half the work on 2 cores, and pays a dispatch:
 * waking two workers and the host's waitAsync wake-up, ~60 µs on a quiet machine, milliseconds
 * when other processes hold the cores (a woken worker waits for a time slice). Measured with K/V
 * resident, pool against inline on one 2-thread engine, interleaved (docs/PERFORMANCE.md,
 * "Threads that make a call slower"): decode 1 × 1024 keys, 12 heads (3.1 MFLOP) 0.13 vs
 * 0.15 ms quiet but 0.50 vs 0.16 ms under load; 12 heads × 16 × 256 (8.4 MFLOP) pool 2.5× slower
 * under load. So decoding steps run inline; every other benchmark shape is ≥ 650 MFLOP. The
 * split into items is the same either way, so the result is the same bits. */
export const INLINE_BELOW_FLOPS = 8e6;

/** For a call that could run in the plain memory (no resident block read), the FLOPs a byte of
 * its input copies is worth: the pool must also win back the slower copy into shared memory.
 * Copying into a SharedArrayBuffer costs ~0.014 ns/byte more than into a plain one (6.3 MB:
 * 0.245 vs 0.152 ms); at ~40 GFLOP/s on one core, with the pool saving at most ~45% of the
 * compute on 2 cores, a byte is worth 0.014e-9 × 40e9 / 0.45 ≈ 1.3 FLOP. */
export const INLINE_FLOPS_PER_COPIED_BYTE = 1.3;

/** Whether a program reads or writes below `residentEnd` (a resident block: a layer's weights,
 * an engine tensor), outside the hole its call lies in (`region`, if any): then it can only run
 * in the engine's own memory. Conservative: any field (sizes and strides included) in
 * [ARENA_BASE, residentEnd) and not in the region counts. */
function touchesResident(program: readonly Phase[], residentEnd: number, region?: { at: number; end: number }): boolean {
  if (residentEnd <= ARENA_BASE) return false;
  const at = region?.at ?? 0, end = region?.end ?? 0;
  for (const phase of program) {
    for (const value of Object.values(phase)) {
      if (typeof value === 'number' && value >= ARENA_BASE && value < residentEnd && !(value >= at && value < end)) return true;
    }
  }
  return false;
}

/** The plain memory of a pool engine and the unshared build instantiated on it. */
interface PlainSide {
  memory: WebAssembly.Memory;
  kernels: KernelExports;
}

/** Where a program runs on a pool engine. */
export type Placement = 'pool' | 'inline' | 'inline-plain';

/** Above INLINE_BELOW_FLOPS the pool usually wins, but not when other processes hold the cores:
 * each phase ends at a barrier, and a worker descheduled in the middle of an item keeps its
 * sibling waiting there for a time slice (BERT-base seq 128 on a machine at load 10: 7–16 ms of
 * a 25–48 ms call spent at barriers, each worker), while one thread needs no barrier at all. So
 * the executor keeps the measured time per FLOP of both ways (an average over recent calls) and
 * takes the faster, trying the other way once every `interval` calls: 8 at first, doubling while
 * the same way keeps winning, up to 256 while the pool wins (on a quiet machine, one call in 256
 * at one thread's speed) and 16 while inline wins (a machine that quietens gets its pool back
 * within 16 calls). Either way gives the same bits. */
export class PathChooser {
  static readonly FIRST_INTERVAL = 8;
  static readonly MAX_INTERVAL = 256;
  static readonly MAX_INTERVAL_INLINE = 16;
  /** ms per MFLOP of recent pool and inline runs (NaN: none yet). */
  readonly rate = { pool: NaN, inline: NaN };
  private since = 0;
  private interval = PathChooser.FIRST_INTERVAL;
  private exploring: 'pool' | 'inline' | undefined;

  /** The way to run the next large program. */
  choose(): 'pool' | 'inline' {
    const preferred = this.preferred();
    this.exploring = undefined;
    const interval = preferred === 'pool' ? this.interval : Math.min(this.interval, PathChooser.MAX_INTERVAL_INLINE);
    if (++this.since < interval) return preferred;
    this.since = 0;
    return (this.exploring = preferred === 'pool' ? 'inline' : 'pool');
  }

  /** Records how long a program of `flops` took the way it ran. */
  record(way: 'pool' | 'inline', ms: number, flops: number): void {
    const before = this.preferred();
    const sample = ms / (flops / 1e6), old = this.rate[way];
    this.rate[way] = Number.isNaN(old) ? sample : old + (sample - old) / 2;
    if (this.exploring === way) {
      this.interval = this.preferred() === before
        ? Math.min(PathChooser.MAX_INTERVAL, 2 * this.interval)
        : PathChooser.FIRST_INTERVAL;
    }
  }

  private preferred(): 'pool' | 'inline' {
    return this.rate.inline < this.rate.pool ? 'inline' : 'pool'; // NaN compares false: the pool
  }
}

/** A pool that is replaced after a failure: the failing call rejects, the next call gets new
 * workers; if they cannot start, that call rejects saying why, and the call after it tries
 * again. */
class PoolExecutor implements Executor {
  /** Test hook (`engine[DEBUG]().forcePool()`): every program goes to the workers, whatever
   * its size, so threaded tests exercise the pool rather than the inline path. */
  forced = false;
  /** Measurement hook (`engine[DEBUG]().forceInline()`): every program runs on the calling thread
   * (in the plain memory when it can). forcePool wins over it. */
  inline = false;
  /** Where the last program ran (for tests). */
  last: Placement | undefined;
  /** Pool or inline for programs above INLINE_BELOW_FLOPS, by measured speed. */
  readonly chooser = new PathChooser();

  private constructor(
    private pool: Pool | Promise<Pool>,
    readonly threads: number,
    private readonly module: WebAssembly.Module,
    private readonly memory: WebAssembly.Memory,
    private readonly kernels: KernelExports,
    private readonly plain: PlainSide | undefined,
    private readonly relaxedDot: Int8Mode,
  ) {}

  static async create(
    threads: number, module: WebAssembly.Module, memory: WebAssembly.Memory, kernels: KernelExports,
    plain: PlainSide | undefined, relaxedDot: Int8Mode,
  ): Promise<PoolExecutor> {
    return new PoolExecutor(await Pool.create(threads, module, memory, relaxedDot), threads, module, memory, kernels, plain,
      relaxedDot);
  }

  /** Where `program` should run: by its size and what the arena holds (the test hooks first). */
  place(program: readonly Phase[], arena: Arena): Placement {
    const plainOk = this.plain !== undefined && arena.deferred && !touchesResident(program, arena.residentEnd, arena.callRegion);
    const inline: Placement = plainOk ? 'inline-plain' : 'inline';
    if (this.forced) return 'pool';
    if (this.inline) return inline;
    const flops = programFlops(program);
    if (plainOk && flops < INLINE_BELOW_FLOPS + INLINE_FLOPS_PER_COPIED_BYTE * arena.deferredBytes) return inline;
    if (flops < INLINE_BELOW_FLOPS) return inline;
    this.chosen = true;
    return this.chooser.choose() === 'pool' ? 'pool' : inline;
  }
  /** Whether the chooser placed the current program (then its time is recorded). */
  private chosen = false;

  async run(program: readonly Phase[], arena: Arena, during?: () => void): Promise<void> {
    this.chosen = false;
    const placement = this.last = this.place(program, arena);
    const measured = this.chosen;
    const start = performance.now();
    if (placement !== 'pool') {
      if (placement === 'inline-plain') arena.runOn(this.plain!.memory);
      else arena.flush();
      runInline(placement === 'inline-plain' ? this.plain!.kernels : this.kernels, program);
      if (measured) this.chooser.record('inline', performance.now() - start, programFlops(program));
      return;
    }
    arena.flush();
    const pool = await this.livePool();
    // The chooser compares the pool with inline runs, which make their result arrays after the
    // program: the time of `during` is not the pool's. (When `during` outlasts the workers this
    // undercounts the pool; their end cannot be seen while the calling thread is busy.)
    let duringMs = 0;
    try {
      // pool.run has woken the workers when it returns (dispatch notifies before its first await).
      const running = pool.run(program);
      try {
        const t = performance.now();
        during?.();
        duringMs = performance.now() - t;
      } catch (error) {
        await running.catch(() => undefined); // the workers are still using the arena
        throw error;
      }
      await running;
    } catch (error) {
      // A dead worker fails the call at once, but its siblings may still be writing items of it:
      // stop them all before the arena is handed to the next call.
      if (pool.failed) await pool.terminate();
      throw error;
    }
    if (measured) this.chooser.record('pool', Math.max(0, performance.now() - start - duringMs), programFlops(program));
  }

  /** The pool to run on: the current one, or a new one when it failed or could not start (the
   * stored promise of a pool that could not start is tried again, not rethrown for ever). */
  private async livePool(): Promise<Pool> {
    const pool = await Promise.resolve(this.pool).catch(() => undefined);
    if (pool !== undefined && !pool.failed) return pool;
    await pool?.terminate();
    // dispose() may have come while this call waited: it terminated the pool it saw (this one),
    // and a pool created now would never be terminated, its workers holding the memory.
    if (this.disposed) throw stateError('the engine was disposed during the call');
    this.pool = Pool.create(this.threads, this.module, this.memory, this.relaxedDot);
    this.pool.catch(() => undefined);
    return await this.pool;
  }

  /** Set by dispose(): no pool is created after it. */
  private disposed = false;

  async dispose(): Promise<void> {
    this.disposed = true;
    // A pool being created (run() replacing a failed one) is awaited and terminated too.
    const pool = await Promise.resolve(this.pool).catch(() => undefined);
    await pool?.terminate();
  }

  /** The current pool (for tests). */
  current(): Promise<Pool> {
    return Promise.resolve(this.pool);
  }
}

/** Test hook: `engine[DEBUG]()` gives the engine's internals (not part of the API). */
export const DEBUG = Symbol.for('wasm-attention.debug');

class WasmEngine implements Engine {
  private disposed = false;
  private readonly tensors: TensorRegistry = new WeakMap();
  private queue: Promise<unknown> = Promise.resolve();
  /** Work queued and not yet settled: 0 when nothing owns the arena or waits for it. */
  private queued = 0;

  constructor(
    readonly features: Features,
    readonly kernels: KernelVariant,
    readonly int8Dot: Int8Dot,
    private readonly arena: Arena,
    private readonly executor: Executor,
    /** The calling thread's instance, for work between calls (packing layer weights). */
    private readonly kernelExports: KernelExports,
  ) {
    Object.assign(this, asyncDisposer(() => this.dispose()));
  }

  /** `await using` (set in the constructor where the runtime defines Symbol.asyncDispose). */
  declare readonly [Symbol.asyncDispose]: () => Promise<void>;

  get threads(): number {
    return this.executor.threads;
  }

  [DEBUG](): {
    arena: Arena; pool?: () => Promise<Pool>; forcePool(on?: boolean): void; forceInline(on?: boolean): void;
    placement(): Placement | undefined; chooser(): PathChooser | undefined;
    call(build: (arena: Arena, threads: number) => BuiltCall): Promise<AttentionResult>;
  } {
    const executor = this.executor;
    return {
      arena: this.arena,
      call: (build) => this.call(build),
      pool: executor instanceof PoolExecutor ? () => executor.current() : undefined,
      forcePool: (on = true) => {
        if (executor instanceof PoolExecutor) executor.forced = on;
      },
      forceInline: (on = true) => {
        if (executor instanceof PoolExecutor) executor.inline = on;
      },
      placement: () => (executor instanceof PoolExecutor ? executor.last : 'inline-plain'),
      chooser: () => (executor instanceof PoolExecutor ? executor.chooser : undefined),
    };
  }

  /** Runs `work` after everything queued before it; one piece of work owns the arena at a time. */
  private enqueue<T>(work: () => T | Promise<T>): Promise<T> {
    if (this.disposed) return Promise.reject(engineDisposedError());
    const result = this.queue.then(() => {
      if (this.disposed) throw engineDisposedError();
      return work();
    });
    this.queued++;
    this.queue = result.then(() => { this.queued--; }, () => { this.queued--; });
    return result;
  }

  /** Runs `work` on the arena right away when nothing is queued (so nothing queued after it can
   * run first), and gives its value; undefined when the queue is busy (then queue it instead). */
  private now<T>(work: (arena: Arena, kernels: KernelExports) => T): { value: T } | undefined {
    if (this.disposed) throw engineDisposedError();
    if (this.queued > 0) return undefined;
    return { value: work(this.arena, this.kernelExports) };
  }

  /** Queues a call: build (place + copy in), run the program, copy out, free the arena. */
  private call<T = AttentionResult>(build: (arena: Arena, threads: number) => BuiltCall<T>): Promise<T> {
    return this.enqueue(async () => {
      try {
        // Input copies wait until the executor knows which memory the program runs in.
        this.arena.deferWrites();
        // In a hole below later resident blocks, when the call would otherwise grow the memory.
        const built = this.arena.fit(() => build(this.arena, this.executor.threads));
        const outputs = built.outputs;
        await this.executor.run(built.program, this.arena, outputs?.length ? () => this.arena.prepareOutputs(outputs) : undefined);
        return built.collect();
      } finally {
        this.arena.reset();
      }
    });
  }

  attention(
    q: Float32Array | EngineTensor, k: Float32Array | EngineTensor, v: Float32Array | EngineTensor,
    opts: AttentionOptions,
  ): Promise<AttentionResult> {
    let plan;
    try {
      plan = planAttention(q, k, v, opts, this.tensors);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.call((arena, threads) => buildAttention(arena, plan, threads));
  }

  /** Validates now (a bad argument rejects before anything is queued), then queues the call. */
  private op<P, T>(plan: () => P, build: (arena: Arena, plan: P, threads: number) => BuiltCall<T>): Promise<T> {
    let p: P;
    try {
      p = plan();
    } catch (error) {
      return Promise.reject(error);
    }
    return this.call((arena, threads) => build(arena, p, threads));
  }

  matmul(a: TensorLike, b: TensorLike, opts: MatmulOptions & { out: EngineTensor }): Promise<EngineTensor>;
  matmul(a: TensorLike, b: TensorLike, opts: MatmulOptions & { out?: undefined }): Promise<Float32Array>;
  matmul(a: TensorLike, b: TensorLike, opts: MatmulOptions): Promise<Float32Array | EngineTensor>;
  matmul(a: TensorLike, b: TensorLike, opts: MatmulOptions): Promise<Float32Array | EngineTensor> {
    return this.op(() => planMatmul(a, b, opts, this.tensors), buildMatmul);
  }

  softmax(x: TensorLike, opts: SoftmaxOptions & { out: EngineTensor }): Promise<EngineTensor>;
  softmax(x: TensorLike, opts: SoftmaxOptions & { out?: undefined }): Promise<Float32Array>;
  softmax(x: TensorLike, opts: SoftmaxOptions): Promise<Float32Array | EngineTensor>;
  softmax(x: TensorLike, opts: SoftmaxOptions): Promise<Float32Array | EngineTensor> {
    return this.op(() => planSoftmax(x, opts, this.tensors), buildSoftmax);
  }

  layerNorm(x: TensorLike, opts: LayerNormOptions & { out: EngineTensor }): Promise<EngineTensor>;
  layerNorm(x: TensorLike, opts: LayerNormOptions & { out?: undefined }): Promise<Float32Array>;
  layerNorm(x: TensorLike, opts: LayerNormOptions): Promise<Float32Array | EngineTensor>;
  layerNorm(x: TensorLike, opts: LayerNormOptions): Promise<Float32Array | EngineTensor> {
    return this.op(() => planLayerNorm(x, opts, this.tensors), buildLayerNorm);
  }

  gelu(x: TensorLike, opts: GeluOptions & { out: EngineTensor }): Promise<EngineTensor>;
  gelu(x: TensorLike, opts?: GeluOptions & { out?: undefined }): Promise<Float32Array>;
  gelu(x: TensorLike, opts?: GeluOptions): Promise<Float32Array | EngineTensor>;
  gelu(x: TensorLike, opts?: GeluOptions): Promise<Float32Array | EngineTensor> {
    return this.op(() => planGelu(x, opts, this.tensors), buildGelu);
  }

  /** Queues work that needs the arena between calls (resident weights). */
  private task<T>(work: (arena: Arena, kernels: KernelExports) => T): Promise<T> {
    return this.enqueue(() => work(this.arena, this.kernelExports));
  }

  createTensor(init: number | Float32Array): EngineTensor {
    if (this.disposed) throw engineDisposedError();
    return createTensor({ task: (work) => this.task(work), now: (work) => this.now(work) }, this.tensors, init);
  }

  multiHeadAttention(config: MultiHeadAttentionConfig): MultiHeadAttention {
    if (this.disposed) throw engineDisposedError();
    return createMultiHeadAttention(planMultiHeadAttention(config), this.moduleHost);
  }

  /** What a module needs of this engine: its queue, for calls and between-call tasks. */
  private get moduleHost(): ModuleHost {
    return { call: (build) => this.call(build), task: (work) => this.task(work), now: (work) => this.now(work) };
  }

  private live(): void {
    if (this.disposed) throw engineDisposedError();
  }

  linear(config: LinearConfig): Linear {
    this.live();
    return createLinear(config, this.moduleHost, this.tensors);
  }

  transformerEncoderLayer(config: TransformerEncoderLayerConfig): TransformerEncoderLayer {
    this.live();
    return createTransformerEncoderLayer(config, this.moduleHost);
  }

  transformerDecoderLayer(config: TransformerDecoderLayerConfig): TransformerDecoderLayer {
    this.live();
    return createTransformerDecoderLayer(config, this.moduleHost, this.tensors);
  }

  transformer(config: TransformerConfig): Transformer {
    this.live();
    return createTransformer(config, this.moduleHost, this.tensors);
  }

  gpt2(options: Gpt2Options): Gpt2 {
    this.live();
    return createGpt2(options, this.moduleHost);
  }

  bert(options: BertModelOptions): BertModel {
    this.live();
    return createBert(options, this.moduleHost);
  }

  bertForSequenceClassification(options: BertModelOptions): BertForSequenceClassification {
    this.live();
    return createBert(options, this.moduleHost, 'sequence-classification');
  }

  bertForMaskedLM(options: BertModelOptions): BertForMaskedLM {
    this.live();
    return createBert(options, this.moduleHost, 'masked-lm');
  }

  bertForTokenClassification(options: BertModelOptions): BertForTokenClassification {
    this.live();
    return createBert(options, this.moduleHost, 'token-classification');
  }

  bertForQuestionAnswering(options: BertModelOptions): BertForQuestionAnswering {
    this.live();
    return createBert(options, this.moduleHost, 'question-answering');
  }

  /** The first dispose(): every later one returns it, so each settles once the workers are gone. */
  private disposing: Promise<void> | undefined;

  dispose(): Promise<void> {
    this.disposing ??= (async () => {
      this.disposed = true;
      abandonedEngines?.unregister(this);
      await this.executor.dispose();
      await this.queue.catch(() => undefined);
    })();
    return this.disposing;
  }
}
