// Deno harness of the runtime smoke suite:
//   deno run --allow-read=dist,test,models/char-gpt test/runtimes/deno.mjs [--expect-kernels simd|relaxed]
//     [--expect-int8-dot relaxed_dot_i8x16_i7x16|relaxed_dot_i8x16_i7x16_signed|dot_i16x8]
// Reads the fixtures, the shipped char-GPT (models/char-gpt/) and the BERT fixture checkpoints with Deno.readTextFile /
// Deno.readFile and runs the shared suite on threads 1, 2, 3 (web Workers loaded from
// dist/worker.js, shared WebAssembly.Memory).
import { loadBert, loadFixtures, runSuite, threadsCheck, THREADED_CONFIGS } from './suite.mjs';
import * as lib from '../../dist/index.js';

const at = Deno.args.indexOf('--expect-kernels');
const dot = Deno.args.indexOf('--expect-int8-dot');
const model = (name) => new URL(`../../models/char-gpt/${name}`, import.meta.url);
const bertFile = (path) => new URL(`../fixtures/bert/${path}`, import.meta.url);
const { failed } = await runSuite({
  runtime: `deno ${Deno.version.deno} (V8 ${Deno.version.v8})`,
  lib,
  fixtures: await loadFixtures(async (name) =>
    JSON.parse(await Deno.readTextFile(new URL(`../fixtures/${name}.json`, import.meta.url)))),
  expectKernels: at >= 0 ? Deno.args[at + 1] : undefined,
  expectInt8Dot: dot >= 0 ? Deno.args[dot + 1] : undefined,
  int8Kernels: await WebAssembly.compile(await Deno.readFile(new URL('../../dist/kernels-relaxed-unshared.wasm', import.meta.url))),
  configs: THREADED_CONFIGS,
  checks: [threadsCheck('deno', true)],
  charGpt: {
    config: JSON.parse(await Deno.readTextFile(model('config.json'))),
    bytes: await Deno.readFile(model('model.safetensors')),
    greedy: JSON.parse(await Deno.readTextFile(model('greedy.json'))),
  },
  bert: await loadBert(async (path) => JSON.parse(await Deno.readTextFile(bertFile(path))), (path) => Deno.readFile(bertFile(path))),
  tokenizer: JSON.parse(await Deno.readTextFile(new URL('../fixtures/tokenizer/cases.json', import.meta.url))),
});
Deno.exit(failed === 0 ? 0 : 1);
