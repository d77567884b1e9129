// The worker pool: N workers, each with its own instance of the one compiled kernel module on
// the one shared memory. run() dispatches a program through the control block and resolves
// when every worker is done; a worker that throws, crashes or exits fails that call with an
// error naming the cause, and the pool is then unusable (the engine replaces it).
import type { Phase } from './phases.js';
import {
  COMMAND_EXIT, COMMAND_RUN, CTRL, PROTOCOL, encodeProgram, fromWire, type HostToWorker, type WireError, type WorkerToHost,
} from './protocol.js';
import { CONTROL_OFFSET, CONTROL_SLOTS, MAX_PHASES, PHASE_SLOTS, PROGRAM_OFFSET } from '../wasm/layout.js';
import { stateError } from '../errors.js';

/** What the pool needs of a worker, in Node, Deno and Bun (node:worker_threads) and in browsers (Worker). */
interface WorkerLike {
  post(message: HostToWorker): void;
  onMessage(handler: (message: WorkerToHost) => void): void;
  /** An uncaught error or the worker's exit: the worker is gone. */
  onFailure(handler: (cause: string) => void): void;
  /** Whether this worker keeps a Node process alive. */
  ref(keep: boolean): void;
  terminate(): Promise<void>;
}

/** workerd (Cloudflare Workers): with nodejs_compat (the default from compatibility date
 * 2026-08-04) it has `process.versions.node` and a node:worker_threads that cannot start threads. */
const isWorkerd = (): boolean =>
  (globalThis as { navigator?: { userAgent?: unknown } }).navigator?.userAgent === 'Cloudflare-Workers';

const isNode = (): boolean => typeof process !== 'undefined' && typeof process.versions?.node === 'string' &&
  typeof (globalThis as { Deno?: unknown }).Deno === 'undefined' && !isWorkerd();

/** Deno's web Workers cannot be unref'd, so a process that never disposes its engine would wait
 * on them forever; its node:worker_threads can (tested in the runtime matrix). */
const isDeno = (): boolean => typeof (globalThis as { Deno?: unknown }).Deno !== 'undefined' && !isWorkerd();

/** Whether this runtime can start workers at all (workerd, for one, cannot). */
export function workersAvailable(): boolean {
  if (isWorkerd()) return false;
  return isNode() || typeof (globalThis as { Worker?: unknown }).Worker === 'function';
}

/** The worker script, beside this bundle. */
const workerUrl = (): URL => new URL('./worker.js', import.meta.url);

async function spawn(): Promise<WorkerLike> {
  const url = workerUrl();
  // Deno's node:worker_threads takes file: and data: URLs only: a library imported over https
  // (esm.sh, jsDelivr) starts web Workers, which cannot be unref'd (dispose() lets it exit).
  if (isNode() || (isDeno() && (url.protocol === 'file:' || url.protocol === 'data:'))) {
    const name = 'node:worker_threads';
    const { Worker } = (await import(/* @vite-ignore */ name)) as typeof import('node:worker_threads');
    // The worker needs none of the parent's Node options, and some make it fail to start
    // (--input-type, V8 flags such as --experimental-wasm-relaxed-simd, which apply to the
    // whole process anyway).
    const worker = new Worker(new URL('./worker.js', import.meta.url), { execArgv: [] });
    return {
      post: (m) => worker.postMessage(m),
      onMessage: (h) => worker.on('message', h),
      onFailure: (h) => {
        worker.on('error', (e) => h(`threw ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`));
        worker.on('exit', (code) => h(`exited with code ${code}`));
      },
      ref: (keep) => (keep ? worker.ref() : worker.unref()),
      terminate: async () => {
        await worker.terminate();
      },
    };
  }
  // The literal form bundlers recognise and rewrite (Vite builds the worker from it).
  const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
  return {
    post: (m) => worker.postMessage(m),
    onMessage: (h) => worker.addEventListener('message', (e) => h(e.data as WorkerToHost)),
    onFailure: (h) => {
      worker.addEventListener('error', (e) => {
        e.preventDefault(); // handled here: not also an uncaught error of the page (or the process)
        h(`threw ${e.message || `an error (could the worker script ${url.href} not be loaded?)`}`);
      });
      worker.addEventListener('messageerror', () => h('sent a message that could not be read'));
    },
    ref: () => undefined,
    terminate: async () => worker.terminate(),
  };
}

const waitAsync = (Atomics as unknown as {
  waitAsync?: (a: Int32Array, i: number, v: number, t?: number) => { async: boolean; value: Promise<string> | string };
}).waitAsync;

/** How long a pool may take to start (every worker instantiated and answered) before createEngine
 * (or the call that replaces a dead pool) rejects: a worker script that loads but never answers
 * would otherwise leave it pending forever. Tests shorten it through START_TIMEOUT_HOOK. */
const START_TIMEOUT_MS = 30_000;
const START_TIMEOUT_HOOK = Symbol.for('wasm-attention.poolStartTimeoutMs');

