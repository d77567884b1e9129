// A seeded fuzz of the model constructors: engine.gpt2, engine.bert and the four BertFor* heads,
// f32 and quantize 'int8', on the Hugging Face fixtures (test/fixtures/gpt2, bert) and two int8
// files made from them (quantizeSafetensors: with quantize 'int8' the engine packs their codes). Each call
// starts from a valid { config, weights } and gets one mutation: a config key dropped, of another
// type, out of range or changed to another valid size; a weight dropped, of another length or
// array kind, holding a NaN (int8 quantizes it); a key added inside the model's namespace (a layer
// past the config's, an unknown sub-key of a layer), outside it, or in the options; the whole
// config or weights replaced. The constructor either makes a model that runs (a key outside the
// namespace is then in `unusedKeys`) or throws a TypeError or RangeError starting `<op>: ` that
// names, when the mutation made one key wrong in itself (another type, a non-finite or
// non-positive size, a dropped size, another array kind or length, a NaN for int8), that key; else
// a config key or weight the file and config now disagree on. Either way nothing stays behind: the
// engine holds the resident bytes it held before, the caller's arrays are unchanged, and a fixed
// model's logits keep their first bits. Threads 1 and 2, the pool forced.
//
// WASM_ATTENTION_SEED (default 0xc0de), WASM_ATTENTION_CONSTRUCTOR_CALLS (per thread count,
// default 200; `npm run test:fuzz:models`: 2000), WASM_ATTENTION_CALL=i replays call i alone.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSafetensors, quantizeSafetensors, type Engine } from '../../dist/index.js';
import { JUNK, callSeed, classOf, rand, type Rand } from '../helpers/bad-inputs.js';
import { digest, wholeNumber } from '../helpers/differential.js';
import { forcedEngines, internals } from '../helpers/engines.js';

type Json = Record<string, unknown>;
const env = process.env;
const SEED = env.WASM_ATTENTION_SEED === undefined ? 0xc0de : wholeNumber('WASM_ATTENTION_SEED', env.WASM_ATTENTION_SEED);
const CALLS = env.WASM_ATTENTION_CONSTRUCTOR_CALLS === undefined ? 200
  : wholeNumber('WASM_ATTENTION_CONSTRUCTOR_CALLS', env.WASM_ATTENTION_CONSTRUCTOR_CALLS);
const ONLY = env.WASM_ATTENTION_CALL === undefined ? undefined : wholeNumber('WASM_ATTENTION_CALL', env.WASM_ATTENTION_CALL);

interface Fixture { config: Json; weights: Record<string, Float32Array> }
/** A fixture's config and state dict; `dir#int8`: its int8 file (quantizeSafetensors), whose
 * weights the engine packs from their codes. */
const fixture = (name: string): Fixture => {
  const [dir, int8] = name.split('#');
  const at = new URL(`../fixtures/${dir}/`, import.meta.url);
  const bytes = new Uint8Array(readFileSync(new URL('model.safetensors', at)));
  return {
    config: JSON.parse(readFileSync(new URL('config.json', at), 'utf8')),
    weights: loadSafetensors(int8 ? quantizeSafetensors(bytes).bytes : bytes),
  };
};

/** A model family: its constructors, fixtures, the config keys that are sizes and epsilons, and
 * keys to add inside its namespace that no config allows. */
interface Family {
  constructors: { op: string; fixtures: string[] }[];
  sizes: readonly string[];
  epsilon: string;
  /** The key prefix a checkpoint may carry (`transformer.`, `bert.`). */
  prefix: string;
  /** Keys inside the namespace that do not fit the config (a layer past its count, a sub-key no layer has). */
  misfits(config: Json): string[];
  /** Runs the model once on a few valid ids: every output array. */
  run(model: unknown, config: Json): Promise<Float32Array[]>;
}

const GPT2: Family = {
  constructors: [{ op: 'gpt2', fixtures: ['gpt2/tiny-f32', 'gpt2/small-f16', 'gpt2/odd-untied', 'gpt2/bf16-buffers', 'gpt2/odd-untied#int8'] }],
  sizes: ['vocab_size', 'n_positions', 'n_embd', 'n_layer', 'n_head'],
  epsilon: 'layer_norm_epsilon',
  prefix: 'transformer.',
  misfits: (c) => [`h.${c.n_layer as number}.ln_1.weight`, 'h.0.attn.q_proj.weight', 'h.0.mlp.c_gate.weight', `transformer.h.${c.n_layer as number}.attn.bias`],
  run: async (model, c) => {
    const ids = [1, 2, 3].map((i) => i % (c.vocab_size as number));
    const out = await (model as { forward(i: number[], o: Json): Promise<{ logits: Float32Array }> }).forward(ids, { batch: 1, seq: 3 });
    return [out.logits];
  },
};

