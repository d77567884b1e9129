// createEngine: detect features once, load the best kernel build, own the one memory and its
// arena, and run each call's program either on the calling thread (threads: 1) or on the
// worker pool. Calls are queued: one program at a time owns the arena.
import type {
  AttentionResult, Engine, EngineOptions, EngineTensor, Features, KernelVariant, MultiHeadAttention,
  AttentionOptions, MultiHeadAttentionConfig, GeluOptions, LayerNormOptions, MatmulOptions, SoftmaxOptions, TensorLike,
} from './types.js';
import type { KernelExports } from './wasm/abi.js';
import { Arena } from './wasm/arena.js';
import { compileGiven, compileKernels, createMemory, instantiateGiven, instantiateKernels } from './wasm/load.js';
import { detectFeatures } from './features.js';
import { keysOf, options } from './validate.js';
import { rangeError, stateError, typeError } from './errors.js';
import { buildAttention, planAttention, type BuiltCall } from './ops/attention.js';
import { createMultiHeadAttention, planMultiHeadAttention } from './ops/multi-head-attention.js';
import { createTensor, type TensorRegistry } from './ops/tensor.js';
import { buildMatmul, planMatmul } from './ops/matmul.js';
import { buildSoftmax, planSoftmax } from './ops/softmax.js';
import { buildLayerNorm, planLayerNorm } from './ops/layer-norm.js';
import { buildGelu, planGelu } from './ops/gelu.js';
import { programFlops, runInline, type Phase } from './parallel/phases.js';
import { Pool, workersAvailable } from './parallel/pool.js';

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
    reason = kernels.KERNEL_SHARED_MEMORY.value === 1 || !features.sharedMemory ? singleThreadReason(features)
      : 'the kernel module imports an unshared memory; pass a shared build (kernels-simd.wasm)';
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
  if (threads > 1 && reason !== undefined) {
    if (requested !== 'auto' || features.sharedMemory) {
      console.warn(`wasm-attention: ${threads} threads requested, running on 1: ${reason}.`);
    }
    threads = 1;
  }
  const executor = threads > 1
    ? await PoolExecutor.create(threads, module, memory, kernels)
    : new InlineExecutor(kernels);
  return new WasmEngine(features, variant, new Arena(memory), executor, kernels);
}

/** Runs programs: inline, or on a worker pool. */
interface Executor {
  readonly threads: number;
  run(program: readonly Phase[]): Promise<void> | void;
  dispose(): Promise<void>;
}

class InlineExecutor implements Executor {
  readonly threads = 1;
  constructor(private readonly kernels: KernelExports) {}
  run(program: readonly Phase[]): void {
    runInline(this.kernels, program);
  }
  async dispose(): Promise<void> {}
}

/** Programs below this many FLOPs (about 50 µs of one core) run on the calling thread: waking
 * the workers costs about as much (measured dispatch: ~60 µs). The split into items is the
 * same either way, so the result is the same bits. */
export const INLINE_BELOW_FLOPS = 1.5e6;

/** A pool that is replaced after a failure: the failing call rejects, the next call gets new
 * workers; if they cannot start, that call (and every later one) rejects saying why. */
class PoolExecutor implements Executor {
  /** Test hook (`engine[DEBUG]().forcePool()`): every program goes to the workers, whatever
   * its size, so threaded tests exercise the pool rather than the inline path. */
  forced = false;

  private constructor(
    private pool: Pool | Promise<Pool>,
    readonly threads: number,
    private readonly module: WebAssembly.Module,
    private readonly memory: WebAssembly.Memory,
    private readonly kernels: KernelExports,
  ) {}

  static async create(
    threads: number, module: WebAssembly.Module, memory: WebAssembly.Memory, kernels: KernelExports,
  ): Promise<PoolExecutor> {
    return new PoolExecutor(await Pool.create(threads, module, memory), threads, module, memory, kernels);
  }

  async run(program: readonly Phase[]): Promise<void> {
    if (!this.forced && programFlops(program) < INLINE_BELOW_FLOPS) return runInline(this.kernels, program);
    let pool = await this.pool;
    if (pool.failed) {
      await pool.terminate();
      this.pool = Pool.create(this.threads, this.module, this.memory);
      this.pool.catch(() => undefined);
      pool = await this.pool;
    }
    try {
      await pool.run(program);
    } catch (error) {
      // A dead worker fails the call at once, but its siblings may still be writing items of it:
      // stop them all before the arena is handed to the next call.
      if (pool.failed) await pool.terminate();
      throw error;
    }
  }

  async dispose(): Promise<void> {
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

  constructor(
    readonly features: Features,
    readonly kernels: KernelVariant,
    private readonly arena: Arena,
    private readonly executor: Executor,
    /** The calling thread's instance, for work between calls (packing layer weights). */
    private readonly kernelExports: KernelExports,
  ) {}

  get threads(): number {
    return this.executor.threads;
  }

  [DEBUG](): {
    arena: Arena; pool?: () => Promise<Pool>; forcePool(on?: boolean): void;
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
    };
  }

  /** Runs `work` after everything queued before it; one piece of work owns the arena at a time. */
  private enqueue<T>(work: () => T | Promise<T>): Promise<T> {
    if (this.disposed) return Promise.reject(stateError('the engine has been disposed'));
    const result = this.queue.then(() => {
      if (this.disposed) throw stateError('the engine has been disposed');
      return work();
    });
    this.queue = result.catch(() => undefined);
    return result;
  }

  /** Queues a call: build (place + copy in), run the program, copy out, free the arena. */
  private call<T = AttentionResult>(build: (arena: Arena, threads: number) => BuiltCall<T>): Promise<T> {
    return this.enqueue(async () => {
      try {
        const built = build(this.arena, this.executor.threads);
        await this.executor.run(built.program);
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

  matmul(a: TensorLike, b: TensorLike, opts: MatmulOptions): Promise<Float32Array | EngineTensor> {
    return this.op(() => planMatmul(a, b, opts, this.tensors), buildMatmul);
  }

  softmax(x: TensorLike, opts: SoftmaxOptions): Promise<Float32Array | EngineTensor> {
    return this.op(() => planSoftmax(x, opts, this.tensors), buildSoftmax);
  }

  layerNorm(x: TensorLike, opts: LayerNormOptions): Promise<Float32Array | EngineTensor> {
    return this.op(() => planLayerNorm(x, opts, this.tensors), buildLayerNorm);
  }

  gelu(x: TensorLike, opts?: GeluOptions): Promise<Float32Array | EngineTensor> {
    return this.op(() => planGelu(x, opts, this.tensors), buildGelu);
  }

  /** Queues work that needs the arena between calls (resident weights). */
  private task<T>(work: (arena: Arena, kernels: KernelExports) => T): Promise<T> {
    return this.enqueue(() => work(this.arena, this.kernelExports));
  }

  createTensor(init: number | Float32Array): EngineTensor {
    if (this.disposed) throw stateError('the engine has been disposed');
    return createTensor({ task: (work) => this.task(work) }, this.tensors, init);
  }

  multiHeadAttention(config: MultiHeadAttentionConfig): MultiHeadAttention {
    if (this.disposed) throw stateError('the engine has been disposed');
    return createMultiHeadAttention(planMultiHeadAttention(config), {
      call: (build) => this.call(build),
      task: (work) => this.task(work),
    });
  }

  async dispose(): Promise<void> {
    if (this.disposed) return this.queue.then(() => undefined);
    this.disposed = true;
    await this.executor.dispose();
    await this.queue.catch(() => undefined);
  }
}
