// Rejected calls of the ops and layers leave nothing half-written. Each call is a problem of the
// ops differential suite (test/helpers/op-problems.ts: matmul, softmax, layerNorm, gelu, linear,
// the transformer layers and stack, the int8 multi-head attention) whose engine calls get one
// random mutation of their arguments (test/helpers/bad-inputs.ts: bad numbers, other array kinds
// and lengths, junk, dropped and unknown keys, disposed, shorter or foreign tensors) — in a
// module's constructor or in its forward. A call that rejects must give a TypeError or RangeError
// (a disposed tensor: the documented Error naming it) whose message starts with the call's name
// (`matmul: `, `TransformerEncoderLayer.forward: `), then names the argument: the one mutated
// when the mutation made it wrong in itself (another type or array kind, a non-finite number, a
// dimension that is not a positive 31-bit integer, a disposed or foreign tensor), a key it did
// not know, or else an argument the call now disagrees with (another length), and must
// leave every tensor it was given as it was (its `out` too); then the unmutated problem must give
// its bits again and the engine hold no more resident bytes than before. Calls the mutation leaves
// valid may resolve. Threads 1 and 2 (the pool forced).
//
// WASM_ATTENTION_SEED (default 0x0b5), WASM_ATTENTION_CALLS (calls per thread count, default
// 300; `npm run test:fuzz:inputs`: 3000), WASM_ATTENTION_CALL=i replays call i alone.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine, EngineTensor } from '../../dist/index.js';
import {
  JUNK, arrayMutation, badNumbers, callSeed, classOf, isObject, kindOf, memberNames, rand, setKey, unknownKey, type Rand, type Typed,
} from '../helpers/bad-inputs.js';
import { digest, wholeNumber } from '../helpers/differential.js';
import { forcedEngines, internals } from '../helpers/engines.js';
import { generateOpProblem, opCase, opProblemName, OutcomeError } from '../helpers/op-problems.js';

const env = process.env;
const SEED = env.WASM_ATTENTION_SEED === undefined ? 0x0b5 : wholeNumber('WASM_ATTENTION_SEED', env.WASM_ATTENTION_SEED);
const CALLS = env.WASM_ATTENTION_CALLS === undefined ? 300 : wholeNumber('WASM_ATTENTION_CALLS', env.WASM_ATTENTION_CALLS);
const ONLY = env.WASM_ATTENTION_CALL === undefined ? undefined : wholeNumber('WASM_ATTENTION_CALL', env.WASM_ATTENTION_CALL);

const OPS = new Set(['matmul', 'softmax', 'layerNorm', 'gelu']);
const MODULES = new Set(['linear', 'transformerEncoderLayer', 'transformerDecoderLayer', 'transformer', 'multiHeadAttention']);
const CALLS_OF_MODULES = new Set(['forward', 'encode', 'decode']);

/** The names the library gives each call's positional arguments (README, src/types.ts). */
const OP_PARAMS: Record<string, readonly string[]> = {
  matmul: ['a', 'b', 'options'], softmax: ['x', 'options'], layerNorm: ['x', 'options'], gelu: ['x', 'options'],
};
const MODULE_CALL_PARAMS: Record<string, Record<string, readonly string[]>> = {
  linear: { forward: ['x', 'options'] },
  transformerEncoderLayer: { forward: ['src', 'options'] },
  transformerDecoderLayer: { forward: ['tgt', 'memory', 'options'] },
  transformer: { forward: ['src', 'tgt', 'options'], encode: ['src', 'options'], decode: ['tgt', 'memory', 'options'] },
  multiHeadAttention: { forward: ['query', 'key', 'value', 'options'] },
};
/** Every positional name a module's calls have: a constructor's mutation that a module still
 * took may be rejected by its forward, naming one of them. */
const CALL_ARGUMENTS = [...new Set(Object.values(MODULE_CALL_PARAMS).flatMap((calls) => Object.values(calls).flat()))];
/** Keys that are dimensions (src/validate.ts `dim`: an integer in 1..2^31 - 1). */
const DIMS = new Set([
  'm', 'k', 'n', 'batch', 'rows', 'cols', 'dim', 'seq', 'seqS', 'seqT', 'seqQ', 'seqK', 'dModel', 'nhead',
  'dimFeedforward', 'numEncoderLayers', 'numDecoderLayers', 'inFeatures', 'outFeatures', 'embedDim', 'numHeads',
  'kdim', 'vdim',
]);
/** Keys that take a finite number >= 0. */
const EPSILONS = new Set(['eps', 'layerNormEps']);

/** `object.key`, or `object["key"]` when the key is not an identifier, as src/validate.ts names it. */
const member = (object: string, key: string): string => memberNames(object, key)[0];