const BERT: Family = {
  constructors: [
    { op: 'bert', fixtures: ['bert/classifier-3', 'bert/f16-no-pooler', 'bert/gamma-beta-bf16', 'bert/prefixed-cls'] },
    { op: 'bertForSequenceClassification', fixtures: ['bert/classifier-3', 'bert/classifier-3#int8'] },
    { op: 'bertForTokenClassification', fixtures: ['bert/token-classifier-5'] },
    { op: 'bertForQuestionAnswering', fixtures: ['bert/qa'] },
    { op: 'bertForMaskedLM', fixtures: ['bert/prefixed-cls'] },
  ],
  sizes: ['vocab_size', 'hidden_size', 'num_hidden_layers', 'num_attention_heads', 'intermediate_size', 'max_position_embeddings', 'type_vocab_size'],
  epsilon: 'layer_norm_eps',
  prefix: 'bert.',
  misfits: (c) => [`encoder.layer.${c.num_hidden_layers as number}.output.dense.weight`, 'encoder.layer.0.attention.self.rotary.weight',
    'embeddings.token_type_embeddings.bias'],
  run: async (model, c) => {
    const ids = [1, 2, 3, 4].map((i) => i % (c.vocab_size as number));
    const out = await (model as { forward(i: number[], o: Json): Promise<Record<string, unknown>> }).forward(ids, { batch: 1, seq: 4 });
    return Object.values(out).filter((v): v is Float32Array => v instanceof Float32Array);
  },
};

const BAD_SIZES: readonly [string, number][] = [
  ['0', 0], ['-1', -1], ['1.5', 1.5], ['NaN', NaN], ['Infinity', Infinity], ['2^31', 2 ** 31], ['1e12', 1e12],
];

/** One mutated constructor call. */
interface Call {
  op: string;
  family: Family;
  options: Json;
  description: string;
  /** Whether the constructor must build the model, must throw, or may do either. */
  outcome: 'build' | 'reject' | 'either';
  /** What a rejection must name (any of). */
  names?: string[];
  /** A rejection may name instead any config key or weight (the mutation made the file and the
   * config disagree, and either side may be the one named). */
  related?: boolean;
  /** A key the model must list in unusedKeys. */
  unused?: string;
}

const quoted = (key: string) => `weights[${JSON.stringify(key)}]`;
/** The ways a message may name weight `key`: with or without the checkpoint's prefix, and a
 * LayerNorm's old `gamma` / `beta` by the name the model reads (`weight` / `bias`). */
const weightNames = (key: string, prefix: string) => {
  const bare = key.startsWith(prefix) ? key.slice(prefix.length) : key;
  const current = bare.replace(/\.gamma$/, '.weight').replace(/\.beta$/, '.bias');
  return [...new Set([bare, current])].flatMap((k) => [quoted(k), quoted(prefix + k)]);
};

