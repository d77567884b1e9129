// The one worker protocol: the messages (a discriminated union, set-up and failure reports
// only) and the control block in shared memory through which every call is dispatched.
//
// A call: the host writes the program (in dispatches of at most MAX_PHASES phases) (PROGRAM region, f64 records: kind, then the phase's
// fields in PHASE_FIELDS order), zeroes the counters, bumps EPOCH and notifies. Each worker
// claims items of phase p with Atomics.add(NEXT + p), meets the others at ARRIVE + p before
// the next phase, and increments DONE; the host waits on DONE (Atomics.waitAsync, or the last
// worker's 'done' message where waitAsync does not exist).
import { PHASE_FIELDS, type Phase } from './phases.js';
import { CONTROL_HEADER_SLOTS, MAX_PHASES, PHASE_SLOTS } from '../wasm/layout.js';

/** Int32 slots of the control block (CONTROL_SLOTS of them, src/wasm/layout.ts). The per-phase
 * arrays follow the header and each other, MAX_PHASES slots apiece. */
export const CTRL = {
  EPOCH: 0,   // bumped by the host for every command
  COMMAND: 1, // RUN or EXIT
  PHASES: 2,  // phases in the dispatch
  DONE: 3,    // workers that finished the dispatch
  ERROR: 4,   // set when an item threw
  GEN: 5,     // the pool generation: bumped by every Pool.create, so a worker of a replaced pool
              // that is still running (a web Worker's terminate() does not wait) stops at once
  NEXT: CONTROL_HEADER_SLOTS,                // NEXT + p: next unclaimed item of phase p
  ARRIVE: CONTROL_HEADER_SLOTS + MAX_PHASES, // ARRIVE + p: workers past phase p
} as const;

export const COMMAND_RUN = 1;
export const COMMAND_EXIT = 2;

/** An error as it crosses threads, rebuilt on the other side with its class. */
export interface WireError {
  name: string;
  message: string;
  stack?: string;
}

/** The host–worker protocol's version: a worker script of another build (a stale cached
 * worker.js, a bundler copy left from an older version) answers with its own, and the pool
 * refuses to start instead of running a program it reads differently. Bump on any change to
 * these messages, the control block or the program encoding. */
export const PROTOCOL = 2;

export type HostToWorker = {
  type: 'init';
  protocol: number;           // PROTOCOL of the host
  index: number;              // this worker's thread index (its scratch slot)
  threads: number;            // workers in the pool
  module: WebAssembly.Module; // the kernels, compiled once by the host
  memory: WebAssembly.Memory; // the shared memory
  relaxedDot: number;         // the int8 mode of the host's instance (0 off, 1 or 2: i8_set_relaxed_dot)
  generation: number;         // CTRL.GEN of this pool: the worker stops when it changes
  control: number;            // byte address of the control block
  program: number;            // byte address of the program region
  notifyByMessage: boolean;   // the host has no Atomics.waitAsync: post 'done'
};

export type WorkerToHost =
  | { type: 'ready'; index: number; int8Mode: number; protocol: number } // int8Mode: i8_set_relaxed_dot's answer
  | { type: 'done'; index: number; epoch: number }
  | { type: 'error'; index: number; error: WireError; epoch?: number }; // epoch: the failing call's (none: start-up)

export function toWire(error: unknown): WireError {
  if (error instanceof Error) return { name: error.name, message: error.message, stack: error.stack };
  return { name: 'Error', message: String(error) };
}

const ERROR_CLASSES: Record<string, ErrorConstructor> = {
  TypeError, RangeError, SyntaxError, ReferenceError, EvalError, URIError,
};

export function fromWire(wire: WireError, prefix: string): Error {
  const Class = ERROR_CLASSES[wire.name] ?? Error;
  const error = new Class(`${prefix}${wire.message}`);
  if (wire.stack) error.stack = `${error.name}: ${prefix}${wire.message}\n    [worker] ${wire.stack}`;
  return error;
}

/** Writes a program into the f64 program region. */
export function encodeProgram(region: Float64Array, program: readonly Phase[]): void {
  if (program.length > MAX_PHASES) throw new Error(`a dispatch of ${program.length} phases exceeds ${MAX_PHASES}`);
  program.forEach((phase, p) => {
    const fields = PHASE_FIELDS[phase.kind];
    const base = p * PHASE_SLOTS;
    region[base] = phase.kind;
    const record = phase as unknown as Record<string, number>;
    for (let f = 0; f < fields.length; f++) region[base + 1 + f] = record[fields[f]];
  });
}

/** Reads phase p back (the worker side of encodeProgram). */
export function decodePhase(region: Float64Array, p: number): Phase {
  const base = p * PHASE_SLOTS;
  const kind = region[base] as Phase['kind'];
  const fields = PHASE_FIELDS[kind];
  if (!fields) throw new Error(`unknown phase kind ${kind}`);
  const phase: Record<string, number> = { kind };
  for (let f = 0; f < fields.length; f++) phase[fields[f]] = region[base + 1 + f];
  return phase as unknown as Phase;
}
