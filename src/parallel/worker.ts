// Worker entry (dist/worker.js): instantiate the kernels on the shared memory, then serve
// programs from the control block until told to exit. No exception escapes: a failing item is
// reported and the worker still passes every barrier, so the others never wait forever.
import type { KernelExports } from '../wasm/abi.js';
import { itemCount, runItem, type Phase } from './phases.js';
import {
  COMMAND_EXIT, CTRL, PROTOCOL, decodePhase, toWire, type HostToWorker, type WorkerToHost,
} from './protocol.js';
import { CONTROL_SLOTS, MAX_PHASES, PHASE_SLOTS } from '../wasm/layout.js';
import { instantiateModule } from '../wasm/sync-wasm.js';

interface Port {
  post(message: WorkerToHost): void;
  listen(handler: (message: HostToWorker) => void): void;
  exit(): void;
}

async function connect(): Promise<Port> {
  const isDeno = typeof (globalThis as { Deno?: unknown }).Deno !== 'undefined';
  const isNode = typeof process !== 'undefined' && typeof process.versions?.node === 'string' && !isDeno &&
    (globalThis as { navigator?: { userAgent?: unknown } }).navigator?.userAgent !== 'Cloudflare-Workers';
  if (isNode || isDeno) { // Deno: started through its node:worker_threads (pool.ts), which has parentPort
    const name = 'node:worker_threads';
    const { parentPort } = (await import(/* @vite-ignore */ name)) as typeof import('node:worker_threads');
    if (parentPort) {
      return {
        post: (m) => parentPort.postMessage(m),
        listen: (h) => parentPort.on('message', h),
        // Node ends just this thread; in Deno, close() ends the worker (its process.exit is the process's).
        exit: () => (isDeno ? (globalThis as unknown as { close(): void }).close() : process.exit(0)),
      };
    }
    if (isNode) throw new Error('wasm-attention worker started outside a worker thread');
  }
  const scope = globalThis as unknown as {
    postMessage(m: unknown): void; addEventListener(t: 'message', h: (e: MessageEvent) => void): void; close(): void;
  };
  return {
    post: (m) => scope.postMessage(m),
    listen: (h) => scope.addEventListener('message', (e) => h(e.data as HostToWorker)),
    exit: () => scope.close(),
  };
}

/** Serves commands issued after `epoch` (read before 'ready' was sent, so none is missed). */
function serve(port: Port, init: Extract<HostToWorker, { type: 'init' }>, kernels: KernelExports, epoch: number): void {
  const { index, threads, memory } = init;
  const ctrl = new Int32Array(memory.buffer, init.control, CONTROL_SLOTS);
  const region = new Float64Array(memory.buffer, init.program, MAX_PHASES * PHASE_SLOTS);
  // Whether a newer pool owns the control block: this worker's pool was replaced (after a
  // failure) while it still ran; it must not claim, arrive or count in the new pool's calls.
  const replaced = () => Atomics.load(ctrl, CTRL.GEN) !== init.generation;
  for (;;) {
    epoch = next(ctrl, CTRL.EPOCH, epoch);
    if (Atomics.load(ctrl, CTRL.COMMAND) === COMMAND_EXIT || replaced()) return port.exit();
    let failed = false;
    const phases = Atomics.load(ctrl, CTRL.PHASES);
    for (let p = 0; p < phases; p++) {
      if (replaced()) return port.exit(); // before it reads the program region: a newer pool's
      let phase: Phase | undefined;
      try {
        phase = decodePhase(region, p);
      } catch (error) {
        if (replaced()) return port.exit(); // its ERROR slot is the newer pool's now
        failed = report(port, ctrl, index, epoch, error, failed);
      }
      const items = phase ? itemCount(phase) : 0;
      for (;;) {
        if (replaced()) return port.exit();
        const i = Atomics.add(ctrl, CTRL.NEXT + p, 1);
        if (i >= items) break;
        if (failed) continue; // keep claiming so the phase drains, but do no more work
        try {
          runItem(kernels, phase!, i, index);
        } catch (error) {
          if (replaced()) return port.exit();
          failed = report(port, ctrl, index, epoch, error, failed);
        }
      }
      if (p + 1 < phases) barrier(ctrl, CTRL.ARRIVE + p, threads);
    }
    if (replaced()) return port.exit();
    if (Atomics.add(ctrl, CTRL.DONE, 1) + 1 === threads) {
      Atomics.notify(ctrl, CTRL.DONE);
      if (init.notifyByMessage) port.post({ type: 'done', index, epoch });
    }
  }
}

