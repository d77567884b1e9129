// Node harness of the runtime smoke suite: node test/runtimes/node.mjs [--expect-kernels simd|relaxed]
// (Node 20 needs --experimental-wasm-relaxed-simd for the relaxed build). Reads the fixtures and
// the shipped char-GPT (models/char-gpt/) and the BERT fixture checkpoints with node:fs and runs the shared suite on threads 1, 2, 3.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { loadBert, loadFixtures, runSuite, threadsCheck } from './suite.mjs';
import * as lib from '../../dist/index.js';

const model = (name) => new URL(`../../models/char-gpt/${name}`, import.meta.url);
const bertFile = (path) => new URL(`../fixtures/bert/${path}`, import.meta.url);

const at = process.argv.indexOf('--expect-kernels');
const expectKernels = at > 0 ? process.argv[at + 1] : undefined;

const { failed } = await runSuite({
  runtime: `node ${process.version}${process.execArgv.length ? ` ${process.execArgv.join(' ')}` : ''}`,
  lib,
  fixtures: await loadFixtures(async (name) =>
    JSON.parse(await readFile(new URL(`../fixtures/${name}.json`, import.meta.url), 'utf8'))),
  expectKernels,
  configs: [{ threads: 1 }, { threads: 2 }, { threads: 3 }],
  charGpt: {
    config: JSON.parse(await readFile(model('config.json'), 'utf8')),
    bytes: new Uint8Array(await readFile(model('model.safetensors'))),
    greedy: JSON.parse(await readFile(model('greedy.json'), 'utf8')),
  },
  bert: await loadBert(async (path) => JSON.parse(await readFile(bertFile(path), 'utf8')),
    async (path) => new Uint8Array(await readFile(bertFile(path)))),
  tokenizer: JSON.parse(await readFile(new URL('../fixtures/tokenizer/cases.json', import.meta.url), 'utf8')),
  checks: [threadsCheck('node', false), {
    name: "node: package.json exports resolve ('wasm-attention', every kernels-*.wasm and worker.js) to files in dist/",
    fn: async () => {
      const self = await import('wasm-attention');
      if (self.createEngine !== lib.createEngine) throw new Error("import('wasm-attention') is not dist/index.js");
      for (const build of ['simd', 'relaxed', 'simd-unshared', 'relaxed-unshared']) {
        const file = fileURLToPath(import.meta.resolve(`wasm-attention/kernels-${build}.wasm`));
        if (!existsSync(file)) throw new Error(`wasm-attention/kernels-${build}.wasm resolves to missing ${file}`);
      }
      const worker = fileURLToPath(import.meta.resolve('wasm-attention/worker.js'));
      if (worker !== fileURLToPath(new URL('../../dist/worker.js', import.meta.url))) throw new Error(`wasm-attention/worker.js resolves to ${worker}`);
    },
  }],
});
process.exitCode = failed === 0 ? 0 : 1;
