// createEngine: detect features once, load the best kernel build, own the one memory and its
// arena, and run every call on the calling thread (the worker pool builds on this).
import type {
  AttentionResult, Engine, EngineOptions, Features, KernelVariant, MultiHeadAttention,
} from './types.js';
import type { KernelExports } from './wasm/abi.js';
import { Arena } from './wasm/arena.js';
import { compileKernels, createMemory, instantiateKernels } from './wasm/load.js';
import { detectFeatures } from './features.js';
import { options } from './validate.js';
import { rangeError, stateError, typeError } from './errors.js';
import { planAttention, runAttention } from './ops/attention.js';
import { createMultiHeadAttention, planMultiHeadAttention } from './ops/multi-head-attention.js';

const OP = 'createEngine';

function resolveThreads(value: unknown): number {
  if (value === undefined || value === 'auto') return 1;
  if (typeof value !== 'number') throw typeError(OP, 'options.threads', "a positive integer or 'auto'", value);
  if (!Number.isInteger(value) || value < 1) {
    throw rangeError(OP, 'options.threads', `must be a positive integer or 'auto', got ${value}`);
  }
  if (value > 1) {
    throw stateError(`options.threads = ${value}: running on more than one thread needs the worker ` +
      'pool, which is not built yet; use threads: 1');
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

/** Creates an engine. Rejects with TypeError / RangeError for bad options, with an Error when
 * the runtime lacks WebAssembly SIMD or the kernels cannot be loaded. */
export async function createEngine(opts?: EngineOptions): Promise<Engine> {
  const o = options(OP, 'options', opts, true) as EngineOptions;
  const threads = resolveThreads(o.threads);
  const features = detectFeatures();
  if (!features.simd) {
    throw stateError('this WebAssembly engine lacks SIMD (needed: Node 16.4+, Chrome 91+, Firefox 89+, Safari 16.4+)');
  }
  const variant = resolveVariant(o.kernels, features);
  const module = await compileKernels(variant, features.sharedMemory);
  const memory = createMemory(features.sharedMemory);
  const kernels = await instantiateKernels(module, memory);
  return new InlineEngine(threads, features, variant, kernels, new Arena(memory));
}

/** The engine that computes on the calling thread. Calls run one after another. */
class InlineEngine implements Engine {
  private disposed = false;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    readonly threads: number,
    readonly features: Features,
    readonly kernels: KernelVariant,
    private readonly wasm: KernelExports,
    private readonly arena: Arena,
  ) {}

  /** Runs `work` after every earlier call; validation errors reject this call only. */
  private run(work: () => AttentionResult): Promise<AttentionResult> {
    const result = this.queue.then(() => {
      if (this.disposed) throw stateError('the engine has been disposed');
      try {
        return work();
      } finally {
        this.arena.reset();
      }
    });
    this.queue = result.catch(() => undefined);
    return result;
  }

  attention(q: Float32Array, k: Float32Array, v: Float32Array, opts: Parameters<Engine['attention']>[3]) {
    if (this.disposed) return Promise.reject(stateError('the engine has been disposed'));
    return this.run(() => runAttention(this.wasm, this.arena, planAttention(q, k, v, opts)));
  }

  multiHeadAttention(config: Parameters<Engine['multiHeadAttention']>[0]): MultiHeadAttention {
    if (this.disposed) throw stateError('the engine has been disposed');
    const params = planMultiHeadAttention(config);
    return createMultiHeadAttention(params, (work) => this.run(work), () => ({ kernels: this.wasm, arena: this.arena }));
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    await this.queue;
  }
}