function makeCall(r: Rand, fixtures: Map<string, Fixture>): Call {
  const family = r.pick([GPT2, BERT, BERT]);
  const { op, fixtures: names } = r.pick(family.constructors);
  const { config: clean, weights: cleanWeights } = fixtures.get(r.pick(names))!;
  const config: Json = structuredClone(clean);
  const weights: Record<string, unknown> = { ...cleanWeights };
  const options: Json = { config, weights };
  if (r.chance(0.35)) options.quantize = 'int8';
  const call = (description: string, extra: Partial<Call> = {}): Call => ({ op, family, options, description, outcome: 'either', ...extra });
  const keys = Object.keys(weights);
  const kind = r.int(0, 11);
  if (kind <= 3) {
    // a config key
    const key = r.chance(0.7) ? r.pick([...family.sizes, family.epsilon]) : r.pick(Object.keys(config));
    const size = family.sizes.includes(key), eps = key === family.epsilon;
    const own = [`config.${key}`];
    const choice = r.int(0, 3);
    if (choice === 0) {
      delete config[key];
      // every size is required; an absent epsilon is HF's default for GPT-2, required for BERT
      return call(`dropped config.${key}`, size ? { outcome: 'reject', names: own } : eps ? { names: own } : { related: true });
    }
    if (choice === 1) {
      const [d, make] = r.pick(JUNK);
      const v = make();
      config[key] = v;
      // undefined is a dropped key (above)
      return call(`config.${key} = ${d}`, size || (eps && v !== undefined) ? { outcome: 'reject', names: own } : eps ? { names: own } : { related: true });
    }
    if (size && choice === 2) {
      const [d, v] = r.pick(BAD_SIZES);
      config[key] = v;
      return call(`config.${key} = ${d}`, { outcome: 'reject', names: own });
    }
    if (eps && choice === 2) {
      const [d, v] = r.pick([['-1e-5', -1e-5], ['NaN', NaN], ['Infinity', Infinity]] as const);
      config[key] = v;
      return call(`config.${key} = ${d}`, { outcome: 'reject', names: own });
    }
    if (size) {
      // another valid size: the weights no longer fit (or fit: n_positions larger than wpe is named)
      const v = config[key] as number;
      const next = r.pick([v + 1, 2 * v, Math.max(1, v - 1)]);
      if (next === v) return call(`config.${key} unchanged`, { outcome: 'build' });
      config[key] = next;
      return call(`config.${key} = ${next} (was ${v})`, { related: true });
    }
    config[`zz_${key}`] = 7;
    return call(`added config.zz_${key} (HF configs carry keys a model does not read)`, { outcome: 'build' });
  }
  if (kind <= 7) {
    // a weight
    const key = r.pick(keys);
    const w = weights[key] as Float32Array;
    const own = weightNames(key, family.prefix);
    const choice = r.int(0, 4);
    if (choice === 0) {
      delete weights[key];
      // buffers, a pooler a head does not use, an untied decoder: a model may not need the key
      return call(`dropped ${quoted(key)}`, { names: own });
    }
    if (choice === 1) {
      const n = r.pick([w.length - 1, w.length + 1, 2 * w.length, 0].filter((x) => x >= 0));
      weights[key] = new Float32Array(n);
      return call(`${quoted(key)} = a Float32Array(${n}) for ${w.length}`, { names: own });
    }
    if (choice === 2) {
      const kinds: [string, () => unknown][] = [
        ['a Float64Array', () => Float64Array.from(w)], ['a plain Array', () => Array.from(w)],
        ['an Int8Array', () => new Int8Array(w.length)], ['a string', () => 'w'], ['null', () => null],
      ];
      const [d, make] = r.pick(kinds);
      weights[key] = make();
      return call(`${quoted(key)} = ${d}`, { names: own });
    }
    if (choice === 3 && options.quantize === 'int8') {
      const copy = w.slice();
      copy[r.int(0, copy.length - 1)] = r.pick([NaN, Infinity, -Infinity]);
      weights[key] = copy;
      // only a quantized weight must be finite: a LayerNorm or bias may hold it
      return call(`${quoted(key)} holds a non-finite value, int8`, { names: own });
    }
    const bad = r.pick(family.misfits(config));
    weights[bad] = w;
    return call(`added ${quoted(bad)} (inside the namespace)`, { outcome: 'reject', names: weightNames(bad, family.prefix) });
  }
  if (kind <= 9) {
    const key = r.pick(['zz.extra.weight', 'extra', 'cls.seq_relationship.weight', 'score.weight']);
    weights[key] = new Float32Array(3);
    return call(`added ${quoted(key)} (outside the namespace)`, { outcome: 'build', unused: key });
  }
  if (kind === 10) {
    const [d, v] = r.pick([['an unknown option', 'x'], ['quantize "int4"', 'int4'], ['quantize true', true]] as const);
    if (d === 'an unknown option') {
      options.precision = v;
      return call('options.precision = "x"', { outcome: 'reject', names: ['options.precision'] });
    }
    options.quantize = v;
    return call(`options.${d}`, { outcome: 'reject', names: ['quantize'] });
  }
  const which = r.pick(['config', 'weights'] as const);
  const [d, make] = r.pick(JUNK);
  options[which] = make();
  return call(`${which} = ${d}`, { outcome: 'reject', names: [which] });
}

let engines: Engine[] = [];
let fixtures: Map<string, Fixture>;

