// Type-checked (not run) by test/types/consumer.test.ts against dist/index.d.ts, as a user's
// strict TypeScript sees the package: the results README documents must have their own types.
import { createEngine, loadTokenizer, type EngineTensor } from '../../dist/index.js';

const engine = await createEngine({ wasm: new DataView(new ArrayBuffer(8)) });
const x = new Float32Array(8);
const t: EngineTensor = engine.createTensor(8);

// Without `out` an op resolves to a new Float32Array, with `out` to that tensor.
const a: Float32Array = await engine.gelu(x);
const b: Float32Array = await engine.gelu(x, { approximate: 'tanh' });
const c: EngineTensor = await engine.gelu(x, { out: t });
const d: Float32Array = await engine.softmax(x, { rows: 2, cols: 4 });
const e: EngineTensor = await engine.softmax(x, { rows: 2, cols: 4, out: t });
const f: Float32Array = await engine.layerNorm(x, { rows: 2, dim: 4 });
const g: EngineTensor = await engine.layerNorm(t, { rows: 2, dim: 4, out: t });
const h: Float32Array = await engine.matmul(x, x, { m: 2, k: 4, n: 2, transB: true });
const i: EngineTensor = await engine.matmul(x, x, { m: 2, k: 2, n: 2, out: t });
const first: number = (await engine.softmax(x, { rows: 2, cols: 4 }))[0]!;

const linear = engine.linear({ inFeatures: 4, outFeatures: 2, weights: { weight: new Float32Array(8) } });
const y: Float32Array = await linear.forward(x, { rows: 2 });
const z: EngineTensor = await linear.forward(x, { rows: 2, out: t });

// An options object whose `out` is not known statically gets the union.
const maybe: { rows: number; cols: number; out?: EngineTensor } = { rows: 2, cols: 4 };
const u: Float32Array | EngineTensor = await engine.softmax(x, maybe);

// GPT-2 ids, masks and stop tokens as read-only arrays.
declare const gpt2: ReturnType<typeof engine.gpt2>;
const ids: readonly number[] = Object.freeze([1, 2, 3]);
await gpt2.forward(ids, { batch: 1, seq: 3, attentionMask: new Float32Array([1, 1, 1]), positionIds: ids });
for await (const step of gpt2.generate(ids, { maxNewTokens: 2, stopTokens: ids })) void step;

// Options passed through as possibly undefined (the runtime takes undefined as the default;
// exactOptionalPropertyTypes must accept it too).
const maybeOut: EngineTensor | undefined = Math.random() < 0.5 ? t : undefined;
const v: Float32Array | EngineTensor = await engine.matmul(x, x, { m: 2, k: 4, n: 2, transB: true, out: maybeOut, alpha: undefined });

// `await using` on the handles (TypeScript 5.2+; @types/node or lib esnext declares AsyncDisposable).
{
  await using scoped = await createEngine({ threads: 1 });
  await using tensor = scoped.createTensor(8);
  await using steps = gpt2.generate([1, 2], { maxNewTokens: 2 }); // return() at the block's end
  for await (const step of steps) void step;
  void tensor;
}

// tokenizer_config.json as HF writes it: other keys, and nulls for unset fields.
const tokenizerConfig = { do_lower_case: true, model_max_length: null, padding_side: null, tokenizer_class: 'BertTokenizer' };
const tokenizer = loadTokenizer('{}', tokenizerConfig);

void [a, b, c, d, e, f, g, h, i, first, y, z, u, v, tokenizer];
