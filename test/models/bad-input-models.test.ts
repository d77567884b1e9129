// A seeded bad-input fuzz of the model entry points that test/ops/bad-input-fuzz.test.ts does not
// reach: GPT2.forward, GPT2.generate and the forward of BertModel and its four BertFor* heads.
// Each call starts from a valid one and gets one mutation that makes it invalid (a required
// option dropped, a value of the wrong type, out of range or of the wrong length, an array of
// another kind, an entry out of range, an unknown key). The call must throw (generate, which
// checks before it returns its iterator) or reject (forward) with a TypeError or RangeError
// whose message starts `<op>: ` and names the mutated argument. Every 20 calls, and at the end,
// the valid calls must give their first results again, bit for bit: nothing was left half-done.
// WASM_ATTENTION_SEED picks the seed, WASM_ATTENTION_MODEL_CALLS the number of calls (default 300);
// a failure prints both with the call.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSafetensors, type Engine } from '../../dist/index.js';
import { forcedEngines } from '../helpers/engines.js';
import { expectSameBits } from '../helpers/compare.js';
import { rng } from '../helpers/random.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const SEED = Number(process.env.WASM_ATTENTION_SEED ?? 0xbad5);
const CALLS = Number(process.env.WASM_ATTENTION_MODEL_CALLS ?? 300);
const fixture = (dir: string, name: string): { config: Json; weights: Record<string, Float32Array> } => {
  const at = new URL(`../fixtures/${dir}/${name}/`, import.meta.url);
  return {
    config: JSON.parse(readFileSync(new URL('config.json', at), 'utf8')),
    weights: loadSafetensors(readFileSync(new URL('model.safetensors', at))),
  };
};

/** One entry point: how to call it with (ids, options), and its valid arguments. */
interface Entry {
  op: string;
  call: (ids: unknown, options: Json) => Promise<Float32Array[]>;
  ids: number[];
  options: Json;
  /** Per option key, values that make the call invalid. */
  bad: Record<string, unknown[]>;
}

/** Wrong values shared by every key of a kind. */
const notANumber = ['3', null, {}, [], true, Number.NaN];
const notAnArray = ['abc', 7, {}, new Float64Array(4), new Int16Array(4)];

let engine: Engine;
let entries: Entry[];
beforeAll(async () => {
  [engine] = await forcedEngines([2]);
  const g = fixture('gpt2', 'tiny-f32'), b = fixture('bert', 'classifier-3');
  const gpt2 = engine.gpt2(g);
  const B = 2, L = 5, V = g.config.vocab_size, P = 4;
  const gIds = Array.from({ length: B * L }, (_, i) => (i * 7 + 3) % V);
  const tokens = async (ids: unknown, options: Json): Promise<Float32Array[]> => {
    const out: number[] = [];
    for await (const next of gpt2.generate(ids as number[], options as never)) out.push(...next);
    return [Float32Array.from(out)];
  };
  const bertBase = { batch: 2, seq: 10, attentionMask: [...Array(10).fill(1), ...Array(6).fill(1), ...Array(4).fill(0)], tokenTypeIds: Array(20).fill(0) };
  const bertBad = {
    batch: [0, -2, 1.5, 3, ...notANumber], seq: [0, 11, 2.5, 25, ...notANumber],
    attentionMask: [[1, 1], Array(20).fill(2), [...Array(19).fill(1), -1], Array(20).fill(0), ...notAnArray],
    tokenTypeIds: [Array(20).fill(2), Array(19).fill(0), Array(20).fill(-1), ...notAnArray],
    outputAttentions: ['yes', 1, {}], outputHiddenStates: ['yes', 0, []],
  };
  const bIds = Array.from({ length: 20 }, (_, i) => (i * 5 + 1) % b.config.vocab_size);
  const bert = [
    ['BertModel.forward', engine.bert(b), (o: Json) => [o.lastHiddenState, o.pooledOutput]],
    ['BertForSequenceClassification.forward', engine.bertForSequenceClassification(b), (o: Json) => [o.logits]],
    ['BertForTokenClassification.forward', engine.bertForTokenClassification(fixture('bert', 'token-classifier-5')), (o: Json) => [o.logits]],
    ['BertForQuestionAnswering.forward', engine.bertForQuestionAnswering(fixture('bert', 'qa')), (o: Json) => [o.startLogits, o.endLogits]],
    ['BertForMaskedLM.forward', engine.bertForMaskedLM(fixture('bert', 'prefixed-cls')), (o: Json) => [o.logits]],
  ] as const;
  const idsFor = (op: string): number[] => (op.startsWith('BertForMaskedLM') ? bIds.map((x) => x % 60)
    : op.startsWith('BertForTokenClassification') || op.startsWith('BertForQuestionAnswering') ? bIds.map((x) => x % 50).slice(0, 18) : bIds);
  entries = [
    {
      op: 'GPT2.forward', ids: gIds,
      call: async (ids, options) => {
        const o = await gpt2.forward(ids as number[], options as never);
        return [o.logits, ...(o.hiddenStates ?? [])];
      },
      options: { batch: B, seq: L, attentionMask: Array(B * L).fill(1), positionIds: Array.from({ length: B * L }, (_, i) => i % L), logitsToKeep: 2, outputHiddenStates: true },
      bad: {
        batch: [0, -1, 2.5, 3, ...notANumber], seq: [0, 33, 4, 1.5, ...notANumber],
        attentionMask: [[1, 1, 1], ...notAnArray, Array(B * L).fill('1'), Array(B * L).fill(2), Array(B * L).fill(0.5)],
        positionIds: [Array(B * L).fill(32), Array(B * L).fill(-1), Array(B * L).fill(0.5), [0, 1], ...notAnArray],
        logitsToKeep: [-1, 1.5, Number.NaN, '2', null, {}],
        outputAttentions: ['true', 1], outputHiddenStates: ['true', 1],
      },
    },
    {
      op: 'GPT2.generate', ids: gIds.slice(0, 2 * P), call: tokens,
      options: { batch: 2, maxNewTokens: 3, attentionMask: [1, 1, 1, 1, 0, 1, 1, 1], temperature: 0.8, topK: 5, topP: 0.9, seed: 3, stopTokens: [63], repetitionPenalty: 1.1 },
      bad: {
        batch: [0, 3, -1, 1.5, ...notANumber], maxNewTokens: [0, -1, 40, 2.5, ...notANumber],
        attentionMask: [[1, 1], Array(8).fill(2), Array(8).fill(0.5), ...notAnArray],
        temperature: [-1, Number.POSITIVE_INFINITY, '1', Number.NaN], topK: [-1, 1.5, '5', Number.NaN], topP: [-0.1, 1.5, '0.9', Number.NaN],
        seed: [1.5, '3', Number.NaN], stopTokens: [[64], [-1], 'abc', 7], repetitionPenalty: [0, -1, '1.1', Number.NaN],
      },
    },
    ...bert.map(([op, model, read]) => ({
      op, ids: idsFor(op),
      call: async (ids: unknown, options: Json) => read(await model.forward(ids as number[], options as never)) as Float32Array[],
      options: op.includes('Token') || op.includes('Question')
        ? { ...bertBase, seq: 9, attentionMask: bertBase.attentionMask.slice(0, 18), tokenTypeIds: bertBase.tokenTypeIds.slice(0, 18) }
        : { ...bertBase },
      bad: op.includes('Token') || op.includes('Question')
        ? { ...bertBad, seq: [0, 10, 17, 2.5, ...notANumber], attentionMask: [[1, 1], Array(18).fill(2), ...notAnArray], tokenTypeIds: [Array(18).fill(2), ...notAnArray] }
        : bertBad,
    })),
  ];
});
afterAll(async () => { await engine?.dispose(); });

