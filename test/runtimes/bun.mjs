// Bun harness of the runtime smoke suite: bun test/runtimes/bun.mjs [--expect-kernels simd|relaxed]
// Reads the fixtures, the shipped char-GPT (models/char-gpt/) and the BERT fixture checkpoints with Bun.file and runs the shared suite on threads 1 and 2 (JavaScriptCore:
// Bun 1.4 validates relaxed SIMD, so auto picks the relaxed build; the baseline one is forced too).
import { loadBert, loadFixtures, runSuite, threadsCheck, THREADED_CONFIGS } from './suite.mjs';
import * as lib from '../../dist/index.js';

const at = Bun.argv.indexOf('--expect-kernels');
const model = (name) => Bun.file(new URL(`../../models/char-gpt/${name}`, import.meta.url));
const bertFile = (path) => Bun.file(new URL(`../fixtures/bert/${path}`, import.meta.url));
const { failed } = await runSuite({
  runtime: `bun ${Bun.version} (${Bun.revision.slice(0, 9)})`,
  lib,
  fixtures: await loadFixtures((name) => Bun.file(new URL(`../fixtures/${name}.json`, import.meta.url)).json()),
  expectKernels: at >= 0 ? Bun.argv[at + 1] : undefined,
  configs: THREADED_CONFIGS,
  checks: [threadsCheck('bun', true)],
  charGpt: {
    config: await model('config.json').json(),
    bytes: await model('model.safetensors').arrayBuffer(),
    greedy: await model('greedy.json').json(),
  },
  bert: await loadBert((path) => bertFile(path).json(), (path) => bertFile(path).arrayBuffer()),
  tokenizer: await Bun.file(new URL('../fixtures/tokenizer/cases.json', import.meta.url)).json(),
});
process.exit(failed === 0 ? 0 : 1);