/** How long a failed call waits for the failing worker's report before it settles without it. */
const REPORT_WAIT_MS = 200;

export class Pool {
  private readonly ctrl: Int32Array;
  private readonly region: Float64Array;
  private failure: Error | undefined;
  private inFlight: { reject(e: Error): void; wake(): void } | undefined;
  private itemError: Error | undefined;
  private closed = false;
  /** Dispatches so far (tests check the workers really ran). */
  runs = 0;
  /** EPOCH of the program in flight (worker reports carry it). */
  private epoch = 0;

  private constructor(private readonly workers: WorkerLike[], memory: WebAssembly.Memory) {
    this.ctrl = new Int32Array(memory.buffer, CONTROL_OFFSET, CONTROL_SLOTS);
    this.region = new Float64Array(memory.buffer, PROGRAM_OFFSET, MAX_PHASES * PHASE_SLOTS);
  }

  get threads(): number {
    return this.workers.length;
  }

  /** Starts `threads` workers; resolves once each has instantiated the kernels and answered. */
  static async create(
    threads: number, module: WebAssembly.Module, memory: WebAssembly.Memory, relaxedDot = 0,
  ): Promise<Pool> {
    const workers: WorkerLike[] = [];
    try {
      for (let i = 0; i < threads; i++) workers.push(await spawn());
    } catch (cause) {
      await Promise.all(workers.map((w) => w.terminate()));
      throw stateError(`could not start a worker: ${String(cause)}`);
    }
    const pool = new Pool(workers, memory);
    // Workers of a pool this one replaces may still be running (in browsers, Deno and Bun
    // terminate() returns before the thread stops): a new generation makes them stop before
    // they touch this pool's counters.
    const generation = (Atomics.add(pool.ctrl, CTRL.GEN, 1) + 1) | 0; // as the Int32 slot wraps
    const notifyByMessage = typeof waitAsync !== 'function';
    const answered = new Set<number>();
    const timeoutMs = (globalThis as Record<symbol, unknown>)[START_TIMEOUT_HOOK] as number | undefined ?? START_TIMEOUT_MS;
    let timer: ReturnType<typeof setTimeout> | undefined, resend: ReturnType<typeof setInterval> | undefined;
    const init = (index: number): HostToWorker => ({
      type: 'init', protocol: PROTOCOL, index, threads, module, memory, relaxedDot, generation,
      control: CONTROL_OFFSET, program: PROGRAM_OFFSET, notifyByMessage,
    });
    await new Promise<void>((resolve, reject) => {
      let ready = 0;
      timer = setTimeout(() => {
        const silent = workers.map((_, i) => i).filter((i) => !answered.has(i));
        reject(stateError(`worker${silent.length > 1 ? 's' : ''} ${silent.join(', ')} did not answer within ${timeoutMs / 1000} s of ` +
          `starting (is ${workerUrl().href} the worker script of this build?)`));
      }, timeoutMs);
      (timer as { unref?: () => void }).unref?.(); // the timer alone must not keep a process alive
      workers.forEach((worker, index) => {
        worker.onMessage((m) => pool.onMessage(m, () => {
          answered.add(index);
          // A worker script of another build (a stale cached copy) reads programs differently.
          if (m.type === 'ready' && m.protocol !== PROTOCOL) {
            reject(stateError(`worker ${index} runs a worker script of another build (protocol ${String(m.protocol)}, ` +
              `this one ${PROTOCOL}): serve the worker.js of the same wasm-attention build as index.js (${workerUrl().href})`));
          // Every instance on the memory must run the host's int8 mode: strips quantized on one
          // thread are multiplied on another.
          } else if (m.type === 'ready' && m.int8Mode !== relaxedDot) {
            reject(stateError(`worker ${index} runs int8 mode ${String(m.int8Mode)}, the engine ${relaxedDot}`));
          } else if (++ready === threads) resolve();
        }, reject));
        worker.onFailure((cause) => {
          const error = stateError(`worker ${index} ${cause}`);
          if (ready < threads) reject(error);
          pool.fail(error);
        });
        worker.post(init(index));
      });
      // Again every second to the workers that have not answered: a message posted before the
      // worker's listener exists may be dropped (Deno's node:worker_threads); a worker serves
      // the first 'init' it sees only.
      resend = setInterval(() => workers.forEach((w, i) => { if (!answered.has(i)) w.post(init(i)); }), 1000);
      (resend as { unref?: () => void }).unref?.();
    }).finally(() => {
      clearTimeout(timer);
      clearInterval(resend);
    }).catch(async (error: Error) => {
      await pool.terminate();
      throw stateError(`the worker pool could not start: ${error.message.replace(/^wasm-attention: /, '')}`);
    });
    for (const w of workers) w.ref(false);
    return pool;
  }