/** `a.b["c.d"]` as `a["b"]["c.d"]`: a state-dict key may be named either way. */
const bracketed = (text: string): string => text.replace(/\.([A-Za-z_$][\w$]*)/g, '["$1"]');

/** Whether a message's subject (what follows `<call>: `) is `name`, or a member or element of it. */
function names(message: string, name: string): boolean {
  const subject = bracketed(message.replace(/^wasm-attention: /, '').replace(/^[\w.]+: /, ''));
  const n = bracketed(name);
  return subject.startsWith(n) && /^($|[ [(])/.test(subject.slice(n.length));
}

/** What the mutating engine did in one run. */
interface Run {
  /** The mutation, and the name of the call it was made in. */
  mutation?: string;
  call?: string;
  /** Every tensor made through the engine (createTensor), and those disposed by the mutation. */
  tensors: Set<EngineTensor>;
  disposed: Set<EngineTensor>;
  /** The key an "added" mutation put in an object, which the error must name. */
  unknownKey?: string;
  /** The argument the mutation changed, as the library names it (`options.rows`,
   * `config.weights["linear1.bias"]`), and every argument of the call (before the mutation). */
  slot?: string;
  slots: string[];
  /** The mutation made the argument wrong in itself (a value of another type, a non-finite
   * number, a dimension that is not a positive 31-bit integer, another array kind, a disposed or
   * foreign tensor): the error must name that argument. Otherwise (another length, a dimension
   * that no longer fits, a dropped key) it may name any argument it now disagrees with. */
  strict?: boolean;
  /** Tensors the mutation made (on this engine or the other), disposed after the run. */
  foreign: EngineTensor[];
  /** The tensors the mutated call was given, their contents just before it and just after it
   * settled (before the problem's cleanup frees them). */
  given: { tensor: EngineTensor; before: Float32Array; after?: Float32Array }[];
}

/** One random mutation of a call's arguments (in place: the caller passes a copy of its list). */
function mutateArgs(args: unknown[], params: readonly string[], r: Rand, engine: Engine, other: Engine, rec: Run): string {
  interface Slot { path: string; key?: string; value: unknown; set(v: unknown): void }
  const slots: Slot[] = [];
  const visit = (path: string, value: unknown, set: (v: unknown) => void, key?: string): void => {
    if (isObject(value) && Object.getPrototypeOf(value) === Object.prototype && !rec.tensors.has(value as unknown as EngineTensor)) {
      // a copy in the arguments, so the problem's own objects (its weights) stay as they are
      const copy: Record<string, unknown> = { ...value } as never;
      set(copy);
      slots.push({ path, key, value: copy, set });
      for (const k of Object.keys(copy)) visit(member(path, k), copy[k], (v) => setKey(copy, k, v), k);
    } else {
      slots.push({ path, key, value, set });
    }
  };
  args.forEach((v, i) => visit(params[i] ?? `argument ${i}`, v, (x) => { args[i] = x; }));
  rec.slots = slots.map((slot) => slot.path);
  const s = r.pick(slots);
  const v = s.value;
  rec.slot = s.path;
  /** Sets the slot; `strict`: the value is wrong whatever the other arguments are. */
  const put = (x: unknown, strict: boolean) => { s.set(x); rec.strict = strict; };
  const wrongNumber = (x: number) => !Number.isFinite(x) || (DIMS.has(s.key ?? '') && !(Number.isInteger(x) && x > 0 && x <= 0x7fffffff)) ||
    (EPSILONS.has(s.key ?? '') && x < 0);
  const choices: (() => string)[] = [() => {
    const [d, make] = r.pick(JUNK);
    const x = make();
    // junk for an array or tensor, or of another type, is wrong in itself; an object for an
    // options object is one without its keys
    put(x, x !== undefined && (typeof x !== typeof v || kindOf(v) !== undefined || rec.tensors.has(v as EngineTensor)));
    return `${s.path} = ${d}`;
  }];
  if (typeof v === 'number') choices.push(() => { const [d, x] = r.pick(badNumbers(v)); put(x, wrongNumber(x)); return `${s.path} = ${d}`; });
  if (typeof v === 'boolean') choices.push(() => { put(r.pick([1, 'true', null]), true); return `${s.path} = a non-boolean`; });
  if (kindOf(v) !== undefined) {
    for (let i = 0; i < 3; i++) {
      choices.push(() => {
        const [d, x] = arrayMutation(v as Typed, r);
        // another kind or form: wrong in itself; another length: wrong against the others
        put(x, kindOf(x) !== kindOf(v) || /Proxy|tagged/.test(d));
        return `${s.path} = ${d}`;
      });
    }
  }
  if (rec.tensors.has(v as EngineTensor)) {
    const t = v as EngineTensor;
    choices.push(
      () => { const d = engine.createTensor(t.length); rec.tensors.add(d); rec.disposed.add(d); void d.dispose(); put(d, true); return `${s.path} = a disposed tensor`; },
      () => { const d = engine.createTensor(t.length + 1); rec.tensors.add(d); rec.foreign.push(d); put(d, false); return `${s.path} = a tensor of ${t.length + 1}`; },
      () => { const d = other.createTensor(t.length); rec.foreign.push(d); put(d, true); return `${s.path} = a tensor of another engine`; },
    );
  }
  if (isObject(v) && Object.getPrototypeOf(v) === Object.prototype && !rec.tensors.has(v as unknown as EngineTensor)) {
    const keys = Object.keys(v);
    if (keys.length > 0) choices.push(() => { const key = r.pick(keys); delete (v as Record<string, unknown>)[key]; rec.strict = false; return `dropped ${member(s.path, key)}`; });
    choices.push(() => { const key = unknownKey(r); setKey(v as Record<string, unknown>, key, r.pick([true, 1, 'x'])); rec.unknownKey = key; return `added ${member(s.path, key)}`; });
  }
  return r.pick(choices)();
}

/** An engine whose first op or module call, or a module's first forward / encode / decode, gets
 * one mutation (a constructor with probability 0.4); the tensors that call is given are read
 * just before it. */
function mutating(engine: Engine, other: Engine, r: Rand, rec: Run): Engine {
  const constructorFirst = r.chance(0.4);
  const mutateHere = async (name: string, params: readonly string[], args: unknown[]): Promise<unknown[]> => {
    args = [...args];
    rec.mutation = mutateArgs(args, params, r, engine, other, rec);
    rec.call = name;
    const found: EngineTensor[] = [];
    const scan = (x: unknown, depth: number) => {
      if (rec.tensors.has(x as EngineTensor) && !rec.disposed.has(x as EngineTensor)) found.push(x as EngineTensor);
      else if (isObject(x) && depth < 3 && kindOf(x) === undefined) for (const key of Object.keys(x)) scan(x[key], depth + 1);
    };
    args.forEach((a) => scan(a, 0));
    for (const tensor of new Set(found)) rec.given.push({ tensor, before: await tensor.read() });
    return args;
  };
  /** Calls f with the mutated arguments; when it fails, reads the tensors it was given. */
  const mutated = async (
    name: string, params: readonly string[], f: (...a: unknown[]) => unknown, self: object, args: unknown[],
  ): Promise<unknown> => {
    if (rec.mutation !== undefined) return f.apply(self, args);
    const changed = await mutateHere(name, params, args);
    try {
      return await f.apply(self, changed);
    } catch (error) {
      for (const g of rec.given) g.after = await g.tensor.read();
      throw error;
    }
  };
  // Module handles are frozen (a Proxy may not change their methods): a stand-in with the same
  // methods, bound to the module, forward / encode / decode mutated.
  const wrapModule = (module: object, kind: string): object => {
    const stand: Record<string, unknown> = {};
    for (const key of Object.keys(module)) {
      const value = (module as Record<string, unknown>)[key];
      stand[key] = typeof value !== 'function' ? value : CALLS_OF_MODULES.has(key)
        ? (...args: unknown[]) => mutated(key, MODULE_CALL_PARAMS[kind][key], value as (...a: unknown[]) => unknown, module, args)
        : (value as (...a: unknown[]) => unknown).bind(module);
    }
    return stand;
  };
  return new Proxy(engine, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver);
      if (typeof key !== 'string' || typeof value !== 'function') return value;
      if (key === 'createTensor') {
        return (...args: unknown[]) => {
          const t = (value as (...a: unknown[]) => EngineTensor).apply(target, args);
          rec.tensors.add(t);
          return t;
        };
      }
      if (OPS.has(key)) {
        return (...args: unknown[]) => mutated(key, OP_PARAMS[key], value as (...a: unknown[]) => unknown, target, args);
      }
      if (MODULES.has(key)) {
        return (...args: unknown[]) => {
          if (rec.mutation === undefined && constructorFirst) {
            // a constructor's mutation: synchronous, and with no tensors to read
            args = [...args];
            rec.mutation = mutateArgs(args, ['config'], r, target, other, rec);
            rec.call = key;
          }
          return wrapModule((value as (...a: unknown[]) => object).apply(target, args), key);
        };
      }
      return value;
    },
  });
}