/** Reports the first failure of this worker in this call; later ones add nothing. */
function report(port: Port, ctrl: Int32Array, index: number, epoch: number, error: unknown, already: boolean): boolean {
  if (!already) {
    Atomics.store(ctrl, CTRL.ERROR, 1);
    port.post({ type: 'error', index, epoch, error: toWire(error) });
  }
  return true;
}

/** Waits until `slot` no longer holds `value` and returns what it holds then. A wake-up alone
 * proves nothing: the host bumps EPOCH and then notifies, and when it is descheduled between the
 * two, a worker can see the new EPOCH by spinning, finish that whole call and be asleep on it
 * again when the notify lands. Taking that late notify for a new command would run the finished
 * program a second time over the host's next dispatch (and did: a hang under load). */
function next(ctrl: Int32Array, slot: number, value: number): number {
  for (let now = Atomics.load(ctrl, slot); ; now = Atomics.load(ctrl, slot)) {
    if (now !== value) return now;
    spin(ctrl, slot, value);
    Atomics.wait(ctrl, slot, value);
  }
}

/** Every worker waits here until all `threads` have arrived. */
function barrier(ctrl: Int32Array, slot: number, threads: number): void {
  if (Atomics.add(ctrl, slot, 1) + 1 === threads) {
    Atomics.notify(ctrl, slot);
    return;
  }
  for (let seen = Atomics.load(ctrl, slot); seen < threads; seen = Atomics.load(ctrl, slot)) {
    spin(ctrl, slot, seen);
    Atomics.wait(ctrl, slot, seen);
  }
}

/** Polls `slot` while it holds `value`, for up to SPIN_MS, before the caller sleeps: waking a
 * sleeping thread costs more than that, and back-to-back calls (a decoding loop) or a phase
 * barrier usually move the slot within it. */
function spin(ctrl: Int32Array, slot: number, value: number): void {
  const until = performance.now() + SPIN_MS;
  do {
    for (let i = 0; i < 256; i++) if (Atomics.load(ctrl, slot) !== value) return;
  } while (performance.now() < until);
}
const SPIN_MS = 0.1;

// No top-level await: bundlers build workers as classic scripts (Vite's default is iife).
// Node's parentPort queues messages until a listener is attached; in browsers connect() attaches
// synchronously (no await happens before listen on that path).
// The host posts 'init' again until the worker answers (a runtime that drops messages sent
// before the listener exists, as Deno's node:worker_threads can): only the first one counts.
let initialised = false;
void connect().then((port) => port.listen(async (message) => {
  if (message.type !== 'init' || initialised) return;
  initialised = true;
  if (message.protocol !== PROTOCOL) { // a host of another build: say so rather than misread its programs
    port.post({ type: 'error', index: message.index, error: toWire(new Error(`this worker script speaks protocol ${PROTOCOL}, ` +
      `the host ${String(message.protocol)}: serve the worker.js of the same wasm-attention build as its index.js`)) });
    return;
  }
  try {
    // Synchronously in Node, as on the host (src/wasm/sync-wasm.ts: nodejs/node#54918).
    const instance = await instantiateModule(message.module, { env: { memory: message.memory } });
    const kernels = instance.exports as unknown as KernelExports;
    // The host's int8 mode: strips this thread quantizes may be multiplied on another. The mode
    // in effect goes back with 'ready', and the host checks it (builds without the export: 0).
    const int8Mode = typeof kernels.i8_set_relaxed_dot === 'function' ? kernels.i8_set_relaxed_dot(message.relaxedDot) : 0;
    const epoch = Atomics.load(new Int32Array(message.memory.buffer, message.control, CONTROL_SLOTS), CTRL.EPOCH);
    port.post({ type: 'ready', index: message.index, int8Mode, protocol: PROTOCOL });
    // Enter the blocking loop after the reply is queued; the loop owns this thread from here.
    setTimeout(() => serve(port, message, kernels, epoch), 0);
  } catch (error) {
    port.post({ type: 'error', index: message.index, error: toWire(error) });
  }
}));