describe(`model constructors: rejected configs and state dicts are named and leave nothing behind (seed ${SEED})`, () => {
  beforeAll(async () => {
    engines = await forcedEngines([1, 2]);
    const dirs = [...new Set([GPT2, BERT].flatMap((f) => f.constructors.flatMap((c) => c.fixtures)))];
    fixtures = new Map(dirs.map((d) => [d, fixture(d)]));
  });
  afterAll(async () => {
    await Promise.all(engines.map((e) => e.dispose()));
  });

  for (const threads of [1, 2]) {
    it(`threads ${threads}: ${ONLY !== undefined ? `call ${ONLY}` : `${CALLS} calls`}`, async () => {
      const engine = engines[threads - 1];
      const arena = internals(engine).arena;
      const arrays = [...fixtures.values()].flatMap((f) => Object.values(f.weights));
      const digests = arrays.map(digest);
      const fixed = engine.gpt2(fixtures.get('gpt2/tiny-f32')!);
      const fixedRun = () => GPT2.run(fixed, fixtures.get('gpt2/tiny-f32')!.config);
      const first = (await fixedRun()).map(digest);
      const resident = arena.residentBytes;
      const tally = { built: 0, named: 0, related: 0, unused: 0, byOp: new Map<string, number>() };
      for (let i = ONLY ?? 0; ONLY !== undefined ? i === ONLY : i < CALLS; i++) {
        const call = makeCall(rand(callSeed(SEED, i)), fixtures);
        const where = `call ${i}, ${call.op}${call.options.quantize === 'int8' ? ' int8' : ''}: ${call.description}\n  replay: ` +
          `WASM_ATTENTION_SEED=${SEED} WASM_ATTENTION_CALL=${i} npx vitest run test/models/model-constructor-fuzz.test.ts`;
        let model: { dispose(): Promise<void>; unusedKeys: readonly string[] } | undefined;
        let error: unknown;
        try {
          model = (engine as unknown as Record<string, (o: Json) => typeof model>)[call.op](call.options);
        } catch (e) {
          error = e;
        }
        if (model !== undefined) {
          tally.built++;
          expect(call.outcome, `${where}\n  was built`).not.toBe('reject');
          if (call.unused !== undefined) {
            expect(model.unusedKeys, where).toContain(call.unused);
            tally.unused++;
          }
          const outputs = await call.family.run(model, call.options.config as Json);
          expect(outputs.length, where).toBeGreaterThan(0);
          await model.dispose();
        } else {
          const kind = classOf(error), message = (error as Error).message;
          expect(call.outcome, `${where}\n  threw ${kind}: ${message}`).not.toBe('build');
          expect(kind === 'TypeError' || kind === 'RangeError', `${where}\n  threw ${kind}: ${message}`).toBe(true);
          expect(message.startsWith(`${call.op}: `), `${where}\n  ${message}`).toBe(true);
          const own = call.names?.some((n) => new RegExp(`${n.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![\\w$])`).test(message)) ?? false;
          // a related key: a config key or a weight of the file, named as the subject
          const related = call.related === true && /^\w+: (options\.)?(config\.\w+|weights\[")/.test(message);
          expect(own || related, `${where}\n  names ${call.names?.join(' or ') ?? 'no config key or weight'}: ${message}`).toBe(true);
          if (own) tally.named++;
          else tally.related++;
          tally.byOp.set(call.op, (tally.byOp.get(call.op) ?? 0) + 1);
        }
        expect(arena.residentBytes, `${where}\n  resident bytes (a leak if more)`).toBe(resident);
        if (i % 25 === 24 || ONLY !== undefined) {
          expect((await fixedRun()).map(digest), `${where}\n  the fixed model's logits`).toEqual(first);
          expect(arrays.map(digest), `${where}\n  the fixtures' arrays`).toEqual(digests);
        }
      }
      expect((await fixedRun()).map(digest)).toEqual(first);
      expect(arrays.map(digest)).toEqual(digests);
      await fixed.dispose();
      console.log(`model constructor fuzz, threads ${threads}: ${tally.built} built (${tally.unused} with the added key in unusedKeys), ` +
        `${tally.named + tally.related} rejected (${[...tally.byOp].map(([k, n]) => `${k} ${n}`).join(', ')}; ${tally.named} naming the ` +
        `key made wrong, ${tally.related} a key the config and file disagree on)`);
    }, 600_000);
  }
});