let engines: Engine[] = [];
let other: Engine;

describe(`rejected op and layer calls leave nothing half-written (seed ${SEED})`, () => {
  beforeAll(async () => {
    engines = await forcedEngines([1, 2]);
    [other] = await forcedEngines([1]);
  });
  afterAll(async () => {
    await Promise.all([...engines, other].map((e) => e.dispose()));
  });

  for (const threads of [1, 2]) {
    it(`threads ${threads}: ${ONLY !== undefined ? `call ${ONLY}` : `${CALLS} calls`}`, async () => {
      const engine = engines[threads - 1];
      const arena = internals(engine).arena;
      const tally = { rejected: 0, resolved: 0, tensors: 0, keys: 0, named: 0, related: 0, byCall: new Map<string, number>() };
      for (let i = ONLY ?? 0; ONLY !== undefined ? i === ONLY : i < CALLS; i++) {
        const r = rand(callSeed(SEED, i));
        const problem = generateOpProblem(SEED, i);
        const replay = `WASM_ATTENTION_SEED=${SEED} WASM_ATTENTION_CALL=${i} npx vitest run test/ops/op-rejection-fuzz.test.ts`;
        const clean = digest(await opCase(problem).run(engine));
        const resident = arena.residentBytes;
        const rec: Run = { tensors: new Set(), disposed: new Set(), foreign: [], given: [], slots: [] };
        const c = opCase(problem);
        let error: unknown;
        try {
          await c.run(mutating(engine, other, r, rec));
        } catch (e) {
          // the call resolved, but the problem's own checks of its outcome do not hold for a
          // mutated call (a dropped `out`, say): it counts as resolved
          if (!(e instanceof OutcomeError)) error = e;
        }
        await Promise.all(rec.foreign.map((t) => t.dispose()));
        const where = () => `call ${i} (${opProblemName(problem)}), ${rec.call}: ${rec.mutation}\n  replay: ${replay}`;
        if (error === undefined) {
          tally.resolved++;
          // an unknown key, a disposed or foreign tensor, or a longer one (but gelu's x: any
          // length) is never a valid call
          const longerX = rec.call === 'gelu' && rec.mutation?.startsWith('x =');
          expect(/^added |a disposed tensor|another engine/.test(rec.mutation ?? '') ||
            (/a tensor of \d+$/.test(rec.mutation ?? '') && !longerX), `${where()}\n  resolved`).toBe(false);
        } else {
          tally.rejected++;
          tally.byCall.set(rec.call ?? '?', (tally.byCall.get(rec.call ?? '?') ?? 0) + 1);
          const kind = classOf(error), message = (error as Error).message;
          const disposed = /disposed/.test(rec.mutation ?? '');
          expect(kind === 'TypeError' || kind === 'RangeError' || (disposed && kind === 'Error'),
            `${where()}\n  threw ${kind}: ${message}`).toBe(true);
          // named by the call: `matmul: …`, `TransformerEncoderLayer.forward: …`; a constructor's
          // mutation that still makes a module (nhead 3 for 4) by it or by the module's call
          const byModule = '[A-Z]\\w*\\.(forward|encode|decode)';
          expect(message, where()).toMatch(new RegExp(CALLS_OF_MODULES.has(rec.call!) ? `^[A-Z]\\w*\\.${rec.call}: `
            : MODULES.has(rec.call!) ? `^(${rec.call}|${byModule}): ` : `^${rec.call}: `));
          // an unknown key is named, before anything else that is wrong (README, "API")
          if (rec.unknownKey !== undefined) {
            expect(message, `${where()}\n  the unknown key is not named`).toContain(rec.unknownKey);
            tally.keys++;
          } else {
            // the argument the mutation made wrong is the error's subject; one that is now only
            // inconsistent may leave another argument named (x's length against options.out),
            // but an argument of the call; a constructor's mutation the constructor took, one
            // of the module's call
            const byLaterCall = !CALLS_OF_MODULES.has(rec.call!) && MODULES.has(rec.call!) && !message.startsWith(`${rec.call}: `);
            const allowed = rec.strict && !byLaterCall ? [rec.slot!] : byLaterCall ? CALL_ARGUMENTS : rec.slots;
            expect(allowed.some((name) => names(message, name)),
              `${where()}\n  names none of ${allowed.length > 6 ? `the call's ${allowed.length} arguments` : allowed.join(', ')}: ${message}`).toBe(true);
            if (rec.strict && !byLaterCall) tally.named++;
            else tally.related++;
          }
          tally.tensors += rec.given.length;
          for (const { tensor, before, after } of rec.given) {
            expect(after && digest(after), `${where()}\n  a tensor of ${tensor.length} it was given changed`).toBe(digest(before));
          }
        }
        expect(digest(await opCase(problem).run(engine)), `${where()}\n  the problem's bits afterwards`).toBe(clean);
        expect(arena.residentBytes, `${where()}\n  resident bytes (a leak if more)`).toBe(resident);
      }
      console.log(`op rejection fuzz, threads ${threads}: ${tally.rejected} rejected (${[...tally.byCall].map(([k, n]) => `${k} ${n}`).join(', ')}; ` +
        `${tally.tensors} tensors they were given compared; named: ${tally.keys} unknown keys, ${tally.named} wrong arguments, ` +
        `${tally.related} arguments they disagreed with), ${tally.resolved} resolved`);
    }, 600_000);
  }
});