  private onMessage(m: WorkerToHost, onReady: () => void, onStartFailure: (e: Error) => void): void {
    if (m.type === 'ready') onReady();
    else if (m.type === 'done') this.inFlight?.wake();
    else if (m.type === 'error') {
      const error = fromWire(m.error as WireError, `worker ${m.index}: `);
      if (m.epoch === undefined) { // instantiation failed: the pool cannot start
        // Name the script: a worker that refuses the host (a stale worker.js of another build
        // speaking its own protocol) is fixed by serving the right file.
        const failure = stateError(`worker ${m.index} failed to start (${workerUrl().href}): ${error.message}`);
        onStartFailure(failure);
        this.fail(failure);
      } else if (this.inFlight && m.epoch === this.epoch) {
        this.itemError ??= error;
      } // else: a late report of a call that has already settled
    }
  }

  /** The pool can no longer run calls; the in-flight one (if any) rejects with `error`. */
  private fail(error: Error): void {
    if (this.closed) return;
    this.failure ??= error;
    this.inFlight?.reject(error);
  }

  /** Why the pool failed, if it did. */
  get failed(): Error | undefined {
    return this.failure;
  }

  /** Runs a program on every worker; one call at a time (the engine queues calls). A program
   * longer than the program region holds runs as consecutive dispatches of MAX_PHASES phases:
   * each ends when every worker is done with it, which is the barrier the phases would have met. */
  async run(program: readonly Phase[]): Promise<void> {
    for (let start = 0; start < program.length; start += MAX_PHASES) {
      await this.dispatch(start === 0 && program.length <= MAX_PHASES ? program : program.slice(start, start + MAX_PHASES));
    }
  }

  private async dispatch(program: readonly Phase[]): Promise<void> {
    if (this.failure) throw this.failure;
    if (this.closed) throw stateError('the worker pool has been terminated');
    const { ctrl } = this;
    encodeProgram(this.region, program);
    for (let p = 0; p < program.length; p++) {
      Atomics.store(ctrl, CTRL.NEXT + p, 0);
      Atomics.store(ctrl, CTRL.ARRIVE + p, 0);
    }
    Atomics.store(ctrl, CTRL.DONE, 0);
    Atomics.store(ctrl, CTRL.ERROR, 0);
    Atomics.store(ctrl, CTRL.PHASES, program.length);
    Atomics.store(ctrl, CTRL.COMMAND, COMMAND_RUN);
    this.itemError = undefined;
    this.runs++;
    for (const w of this.workers) w.ref(true);
    try {
      await new Promise<void>((resolve, reject) => {
        let settled = false;
        const finish = (error?: Error) => {
          if (settled) return;
          settled = true;
          this.inFlight = undefined;
          if (error) reject(error); else resolve();
        };
        const check = () => {
          if (Atomics.load(ctrl, CTRL.DONE) < this.workers.length) return false;
          // Every worker is done; an item error is reported before DONE is incremented, but its
          // message may still be on the way (browsers order message and timer tasks as they
          // like): wait for it, up to REPORT_WAIT_MS.
          if (Atomics.load(ctrl, CTRL.ERROR) !== 0 && !this.itemError) {
            const until = performance.now() + REPORT_WAIT_MS;
            const report = () => {
              if (this.itemError || performance.now() >= until) finish(this.itemError ?? stateError('a worker failed without a report'));
              else setTimeout(report, 1);
            };
            setTimeout(report, 0);
          } else {
            finish(this.itemError);
          }
          return true;
        };
        this.inFlight = { reject: finish, wake: () => void check() };
        this.epoch = (Atomics.add(ctrl, CTRL.EPOCH, 1) + 1) | 0; // as the Int32 slot wraps, which workers report
        Atomics.notify(ctrl, CTRL.EPOCH);
        if (typeof waitAsync === 'function') {
          const poll = (): void => {
            if (settled || check()) return;
            // Bounded waits, so a failure (which settles the call) is noticed; a DONE that moved
            // since check() makes waitAsync answer at once.
            const result = waitAsync(ctrl, CTRL.DONE, Atomics.load(ctrl, CTRL.DONE), 1000);
            if (result.async) void (result.value as Promise<string>).then(poll);
            else poll();
          };
          poll();
        }
      });
    } finally {
      // Once terminating, the workers must keep Node alive until they have exited.
      if (!this.closed) for (const w of this.workers) w.ref(false);
    }
  }

  /** Stops every worker (idempotent); a call still in flight rejects. */
  async terminate(): Promise<void> {
    if (this.closed) return;
    this.fail(stateError('the engine was disposed during the call'));
    this.closed = true;
    for (const w of this.workers) w.ref(true);
    Atomics.store(this.ctrl, CTRL.COMMAND, COMMAND_EXIT);
    Atomics.add(this.ctrl, CTRL.EPOCH, 1);
    Atomics.notify(this.ctrl, CTRL.EPOCH);
    await Promise.all(this.workers.map((w) => w.terminate().catch(() => undefined)));
  }

  /** Test hook (crash injection): terminates worker `index` as a crash would. */
  async killWorker(index: number): Promise<void> {
    await this.workers[index].terminate();
  }
}