describe('bad inputs to the model entry points (seeded)', () => {
  it(`${CALLS} mutated calls reject naming the argument; the valid calls keep their bits (seed ${SEED})`, async () => {
    const first = await Promise.all(entries.map((e) => e.call(e.ids, e.options)));
    const r = rng(SEED);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
    const stats = { TypeError: 0, RangeError: 0 };
    for (let i = 0; i < CALLS; i++) {
      const e = pick(entries);
      const options: Json = { ...e.options };
      let ids: unknown = e.ids, named: string;
      const kind = r();
      if (kind < 0.1) {
        // inputIds: another kind, the wrong length, or an id out of range.
        ids = pick([notAnArray[0], e.ids.slice(1), e.ids.map((x, j) => (j === 1 ? 100000 : x)), e.ids.map((x, j) => (j === 0 ? -1 : x))]);
        named = e.op === 'GPT2.generate' ? 'promptIds' : 'inputIds';
      } else if (kind < 0.2) {
        const required = e.op === 'GPT2.generate' ? ['maxNewTokens'] : ['batch', 'seq'];
        named = pick(required);
        delete options[named];
      } else if (kind < 0.3) {
        named = pick(['attentionMasks', 'outputHidden', 'position_ids', 'maxTokens']);
        options[named] = 1;
      } else {
        named = pick(Object.keys(e.bad));
        options[named] = pick(e.bad[named]);
      }
      const what = `seed ${SEED} call ${i}: ${e.op}(${JSON.stringify(ids).slice(0, 60)}, ${JSON.stringify(options)}) — mutated ${named}`;
      let error: unknown;
      try {
        await e.call(ids, options);
      } catch (caught) {
        error = caught;
      }
      expect(error, `${what}: resolved`).toBeInstanceOf(Error);
      const err = error as Error;
      expect(err instanceof TypeError || err instanceof RangeError, `${what}: ${err.constructor.name}: ${err.message}`).toBe(true);
      expect(err.message.startsWith(`${e.op}: `), `${what}: ${err.message}`).toBe(true);
      expect(err.message.includes(named), `${what}: ${err.message}`).toBe(true);
      stats[err.constructor.name as keyof typeof stats]++;
      if (i % 20 === 19 || i === CALLS - 1) {
        for (const [j, en] of entries.entries()) {
          const again = await en.call(en.ids, en.options);
          again.forEach((t, k) => expectSameBits(t, first[j][k], `${what}: ${en.op} output ${k} after the bad calls`));
        }
      }
    }
    console.log(`bad-input models, seed ${SEED}: ${CALLS} calls — ${stats.RangeError} RangeError, ${stats.TypeError} TypeError`);
  });
});
